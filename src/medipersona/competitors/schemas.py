"""Request bodies of the competitor-analysis API (pydantic; invalid input → 422 with Japanese field messages).

Department ids are checked against the catalog in ``service.validate_request`` so that the messages can name
what is wrong; cross-field rules (coordinates, a competitor list for ``source=list``) live there too.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_MAX = 100
TEXT_MAX = 200
LONG_MAX = 1000
MAX_COMPETITORS = 500
MAX_DEPARTMENTS = 10
AGE_BANDS = ("0-14", "15-64", "65-74", "75+")
AREA_TYPES = ("urban", "suburban", "rural")
RADII = (1, 3, 5)
POPULATION_MAX = 50_000_000

_POSTAL = re.compile(r"^\d{3}-?\d{4}$")
_HTTP_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)


def _strip(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _coordinate(value, low: float, high: float, message: str):
    """A latitude/longitude typed in a form ("35.68", "３５．６８") as a float, or the field's own message."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(_normalise_digits(value)) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(message)
    return number


LAT_MESSAGE = "緯度は-90〜90の数値で入力してください（例: 35.681236）。"
LNG_MESSAGE = "経度は-180〜180の数値で入力してください（例: 139.767125）。"


def _normalise_digits(value: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", value).replace("−", "-").replace("ー", "-").strip()


class ClinicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX)
    postal_code: str | None = Field(None, max_length=10)
    address: str | None = Field(None, max_length=TEXT_MAX)
    lat: float | None = None
    lng: float | None = None
    departments: list[str] = Field(min_length=1, max_length=MAX_DEPARTMENTS)
    strengths: str | None = Field(None, max_length=LONG_MAX)
    target: str | None = Field(None, max_length=LONG_MAX)

    _strip_text = field_validator("postal_code", "address", "strengths", "target", mode="before")(_strip)

    # Messages that say which field and what to do (not the generic 「文字列で指定してください。」).
    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value):
        if not isinstance(value, str) or not value.strip():
            raise ValueError("医院名を入力してください。")
        return value.strip()

    @field_validator("departments", mode="before")
    @classmethod
    def _some_department(cls, value):
        if not value:
            raise ValueError("診療科を1つ以上選んでください。")
        return value

    @field_validator("lat", mode="before")
    @classmethod
    def _lat(cls, value):
        return _coordinate(value, -90, 90, LAT_MESSAGE)

    @field_validator("lng", mode="before")
    @classmethod
    def _lng(cls, value):
        return _coordinate(value, -180, 180, LNG_MESSAGE)

    @field_validator("postal_code")
    @classmethod
    def _postal(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = _normalise_digits(value).removeprefix("〒").strip()
        if not _POSTAL.match(value):
            raise ValueError("郵便番号は「123-4567」の形式で入力してください。")
        return value if "-" in value else f"{value[:3]}-{value[3:]}"

    @model_validator(mode="after")
    def _pair(self) -> ClinicIn:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("緯度と経度は両方を入力してください。")
        return self


class CompetitorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX)
    address: str | None = Field(None, max_length=TEXT_MAX)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    rating: float | None = Field(None, ge=0, le=5, allow_inf_nan=False)
    reviews: int | None = Field(None, ge=0, le=10_000_000)
    hours: str | None = Field(None, max_length=LONG_MAX)
    website: str | None = Field(None, max_length=500)
    phone: str | None = Field(None, max_length=30)
    departments: list[str] | str | None = None

    _strip_text = field_validator("name", "address", "hours", "website", "phone", mode="before")(_strip)

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError("ウェブサイトは http:// または https:// で始まるURLを入力してください。")
        return value

    @field_validator("departments", mode="before")
    @classmethod
    def _departments(cls, value):
        if isinstance(value, str):
            value = [p.strip() for p in re.split(r"[、,/／・\s]+", value) if p.strip()]
        if isinstance(value, list):
            if len(value) > 20:
                raise ValueError("診療科が多すぎます（最大20件）。")
            if any(not isinstance(v, str) or len(v) > 64 for v in value):
                raise ValueError("診療科は64文字以内の文字列で指定してください。")
        return value


class AgeBandsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    age_0_14: int = Field(alias="0-14", ge=0, le=POPULATION_MAX)
    age_15_64: int = Field(alias="15-64", ge=0, le=POPULATION_MAX)
    age_65_74: int = Field(alias="65-74", ge=0, le=POPULATION_MAX)
    age_75_plus: int = Field(alias="75+", ge=0, le=POPULATION_MAX)

    def bands(self) -> dict[str, int]:
        return {"0-14": self.age_0_14, "15-64": self.age_15_64, "65-74": self.age_65_74, "75+": self.age_75_plus}


class PopulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area_code: str | None = Field(None, max_length=5)
    area_name: str | None = Field(None, max_length=NAME_MAX)
    total: int | None = Field(None, ge=1, le=POPULATION_MAX)
    age_bands: AgeBandsIn | None = None

    _strip_text = field_validator("area_code", "area_name", mode="before")(_strip)

    @field_validator("area_code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = _normalise_digits(value)
        if not re.fullmatch(r"\d{5}", value):
            raise ValueError("市区町村コードは5桁の数字で入力してください（例: 13101）。")
        if not 1 <= int(value[:2]) <= 47:
            raise ValueError("市区町村コードの先頭2桁は都道府県コード（01〜47）です。")
        return value

    @model_validator(mode="after")
    def _sum(self) -> PopulationIn:
        if self.age_bands is not None:
            total = sum(self.age_bands.bands().values())
            if total <= 0:
                raise ValueError("年齢別人口の合計が0です。")
            if self.total is not None and self.total != total:
                raise ValueError(f"総人口（{self.total:,}人）と年齢別人口の合計（{total:,}人）が一致しません。")
        return self


class AnalysisCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clinic: ClinicIn
    radius_km: Literal[1, 3, 5] = 3
    source: Literal["places", "list"] | None = None
    competitors: list[CompetitorIn] | None = Field(None, max_length=MAX_COMPETITORS)
    population: PopulationIn | None = None
    area_type: Literal["urban", "suburban", "rural"] | None = None
