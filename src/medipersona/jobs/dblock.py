"""One writer at a time per process on SQLite.

SQLite allows one write transaction at a time; a connection that finds the database locked waits in SQLite's
busy handler, which sleeps in growing steps (up to 100 ms at a time). With hundreds of concurrent requests and
jobs in one worker that turns into seconds of latency. Writers of this process therefore queue on an asyncio lock
(FIFO, no sleeping) and only the worker processes compete through the busy handler.

    async with write_lock(session.bind):
        session.add(...)
        await session.commit()

On PostgreSQL this is a no-op.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

from medipersona.jobs.waiters import PriorityWaiters


class WriteLock:
    """An asyncio lock (FIFO) whose ``first`` waiters go before the others: the group commit of new rows
    (``RowInserter``: requests wait for it, and their jobs start after it) is not queued behind the job writer's
    batches, which only grow by waiting."""

    def __init__(self) -> None:
        self._locked = False
        self._waiters = PriorityWaiters()

    def locked(self) -> bool:
        return self._locked

    async def acquire(self, first: bool = False) -> None:
        if not self._locked and not self._waiters:
            self._locked = True
            return
        await self._waiters.wait(first, self.release)  # handed over by release(): the lock is ours

    def release(self) -> None:
        if not self._waiters.hand_over():  # else it stays locked: ownership passed to that waiter
            self._locked = False

    @contextlib.asynccontextmanager
    async def hold(self, first: bool = False):
        await self.acquire(first)
        try:
            yield
        finally:
            self.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: Any) -> None:
        self.release()


_locks: weakref.WeakKeyDictionary[Any, WriteLock] = weakref.WeakKeyDictionary()


def write_lock(engine: Any, *, first: bool = False) -> contextlib.AbstractAsyncContextManager:
    """The process-wide write lock of an (async) engine; a no-op context for non-SQLite engines. ``first``:
    wait ahead of the other writers (see ``WriteLock``)."""
    if engine is None or getattr(getattr(engine, "dialect", None), "name", "") != "sqlite":
        return contextlib.nullcontext()
    lock = _locks.get(engine)
    if lock is None:
        lock = _locks[engine] = WriteLock()
    return lock.hold(first) if first else lock
