"""Request body of ``POST /api/message-tests`` (invalid input → 422 with Japanese field messages)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from medipersona.interviews.schemas import bounded_text

MESSAGE_MAX = 2000
MAX_PERSONAS = 12
IMAGE_MAX_BYTES = 4 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
KIND_LABELS: dict[str, str] = {"ad": "広告", "leaflet": "チラシ", "web": "Webページの文章", "other": "その他の文章"}


class ImageIn(BaseModel):
    """An image of the leaflet, base64-encoded (read only by providers that accept images)."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field(min_length=1, max_length=IMAGE_MAX_BYTES * 4 // 3 + 16)
    mime: Literal["image/png", "image/jpeg", "image/webp"]


class MessageTestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persona_ids: list[str] | None = Field(None, max_length=MAX_PERSONAS)
    set_id: str | None = Field(None, max_length=32)
    message: str
    kind: Literal["ad", "leaflet", "web", "other"] = "ad"
    image: ImageIn | None = None

    @field_validator("message", mode="before")
    @classmethod
    def _message(cls, value):
        return bounded_text(value, what="メッセージ", limit=MESSAGE_MAX)

    @field_validator("persona_ids")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        ids = [str(v).strip() for v in value]
        if any(not v or len(v) > 32 for v in ids):
            raise ValueError("ペルソナのIDが正しくありません。")
        if len(set(ids)) != len(ids):
            raise ValueError("同じペルソナが重複しています。")
        return ids

    @model_validator(mode="after")
    def _who(self) -> MessageTestCreate:
        if bool(self.persona_ids) == bool(self.set_id):
            raise ValueError("読んでもらうペルソナ（persona_ids）か、ペルソナセット（set_id）のどちらか一方を指定してください。")
        return self
