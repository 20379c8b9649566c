"""A job runner's own database connection for its batched writes (the writer's flushes, claims, the group
inserts of new jobs): one user at a time, committed on exit, kept open between uses. A burst of requests
holding every pooled connection must not make the writes they wait for queue for a connection too."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from medipersona.db import Database
from medipersona.jobs.dblock import write_lock


class WriteConnection:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Any = None  # the AsyncConnection, opened at first use
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def use(self, first: bool = False):
        """The connection, for one user at a time, committed on exit. ``first``: ahead of the other writers
        of this process (the group insert of new jobs)."""
        async with write_lock(self.db.engine, first=first), self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = await self.db.engine.connect()
            conn = self._conn
            if conn.get_transaction() is not None and not conn.in_transaction():
                # A use cut short (cancelled at shutdown) left an invalid transaction: clear it before reuse.
                try:
                    await conn.rollback()
                except Exception:  # noqa: BLE001 - a broken connection is replaced
                    with contextlib.suppress(BaseException):
                        await conn.invalidate()
                    conn = self._conn = await self.db.engine.connect()
            try:
                yield conn
                if conn.in_transaction():
                    await conn.commit()
            except BaseException:
                try:
                    if conn.get_transaction() is not None:  # active or invalid: either way rolled back
                        await asyncio.shield(conn.rollback())
                except BaseException:  # noqa: BLE001 - a broken connection is replaced
                    self._conn = None
                    with contextlib.suppress(BaseException):
                        await conn.invalidate()
                raise

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

