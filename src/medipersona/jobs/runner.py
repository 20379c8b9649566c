"""The job runner living in each web worker's event loop.

- Claims queued jobs in turns across users (the statements: ``jobs/leases.py``), at most
  ``settings.job_max_concurrency`` at once.
- Woken in-process when a job is enqueued by this worker (``wake_runner(app)``), otherwise polls every
  ``settings.job_poll_seconds``.
- Keeps leases alive with batched heartbeats (``jobs/writer.py``) every ``job_lease_seconds / 3``; takes over
  running jobs whose lease expired (worker SIGKILLed / OOM-killed / recycled). A worker that cannot renew its
  leases in time cancels its own jobs, and every write is fenced, so a job never runs twice at once.
- Graceful stop: stops claiming, lets running jobs finish for ``SHUTDOWN_GRACE_SECONDS``, then cancels the
  rest and releases their leases (back to ``queued``) so another worker resumes them at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select

from medipersona.db import Database, utcnow
from medipersona.jobs.dblock import write_lock
from medipersona.jobs.hub import EventHub
from medipersona.jobs.inserter import RowInserter
from medipersona.jobs.leases import ANYTHING_TO_CLAIM, claim_statement, prune_statement, release_leases
from medipersona.jobs.models import Job, JobEvent
from medipersona.jobs.pacing import LoopTurns
from medipersona.jobs.registry import (
    GAVE_UP_FAILURE,
    GENERIC_FAILURE,
    JobContext,
    JobFailed,
    LeaseLost,
    get_handler,
)
from medipersona.jobs.write_connection import WriteConnection
from medipersona.jobs.writer import WriteBatcher
from medipersona.ops import metrics, process
from medipersona.settings import Settings

log = logging.getLogger("medipersona.jobs")

CLAIM_BATCH = 200
JOB_READ_SLOTS = 4  # pooled connections the jobs of one worker read with at once
TRIM_AFTER_JOBS = 20  # jobs since the last trim that make an idle worker give its free heap back
TRIM_IDLE_SECONDS = 1.0  # idle this long first (the burst's streams and connections close meanwhile)
QUEUE_DEPTH_EVERY = 10.0  # seconds between queue-depth counts
EVENT_RETENTION_DAYS = 7  # events of jobs finished longer ago are deleted (streams then send a snapshot)
PRUNE_EVERY = 3600.0  # seconds
SHUTDOWN_GRACE_SECONDS = 5.0  # at worker stop, running jobs may finish this long before their leases are released


@dataclass
class RunningJob:
    ctx: JobContext
    task: asyncio.Task
    attempt: int
    lost: bool = False


class JobRuntime:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # The worker's own connection for its batched writes: ``async with runtime.write_connection(): ...``
        self._write_conn = WriteConnection(db)
        self.write_connection = self._write_conn.use
        self.writer = WriteBatcher(self)
        self.inserter = RowInserter(db, self.write_connection)
        self.read_slots = asyncio.Semaphore(JOB_READ_SLOTS)
        self.turns = LoopTurns()  # pacing of the jobs' bigger synchronous chunks (jobs/pacing.py)
        self.hub = EventHub()
        self.running: dict[str, RunningJob] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task] = []
        self._last_depth = 0.0
        self._full = False
        self._reserved = 0  # slots promised to jobs being inserted by insert_and_run
        self._logged_by_persona: dict[str, str] = {}  # persona id -> its job whose events the hub keeps
        self._jobs_since_trim = 0
        self._trim_task: asyncio.Task | None = None
        self.claimed_total = 0
        self.recovered_total = 0

    # ------------------------------------------------------------------------------------------ public
    def wake(self) -> None:
        self._wake.set()

    def is_local(self, job_id: str) -> bool:
        running = self.running.get(job_id)
        return running is not None and not running.lost

    def local_job_of(self, persona_id: str) -> RunningJob | None:
        """The job this worker created and runs for ``persona_id`` with its events kept in memory, if any
        (SSE streams of such a job need no database read to start)."""
        job_id = self._logged_by_persona.get(persona_id)
        running = self.running.get(job_id) if job_id else None
        if running is None or running.lost or not self.hub.has_log(running.ctx.job_id):
            return None
        return running

    def is_lost(self, job_id: str, attempt: int) -> bool:
        running = self.running.get(job_id)
        return running is None or running.attempt != attempt or running.lost

    def on_lease_lost(self, job_id: str, attempt: int) -> None:
        running = self.running.get(job_id)
        if running is None or running.attempt != attempt or running.lost:
            return
        log.warning("job %s: lease lost (taken over or removed); stopping it here", job_id)
        running.lost = True
        running.task.cancel()

    async def start(self) -> None:
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="job-claim"),
            asyncio.create_task(self._heartbeat_loop(), name="job-heartbeat"),
            asyncio.create_task(self._prune_loop(), name="job-event-prune"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        grace = SHUTDOWN_GRACE_SECONDS
        pending = [r.task for r in self.running.values()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=grace)
            left = {job_id: r.attempt for job_id, r in self.running.items()}
            for task in still:
                task.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
            if left:
                await self._release(left)
        await self.writer.stop()
        await self._write_conn.close()
        w = self.writer
        log.info("job writer: %d flushes, %d events, %d writes, %.2fs in batches (max %.3fs), %.2fs waiting "
                    "for the write lock; %d jobs claimed", w.flushes, w.events_written, w.ops_applied,
                    w.flush_seconds, w.max_flush_seconds, w.lock_wait_seconds, self.claimed_total)
        log.info("job writer, slowest phases (s): %s", {k: round(v, 3) for k, v in w.phase_max.items()})

    # ------------------------------------------------------------------------------------------ loops
    async def _claim_loop(self) -> None:
        poll = self.settings.job_poll_seconds
        timed_out = True
        while not self._stopping:
            self._wake.clear()
            try:
                # Expired leases are looked for on the poll timer; a wake-up (a job enqueued here) only needs
                # the queued ones.
                claimed = await self._claim_once(expired=timed_out)
            except Exception:
                log.exception("claiming jobs failed")
                claimed = 0
            if claimed >= CLAIM_BATCH:
                timed_out = False
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=poll)
                timed_out = False
            except TimeoutError:
                timed_out = True

    async def _heartbeat_loop(self) -> None:
        lease = self.settings.job_lease_seconds
        interval = max(0.2, lease / 3)
        while not self._stopping:
            await asyncio.sleep(interval)
            if not self.running:
                self.writer.last_heartbeat_ok = time.monotonic()
                continue
            self.writer.request_heartbeat()
            # If leases could not be renewed for most of the lease, stop our jobs: another worker may take
            # them over soon, and a job must never run twice at once.
            if time.monotonic() - self.writer.last_heartbeat_ok > lease * 0.8:
                log.error("job leases not renewed for %.1fs: stopping %d jobs", lease * 0.8, len(self.running))
                for job_id, running in list(self.running.items()):
                    self.on_lease_lost(job_id, running.attempt)

    async def _prune_loop(self) -> None:
        await asyncio.sleep(60 + random.random() * 60)  # not at start-up, not all workers at once
        while not self._stopping:
            try:
                await self.prune_events()
            except Exception:
                log.exception("pruning job events failed")
            await asyncio.sleep(PRUNE_EVERY)

    async def prune_events(self, older_than_days: float = EVENT_RETENTION_DAYS) -> int:
        """Delete the events of jobs that finished more than ``older_than_days`` ago."""
        async with self.write_connection() as conn:
            result = await conn.execute(prune_statement(utcnow() - timedelta(days=older_than_days)))
        if result.rowcount:
            log.info("pruned %d job events older than %s days", result.rowcount, older_than_days)
        return int(result.rowcount or 0)

    # ------------------------------------------------------------------------------------------ claiming
    async def _claim_once(self, expired: bool = True) -> int:
        free = self.settings.job_max_concurrency - len(self.running) - self._reserved
        now_mono = time.monotonic()
        if now_mono - self._last_depth > QUEUE_DEPTH_EVERY:
            self._last_depth = now_mono
            async with self.db.engine.connect() as conn:
                depth = await conn.scalar(select(func.count()).select_from(Job).where(Job.status == "queued"))
            metrics.set_queue_depth(int(depth or 0))
        if free <= 0:
            self._full = True
            return 0
        if expired:  # the poll timer, not a wake-up from an enqueue: most often there is nothing to take
            async with self.db.engine.connect() as conn:
                if not await conn.scalar(ANYTHING_TO_CLAIM, {"now": utcnow()}):
                    self._full = False
                    return 0
        limit = min(free, CLAIM_BATCH)
        rows = await self._claim(limit, expired=False)
        if len(rows) < limit and expired:
            rows += await self._claim(limit - len(rows), expired=True)
        # Only when we were at capacity may queued jobs be waiting for a finishing one.
        self._full = len(rows) >= limit
        for row, recovered in rows:
            self._start_job(row, recovered)
        return len(rows)

    async def _claim(self, limit: int, *, expired: bool) -> list[tuple[Any, bool]]:
        stmt = claim_statement(self.worker_id, limit, expired=expired,
                               lease_seconds=self.settings.job_lease_seconds,
                               per_user_cap=self.settings.job_max_running_per_user,
                               skip_locked=not self.settings.is_sqlite)
        async with self.write_connection() as conn:
            rows = (await conn.execute(stmt)).all()
        if rows:
            self.claimed_total += len(rows)
            if expired:
                self.recovered_total += len(rows)
                for row in rows:
                    log.warning("job %s (%s): lease expired, taken over (attempt %d)", row.id, row.kind,
                                row.attempts)
                    metrics.job_recovered(row.kind)
        return [(row, expired) for row in rows]

    def _owner_at_cap(self, owner_id: int | None) -> bool:
        """This worker already runs the per-user cap of ``owner_id``'s jobs (the job is then queued and claimed
        in its turn: ``fair_queue_ids``)."""
        cap = self.settings.job_max_running_per_user
        if not cap or owner_id is None:
            return False
        return sum(1 for r in self.running.values() if r.ctx.owner_id == owner_id) >= cap

    async def insert_and_run(self, job: Job, objects: list[Any], *, preloaded: dict[str, Any] | None = None,
                             auth_session_id: int | None = None) -> bool:
        """Insert ``objects`` (rows for the job, the job itself among them) and, when this worker has a free
        slot, run the job here at once: it is inserted already claimed (running, leased to this worker), so
        no claim round trip is needed and no other worker can take it while the lease lives. Without a free
        slot the job is inserted queued for whichever worker frees one first. Returns True if it runs here.

        ``preloaded``: objects the creator has in memory (e.g. the persona just built), handed to the job's
        first attempt so that it need not read them back. ``auth_session_id``: insert only if that login
        session is still valid at commit (see ``RowInserter``)."""
        here = (not self._stopping and len(self.running) + self._reserved < self.settings.job_max_concurrency
                and not self._owner_at_cap(job.owner_id))
        if here:
            now = utcnow()
            job.status = "running"
            job.lease_owner = self.worker_id
            job.lease_expires_at = now + timedelta(seconds=self.settings.job_lease_seconds)
            job.heartbeat_at = now
            job.started_at = now
            job.attempts = 1
            self._reserved += 1
        try:
            await self.inserter.insert(objects, auth_session_id=auth_session_id)
        finally:
            if here:
                self._reserved -= 1
        if here:
            self.claimed_total += 1
            # The events inserted with the job (its "queued" status) start the hub's log for late streams;
            # without their ids (not numbered) the job's streams read the table instead.
            first = [{"id": obj.id, "type": obj.type, "data": obj.data} for obj in objects
                     if isinstance(obj, JobEvent) and obj.job_id == job.id]
            complete = bool(first) and all(event["id"] is not None for event in first)
            self._start_job(job, recovered=False, preloaded=preloaded, log_events=first if complete else None)
        else:
            self.wake()
        return here

    def _start_job(self, row: Any, recovered: bool, *, preloaded: dict[str, Any] | None = None,
                   log_events: list[dict[str, Any]] | None = None) -> None:
        """``log_events``: the job is new and runs here from its start, and these are all its events so far
        (as inserted with it): the hub keeps them and every later one for streams that connect late."""
        spec = get_handler(row.kind)
        ctx = JobContext(
            job_id=row.id, kind=row.kind, persona_id=row.persona_id, owner_id=row.owner_id,
            payload=dict(row.payload or {}), attempt=row.attempts, settings=self.settings, db=self.db,
            runtime=self, spec=spec,  # type: ignore[arg-type]
            preloaded=dict(preloaded or {}),
        )
        if log_events is not None:
            self.hub.open_log(row.id, log_events)
            if row.persona_id:
                self._logged_by_persona[row.persona_id] = row.id
        task = asyncio.create_task(self._run_job(ctx, row.max_attempts), name=f"job-{row.kind}-{row.id}")
        self.running[row.id] = RunningJob(ctx, task, row.attempts)

    async def _run_job(self, ctx: JobContext, max_attempts: int) -> None:
        try:
            if ctx.spec is None:
                log.error("job %s: no handler for kind %r", ctx.job_id, ctx.kind)
                await self._safe_fail(ctx, {"code": "unknown_job", "message": "不明な処理が指定されました。"})
                return
            if ctx.attempt > max_attempts:
                await self._safe_fail(ctx, GAVE_UP_FAILURE)
                return
            ctx.emit("status", {"status": "running", "attempt": ctx.attempt})
            await ctx.spec.run(ctx)
            if not ctx.finished:
                await ctx.finish()
        except LeaseLost:
            log.warning("job %s: lease lost, result dropped", ctx.job_id)
        except asyncio.CancelledError:
            # Lease lost (another worker owns it now) or worker stopping (stop() releases the lease).
            pass
        except JobFailed as exc:
            await self._safe_fail(ctx, exc.as_error())
        except Exception:
            log.exception("job %s (%s) failed", ctx.job_id, ctx.kind)
            await self._safe_fail(ctx, GENERIC_FAILURE)
        finally:
            current = self.running.get(ctx.job_id)
            if current is not None and current.attempt == ctx.attempt:
                del self.running[ctx.job_id]
                self.hub.close_log(ctx.job_id)
                if ctx.persona_id and self._logged_by_persona.get(ctx.persona_id) == ctx.job_id:
                    del self._logged_by_persona[ctx.persona_id]
            self.writer.forget(ctx.job_id, ctx.attempt)
            if self._full:
                self._wake.set()
            self._jobs_since_trim += 1
            if not self.running and self._jobs_since_trim >= TRIM_AFTER_JOBS and not self._stopping and (
                    self._trim_task is None or self._trim_task.done()):
                self._trim_task = asyncio.create_task(self._trim_when_idle(), name="job-memory-trim")

    async def _trim_when_idle(self) -> None:
        """After a burst of jobs, once the worker has stayed idle for a moment (its streams closed), return
        the freed heap to the OS: the worker's RSS goes back near its level before the burst instead of
        staying at the peak until it is recycled."""
        await asyncio.sleep(TRIM_IDLE_SECONDS)
        if self.running or self._stopping:
            return
        self._jobs_since_trim = 0
        await anyio.to_thread.run_sync(process.release_free_memory)

    async def _safe_fail(self, ctx: JobContext, error: dict[str, str]) -> None:
        if ctx.finished:
            return
        try:
            await ctx.fail(error)
        except LeaseLost:
            log.warning("job %s: lease lost before failure was recorded", ctx.job_id)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("job %s: could not record failure", ctx.job_id)

    async def _release(self, jobs: dict[str, int]) -> None:
        """Give leases of jobs we stopped back, so another worker resumes them without waiting."""
        try:
            await self.writer.flush_now()
        except Exception:
            log.exception("flushing before release failed")
        try:
            async with write_lock(self.db.engine), self.db.sessionmaker() as session:
                released = await release_leases(session, self.worker_id, jobs)
                await session.commit()
            log.info("released %d jobs at shutdown", len(released))
        except Exception:
            log.exception("releasing jobs at shutdown failed (their leases will expire)")
