"""The per-worker write batcher: every job write of one worker goes through one short transaction at a time.

Why: SQLite has one writer, and 200 concurrently streaming jobs must not become thousands of writes per second.
Events are queued in memory (text deltas of one job and section merged while queued) and written every
``FLUSH_INTERVAL`` seconds in one transaction for all jobs; completion writes (``finish``/``fail``/``write``)
trigger a flush after a few milliseconds. Each batch starts with one fencing UPDATE of the jobs it touches::

    UPDATE jobs SET heartbeat_at=now, lease_expires_at=now+lease
     WHERE id IN (...) AND status='running' AND lease_owner=:me RETURNING id, attempts

so writes of a job this worker no longer owns (lease taken over by another worker) are dropped, and the job's task
is cancelled. That UPDATE doubles as the heartbeat. Committed events are then published to the in-process hub
(``jobs.hub.EventHub``) so SSE streams of the same worker see them without polling. New rows (a persona, its job
and first event) take the other path, ``jobs.inserter.RowInserter``'s group commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, update

from medipersona.db import utcnow
from medipersona.jobs.inserter import insert_events_returning_ids
from medipersona.jobs.models import Job
from medipersona.jobs.registry import ApplyFn, JobContext, LeaseLost
from medipersona.jobs.write_ops import (
    PendingCompletion,
    PendingEvent,
    PendingOp,
    PendingPatch,
    PendingRow,
    WriteTx,
    fail_op,
    finish_op,
)

if TYPE_CHECKING:  # pragma: no cover
    from medipersona.jobs.runner import JobRuntime

log = logging.getLogger("medipersona.jobs")

FLUSH_INTERVAL = 0.15  # seconds between batched writes of streamed text
URGENT_DELAY = 0.005  # gathering window for completion writes


class WriteBatcher:
    def __init__(self, runtime: JobRuntime, interval: float = FLUSH_INTERVAL) -> None:
        self.runtime = runtime
        self.interval = interval
        self._events: list[PendingEvent] = []
        self._ops: list[PendingOp] = []
        self._patches: dict[tuple[str, str], PendingPatch] = {}
        self._rows: list[PendingRow] = []
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

    def emit_delta(self, ctx: JobContext, key: str, text: str, extra: dict[str, Any],
                   event_type: str = "delta") -> None:
        if not text:
            return
        job_key = (ctx.job_id, ctx.attempt)
        offset_key = (ctx.job_id, ctx.attempt, key)
        offset = self._offsets.get(offset_key, 0)
        self._offsets[offset_key] = offset + len(text)
        last = self._last_delta.get(job_key)
        if last is not None and last[0] == key and last[1].type == event_type:
            data = last[1].data
            data["text"] += text
            data.update(extra)
            return
        event = PendingEvent(ctx.job_id, ctx.attempt, ctx.persona_id, event_type,
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

    def add_row(self, ctx: JobContext, key: Any, build: Callable[[str], Any], values: dict[str, Any]) -> None:
        """Insert one row with the next batch (``JobContext.add_row``)."""
        self._rows.append(PendingRow(ctx.job_id, ctx.attempt, key, build, values))
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

    async def finish(self, ctx: JobContext, apply: ApplyFn | None, data: dict[str, Any],
                     result: dict[str, Any] | None) -> None:
        """``JobContext.finish``: the job row, the ``done`` event, ``apply(tx)`` and pending patches of the job in
        one fenced transaction (without ``apply``, the cheaper ``complete`` path)."""
        if apply is None:
            now = utcnow()
            await self.complete(
                ctx, {"status": "done", "finished_at": now, "updated_at": now, "lease_owner": None,
                      "lease_expires_at": None, "result": result, "error": None}, "done", data)
        else:
            await self.submit(ctx, finish_op(ctx, apply, data, result), urgent=True)

    async def fail(self, ctx: JobContext, error: dict[str, str], apply: ApplyFn | None) -> None:
        """``JobContext.fail``: the job row, the ``error`` event, the handler's ``on_failure`` and ``apply``."""
        await self.submit(ctx, fail_op(ctx, error, apply), urgent=True)

    def request_heartbeat(self) -> None:
        self._heartbeat_due = True
        self._kick.set()
        self._urgent.set()

    def forget(self, job_id: str, attempt: int, keys: tuple[str, ...] | None = None) -> None:
        """Drop the delta offsets of a job attempt (only those of ``keys`` when given: a text that restarts
        while another part of the job streams on)."""
        self._last_delta.pop((job_id, attempt), None)
        for key in [k for k in self._offsets if k[0] == job_id and k[1] == attempt and (keys is None or k[2] in keys)]:
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
        if self._events or self._ops or self._patches or self._rows:
            await self.flush_now()

    async def _loop(self) -> None:
        while True:
            if not (self._events or self._ops or self._patches or self._rows or self._heartbeat_due):
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
        rows, self._rows = self._rows, []
        completions, self._completions = self._completions, []
        self._last_delta.clear()
        heartbeat = self._heartbeat_due
        self._heartbeat_due = False
        self._last_flush = time.monotonic()
        job_ids = ({e.job_id for e in events} | {o.job_id for o in ops} | {p.job_id for p in patches}
                   | {r.job_id for r in rows})
        if heartbeat:
            job_ids |= set(self.runtime.running)
        if not job_ids:
            for op in ops:
                if not op.future.done():
                    op.future.set_result(None)
            return
        t0 = time.perf_counter()
        try:
            owned, publish, results = await self._apply(job_ids, events, ops, patches, rows)
        except Exception as exc:
            failure: Exception | None = exc
            if ops:
                log.warning("job write batch failed (%s); retrying its writes one by one", exc)
                try:
                    owned, publish, results = await self._apply_separately(job_ids, events, ops, patches, rows)
                except Exception as again:  # noqa: BLE001 - handed to the waiting jobs
                    for op in ops:  # a waiting job sees the error (and fails or retries)
                        if not op.future.done():
                            op.future.set_exception(again)
                    ops = []
                    failure = again
                else:
                    failure = None
            if failure is not None:
                # Keep the other writes for the next batch (the database may be briefly unavailable).
                self._events[:0] = events
                self._rows[:0] = rows
                for p in patches:
                    self._patches.setdefault((p.table.name, p.key), p)
                self._completions[:0] = completions
                self._kick.set()
                log.warning("job write batch failed, will retry: %s", failure)
                raise failure  # noqa: B904 - the batch's own error, or the retry's, raised again
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
        params = [
            {"job_id": e.job_id, "persona_id": e.persona_id, "type": e.type, "data": e.data,
             "created_at": e.created_at}
            for e in events
        ]
        ids = await insert_events_returning_ids(session, params)
        for event, event_id in zip(events, ids, strict=True):
            publish.append((event.job_id, {"id": event_id, "type": event.type, "data": event.data}))
        self.events_written += len(events)

    async def _insert_rows(self, session, rows: list[PendingRow]) -> None:
        groups: dict[Any, list[PendingRow]] = defaultdict(list)
        for row in rows:
            groups[row.key].append(row)
        for items in groups.values():
            await session.execute(items[0].build(session.dialect.name), [r.values for r in items])

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

    async def _apply(self, job_ids, events, ops, patches=(), rows=()):
        publish: list[tuple[str, dict[str, Any]]] = []
        results: list[Any] = []
        t0 = time.perf_counter()
        async with self.runtime.write_connection() as session:
            t1 = time.perf_counter()
            self.lock_wait_seconds += t1 - t0
            owned = await self._fence(session, job_ids)
            await self._insert_rows(session, [r for r in rows if owned.get(r.job_id) == r.attempt])
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

    async def _apply_separately(self, job_ids, events, ops, patches=(), rows=()):
        owned, publish, _ = await self._apply(job_ids, events, [], patches, rows)
        results: list[Any] = []
        for op in ops:
            try:
                _, more, res = await self._apply({op.job_id}, [], [op])
                publish.extend(more)
                results.append(res[0])
            except Exception as exc:  # noqa: BLE001 - handed to the waiting job
                results.append(exc)
        return owned, publish, results
