"""The ``e2e`` provider, registered at import by ``tests/e2e/serve.py`` inside the server subprocess.

It is the simulated provider (offline output streamed with latency) with two switches keyed on the persona's
name, so one server covers every browser scenario:

- ``E2E-FAIL`` in the name: the text call fails (a non-retryable provider error) → the job fails.
- ``E2E-TLFAIL`` in the name: the timeline analysis fails (generation works).
- ``E2E-FLAKY`` in the name: the first text call for that name fails, later ones succeed (the retry button).
- ``E2E-XSS`` or ``<script>`` in the name: every generated text (persona sections, timeline analysis) starts with
  HTML/JS markup, to prove the pages show it as text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import ClassVar

from medipersona.providers.base import ProviderError, TextRequest
from medipersona.providers.offline import SimulatedProvider, split_chunks
from medipersona.providers.registry import register_provider

XSS_PAYLOAD = '<script>window.__xss=1;alert("xss")</script><img src=x onerror="window.__xss=2;alert(2)">'


_failed_once: set[str] = set()


def _name(request: TextRequest) -> str:
    """The persona's name: in the profile (generation) or the persona summary (timeline analysis)."""
    profile = request.context.get("profile") or {}
    persona = request.context.get("persona") or {}
    return str(profile.get("name") or persona.get("name") or "")


@register_provider
class E2EProvider(SimulatedProvider):
    name: ClassVar[str] = "e2e"
    label: ClassVar[str] = "E2Eテスト用（オフライン生成・遅延あり）"

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        name = _name(request)
        if "E2E-FAIL" in name:
            await asyncio.sleep(0.5)
            raise ProviderError("e2e: simulated upstream failure", retryable=False, status=500)
        if "E2E-TLFAIL" in name and request.task == "timeline_analysis":
            await asyncio.sleep(0.3)
            raise ProviderError("e2e: simulated analysis failure", retryable=False, status=500)
        if "E2E-FLAKY" in name and name not in _failed_once:
            _failed_once.add(name)
            await asyncio.sleep(0.5)
            raise ProviderError("e2e: simulated upstream failure (first attempt)", retryable=False, status=503)
        if "E2E-XSS" not in name and "<script>" not in name:
            async for chunk in super().stream_text(request):
                yield chunk
            return
        data = json.loads(self.compose_json(request))
        for key, value in list(data.items()):
            if isinstance(value, str) and key != "name":
                data[key] = XSS_PAYLOAD + value
        chunks = split_chunks(json.dumps(data, ensure_ascii=False), self.chunk_count)
        pause = self._seconds("text") / len(chunks)
        for chunk in chunks:
            await asyncio.sleep(pause)
            yield chunk
