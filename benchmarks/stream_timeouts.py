"""CPU per streamed chunk of timing a stream's reads: an ``asyncio.timeout`` around every ``anext`` (what
``providers.calls.stream_text_call`` did) against ``providers.stream_watch.StreamWatch`` (one timer per quiet
spell), on uvloop as in the worker (``--loop asyncio`` for asyncio's own). The stream yields after a bare turn of
the loop, so what is measured is the timing's own cost plus that turn.

    .venv/bin/python benchmarks/stream_timeouts.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from medipersona.providers.stream_watch import StreamWatch  # noqa: E402

CHUNKS = 2000


async def stream():
    for _ in range(CHUNKS):
        await asyncio.sleep(0)
        yield "x"


async def timeout_per_read() -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    agen, got = stream(), 0
    while True:
        try:
            async with asyncio.timeout(min(30.0, deadline - loop.time())):
                await anext(agen)
        except StopAsyncIteration:
            return got
        got += 1


async def one_watch() -> int:
    loop = asyncio.get_running_loop()
    agen, got = stream(), 0
    async with StreamWatch(30.0, loop.time() + 60) as watch:
        while True:
            watch.waiting()
            try:
                await anext(agen)
            except StopAsyncIteration:
                return got
            watch.got()
            got += 1


async def untimed() -> int:
    return sum([1 async for _ in stream()])


async def main() -> None:
    for _round in range(2):
        for reader in (untimed, timeout_per_read, one_watch):
            started = time.process_time()
            for _ in range(20):
                assert await reader() == CHUNKS
            print(f"{reader.__name__:>17}: {(time.process_time() - started) / 20 / CHUNKS * 1e6:.2f} µs per chunk")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    if parser.parse_args().loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())
