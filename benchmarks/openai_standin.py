"""A local OpenAI-compatible stand-in for the benchmarks that run the real ``openai`` provider (the official SDK,
structured outputs, the persona pipeline), started in its OWN process so its CPU never counts as the app's.

    python benchmarks/openai_standin.py --port 8765 --text-seconds 3 --image-seconds 5 --chunks 15

- ``POST /v1/chat/completions`` streams a JSON object valid for the request's ``response_format`` schema in
  ``--chunks`` chunks spread evenly over ``--text-seconds`` (Chat Completions SSE: ``data: {...}`` lines, a final
  ``finish_reason: stop`` chunk, ``data: [DONE]``). Strings are Japanese text of ``--string-chars`` characters
  (the persona sections' default lengths are 150-200), the ``name`` field a short name.
- ``POST /v1/images/generations`` answers after ``--image-seconds`` with a base64 PNG: one of the offline
  provider's portraits (what the ``simulated`` provider returns, ~5 KB) made unique per call by a ``tEXt`` chunk,
  so every generation stores its own image as it would with a real API.
- ``GET /counts`` returns the calls so far ({"text": n, "image": n}).

Used by ``generation_burst.py`` (the ``openai`` row), ``seed_scenarios.py --provider openai`` and
``persona_set_openai.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx

FILLER = "ベンチマーク用の文章です。患者として感じていることを具体的に書いています。"


def value_for(schema: dict, name: str = "", string_chars: int = 200) -> object:
    """A value valid for a (strict) JSON schema node: the stand-in answers whatever the app asks."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if "anyOf" in schema:
        return value_for(next(s for s in schema["anyOf"] if s.get("type") != "null"), name, string_chars)
    if kind == "object":
        return {key: value_for(sub, key, string_chars) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [value_for(schema.get("items") or {"type": "string"}, name, string_chars)]
    if kind == "integer":
        return int(schema.get("minimum", 3)) if "minimum" in schema else 3
    if kind == "number":
        return 3.0
    if kind == "boolean":
        return True
    if name == "name":
        return "山田 花子"
    limit = int(schema.get("maxLength") or string_chars)
    text = (FILLER * (string_chars // len(FILLER) + 1))[:min(string_chars, limit)]
    return text


def _png_with_text(png: bytes, text: str) -> bytes:
    """``png`` with a ``tEXt`` chunk added after IHDR (distinct bytes, same image)."""
    payload = b"Comment\x00" + text.encode()
    chunk = struct.pack(">I", len(payload)) + b"tEXt" + payload + struct.pack(">I", zlib.crc32(b"tEXt" + payload))
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _portraits() -> list[bytes]:
    """A few of the offline provider's portraits (rendered once, at the stand-in's start)."""
    from medipersona.providers.portrait import render_portrait, variant_for

    return [render_portrait(variant_for({"age": age, "gender": gender, "seed": seed}))
            for age, gender, seed in itertools.product((8, 35, 70), ("female", "male"), (1, 2))]


def standin_app(text_seconds: float, image_seconds: float, chunks: int = 15, string_chars: int = 200):
    """A bare ASGI app (no framework): the stand-in must cost far less per call than the app it serves, or a
    burst measures the stand-in. A text answer is built and encoded once per (schema, model) and replayed."""
    counts = {"text": 0, "image": 0}
    # When requests arrived and image answers left (time.time()): the benchmark's critical path report.
    marks: dict[str, list[float]] = {"text_arrived": [], "image_arrived": [], "image_answered": []}
    images = _portraits()
    answers: dict[str, list[bytes]] = {}

    def answer_events(schema: dict, model: str) -> list[bytes]:
        key = json.dumps([schema, model])
        events = answers.get(key)
        if events is None:
            text = json.dumps(value_for(schema, string_chars=string_chars), ensure_ascii=False)
            size = -(-len(text) // max(1, chunks))
            pieces = [text[i:i + size] for i in range(0, len(text), size)]
            base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": model}

            def event(delta: dict, finish: str | None = None) -> bytes:
                data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

            events = [event({"role": "assistant", "content": ""}), *(event({"content": p}) for p in pieces),
                      event({}, "stop") + b"data: [DONE]\n\n"]
            answers[key] = events
        return events

    async def read_body(receive) -> bytes:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        return body

    async def respond(send, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def chat(receive, send) -> None:
        counts["text"] += 1
        marks["text_arrived"].append(time.time())
        body = json.loads(await read_body(receive))
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {"type": "object"}
        events = answer_events(schema, body["model"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        await send({"type": "http.response.body", "body": events[0], "more_body": True})
        pieces = events[1:-1]
        for index, piece in enumerate(pieces, 1):  # evenly over text_seconds, the last chunk at the end
            await asyncio.sleep(max(0.0, started + text_seconds * index / len(pieces) - loop.time()))
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": events[-1]})

    async def generate_image(receive, send) -> None:
        counts["image"] += 1
        number = counts["image"]
        marks["image_arrived"].append(time.time())
        await read_body(receive)
        await asyncio.sleep(image_seconds)
        png = _png_with_text(images[number % len(images)], f"standin image {number} {time.time_ns()}")
        marks["image_answered"].append(time.time())
        await respond(send, 200, b'{"created":0,"data":[{"b64_json":"' + base64.b64encode(png) + b'"}]}')

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/v1/chat/completions":
            await chat(receive, send)
        elif method == "POST" and path == "/v1/images/generations":
            await generate_image(receive, send)
        elif path == "/counts":
            show_marks = b"marks=" in scope.get("query_string", b"")
            await respond(send, 200, json.dumps({**counts, **marks} if show_marks else counts).encode())
        else:
            await respond(send, 404, b'{"error":{"message":"not found"}}')

    return app


def run_standin(port: int, text_seconds: float, image_seconds: float, chunks: int = 15,
                string_chars: int = 200) -> None:
    import uvicorn

    uvicorn.run(standin_app(text_seconds, image_seconds, chunks, string_chars), host="127.0.0.1", port=port,
                log_level="warning", access_log=False, backlog=4096, timeout_keep_alive=30)


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


def start_standin(port: int, *, text_seconds: float, image_seconds: float, chunks: int = 15,
                  string_chars: int = 200) -> tuple[subprocess.Popen, str]:
    """Start the stand-in in its own process; returns (process, base URL ``http://127.0.0.1:PORT``) once it
    answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, __file__, "--port", str(port), "--text-seconds", str(text_seconds),
                             "--image-seconds", str(image_seconds), "--chunks", str(chunks),
                             "--string-chars", str(string_chars)], env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/counts", proc)
    return proc, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--text-seconds", type=float, default=3.0)
    parser.add_argument("--image-seconds", type=float, default=5.0)
    parser.add_argument("--chunks", type=int, default=15, help="content chunks per streamed answer")
    parser.add_argument("--string-chars", type=int, default=200, help="characters per string field")
    args = parser.parse_args()
    run_standin(args.port, args.text_seconds, args.image_seconds, args.chunks, args.string_chars)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
