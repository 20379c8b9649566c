"""The query parameters of the timeline endpoints, declared once: the keyword API's timeline and chart
(``keywords/router.py``) and a persona's chart (``personas/timeline_router.py``) take them as dependencies.

No ``from __future__ import annotations`` here: FastAPI reads the dataclasses' ``__init__`` signatures, whose
annotations must be real objects.
"""

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Query

from medipersona.deps import query_params


@dataclass(frozen=True)
class TimelineQuery:
    """Which keyword data: a department (catalog id), optionally a 主訴, a sex and an age."""

    department: Annotated[str, Query(min_length=1, max_length=64)]
    chief_complaint: Annotated[str | None, Query(max_length=128)] = None
    gender: Annotated[Literal["male", "female"] | None, Query(description="male | female")] = None
    age: Annotated[int | None, Query(ge=0, le=120, description="age in whole years")] = None


@dataclass(frozen=True)
class ChartSize:
    """The size of a timeline chart in pixels."""

    width: Annotated[int, Query(ge=320, le=2000)] = 960
    height: Annotated[int, Query(ge=240, le=1400)] = 540


TimelineQueryDep = Annotated[TimelineQuery, query_params(TimelineQuery)]
ChartSizeDep = Annotated[ChartSize, query_params(ChartSize)]
