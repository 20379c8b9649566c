"""Fairness across users (issue 17, "fairness"): queued jobs are claimed in turns across users, and a user's
running jobs are capped, so one user's burst does not delay another user's job."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_queued_jobs_are_claimed_in_turns_and_capped_per_user(settings):
    from sqlalchemy import select

    from medipersona.db import Database, utcnow
    from medipersona.jobs.leases import fair_queue_ids
    from medipersona.jobs.models import Job

    start = utcnow() - timedelta(minutes=5)

    def job(owner: int, n: int, status: str = "queued") -> Job:
        at = start + timedelta(seconds=n)
        return Job(kind="noop", owner_id=owner, status=status, payload={}, attempts=0, max_attempts=1,
                   created_at=at, updated_at=at)

    # No app, so no job runner that would claim these jobs meanwhile.
    db = Database(settings)
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
    await db.dispose()


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"MEDIPERSONA_SSE_MAX_STREAMS_PER_USER": "2", "MEDIPERSONA_TEXT_PROVIDER": "simulated",
            "MEDIPERSONA_IMAGE_PROVIDER": "simulated", "MEDIPERSONA_SIMULATED_TEXT_SECONDS": "30",
            "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": "30"}


async def test_open_event_streams_are_capped_per_user(live_server):
    import asyncio
    from contextlib import AsyncExitStack

    from tests.personas.helpers import CREATE_BODY

    async with live_server.client(timeout=30) as c:
        pid = (await c.post("/api/personas", json=CREATE_BODY)).json()["id"]
        async with AsyncExitStack() as stack:
            for _ in range(2):
                r = await stack.enter_async_context(c.stream("GET", f"/api/personas/{pid}/events"))
                assert r.status_code == 200
            r = await c.get(f"/api/personas/{pid}/events")
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == "too_many_streams"
            assert "多すぎます" in r.json()["error"]["message"]
        await asyncio.sleep(0.5)  # the closed streams are released
        async with c.stream("GET", f"/api/personas/{pid}/events") as r:
            assert r.status_code == 200
