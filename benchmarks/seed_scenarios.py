"""The seed's scenarios, measured: 1 and 3 gunicorn workers × 10 / 50 / 200 concurrent persona generations.

    .venv/bin/python benchmarks/seed_scenarios.py                       # the full matrix (a few minutes)
    .venv/bin/python benchmarks/seed_scenarios.py --workers 1 --concurrency 10 --json /tmp/out.json
    .venv/bin/python benchmarks/seed_scenarios.py --provider openai     # the openai provider (official SDK)

Each scenario starts a fresh server (``gunicorn -c python:medipersona.ops.gunicorn_conf --workers W``, a temporary
SQLite database, the **simulated** provider: text streamed over 3 s, portrait after 5 s — the seed's profile of an
app that waits on AI APIs; with ``--provider openai`` the real ``openai`` provider against the local
OpenAI-compatible stand-in of ``benchmarks/openai_standin.py``, same timings, in its own process), then at once sends N ``POST /api/personas`` (202) and follows each generation over its
SSE stream (``/api/personas/{id}/events``, read over bare asyncio connections so that the load generator stays
cheap) until ``done``, reconnecting with ``Last-Event-ID`` like a browser if a stream breaks. Meanwhile a separate
process loads the login page every 100 ms. Measured:

* wall time from the first POST to the last ``done``;
* generation latency (POST sent -> ``done`` received), p50 / p95, and time to the first streamed text;
* login-page latency during the burst, p50 / p99 (and before it, idle);
* memory per worker: peak RSS of each worker process (from /proc), the largest and the sum.

The seed's model for comparison: "3 workers = 3 concurrent generations", so N generations of max(3 s, 5 s) each
take ceil(N / W) × 5 s.

The client runs on the same box as the server: on a shared machine its CPU use competes with the workers. The
machine's load average is recorded before and after each scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from medipersona.ops.probe import ProbeServer, generation_payload

TERMINAL_EVENTS = {"done", "error"}


@dataclass
class Result:
    workers: int
    concurrency: int
    text_seconds: float
    image_seconds: float
    wall_seconds: float = 0.0
    done: int = 0
    failed: int = 0
    latency_p50: float = 0.0
    latency_p95: float = 0.0
    latency_max: float = 0.0
    first_text_p50: float | None = None
    post_p50: float = 0.0
    post_p95: float = 0.0
    database: str = "sqlite"
    provider: str = "simulated"
    login_idle_p50_ms: float = 0.0
    login_p50_ms: float = 0.0
    login_p99_ms: float = 0.0
    login_max_ms: float = 0.0
    login_samples: int = 0
    login_errors: int = 0
    rss_idle_mb: dict[str, float] = field(default_factory=dict)
    rss_peak_mb: dict[str, float] = field(default_factory=dict)
    rss_peak_max_mb: float = 0.0
    rss_peak_sum_mb: float = 0.0
    seed_model_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    loop_lag_p99_s: float | None = None
    loop_lag_over_half_s: int = 0
    client_cpu_seconds: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    killed_worker: int | None = None
    sse_reconnects: int = 0
    errors: list[str] = field(default_factory=list)


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (and their waited-for children), from /proc/<pid>/stat."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def lag_buckets(text: str) -> dict[float, float]:
    """medipersona_event_loop_lag_seconds buckets summed over workers, from a /metrics scrape."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("medipersona_event_loop_lag_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float(le)] = out.get(float(le), 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


async def follow(client: httpx.AsyncClient, payload: dict, start_gate: asyncio.Event,
                 accepted: list[float] | None = None) -> tuple[str, float, float | None]:
    """POST one generation and read its SSE stream to the end: (outcome, latency, time to first text)."""
    await start_gate.wait()
    t0 = time.perf_counter()
    response = await client.post("/api/personas", json=payload)
    if accepted is not None:
        accepted.append(time.perf_counter() - t0)
    if response.status_code != 202:
        return f"http_{response.status_code}", time.perf_counter() - t0, None
    url = response.json()["events_url"]
    first_text = None
    event = ""
    last_id = ""
    for _attempt in range(20):  # like EventSource: reconnect with Last-Event-ID when the stream breaks
        try:
            event, first, last_id = await sse_follow(client.base_url.host, client.base_url.port, url,
                                                     client.headers["Authorization"], last_id)
        except OSError:
            event, first = "", None
        if first_text is None and first is not None:
            first_text = first - t0
        if event in TERMINAL_EVENTS:
            break
        RECONNECTS.append(1)
        await asyncio.sleep(0.5)
    return ("done" if event == "done" else event or "eof"), time.perf_counter() - t0, first_text


ID_RE = re.compile(rb"(?m)^id: (\d+)")
EVENT_RE = re.compile(rb"(?m)^event: (\w+)")


async def sse_follow(host: str, port: int, path: str, authorization: str, last_id: str
                     ) -> tuple[str, float | None, str]:
    """Read one SSE stream with a bare asyncio connection (httpx costs ~1 ms of client CPU per streamed chunk:
    with 200 streams the load generator would compete with the server for the same CPUs). Returns (last event
    seen, perf_counter of the first text event or None, last event id)."""
    reader, writer = await asyncio.open_connection(host, port)
    first_text = None
    event = ""
    try:
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {authorization}\r\n"
                   "Accept: text/event-stream\r\nConnection: close\r\n")
        if last_id:
            request += f"Last-Event-ID: {last_id}\r\n"
        writer.write((request + "\r\n").encode())
        await writer.drain()
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return event, first_text, last_id
            data = tail + chunk
            tail = data[-64:]
            if ids := ID_RE.findall(data):
                last_id = ids[-1].decode()
            for name in EVENT_RE.findall(data):
                event = name.decode()
                if first_text is None and event in ("delta", "section"):
                    first_text = time.perf_counter()
                if event in TERMINAL_EVENTS:
                    return event, first_text, last_id
    finally:
        writer.close()


