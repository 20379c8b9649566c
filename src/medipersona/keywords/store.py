"""Keyword lookups: the rows of a department/complaint, filtered for a persona; the timeline series.

A lookup reads one dataset whole: one SELECT of the dataset and its pack by primary key (a consistent snapshot:
a concurrent re-import is seen whole or not at all), decoded at C speed (``keywords.pack``); the filter, the
relaxation steps and the ordering run over its columns in Python. Decoded datasets and results are kept in the
per-process caches of ``keywords.store_cache`` (dropped when an import bumps the data version).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.catalog.labels import AGE_BANDS, age_band
from medipersona.keywords.categories import DISPLAY_ORDER
from medipersona.keywords.models import KeywordDataset, KeywordPack, scope_key
from medipersona.keywords.pack import Pack, decode
from medipersona.keywords.store_cache import MISSING, Cache, fresh_cache

GENDER_MIN_SHARE = 40.0  # PRODUCT.md §3
AGE_MIN_SHARE = 15.0
BAND_INDEX = {code: i for i, (code, *_rest) in enumerate(AGE_BANDS)}

_DS = KeywordDataset.__table__.c
_KP = KeywordPack.__table__.c

# The age filter relaxes step by step until a prompt has MIN_KEYWORDS keywords (and a timeline a series):
# the persona's band (share >= 15 %), then its band plus the neighbouring ones (together >= 15 %), then no age
# filter (ordered by the band's share), then neither a gender nor an age filter.
MIN_KEYWORDS = 5
STEPS: tuple[str, ...] = ("band", "neighbours", "all_ages", "unfiltered")
STEP_LABELS: dict[str, str] = {
    "band": "ペルソナの性別・年代で絞り込み",
    "neighbours": "近い年代まで広げて絞り込み",
    "all_ages": "年代の絞り込みなし（年代の割合で並べ替え）",
    "unfiltered": "性別・年代の絞り込みなし（データ全体）",
    "none": "絞り込みなし",
}
_RANK_STEPS = {0: "band", 1: "neighbours", 2: "all_ages", 3: "unfiltered"}

# One dataset and its pack, by scope: one statement (a consistent snapshot even during a re-import).
_PACK_QUERY = (
    select(_DS.id, _DS.is_sample, _DS.source_file, _KP.data)
    .select_from(KeywordDataset.__table__.join(KeywordPack.__table__, _KP.dataset_id == _DS.id))
    .where(_DS.scope == bindparam("scope"))
)


@dataclass(frozen=True, slots=True)
class Dataset:
    id: int
    is_sample: bool
    source_file: str
    pack: Pack


async def dataset_of(session: AsyncSession, cache: Cache, department_id: str,
                   chief_complaint_id: str | None) -> Dataset | None:
    """One dataset with its rows decoded (kept in the per-worker cache: other filters of it are then free)."""
    scope = scope_key(department_id, chief_complaint_id)
    cached = cache.datasets.get_item(scope)
    if cached is not MISSING:
        return cached
    connection = await session.connection()
    row = (await connection.execute(_PACK_QUERY, {"scope": scope})).first()
    found = None if row is None else Dataset(row[0], bool(row[1]), row[2], decode(bytes(row[3])))
    cache.datasets.put(scope, found)
    return found


@dataclass(slots=True)
class _Ranked:
    """Every row of a dataset judged for one persona filter: the strictest step it passes (``_rank``) and its
    gender and age shares (100.0 where the filter has no gender or age)."""

    steps: list[int]
    gender_share: Sequence[float]
    age_share: Sequence[float]


def _bands_around(pack: Pack, band: str) -> list[Sequence[float]]:
    """The share columns of the age bands next to ``band`` (one or two)."""
    i = BAND_INDEX[band]
    return [pack.ages[j] for j in (i - 1, i + 1) if 0 <= j < len(pack.ages)]


def _rank(pack: Pack, gender: str | None, band: str | None) -> _Ranked:
    """How strict a filter each row passes: 0 band (the persona's band >= 15 %), 1 neighbours (its band and the
    neighbouring ones together >= 15 %), 2 any age (gender >= 40 % only), 3 neither."""
    n = len(pack)
    g = {"male": pack.male, "female": pack.female}.get(gender or "")
    a = pack.ages[BAND_INDEX[band]] if band else None
    if a is None:
        steps = [2] * n if g is None else [2 if share >= GENDER_MIN_SHARE else 3 for share in g]
    else:
        around = _bands_around(pack, band)  # type: ignore[arg-type]
        # Added in the order SQL did ((band + lower) + upper): the same result at the 15 % boundary.
        reach = [sum(shares) for shares in zip(a, *around, strict=True)]
        if g is None:
            steps = [0 if x >= AGE_MIN_SHARE else 1 if r >= AGE_MIN_SHARE else 2 for x, r in zip(a, reach, strict=True)]
        else:
            steps = [3 if gs < GENDER_MIN_SHARE else 0 if x >= AGE_MIN_SHARE else 1 if r >= AGE_MIN_SHARE else 2
                     for gs, x, r in zip(g, a, reach, strict=True)]
    hundred = [100.0] * n
    return _Ranked(steps, g if g is not None else hundred, a if a is not None else hundred)


def _choose(counts: list[int], need: int) -> int:
    """The strictest step with at least ``need`` rows (else every row)."""
    total = 0
    for rank in range(4):
        total += counts[rank]
        if total >= need:
            return rank
    return max((rank for rank in range(4) if counts[rank]), default=3)


def _keep(steps: list[int], order: Iterable[int], need: int) -> tuple[list[int], int]:
    """The rows (indices, in ``order``) of the strictest step that keeps at least ``need`` of them."""
    order = list(order)
    counts = [0, 0, 0, 0]
    for k in order:
        counts[steps[k]] += 1
    chosen = _choose(counts, need)
    if counts[chosen + 1:] != [0] * (3 - chosen):
        order = [k for k in order if steps[k] <= chosen]
    return order, chosen


async def _with_fallback(session, cache: Cache, department_id: str, chief_complaint_id: str | None):
    """(dataset, level): the complaint's dataset, else the department's; (None, None) when neither has data."""
    for cc in ([chief_complaint_id, None] if chief_complaint_id else [None]):
        dataset = await dataset_of(session, cache, department_id, cc)
        if dataset is not None and len(dataset.pack):
            return dataset, "chief_complaint" if cc else "department"
    return None, None


async def dataset_rows(session: AsyncSession, department_id: str, chief_complaint_id: str | None) -> list:
    """Every row of one dataset (no filter, no fallback, no cache) — for tests and tools: (dataset id,
    is_sample, source_file, *``pack.ROW_FIELDS``), in the file's order."""
    found = await dataset_of(session, Cache(), department_id, chief_complaint_id)
    if found is None:
        return []
    return [(found.id, found.is_sample, found.source_file, *row) for row in found.pack.rows()]


