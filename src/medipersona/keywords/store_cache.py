"""The keyword store's per-process caches: decoded datasets and lookup results, per database.

Bounded LRUs, so a worker's memory stays bounded however many complaints are asked about. Every import bumps
``keyword_state.version``; each worker compares it at most once per ``CHECK_INTERVAL`` seconds and drops its
cache when it changed (the importing worker drops its own cache immediately: ``invalidate_local``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.keywords.models import KeywordState

CHECK_INTERVAL = 1.0  # seconds between version checks per worker
MAX_RESULTS_CACHED = 512  # prompt keyword lists (~4 KB each)
MAX_TIMELINES_CACHED = 32  # timeline results (~200 KiB each: <= ~6.5 MB)
MAX_DATASETS_CACHED = 16  # decoded datasets (~250 KiB each for 1,000 rows)


MISSING = object()  # a cache miss (None is a cached answer: "no dataset")


class _LRU(OrderedDict):
    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get_item(self, key):
        value = super().get(key, MISSING)
        if value is not MISSING:
            self.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


class Cache:
    """Per database URL (tests and benchmarks open several databases in one process)."""

    def __init__(self) -> None:
        self.results = _LRU(MAX_RESULTS_CACHED)  # prompt keywords: small
        self.timelines = _LRU(MAX_TIMELINES_CACHED)
        self.datasets = _LRU(MAX_DATASETS_CACHED)
        self.version: tuple[int, str] | None = None
        self.checked_at = 0.0

    def clear(self) -> None:
        self.results.clear()
        self.timelines.clear()
        self.datasets.clear()


_caches: OrderedDict[str, Cache] = OrderedDict()


def _cache_for(url: str) -> Cache:
    cache = _caches.get(url)
    if cache is None:
        cache = _caches[url] = Cache()
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


_KS = KeywordState.__table__.c
_VERSION_QUERY = select(_KS.version, _KS.token).where(_KS.id == 1)


async def fresh_cache(session: AsyncSession) -> Cache:
    cache = _cache_for(_url_of(session.bind))
    now = time.monotonic()
    if cache.version is None or now - cache.checked_at >= CHECK_INTERVAL:
        # The check is claimed before it is awaited: lookups starting meanwhile (a burst's 200 jobs) use the
        # cache as it is for this second instead of each sending the same query (229 of a burst's 1,126
        # statements). With no version yet, every caller waits for one.
        previous, cache.checked_at = cache.checked_at, now
        try:
            connection = await session.connection()  # Core, not the ORM: this runs before most cold lookups
            row = (await connection.execute(_VERSION_QUERY)).first()
        except BaseException:
            cache.checked_at = previous  # the next lookup asks again
            raise
        version = (row.version, row.token) if row else (0, "")
        if version != cache.version:
            cache.clear()
            cache.version = version
    return cache
