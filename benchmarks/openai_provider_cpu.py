"""CPU of the openai provider path alone: N personas' text (structured, streamed, progress snapshots) and
portraits at once, in-process, against the local stand-in (its own process).

    .venv/bin/python benchmarks/openai_provider_cpu.py              # 200 at once, 3 rounds
    .venv/bin/python benchmarks/openai_provider_cpu.py -n 100 --chunks 150
    .venv/bin/python benchmarks/openai_provider_cpu.py --loop asyncio           # asyncio's own loop
    PYTHONPATH=<checkout of another commit>/src .venv/bin/python benchmarks/openai_provider_cpu.py   # compare

Reports this process's CPU (utime + stime) per text + image pair: ``generate_structured`` with the persona
schema and an ``on_progress`` callback, then ``image_call`` — the SDK, its HTTP client, our stream parsing and
partial JSON. No database, no HTTP server: what ``generation_burst.py``'s openai row adds over the simulated one.
The stand-in answers text in 1 s and images in 0.5 s here (the timing does not change the CPU). The loop is
uvloop, as in the worker (``--loop asyncio`` for asyncio's own: its timers cost more per streamed chunk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(n: int, rounds: int) -> list[float]:
    from medipersona.personas.prompt import PersonaText
    from medipersona.providers.base import ImageRequest, TextRequest
    from medipersona.providers.calls import image_call
    from medipersona.providers.registry import aclose_providers, get_provider
    from medipersona.providers.structured import generate_structured
    from medipersona.settings import Settings

    settings = Settings(data_dir=Path(tempfile.mkdtemp()), secret_key="x", text_provider="openai",
                        image_provider="openai")
    warm = getattr(get_provider("openai", settings), "warm", None)
    if warm is not None:  # as the worker does at start (commits before warm start: the first call loads it)
        await warm()
    from medipersona.personas.prompt import default_section_lengths, text_schema

    text = TextRequest(system="システム", prompt="ペルソナを書いてください。" * 100, task="persona_text",
                       schema=text_schema(True, default_section_lengths()), schema_name="persona")
    image = ImageRequest(prompt="portrait", task="portrait", size="1024x1024")

    async def one() -> None:
        await generate_structured(settings, text, PersonaText, on_progress=lambda snapshot: None,
                                  progress_interval=0.15)
        await image_call(settings, image)

    await one()  # the first call's one-time costs are not what this measures
    out = []
    for _ in range(rounds):
        started_cpu, started = cpu(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        used, wall = cpu() - started_cpu, time.perf_counter() - started
        out.append(used / n * 1000)
        print(f"{n} at once: wall {wall:.2f} s, CPU {used:.2f} s = {used / n * 1000:.2f} ms per text + image",
              flush=True)
    await aclose_providers()
    return out


def main() -> int:
    from benchmarks.generation_burst import free_port
    from benchmarks.openai_standin import start_standin

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=15)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="event loop (the worker's is uvloop: uvicorn's loop='auto')")
    args = parser.parse_args()
    standin, url = start_standin(free_port(), text_seconds=1.0, image_seconds=0.5, chunks=args.chunks)
    os.environ.update(OPENAI_API_KEY="bench-key-not-secret", OPENAI_BASE_URL=f"{url}/v1")
    try:
        loop_factory = None
        if args.loop == "uvloop":
            import uvloop

            loop_factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            results = runner.run(measure(args.n, args.rounds))
    finally:
        standin.terminate()
        standin.wait(30)
    print(f"median {sorted(results)[len(results) // 2]:.2f} ms per text + image ({args.loop}); "
          f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
