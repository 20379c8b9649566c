"""Keyword lookups: the rows of a department/complaint, filtered for a persona; the timeline series.

Reads are one SELECT joining datasets and rows (a consistent snapshot: a concurrent re-import is seen whole or
not at all). Results are kept in a bounded per-process LRU cache. Every import bumps ``keyword_state.version``;
each worker compares it at most once per ``CHECK_INTERVAL`` seconds and drops its cache when it changed (the
importing worker drops its own cache immediately).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.catalog.labels import AGE_BANDS, age_band
from medipersona.keywords.categories import DISPLAY_ORDER
from medipersona.keywords.models import AGE_COLUMNS, KeywordDataset, KeywordRow, KeywordState

CHECK_INTERVAL = 1.0  # seconds between version checks per worker
MAX_RESULTS_CACHED = 512  # prompt keyword lists (~4 KB each)
MAX_TIMELINES_CACHED = 32  # timeline results (~200 KiB each: <= ~6.5 MB)
GENDER_MIN_SHARE = 40.0  # PRODUCT.md §3
AGE_MIN_SHARE = 15.0
BAND_INDEX = {code: i for i, (code, *_rest) in enumerate(AGE_BANDS)}

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


class _Cache:
    """Per database URL (tests and benchmarks open several databases in one process)."""

    def __init__(self) -> None:
        self.results = _LRU(MAX_RESULTS_CACHED)  # prompt keywords: small
        self.timelines = _LRU(MAX_TIMELINES_CACHED)
        self.version: tuple[int, str] | None = None
        self.checked_at = 0.0

    def clear(self) -> None:
        self.results.clear()
        self.timelines.clear()


_caches: OrderedDict[str, _Cache] = OrderedDict()


def _cache_for(url: str) -> _Cache:
    cache = _caches.get(url)
    if cache is None:
        cache = _caches[url] = _Cache()
        while len(_caches) > 8:
            _caches.popitem(last=False)
    return cache


def _url_of(bind: Any) -> str:
    """The cache namespace of an engine: its URL (rendering a URL is slow: memoised on the engine)."""
    key = getattr(bind, "_mp_keyword_cache_key", None)
    if key is None:
        key = str(getattr(bind, "url", bind))
        try:
            bind._mp_keyword_cache_key = key
        except AttributeError:
            pass
    return key


def invalidate_local(db_or_engine: Any | None = None) -> None:
    """Drop this process's cache (all databases when None). Other workers notice the version bump."""
    if db_or_engine is None:
        for each in _caches.values():
            each.clear()
            each.version = None
        return
    engine = getattr(db_or_engine, "engine", db_or_engine)
    cache = _caches.get(_url_of(engine))
    if cache is not None:
        cache.clear()
        cache.version = None
        cache.checked_at = 0.0


async def _fresh_cache(session: AsyncSession) -> _Cache:
    cache = _cache_for(_url_of(session.bind))
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


_DS = KeywordDataset.__table__.c
_KR = KeywordRow.__table__.c


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


def _share_columns(gender: str | None, band: str | None):
    g = {"male": _KR.male, "female": _KR.female}.get(gender or "")
    a = _KR[AGE_COLUMNS[BAND_INDEX[band]]] if band else None
    return g, a


def _neighbour_share(band: str | None) -> ColumnElement[Any]:
    """The summed shares of the bands next to ``band`` (callers have a band whenever they have its column)."""
    if band is None:
        raise ValueError("no age band")
    i = BAND_INDEX[band]
    cols = [_KR[AGE_COLUMNS[j]] for j in (i - 1, i + 1) if 0 <= j < len(AGE_COLUMNS)]
    total: ColumnElement[Any] = cols[0]
    for col in cols[1:]:
        total = total + col
    return total


_RANK_STEPS = {0: "band", 1: "neighbours", 2: "all_ages", 3: "unfiltered"}


def _step_rank(gender: str | None, band: str | None):
    """How strict a filter a row passes: 0 band (the persona's band >= 15 %), 1 neighbours (its band and the
    neighbouring ones together >= 15 %), 2 any age (gender >= 40 % only), 3 neither (as SQL)."""
    g, a = _share_columns(gender, band)
    g_ok = g >= GENDER_MIN_SHARE if g is not None else None
    whens = []
    if a is not None:
        neighbours = _neighbour_share(band)
        whens.append(((a >= AGE_MIN_SHARE) if g_ok is None else (g_ok & (a >= AGE_MIN_SHARE)), 0))
        whens.append(((a + neighbours >= AGE_MIN_SHARE) if g_ok is None
                      else (g_ok & (a + neighbours >= AGE_MIN_SHARE)), 1))
    if g_ok is not None:
        whens.append((g_ok, 2))
        return case(*whens, else_=3)
    return case(*whens, else_=2) if whens else literal(2)


