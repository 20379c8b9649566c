"""Export benchmark (issue 6): PDF export time with the timeline page, and /healthz while exports run.

    .venv/bin/python benchmarks/export_bench.py [--runs 30] [--rounds 3] [--workers 1] [--server gunicorn]

1. In-process: median render_pdf() time for the sample persona with its timeline page (font cached, warm).
2. Real server (uvicorn, or ``--server gunicorn`` with the project's gunicorn config and one worker; a throwaway
   data dir with the fictional sample keyword data): median latency of GET /api/personas/{id}/export.pdf end to
   end (auth, DB, keyword store, pool round trip, rendering) and the CPU spent per export by process kind.
3. Same server: /healthz probed every 20 ms while 10 exports run concurrently (``--rounds`` times); p50/p95/max.

Targets: median PDF export <= 300 ms; /healthz p95 during 10 concurrent exports <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "scripts"))

PASSWORD = "bench-password-123"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path) -> tuple[dict, str]:
    """A migrated data dir with the sample keyword data and one finished persona; returns (doc, persona id)."""
    import render_samples

    from medipersona.settings import Settings

    settings = Settings(data_dir=data_dir, secret_key="bench", admin_password=PASSWORD,
                        text_provider="offline", image_provider="offline")
    render_samples.make_settings(data_dir)  # migrate
    doc = asyncio.run(render_samples.build(settings))

    async def persona_id() -> str:
        from sqlalchemy import select

        from medipersona.db import Database
        from medipersona.personas.models import Persona

        db = Database(settings)
        try:
            async with db.sessionmaker() as session:
                return (await session.execute(select(Persona.id))).scalars().first()
        finally:
            await db.dispose()

    return doc, asyncio.run(persona_id())


def bench_in_process(doc: dict, runs: int) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) of render_pdf for the two-page document, warm (font parsed, modules loaded)."""
    from medipersona.exports.pdf import render_pdf, warm_up

    warm_up()
    render_pdf(doc)
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        render_pdf(doc)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU seconds of the web processes, CPU seconds of the export pool processes) under the server ``pid``."""
    import psutil

    web = export = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            seconds = sum(proc.cpu_times()[:2])
            is_pool = "multiprocessing" in " ".join(proc.cmdline())  # spawn_main / resource tracker
        except psutil.NoSuchProcess:
            continue
        if is_pool:
            export += seconds
        else:
            web += seconds
    return web, export


async def bench_server(base: str, persona_id: str, runs: int, rounds: int, server_pid: int) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as client, \
            httpx.AsyncClient(base_url=base, timeout=60) as probe:
        token = (await client.post("/api/auth/token", json={"username": "admin", "password": PASSWORD})).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        url = f"/api/personas/{persona_id}/export.pdf"
        for _ in range(3):  # start the pool, warm caches
            r = await client.get(url)
            r.raise_for_status()
        sequential = []
        cpu_before = cpu_seconds(server_pid)
        for _ in range(runs):
            t = time.perf_counter()
            r = await client.get(url)
            sequential.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200 and r.content.startswith(b"%PDF")
        cpu_after = cpu_seconds(server_pid)
        web_cpu = (cpu_after[0] - cpu_before[0]) * 1000 / runs
        pool_cpu = (cpu_after[1] - cpu_before[1]) * 1000 / runs

        async def probe_health(stop: asyncio.Event, out: list[float]) -> None:
            while not stop.is_set():
                t = time.perf_counter()
                r = await probe.get("/healthz")
                out.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
                await asyncio.sleep(0.02)

        idle: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(probe_health(stop, idle))
        await asyncio.sleep(2)
        stop.set()
        await task

        loaded: list[float] = []
        batch_times = []
        export_latencies = []
        for _ in range(rounds):
            stop = asyncio.Event()
            task = asyncio.create_task(probe_health(stop, loaded))

            async def one() -> float:
                t = time.perf_counter()
                r = await client.get(url)
                assert r.status_code == 200, r.text
                return (time.perf_counter() - t) * 1000

            t = time.perf_counter()
            export_latencies += await asyncio.gather(*(one() for _ in range(10)))
            batch_times.append((time.perf_counter() - t) * 1000)
            stop.set()
            await task
        return {"sequential": sequential, "web_cpu": web_cpu, "pool_cpu": pool_cpu, "idle": idle, "loaded": loaded, "batch": batch_times,
                "concurrent": export_latencies}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="export pool processes (MEDIPERSONA_EXPORT_WORKERS)")
    parser.add_argument("--server", choices=("uvicorn", "gunicorn"), default="uvicorn",
                        help="uvicorn (one process) or gunicorn with the project's config and one uvicorn worker")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"(cpus: {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        doc, persona_id = prepare(data_dir)
        assert doc.get("timeline"), "the sample persona must have a timeline page"
        inproc, cpu = bench_in_process(doc, args.runs)
        print(f"in-process render_pdf (2 pages): wall median {statistics.median(inproc):.1f} ms, "
              f"p95 {pct(inproc, 0.95):.1f} ms; CPU median {statistics.median(cpu):.1f} ms, n={len(inproc)}")

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
        env.update(MEDIPERSONA_DATA_DIR=str(data_dir), MEDIPERSONA_SECRET_KEY="bench",
                   MEDIPERSONA_ADMIN_PASSWORD=PASSWORD, MEDIPERSONA_EXPORT_WORKERS=str(args.workers),
                   MEDIPERSONA_LOG_LEVEL="WARNING")
        if args.server == "gunicorn":
            env.update(HOST="127.0.0.1", PORT=str(port))
            command = [sys.executable, "-m", "gunicorn", "-c", "python:medipersona.ops.gunicorn_conf", "--workers", "1",
                       "--log-level", "warning", "medipersona.asgi:app"]
        else:
            command = [sys.executable, "-m", "uvicorn", "medipersona.asgi:app", "--host", "127.0.0.1", "--port",
                       str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
        server = subprocess.Popen(command, env=env, cwd=tmp)
        try:
            base = f"http://127.0.0.1:{port}"
            import httpx

            for _ in range(200):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            result = asyncio.run(bench_server(base, persona_id, args.runs, args.rounds, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
    seq = result["sequential"]
    print(f"HTTP export.pdf sequential: median {statistics.median(seq):.1f} ms, p95 {pct(seq, 0.95):.1f} ms, "
          f"n={len(seq)}; CPU per export: web worker {result['web_cpu']:.1f} ms, export process "
          f"{result['pool_cpu']:.1f} ms")
    print(f"10 concurrent exports: batch wall time median {statistics.median(result['batch']):.0f} ms, "
          f"per-export p50 {pct(result['concurrent'], 0.5):.0f} ms / max {max(result['concurrent']):.0f} ms "
          f"(pool workers: {args.workers})")
    idle, loaded = result["idle"], result["loaded"]
    print(f"/healthz idle: p50 {pct(idle, 0.5):.1f} ms, p95 {pct(idle, 0.95):.1f} ms, n={len(idle)}")
    print(f"/healthz during 10 concurrent exports: p50 {pct(loaded, 0.5):.1f} ms, p95 {pct(loaded, 0.95):.1f} ms, "
          f"max {max(loaded):.1f} ms, n={len(loaded)}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    ok = statistics.median(seq) <= 300 and pct(loaded, 0.95) <= 50
    print("targets (median export <= 300 ms, healthz p95 <= 50 ms):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
