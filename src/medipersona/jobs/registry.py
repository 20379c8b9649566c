"""Job kinds and the context a handler runs with.

Register a handler::

    from medipersona.jobs.registry import JobContext, JobFailed, job_handler

    @job_handler("timeline_analysis", on_failure=mark_timeline_failed)
    async def run_timeline(ctx: JobContext) -> None:
        ctx.emit("status", {"status": "running"})
        async for chunk in ...:
            ctx.emit_delta("analysis", chunk)          # coalesced, ~150 ms per write batch
        await ctx.finish(apply=store_result, data={"ok": True})   # one fenced transaction + `done` event

jobs knows no domain: a domain registers its handlers when its module is imported, and the app imports every
domain's handler modules at start (``medipersona.domains.register_domains``, called by ``create_app``).

A handler that returns without calling ``finish``/``fail`` is finished with no extra writes. Raising
``JobFailed(code, message)`` fails the job with that (Japanese) message; any other exception fails it with a
generic message. ``on_failure(tx, ctx, error)`` runs in the same transaction as the failure (e.g. to mark the
persona failed).

All writes of a job go through the worker's write batcher (``jobs/writer.py``): events, ``ctx.write(fn)``,
``finish`` and ``fail`` are applied in batched transactions that are fenced by the job's lease, so a worker that
lost its lease (the job was taken over) can never write for it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.jobs.lazy_session import LazySession

if TYPE_CHECKING:  # pragma: no cover
    from medipersona.db import Database
    from medipersona.jobs.runner import JobRuntime
    from medipersona.jobs.write_ops import WriteTx
    from medipersona.settings import Settings

log = logging.getLogger("medipersona.jobs")

ApplyFn = Callable[["WriteTx"], Awaitable[Any]]
FailureFn = Callable[["WriteTx", "JobContext", dict[str, str]], Awaitable[None]]
HandlerFn = Callable[["JobContext"], Awaitable[None]]


class JobFailed(Exception):
    """Raised by a handler to fail its job with a clear Japanese message."""

    def __init__(self, message: str, *, code: str = "job_failed") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def as_error(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class LeaseLost(Exception):
    """This worker no longer owns the job (taken over after lease expiry, deleted, or released)."""


GENERIC_FAILURE = {"code": "internal_error", "message": "処理中に予期しないエラーが発生しました。もう一度お試しください。"}
GAVE_UP_FAILURE = {
    "code": "interrupted",
    "message": "処理が繰り返し中断されたため完了できませんでした。もう一度お試しください。",
}


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    run: HandlerFn
    on_failure: FailureFn | None = None
    max_attempts: int = 3


_HANDLERS: dict[str, HandlerSpec] = {}


def job_handler(kind: str, *, on_failure: FailureFn | None = None, max_attempts: int = 3):
    """Register ``fn(ctx)`` as the handler of ``kind`` (module import time; re-registering replaces)."""

    def register(fn: HandlerFn) -> HandlerFn:
        _HANDLERS[kind] = HandlerSpec(kind, fn, on_failure, max_attempts)
        return fn

    return register


def get_handler(kind: str) -> HandlerSpec | None:
    return _HANDLERS.get(kind)


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)


@dataclass
class JobContext:
    """What a handler gets: the job snapshot, settings, the database, and buffered, fenced writes."""

    job_id: str
    kind: str
    persona_id: str | None
    owner_id: int | None
    payload: dict[str, Any]
    attempt: int
    settings: Settings
    db: Database
    runtime: JobRuntime
    spec: HandlerSpec
    finished: bool = field(default=False)
    # Objects the job's creator had in memory (e.g. the persona it just inserted); first attempt only.
    preloaded: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)  # this attempt's start (time.monotonic())

    @property
    def subject_id(self) -> str:
        """The id of the row this job works on (its persona). Handlers of subject-less jobs never ask."""
        if self.persona_id is None:
            raise RuntimeError(f"job {self.job_id} ({self.kind}) has no subject")
        return self.persona_id

    @property
    def deadline(self) -> float:
        """Until when (``time.monotonic()``) a failed step may be tried again: ``generation_deadline_seconds``
        after this attempt started."""
        return self.started + self.settings.generation_deadline_seconds

    # ------------------------------------------------------------------------------------------ reads
    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A short-lived session for reads: ``async with ctx.session() as s: ...`` (keep it short).

        Jobs of one worker share a few read slots (``JobRuntime.read_slots``): a burst of 200 starting jobs
        must not take every pooled connection from the requests (logins) served meanwhile. The session opens,
        and takes its slot, at its first query (``LazySession``): reads answered from caches cost neither."""
        async with self.lazy_session(self.runtime.read_slots) as session:
            yield session  # type: ignore[misc]  # an AsyncSession to its users (LazySession)

    def lazy_session(self, slots: asyncio.Semaphore | None) -> LazySession:
        """A session opened at its first query, after taking one of ``slots`` (None: no slot)."""
        return LazySession(self.db.sessionmaker, slots)

    async def turn(self, first: bool = False) -> None:
        """Wait for a turn of the event loop before a bigger chunk of synchronous work (building a prompt and
        starting its provider call): a burst's jobs then take turns instead of holding the loop together
        (``jobs.pacing``). ``first``: ahead of the other waiters (a job's start)."""
        await self.runtime.turns.take(first)

    # ----------------------------------------------------------------------------------------- events
    def emit(self, type: str, data: dict[str, Any] | None = None) -> None:
        """Append an event (written with the next batch, in order, ~150 ms at most)."""
        self.runtime.writer.emit(self, type, data or {})

    def emit_delta(self, key: str, text: str, *, event_type: str = "delta", **extra: Any) -> None:
        """Streamed text for ``key`` (a section). Consecutive deltas of one key are merged into one event
        ``delta`` {"section": key, "text": <appended text>, "offset": <chars before it>, **extra}
        (``event_type``: another type for a second text streamed by the same job)."""
        self.runtime.writer.emit_delta(self, key, text, extra, event_type)

    async def flush(self) -> None:
        """Wait until everything emitted so far is committed."""
        await self.runtime.writer.submit(self, None, urgent=True)

    def patch(self, model: Any, key: str, **values: Any) -> None:
        """Set columns of one row (primary key ``id``) with the next batch, e.g.
        ``ctx.patch(Persona, persona_id, status="running")``. Cheap: patches merge per row and a batch writes
        all rows with the same columns in one executemany UPDATE."""
        self.runtime.writer.patch(self, model, key, values)

    def add_row(self, key: Any, build: Callable[[str], Any], values: dict[str, Any]) -> None:
        """Insert one row with the next batch, fenced like the rest (dropped if the lease is lost). Rows of one
        ``key`` in a batch are written by one executemany of ``build(dialect name)`` (an INSERT, maybe with ON
        CONFLICT); events emitted after this are published only once the row is committed."""
        self.runtime.writer.add_row(self, key, build, values)

    async def write(self, apply: ApplyFn, *, urgent: bool = False) -> Any:
        """Run ``apply(tx)`` inside the next fenced write batch; returns its result. Raises LeaseLost."""
        return await self.runtime.writer.submit(self, apply, urgent=urgent)

    # ------------------------------------------------------------------------------------- completion
    async def finish(self, *, apply: ApplyFn | None = None, data: dict[str, Any] | None = None,
                     result: dict[str, Any] | None = None) -> None:
        """Mark the job done: the job row, the ``done`` event, ``apply(tx)`` and any pending ``patch`` of this job
        in one fenced transaction."""
        await self.runtime.writer.finish(self, apply, data or {}, result)
        self.finished = True

    async def fail(self, error: dict[str, str], *, apply: ApplyFn | None = None) -> None:
        """Mark the job failed with ``error`` {"code","message"}; runs the handler's on_failure too."""
        await self.runtime.writer.fail(self, error, apply)
        self.finished = True

    @property
    def lease_lost(self) -> bool:
        return self.runtime.is_lost(self.job_id, self.attempt)
