"""Request bodies of the persona API (pydantic; invalid input → 422 with Japanese field messages).

Catalog ids (department, chief complaint, purpose, patient type) are checked against the catalog in
``checks.validate_catalog`` so that the messages can name what is wrong.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from medipersona.catalog.labels import INCOME_BANDS, MAX_AGE, SECTION_KEYS
from medipersona.catalog.service import get_catalog

NAME_MAX = 50
TEXT_MAX = 100
LONG_MAX = 200
EXTRA_NAME_MAX = 50
EXTRA_VALUE_MAX = 200
EXTRA_ROWS_MAX = 20
# Names are one line of text: no control characters (CR, LF, NUL, ...).
NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"


def _strip(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class GuardianIn(BaseModel):
    """The guardian of a child (or of a dependent elderly patient): who searches, compares and decides."""

    model_config = ConfigDict(extra="forbid")

    relation: str = Field(min_length=1, max_length=20)
    age: int | None = Field(None, ge=15, le=MAX_AGE)
    occupation: str | None = Field(None, max_length=TEXT_MAX)
    media: str | None = Field(None, max_length=LONG_MAX)
    concerns: str | None = Field(None, max_length=LONG_MAX)

    _strip_all = field_validator("*", mode="before")(_strip)


class ProfileIn(BaseModel):
    """Demographics; every field optional (empty fields are auto-filled)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=NAME_MAX, pattern=NO_CONTROL_CHARS)
    gender: Literal["male", "female", "other"] | None = None
    age: int | None = Field(None, ge=0, le=MAX_AGE)
    age_months: int | None = Field(None, ge=0, le=11)
    prefecture: str | None = Field(None, max_length=10)
    municipality: str | None = Field(None, max_length=TEXT_MAX)
    family: str | None = Field(None, max_length=TEXT_MAX)
    occupation: str | None = Field(None, max_length=TEXT_MAX)
    income: str | None = None
    hobby: str | None = Field(None, max_length=LONG_MAX)
    life_events: str | None = Field(None, max_length=LONG_MAX)
    guardian: GuardianIn | None = None

    _strip_all = field_validator("*", mode="before")(_strip)

    @field_validator("prefecture")
    @classmethod
    def _prefecture(cls, value: str | None) -> str | None:
        if value is not None and value not in get_catalog().prefectures:
            raise ValueError("都道府県を一覧から選んでください。")
        return value

    @field_validator("income")
    @classmethod
    def _income(cls, value: str | None) -> str | None:
        if value is not None and value not in INCOME_BANDS:
            raise ValueError("年収を一覧から選んでください。")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ProfileIn:
        if self.age is not None and self.age >= MAX_AGE and self.age_months:
            raise ValueError(f"年齢は{MAX_AGE}歳0ヶ月までです。")
        if self.age is not None and self.age < 15 and self.income not in (None, "none"):
            raise ValueError("15歳未満の場合、年収は「収入なし」を選ぶか空欄にしてください。")
        return self


class ExtrasIn(BaseModel):
    """The fixed extras (その他の特徴); empty ones are auto-filled."""

    model_config = ConfigDict(extra="forbid")

    motto: str | None = Field(None, max_length=LONG_MAX)
    concerns: str | None = Field(None, max_length=LONG_MAX)
    favorite_person: str | None = Field(None, max_length=LONG_MAX)
    media: str | None = Field(None, max_length=LONG_MAX)
    personality_keywords: str | None = Field(None, max_length=LONG_MAX)
    health_actions: str | None = Field(None, max_length=LONG_MAX)
    holiday: str | None = Field(None, max_length=LONG_MAX)
    catchphrase: str | None = Field(None, max_length=LONG_MAX)

    _strip_all = field_validator("*", mode="before")(_strip)


class ExtraFieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=EXTRA_NAME_MAX)
    value: str = Field("", max_length=EXTRA_VALUE_MAX)

    @field_validator("name", "value", mode="before")
    @classmethod
    def _trim(cls, value):
        return value.strip() if isinstance(value, str) else value


class PersonaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = Field(min_length=1, max_length=64)
    chief_complaint: str = Field(min_length=1, max_length=128)
    purpose: str = Field(min_length=1, max_length=64)
    setting_type: Literal["patient_type", "input", "auto"] = "auto"
    patient_type: str | None = Field(None, max_length=64)
    profile: ProfileIn | None = None
    extras: ExtrasIn | None = None
    extra_fields: list[ExtraFieldIn] = Field(default_factory=list, max_length=EXTRA_ROWS_MAX)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)

    @field_validator("patient_type", mode="before")
    @classmethod
    def _blank_none(cls, value):
        return _strip(value)


NOTE_MAX = 2000
TAGS_MAX = 10
TAG_MAX = 20


def clean_tags(values: list[str]) -> list[str]:
    """Tags as the user typed them, trimmed, without duplicates; ValueError (Japanese) for a bad one."""
    tags: list[str] = []
    for raw in values:
        tag = " ".join(str(raw).split())
        if not tag:
            continue
        if len(tag) > TAG_MAX:
            raise ValueError(f"タグは1つ{TAG_MAX}文字以内で入力してください（「{tag[:TAG_MAX]}…」）。")
        if "|" in tag or any(ord(ch) < 32 for ch in tag):
            raise ValueError("タグに「|」や制御文字は使えません。")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise ValueError(f"タグは{TAGS_MAX}個までです。")
    return tags


class PersonaUpdate(BaseModel):
    """PATCH: the given parts replace the stored ones (profile and extras are merged field by field)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=NAME_MAX, pattern=NO_CONTROL_CHARS)
    profile: ProfileIn | None = None
    extras: ExtrasIn | None = None
    extra_fields: list[ExtraFieldIn] | None = Field(None, max_length=EXTRA_ROWS_MAX)
    sections: dict[str, str] | None = None
    note: str | None = Field(None, max_length=NOTE_MAX)
    tags: list[str] | None = Field(None, max_length=100)  # clean_tags allows TAGS_MAX after de-duplication

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else clean_tags(value)

    @field_validator("sections")
    @classmethod
    def _sections(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        for key, text in value.items():
            if key not in SECTION_KEYS:
                raise ValueError(f"不明な項目です: {key}")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("項目の文章を空にすることはできません。")
            if len(text) > 2000:
                raise ValueError("項目の文章は2000文字以内で入力してください。")
        return value
