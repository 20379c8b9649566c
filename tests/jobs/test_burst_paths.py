"""What a burst's jobs rely on: read sessions opened only when they read, the group insert of new jobs ahead of
the writer's batches, rows written with a job's batch, turns of the event loop."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from medipersona.jobs.dblock import WriteLock
from medipersona.jobs.lazy_session import LazySession
from medipersona.jobs.pacing import LoopTurns
from medipersona.jobs.registry import job_handler
from medipersona.jobs.service import enqueue, wake_runner
from medipersona.media.models import StoredImage
from medipersona.media.service import PreparedImage, digest_of, image_row, upsert_statement


async def test_lazy_session_takes_no_slot_until_it_reads(app):
    db = app.state.db
    slots = asyncio.Semaphore(1)
    async with LazySession(db.sessionmaker, slots) as session:
        assert session.bind is db.engine  # what the per-second caches key on: no session for it
        assert not session.opened and not slots.locked()
        assert await session.scalar(text("SELECT 41 + 1")) == 42
        assert session.opened and slots.locked()  # the read took the one slot
    assert not slots.locked()  # and gave it back


async def test_lazy_session_waits_for_a_slot_only_when_it_reads(app):
    db = app.state.db
    slots = asyncio.Semaphore(1)
    await slots.acquire()  # every slot taken (200 starting jobs reading)
    async with LazySession(db.sessionmaker, slots) as cached_only:
        assert cached_only.bind is db.engine  # a read answered from a cache does not wait
    reading = asyncio.create_task(_read_once(db, slots))
    await asyncio.sleep(0.05)
    assert not reading.done()  # a real read waits for its turn
    slots.release()
    assert await asyncio.wait_for(reading, 2) == 1


async def _read_once(db, slots) -> int:
    async with LazySession(db.sessionmaker, slots) as session:
        return await session.scalar(text("SELECT 1"))


async def test_write_lock_lets_first_waiters_go_ahead():
    lock = WriteLock()
    order: list[str] = []
    await lock.acquire()  # a writer's batch holds the lock

    async def writer(name: str, first: bool) -> None:
        await lock.acquire(first)
        order.append(name)
        await asyncio.sleep(0)
        lock.release()

    tasks = [asyncio.create_task(writer("batch-1", False)), asyncio.create_task(writer("batch-2", False))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(writer("insert", True)))  # queued last, goes first
    await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["insert", "batch-1", "batch-2"]
    assert not lock.locked()


async def test_write_lock_cancelled_waiter_passes_the_lock_on():
    lock = WriteLock()
    await lock.acquire()
    waiting = asyncio.create_task(lock.acquire(first=True))
    later = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    lock.release()
    await asyncio.wait_for(later, 1)  # not stuck behind the cancelled waiter
    assert lock.locked()
    lock.release()
    assert not lock.locked()


PNG = b"\x89PNG\r\n\x1a\n" + b"test image for add_row" * 8


@job_handler("test_add_row")
async def _stores_an_image(ctx):
    image = PreparedImage(digest_of(PNG), "image/png", PNG)
    for _ in range(ctx.payload.get("times", 1)):  # the same image twice: one row (ON CONFLICT)
        ctx.add_row("stored_image", lambda dialect: upsert_statement(dialect, touch=True),
                    image_row(ctx.settings, image))
    ctx.emit("image", {"digest": image.digest})
    await ctx.finish(data={"ok": True})


async def test_rows_go_with_the_jobs_batch(app):
    db = app.state.db
    async with db.sessionmaker() as session:
        job = await enqueue(session, "test_add_row", None, {"times": 2})
        await session.commit()
    wake_runner(app)
    for _ in range(200):
        async with db.sessionmaker() as session:
            status = await session.scalar(select(text("status")).select_from(text("jobs"))
                                          .where(text("id = :id")).params(id=job.id))
        if status in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert status == "done"
    async with db.sessionmaker() as session:
        rows = (await session.execute(select(StoredImage.variant, StoredImage.data, StoredImage.location)
                                      .where(StoredImage.digest == digest_of(PNG)))).all()
        events = await session.scalar(select(func.count()).select_from(text("job_events"))
                                      .where(text("job_id = :id AND type = 'image'")).params(id=job.id))
    assert [(r.variant, r.data, r.location) for r in rows] == [("original", PNG, "db")]
    assert events == 1


async def test_loop_turns_let_a_few_through_per_iteration():
    turns = LoopTurns(per_iteration=2)
    ran: list[int] = []
    iteration = 0

    async def count_iterations() -> None:
        nonlocal iteration
        while True:
            await asyncio.sleep(0)
            iteration += 1

    counter = asyncio.create_task(count_iterations())

    async def job() -> None:
        await turns.take()
        ran.append(iteration)

    await asyncio.gather(*(job() for _ in range(6)))
    counter.cancel()
    # at most two jobs in any iteration, and the six spread over several
    assert max(ran.count(i) for i in set(ran)) <= 2 and len(set(ran)) >= 3


async def test_loop_turns_serve_first_callers_before_the_others():
    turns = LoopTurns(per_iteration=1)
    turns._free = 0  # this iteration's turn is in use
    order: list[str] = []

    async def caller(name: str, first: bool) -> None:
        await turns.take(first)
        order.append(name)

    tasks = [asyncio.create_task(caller("text-1", False)), asyncio.create_task(caller("text-2", False))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(caller("job-start", True)))  # queued last, served first
    await asyncio.sleep(0)
    turns._give_back()  # the turn in use comes back at the next iteration
    await asyncio.gather(*tasks)
    assert order == ["job-start", "text-1", "text-2"]


async def test_a_cancelled_turn_waiter_does_not_lose_the_turn():
    turns = LoopTurns(per_iteration=1)
    await turns.take()
    cancelled = asyncio.create_task(turns.take(first=True))
    later = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.wait_for(later, 1)
