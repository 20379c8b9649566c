"""A local OpenAI-compatible server that fails a share of its calls, as a flaky upstream does.

Chat Completions (streamed Structured Outputs) and image generations. Each call, independently and with a
seeded random generator, is one of:

- 429 with ``Retry-After: 0.2`` (rate limited),
- 500 (server error),
- a hang longer than the client's timeout (no answer at all),
- a stream that sends its first chunks and then stalls (a timeout mid-answer),
- a valid answer: a JSON object with every field the request's schema asks for (Japanese text long enough for
  the schema's minimums), streamed in pieces; images are small PNGs.

``fault_rate`` is the share of failing calls (each kind of failure a quarter of it). Counts per outcome are kept
for the test to report and check.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import threading
import time
from collections import Counter
from io import BytesIO

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

FAULTS = ("rate_limited", "server_error", "hang", "stall")
TEXT = ("通院のしやすさと説明のわかりやすさを重視し、口コミで評判を確かめてから受診先を決める慎重な人物です。"
        "仕事と家庭の予定を優先しながらも、体調の変化には早めに気づいて行動しようと心がけています。")


def _png(seed: int) -> bytes:
    from PIL import Image

    rng = random.Random(seed)
    out = BytesIO()
    Image.new("RGB", (96, 96), (rng.randrange(256), rng.randrange(256), rng.randrange(256))).save(out, "PNG")
    return out.getvalue()


def answer_for(schema: dict) -> str:
    """A valid JSON answer for a Structured Outputs schema: every property filled with long enough text."""
    properties = schema.get("properties") or {}
    return_data = {key: ("試験 花子" if key == "name" else TEXT) for key in properties}
    data = return_data
    return json.dumps(data, ensure_ascii=False)


class FaultyOpenAI:
    def __init__(self, fault_rate: float = 0.2, *, seed: int = 20, hang_seconds: float = 6.0,
                 chunks: int = 8) -> None:
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.hang_seconds = hang_seconds
        self.chunks = chunks
        self.outcomes: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._images = [_png(i) for i in range(8)]
        self.base_url = ""
        self._server = None
        self._thread: threading.Thread | None = None

    def _draw(self, route: str) -> str:
        with self._lock:
            roll = self.rng.random()
            if roll < self.fault_rate:
                fault = FAULTS[min(len(FAULTS) - 1, int(roll / self.fault_rate * len(FAULTS)))]
                if route == "image" and fault == "stall":
                    fault = "hang"
            else:
                fault = "ok"
            self.outcomes[f"{route}:{fault}"] += 1
            return fault

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failures(self) -> int:
        return sum(n for key, n in self.outcomes.items() if not key.endswith(":ok"))

    async def _fault_response(self, fault: str) -> Response:
        if fault == "rate_limited":
            return JSONResponse({"error": {"message": "Rate limit reached", "type": "requests"}}, status_code=429,
                                headers={"Retry-After": "0.2"})
        if fault == "server_error":
            return JSONResponse({"error": {"message": "The server had an error", "type": "server_error"}},
                                status_code=500)
        await asyncio.sleep(self.hang_seconds)  # hang: the client gives up first
        return JSONResponse({"error": {"message": "too late"}}, status_code=500)

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        fault = self._draw("text")
        if fault not in ("ok", "stall"):
            return await self._fault_response(fault)
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
        content = answer_for(schema)
        size = -(-len(content) // self.chunks)
        pieces = [content[i:i + size] for i in range(0, len(content), size)]
        base = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "fake")}

        async def stream():
            yield ("data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                                        "content": ""}}]}) + "\n\n")
            for index, piece in enumerate(pieces):
                if fault == "stall" and index == 2:
                    await asyncio.sleep(self.hang_seconds)
                    return
                chunk = {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                yield "data: " + json.dumps(chunk, ensure_ascii=False) + "\n\n"
                await asyncio.sleep(0.005)
            yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {},
                                                              "finish_reason": "stop"}]}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def images(self, request: Request) -> Response:
        await request.body()
        fault = self._draw("image")
        if fault != "ok":
            return await self._fault_response(fault)
        with self._lock:
            data = self.rng.choice(self._images)
        await asyncio.sleep(0.05)
        return JSONResponse({"created": int(time.time()),
                             "data": [{"b64_json": base64.b64encode(data).decode(), "revised_prompt": None}]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"]),
                                 Route("/v1/images/generations", self.images, methods=["POST"])])

    # --- a real server on a free loopback port, in a thread ------------------------------------------------
    def start(self) -> FaultyOpenAI:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1,
                                timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self._server.started, "faulty OpenAI server did not start"
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
