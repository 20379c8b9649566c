"""The per-worker write batcher: every job write of one worker goes through one short transaction at a time.

Why: SQLite has one writer, and 200 concurrently streaming jobs must not become thousands of writes per second.
Events are queued in memory (text deltas of one job and section merged while queued) and written every
``FLUSH_INTERVAL`` seconds in one transaction for all jobs; completion writes (``finish``/``fail``/``write``)
trigger a flush after a few milliseconds. Each batch starts with one fencing UPDATE of the jobs it touches::

    UPDATE jobs SET heartbeat_at=now, lease_expires_at=now+lease
     WHERE id IN (...) AND status='running' AND lease_owner=:me RETURNING id, attempts

so writes of a job this worker no longer owns (lease taken over by another worker) are dropped, and the job's task
is cancelled. That UPDATE doubles as the heartbeat. Committed events are then published to the in-process hub
(``EventHub``) so SSE streams of the same worker see them without polling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, insert, select, update

from medipersona.db import utcnow
from medipersona.jobs.models import Job, JobEvent
from medipersona.jobs.registry import ApplyFn, JobContext, LeaseLost

if TYPE_CHECKING:  # pragma: no cover
    from medipersona.jobs.runner import JobRuntime

log = logging.getLogger("medipersona.jobs")

FLUSH_INTERVAL = 0.15  # seconds between batched writes of streamed text
URGENT_DELAY = 0.005  # gathering window for completion writes


class EventHub:
    """In-process fan-out of committed events, keyed by job id (used by SSE streams of this worker).

    For a job created and run by this worker (``open_log``), the hub also keeps every event it published, so
    a stream that connects while the job runs gets the state so far from memory instead of reading the
    table: under a burst, 200 streams connecting would otherwise cost 200 reads in the burst's busiest
    second. The log is dropped when the job ends (its stream then reads the table, like any other)."""

    def __init__(self) -> None:
        self._subs: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self._logs: dict[str, list[dict[str, Any]]] = {}

    def open_log(self, job_id: str, events: list[dict[str, Any]]) -> None:
        self._logs[job_id] = list(events)

    def close_log(self, job_id: str) -> None:
        self._logs.pop(job_id, None)

    def has_log(self, job_id: str) -> bool:
        return job_id in self._logs

    def replay(self, job_id: str) -> list[dict[str, Any]] | None:
        """The events published so far for a logged job (a copy), or None when the job is not logged here."""
        log = self._logs.get(job_id)
        return None if log is None else list(log)

    def subscribe(self, job_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subs[job_id].add(queue)
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue) -> None:
        subs = self._subs.get(job_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                self._subs.pop(job_id, None)

    def publish(self, job_id: str, event: dict[str, Any]) -> None:
        log = self._logs.get(job_id)
        if log is not None:
            log.append(event)
        for queue in self._subs.get(job_id, ()):
            queue.put_nowait(event)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())


@dataclass
class PendingEvent:
    job_id: str
    attempt: int
    persona_id: str | None
    type: str
    data: dict[str, Any]
    created_at: Any = field(default_factory=utcnow)


@dataclass
class PendingPatch:
    job_id: str
    attempt: int
    table: Any
    key: str
    values: dict[str, Any]


@dataclass
class PendingCompletion:
    job_id: str
    attempt: int
    future: asyncio.Future


@dataclass
class PendingOp:
    job_id: str
    attempt: int
    fn: ApplyFn | None
    future: asyncio.Future


class WriteTx:
    """Handed to ``apply`` functions: the batch's connection (``tx.session``: an AsyncConnection, use
    ``execute``) and a way to append events inside the same transaction."""

    def __init__(self, session, publish: list[tuple[str, dict[str, Any]]]) -> None:
        self.session = session
        self._publish = publish

    async def event(self, job_id: str, persona_id: str | None, type: str, data: dict[str, Any]) -> int:
        table = JobEvent.__table__
        row = (
            await self.session.execute(
                insert(table).returning(table.c.id),
                {"job_id": job_id, "persona_id": persona_id, "type": type, "data": data, "created_at": utcnow()},
            )
        ).first()
        event_id = int(row[0])
        self._publish.append((job_id, {"id": event_id, "type": type, "data": data}))
        return event_id


def finish_op(ctx: JobContext, apply: ApplyFn | None, data: dict[str, Any], result: dict[str, Any] | None):
    async def op(tx: WriteTx) -> None:
        now = utcnow()
        res = await tx.session.execute(
            update(Job)
            .where(Job.id == ctx.job_id, Job.lease_owner == ctx.runtime.worker_id, Job.attempts == ctx.attempt,
                   Job.status == "running")
            .values(status="done", finished_at=now, updated_at=now, lease_owner=None, lease_expires_at=None,
                    result=result, error=None)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            raise LeaseLost(ctx.job_id)
        if apply is not None:
            await apply(tx)
        await tx.event(ctx.job_id, ctx.persona_id, "done", data)

    return op


def fail_op(ctx: JobContext, error: dict[str, str], apply: ApplyFn | None):
    async def op(tx: WriteTx) -> None:
        now = utcnow()
        res = await tx.session.execute(
            update(Job)
            .where(Job.id == ctx.job_id, Job.lease_owner == ctx.runtime.worker_id, Job.attempts == ctx.attempt,
                   Job.status == "running")
            .values(status="failed", finished_at=now, updated_at=now, lease_owner=None, lease_expires_at=None,
                    error=error)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            raise LeaseLost(ctx.job_id)
        if ctx.spec is not None and ctx.spec.on_failure is not None:
            await ctx.spec.on_failure(tx, ctx, error)
        if apply is not None:
            await apply(tx)
        await tx.event(ctx.job_id, ctx.persona_id, "error", dict(error))

    return op


class WriteBatcher:
    def __init__(self, runtime: JobRuntime, interval: float = FLUSH_INTERVAL) -> None:
        self.runtime = runtime
        self.interval = interval
        self._events: list[PendingEvent] = []
        self._ops: list[PendingOp] = []
        self._patches: dict[tuple[str, str], PendingPatch] = {}
        self._completions: list[PendingCompletion] = []
        self._last_delta: dict[tuple[str, int], tuple[str, PendingEvent]] = {}
        self._offsets: dict[tuple[str, int, str], int] = {}
        self._kick = asyncio.Event()
        self._urgent = asyncio.Event()
        self._heartbeat_due = False
        self._last_flush = 0.0
        self._task: asyncio.Task | None = None
        self._closing = False
        self.last_heartbeat_ok = time.monotonic()
        # counters for tests and the benchmark
        self.flushes = 0
        self.events_written = 0
        self.ops_applied = 0
        self.flush_seconds = 0.0
        self.max_flush_seconds = 0.0
        self.lock_wait_seconds = 0.0
        self.phase_max: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------ queueing
    def emit(self, ctx: JobContext, type: str, data: dict[str, Any]) -> None:
        self._last_delta.pop((ctx.job_id, ctx.attempt), None)
        self._events.append(PendingEvent(ctx.job_id, ctx.attempt, ctx.persona_id, type, data))
        self._kick.set()

    def emit_delta(self, ctx: JobContext, key: str, text: str, extra: dict[str, Any]) -> None:
        if not text:
            return
        job_key = (ctx.job_id, ctx.attempt)
        offset_key = (ctx.job_id, ctx.attempt, key)
        offset = self._offsets.get(offset_key, 0)
        self._offsets[offset_key] = offset + len(text)
        last = self._last_delta.get(job_key)
        if last is not None and last[0] == key:
            data = last[1].data
            data["text"] += text
            data.update(extra)
            return
        event = PendingEvent(ctx.job_id, ctx.attempt, ctx.persona_id, "delta",
                             {"section": key, "text": text, "offset": offset, **extra})
        self._events.append(event)
        self._last_delta[job_key] = (key, event)
        self._kick.set()

    def submit(self, ctx: JobContext, fn: ApplyFn | None, *, urgent: bool = True) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._ops.append(PendingOp(ctx.job_id, ctx.attempt, fn, future))
        self._kick.set()
        if urgent:
            self._urgent.set()
        return future

    def patch(self, ctx: JobContext, table: Any, key: str, values: dict[str, Any]) -> None:
        """Set columns of one row (by primary key ``id``) in the next batch. Patches of one row merge; all
        patches of a batch with the same columns become one executemany UPDATE."""
        table = getattr(table, "__table__", table)
        pending = self._patches.get((table.name, key))
        if pending is not None and pending.job_id == ctx.job_id and pending.attempt == ctx.attempt:
            pending.values.update(values)
        else:
            self._patches[(table.name, key)] = PendingPatch(ctx.job_id, ctx.attempt, table, key, dict(values))
        self._kick.set()

    def complete(self, ctx: JobContext, job_values: dict[str, Any], event_type: str,
                 event_data: dict[str, Any]) -> asyncio.Future:
        """Finish a job in the next batch: its row (``job_values``), then its final event, fenced like the rest.
        The returned future raises LeaseLost if the job was not ours any more."""
        self.patch(ctx, Job, ctx.job_id, job_values)
        self.emit(ctx, event_type, event_data)
        future = asyncio.get_running_loop().create_future()
        self._completions.append(PendingCompletion(ctx.job_id, ctx.attempt, future))
        self._urgent.set()
        return future

    def request_heartbeat(self) -> None:
        self._heartbeat_due = True
        self._kick.set()
        self._urgent.set()

    def forget(self, job_id: str, attempt: int) -> None:
        self._last_delta.pop((job_id, attempt), None)
        for key in [k for k in self._offsets if k[0] == job_id and k[1] == attempt]:
            del self._offsets[key]

    # ------------------------------------------------------------------------------------------ running
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="job-writer")

    async def stop(self) -> None:
        self._closing = True
        self._kick.set()
        self._urgent.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        if self._events or self._ops or self._patches:
            await self.flush_now()

    async def _loop(self) -> None:
        while True:
            if not (self._events or self._ops or self._patches or self._heartbeat_due):
                if self._closing:
                    return
                self._kick.clear()
                await self._kick.wait()
                continue
            if self._urgent.is_set() or self._closing:
                await asyncio.sleep(URGENT_DELAY)
            else:
                delay = self._last_flush + self.interval - time.monotonic()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._urgent.wait(), timeout=delay)
                        await asyncio.sleep(URGENT_DELAY)
                    except TimeoutError:
                        pass
            try:
                await self.flush_now()
            except Exception:  # pragma: no cover - logged, the loop must survive
                log.exception("job write batch failed")
                await asyncio.sleep(0.5)

    async def flush_now(self) -> None:
        self._urgent.clear()
        events, self._events = self._events, []
        ops, self._ops = self._ops, []
        patches, self._patches = list(self._patches.values()), {}
        completions, self._completions = self._completions, []
        self._last_delta.clear()
        heartbeat = self._heartbeat_due
        self._heartbeat_due = False
        self._last_flush = time.monotonic()
        job_ids = {e.job_id for e in events} | {o.job_id for o in ops} | {p.job_id for p in patches}
        if heartbeat:
            job_ids |= set(self.runtime.running)
        if not job_ids:
            for op in ops:
                if not op.future.done():
                    op.future.set_result(None)
            return
        t0 = time.perf_counter()
        try:
            owned, publish, results = await self._apply(job_ids, events, ops, patches)
        except Exception as exc:
            if ops:
                log.warning("job write batch failed (%s); retrying its writes one by one", exc)
                try:
                    owned, publish, results = await self._apply_separately(job_ids, events, ops, patches)
                except Exception as again:  # noqa: BLE001 - handed to the waiting jobs
                    for op in ops:  # a waiting job sees the error (and fails or retries)
                        if not op.future.done():
                            op.future.set_exception(again)
                    ops = []
                    exc = again
                else:
                    exc = None
            if exc is not None:
                # Keep the other writes for the next batch (the database may be briefly unavailable).
                self._events[:0] = events
                for p in patches:
                    self._patches.setdefault((p.table.name, p.key), p)
                self._completions[:0] = completions
                self._kick.set()
                log.warning("job write batch failed, will retry: %s", exc)
                raise exc  # noqa: TRY201 - the batch's or the retry's error
        self.flushes += 1
        self.ops_applied += len(ops) + len(patches)
        spent = time.perf_counter() - t0
        self.flush_seconds += spent
        self.max_flush_seconds = max(self.max_flush_seconds, spent)
        if heartbeat and owned is not None:
            self.last_heartbeat_ok = time.monotonic()
        for job_id, event in publish:
            self.runtime.hub.publish(job_id, event)
        for op, result in zip(ops, results, strict=True):
            if op.future.done():
                continue
            if isinstance(result, BaseException):
                op.future.set_exception(result)
            else:
                op.future.set_result(result)
        for c in completions:
            if c.future.done():
                continue
            if owned is not None and owned.get(c.job_id) == c.attempt:
                c.future.set_result(None)
            else:
                c.future.set_exception(LeaseLost(c.job_id))
        if owned is not None:
            for job_id in job_ids:
                running = self.runtime.running.get(job_id)
                if running is not None and owned.get(job_id) != running.attempt:
                    self.runtime.on_lease_lost(job_id, running.attempt)

    async def _fence(self, session, job_ids: set[str]) -> dict[str, int]:
        now = utcnow()
        lease = timedelta(seconds=self.runtime.settings.job_lease_seconds)
        rows = await session.execute(
            update(Job)
            .where(Job.id.in_(sorted(job_ids)), Job.status == "running", Job.lease_owner == self.runtime.worker_id)
            .values(heartbeat_at=now, lease_expires_at=now + lease)
            .returning(Job.id, Job.attempts)
            .execution_options(synchronize_session=False)
        )
        return {row[0]: row[1] for row in rows}

    async def _insert_events(self, session, events: list[PendingEvent], publish: list) -> None:
        if not events:
            return
        table = JobEvent.__table__
        params = [
            {"job_id": e.job_id, "persona_id": e.persona_id, "type": e.type, "data": e.data,
             "created_at": e.created_at}
            for e in events
        ]
        ids = await insert_events_returning_ids(session, params)
        for event, event_id in zip(events, ids, strict=True):
            publish.append((event.job_id, {"id": event_id, "type": event.type, "data": event.data}))
        self.events_written += len(events)

    async def _apply_patches(self, session, patches: list[PendingPatch]) -> None:
        groups: dict[tuple[str, tuple[str, ...]], list[PendingPatch]] = defaultdict(list)
        for p in patches:
            groups[(p.table.name, tuple(sorted(p.values)))].append(p)
        for (_name, columns), items in groups.items():
            table = items[0].table
            stmt = update(table).where(table.c.id == bindparam("_pk")).values(
                {c: bindparam(f"_v_{c}") for c in columns})
            params = [{"_pk": p.key, **{f"_v_{c}": p.values[c] for c in columns}} for p in items]
            await session.execute(stmt, params)

    async def _apply(self, job_ids, events, ops, patches=()):
        publish: list[tuple[str, dict[str, Any]]] = []
        results: list[Any] = []
        t0 = time.perf_counter()
        async with self.runtime.write_connection() as session:
            t1 = time.perf_counter()
            self.lock_wait_seconds += t1 - t0
            owned = await self._fence(session, job_ids)
            t2 = time.perf_counter()
            await self._insert_events(session, [e for e in events if owned.get(e.job_id) == e.attempt], publish)
            t3 = time.perf_counter()
            await self._apply_patches(session, [p for p in patches if owned.get(p.job_id) == p.attempt])
            t4 = time.perf_counter()
            tx = WriteTx(session, publish)
            for op in ops:
                if owned.get(op.job_id) != op.attempt:
                    results.append(LeaseLost(op.job_id))
                elif op.fn is None:
                    results.append(None)
                else:
                    results.append(await op.fn(tx))
            t5 = time.perf_counter()
        # committed (by write_connection) here
        for name, value in (("wait", t1 - t0), ("fence", t2 - t1), ("events", t3 - t2), ("patches", t4 - t3),
                            ("commit", time.perf_counter() - t5)):
            self.phase_max[name] = max(self.phase_max.get(name, 0.0), value)
        return owned, publish, results

    async def _apply_separately(self, job_ids, events, ops, patches=()):
        owned, publish, _ = await self._apply(job_ids, events, [], patches)
        results: list[Any] = []
        for op in ops:
            try:
                _, more, res = await self._apply({op.job_id}, [], [op])
                publish.extend(more)
                results.append(res[0])
            except Exception as exc:  # noqa: BLE001 - handed to the waiting job
                results.append(exc)
        return owned, publish, results


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
    table = JobEvent.__table__
    if conn.dialect.name == "sqlite":
        start = int(await conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)
        ids = list(range(start + 1, start + 1 + len(params)))
        for row, event_id in zip(params, ids, strict=True):
            row["id"] = event_id
        await conn.execute(insert(table), params)
        return ids
    rows = (await conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), params)).all()
    return [int(r[0]) for r in rows]


SESSION_GONE_MESSAGE = "ログイン状態が無効になりました（ログアウト・期限切れ・アカウント停止）。もう一度ログインしてください。"


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
        from medipersona.accounts.service import live_session_ids
        from medipersona.db import Base

        order = {table: i for i, table in enumerate(Base.metadata.sorted_tables)}
        async with self.connection() as conn:
            wanted = {item.auth_session_id for item in batch if item.auth_session_id is not None}
            live = await live_session_ids(conn, wanted) if wanted else set()
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
    from medipersona.errors import NotAuthenticated

    return NotAuthenticated(SESSION_GONE_MESSAGE, code="session_revoked")


def _settle(item: PendingInsert, error: BaseException | None) -> None:
    if item.future.done():
        return
    if error is None:
        item.future.set_result(None)
    else:
        item.future.set_exception(error)
