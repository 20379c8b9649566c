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

import asyncio
import contextlib
import weakref
from typing import Any

_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def write_lock(engine: Any) -> contextlib.AbstractAsyncContextManager:
    """The process-wide write lock of an (async) engine; a no-op context for non-SQLite engines."""
    if engine is None or getattr(getattr(engine, "dialect", None), "name", "") != "sqlite":
        return contextlib.nullcontext()
    lock = _locks.get(engine)
    if lock is None:
        lock = _locks[engine] = asyncio.Lock()
    return lock
