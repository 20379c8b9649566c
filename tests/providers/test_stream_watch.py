"""providers.stream_watch: a streamed answer's idle and total time-outs, with one timer per quiet spell."""

from __future__ import annotations

import asyncio

import pytest

from medipersona.providers.stream_watch import StreamWatch


class CountingWatch(StreamWatch):
    checks = 0

    def _check(self) -> None:
        type(self).checks += 1
        super()._check()


async def read(gaps: list[float], *, idle: float, total: float = 60.0, hold: float = 0.0,
               watch_class: type[StreamWatch] = StreamWatch) -> tuple[int, float]:
    """Read a stream whose chunks come after ``gaps``; the consumer holds each chunk ``hold`` seconds.
    Returns (chunks read, seconds since the last chunk) when it ends or times out (TimeoutError re-raised)."""
    loop = asyncio.get_running_loop()

    async def stream():
        for gap in gaps:
            await asyncio.sleep(gap)
            yield "x"

    agen = stream()
    got = 0
    last = loop.time()
    try:
        async with watch_class(idle, loop.time() + total) as watch:
            while True:
                watch.waiting()
                try:
                    await anext(agen)
                except StopAsyncIteration:
                    break
                watch.got()
                got += 1
                last = loop.time()
                if hold:
                    await asyncio.sleep(hold)
    except TimeoutError as exc:
        exc.args = (got, loop.time() - last)
        raise
    finally:
        await agen.aclose()
    return got, loop.time() - last


async def test_a_stream_longer_than_the_idle_time_is_not_cut_while_chunks_come():
    CountingWatch.checks = 0
    got, _ = await read([0.005] * 120, idle=0.2, watch_class=CountingWatch)
    assert got == 120
    # ~0.6 s of chunks: the timer fired a few times (once per idle spell), not once per chunk
    assert 1 <= CountingWatch.checks <= 6


async def test_a_stream_that_goes_quiet_is_cut_after_the_idle_time():
    with pytest.raises(TimeoutError) as info:
        await read([0.01, 0.01, 0.01, 5.0], idle=0.25)
    got, quiet = info.value.args
    assert got == 3
    assert 0.24 <= quiet < 0.45


async def test_the_deadline_cuts_a_stream_that_never_goes_quiet():
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError) as info:
        await read([0.01] * 1000, idle=0.2, total=0.3)
    assert 5 <= info.value.args[0] < 40
    assert 0.29 <= loop.time() - start < 0.5


async def test_time_with_the_consumer_does_not_count():
    """The consumer holding a chunk longer than the idle time is not the provider's silence."""
    got, _ = await read([0.01] * 4, idle=0.1, hold=0.25)
    assert got == 4


async def test_a_cancellation_from_outside_stays_a_cancellation():
    task = asyncio.create_task(read([5.0], idle=1.0))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_timer_goes_with_the_block():
    loop = asyncio.get_running_loop()
    async with StreamWatch(0.05, loop.time() + 10) as watch:
        watch.waiting()
        await asyncio.sleep(0)
        watch.got()
    await asyncio.sleep(0.15)  # a timer left behind would cancel this task now
    assert watch._handle is None and not watch.expired
