"""The offline provider (default, no key) and the simulated provider (the same output with latency).

Offline output is composed locally from ``request.context`` by the composer its domain registered for the task
(see ``composers``) and the portrait is drawn
by our own code (``portrait``); both are labelled as offline output (``is_offline``, ``label``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from medipersona.providers.base import ImageRequest, ImageResult, Provider, ProviderError, TextRequest
from medipersona.providers.composers import offline_composer, seed_for

OFFLINE_LABEL = "オフライン生成（AI未使用）"


def split_chunks(text: str, count: int) -> list[str]:
    """``text`` in ``count`` pieces of about equal size (fewer for short texts)."""
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    out, pos = [], 0
    for i in range(count):
        step = size + (1 if i < extra else 0)
        out.append(text[pos:pos + step])
        pos += step
    return out


class OfflineProvider(Provider):
    name: ClassVar[str] = "offline"
    label: ClassVar[str] = OFFLINE_LABEL
    supports_text: ClassVar[bool] = True
    supports_image: ClassVar[bool] = True
    supports_schema: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False
    default_text_model: ClassVar[str] = "offline-composer"
    default_image_model: ClassVar[str] = "offline-portrait"
    known_text_models: ClassVar[tuple[str, ...]] = ("offline-composer",)
    known_image_models: ClassVar[tuple[str, ...]] = ("offline-portrait",)
    is_offline: ClassVar[bool] = True
    chunk_count: ClassVar[int] = 6

    def compose_json(self, request: TextRequest) -> str:
        # The composer the task's domain registered (see ``composers``).
        composer = offline_composer(request.task)
        if composer is None:
            raise ProviderError(f"オフライン生成はタスク {request.task!r} に対応していません。", code="unsupported")
        data: dict[str, Any] = composer(request.context, request.seed)
        return json.dumps(data, ensure_ascii=False)

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        for chunk in split_chunks(self.compose_json(request), self.chunk_count):
            yield chunk

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        from medipersona.providers.portrait import portrait_png

        context = dict(request.context)
        if "seed" not in context:
            context["seed"] = request.seed if request.seed is not None else seed_for(request.context, None)
        data = await portrait_png(context)
        return ImageResult(data=data, mime="image/png", model=request.model or self.default_image_model)


class SimulatedProvider(OfflineProvider):
    """Offline output delivered like a remote model: text streamed evenly over ``simulated_text_seconds``
    (~15 chunks), the image after ``simulated_image_seconds``. For demos and benchmarks."""

    name: ClassVar[str] = "simulated"
    label: ClassVar[str] = "シミュレーション（オフライン生成・遅延あり）"
    default_text_model: ClassVar[str] = "simulated-composer"
    default_image_model: ClassVar[str] = "simulated-portrait"
    known_text_models: ClassVar[tuple[str, ...]] = ("simulated-composer",)
    known_image_models: ClassVar[tuple[str, ...]] = ("simulated-portrait",)
    chunk_count: ClassVar[int] = 15

    def _seconds(self, kind: str) -> float:
        if self.settings is None:
            return 0.0
        return self.settings.simulated_image_seconds if kind == "image" else self.settings.simulated_text_seconds

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        chunks = split_chunks(self.compose_json(request), self.chunk_count)
        pause = self._seconds("text") / len(chunks)
        for chunk in chunks:
            if pause > 0:
                await asyncio.sleep(pause)
            yield chunk

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        wait = self._seconds("image")
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await super().generate_image(request)  # a cache hit mostly; rendering overlaps the wait
        remaining = wait - (loop.time() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        return result
