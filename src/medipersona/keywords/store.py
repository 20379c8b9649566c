"""Keyword lookups: the rows of a department/complaint, filtered for a persona; the timeline series.

Reads are one SELECT joining datasets and rows (a consistent snapshot: a concurrent re-import is seen whole or
not at all). Results are kept in a bounded per-process LRU cache. Every import bumps ``keyword_state.version``;
each worker compares it at most once per ``CHECK_INTERVAL`` seconds and drops its cache when it changed (the
importing worker drops its own cache immediately).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.catalog.labels import AGE_BANDS, age_band
from medipersona.keywords.categories import DISPLAY_ORDER
from medipersona.keywords.models import AGE_COLUMNS, KeywordDataset, KeywordRow, KeywordState

CHECK_INTERVAL = 1.0  # seconds between version checks per worker
MAX_DATASETS_CACHED = 32
MAX_RESULTS_CACHED = 512
GENDER_MIN_SHARE = 40.0  # PRODUCT.md §3
AGE_MIN_SHARE = 15.0
BAND_INDEX = {code: i for i, (code, *_rest) in enumerate(AGE_BANDS)}

# Row tuple layout in the cache.
R_RANK, R_KEYWORD, R_VOLUME, R_OVERLAP, R_LIFT, R_DAYS, R_MALE, R_FEMALE = range(8)
R_AGE0 = 8
R_CATEGORY = R_AGE0 + len(AGE_COLUMNS)


class _LRU(OrderedDict):
    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get_item(self, key):
        value = super().get(key, _MISSING)
        if value is not _MISSING:
            self.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


_MISSING = object()


@dataclass
class DatasetRows:
    dataset_id: int
    department_id: str
    chief_complaint_id: str | None
    is_sample: bool
    source_file: str
    rows: tuple[tuple, ...]


class _Cache:
    """Per database URL (tests and benchmarks open several databases in one process)."""

    def __init__(self) -> None:
        self.datasets = _LRU(MAX_DATASETS_CACHED)
        self.results = _LRU(MAX_RESULTS_CACHED)
        self.version: tuple[int, str] | None = None
        self.checked_at = 0.0

    def clear(self) -> None:
        self.datasets.clear()
        self.results.clear()


_caches: OrderedDict[str, _Cache] = OrderedDict()


def _cache_for(url: str) -> _Cache:
    cache = _caches.get(url)
    if cache is None:
        cache = _caches[url] = _Cache()
        while len(_caches) > 8:
            _caches.popitem(last=False)
    return cache


def _url_of(bind: Any) -> str:
    return str(getattr(bind, "url", bind))


def invalidate_local(db_or_engine: Any | None = None) -> None:
    """Drop this process's cache (all databases when None). Other workers notice the version bump."""
    if db_or_engine is None:
        for cache in _caches.values():
            cache.clear()
            cache.version = None
        return
    engine = getattr(db_or_engine, "engine", db_or_engine)
    cache = _caches.get(_url_of(engine.url))
    if cache is not None:
        cache.clear()
        cache.version = None
        cache.checked_at = 0.0


async def _fresh_cache(session: AsyncSession) -> _Cache:
    cache = _cache_for(_url_of(session.bind.url))
    now = time.monotonic()
    if cache.version is None or now - cache.checked_at >= CHECK_INTERVAL:
        row = (await session.execute(select(KeywordState.version, KeywordState.token)
                                     .where(KeywordState.id == 1))).first()
        version = (row.version, row.token) if row else (0, "")
        if version != cache.version:
            cache.clear()
            cache.version = version
        cache.checked_at = now
    return cache


_ROW_COLUMNS = (
    KeywordRow.rank, KeywordRow.keyword, KeywordRow.volume, KeywordRow.overlap, KeywordRow.lift, KeywordRow.days,
    KeywordRow.male, KeywordRow.female, *[getattr(KeywordRow, c) for c in AGE_COLUMNS], KeywordRow.category,
)