RECONNECTS: list[int] = []


def login_probe_process(base_url: str, stop, interval: float, results) -> None:
    """Runs in its own process, so that the client's SSE parsing never delays the measured requests."""
    latencies: list[float] = []
    errors = 0
    with httpx.Client(base_url=base_url, timeout=60) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                r = c.get("/login")
                if r.status_code == 200:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            stop.wait(interval)
    results.put((latencies, errors))


async def rss_sampler(srv: ProbeServer, stop: asyncio.Event, peaks: dict[str, float]) -> None:
    while not stop.is_set():
        for pid, mb in (await asyncio.to_thread(srv.rss_mb)).items():
            peaks[str(pid)] = max(peaks.get(str(pid), 0.0), mb)
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except TimeoutError:
            pass


async def kill_one_worker(srv: ProbeServer, after: float, result: Result) -> None:
    """Like the OOM killer: SIGKILL one worker mid-burst (its jobs must be taken over by the others)."""
    await asyncio.sleep(after)
    pids = srv.worker_pids()
    if pids:
        result.killed_worker = pids[0]
        os.kill(pids[0], signal.SIGKILL)


async def drive(srv: ProbeServer, result: Result, login_interval: float, kill_after: float | None = None) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(connect=30, read=120, write=30, pool=120)
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=timeout, limits=limits) as c:
        token = (await c.post("/api/auth/token", json={"username": "admin", "password": srv.admin_password})).json()
        c.headers["Authorization"] = f"Bearer {token['access_token']}"
        catalog = (await c.get("/api/catalog")).json()
        # one generation to warm every code path (not measured)
        warm = asyncio.Event()
        warm.set()
        outcome, _, _ = await follow(c, generation_payload(catalog, 9999), warm)
        if outcome != "done":
            result.errors.append(f"warm-up generation: {outcome}")
        idle: list[float] = []
        async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as anonymous:
            for _ in range(20):
                t0 = time.perf_counter()
                await anonymous.get("/login")
                idle.append((time.perf_counter() - t0) * 1000)
        result.login_idle_p50_ms = round(statistics.median(idle), 1)
        result.rss_idle_mb = {str(pid): round(mb, 1) for pid, mb in srv.rss_mb().items()}

        stop = asyncio.Event()
        peaks: dict[str, float] = {}
        gate = asyncio.Event()
        sampler = asyncio.create_task(rss_sampler(srv, stop, peaks))
        ctx = multiprocessing.get_context("spawn")
        probe_stop, probe_results = ctx.Event(), ctx.Queue()
        prober = ctx.Process(target=login_probe_process, args=(srv.base_url, probe_stop, login_interval,
                                                                probe_results), daemon=True)
        prober.start()
        accepted: list[float] = []
        tasks = [asyncio.create_task(follow(c, generation_payload(catalog, i), gate, accepted))
                 for i in range(result.concurrency)]
        await asyncio.sleep(1.5)  # the probe process is up and measuring
        pids = srv.worker_pids()
        lag0 = lag_buckets((await c.get("/metrics")).text)
        cpu0, client0 = cpu_seconds(pids), time.process_time()
        t0 = time.perf_counter()
        gate.set()
        killer = asyncio.create_task(kill_one_worker(srv, kill_after, result)) if kill_after is not None else None
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        if killer is not None:
            await killer
        result.wall_seconds = round(time.perf_counter() - t0, 2)
        result.sse_reconnects = len(RECONNECTS)
        RECONNECTS.clear()
        result.server_cpu_seconds = round(cpu_seconds(pids) - cpu0, 2)
        result.client_cpu_seconds = round(time.process_time() - client0, 2)
        lag1 = lag_buckets((await c.get("/metrics")).text)
        delta = {le: lag1.get(le, 0.0) - lag0.get(le, 0.0) for le in lag1}
        if delta:
            from medipersona.ops.monitoring import histogram_quantile

            result.loop_lag_p99_s = histogram_quantile(0.99, delta)
            total = max(delta.values())
            result.loop_lag_over_half_s = int(total - delta.get(0.5, total))
        stop.set()
        probe_stop.set()
        login_ms, login_errors = await asyncio.to_thread(probe_results.get, True, 60)
        prober.join(10)
        await sampler

    latencies, firsts = [], []
    for item in outcomes:
        if isinstance(item, BaseException):
            result.failed += 1
            result.errors.append(f"{type(item).__name__}: {str(item)[:120]}")
            continue
        outcome, latency, first = item
        if outcome == "done":
            result.done += 1
            latencies.append(latency)
            if first is not None:
                firsts.append(first)
        else:
            result.failed += 1
            result.errors.append(outcome)
    result.post_p50 = round(pct(accepted, 0.50), 2)
    result.post_p95 = round(pct(accepted, 0.95), 2)
    result.latency_p50 = round(pct(latencies, 0.50), 2)
    result.latency_p95 = round(pct(latencies, 0.95), 2)
    result.latency_max = round(max(latencies, default=0.0), 2)
    result.first_text_p50 = round(pct(firsts, 0.50), 2) if firsts else None
    result.login_p50_ms = round(pct(login_ms, 0.50), 1)
    result.login_p99_ms = round(pct(login_ms, 0.99), 1)
    result.login_max_ms = round(max(login_ms, default=0.0), 1)
    result.login_samples = len(login_ms)
    result.login_errors = login_errors
    result.rss_peak_mb = {pid: round(mb, 1) for pid, mb in peaks.items()}
    result.rss_peak_max_mb = round(max(peaks.values(), default=0.0), 1)
    result.rss_peak_sum_mb = round(sum(peaks.values()), 1)
    # keep error list short
    if len(result.errors) > 10:
        result.errors = result.errors[:10] + [f"... {len(result.errors) - 10} more"]


