"""The app with cProfile on its event-loop thread, for ``generation_burst.py --cprofile FILE`` (py-spy cannot
attach on every box).

    gunicorn -c python:medipersona.ops.gunicorn_conf benchmarks.cprofile_worker:app   # MEDIPERSONA_CPROFILE=FILE

Profiling starts once the app's lifespan start-up is complete (imports and warm-up are not in it) and the stats
are written to ``$MEDIPERSONA_CPROFILE`` when the worker stops. cProfile sees the thread it was enabled on (the
event loop's): the aiosqlite and render threads are not in it, and its own overhead roughly doubles the CPU
of what it measures, so read it for shares, not absolute times.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats

from medipersona.asgi import app as _app

_profile = cProfile.Profile()


async def app(scope, receive, send):
    if scope["type"] != "lifespan":
        await _app(scope, receive, send)
        return

    async def send_wrapper(message):
        if message["type"] == "lifespan.startup.complete":
            _profile.enable()
        elif message["type"] == "lifespan.shutdown.complete":
            _profile.disable()
            _profile.dump_stats(os.environ["MEDIPERSONA_CPROFILE"])
        await send(message)

    async def receive_wrapper():
        message = await receive()
        if message["type"] == "lifespan.shutdown":
            _profile.disable()  # the shutdown's own work (drains, closes) is not the burst's
            _profile.dump_stats(os.environ["MEDIPERSONA_CPROFILE"])
        return message

    await _app(scope, receive_wrapper, send_wrapper)


# Where the time goes, grouped by the part of the code it is spent in (first match of the file path wins).
GROUPS = (
    ("openai SDK + its HTTP client (calls, stream reading)", ("/openai/", "/httpx2/", "/httpcore2/", "/aiohttp/",
                                                              "/multidict/", "/yarl/", "/sniffio/")),
    ("SQLAlchemy + aiosqlite (job writes, reads)", ("/sqlalchemy/", "/aiosqlite/", "/asyncpg/")),
    ("uvicorn + starlette + FastAPI (HTTP, routing, dependencies)", ("/uvicorn/", "/starlette/", "/fastapi/",
                                                                     "/uvicorn_worker/")),
    ("pydantic (validation)", ("/pydantic/", "/pydantic_core/")),
    ("medipersona providers (partial JSON, structured, calls)", ("/medipersona/providers/",)),
    ("medipersona jobs (runner, writer, SSE, hub)", ("/medipersona/jobs/",)),
    ("medipersona personas (POST, generation, portrait step)", ("/medipersona/personas/",)),
    ("medipersona other (auth, ops, media, web)", ("/medipersona/",)),
    ("anyio + h11/httptools (threads, sockets)", ("/anyio/", "/h11/", "/httptools/")),
    ("asyncio / selectors / stdlib", ("/asyncio/", "/selectors.py", "/json/", "/socket.py", "/ssl.py",
                                      "/lib/python3")),
    ("C functions (builtins, locks, queues, sockets)", ("~",)),
)


def _group(filename: str) -> str:
    for name, markers in GROUPS:
        if any(marker in filename for marker in markers):
            return name
    return "other"


def summary(path: str, generations: int, top: int = 25) -> str:
    """Own (tottime) seconds by group and the top functions by own time, per generation."""
    stats = pstats.Stats(path)
    total = sum(row[2] for row in stats.stats.values())
    groups: dict[str, float] = {}
    for (filename, _line, _name), row in stats.stats.items():
        groups[_group(filename)] = groups.get(_group(filename), 0.0) + row[2]
    out = io.StringIO()
    out.write(f"cProfile of the worker's loop thread: {total:.2f} s own time in all "
              f"({total / max(1, generations) * 1000:.1f} ms per generation, profiler overhead included)\n")
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        out.write(f"  {seconds / total * 100:5.1f} %  {seconds:6.2f} s  {name}\n")
    out.write("top functions by own time:\n")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, name), row in rows:
        short = filename.split("site-packages/")[-1].split("/src/")[-1]
        out.write(f"  {row[2]:6.3f} s  {row[1]:8d} calls  {short}:{line}({name})\n")
    return out.getvalue()
