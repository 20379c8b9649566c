"""What the job writer (``jobs/writer.py``) queues and runs: the pending writes of running jobs, the
transaction handle given to ``apply`` functions (``WriteTx``), and the completion operations (``finish_op``,
``fail_op``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update

from medipersona.db import table_of, utcnow
from medipersona.jobs.models import Job, JobEvent
from medipersona.jobs.registry import ApplyFn, JobContext, LeaseLost


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
class PendingRow:
    job_id: str
    attempt: int
    key: Any  # rows of one key are written by one executemany of ``build(dialect name)``
    build: Callable[[str], Any]
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
        table = table_of(JobEvent)
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
    """The job's ``done``: its row (fenced by lease and attempt), the handler's ``apply``, the ``done`` event."""
    return _end_op(ctx, "done", {"result": result, "error": None}, apply, "done", data)


def fail_op(ctx: JobContext, error: dict[str, str], apply: ApplyFn | None):
    """The job's failure: its row, the spec's ``on_failure``, the handler's ``apply``, the ``error`` event."""
    return _end_op(ctx, "failed", {"error": error}, apply, "error", dict(error), failure=error)


def _end_op(ctx: JobContext, status: str, values: dict[str, Any], apply: ApplyFn | None, event_type: str,
            event_data: dict[str, Any], failure: dict[str, str] | None = None):
    async def op(tx: WriteTx) -> None:
        now = utcnow()
        res = await tx.session.execute(
            update(Job)
            .where(Job.id == ctx.job_id, Job.lease_owner == ctx.runtime.worker_id, Job.attempts == ctx.attempt,
                   Job.status == "running")
            .values(status=status, finished_at=now, updated_at=now, lease_owner=None, lease_expires_at=None,
                    **values)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            raise LeaseLost(ctx.job_id)
        if failure is not None and ctx.spec is not None and ctx.spec.on_failure is not None:
            await ctx.spec.on_failure(tx, ctx, failure)
        if apply is not None:
            await apply(tx)
        await tx.event(ctx.job_id, ctx.persona_id, event_type, event_data)

    return op
