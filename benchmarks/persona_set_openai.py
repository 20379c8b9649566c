"""A persona set of 6 through the real ``openai`` provider, on ONE gunicorn worker, against a local
OpenAI-compatible stand-in that answers a text call in 3 s (streamed) and an image in 5 s.

    .venv/bin/python benchmarks/persona_set_openai.py                 # 3 runs of a set of 6
    .venv/bin/python benchmarks/persona_set_openai.py --runs 5 --count 12 --text-seconds 3 --image-seconds 5

What it does:
1. Starts the stand-in (``benchmarks/openai_standin.py``, the one ``generation_burst.py`` uses, in its own
   process): ``POST /v1/chat/completions`` streams a JSON object valid for the request's ``response_format``
   schema in 15 chunks spread over ``--text-seconds``; ``POST /v1/images/generations`` answers a PNG after
   ``--image-seconds``.
2. Migrates a temporary data dir and starts ``gunicorn -c python:medipersona.ops.gunicorn_conf
   medipersona.asgi:app -w 1`` with ``MEDIPERSONA_TEXT_PROVIDER=openai``, ``MEDIPERSONA_IMAGE_PROVIDER=openai``,
   ``OPENAI_BASE_URL`` pointing at the stand-in: the official SDK, its HTTP client, structured outputs, the
   persona pipeline, all real.
3. One persona alone (``POST /api/personas`` → its SSE stream to ``done``), then ``--runs`` sets of ``--count``
   (``POST /api/persona-sets``, vary patient_type → the set's SSE stream to ``done``), each timed from the POST
   to the final event. Checks every member is done with distinct names and patient types, and counts the
   stand-in's calls (one image and one or two text calls per member: the persona text and its timeline analysis).

Target (issue 13): a set of 6 finishes in <= 6.5 s (the time of one persona: max(3 s text, 5 s image) plus the
app's own time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.generation_burst import free_port, rss_mb, sse_until_final, worker_pids
from benchmarks.openai_standin import start_standin, wait_http

BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "bench-admin-password-1"
BODY = {"department": "internal_medicine", "chief_complaint": "internal_medicine.influenza",
        "purpose": "increase_patients", "setting_type": "auto"}


async def timed_stream(client: httpx.AsyncClient, headers: dict, path: str, body: dict) -> tuple[float, str, dict]:
    """POST, then follow the returned resource's SSE stream to its final event: (seconds, final event, JSON)."""
    started = time.perf_counter()
    r = await client.post(path, json=body, headers=headers)
    if r.status_code != 202:
        return time.perf_counter() - started, f"http {r.status_code}: {r.text[:200]}", {}
    created = {**r.json(), "post_seconds": round(time.perf_counter() - started, 3)}
    events_url = created["events_url"]
    last = await sse_until_final(client.base_url.host, client.base_url.port, events_url, headers["Authorization"])
    return time.perf_counter() - started, last, created


