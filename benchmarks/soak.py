"""Soak: a steady mix of generations, page views and exports on ONE gunicorn worker for a long while; does
memory creep, do latencies drift?

    .venv/bin/python benchmarks/soak.py                      # 10 minutes, SQLite, text 3 s / image 5 s
    .venv/bin/python benchmarks/soak.py --minutes 10 --postgres postgresql+asyncpg://postgres@127.0.0.1/mp_soak

The mix, held every second for ``--minutes``:
- ``--generations-per-second`` generations (default 1): POST, then the SSE stream to ``done``;
- ``--views-per-second`` page views (default 4): the dashboard, the history, a persona page, its JSON, its
  portrait (WebP, then a 304 revalidation) in turn, on personas made so far;
- one export every ``--export-every`` seconds (default 15): PDF and PPTX in turn.

The worker is not recycled during the run (``--max-requests 0``: a leak must show, not be restarted away).
Every ``--interval`` seconds (default 60) it prints the worker's RSS (/proc VmRSS) and the latency percentiles
of the requests that ended in that interval; at the end, the RSS growth from the end of the first interval
(warm: caches and pools filled) to the end, the goal being <= 10 %, and the box's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
from generation_burst import ADMIN_PASSWORD, BODY, pct, rss_mb, sse_until_final, start_server, worker_pids

RSS_GROWTH_GOAL = 0.10


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def take(self) -> tuple[dict[str, list[float]], dict[str, int]]:
        latencies, errors = self.latencies, self.errors
        self.latencies, self.errors = defaultdict(list), defaultdict(int)
        return latencies, errors

    async def timed(self, kind: str, call) -> object:
        started = time.perf_counter()
        try:
            result = await call
        except Exception:  # noqa: BLE001 - an error is a data point of the soak, not its end
            self.errors[kind] += 1
            return None
        self.latencies[kind].append(time.perf_counter() - started)
        return result


async def generate(client: httpx.AsyncClient, headers: dict, seed: int, made: list[str], rec: Recorder) -> None:
    started = time.perf_counter()
    try:
        response = await client.post("/api/personas", json={**BODY, "seed": seed}, headers=headers)
        if response.status_code != 202:
            rec.errors["generation"] += 1
            return
        pid = response.json()["id"]
        final = await sse_until_final(client.base_url.host, client.base_url.port, f"/api/personas/{pid}/events",
                                      headers["Authorization"])
    except (httpx.HTTPError, OSError):
        rec.errors["generation"] += 1
        return
    if final != "done":
        rec.errors["generation"] += 1
        return
    rec.latencies["generation"].append(time.perf_counter() - started)
    made.append(pid)


async def view(client: httpx.AsyncClient, headers: dict, step: int, made: list[str], rec: Recorder) -> None:
    pid = made[step % len(made)] if made else None
    kind = ("dashboard", "history", "persona_page", "persona_json", "portrait")[step % 5]
    if pid is None and kind not in ("dashboard", "history"):
        kind = "dashboard"
    path = {"dashboard": "/", "history": "/personas", "persona_page": f"/personas/{pid}",
            "persona_json": f"/api/personas/{pid}"}.get(kind)
    if kind == "portrait":
        persona = (await client.get(f"/api/personas/{pid}", headers=headers)).json()
        if not persona.get("image_url"):
            return
        response = await rec.timed("portrait", client.get(persona["image_url"], headers={"Accept": "image/webp"}))
        if response is not None and response.status_code == 200:
            await rec.timed("portrait_304", client.get(persona["image_url"], headers={
                "Accept": "image/webp", "If-None-Match": response.headers["etag"]}))
        return
    response = await rec.timed(kind, client.get(path, headers=headers))
    if response is not None and response.status_code != 200:
        rec.errors[kind] += 1


async def export(client: httpx.AsyncClient, headers: dict, step: int, made: list[str], rec: Recorder) -> None:
    if not made:
        return
    fmt = ("pdf", "pptx")[step % 2]
    response = await rec.timed(f"export_{fmt}", client.get(f"/api/personas/{made[-1]}/export.{fmt}",
                                                           headers=headers))
    if response is not None and response.status_code != 200:
        rec.errors[f"export_{fmt}"] += 1


def row(interval: int, rss: float, latencies: dict[str, list[float]], errors: dict[str, int]) -> dict:
    out: dict = {"minute": interval, "rss_mb": round(rss, 1), "errors": dict(errors)}
    for kind, values in sorted(latencies.items()):
        out[kind] = {"n": len(values), "p50_ms": round(pct(values, 50) * 1000),
                     "p95_ms": round(pct(values, 95) * 1000), "p99_ms": round(pct(values, 99) * 1000)}
    return out


async def soak(args: argparse.Namespace, base: str, master: int) -> dict:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    rec = Recorder()
    made: list[str] = []
    tasks: set[asyncio.Task] = set()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        token = (await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
                 ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        worker = worker_pids(master)[0]
        rows: list[dict] = []
        rss_start = rss_mb(worker)
        started = time.monotonic()
        end = started + args.minutes * 60
        next_report = started + args.interval
        seeds, steps, exports = itertools.count(1), itertools.count(), itertools.count()
        tick = 0
        while time.monotonic() < end:
            tick_started = time.monotonic()
            for _ in range(int(args.generations_per_second)):
                tasks.add(asyncio.create_task(generate(client, headers, next(seeds), made, rec)))
            for _ in range(int(args.views_per_second)):
                tasks.add(asyncio.create_task(view(client, headers, next(steps), made, rec)))
            if tick % args.export_every == 0:
                tasks.add(asyncio.create_task(export(client, headers, next(exports), made, rec)))
            tasks = {t for t in tasks if not t.done()}
            tick += 1
            if time.monotonic() >= next_report:
                latencies, errors = rec.take()
                rows.append(row(len(rows) + 1, rss_mb(worker), latencies, errors))
                print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
                next_report += args.interval
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick_started)))
        await asyncio.gather(*tasks, return_exceptions=True)
        latencies, errors = rec.take()
        if any(latencies.values()) or errors:
            rows.append(row(len(rows) + 1, rss_mb(worker), latencies, errors))
    warm = rows[0]["rss_mb"]
    final = rows[-1]["rss_mb"]
    return {"minutes": args.minutes, "generations": len(made), "rss_start_mb": round(rss_start, 1),
            "rss_warm_mb": warm, "rss_end_mb": final, "rss_peak_mb": max(r["rss_mb"] for r in rows),
            "rss_growth": round((final - warm) / warm, 3), "rows": rows, "loadavg": os.getloadavg()}


def markdown(result: dict) -> str:
    kinds = ["generation", "persona_page", "history", "portrait", "export_pdf", "export_pptx"]
    lines = ["| minute | worker RSS (MB) | " + " | ".join(f"{k} p50 / p95 (ms)" for k in kinds) + " | errors |",
             "|---|---|" + "---|" * len(kinds) + "---|"]
    for r in result["rows"]:
        cells = [f"{r[k]['p50_ms']} / {r[k]['p95_ms']}" if k in r else "—" for k in kinds]
        lines.append(f"| {r['minute']} | {r['rss_mb']} | " + " | ".join(cells) + f" | {sum(r['errors'].values())} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between report rows")
    parser.add_argument("--generations-per-second", type=float, default=1.0)
    parser.add_argument("--views-per-second", type=float, default=4.0)
    parser.add_argument("--export-every", type=int, default=15, help="seconds between exports")
    parser.add_argument("--text-seconds", type=float, default=3.0)
    parser.add_argument("--image-seconds", type=float, default=5.0)
    parser.add_argument("--postgres", default="", help="database URL (default: SQLite in the temp dir)")
    parser.add_argument("--json", default="", help="also write the result here")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mp-soak-"))
    server, base = start_server(tmp, text_seconds=args.text_seconds, image_seconds=args.image_seconds,
                                postgres=args.postgres, gunicorn_args=("--max-requests", "0"))
    try:
        result = asyncio.run(soak(args, base, server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(markdown(result))
    summary = {k: v for k, v in result.items() if k != "rows"}
    print(json.dumps(summary, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2))
    ok = result["rss_growth"] <= RSS_GROWTH_GOAL
    print(f"{'PASS' if ok else 'FAIL'}  worker RSS growth {result['rss_growth']:.1%} <= {RSS_GROWTH_GOAL:.0%}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
