from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medipersona.accounts.service import USERNAME_PATTERN


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str
    sections: list[str]
    is_active: bool
    daily_quota: int
    created_at: datetime = Field(description="UTC, with its offset")

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # SQLite gives naive datetimes back; every stored time is UTC.
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN, description="3-64 letters, digits, _ . @ -")
    password: str = Field(min_length=1, max_length=256)
    role: Literal["admin", "member"] = "member"
    sections: list[str] | None = None
    daily_quota: int = Field(0, ge=0, le=100000)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "member"] | None = None
    sections: list[str] | None = None
    is_active: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=256)
    daily_quota: int | None = Field(None, ge=0, le=100000)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)