def _norm_gender(gender: str | None) -> str | None:
    return gender if gender in ("male", "female") else None


async def top_keywords(
    session: AsyncSession,
    department_id: str,
    chief_complaint_id: str | None,
    age: int | None,
    gender: str | None,
    limit: int = 15,
) -> list[dict]:
    """Keywords for the persona prompt: gender share >= 40 %, age-band share >= 15 %, the most co-searched
    (overlap × gender share × age share) first; the department's dataset when the complaint has none. When
    that leaves fewer than MIN_KEYWORDS, the age filter relaxes (``STEPS``); each item says which step
    (``match``) was used."""
    gender = _norm_gender(gender)
    band = age_band(age)
    cache = await fresh_cache(session)
    key = ("top", department_id, chief_complaint_id, gender, band, limit)
    cached = cache.results.get_item(key)
    if cached is not MISSING:
        return [dict(item) for item in cached]
    dataset, _level = await _with_fallback(session, cache, department_id, chief_complaint_id)
    items: tuple[dict[str, Any], ...] = ()
    if dataset is not None:
        pack = dataset.pack
        ranked = _rank(pack, gender, band)
        steps, g, a = ranked.steps, ranked.gender_share, ranked.age_share
        overlap, rank = pack.overlap, pack.rank
        weight: Sequence[float] = a
        if band is not None:
            # The persona's band share alone for rows of its band; neighbours weigh half beyond it.
            neighbours = [sum(shares) for shares in zip(*_bands_around(pack, band), strict=True)]
            weight = [x if x >= AGE_MIN_SHARE else x + y * 0.5 for x, y in zip(a, neighbours, strict=True)]
        # The top rows by step, then estimated overlap (overlap × gender share × age weight), then rank; keys
        # built in one pass and compared as tuples (C speed), only the first ``limit`` taken.
        limit = max(1, limit)
        keys = [(step_, -(o * gs * w), r, k) for k, (step_, o, gs, w, r)
                in enumerate(zip(steps, overlap, g, weight, rank, strict=True))]
        order = [key[3] for key in heapq.nsmallest(limit, keys)]
        kept, chosen = _keep(steps, order, min(MIN_KEYWORDS, limit))
        step = _RANK_STEPS[chosen] if (gender or band) else "none"
        items = tuple(
            {
                "keyword": pack.keyword[k],
                "volume": pack.volume[k],
                "overlap": overlap[k],
                "days": round(pack.days[k], 3),
                "category": pack.category[k],
                "estimated_volume": round(pack.volume[k] * g[k] * a[k] / 10000.0),
                "match": step,
            }
            for k in kept
        )
    cache.results.put(key, items)
    return [dict(item) for item in items]


