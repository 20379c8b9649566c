"""A job's read session that opens (and takes a read slot) only when it first reads.

Most reads a starting generation makes are answered from per-second caches (the admin settings, the keyword
store, the catalog): the session is only asked for its ``bind`` (the cache key). Opening an ``AsyncSession``
for them anyway cost each of a burst's 200 jobs two read-slot turns and a session close (a task and a shield
per close); with four read slots those turns queued the persona text and its timeline analysis up to 1.8 s
behind each other. ``LazySession`` keeps the session API the callers use: its async methods open the real
session (after taking the slot) on first use; ``bind`` answers without one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# The AsyncSession methods that talk to the database: the first call opens the session.
_QUERY_METHODS = frozenset({
    "execute", "scalar", "scalars", "get", "get_one", "stream", "stream_scalars", "connection", "refresh",
    "run_sync", "merge", "flush", "commit",
})


class LazySession:
    """Stands in for an ``AsyncSession`` inside ``async with``; see the module docstring."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], slots: asyncio.Semaphore | None) -> None:
        self._factory = factory
        self._slots = slots
        self._holds_slot = False
        self._session: AsyncSession | None = None

    @property
    def bind(self) -> Any:
        return self._session.bind if self._session is not None else self._factory.kw.get("bind")

    @property
    def opened(self) -> bool:
        return self._session is not None

    async def _open(self) -> AsyncSession:
        if not self._holds_slot and self._slots is not None:
            await self._slots.acquire()
            self._holds_slot = True
        if self._session is None:
            self._session = self._factory()
        return self._session

    def __getattr__(self, name: str) -> Any:
        if name in _QUERY_METHODS:
            async def call(*args: Any, **kwargs: Any) -> Any:
                return await getattr(await self._open(), name)(*args, **kwargs)

            return call
        # A plain attribute (expunge, add, in_transaction ...): the session without a slot; a later query
        # still takes one.
        if self._session is None:
            self._session = self._factory()
        return getattr(self._session, name)

    async def __aenter__(self) -> LazySession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if self._session is not None:
                await self._session.__aexit__(*exc)
        finally:
            self._session = None
            if self._holds_slot:
                self._holds_slot = False
                assert self._slots is not None
                self._slots.release()
