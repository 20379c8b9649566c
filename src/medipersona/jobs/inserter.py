"""Group commit for new rows: the inserts of many requests of the same few milliseconds in one transaction."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from medipersona.db import table_of
from medipersona.jobs.models import JobEvent

# Which login sessions are still valid (``fn(conn, ids) -> live ids``, inside the write transaction) and the error
# for a request whose session is gone. Set by the accounts domain at start (``medipersona.domains``): jobs knows
# no domain.
LiveSessionsFn = Callable[[Any, set[int]], Awaitable[set[int]]]
_session_guard: tuple[LiveSessionsFn, Callable[[], Exception]] | None = None


def set_session_guard(live_sessions: LiveSessionsFn, gone_error: Callable[[], Exception]) -> None:
    """Install the check ``RowInserter`` runs for requests that name their login session."""
    global _session_guard
    _session_guard = (live_sessions, gone_error)


def _guard() -> tuple[LiveSessionsFn, Callable[[], Exception]]:
    if _session_guard is None:
        raise RuntimeError("no session guard installed (medipersona.domains.register_domains was not called)")
    return _session_guard


def row_values(obj: Any) -> dict[str, Any]:
    """Every column of an ORM object as a dict for a Core INSERT, Python-side defaults applied."""
    table = obj.__table__
    out: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(obj, column.key, None)
        if value is None and column.primary_key and column is table.autoincrement_column:
            continue  # assigned by the database
        if value is None and column.default is not None:
            arg = column.default.arg
            value = arg
            if callable(arg):
                try:
                    value = arg(None)
                except TypeError:
                    value = arg()
            setattr(obj, column.key, value)
        out[column.key] = value
    return out


async def insert_events_returning_ids(conn, params: list[dict[str, Any]]) -> list[int]:
    """INSERT job events in one statement and return their ids in parameter order. On SQLite the caller's
    transaction must already have written (so it holds SQLite's write lock and no other process can insert
    until it commits): the ids are numbered here, because SQLAlchemy would otherwise insert row by row to
    return them in order."""
    table = table_of(JobEvent)
    if conn.dialect.name == "sqlite":
        start = int(await conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)
        ids = list(range(start + 1, start + 1 + len(params)))
        for row, event_id in zip(params, ids, strict=True):
            row["id"] = event_id
        await conn.execute(insert(table), params)
        return ids
    rows = (await conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), params)).all()
    return [int(r[0]) for r in rows]


@dataclass
class PendingInsert:
    objects: list[Any]
    future: asyncio.Future
    auth_session_id: int | None = None


class RowInserter:
    """Group commit for new rows (e.g. a persona, its job and the job's first event per request).

    Requests arriving within a few milliseconds share one transaction: one executemany INSERT per table, in
    foreign-key order, one commit. A batch that fails is retried request by request, so one bad row only fails
    its own request.

    A request may name the login session it acts for (``auth_session_id``): its rows are inserted only if that
    session is still valid inside the same transaction (one query per batch). Such a request may therefore
    authenticate from the short-lived principal cache: a logout or revocation in any worker still stops the
    write, as a fresh lookup would, at the cost of one query per batch instead of one per request.
    """

    def __init__(self, db: Any, connection: Any, delay: float = 0.003) -> None:
        self.db = db
        self.connection = connection  # JobRuntime.write_connection
        self.delay = delay
        self._pending: list[PendingInsert] = []
        self._task: asyncio.Task | None = None
        self.batches = 0
        self.requests = 0

    async def insert(self, objects: list[Any], *, auth_session_id: int | None = None) -> None:
        """Insert ``objects`` with the next batch. Raises NotAuthenticated when ``auth_session_id`` is no longer
        valid at commit (nothing of this request is written then)."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append(PendingInsert(objects, future, auth_session_id))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="row-inserter")
        await future

    async def _run(self) -> None:
        await asyncio.sleep(self.delay)
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                refused = await self._write(batch)
            except Exception:  # noqa: BLE001 - retried request by request below
                for item in batch:
                    try:
                        refused_one = await self._write([item])
                    except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                        _settle(item, exc)
                    else:
                        _settle(item, _session_gone() if refused_one else None)
            else:
                self.batches += 1
                self.requests += len(batch)
                for item in batch:
                    _settle(item, _session_gone() if id(item) in refused else None)

    async def _write(self, batch: list[PendingInsert]) -> set[int]:
        """One transaction for ``batch``; returns the ids (``id(item)``) of requests refused because their
        login session is gone (their rows are not written)."""
        from medipersona.db import Base

        order = {table: i for i, table in enumerate(Base.metadata.sorted_tables)}
        async with self.connection(first=True) as conn:
            wanted = {item.auth_session_id for item in batch if item.auth_session_id is not None}
            live = await _guard()[0](conn, wanted) if wanted else set()
            refused = {id(item) for item in batch
                       if item.auth_session_id is not None and item.auth_session_id not in live}
            by_table: dict[Any, list[Any]] = defaultdict(list)
            for item in batch:
                if id(item) not in refused:
                    for obj in item.objects:
                        by_table[obj.__table__].append(obj)
            written = False
            for table in sorted(by_table, key=lambda t: order.get(t, 0)):
                objs = by_table[table]
                rows = [row_values(obj) for obj in objs]
                if table is JobEvent.__table__ and written:
                    # The ids are wanted (a job started here replays its events from memory, ids included);
                    # the rows before (persona, job) took SQLite's write lock, as numbering requires.
                    for obj, event_id in zip(objs, await insert_events_returning_ids(conn, rows), strict=True):
                        obj.id = event_id
                else:
                    await conn.execute(insert(table), rows)
                written = True
        return refused


def _session_gone() -> Exception:
    return _guard()[1]()


def _settle(item: PendingInsert, error: BaseException | None) -> None:
    if item.future.done():
        return
    if error is None:
        item.future.set_result(None)
    else:
        item.future.set_exception(error)
