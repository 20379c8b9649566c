"""Two app instances on one database; lease takeover; fencing of a worker that lost its lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from medipersona.db import utcnow
from medipersona.jobs.models import Job, JobEvent
from medipersona.jobs.registry import job_handler
from medipersona.jobs.service import enqueue, wake_runner

from .test_jobs_basic import collect


@job_handler("test_slow")
async def _slow(ctx):
    for i in range(ctx.payload.get("steps", 10)):
        ctx.emit_delta("text", f"{i},")
        await asyncio.sleep(ctx.payload.get("sleep", 0.1))
    await ctx.finish(data={"steps": ctx.payload.get("steps", 10)})


async def _enqueue(app, kind, payload):
    async with app.state.db.sessionmaker() as session:
        job = await enqueue(session, kind, None, payload)
        await session.commit()
    wake_runner(app)
    return job.id


@pytest.fixture
async def second_app(app, settings):
    """Another app instance (another 'worker') on the same database."""
    from medipersona.app import create_app

    other = create_app(settings)
    async with other.router.lifespan_context(other):
        yield other


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_persona_events_across_two_instances(app, second_app):
    """Enqueue on one instance, stream on the other: the stream polls the events table."""
    from tests.personas.helpers import CREATE_BODY, parse_sse

    transports = [httpx.ASGITransport(app=a) for a in (app, second_app)]
    async with httpx.AsyncClient(transport=transports[0], base_url="http://a") as a, \
            httpx.AsyncClient(transport=transports[1], base_url="http://b") as b:
        token = (await a.post("/api/auth/token", json={"username": "admin",
                                                        "password": "admin-password-123"})).json()["access_token"]
        for c in (a, b):
            c.headers["Authorization"] = f"Bearer {token}"
        pid = (await a.post("/api/personas", json=CREATE_BODY)).json()["id"]
        stream_b = asyncio.create_task(b.get(f"/api/personas/{pid}/events"))
        stream_a = asyncio.create_task(a.get(f"/api/personas/{pid}/events"))
        rb, ra = await asyncio.wait_for(asyncio.gather(stream_b, stream_a), 30)
        events_a, events_b = parse_sse(ra.content), parse_sse(rb.content)
        assert events_a == events_b
        assert events_b[-1][0] == "done"
        runs = app.state.jobs.claimed_total + second_app.state.jobs.claimed_total
        assert runs == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_job_running_on_other_instance_streams_by_polling(app, second_app):
    job_id = await _enqueue(app, "test_slow", {"steps": 8, "sleep": 0.1})
    await asyncio.sleep(0.3)
    runner = app if job_id in app.state.jobs.running else second_app
    follower = second_app if runner is app else app
    assert job_id in runner.state.jobs.running and not follower.state.jobs.is_local(job_id)
    via_follower, via_runner = await asyncio.wait_for(
        asyncio.gather(collect(follower, job_id), collect(runner, job_id)), 20)
    assert via_follower == via_runner
    assert via_follower[-1] == ("done", {"steps": 8})
    text = "".join(d["text"] for t, d in via_follower if t == "delta")
    assert text == "".join(f"{i}," for i in range(8))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_expired_lease_is_taken_over_once(app, monkeypatch):
    from medipersona.ops import metrics

    recovered = []
    monkeypatch.setattr(metrics, "job_recovered", lambda kind: recovered.append(kind))
    async with app.state.db.sessionmaker() as session:
        dead = await enqueue(session, "test_slow", None, {"steps": 3, "sleep": 0.01})
        live = await enqueue(session, "test_slow", None, {"steps": 3, "sleep": 0.01})
        await session.flush()
        past, future = utcnow() - timedelta(seconds=5), utcnow() + timedelta(seconds=300)
        await session.execute(update(Job).where(Job.id == dead.id).values(
            status="running", lease_owner="dead-worker:1", lease_expires_at=past, attempts=1))
        await session.execute(update(Job).where(Job.id == live.id).values(
            status="running", lease_owner="live-worker:2", lease_expires_at=future, attempts=1))
        await session.commit()
    app.state.jobs.wake()
    events = await asyncio.wait_for(collect(app, dead.id), 10)
    assert events[-1][0] == "done"
    assert ("status", {"status": "running", "attempt": 2}) in events
    assert recovered == ["test_slow"]
    await asyncio.sleep(0.6)
    async with app.state.db.sessionmaker() as session:
        dead_row = await session.get(Job, dead.id)
        live_row = await session.get(Job, live.id)
        assert dead_row.status == "done" and dead_row.attempts == 2
        # a job whose lease is still valid is never taken: it must not run twice at once
        assert live_row.status == "running" and live_row.lease_owner == "live-worker:2" and live_row.attempts == 1
        done = await session.scalars(select(JobEvent).where(JobEvent.job_id == dead.id, JobEvent.type == "done"))
        assert len(list(done)) == 1


async def test_worker_that_lost_its_lease_stops_and_cannot_write(app):
    job_id = await _enqueue(app, "test_slow", {"steps": 30, "sleep": 0.05})
    await asyncio.sleep(0.4)
    assert job_id in app.state.jobs.running
    # Another worker takes the job over (as after a lease expiry).
    async with app.state.db.sessionmaker() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(
            lease_owner="other-worker:9", attempts=Job.attempts + 1, lease_expires_at=utcnow() + timedelta(seconds=60)))
        await session.commit()
    await asyncio.sleep(0.6)
    assert job_id not in app.state.jobs.running  # cancelled at its next fenced write
    async with app.state.db.sessionmaker() as session:
        row = await session.get(Job, job_id)
        assert row.status == "running" and row.lease_owner == "other-worker:9"
        count_before = len(list(await session.scalars(select(JobEvent.id).where(JobEvent.job_id == job_id))))
    await asyncio.sleep(0.5)
    async with app.state.db.sessionmaker() as session:
        types = list(await session.scalars(select(JobEvent.type).where(JobEvent.job_id == job_id)))
    assert len(types) == count_before and "done" not in types


@pytest.mark.parametrize("settings_overrides", [{"job_max_concurrency": 3}])
async def test_bounded_concurrency(app):
    ids = [await _enqueue(app, "test_slow", {"steps": 3, "sleep": 0.1}) for _ in range(9)]
    peak = 0
    for _ in range(40):
        peak = max(peak, len(app.state.jobs.running))
        await asyncio.sleep(0.03)
    results = await asyncio.wait_for(asyncio.gather(*(collect(app, j) for j in ids)), 30)
    assert all(r[-1][0] == "done" for r in results)
    assert peak <= 3


async def test_graceful_stop_releases_running_jobs(settings, db_templates):
    """A stopping worker hands its unfinished jobs back (queued) instead of leaving them to lease expiry."""
    from medipersona.app import create_app
    from medipersona.bootstrap import first_run
    from medipersona.jobs import runner as runner_mod

    await first_run(settings)
    first = create_app(settings)
    old_grace = runner_mod.SHUTDOWN_GRACE_SECONDS
    runner_mod.SHUTDOWN_GRACE_SECONDS = 0.2
    try:
        async with first.router.lifespan_context(first):
            job_id = await _enqueue(first, "test_slow", {"steps": 50, "sleep": 0.1})
            await asyncio.sleep(0.4)
            assert job_id in first.state.jobs.running
    finally:
        runner_mod.SHUTDOWN_GRACE_SECONDS = old_grace
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        async with second.state.db.sessionmaker() as session:
            row = await session.get(Job, job_id)
            assert row.status in ("queued", "running")
        events = await asyncio.wait_for(collect(second, job_id), 20)
        assert events[-1][0] == "done"
        assert ("status", {"status": "queued", "reason": "worker_stopping"}) in events


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_an_idle_worker_looks_before_it_claims(app, monkeypatch):
    """The poll timer of an idle worker reads (``ANYTHING_TO_CLAIM``) before it claims (UPDATE statements in
    write transactions): nothing queued and no lease run out, no claim at all; a job committed without a wake-up
    (another instance's, a CLI's) is still claimed at the next poll."""
    from medipersona.jobs.leases import ANYTHING_TO_CLAIM

    async def anything() -> bool:
        async with app.state.db.engine.connect() as conn:
            return bool(await conn.scalar(ANYTHING_TO_CLAIM, {"now": utcnow()}))

    runtime = app.state.jobs
    claims: list[bool] = []
    claim = runtime._claim

    async def counted(limit, *, expired):
        claims.append(expired)
        return await claim(limit, expired=expired)

    monkeypatch.setattr(runtime, "_claim", counted)
    assert not await anything()
    await asyncio.sleep(app.state.settings.job_poll_seconds * 3 + 0.2)  # three polls of the idle worker
    assert claims == []

    async with app.state.db.sessionmaker() as session:
        held = await enqueue(session, "test_slow", None, {"steps": 1, "sleep": 0.01})
        await session.flush()
        # Running under another worker's valid lease: nothing to claim.
        await session.execute(update(Job).where(Job.id == held.id).values(
            status="running", lease_owner="live-worker:2", lease_expires_at=utcnow() + timedelta(seconds=300)))
        await session.commit()
    assert not await anything()
    async with app.state.db.sessionmaker() as session:
        await session.execute(update(Job).where(Job.id == held.id).values(
            lease_expires_at=utcnow() - timedelta(seconds=5)))
        await session.commit()
    assert await anything()  # its lease ran out: taken over at the next poll
    async with app.state.db.sessionmaker() as session:
        queued = await enqueue(session, "test_slow", None, {"steps": 1, "sleep": 0.01})
        await session.commit()  # no wake-up
    for job_id in (held.id, queued.id):
        assert (await asyncio.wait_for(collect(app, job_id), 10))[-1][0] == "done"
    assert claims and not await anything()
