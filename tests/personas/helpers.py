"""Shared helpers for persona tests: SSE parsing, waiting, fake providers."""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar

from medipersona.providers.base import ImageRequest, ImageResult, ProviderError, TextRequest
from medipersona.providers.offline import OfflineProvider
from medipersona.providers.registry import register_provider

CREATE_BODY = {
    "department": "internal_medicine",
    "chief_complaint": "internal_medicine.influenza",
    "purpose": "increase_patients",
    "setting_type": "auto",
    "seed": 7,
}


def parse_sse(raw: bytes | str) -> list[tuple[str, dict]]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    events = []
    for block in text.split("\n\n"):
        typ, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                typ = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if typ:
            events.append((typ, data))
    return events


async def stream_events(client, persona_id: str, timeout: float = 30.0, headers=None) -> list[tuple[str, dict]]:
    async def run():
        response = await client.get(f"/api/personas/{persona_id}/events", headers=headers or {})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.content)

    return await asyncio.wait_for(run(), timeout)


async def wait_status(client, persona_id: str, statuses=("done", "failed"), timeout: float = 30.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        body = (await client.get(f"/api/personas/{persona_id}")).json()
        if body["status"] in statuses:
            return body
        if loop.time() > deadline:
            raise AssertionError(f"persona stayed {body['status']}")
        await asyncio.sleep(0.05)


@register_provider
class BrokenTextProvider(OfflineProvider):
    """Answers with malformed JSON for the first ``failures`` calls, then like the offline provider."""

    name: ClassVar[str] = "test_broken"
    failures: ClassVar[int] = 10**9
    calls: ClassVar[int] = 0

    async def stream_text(self, request: TextRequest):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            yield '{"personality": "途中で'
            yield "壊れた出力 ,,, }"
            return
        async for chunk in super().stream_text(request):
            yield chunk


@register_provider
class CapturingProvider(OfflineProvider):
    """The offline output, remembering every text request it got."""

    name: ClassVar[str] = "test_capture"
    requests: ClassVar[list[TextRequest]] = []

    async def stream_text(self, request: TextRequest):
        type(self).requests.append(request)
        async for chunk in super().stream_text(request):
            yield chunk


@register_provider
class FailingImageProvider(OfflineProvider):
    name: ClassVar[str] = "test_noimage"

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        raise ProviderError("画像サービスが利用できません（テスト）。", code="provider_error")
