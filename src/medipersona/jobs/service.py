"""Enqueueing and reading jobs (used by routers and other domains).

    job = await enqueue(session, "persona_generate", persona_id, {"...": ...}, owner_id=user.id)
    await session.commit()
    wake_runner(request.app)        # this worker claims it at once; other workers poll
    # or, without the app at hand: wake_local_runners(settings)

Events for SSE: ``medipersona.jobs.sse.job_event_stream(app, job_id, after_id=...)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.db import utcnow
from medipersona.jobs.lifecycle import wake_local_runners, wake_runner  # noqa: F401  (re-exported for callers)
from medipersona.jobs.models import Job, JobEvent, new_job_id


def new_job(kind: str, persona_id: str | None = None, payload: dict[str, Any] | None = None, *,
            owner_id: int | None = None, max_attempts: int = 3) -> Job:
    """A queued Job object with its id set (add it, and ``first_event(job)``, to a session yourself)."""
    now = utcnow()
    return Job(id=new_job_id(), kind=kind, persona_id=persona_id, owner_id=owner_id, status="queued",
               payload=payload or {}, attempts=0, max_attempts=max_attempts, created_at=now, updated_at=now)


def first_event(job: Job) -> JobEvent:
    return JobEvent(job_id=job.id, persona_id=job.persona_id, type="status", data={"status": "queued"},
                    created_at=job.created_at)


async def commit_with_job(session: AsyncSession, subject: Any, job: Job) -> None:
    """Insert ``subject`` (the row the job works on: a persona, an analysis), ``job`` and its first event, in
    foreign-key order, and commit: one transaction. Hold the database's write lock around it
    (``jobs.dblock.write_lock``)."""
    session.add(subject)
    await session.flush()
    session.add(job)
    await session.flush()
    session.add(first_event(job))
    await session.commit()


async def enqueue(
    session: AsyncSession,
    kind: str,
    persona_id: str | None = None,
    payload: dict[str, Any] | None = None,
    *,
    owner_id: int | None = None,
    max_attempts: int = 3,
) -> Job:
    """Add a queued job and its first ``status`` event to the session (the caller commits)."""
    job = new_job(kind, persona_id, payload, owner_id=owner_id, max_attempts=max_attempts)
    session.add(job)
    await session.flush()  # the job row before its event (foreign key)
    session.add(first_event(job))
    return job


async def get_job(session: AsyncSession, job_id: str) -> Job | None:
    return await session.get(Job, job_id)


async def job_events(session: AsyncSession, job_id: str, after_id: int = 0, limit: int = 1000) -> list[JobEvent]:
    rows = await session.scalars(
        select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after_id).order_by(JobEvent.id).limit(limit)
    )
    return list(rows)


async def active_job_for_persona(session: AsyncSession, persona_id: str, kinds: tuple[str, ...] | None = None):
    """The newest queued/running job of a persona (optionally of some kinds), or None."""
    stmt = select(Job).where(Job.persona_id == persona_id, Job.status.in_(("queued", "running")))
    if kinds:
        stmt = stmt.where(Job.kind.in_(kinds))
    return (await session.scalars(stmt.order_by(Job.created_at.desc()).limit(1))).first()
