"""Fairness across users (issue 17, "fairness"): queued jobs are claimed in turns across users, and a user's
running jobs are capped, so one user's burst does not delay another user's job."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_queued_jobs_are_claimed_in_turns_and_capped_per_user(db):
    from sqlalchemy import select

    from medipersona.db import utcnow
    from medipersona.jobs.models import Job
    from medipersona.jobs.runner import fair_queue_ids

    start = utcnow() - timedelta(minutes=5)

    def job(owner: int, n: int, status: str = "queued") -> Job:
        at = start + timedelta(seconds=n)
        return Job(kind="noop", owner_id=owner, status=status, payload={}, attempts=0, max_attempts=1,
                   created_at=at, updated_at=at)

    async with db.sessionmaker() as session:
        # User 1 queued 40 jobs first; user 2 queued one after them; user 3 already runs 8.
        session.add_all([job(1, n) for n in range(40)] + [job(2, 100)]
                        + [job(3, n, "running") for n in range(8)] + [job(3, 200)])
        await session.commit()
        order = {j.id: j.owner_id for j in (await session.scalars(select(Job))).all()}
        picked = [order[i] for i in (await session.scalars(fair_queue_ids(3, per_user_cap=8))).all()]
        # FIFO would give [1, 1, 1]: user 2's job waits behind all 40.
        assert sorted(picked) == [1, 1, 2], picked
        picked = [order[i] for i in (await session.scalars(fair_queue_ids(50, per_user_cap=8))).all()]
        assert picked.count(1) == 8  # the cap: at most 8 of one user's jobs at once
        assert picked.count(2) == 1
        assert picked.count(3) == 0  # user 3 already runs 8
