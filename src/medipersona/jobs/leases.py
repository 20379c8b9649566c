"""The SQL of job leases, apart from the runner that uses it: which queued jobs a worker claims next (in turns
across users), taking over jobs whose lease expired, giving leases back at shutdown, and pruning old events.

Claims are one atomic statement per dialect: PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` inside one UPDATE;
SQLite ``UPDATE … WHERE id IN (SELECT … LIMIT n) AND status='queued' RETURNING …`` (writes are serialised).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Delete, Update, bindparam, delete, func, or_, select, update

from medipersona.db import table_of, utcnow
from medipersona.jobs.models import Job, JobEvent


def fair_queue_ids(limit: int, per_user_cap: int):
    """The ids of the next ``limit`` queued jobs, in turns across users: each job's slot is its rank among its
    owner's queued jobs (oldest first) plus the owner's running jobs; jobs are taken by slot, then age, and none
    whose slot passes ``per_user_cap`` (0: no cap). Jobs without an owner are never capped."""
    running = (select(Job.owner_id.label("owner"), func.count().label("n"))
               .where(Job.status == "running", Job.owner_id.is_not(None)).group_by(Job.owner_id).subquery())
    slot = (func.row_number().over(partition_by=Job.owner_id, order_by=Job.created_at)
            + func.coalesce(running.c.n, 0))
    ranked = (select(Job.id.label("id"), Job.owner_id.label("owner"), Job.created_at.label("created_at"),
                     slot.label("slot"))
              .select_from(Job).outerjoin(running, running.c.owner == Job.owner_id)
              .where(Job.status == "queued").subquery())
    pick = select(ranked.c.id)
    if per_user_cap:
        pick = pick.where(or_(ranked.c.owner.is_(None), ranked.c.slot <= per_user_cap))
    pick = pick.order_by(ranked.c.slot, ranked.c.created_at).limit(limit)
    # The lock (PostgreSQL: FOR UPDATE SKIP LOCKED) goes on a plain select of these ids: not allowed with a
    # window function in the same query.
    return select(Job.id).where(Job.id.in_(pick.scalar_subquery()), Job.status == "queued")


def _anything_to_claim():
    queued = select(Job.id).where(Job.status == "queued").limit(1)
    expired = (select(Job.id)
               .where(Job.status == "running", Job.lease_expires_at < bindparam("now"))
               .limit(1))
    return select(or_(queued.exists(), expired.exists()))


# A read before the claim's writes on the idle poll (parameter ``now``): is a job queued, or one running past its
# lease? Two index lookups, built once; the claim is two UPDATE statements in write transactions, for nothing on
# an idle worker most of the time. A job committed just after it is claimed at the next poll, or at once by the
# wake-up its enqueuer sends.
ANYTHING_TO_CLAIM = _anything_to_claim()


def claim_statement(worker_id: str, limit: int, *, expired: bool, lease_seconds: float, per_user_cap: int,
                    skip_locked: bool) -> Update:
    """Lease up to ``limit`` jobs to ``worker_id``: queued ones in their fair turn, or (``expired``) running ones
    whose lease ran out. Returns the claimed rows' id, kind, persona, owner, payload and attempts."""
    now = utcnow()
    cond: tuple[ColumnElement[bool], ...]
    if expired:
        cond = (Job.status == "running", Job.lease_expires_at < now)
        sub = select(Job.id).where(*cond).order_by(Job.created_at).limit(limit)
    else:
        cond = (Job.status == "queued",)
        sub = fair_queue_ids(limit, per_user_cap)
    if skip_locked:
        sub = sub.with_for_update(skip_locked=True)
    return (
        update(Job)
        .where(Job.id.in_(sub.scalar_subquery()), *cond)
        .values(status="running", lease_owner=worker_id, lease_expires_at=now + timedelta(seconds=lease_seconds),
                heartbeat_at=now, attempts=Job.attempts + 1, started_at=func.coalesce(Job.started_at, now),
                updated_at=now)
        .returning(Job.id, Job.kind, Job.persona_id, Job.owner_id, Job.payload, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    )


async def release_leases(session: Any, worker_id: str, jobs: dict[str, int]) -> list[Any]:
    """Put ``worker_id``'s running ``jobs`` back in the queue, each with a status event saying why (another
    worker resumes them without waiting for the lease to expire). The caller commits. Returns the released rows."""
    now = utcnow()
    released = (
        await session.execute(
            update(Job)
            .where(Job.id.in_(sorted(jobs)), Job.lease_owner == worker_id, Job.status == "running")
            .values(status="queued", lease_owner=None, lease_expires_at=None, updated_at=now)
            .returning(Job.id, Job.persona_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for row in released:
        await session.execute(
            table_of(JobEvent).insert(),
            {"job_id": row.id, "persona_id": row.persona_id, "type": "status",
             "data": {"status": "queued", "reason": "worker_stopping"}, "created_at": now},
        )
    return list(released)


def prune_statement(finished_before: datetime) -> Delete:
    """Delete the events of jobs that finished before ``finished_before``."""
    finished = select(Job.id).where(Job.status.in_(("done", "failed")), Job.finished_at < finished_before)
    return delete(JobEvent).where(JobEvent.job_id.in_(finished.scalar_subquery()))