def _base_select(gender: str | None, band: str | None, *, dataset_columns: bool = True):
    """``dataset_columns``: the dataset's id, is_sample and source_file on every row (else NULLs there: a long
    read of every row of a dataset takes them once, from a header row: see ``_rows_statement``)."""
    g, a = _share_columns(gender, band)
    g_col = g if g is not None else literal(100.0)
    a_col = a if a is not None else literal(100.0)
    step_rank = _step_rank(gender, band)
    head = (_DS.id, _DS.is_sample, _DS.source_file) if dataset_columns else (null(), null(), null())
    stmt = (
        select(*head, _KR.rank, _KR.keyword, _KR.volume, _KR.overlap, _KR.lift, _KR.days, _KR.category, g_col,
               a_col, step_rank)
        .select_from(KeywordDataset.__table__.join(KeywordRow.__table__, _KR.dataset_id == _DS.id))
        .where(_DS.scope == bindparam("scope"))
    )
    return stmt, step_rank


@lru_cache(maxsize=64)
def _rows_statement(gender: str | None, band: str | None, limited: bool):
    """The SELECT of one dataset's rows for a filter (built once per gender/band: building and caching the
    expression costs more than running it). Bind parameters: ``scope``, and ``limit`` when ``limited``."""
    g, a = _share_columns(gender, band)
    if not limited:
        # Every row of the dataset (a timeline): the dataset's columns once, in a header row (step rank -1),
        # not on each of ~1,000 rows (a fifth of the read). UNION ALL: still one statement, one snapshot.
        rows, _step = _base_select(gender, band, dataset_columns=False)
        header = select(_DS.id, _DS.is_sample, _DS.source_file, *[null()] * 9, literal(HEADER_RANK)).where(
            _DS.scope == bindparam("scope"))
        return union_all(header, rows)
    stmt, step_rank = _base_select(gender, band)
    weight = a if a is not None else literal(100.0)
    if a is not None:
        # The persona's band share alone for rows of its band; neighbours weigh half beyond it.
        weight = case((a >= AGE_MIN_SHARE, a), else_=a + _neighbour_share(band) * 0.5)
    score = _KR.overlap * (g if g is not None else 100.0) * weight
    return stmt.order_by(step_rank, score.desc(), _KR.rank).limit(bindparam("limit"))


HEADER_RANK = -1  # the step rank column of the header row of an unlimited read


async def _select_rows(session: AsyncSession, department_id: str, chief_complaint_id: str | None,
                       gender: str | None, band: str | None, limit: int | None) -> list:
    """The rows of one dataset in ONE statement (a consistent snapshot even during a re-import), each with the
    strictest filter step it passes (``_step_rank``). Columns: dataset id, is_sample, source_file, rank, keyword,
    volume, overlap, lift, days, category, gender share, age share, step rank. ``limit``: the top rows by step,
    then estimated overlap (overlap × gender share × age weight); without: every row, the dataset columns NULL
    but on one header row (step rank ``HEADER_RANK``). Core table columns (not ORM attributes): no ORM row
    processing on the hot path."""
    from medipersona.keywords.models import scope_key

    params: dict[str, Any] = {"scope": scope_key(department_id, chief_complaint_id)}
    if limit is not None:
        params["limit"] = limit
    connection = await session.connection()
    return list((await connection.execute(_rows_statement(gender, band, limit is not None), params)).all())


def _choose(counts: list[int], need: int) -> int:
    """The strictest step with at least ``need`` rows (else every row)."""
    total = 0
    for rank in range(4):
        total += counts[rank]
        if total >= need:
            return rank
    return max((rank for rank in range(4) if counts[rank]), default=3)