def _compact(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


async def _load(session: AsyncSession, department_id: str, chief_complaint_id: str | None) -> DatasetRows | None:
    condition = (KeywordDataset.chief_complaint_id == chief_complaint_id if chief_complaint_id
                 else KeywordDataset.chief_complaint_id.is_(None))
    stmt = (
        select(KeywordDataset.id, KeywordDataset.is_sample, KeywordDataset.source_file, *_ROW_COLUMNS)
        .join(KeywordRow, KeywordRow.dataset_id == KeywordDataset.id)
        .where(KeywordDataset.department_id == department_id, condition)
        .order_by(KeywordRow.rank, KeywordRow.id)
    )
    result = await session.execute(stmt)
    raw = result.all()
    if not raw:
        return None
    first = raw[0]
    compact = _compact
    rows = tuple(
        (r[3], r[4], r[5], r[6], r[7], r[8], compact(r[9]), compact(r[10]),
         *[compact(v) for v in r[11:11 + len(AGE_COLUMNS)]], r[11 + len(AGE_COLUMNS)])
        for r in raw
    )
    return DatasetRows(first[0], department_id, chief_complaint_id, bool(first[1]), first[2], rows)


async def dataset_rows(session: AsyncSession, department_id: str, chief_complaint_id: str | None,
                       *, fallback: bool = True) -> DatasetRows | None:
    """The rows of the complaint's dataset, else (``fallback``) of the department's dataset."""
    cache = await _fresh_cache(session)
    key = (department_id, chief_complaint_id)
    found = cache.datasets.get_item(key)
    if found is _MISSING:
        found = await _load(session, department_id, chief_complaint_id)
        cache.datasets.put(key, found)
    if found is None and chief_complaint_id and fallback:
        return await dataset_rows(session, department_id, None, fallback=False)
    return found


def _shares(row: tuple, gender: str | None, band: str | None) -> tuple[float, float] | None:
    """(gender share, age share) as fractions, or None when the row is filtered out."""
    g = 1.0
    if gender == "male":
        if row[R_MALE] < GENDER_MIN_SHARE:
            return None
        g = row[R_MALE] / 100.0
    elif gender == "female":
        if row[R_FEMALE] < GENDER_MIN_SHARE:
            return None
        g = row[R_FEMALE] / 100.0
    a = 1.0
    if band is not None:
        share = row[R_AGE0 + BAND_INDEX[band]]
        if share < AGE_MIN_SHARE:
            return None
        a = share / 100.0
    return g, a


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
    """Keywords for the persona prompt: filtered by gender/age band, most searched (estimated overlap) first."""
    gender = _norm_gender(gender)
    band = age_band(age)
    cache = await _fresh_cache(session)
    key = ("top", department_id, chief_complaint_id, gender, band, limit)
    cached = cache.results.get_item(key)
    if cached is not _MISSING:
        return [dict(item) for item in cached]
    data = await dataset_rows(session, department_id, chief_complaint_id)
    items: list[dict] = []
    if data is not None:
        scored = []
        for row in data.rows:
            shares = _shares(row, gender, band)
            if shares is None:
                continue
            g, a = shares
            scored.append((row[R_OVERLAP] * g * a, row))
        scored.sort(key=lambda t: (-t[0], t[1][R_RANK]))
        for est_overlap, row in scored[:limit]:
            g, a = _shares(row, gender, band)
            items.append({
                "keyword": row[R_KEYWORD],
                "volume": row[R_VOLUME],
                "overlap": row[R_OVERLAP],
                "days": round(float(row[R_DAYS]), 3),
                "category": row[R_CATEGORY],
                "estimated_volume": round(row[R_VOLUME] * g * a),
            })
    cache.results.put(key, tuple(items))
    return [dict(item) for item in items]


def urgency_of(before_near: float, before_total: float, same_day_share: float) -> dict[str, Any]:
    """How quickly people act: share of pre-search interest in the last 7 days, plus same-day searches."""
    near_share = before_near / before_total if before_total else 0.0
    score = round(100 * (0.6 * near_share + 0.4 * same_day_share))
    if score >= 60:
        level, label, note = "high", "高", "検索から受診・行動までが短く、すぐに解決したいニーズが強い"
    elif score >= 35:
        level, label, note = "medium", "中", "数日〜数週間の比較検討を経て行動する傾向"
    else:
        level, label, note = "low", "低", "長期間にわたって情報収集し、じっくり検討する傾向"
    return {"level": level, "label": label, "score": score, "description": note,
            "near_before_share": round(near_share, 3), "same_day_share": round(same_day_share, 3)}


def _summarize(points: list[dict]) -> dict[str, Any]:
    before = [p for p in points if p["days"] < 0]
    after = [p for p in points if p["days"] >= 0]
    cats_before = {c: 0 for c in DISPLAY_ORDER}
    cats_after = {c: 0 for c in DISPLAY_ORDER}
    vol_before = {c: 0 for c in DISPLAY_ORDER}
    vol_after = {c: 0 for c in DISPLAY_ORDER}
    for p in before:
        cats_before[p["category"]] += 1
        vol_before[p["category"]] += p["estimated_volume"]
    for p in after:
        cats_after[p["category"]] += 1
        vol_after[p["category"]] += p["estimated_volume"]
    by_day: dict[int, float] = {}
    for p in points:
        day = round(p["days"])
        by_day[day] = by_day.get(day, 0) + p["overlap"]
    # Peak day: the whole day with the most co-search overlap; ties: the one closest to the search.
    peak_day = max(by_day, key=lambda d: (by_day[d], -abs(d))) if by_day else None
    before_total = sum(p["overlap"] for p in before)
    before_near = sum(p["overlap"] for p in before if p["days"] >= -7)
    total = sum(p["overlap"] for p in points)
    same_day = sum(p["overlap"] for p in points if abs(p["days"]) < 1)
    return {
        "total": len(points),
        "before_count": len(before),
        "after_count": len(after),
        "before_volume": sum(p["estimated_volume"] for p in before),
        "after_volume": sum(p["estimated_volume"] for p in after),
        "peak_day": peak_day,
        "peak_overlap": by_day.get(peak_day, 0) if peak_day is not None else 0,
        "days_min": min((p["days"] for p in points), default=None),
        "days_max": max((p["days"] for p in points), default=None),
        "categories_before": cats_before,
        "categories_after": cats_after,
        "category_volume_before": vol_before,
        "category_volume_after": vol_after,
        "urgency": urgency_of(before_near, before_total, same_day / total if total else 0.0),
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
    cache = await _fresh_cache(session)
    key = ("timeline", department_id, chief_complaint_id, gender, band, max_points)
    cached = cache.results.get_item(key)
    if cached is not _MISSING:
        return cached
    data = await dataset_rows(session, department_id, chief_complaint_id)
    if data is None:
        cache.results.put(key, None)
        return None
    points: list[dict] = []
    for row in data.rows:
        shares = _shares(row, gender, band)
        if shares is None:
            continue
        g, a = shares
        days = float(row[R_DAYS])
        points.append({
            "keyword": row[R_KEYWORD],
            "days": round(days, 3),
            "overlap": row[R_OVERLAP],
            "volume": row[R_VOLUME],
            "estimated_volume": round(row[R_VOLUME] * g * a),
            "lift": row[R_LIFT],
            "category": row[R_CATEGORY],
            "phase": "before" if days < 0 else "after",
            "rank": row[R_RANK],
        })
    summary = _summarize(points)
    series = sorted(points, key=lambda p: (-p["overlap"], p["rank"]))[:max_points]
    series.sort(key=lambda p: p["days"])
    result = {
        "dataset": {
            "id": data.dataset_id,
            "level": "chief_complaint" if data.chief_complaint_id else "department",
            "is_sample": data.is_sample,
            "source_file": data.source_file,
        },
        "filters": {
            "gender": gender,
            "age_band": band,
            "age_band_label": next((lbl for code, lbl, *_ in AGE_BANDS if code == band), None),
            "min_gender_share": GENDER_MIN_SHARE if gender else None,
            "min_age_share": AGE_MIN_SHARE if band else None,
        },
        "series": series,
        "summary": summary,
    }
    cache.results.put(key, result)
    return result


async def list_datasets(session: AsyncSession) -> list[KeywordDataset]:
    return list((await session.execute(
        select(KeywordDataset).order_by(KeywordDataset.department_id, KeywordDataset.chief_complaint_id.is_not(None),
                                        KeywordDataset.chief_complaint_id)
    )).scalars())


async def has_any_dataset(session: AsyncSession) -> bool:
    return (await session.execute(select(KeywordDataset.id).limit(1))).first() is not None
