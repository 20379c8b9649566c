"""Gemini through google-genai's async client (``genai.Client(...).aio``): JSON text and images.

Text: ``generate_content_stream`` with ``response_mime_type="application/json"`` and the JSON schema. Images: an
image-capable model answering with inline image data. The key comes from ``GEMINI_API_KEY`` or
``GOOGLE_API_KEY``; ``GEMINI_BASE_URL`` (or ``GOOGLE_GEMINI_BASE_URL``) points it at another endpoint. The SDK
does not retry (no retry_options): ``providers.calls`` does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from medipersona.providers.base import (
    ImageRequest,
    ImageResult,
    ProviderError,
    ProviderTimeout,
    TextRequest,
    retry_after_from_headers,
    sniff_image_mime,
    status_error,
)
from medipersona.providers.sdk_common import PooledClientProvider


def _base_url() -> str:
    return (os.environ.get("GEMINI_BASE_URL") or os.environ.get("GOOGLE_GEMINI_BASE_URL") or "").strip()


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    timeouts: list[type[BaseException]] = []
    connects: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        connects.append(module.TransportError)
    return tuple(timeouts), tuple(connects)


def _contents(request: TextRequest) -> Any:
    """The prompt, preceded by the request's images as inline data parts."""
    if not request.images:
        return request.prompt
    from google.genai import types

    return [*(types.Part.from_bytes(data=image.data, mime_type=image.mime) for image in request.images),
            request.prompt]


class GeminiProvider(PooledClientProvider):
    name: ClassVar[str] = "gemini"
    label: ClassVar[str] = "Gemini"
    supports_text: ClassVar[bool] = True
    supports_image: ClassVar[bool] = True
    supports_schema: ClassVar[bool] = True
    accepts_images: ClassVar[bool] = True
    needs_key: ClassVar[bool] = True
    key_env_var: ClassVar[str | None] = "GEMINI_API_KEY"
    key_env_vars: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    default_text_model: ClassVar[str] = "gemini-2.5-flash"
    default_image_model: ClassVar[str] = "gemini-2.5-flash-image"
    known_text_models: ClassVar[tuple[str, ...]] = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite")
    known_image_models: ClassVar[tuple[str, ...]] = ("gemini-2.5-flash-image",)

    @classmethod
    def config_key(cls, settings) -> tuple[Any, ...]:
        return (*super().config_key(settings), _base_url())

    def make_client(self) -> Any:
        from google import genai
        from google.genai import types

        timeout_ms = int(((self.settings.provider_timeout_seconds + 5.0) if self.settings else 125.0) * 1000)
        options = types.HttpOptions(base_url=_base_url() or None, timeout=timeout_ms)
        client = genai.Client(api_key=self.api_key(), http_options=options)
        self._owner = client  # keep the parent alive: its __del__ closes the shared API client's sync half
        return client.aio

    async def close_client(self, client: Any) -> None:
        await client.aclose()

    def _error(self, exc: Exception) -> Exception:
        from google.genai import errors

        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, errors.APIError):
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
            return status_error(self.name, int(exc.code or 500), exc.message or "",
                                retry_after=retry_after_from_headers(headers))
        timeouts, transport = _transport_errors()
        if isinstance(exc, timeouts):
            return ProviderTimeout()
        if isinstance(exc, transport):
            return ProviderError(f"AIプロバイダー（{self.name}）に接続できませんでした。", retryable=True,
                                 code="connection_error")
        return exc

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        from google.genai import types

        client = self.client()
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            response_mime_type="application/json",
            response_json_schema=request.schema,
            max_output_tokens=request.max_output_tokens,
        )
        try:
            stream = await client.models.generate_content_stream(
                model=request.model or self.default_text_model, contents=_contents(request), config=config
            )
            async for chunk in stream:
                for candidate in chunk.candidates or []:
                    content = candidate.content
                    for part in (content.parts if content and content.parts else []):
                        if part.text and not part.thought:
                            yield part.text
                    if str(getattr(candidate, "finish_reason", "") or "").endswith(("SAFETY", "PROHIBITED_CONTENT")):
                        raise ProviderError("AIが生成を拒否しました。入力内容を見直してください。", code="refused")
        except Exception as exc:  # noqa: BLE001 - mapped to ProviderError
            raise self._error(exc) from None

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        from google.genai import types

        client = self.client()
        model = request.model or self.default_image_model
        try:
            response = await client.models.generate_content(
                model=model,
                contents=request.prompt,
                config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
            )
        except Exception as exc:  # noqa: BLE001 - mapped to ProviderError
            raise self._error(exc) from None
        for candidate in response.candidates or []:
            content = candidate.content
            for part in (content.parts if content and content.parts else []):
                inline = part.inline_data
                if inline is not None and inline.data:
                    data = bytes(inline.data)
                    return ImageResult(data=data, mime=inline.mime_type or sniff_image_mime(data), model=model)
        raise ProviderError("画像生成モデルが画像データを返しませんでした。", code="invalid_output")
