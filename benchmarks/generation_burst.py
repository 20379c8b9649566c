"""Generation burst: N concurrent persona generations on ONE gunicorn worker, logins sampled meanwhile.

    .venv/bin/python benchmarks/generation_burst.py            # openai row + simulated row, 200 each
    .venv/bin/python benchmarks/generation_burst.py --provider openai -n 50 [--chunks 150] [--postgres URL]

What it does, once per provider of ``--provider`` (default ``openai,simulated``):
1. Makes a temporary data dir, migrates it (``medipersona migrate``) and starts
   ``gunicorn -c python:medipersona.ops.gunicorn_conf medipersona.asgi:app -w 1`` with
   - ``openai``: ``MEDIPERSONA_TEXT_PROVIDER=openai`` / ``IMAGE_PROVIDER=openai`` and ``OPENAI_BASE_URL`` at a
     local OpenAI-compatible stand-in (``benchmarks/openai_standin.py``, its own process, so its CPU is not the
     worker's): the official SDK, structured outputs, text streamed in ``--chunks`` chunks over
     ``--text-seconds``, a base64 PNG after ``--image-seconds``;
   - ``simulated``: the simulated provider (``MEDIPERSONA_SIMULATED_TEXT_SECONDS`` / ``_IMAGE_SECONDS``).
2. Logs in through ``POST /api/auth/token`` (bearer token).
3. The worker's FIRST generation (nothing else warmed): ``POST /api/personas`` then the SSE stream
   ``GET /api/personas/{id}/events`` until ``done`` (latency = POST sent → ``done`` received).
4. The burst: N clients at once, each POSTs and follows its own SSE stream to ``done`` (SSE, not polling).
   Meanwhile a sampler requests ``GET /login`` and ``GET /api/catalog`` back to back on its own connections.
5. Reports wall time, latencies (p50/p99), the worker's RSS (/proc/<pid>/status VmRSS) idle at start and after
   the burst, the worker's CPU per generation, the load generator's own CPU use (to show it is not the
   bottleneck) and the box's load average; at the end a Markdown table with one row per provider.

Targets (issues 3 and 15): 200 done <= 6 s wall; the first generation <= 5.2 s; p99 login/catalog <= 100 ms
during the burst; worker RSS <= 130 MB after the burst, <= 90 MB idle; worker CPU per generation <= 10 ms (goal).
``--profile FILE`` records the worker with py-spy (``pip install py-spy``); ``--cprofile FILE`` makes the worker
write a cProfile of its event-loop thread (``MEDIPERSONA_CPROFILE``, see ``benchmarks/cprofile_worker.py``).
``--jemalloc`` runs the worker on jemalloc instead of Python's own small-object allocator (docs/deployment.md).
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
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
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


def thread_cpu(pid: int) -> dict[int, tuple[float, float]]:
    """(user, system) CPU seconds of each thread of a process."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) / tick, int(fields[12]) / tick)
    return out


async def loop_busy_series(pid: int, stop: asyncio.Event, out: list[float], own: list[float],
                           step: float = 0.25) -> None:
    """The worker's event-loop thread CPU per ``step`` seconds (fraction of one core) until ``stop``: when in
    the burst the loop is saturated; ``own``: the same for this load generator (is it the bottleneck?)."""
    def loop_cpu() -> float:
        user, system = thread_cpu(pid).get(pid, (0.0, 0.0))
        return user + system

    last, own_last, t_last = loop_cpu(), time.process_time(), time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(step)
        now, own_now, t_now = loop_cpu(), time.process_time(), time.perf_counter()
        out.append(round((now - last) / (t_now - t_last), 2))
        own.append(round((own_now - own_last) / (t_now - t_last), 2))
        last, own_last, t_last = now, own_now, t_now


def split_cpu(pid: int, before: dict, after: dict) -> dict[str, float]:
    """Where a worker's CPU went between two ``thread_cpu`` snapshots: the event loop's thread (the main one)
    and all the others (database driver threads, render and thread-pool threads), user and system time."""
    out = {"loop_user": 0.0, "loop_system": 0.0, "other_threads_user": 0.0, "other_threads_system": 0.0}
    for tid, (user, system) in after.items():
        user0, system0 = before.get(tid, (0.0, 0.0))
        key = "loop" if tid == pid else "other_threads"
        out[f"{key}_user"] += user - user0
        out[f"{key}_system"] += system - system0
    return {k: round(v, 2) for k, v in out.items()}


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