async def _rows_with_fallback(session, department_id, chief_complaint_id, gender, band, limit):
    """(rows, dataset info, level, step) — the complaint's dataset, else the department's; the filter relaxed
    step by step (``STEPS``) until MIN_KEYWORDS rows (or the whole dataset) pass; (.., None, None, None) when
    there is no data. One SELECT per dataset level: for prompt lists (``limit``) the top rows ordered by step;
    for timelines every row of the dataset, the step chosen and applied here (one round trip, not two)."""
    need = min(MIN_KEYWORDS, limit) if limit is not None else MIN_KEYWORDS
    for cc in ([chief_complaint_id, None] if chief_complaint_id else [None]):
        rows = await _select_rows(session, department_id, cc, gender, band, limit)
        info = None
        if limit is None:
            info = next((r[:3] for r in rows if r[12] == HEADER_RANK), None)
            rows = [r for r in rows if r[12] != HEADER_RANK]
        if not rows:  # an imported dataset always has rows: no dataset at this level
            continue
        info = info or rows[0][:3]
        counts = [0, 0, 0, 0]
        for r in rows:
            counts[r[12]] += 1
        chosen = _choose(counts, need)
        if counts[chosen + 1:] != [0] * (3 - chosen):
            rows = [r for r in rows if r[12] <= chosen]
        step = _RANK_STEPS[chosen] if (gender or band) else "none"
        return rows, (info[0], info[1], info[2]), "chief_complaint" if cc else "department", step
    return [], None, None, None


async def dataset_rows(session: AsyncSession, department_id: str, chief_complaint_id: str | None) -> list:
    """Every row of one dataset (no filter, no fallback, no cache) — for tests and tools."""
    rows = await _select_rows(session, department_id, chief_complaint_id, None, None, None)
    info = next((r[:3] for r in rows if r[12] == HEADER_RANK), ())
    return [(*info, *r[3:12]) for r in rows if r[12] != HEADER_RANK]


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
    cache = await _fresh_cache(session)
    key = ("top", department_id, chief_complaint_id, gender, band, limit)
    cached = cache.results.get_item(key)
    if cached is not _MISSING:
        return [dict(item) for item in cached]
    rows, _info, _level, step = await _rows_with_fallback(session, department_id, chief_complaint_id, gender,
                                                          band, max(1, limit))
    items = tuple(
        {
            "keyword": r[4],
            "volume": r[5],
            "overlap": r[6],
            "days": round(float(r[8]), 3),
            "category": r[9],
            "estimated_volume": round(r[5] * r[10] * r[11] / 10000.0),
            "match": step,
        }
        for r in rows
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
    category, ...) — plain tuples, one pass (a timeline keeps ~1,000 rows; no dict per row)."""
    cats_before = {c: 0 for c in DISPLAY_ORDER}
    cats_after = {c: 0 for c in DISPLAY_ORDER}
    vol_before = {c: 0 for c in DISPLAY_ORDER}
    vol_after = {c: 0 for c in DISPLAY_ORDER}
    before_count = after_count = before_volume = after_volume = 0
    before_total = before_near = total = same_day = 0
    by_day: dict[int, float] = {}
    for p in points:
        days, overlap, estimated, category = p[0], p[1], p[2], p[3]
        if days < 0:
            before_count += 1
            cats_before[category] += 1
            vol_before[category] += estimated
            before_volume += estimated
            before_total += overlap
            if days >= -7:
                before_near += overlap
        else:
            after_count += 1
            cats_after[category] += 1
            vol_after[category] += estimated
            after_volume += estimated
        day = round(days)
        by_day[day] = by_day.get(day, 0) + overlap
        total += overlap
        if abs(days) < 1:
            same_day += overlap
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
    cache = await _fresh_cache(session)
    key = (department_id, chief_complaint_id, gender, band, max_points)
    cached = cache.timelines.get_item(key)
    if cached is not _MISSING:
        return cached
    rows, info, level, step = await _rows_with_fallback(session, department_id, chief_complaint_id, gender, band,
                                                        None)
    if info is None:
        cache.timelines.put(key, None)
        return None
    # (days, overlap, estimated volume, category, row): dicts only for the points the series keeps.
    points = [(round(float(r[8]), 3), r[6], round(r[5] * r[10] * r[11] / 10000.0), r[9], r) for r in rows]
    summary = _summarize(points)
    kept = sorted(points, key=lambda p: (-p[1], p[4][3]))[:max_points]
    kept.sort(key=lambda p: p[0])
    series = [
        {
            "keyword": r[4],
            "days": days,
            "overlap": overlap,
            "volume": r[5],
            "estimated_volume": estimated,
            "lift": r[7],
            "category": category,
            "phase": "before" if float(r[8]) < 0 else "after",
            "rank": r[3],
        }
        for days, overlap, estimated, category, r in kept
    ]
    result = {
        "dataset": {"id": info[0], "level": level, "is_sample": bool(info[1]), "source_file": info[2]},
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
