"""Generation burst: N concurrent persona generations on ONE gunicorn worker, logins sampled meanwhile.

    .venv/bin/python benchmarks/generation_burst.py            # 200 generations, text 3 s, image 5 s
    .venv/bin/python benchmarks/generation_burst.py -n 50 --text-seconds 3 --image-seconds 5 [--postgres URL]

What it does:
1. Makes a temporary data dir, migrates it (``medipersona migrate``) and starts
   ``gunicorn -c python:medipersona.ops.gunicorn_conf medipersona.asgi:app -w 1`` with the simulated provider
   (``MEDIPERSONA_SIMULATED_TEXT_SECONDS`` / ``_IMAGE_SECONDS``).
2. Logs in through ``POST /api/auth/token`` (bearer token).
3. One generation alone: ``POST /api/personas`` then the SSE stream ``GET /api/personas/{id}/events`` until
   ``done`` (latency = POST sent → ``done`` received).
4. The burst: N clients at once, each POSTs and follows its own SSE stream to ``done`` (SSE, not polling).
   Meanwhile a sampler requests ``GET /login`` and ``GET /api/catalog`` back to back on its own connections.
5. Reports wall time, latencies (p50/p99), the worker's RSS (/proc/<pid>/status VmRSS) after the burst, the
   load generator's own CPU use (to show it is not the bottleneck) and the box's load average.

Targets (issue 3): 200 done <= 6 s wall; one alone <= 5.2 s; p99 login/catalog <= 100 ms; RSS <= 130 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "bench-admin-password-1"
BODY = {"department": "internal_medicine", "chief_complaint": "internal_medicine.influenza",
        "purpose": "increase_patients", "setting_type": "auto"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the worker was recycled (max_requests) or died
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(x) for x in path.read_text().split()]
    except OSError:
        return []


async def sse_until_final(host: str, port: int, path: str, authorization: str) -> str:
    """Follow an SSE stream until its ``done``/``error`` event with a bare asyncio connection: the load
    generator must stay cheap (httpx costs ~1 ms of client CPU per streamed chunk), or it becomes the
    bottleneck it is supposed to measure. Returns the final event's name."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {authorization}\r\n"
                      "Accept: text/event-stream\r\nConnection: close\r\n\r\n").encode())
        await writer.drain()
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return "eof"
            tail = tail[-32:] + chunk
            if b"event: done\n" in tail:
                return "done"
            if b"event: error\n" in tail:
                return "error"
    finally:
        writer.close()


async def follow(client: httpx.AsyncClient, headers: dict, seed: int) -> tuple[float, str]:
    """POST a generation and follow its SSE stream to the end. Returns (seconds, final event)."""
    started = time.perf_counter()
    r = await client.post("/api/personas", json={**BODY, "seed": seed}, headers=headers)
    if r.status_code != 202:
        return time.perf_counter() - started, f"http {r.status_code}: {r.text[:200]}"
    pid = r.json()["id"]
    last = await sse_until_final(client.base_url.host, client.base_url.port, f"/api/personas/{pid}/events",
                                 headers["Authorization"])
    return time.perf_counter() - started, last


async def sampler(base: str, headers: dict, stop: asyncio.Event, out: dict[str, list[float]]) -> None:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as c:
        while not stop.is_set():
            for name, path, hdrs in (("login", "/login", {}), ("catalog", "/api/catalog", headers)):
                started, t0 = time.time(), time.perf_counter()
                r = await c.get(path, headers=hdrs)
                out[name].append((started, time.perf_counter() - t0))
                if r.status_code != 200:
                    out.setdefault("errors", []).append((started, r.status_code))
            # ~30 requests/s: continuous, and the whole run stays under gunicorn's max_requests (1000 ± 100),
            # so the single worker is not recycled in the middle of the burst
            await asyncio.sleep(0.05)


def start_sampler(base: str, token: str, out: Path, stop: Path) -> subprocess.Popen:
    """The login/catalog sampler runs in its own process: its latencies must not include the load
    generator's event loop (200 streams) — they are another user's view of the server."""
    return subprocess.Popen([sys.executable, __file__, "--sampler", base, "--token", token, "--out", str(out),
                             "--stop", str(stop)])


def run_sampler(base: str, token: str, out: Path, stop: Path) -> None:
    samples: dict[str, list[float]] = {"login": [], "catalog": []}

    async def main() -> None:
        event = asyncio.Event()

        async def watch() -> None:
            while not stop.exists():
                await asyncio.sleep(0.02)
            event.set()

        watcher = asyncio.create_task(watch())
        await sampler(base, {"Authorization": f"Bearer {token}"}, event, samples)
        await watcher

    asyncio.run(main())
    out.write_text(json.dumps(samples))