def urgency_of(before_near: float, before_total: float, same_day_share: float,
               peak_day: int | None = None) -> dict[str, Any]:
    """How quickly people act (``keywords.analysis.timeline_urgency``: agrees with the peak and the 7-day share)."""
    from medipersona.keywords.analysis import timeline_urgency

    return timeline_urgency(before_near / before_total if before_total else 0.0, same_day_share, peak_day)


def _summarize(points: list[tuple]) -> dict[str, Any]:
    """The summary of every kept keyword; ``points``: (days rounded to 3 places, overlap, estimated volume,
    category, ...) — plain tuples (a timeline keeps ~1,000 rows; no dict per row). Overlaps and estimated
    volumes are integers: the sums are exact in any order."""
    before = [p for p in points if p[0] < 0]
    after = [p for p in points if p[0] >= 0]

    def by_category(part: list[tuple]) -> tuple[dict[str, int], dict[str, int]]:
        counts = dict.fromkeys(DISPLAY_ORDER, 0)
        volumes = dict.fromkeys(DISPLAY_ORDER, 0)
        for p in part:
            counts[p[3]] += 1
            volumes[p[3]] += p[2]
        return counts, volumes

    cats_before, vol_before = by_category(before)
    cats_after, vol_after = by_category(after)
    before_count, after_count = len(before), len(after)
    before_volume, after_volume = sum(vol_before.values()), sum(vol_after.values())
    before_total = sum(p[1] for p in before)
    before_near = sum(p[1] for p in before if p[0] >= -7)
    total = before_total + sum(p[1] for p in after)
    same_day = sum(p[1] for p in points if -1 < p[0] < 1)
    by_day: dict[int, float] = {}
    get = by_day.get
    for p in points:
        day = round(p[0])
        by_day[day] = get(day, 0) + p[1]
    # Peak day: the whole day with the most co-search overlap; ties: the one closest to the search.
    peak_day = max(by_day, key=lambda d: (by_day[d], -abs(d))) if by_day else None
    return {
        "total": len(points),
        "before_count": before_count,
        "after_count": after_count,
        "before_volume": before_volume,
        "after_volume": after_volume,
        "peak_day": peak_day,
        "peak_overlap": by_day.get(peak_day, 0) if peak_day is not None else 0,
        "days_min": min((p[0] for p in points), default=None),
        "days_max": max((p[0] for p in points), default=None),
        "categories_before": cats_before,
        "categories_after": cats_after,
        "category_volume_before": vol_before,
        "category_volume_after": vol_after,
        "urgency": urgency_of(before_near, before_total, same_day / total if total else 0.0, peak_day),
    }


