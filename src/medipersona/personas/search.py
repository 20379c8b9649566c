"""History search and filters, shared by ``GET /api/personas`` and the history page.

The search box takes words separated by spaces; a persona matches when every word matches one of: its name, its
department, complaint or patient type, its sex (「女性」), an age (「45歳」) or a decade (「40代」), a tag or its
note. The filters narrow by catalog ids, sex, age band, patient type, tag, status and Japan-time dates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import and_, or_

from medipersona import localtime
from medipersona.accounts.models import User
from medipersona.catalog.labels import AGE_BANDS, GENDERS
from medipersona.catalog.service import get_catalog
from medipersona.deps import query_params
from medipersona.personas.models import TAG_SEPARATOR, Persona

# The keyword data's bands, plus children (the keyword data starts at 13).
HISTORY_AGE_BANDS: tuple[tuple[str, str, int, int], ...] = (("child", "12歳以下", 0, 12), *AGE_BANDS)
AGE_BAND_LABELS = {code: label for code, label, _low, _high in HISTORY_AGE_BANDS}
AGE_BAND_PATTERN = "^(|" + "|".join(AGE_BAND_LABELS) + ")$"
MAX_QUERY = 100
MAX_WORDS = 8
DEPARTMENT_MAX = 64
COMPLAINT_MAX = 128
PATIENT_TYPE_MAX = 64
TAG_FILTER_MAX = 20

_DECADE = re.compile(r"^(\d{1,3})代$")
_AGE = re.compile(r"^(\d{1,3})歳$")


@dataclass(frozen=True)
class HistoryFilters:
    """The history's search and filters. The API takes them as query parameters, checked (``HistoryFiltersDep``,
    422 for a bad value); the page reads the same names leniently (``PageHistoryFiltersDep``)."""

    q: Annotated[str, Query(max_length=MAX_QUERY, description="Words (space-separated), each matching the name, "
                            "department, complaint, patient type, sex (女性), age (45歳) or decade (40代), a tag or "
                            "the note.")] = ""
    department: Annotated[str, Query(max_length=DEPARTMENT_MAX)] = ""
    chief_complaint: Annotated[str, Query(max_length=COMPLAINT_MAX)] = ""
    date_from: date | None = None
    date_to: date | None = None
    status: Annotated[str, Query(pattern="^(|queued|running|done|failed)$")] = ""
    gender: Annotated[str, Query(pattern="^(|male|female|other)$")] = ""
    age_band: Annotated[str, Query(pattern=AGE_BAND_PATTERN, description="child (0-12), 10s ... 60s, 70plus")] = ""
    patient_type: Annotated[str, Query(max_length=PATIENT_TYPE_MAX)] = ""
    tag: Annotated[str, Query(max_length=TAG_FILTER_MAX)] = ""

    @classmethod
    def lenient(cls, params: Mapping[str, str]) -> HistoryFilters:
        """The filters of a page's query string: too long values cut, unknown sexes, age bands and bad dates
        dropped (a page never answers 422 for a hand-edited link); no status filter."""
        def text(name: str) -> str:
            return params.get(name) or ""

        return cls(q=text("q").strip()[:MAX_QUERY], department=text("department")[:DEPARTMENT_MAX],
                   chief_complaint=text("chief_complaint")[:COMPLAINT_MAX],
                   date_from=_parse_date(text("date_from")), date_to=_parse_date(text("date_to")),
                   gender=text("gender") if text("gender") in GENDERS else "",
                   age_band=text("age_band") if text("age_band") in AGE_BAND_LABELS else "",
                   patient_type=text("patient_type")[:PATIENT_TYPE_MAX],
                   tag=" ".join(text("tag").split())[:TAG_FILTER_MAX])

    def form_values(self) -> dict[str, str]:
        """Every filter as a form value ("" when not set)."""
        return {k: (v.isoformat() if isinstance(v, date) else v or "") for k, v in asdict(self).items()}

    def active(self) -> dict[str, str]:
        """The filters that are set, as query-string values (for links that keep them)."""
        return {k: v for k, v in self.form_values().items() if v}


def _parse_date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


async def page_history_filters(request: Request) -> HistoryFilters:
    return HistoryFilters.lenient(request.query_params)


HistoryFiltersDep = Annotated[HistoryFilters, query_params(HistoryFilters)]
PageHistoryFiltersDep = Annotated[HistoryFilters, Depends(page_history_filters)]


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column, text: str):
    return column.ilike("%" + escape_like(text) + "%", escape="\\")


def _age_between(low: int, high: int):
    return and_(Persona.age >= low, Persona.age <= high)


def _word_condition(word: str):
    """Everything one search word may match (OR)."""
    catalog = get_catalog()
    needle = word.lower()
    conditions = [_contains(Persona.name, word), _contains(Persona.note, word),
                  _contains(Persona.tags, word.replace(TAG_SEPARATOR, ""))]
    dep_ids = [d.id for d in catalog.departments if needle in d.name.lower()]
    comp_ids = [c.id for d in catalog.departments for c in d.chief_complaints if needle in c.name.lower()]
    type_ids = [t.id for t in catalog.patient_types if needle in t.name.lower()]
    genders = [code for code, label in GENDERS.items() if word == label or (len(word) == 1 and word in label)]
    if dep_ids:
        conditions.append(Persona.department_id.in_(dep_ids))
    if comp_ids:
        conditions.append(Persona.chief_complaint_id.in_(comp_ids))
    if type_ids:
        conditions.append(Persona.patient_type_id.in_(type_ids))
    if genders:
        conditions.append(Persona.gender.in_(genders))
    if m := _DECADE.match(word):
        low = int(m.group(1))
        conditions.append(_age_between(low, low + 9))
    if m := _AGE.match(word):
        conditions.append(Persona.age == int(m.group(1)))
    for _code, label, low, high in HISTORY_AGE_BANDS:
        if word == label:
            conditions.append(_age_between(low, high))
    return or_(*conditions)


def search_words(q: str) -> list[str]:
    """The words of a search (spaces of either width separate them)."""
    return q.replace("\u3000", " ").replace("\x00", "").strip()[:MAX_QUERY].split()[:MAX_WORDS]


def filter_personas(query, user: User, filters: HistoryFilters):
    """Ownership (members see their own; admins all), then every filter and search word (AND)."""
    if not user.is_admin:
        query = query.where(Persona.owner_id == user.id)
    if filters.department:
        query = query.where(Persona.department_id == filters.department)
    if filters.chief_complaint:
        query = query.where(Persona.chief_complaint_id == filters.chief_complaint)
    if filters.status:
        query = query.where(Persona.status == filters.status)
    if filters.date_from:
        query = query.where(Persona.created_at >= localtime.day_start_utc(filters.date_from))
    if filters.date_to:
        query = query.where(Persona.created_at < localtime.day_end_utc(filters.date_to))
    if filters.gender:
        query = query.where(Persona.gender == filters.gender)
    band = next((b for b in HISTORY_AGE_BANDS if b[0] == filters.age_band), None)
    if band is not None:
        query = query.where(_age_between(band[2], band[3]))
    if filters.patient_type:
        query = query.where(Persona.patient_type_id == filters.patient_type)
    if filters.tag:
        query = query.where(Persona.tags.like(f"%{TAG_SEPARATOR}{escape_like(filters.tag)}{TAG_SEPARATOR}%",
                                              escape="\\"))
    for word in search_words(filters.q):
        query = query.where(_word_condition(word))
    return query
