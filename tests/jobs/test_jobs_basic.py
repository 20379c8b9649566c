"""The job runner, write batcher and SSE stream with a test handler."""

from __future__ import annotations

import asyncio
import json

import pytest

from medipersona.jobs.models import Job
from medipersona.jobs.registry import JobFailed, job_handler
from medipersona.jobs.service import enqueue, wake_runner
from medipersona.jobs.sse import job_event_stream


@job_handler("test_echo")
async def _echo(ctx):
    for word in ctx.payload.get("words", []):
        ctx.emit_delta("text", word)
        await asyncio.sleep(ctx.payload.get("sleep", 0.01))
    if ctx.payload.get("fail"):
        raise JobFailed("テスト用の失敗です。", code="test_failure")
    await ctx.finish(data={"words": len(ctx.payload.get("words", []))}, result={"ok": True})


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in raw.decode().split("\n\n"):
        typ, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                typ = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if typ:
            events.append((typ, data))
    return events


async def collect(app, job_id, after_id=0) -> list[tuple[str, dict]]:
    chunks = [c async for c in job_event_stream(app, job_id, after_id=after_id)]
    return parse_sse(b"".join(chunks))


async def _enqueue(app, payload, kind="test_echo"):
    async with app.state.db.sessionmaker() as session:
        job = await enqueue(session, kind, None, payload)
        await session.commit()
    wake_runner(app)
    return job.id


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_job_runs_and_streams_in_order(app):
    words = [f"語{i}" for i in range(30)]
    job_id = await _enqueue(app, {"words": words})
    events = await asyncio.wait_for(collect(app, job_id), 20)
    types = [t for t, _ in events]
    assert types[0] == "status" and events[0][1]["status"] == "queued"
    assert types[1] == "status" and events[1][1]["status"] == "running"
    assert types[-1] == "done"
    text = "".join(d["text"] for t, d in events if t == "delta")
    assert text == "".join(words)
    # coalesced: far fewer delta rows than chunks
    assert types.count("delta") < len(words)
    # offsets are consistent
    offset = 0
    for t, d in events:
        if t == "delta":
            assert d["offset"] == offset
            offset += len(d["text"])
    async with app.state.db.sessionmaker() as s:
        job = await s.get(Job, job_id)
        assert job.status == "done" and job.attempts == 1 and job.result == {"ok": True}
        assert job.lease_owner is None
    # a late client replays the same events
    late = await asyncio.wait_for(collect(app, job_id), 5)
    assert late == events


async def test_failing_job_records_error(app):
    job_id = await _enqueue(app, {"words": ["a"], "fail": True})
    events = await asyncio.wait_for(collect(app, job_id), 10)
    assert events[-1] == ("error", {"code": "test_failure", "message": "テスト用の失敗です。"})
    async with app.state.db.sessionmaker() as s:
        job = await s.get(Job, job_id)
        assert job.status == "failed" and job.error["code"] == "test_failure"


async def test_unknown_kind_fails(app):
    job_id = await _enqueue(app, {}, kind="no_such_kind")
    events = await asyncio.wait_for(collect(app, job_id), 10)
    assert events[-1][0] == "error"


async def test_many_jobs_batch_writes(app):
    ids = [await _enqueue(app, {"words": list("abcdefghij"), "sleep": 0.02}) for _ in range(40)]
    results = await asyncio.wait_for(asyncio.gather(*(collect(app, j) for j in ids)), 30)
    assert all(r[-1][0] == "done" for r in results)
    writer = app.state.jobs.writer
    # 40 jobs x (status + deltas + done) written in far fewer transactions than rows
    assert writer.flushes < writer.events_written / 3


async def test_keepalive_ping_and_pruned_events(app):
    from datetime import timedelta

    from sqlalchemy import update

    from medipersona.db import utcnow

    job_id = await _enqueue(app, {"words": ["a", "b"], "sleep": 0.6})
    chunks = []
    async for chunk in job_event_stream(app, job_id, ping_seconds=0.2):
        chunks.append(chunk)
    assert b": ping\n\n" in chunks
    assert parse_sse(b"".join(c for c in chunks))[-1][0] == "done"
    # events of long-finished jobs are pruned; a stream then sends a fallback snapshot
    async with app.state.db.sessionmaker() as s:
        await s.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow() - timedelta(days=30)))
        await s.commit()
    assert await app.state.jobs.prune_events() > 0
    fallback = [("status", {"status": "done"}), ("done", {"status": "done", "snapshot": True})]
    events = parse_sse(b"".join([c async for c in job_event_stream(app, job_id, fallback=fallback)]))
    assert events == fallback


async def test_write_batch_failure_is_retried(app, monkeypatch):
    """A failed batch (database briefly unavailable) keeps its writes for the next one; the job completes."""
    writer = app.state.jobs.writer
    real_apply = writer._apply
    failures = {"left": 2}

    async def flaky(*args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("database is locked (test)")
        return await real_apply(*args, **kwargs)

    monkeypatch.setattr(writer, "_apply", flaky)
    job_id = await _enqueue(app, {"words": ["a", "b", "c"], "sleep": 0.05})
    events = await asyncio.wait_for(collect(app, job_id), 20)
    assert events[-1][0] == "done"
    assert "".join(d["text"] for t, d in events if t == "delta") == "abc"
    assert failures["left"] == 0


async def test_idle_worker_gives_memory_back_after_a_burst(app, monkeypatch):
    """After TRIM_AFTER_JOBS jobs, once nothing has run for TRIM_IDLE_SECONDS, the freed heap is returned
    (malloc_trim) once; a short run of jobs below the threshold does not trigger it."""
    from medipersona.jobs import runner
    from medipersona.ops import process

    trims: list[float] = []
    monkeypatch.setattr(process, "release_free_memory", lambda: trims.append(1.0))
    monkeypatch.setattr(runner, "TRIM_IDLE_SECONDS", 0.2)
    monkeypatch.setattr(runner, "TRIM_AFTER_JOBS", 5)
    runtime = app.state.jobs
    runtime._jobs_since_trim = 0

    async def run_jobs(count: int) -> None:
        ids = [await _enqueue(app, {"words": ["a"], "sleep": 0.0}) for _ in range(count)]
        await asyncio.wait_for(asyncio.gather(*(collect(app, job_id) for job_id in ids)), 20)

    await run_jobs(3)
    await asyncio.sleep(0.5)
    assert trims == []
    await run_jobs(3)  # 6 since the last trim: the idle worker trims once
    await asyncio.sleep(0.6)
    assert trims == [1.0]
    assert runtime._jobs_since_trim == 0
