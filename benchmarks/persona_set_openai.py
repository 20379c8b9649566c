"""A persona set of 6 through the real ``openai`` provider, on ONE gunicorn worker, against a local
OpenAI-compatible stand-in that answers a text call in 3 s (streamed) and an image in 5 s.

    .venv/bin/python benchmarks/persona_set_openai.py                 # 3 runs of a set of 6
    .venv/bin/python benchmarks/persona_set_openai.py --runs 5 --count 12 --text-seconds 3 --image-seconds 5

What it does:
1. Starts the stand-in (this script with ``--standin PORT``, its own process): ``POST /v1/chat/completions``
   streams a JSON object valid for the request's ``response_format`` schema in 15 chunks spread over
   ``--text-seconds``; ``POST /v1/images/generations`` answers a base64 PNG after ``--image-seconds``.
2. Migrates a temporary data dir and starts ``gunicorn -c python:medipersona.ops.gunicorn_conf
   medipersona.asgi:app -w 1`` with ``MEDIPERSONA_TEXT_PROVIDER=openai``, ``MEDIPERSONA_IMAGE_PROVIDER=openai``,
   ``OPENAI_BASE_URL`` pointing at the stand-in: the official SDK, its HTTP client, structured outputs, the
   persona pipeline, all real.
3. One persona alone (``POST /api/personas`` → its SSE stream to ``done``), then ``--runs`` sets of ``--count``
   (``POST /api/persona-sets``, vary patient_type → the set's SSE stream to ``done``), each timed from the POST
   to the final event. Checks every member is done with distinct names and patient types, and counts the
   stand-in's calls (one text and one image per member).

Target (issue 13): a set of 6 finishes in <= 6.5 s (the time of one persona: max(3 s text, 5 s image) plus the
app's own time).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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

BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "bench-admin-password-1"
BODY = {"department": "internal_medicine", "chief_complaint": "internal_medicine.influenza",
        "purpose": "increase_patients", "setting_type": "auto"}
FILLER = "ベンチマーク用の文章です。患者として感じていることを具体的に書いています。"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


# --- the stand-in ------------------------------------------------------------------------------------------------

def value_for(schema: dict, name: str = "") -> object:
    """A value valid for a (strict) JSON schema node: the stand-in answers whatever the app asks."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if "anyOf" in schema:
        return value_for(next(s for s in schema["anyOf"] if s.get("type") != "null"), name)
    if kind == "object":
        return {key: value_for(sub, key) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [value_for(schema.get("items") or {"type": "string"}, name)]
    if kind == "integer":
        return int(schema.get("minimum", 3)) if "minimum" in schema else 3
    if kind == "number":
        return 3.0
    if kind == "boolean":
        return True
    return "山田 花子" if name == "name" else FILLER * 4


def standin_app(text_seconds: float, image_seconds: float, chunks: int = 15):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    counts = {"text": 0, "image": 0}

    async def chat(request: Request):
        counts["text"] += 1
        body = await request.json()
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {"type": "object"}
        text = json.dumps(value_for(schema), ensure_ascii=False)
        size = -(-len(text) // chunks)
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}

        def event(delta: dict, finish: str | None = None) -> bytes:
            data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

        async def stream():
            for piece in pieces:  # evenly over text_seconds: the first chunk after one pause, the last at the end
                await asyncio.sleep(text_seconds / len(pieces))
                yield event({"content": piece})
            yield event({}, "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def images(request: Request):
        counts["image"] += 1
        await request.body()
        await asyncio.sleep(image_seconds)
        return JSONResponse({"created": 0, "data": [{"b64_json": base64.b64encode(PNG_1PX).decode()}]})

    async def get_counts(request: Request):
        return JSONResponse(counts)

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/images/generations", images, methods=["POST"]),
                             Route("/counts", get_counts)])


def run_standin(port: int, text_seconds: float, image_seconds: float) -> None:
    import uvicorn

    uvicorn.run(standin_app(text_seconds, image_seconds), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def wait_http(url: str, proc: subprocess.Popen, log: Path | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise SystemExit(f"{url} did not come up\n{tail}")
        time.sleep(0.2)


# --- the measurement ---------------------------------------------------------------------------------------------

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
    parser.add_argument("--standin", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.standin:
        run_standin(args.standin, args.text_seconds, args.image_seconds)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-set-"))
    standin_port, port = free_port(), free_port()
    standin_url = f"http://127.0.0.1:{standin_port}"
    standin = subprocess.Popen([sys.executable, __file__, "--standin", str(standin_port), "--text-seconds",
                                str(args.text_seconds), "--image-seconds", str(args.image_seconds)])
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
        wait_http(standin_url + "/counts", standin)
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
        "one text and one image call per member": all(
            r["text_calls"] == r["image_calls"] == args.count for r in sets),
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
