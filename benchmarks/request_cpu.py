"""CPU per request inside the app (no HTTP server, no sockets): where a worker's time goes per request kind.

    .venv/bin/python benchmarks/request_cpu.py            # 200 POSTs at once, then 100 requests per kind in turn
    .venv/bin/python benchmarks/request_cpu.py -n 300 --burst 200

The ASGI app is called directly (uvicorn's own parsing, ~0.1-0.3 ms per request, is not included), in this
process, on uvloop, with the simulated provider at 60 s so that no generation finishes while measuring.
Reported, as milliseconds of process CPU (all threads: aiosqlite's included) per request:

- The burst first: ``--burst`` POSTs at once. ``last_portrait_start_s`` is when the last job's portrait call
  began after the first POST was sent: the part of the generation burst's wall time
  (benchmarks/generation_burst.py) that is the app's, not the provider's. ``cpu_ms_per_post`` includes each
  job's start (keyword lookup, text composition, portrait rendering, first writes: 0.5 s after the last 202).
- Then, one after another: ``GET /healthz`` (the floor: routing and middlewares), ``GET /api/catalog``
  (cached JSON, cached token), ``GET /api/auth/me`` with the principal cache and without it (the cost of one token lookup),
  ``POST /api/personas`` (each job starts at once and runs on; its start is included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "bench-admin-password-1"
BODY = json.dumps({"department": "internal_medicine", "chief_complaint": "internal_medicine.influenza",
                   "purpose": "increase_patients", "setting_type": "auto"}).encode()


async def call(app, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """One request through the ASGI app; returns (status, body). Streaming responses are not supported."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
             + [(b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects

    status, chunks = 0, []

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def measure(args: argparse.Namespace) -> dict:
    from medipersona import deps
    from medipersona.app import create_app
    from medipersona.providers import offline

    portrait_starts: list[float] = []
    original = offline.SimulatedProvider.generate_image

    async def timed_generate_image(self, request):
        portrait_starts.append(time.perf_counter())
        return await original(self, request)

    offline.SimulatedProvider.generate_image = timed_generate_image
    app = create_app()
    out: dict = {}
    async with app.router.lifespan_context(app):
        status, body = await call(app, "POST", "/api/auth/token", {"content-type": "application/json"},
                                  json.dumps({"username": "admin", "password": PASSWORD}).encode())
        assert status == 200, body
        headers = {"authorization": f"Bearer {json.loads(body)['access_token']}",
                   "content-type": "application/json"}
        await call(app, "POST", "/api/personas", headers, BODY)  # warm-up: lazy imports, caches
        await asyncio.sleep(1.0)
        portrait_starts.clear()
        cpu0, t0 = time.process_time(), time.perf_counter()
        answers = await asyncio.gather(*(call(app, "POST", "/api/personas", headers, BODY)
                                         for _ in range(args.burst)))
        accepted = time.perf_counter() - t0
        await asyncio.sleep(0.5)  # the jobs' starts (keyword lookup, text composition, first writes)
        cpu = time.process_time() - cpu0
        assert all(status == 202 for status, _ in answers)
        starts = sorted(t - t0 for t in portrait_starts)
        out.update({
            "burst": args.burst,
            "burst_last_202_s": round(accepted, 3),
            "burst_first_portrait_start_s": round(starts[0], 3),
            "burst_last_portrait_start_s": round(starts[-1], 3),
            "burst_portraits_started": len(starts),
            "burst_cpu_ms_per_post": round(cpu / args.burst * 1000, 2),
        })
        await asyncio.sleep(1.0)
        kinds = [("healthz", "GET", "/healthz", b"", True), ("catalog", "GET", "/api/catalog", b"", True),
                 ("me_cached", "GET", "/api/auth/me", b"", True), ("me_lookup", "GET", "/api/auth/me", b"", False),
                 ("create_persona", "POST", "/api/personas", BODY, True)]
        for name, method, path, payload, cache in kinds:
            deps.PRINCIPAL_CACHE_SECONDS = 2.0 if cache else 0.0
            for _ in range(3):  # warm-up: lazy imports, caches
                await call(app, method, path, headers, payload)
            await asyncio.sleep(0.3)
            cpu0 = time.process_time()
            for _ in range(args.n):
                status, body = await call(app, method, path, headers, payload)
                assert status in (200, 202), (name, status, body[:200])
            out[f"{name}_cpu_ms"] = round((time.process_time() - cpu0) / args.n * 1000, 3)
        deps.PRINCIPAL_CACHE_SECONDS = 2.0
        out["loadavg"] = [round(x, 2) for x in os.getloadavg()]

    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100, help="sequential requests per kind (default 100)")
    parser.add_argument("--burst", type=int, default=200, help="POSTs at once (default 200)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mp-reqcpu-"))
    os.environ.update({
        "MEDIPERSONA_DATA_DIR": str(tmp / "var"), "MEDIPERSONA_DATABASE_URL": "",
        "MEDIPERSONA_ADMIN_PASSWORD": PASSWORD, "MEDIPERSONA_COOKIE_SECURE": "never",
        "MEDIPERSONA_TEXT_PROVIDER": "simulated", "MEDIPERSONA_IMAGE_PROVIDER": "simulated",
        "MEDIPERSONA_SIMULATED_TEXT_SECONDS": "60", "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": "60",
        # the burst's and the sequential POSTs' generations all wait on the provider at once
        "MEDIPERSONA_PROVIDER_MAX_CONCURRENCY": "5000",
        "MEDIPERSONA_LOG_LEVEL": "WARNING", "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    })
    (tmp / "metrics").mkdir()
    subprocess.run([sys.executable, "-m", "medipersona", "migrate"], check=True, stdout=subprocess.DEVNULL)
    import uvloop

    result = uvloop.run(measure(args))
    print(json.dumps(result, indent=2))
    # The generations still waiting on the simulated provider are abandoned with the process.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