async def timeline(
    session: AsyncSession,
    department_id: str,
    chief_complaint_id: str | None,
    gender: str | None = None,
    age: int | None = None,
    max_points: int = 300,
) -> dict[str, Any] | None:
    """The timeline series (PRODUCT.md §3) and its summary; None when there is no keyword data at all.

    Keeps keywords with gender share >= 40 % and age-band share >= 15 % (when gender/age are given);
    estimated_volume = volume × gender share × age share; x = days (< 0 before the search), y = overlap.
    The summary covers every kept keyword; the series keeps the ``max_points`` with the largest overlap.
    """
    gender = _norm_gender(gender)
    band = age_band(age)
    cache = await fresh_cache(session)
    key = (department_id, chief_complaint_id, gender, band, max_points)
    cached = cache.timelines.get_item(key)
    if cached is not MISSING:
        return cached
    dataset, level = await _with_fallback(session, cache, department_id, chief_complaint_id)
    if dataset is None:
        cache.timelines.put(key, None)
        return None
    pack = dataset.pack
    ranked = _rank(pack, gender, band)
    kept_rows, chosen = _keep(ranked.steps, range(len(pack)), MIN_KEYWORDS)
    step = _RANK_STEPS[chosen] if (gender or band) else "none"
    g, a, days, overlap, volume, category = (ranked.gender_share, ranked.age_share, pack.days, pack.overlap,
                                             pack.volume, pack.category)
    # (days, overlap, estimated volume, category, row index): dicts only for the points the series keeps.
    if len(kept_rows) == len(pack):  # every row kept (the usual case): one pass over the columns
        points = [(round(d, 3), o, round(v * gs * ag / 10000.0), c, k) for k, (d, o, v, gs, ag, c)
                  in enumerate(zip(days, overlap, volume, g, a, category, strict=True))]
    else:
        points = [(round(days[k], 3), overlap[k], round(volume[k] * g[k] * a[k] / 10000.0), category[k], k)
                  for k in kept_rows]
    summary = _summarize(points)
    rank = pack.rank
    # The series: the max_points largest overlaps (ties: the better rank), in the order of days.
    top = heapq.nsmallest(max_points, [(-p[1], rank[p[4]], i) for i, p in enumerate(points)])
    kept = sorted((points[i] for _o, _r, i in top), key=lambda p: p[0])
    series = [
        {
            "keyword": pack.keyword[k],
            "days": d,
            "overlap": o,
            "volume": volume[k],
            "estimated_volume": estimated,
            "lift": pack.lift[k],
            "category": c,
            "phase": "before" if days[k] < 0 else "after",
            "rank": rank[k],
        }
        for d, o, estimated, c, k in kept
    ]
    result = {
        "dataset": {"id": dataset.id, "level": level, "is_sample": dataset.is_sample,
                    "source_file": dataset.source_file},
        "filters": {
            "gender": gender,
            "age_band": band,
            "age_band_label": next((lbl for code, lbl, *_ in AGE_BANDS if code == band), None),
            "min_gender_share": GENDER_MIN_SHARE if gender else None,
            "min_age_share": AGE_MIN_SHARE if band and step == "band" else None,
            "step": step,
            "step_label": STEP_LABELS.get(step or "", ""),
        },
        "series": series,
        "summary": summary,
    }
    cache.timelines.put(key, result)
    return result


async def list_datasets(session: AsyncSession) -> list[KeywordDataset]:
    return list((await session.execute(
        select(KeywordDataset).order_by(KeywordDataset.department_id, KeywordDataset.chief_complaint_id.is_not(None),
                                        KeywordDataset.chief_complaint_id)
    )).scalars())


async def has_any_dataset(session: AsyncSession) -> bool:
    return (await session.execute(select(KeywordDataset.id).limit(1))).first() is not None