async def measure(args: argparse.Namespace, base: str, standin: str, master: int) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client, httpx.AsyncClient(base_url=standin) as calls:
        token = (await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
                 ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # Warm-up: FastAPI builds an included router's routes at the first request that reaches it (~0.4 s for
        # the routers before the persona-set API, once per worker); not part of what a set costs.
        await client.get("/api/catalog", headers=headers)
        await client.get("/api/persona-sets", headers=headers)
        # The first persona also pays the worker's first import of the openai SDK (once per worker).
        alone, alone_last, _ = await timed_stream(client, headers, "/api/personas", {**BODY, "seed": 1})
        again, again_last, _ = await timed_stream(client, headers, "/api/personas", {**BODY, "seed": 2})
        runs = []
        for run in range(args.runs):
            before = (await calls.get("/counts")).json()
            seconds, last, created = await timed_stream(client, headers, "/api/persona-sets",
                                                        {**BODY, "seed": 100 + run, "count": args.count,
                                                         "vary": "patient_type"})
            after = (await calls.get("/counts")).json()
            data = (await client.get(f"/api/persona-sets/{created.get('id')}", headers=headers)).json() \
                if created else {}
            members = data.get("personas") or []
            timings = [((await client.get(f"/api/personas/{m['id']}", headers=headers)).json().get("timings") or {})
                       for m in members]
            runs.append({
                "seconds": round(seconds, 3), "post_seconds": created.get("post_seconds"), "final_event": last,
                "status": data.get("status"),
                "members_done": sum(1 for m in members if m.get("status") == "done"),
                "distinct_names": len({m.get("name") for m in members}),
                "distinct_types": len({(m.get("patient_type") or {}).get("id") for m in members}),
                "text_calls": after["text"] - before["text"], "image_calls": after["image"] - before["image"],
                # Where a member's time went, from the persona's own timings (the slowest member of each).
                "member_max": {key: max((t.get(key) or 0.0) for t in timings) for key in
                               ("queued_seconds", "load_seconds", "text_seconds", "image_seconds", "total_seconds")},
            })
        workers = worker_pids(master)
    return {"count": args.count, "text_seconds": args.text_seconds, "image_seconds": args.image_seconds,
            "first_persona_seconds": round(alone, 3), "first_persona_result": alone_last,
            "one_persona_seconds": round(again, 3), "one_persona_result": again_last, "sets": runs,
            "worker_rss_mb": {pid: round(rss_mb(pid), 1) for pid in workers}, "loadavg": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=6, help="members per set (2-12; default 6)")
    parser.add_argument("--runs", type=int, default=3, help="sets measured one after another (default 3)")
    parser.add_argument("--text-seconds", type=float, default=3.0)
    parser.add_argument("--image-seconds", type=float, default=5.0)
    parser.add_argument("--target-seconds", type=float, default=6.5)
    parser.add_argument("--postgres", default="", help="database URL (default: SQLite in the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server log)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-set-"))
    port = free_port()
    # The same OpenAI-compatible stand-in as generation_burst.py, in its own process.
    standin, standin_url = start_standin(free_port(), text_seconds=args.text_seconds, image_seconds=args.image_seconds)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIPERSONA_", "OPENAI_"))}
    env.update({
        "MEDIPERSONA_DATA_DIR": str(tmp / "var"), "MEDIPERSONA_DATABASE_URL": args.postgres,
        "MEDIPERSONA_ADMIN_PASSWORD": ADMIN_PASSWORD, "MEDIPERSONA_COOKIE_SECURE": "never",
        "MEDIPERSONA_TEXT_PROVIDER": "openai", "MEDIPERSONA_IMAGE_PROVIDER": "openai",
        "MEDIPERSONA_LOG_LEVEL": "WARNING", "OPENAI_API_KEY": "bench-key-not-secret",
        "OPENAI_BASE_URL": f"{standin_url}/v1", "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    })
    (tmp / "metrics").mkdir()
    server = None
    try:
        subprocess.run([str(BIN / "python"), "-m", "medipersona", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        log_path = tmp / "server.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen([str(BIN / "gunicorn"), "-c", "python:medipersona.ops.gunicorn_conf",
                                       "medipersona.asgi:app", "-w", "1", "--bind", f"127.0.0.1:{port}"],
                                      env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz", server, log_path)
        result = asyncio.run(measure(args, base, standin_url, server.pid))
    finally:
        for proc in (server, standin):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    sets = result["sets"]
    checks = {
        f"every set of {args.count} done <= {args.target_seconds} s": all(
            r["seconds"] <= args.target_seconds and r["status"] == "done" for r in sets),
        "every member done, distinct names and patient types": all(
            r["members_done"] == r["distinct_names"] == r["distinct_types"] == args.count for r in sets),
        # Each member: its persona text, plus the timeline analysis its generation writes when the complaint has
        # keyword data (issue 14), and one portrait.
        "one image and one or two text calls per member": all(
            r["image_calls"] == args.count and args.count <= r["text_calls"] <= 2 * args.count for r in sets),
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