async def follow(client: httpx.AsyncClient, headers: dict, seed: int,
                 marks: dict[str, list[float]] | None = None) -> tuple[float, str]:
    """POST a generation and follow its SSE stream to the end. Returns (seconds, final event); ``marks`` gets
    the time.time() of the POST's answer and of the final event."""
    started = time.perf_counter()
    r = await client.post("/api/personas", json={**BODY, "seed": seed}, headers=headers)
    if marks is not None:
        marks.setdefault("post_answered", []).append(time.time())
    if r.status_code != 202:
        return time.perf_counter() - started, f"http {r.status_code}: {r.text[:200]}"
    pid = r.json()["id"]
    last = await sse_until_final(client.base_url.host, client.base_url.port, f"/api/personas/{pid}/events",
                                 headers["Authorization"])
    if marks is not None:
        marks.setdefault("done_received", []).append(time.time())
    return time.perf_counter() - started, last


def critical_path(started: float, client_marks: dict[str, list[float]], standin_marks: dict[str, list[float]]
                  ) -> dict[str, list[float]]:
    """Seconds after the burst started (min, p50, max) at which the POSTs were answered, the image requests
    and the text requests reached the provider, its image answers left, and the final events arrived: where
    a burst's wall time above the 5 s image call goes."""
    out: dict[str, list[float]] = {}
    for name, values in (("post_answered", client_marks.get("post_answered", [])),
                         ("text_request_arrived", standin_marks.get("text_arrived", [])),
                         ("image_request_arrived", standin_marks.get("image_arrived", [])),
                         ("image_answered", standin_marks.get("image_answered", [])),
                         ("done_received", client_marks.get("done_received", []))):
        rel = sorted(v - started for v in values if v >= started)
        if rel:
            out[name] = [round(rel[0], 3), round(pct(rel, 50), 3), round(rel[-1], 3)]
    return out


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
    # --token=...: a token may begin with "-", which argparse would take for an option (the run then failed)
    return subprocess.Popen([sys.executable, __file__, "--sampler", base, f"--token={token}", "--out", str(out),
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
    kept = {k: [lat for t, lat in v if began <= t <= ended] for k, v in raw.items()}
    # When the slowest samples were sent (seconds into the burst): which phase of it made others wait
    kept["slowest"] = sorted(((round(lat * 1000, 1), round(t - began, 2), k) for k, v in raw.items()
                              if k in ("login", "catalog") for t, lat in v if began <= t <= ended), reverse=True)[:6]
    return kept, result


async def run(args: argparse.Namespace, base: str, master: int, tmp: Path) -> dict:
    limits = httpx.Limits(max_connections=args.n * 2 + 20, max_keepalive_connections=args.n * 2 + 20)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        token = (await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
                 ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        workers = worker_pids(master)
        rss_start = {pid: round(rss_mb(pid), 1) for pid in workers}
        # The worker's first generation: nothing warmed by the load generator (the worker warms itself at start:
        # its routes, the configured provider's SDK and client).
        alone, alone_result = await follow(client, headers, 1)
        rss_after_one = {pid: round(rss_mb(pid), 1) for pid in workers}
        await client.get("/login")
        await client.get("/api/catalog", headers=headers)
        second, second_result = await follow(client, headers, 2)

        workers = worker_pids(master)
        marks: dict[str, Any] = {}
        client_marks: dict[str, list[float]] = {}
        busy: list[float] = []
        own_busy: list[float] = []

        async def idle_period() -> None:
            marks["icpu0"] = sum(cpu_seconds(p) for p in workers)
            await asyncio.sleep(2.0)
            marks["icpu1"] = sum(cpu_seconds(p) for p in workers)

        idle_samples, _ = await sampled(base, token, tmp, "idle", idle_period)
        idle_count = len(idle_samples["login"]) + len(idle_samples["catalog"])
        cpu_per_sample = (marks["icpu1"] - marks["icpu0"]) / max(1, idle_count)

        async def burst():
            wcpu0 = sum(cpu_seconds(p) for p in workers)
            threads0 = thread_cpu(workers[0]) if workers else {}
            cpu0, t0 = time.process_time(), time.perf_counter()
            marks["t0_epoch"] = time.time()
            stop_series = asyncio.Event()
            series = asyncio.create_task(loop_busy_series(workers[0], stop_series, busy, own_busy)) if workers else None
            results = await asyncio.gather(*(follow(client, headers, 1000 + i, client_marks)
                                             for i in range(args.n)))
            marks["wall"] = time.perf_counter() - t0
            marks["cpu"] = time.process_time() - cpu0
            stop_series.set()  # after the wall time is taken: the series notices it within one step (0.25 s)
            if series is not None:
                await series
            marks["wcpu"] = sum(cpu_seconds(p) for p in workers) - wcpu0
            marks["threads"] = split_cpu(workers[0], threads0, thread_cpu(workers[0])) if workers else {}
            return results

        samples, results = await sampled(base, token, tmp, "burst", burst)
        wall, cpu, wcpu = marks["wall"], marks["cpu"], marks["wcpu"]
        # samples taken after the burst ended (while the sampler was being stopped) are few; keep all
        await asyncio.sleep(0.5)
        after = worker_pids(master)
        rss_now = {pid: round(rss_mb(pid), 1) for pid in after}
        await asyncio.sleep(2.5)
        rss = {pid: round(rss_mb(pid), 1) for pid in after}
        await asyncio.sleep(5.0)  # past the HTTP clients' keep-alive expiry (5 s): pooled connections closed
        rss_later = {pid: round(rss_mb(pid), 1) for pid in after}
        if after != workers:
            print(f"WARNING: worker recycled during the run: {workers} -> {after}", file=sys.stderr)
        standin_marks = {}
        if getattr(args, "standin_url", ""):
            standin_marks = (await client.get(f"{args.standin_url}/counts", params={"marks": 1})).json()
    latencies = [s for s, _ in results]
    outcomes: dict[str, int] = {}
    for _, last in results:
        outcomes[last] = outcomes.get(last, 0) + 1
    return {
        "n": args.n,
        "text_seconds": args.text_seconds,
        "image_seconds": args.image_seconds,
        "provider": args.provider,
        "alone_seconds": round(alone, 3),
        "alone_result": alone_result,
        "second_alone_seconds": round(second, 3),
        "second_alone_result": second_result,
        "wall_seconds": round(wall, 3),
        "critical_path_s": critical_path(marks["t0_epoch"], client_marks, standin_marks),
        "loop_busy_per_250ms": busy,
        "loadgen_busy_per_250ms": own_busy,
        "burst_started_epoch": marks["t0_epoch"],
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
        "slowest_samples_ms_at_s": samples["slowest"],
        "sample_errors": samples.get("errors", []),
        "worker_rss_mb_at_start": rss_start,
        "worker_rss_mb_after_one": rss_after_one,
        "worker_rss_mb_right_after": rss_now,
        "worker_rss_mb": rss,
        "worker_rss_mb_8s_after": rss_later,
        "worker_cpu_seconds": round(wcpu, 2),
        "worker_cpu_by_thread": marks.get("threads", {}),
        "worker_cpu_ms_per_sample_request": round(cpu_per_sample * 1000, 2),
        "worker_cpu_ms_per_generation": round(
            (wcpu - cpu_per_sample * (len(samples["login"]) + len(samples["catalog"]))) / args.n * 1000, 1),
        "loadgen_cpu_seconds": round(cpu, 2),
        "loadgen_cpu_share": round(cpu / wall, 2),
        "loadavg": os.getloadavg(),
    }


def start_server(tmp: Path, *, text_seconds: float, image_seconds: float, postgres: str = "",
                 log_level: str = "WARNING", app: str = "medipersona.asgi:app",
                 gunicorn_args: tuple[str, ...] = (), provider: str = "simulated", openai_base_url: str = "",
                 extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Migrate a database in ``tmp`` (or ``postgres``) and start ONE gunicorn worker with ``provider`` for text
    and images (``openai``: pointed at ``openai_base_url``, e.g. the stand-in's ``.../v1``); returns (the master
    process, base URL) once it answers /healthz. The log is ``tmp/server.log``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIPERSONA_", "OPENAI_"))}
    env.update({
        "MEDIPERSONA_DATA_DIR": str(tmp / "var"),
        "MEDIPERSONA_DATABASE_URL": postgres,
        "MEDIPERSONA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MEDIPERSONA_COOKIE_SECURE": "never",
        # The burst is one user's token standing in for 200 people: lift the per-user caps on open event
        # streams (20: 180 streams would get 429) and on running jobs (8: the rest would queue behind them).
        "MEDIPERSONA_SSE_MAX_STREAMS_PER_USER": "0",
        "MEDIPERSONA_JOB_MAX_RUNNING_PER_USER": "0",
        "MEDIPERSONA_TEXT_PROVIDER": provider,
        "MEDIPERSONA_IMAGE_PROVIDER": provider,
        "MEDIPERSONA_SIMULATED_TEXT_SECONDS": str(text_seconds),
        "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": str(image_seconds),
        "MEDIPERSONA_LOG_LEVEL": log_level,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    })
    if provider == "openai":
        env.update({"OPENAI_API_KEY": "bench-key-not-secret", "OPENAI_BASE_URL": openai_base_url})
    env.update(extra_env or {})
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


# The allocator option of docs/deployment.md ("Worker memory: jemalloc"), measured in docs/benchmarks.md: every
# Python object through jemalloc, which gives freed pages back ~0.5 s later from its own thread, instead of
# pymalloc's 1 MiB arenas, which a single surviving object keeps.
JEMALLOC_CONF = "narenas:1,background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0"


def jemalloc_env() -> dict[str, str]:
    import ctypes.util

    library = ctypes.util.find_library("jemalloc")
    if not library:
        raise SystemExit("--jemalloc: libjemalloc is not installed (Debian: apt-get install libjemalloc2)")
    return {"LD_PRELOAD": library, "PYTHONMALLOC": "malloc", "MALLOC_CONF": JEMALLOC_CONF}


def run_provider(args: argparse.Namespace, provider: str) -> dict:
    """One row: a fresh data dir and server (and, for ``openai``, a fresh stand-in process)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"mp-bench-{provider}-"))
    standin = None
    extra_env = {}
    if args.jemalloc:
        extra_env.update(jemalloc_env())
    if args.cprofile:
        extra_env["MEDIPERSONA_CPROFILE"] = str(Path(f"{args.cprofile}.{provider}").resolve())
        extra_env["PYTHONPATH"] = os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH", "")) if x)
    try:
        base_url = ""
        if provider == "openai":
            from benchmarks.openai_standin import start_standin

            standin, url = start_standin(free_port(), text_seconds=args.text_seconds,
                                         image_seconds=args.image_seconds, chunks=args.chunks)
            base_url = f"{url}/v1"
        app = "benchmarks.cprofile_worker:app" if args.cprofile else args.app
        server, base = start_server(tmp, text_seconds=args.text_seconds, image_seconds=args.image_seconds,
                                    postgres=args.postgres, log_level=args.log_level, app=app,
                                    provider=provider, openai_base_url=base_url, extra_env=extra_env)
        profiler = None
        try:
            workers = worker_pids(server.pid)
            if args.profile and workers:
                profiler = subprocess.Popen([str(BIN / "py-spy"), "record", "-o", f"{args.profile}.{provider}",
                                             "-p", str(workers[0]), "-r", "250", "--nonblocking",
                                             "-f", profile_format(args.profile),
                                             # speedscope keeps the samples in time order: with the idle ones
                                             # too, a sample's index tells when in the run it was taken
                                             *(["--idle"] if profile_format(args.profile) == "speedscope" else [])],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            standin_cpu0 = cpu_seconds(standin.pid) if standin is not None else 0.0
            result = asyncio.run(run(argparse.Namespace(**{**vars(args), "provider": provider,
                                                            "standin_url": base_url.removesuffix("/v1")}),
                                     base, server.pid, tmp))
            if standin is not None:  # its own process: not the worker's CPU, but on the same cores
                result["standin_cpu_seconds"] = round(cpu_seconds(standin.pid) - standin_cpu0, 2)
            result["timings"] = persona_timings(tmp) if not args.postgres else {}
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        if standin is not None:
            standin.send_signal(signal.SIGTERM)
            try:
                standin.wait(30)
            except subprocess.TimeoutExpired:
                standin.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)
    if provider == "openai":
        result["chunks"] = args.chunks
    return result


def persona_timings(tmp: Path) -> dict[str, list[float]]:
    """min / median / max of the personas' own timings (queued, load, text, image, total), from the database."""
    import sqlite3
    import statistics

    path = tmp / "var" / "medipersona.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as conn:
        rows = [json.loads(r[0]) for r in conn.execute("SELECT timings FROM personas") if r[0]]
    out = {}
    for key in ("queued_seconds", "load_seconds", "text_first_progress_seconds", "text_seconds", "image_seconds",
                "total_seconds"):
        values = [t[key] for t in rows if isinstance(t.get(key), (int, float))]
        if values:
            out[key] = [round(min(values), 2), round(statistics.median(values), 2), round(max(values), 2)]
    return out


def checks_for(result: dict, n: int) -> dict[str, bool]:
    rss = max(result["worker_rss_mb"].values() or [float("nan")])
    idle = max(result["worker_rss_mb_at_start"].values() or [float("nan")])
    return {
        f"{n} done <= 6 s wall": result["wall_seconds"] <= 6.0 and result["outcomes"].get("done") == n,
        "first generation <= 5.2 s": result["alone_seconds"] <= 5.2 and result["alone_result"] == "done",
        "p99 login <= 100 ms": result["login_p99_ms"] <= 100,
        "p99 catalog <= 100 ms": result["catalog_p99_ms"] <= 100,
        "worker RSS after the burst <= 130 MB": rss <= 130,
        "idle worker RSS <= 90 MB": idle <= 90,
        "worker CPU per generation <= 10 ms (goal)": result["worker_cpu_ms_per_generation"] <= 10,
    }


def table(results: list[dict]) -> str:
    """The Markdown table of docs/benchmarks.md: one row per provider."""
    def mb(values: dict) -> str:
        return f"{max(values.values() or [float('nan')]):.1f}"

    lines = ["| provider | N done, wall | first generation | login p50 / p99 | catalog p50 / p99 | "
             "generation p50 / p99 | worker RSS idle → after one → 0.5 s after → 3 s after | "
             "worker CPU per generation | load generator | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        name = r["provider"] + (f" ({r['chunks']} chunks)" if r.get("chunks") else "") + (
            ", jemalloc" if r.get("allocator") == "jemalloc" else "")
        lines.append(
            f"| {name} | {r['outcomes'].get('done', 0)}/{r['n']}, **{r['wall_seconds']:.2f} s** | "
            f"**{r['alone_seconds']:.2f} s** (then {r['second_alone_seconds']:.2f} s) | "
            f"{r['login_p50_ms']:.1f} / **{r['login_p99_ms']:.1f} ms** | "
            f"{r['catalog_p50_ms']:.1f} / **{r['catalog_p99_ms']:.1f} ms** | "
            f"{r['generation_p50']:.2f} / {r['generation_p99']:.2f} s | "
            f"**{mb(r['worker_rss_mb_at_start'])}** → {mb(r['worker_rss_mb_after_one'])} → "
            f"{mb(r['worker_rss_mb_right_after'])} → **{mb(r['worker_rss_mb'])} MB** "
            f"({mb(r['worker_rss_mb_8s_after'])} MB 8 s after) | "
            f"**{r['worker_cpu_ms_per_generation']:.1f} ms** | {r['loadgen_cpu_share']:.2f} core | "
            f"{r['loadavg_before'][0]:.2f} → {r['loadavg'][0]:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="concurrent generations (default 200)")
    parser.add_argument("--provider", default="openai,simulated",
                        help="comma-separated rows: openai (local stand-in), simulated (default: both)")
    parser.add_argument("--text-seconds", type=float, default=3.0)
    parser.add_argument("--image-seconds", type=float, default=5.0)
    parser.add_argument("--chunks", type=int, default=15,
                        help="openai: content chunks per streamed answer (the simulated provider sends 15)")
    parser.add_argument("--postgres", default="", help="database URL (default: SQLite in the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server log)")
    parser.add_argument("--log-level", default="WARNING", help="server log level (INFO shows loop lag and "
                        "write-batch statistics at shutdown)")
    parser.add_argument("--profile", default="",
                        help="py-spy record the worker: .json speedscope, .txt collapsed stacks, else flamegraph SVG")
    parser.add_argument("--cprofile", default="",
                        help="cProfile the worker's event-loop thread from its start to its stop; writes "
                             "FILE.<provider> (pstats) and prints the top functions")
    parser.add_argument("--jemalloc", action="store_true",
                        help="run the worker on jemalloc (LD_PRELOAD, PYTHONMALLOC=malloc, MALLOC_CONF="
                             f"{JEMALLOC_CONF}); the rows are labelled 'jemalloc'")
    parser.add_argument("--json", default="", help="also write the results here")
    parser.add_argument("--app", default="medipersona.asgi:app", help="ASGI app for gunicorn (experiments)")
    parser.add_argument("--sampler", default="", help=argparse.SUPPRESS)
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    parser.add_argument("--stop", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sampler:
        run_sampler(args.sampler, args.token, Path(args.out), Path(args.stop))
        return 0

    results = []
    ok = True
    for provider in [p.strip() for p in args.provider.split(",") if p.strip()]:
        before = os.getloadavg()
        result = run_provider(args, provider)
        result["loadavg_before"] = before
        result["allocator"] = "jemalloc" if args.jemalloc else "pymalloc"
        results.append(result)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        for name, passed in checks_for(result, args.n).items():
            ok = ok and (passed or "(goal)" in name)
            print(f"{'PASS' if passed else 'FAIL'}  {provider}: {name}")
        if args.cprofile:
            from benchmarks.cprofile_worker import summary

            print(summary(f"{args.cprofile}.{provider}", args.n))
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(table(results))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
