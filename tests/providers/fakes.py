"""A real local HTTP server speaking (the parts we use of) the OpenAI, Anthropic and Gemini APIs.

The real SDKs are pointed at it by base URL. Each test scripts the answers with ``fake_api.script(route, ...)``;
requests are recorded (time, path, JSON body) so tests can check what was sent and when.

Routes: ``openai_chat``, ``openai_images``, ``anthropic``, ``gemini_stream``, ``gemini_generate``.
Behaviours: ``Text(json_text, chunks=5)``, ``Error(status, headers, body)``, ``Hang(seconds)``,
``Stall(json_text, after_chunks, seconds)`` (stream some chunks, then go silent), ``Image(png_bytes)``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Text:
    content: str
    chunks: int = 5


@dataclass
class Error:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass
class Hang:
    seconds: float


@dataclass
class Stall:
    content: str
    after_chunks: int
    seconds: float
    chunks: int = 5


@dataclass
class ErrorEvent:
    """A 200 stream that starts and then reports an error event (Anthropic: overloaded_error)."""

    error_type: str = "overloaded_error"


@dataclass
class Image:
    data: bytes = TINY_PNG


@dataclass
class Recorded:
    route: str
    path: str
    query: str
    at: float
    body: dict[str, Any]
    headers: dict[str, str]


def _split(text: str, count: int) -> list[str]:
    count = max(1, min(count, len(text) or 1))
    size = -(-len(text) // count)
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


class FakeAPI:
    def __init__(self) -> None:
        self.base_url = ""
        self.scripts: dict[str, list[Any]] = {}
        self.defaults: dict[str, Any] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.scripts.clear()
            self.defaults.clear()
            self.requests.clear()

    def script(self, route: str, *behaviours: Any, default: Any = None) -> None:
        with self._lock:
            self.scripts.setdefault(route, []).extend(behaviours)
            if default is not None:
                self.defaults[route] = default

    def calls(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    def _next(self, route: str) -> Any:
        with self._lock:
            queue = self.scripts.get(route) or []
            if queue:
                return queue.pop(0)
            return self.defaults.get(route)

    async def _record(self, route: str, request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        with self._lock:
            self.requests.append(Recorded(route, request.url.path, request.url.query, time.monotonic(), body,
                                         dict(request.headers)))
        return self._next(route)

    # --- wire formats -------------------------------------------------------------------------------------
    @staticmethod
    def _error_response(route: str, b: Error) -> Response:
        if b.body is not None:
            body = b.body
        elif route.startswith("anthropic"):
            body = {"type": "error", "error": {"type": "api_error", "message": f"fake error {b.status}"}}
        elif route.startswith("gemini"):
            body = {"error": {"code": b.status, "message": f"fake error {b.status}", "status": "UNAVAILABLE"}}
        else:
            body = {"error": {"message": f"fake error {b.status}", "type": "server_error", "code": None}}
        return JSONResponse(body, status_code=b.status, headers=b.headers)

    @staticmethod
    def _sse(route: str, pieces: list[str]) -> list[str]:
        out: list[str] = []
        if route == "openai_chat":
            base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "fake-model"}
            out.append("data: " + json.dumps({**base, "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}) + "\n\n")
            for p in pieces:
                out.append("data: " + json.dumps({**base, "choices": [
                    {"index": 0, "delta": {"content": p}, "finish_reason": None}]}) + "\n\n")
            out.append("data: " + json.dumps({**base, "choices": [
                {"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n")
            out.append("data: [DONE]\n\n")
        elif route == "anthropic":
            def ev(name: str, data: dict[str, Any]) -> str:
                return f"event: {name}\ndata: {json.dumps(data)}\n\n"
            out.append(ev("message_start", {"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "model": "fake-claude", "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}))
            out.append(ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_1", "name": "result", "input": {}}}))
            for p in pieces:
                out.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                      "delta": {"type": "input_json_delta", "partial_json": p}}))
            out.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
            out.append(ev("message_delta", {"type": "message_delta", "delta": {
                "stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 50}}))
            out.append(ev("message_stop", {"type": "message_stop"}))
        elif route == "gemini_stream":
            for i, p in enumerate(pieces):
                cand: dict[str, Any] = {"content": {"parts": [{"text": p}], "role": "model"}, "index": 0}
                if i == len(pieces) - 1:
                    cand["finishReason"] = "STOP"
                out.append("data: " + json.dumps({"candidates": [cand], "modelVersion": "fake-gemini"}) + "\r\n\r\n")
        return out

    async def handle(self, route: str, request: Request) -> Response:
        behaviour = await self._record(route, request)
        if behaviour is None:
            return JSONResponse({"error": {"message": "no scripted answer"}}, status_code=500)
        if isinstance(behaviour, Error):
            return self._error_response(route, behaviour)
        if isinstance(behaviour, Hang):
            await asyncio.sleep(behaviour.seconds)
            return JSONResponse({"error": {"message": "hung"}}, status_code=500)
        if isinstance(behaviour, ErrorEvent):
            start = self._sse(route, [])[:1]
            error = {"type": "error", "error": {"type": behaviour.error_type, "message": behaviour.error_type.replace("_", " ")}}
            events = [*start, f"event: error\ndata: {json.dumps(error)}\n\n"]

            async def error_body():
                for event in events:
                    yield event.encode()

            return StreamingResponse(error_body(), media_type="text/event-stream")
        if isinstance(behaviour, Image):
            b64 = base64.b64encode(behaviour.data).decode()
            if route == "openai_images":
                return JSONResponse({"created": 0, "data": [{"b64_json": b64, "revised_prompt": None}]})
            return JSONResponse({"candidates": [{"content": {"role": "model", "parts": [
                {"inlineData": {"mimeType": "image/png", "data": b64}}]}, "finishReason": "STOP", "index": 0}]})
        if isinstance(behaviour, (Text, Stall)):
            events = self._sse(route, _split(behaviour.content, behaviour.chunks))
            stall_at = None
            if isinstance(behaviour, Stall):
                stall_at = behaviour.after_chunks + (1 if route in ("openai_chat",) else 0)
                stall_at += 2 if route == "anthropic" else 0

            async def body():
                for i, event in enumerate(events):
                    if stall_at is not None and i == stall_at:
                        await asyncio.sleep(behaviour.seconds)
                        return
                    yield event.encode()
                    await asyncio.sleep(0)

            return StreamingResponse(body(), media_type="text/event-stream")
        raise AssertionError(f"unknown behaviour {behaviour!r}")

    def app(self) -> Starlette:
        def route(name: str):
            async def endpoint(request: Request) -> Response:
                return await self.handle(name, request)
            return endpoint

        async def gemini(request: Request) -> Response:
            action = request.path_params["action"]
            name = "gemini_stream" if action.endswith(":streamGenerateContent") else "gemini_generate"
            return await self.handle(name, request)

        return Starlette(routes=[
            Route("/v1/chat/completions", route("openai_chat"), methods=["POST"]),
            Route("/v1/images/generations", route("openai_images"), methods=["POST"]),
            Route("/anthropic/v1/messages", route("anthropic"), methods=["POST"]),
            Route("/gemini/{version}/models/{action}", gemini, methods=["POST"]),
        ])




PERSONA_CONTEXT: dict[str, Any] = {
    "department": "内科",
    "chief_complaint": "高血圧",
    "purpose": "患者数を増やす",
    "patient_type": {
        "name": "利便性重視型",
        "description": "通いやすさや待ち時間の短さ、診療時間の柔軟さを最も重視して医療機関を選ぶ。治療内容よりもアクセスや手続きの手軽さが判断の決め手になりやすい。",
        "example": "仕事帰りに寄れるよう駅前で夜7時まで診療しているクリニックを選ぶ。",
    },
    "profile": {
        "name": "山田 花子", "gender": "女性", "age": "45歳", "prefecture": "東京都", "municipality": "世田谷区",
        "family": "夫、長女（8歳）と3人暮らし", "occupation": "会社員（事務職）", "income": "年収500〜600万円",
        "hobby": "ヨガ、カフェ巡り", "life_events": "昨年管理職に昇進",
    },
    "extras": {"concerns": "健康診断の数値"},
    "keywords": [
        {"keyword": "高血圧 症状", "volume": 9000, "overlap": 120, "days": -20, "category": "症状・不安"},
        {"keyword": "血圧 下げる 方法", "volume": 8000, "overlap": 200, "days": -10, "category": "治療・対策"},
        {"keyword": "高血圧 薬 副作用", "volume": 5000, "overlap": 300, "days": -3, "category": "治療・対策"},
        {"keyword": "内科 土曜 診療", "volume": 3000, "overlap": 50, "days": 1, "category": "医療機関"},
        {"keyword": "家庭用 血圧計", "volume": 2500, "overlap": 40, "days": 5, "category": "予防・生活習慣"},
    ],
    "section_lengths": {"personality": 200, "reason": 200, "behavior": 200, "reviews": 150, "values": 150,
                        "demands": 150},
    "generate_name": True,
    "avoid_names": [],
}