async def sampled(base: str, token: str, tmp: Path, name: str, body) -> tuple[dict[str, list[float]], object]:
    """Run ``body()`` while the sampler process samples; returns (latencies of requests started while body
    ran, body's result)."""
    out, stop = tmp / f"{name}.json", tmp / f"{name}.stop"
    proc = start_sampler(base, token, out, stop)
    await asyncio.sleep(1.5)  # the sampler's interpreter starts and its first requests are made
    began = time.time()
    try:
        result = await body()
    finally:
        ended = time.time()
        stop.write_text("stop")
        await asyncio.to_thread(proc.wait, 30)
    raw = json.loads(out.read_text())
    return {k: [lat for t, lat in v if began <= t <= ended] for k, v in raw.items()}, result


async def run(args: argparse.Namespace, base: str, master: int, tmp: Path) -> dict:
    limits = httpx.Limits(max_connections=args.n * 2 + 20, max_keepalive_connections=args.n * 2 + 20)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        token = (await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
                 ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        workers = worker_pids(master)
        rss_start = {pid: round(rss_mb(pid), 1) for pid in workers}
        # warm-up: one request of each kind so that lazy imports and caches are not measured
        await client.get("/login")
        await client.get("/api/catalog", headers=headers)

        alone, alone_result = await follow(client, headers, 1)
        rss_after_one = {pid: round(rss_mb(pid), 1) for pid in workers}

        workers = worker_pids(master)
        marks: dict[str, float] = {}

        async def idle_period() -> None:
            marks["icpu0"] = sum(cpu_seconds(p) for p in workers)
            await asyncio.sleep(2.0)
            marks["icpu1"] = sum(cpu_seconds(p) for p in workers)

        idle_samples, _ = await sampled(base, token, tmp, "idle", idle_period)
        idle_count = len(idle_samples["login"]) + len(idle_samples["catalog"])
        cpu_per_sample = (marks["icpu1"] - marks["icpu0"]) / max(1, idle_count)

        async def burst():
            wcpu0 = sum(cpu_seconds(p) for p in workers)
            cpu0, t0 = time.process_time(), time.perf_counter()
            results = await asyncio.gather(*(follow(client, headers, 1000 + i) for i in range(args.n)))
            marks["wall"] = time.perf_counter() - t0
            marks["cpu"] = time.process_time() - cpu0
            marks["wcpu"] = sum(cpu_seconds(p) for p in workers) - wcpu0
            return results

        samples, results = await sampled(base, token, tmp, "burst", burst)
        wall, cpu, wcpu = marks["wall"], marks["cpu"], marks["wcpu"]
        # samples taken after the burst ended (while the sampler was being stopped) are few; keep all
        await asyncio.sleep(0.5)
        after = worker_pids(master)
        rss_now = {pid: round(rss_mb(pid), 1) for pid in after}
        await asyncio.sleep(2.5)
        rss = {pid: round(rss_mb(pid), 1) for pid in after}
        if after != workers:
            print(f"WARNING: worker recycled during the run: {workers} -> {after}", file=sys.stderr)
    latencies = [s for s, _ in results]
    outcomes: dict[str, int] = {}
    for _, last in results:
        outcomes[last] = outcomes.get(last, 0) + 1
    return {
        "n": args.n,
        "text_seconds": args.text_seconds,
        "image_seconds": args.image_seconds,
        "alone_seconds": round(alone, 3),
        "alone_result": alone_result,
        "wall_seconds": round(wall, 3),
        "outcomes": outcomes,
        "generation_p50": round(pct(latencies, 50), 3),
        "generation_p99": round(pct(latencies, 99), 3),
        "generation_max": round(max(latencies), 3),
        "login_idle_p50_ms": round(pct(idle_samples["login"], 50) * 1000, 1),
        "login_idle_p99_ms": round(pct(idle_samples["login"], 99) * 1000, 1),
        "login_p50_ms": round(pct(samples["login"], 50) * 1000, 1),
        "login_p99_ms": round(pct(samples["login"], 99) * 1000, 1),
        "login_max_ms": round(max(samples["login"]) * 1000, 1),
        "catalog_p50_ms": round(pct(samples["catalog"], 50) * 1000, 1),
        "catalog_p99_ms": round(pct(samples["catalog"], 99) * 1000, 1),
        "catalog_max_ms": round(max(samples["catalog"]) * 1000, 1),
        "samples": len(samples["login"]) + len(samples["catalog"]),
        "sample_errors": samples.get("errors", []),
        "worker_rss_mb_at_start": rss_start,
        "worker_rss_mb_after_one": rss_after_one,
        "worker_rss_mb_right_after": rss_now,
        "worker_rss_mb": rss,
        "worker_cpu_seconds": round(wcpu, 2),
        "worker_cpu_ms_per_sample_request": round(cpu_per_sample * 1000, 2),
        "worker_cpu_ms_per_generation": round(
            (wcpu - cpu_per_sample * (len(samples["login"]) + len(samples["catalog"]))) / args.n * 1000, 1),
        "loadgen_cpu_seconds": round(cpu, 2),
        "loadgen_cpu_share": round(cpu / wall, 2),
        "loadavg": os.getloadavg(),
    }


def start_server(tmp: Path, *, text_seconds: float, image_seconds: float, postgres: str = "",
                 log_level: str = "WARNING", app: str = "medipersona.asgi:app",
                 gunicorn_args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """Migrate a database in ``tmp`` (or ``postgres``) and start ONE gunicorn worker with the simulated provider;
    returns (the master process, base URL) once it answers /healthz. The log is ``tmp/server.log``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env.update({
        "MEDIPERSONA_DATA_DIR": str(tmp / "var"),
        "MEDIPERSONA_DATABASE_URL": postgres,
        "MEDIPERSONA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MEDIPERSONA_COOKIE_SECURE": "never",
        "MEDIPERSONA_TEXT_PROVIDER": "simulated",
        "MEDIPERSONA_IMAGE_PROVIDER": "simulated",
        "MEDIPERSONA_SIMULATED_TEXT_SECONDS": str(text_seconds),
        "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": str(image_seconds),
        "MEDIPERSONA_LOG_LEVEL": log_level,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    })
    (tmp / "metrics").mkdir()
    subprocess.run([str(BIN / "python"), "-m", "medipersona", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - the server writes into it until it stops
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "python:medipersona.ops.gunicorn_conf", app, "-w", "1",
         "--bind", f"127.0.0.1:{port}", *gunicorn_args],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            print((tmp / "server.log").read_text()[-3000:])
            server.kill()
            raise SystemExit("server did not start")
        time.sleep(0.2)


def profile_format(path: str) -> str:
    return {".json": "speedscope", ".txt": "raw"}.get(Path(path).suffix, "flamegraph")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="concurrent generations (default 200)")
    parser.add_argument("--text-seconds", type=float, default=3.0)
    parser.add_argument("--image-seconds", type=float, default=5.0)
    parser.add_argument("--postgres", default="", help="database URL (default: SQLite in the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server log)")
    parser.add_argument("--log-level", default="WARNING", help="server log level (INFO shows loop lag and "
                        "write-batch statistics at shutdown)")
    parser.add_argument("--profile", default="",
                        help="py-spy record the worker: .json speedscope, .txt collapsed stacks, else flamegraph SVG")
    parser.add_argument("--app", default="medipersona.asgi:app", help="ASGI app for gunicorn (experiments)")
    parser.add_argument("--sampler", default="", help=argparse.SUPPRESS)
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    parser.add_argument("--stop", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sampler:
        run_sampler(args.sampler, args.token, Path(args.out), Path(args.stop))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-"))
    server, base = start_server(tmp, text_seconds=args.text_seconds, image_seconds=args.image_seconds,
                                postgres=args.postgres, log_level=args.log_level, app=args.app)
    profiler = None
    try:
        workers = worker_pids(server.pid)
        if args.profile and workers:
            profiler = subprocess.Popen([str(BIN / "py-spy"), "record", "-o", args.profile, "-p", str(workers[0]),
                                         "-r", "250", "--nonblocking", "-f", profile_format(args.profile)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        result = asyncio.run(run(args, base, server.pid, tmp))
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    rss = max(result["worker_rss_mb"].values() or [float("nan")])
    checks = {
        f"{args.n} done <= 6 s wall": result["wall_seconds"] <= 6.0 and result["outcomes"].get("done") == args.n,
        "one alone <= 5.2 s": result["alone_seconds"] <= 5.2,
        "p99 login <= 100 ms": result["login_p99_ms"] <= 100,
        "p99 catalog <= 100 ms": result["catalog_p99_ms"] <= 100,
        "worker RSS <= 130 MB": rss <= 130,
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