def run_scenario(workers: int, concurrency: int, text_seconds: float, image_seconds: float,
                 login_interval: float, database_url: str = "", log_dir: Path | None = None,
                 kill_after: float | None = None, openai_base_url: str = "") -> Result:
    """``openai_base_url``: run the ``openai`` provider against that OpenAI-compatible server (the stand-in)
    instead of the simulated provider."""
    result = Result(workers, concurrency, text_seconds, image_seconds)
    result.seed_model_seconds = math.ceil(concurrency / workers) * max(text_seconds, image_seconds)
    provider = "openai" if openai_base_url else "simulated"
    result.provider = provider
    env = {
        "MEDIPERSONA_TEXT_PROVIDER": provider,
        "MEDIPERSONA_IMAGE_PROVIDER": provider,
        "MEDIPERSONA_SIMULATED_TEXT_SECONDS": str(text_seconds),
        "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": str(image_seconds),
        "MEDIPERSONA_LOG_LEVEL": "WARNING",
    }
    if openai_base_url:
        env.update({"OPENAI_API_KEY": "bench-key-not-secret", "OPENAI_BASE_URL": openai_base_url})
    dbname = None
    if database_url:  # a PostgreSQL server: a fresh database per scenario
        dbname = f"mp_bench_{uuid.uuid4().hex[:10]}"
        subprocess.run(["psql", database_url, "-qc", f'CREATE DATABASE "{dbname}"'], check=True,
                       capture_output=True)
        base = database_url.split("://", 1)[1].rsplit("/", 1)[0]
        env["MEDIPERSONA_DATABASE_URL"] = f"postgresql+asyncpg://{base}/{dbname}"
        result.database = "postgresql"
    result.load_before = tuple(round(x, 2) for x in os.getloadavg())
    try:
        log_path = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_path = log_dir / f"server-{result.database}-w{workers}-n{concurrency}.log"
        with ProbeServer(workers=workers, env=env, log_path=log_path) as srv:
            asyncio.run(drive(srv, result, login_interval, kill_after))
    finally:
        if dbname:
            subprocess.run(["psql", database_url, "-qc", f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'],
                           capture_output=True)
    result.load_after = tuple(round(x, 2) for x in os.getloadavg())
    return result


def markdown(results: list[Result]) -> str:
    lines = [
        "| provider | db | workers | concurrent generations | wall time | seed's model (ceil(N/W) × 5 s) | done / failed "
        "| generation p50 / p95 | POST 202 p50 / p95 | first text p50 | login page p50 / p99 (idle p50) | peak RSS per worker (max / sum) "
        "| server CPU (per generation) | event-loop lag p99 (ticks > 0.5 s) | load avg before → after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        first = f"{r.first_text_p50:.2f} s" if r.first_text_p50 is not None else "—"
        lines.append(
            f"| {r.provider} | {r.database} | {r.workers} | {r.concurrency} | {r.wall_seconds:.1f} s | {r.seed_model_seconds:.0f} s "
            f"| {r.done} / {r.failed} | {r.latency_p50:.2f} / {r.latency_p95:.2f} s "
            f"| {r.post_p50:.2f} / {r.post_p95:.2f} s | {first} "
            f"| {r.login_p50_ms:.0f} / {r.login_p99_ms:.0f} ms ({r.login_idle_p50_ms:.0f} ms) "
            f"| {r.rss_peak_max_mb:.0f} / {r.rss_peak_sum_mb:.0f} MB "
            f"| {r.server_cpu_seconds:.1f} s ({1000 * r.server_cpu_seconds / max(1, r.concurrency):.0f} ms) "
            f"| {_lag(r)} | {r.load_before[0]:.2f} → {r.load_after[0]:.2f} |")
    return "\n".join(lines)


def _lag(r: Result) -> str:
    if r.loop_lag_p99_s is None:
        return "—"
    return f"{r.loop_lag_p99_s * 1000:.0f} ms ({r.loop_lag_over_half_s})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--text-seconds", type=float, default=3.0)
    parser.add_argument("--image-seconds", type=float, default=5.0)
    parser.add_argument("--login-interval", type=float, default=0.1, help="seconds between login-page loads")
    parser.add_argument("--postgres", default="", metavar="ADMIN_URL",
                        help="run on PostgreSQL: an admin URL (postgresql://postgres@127.0.0.1:5432/postgres); a "
                        "database is created and dropped per scenario (default: a temporary SQLite file)")
    parser.add_argument("--kill-worker-after", type=float, default=None, metavar="S",
                        help="SIGKILL one worker S seconds into each burst (OOM-kill drill)")
    parser.add_argument("--keep-logs", type=Path, default=None, metavar="DIR", help="keep the server logs here")
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    parser.add_argument("--provider", choices=("simulated", "openai"), default="simulated",
                        help="openai: the real openai provider (official SDK) against the local OpenAI-compatible "
                        "stand-in of benchmarks/openai_standin.py, in its own process (text streamed over "
                        "--text-seconds, image after --image-seconds)")
    args = parser.parse_args(argv)

    results: list[Result] = []
    print(f"# seed scenarios on {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    standin, openai_base_url = None, ""
    if args.provider == "openai":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from benchmarks.generation_burst import free_port
        from benchmarks.openai_standin import start_standin

        standin, url = start_standin(free_port(), text_seconds=args.text_seconds, image_seconds=args.image_seconds)
        openai_base_url = f"{url}/v1"
    try:
        for workers in args.workers:
            for n in args.concurrency:
                r = run_scenario(workers, n, args.text_seconds, args.image_seconds, args.login_interval,
                                 args.postgres, args.keep_logs, args.kill_worker_after, openai_base_url)
                results.append(r)
                print(json.dumps(asdict(r), ensure_ascii=False), flush=True)
    finally:
        if standin is not None:
            standin.terminate()
            standin.wait(30)
    print()
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2))
    return 0 if all(r.failed == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
