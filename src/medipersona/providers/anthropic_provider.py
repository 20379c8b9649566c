"""Anthropic through the official async SDK: one forced tool call whose input schema is the answer's schema.

Text only. The tool input streams as ``input_json_delta`` events (``partial_json`` pieces of the JSON object).
The key comes from ``ANTHROPIC_API_KEY`` (endpoint: ``ANTHROPIC_BASE_URL``); SDK retries are off.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from medipersona.providers.base import Provider, ProviderError, TextRequest
from medipersona.providers.sdk_common import PooledClientProvider, map_stainless_error, safe_name


def _user_content(request: TextRequest) -> Any:
    """The request's images (base64 content blocks), then the prompt."""
    if not request.images:
        return request.prompt
    import base64

    blocks: list[dict[str, Any]] = [
        {"type": "image", "source": {"type": "base64", "media_type": image.mime,
                                      "data": base64.b64encode(image.data).decode()}}
        for image in request.images]
    return [*blocks, {"type": "text", "text": request.prompt}]


class AnthropicProvider(PooledClientProvider):
    name: ClassVar[str] = "anthropic"
    label: ClassVar[str] = "Anthropic"
    supports_text: ClassVar[bool] = True
    supports_image: ClassVar[bool] = False
    supports_schema: ClassVar[bool] = True
    accepts_images: ClassVar[bool] = True
    needs_key: ClassVar[bool] = True
    key_env_var: ClassVar[str | None] = "ANTHROPIC_API_KEY"
    default_text_model: ClassVar[str] = "claude-sonnet-4-6"
    known_text_models: ClassVar[tuple[str, ...]] = (
        "claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-6", "claude-sonnet-4-5", "claude-opus-4-5",
    )

    options: Options  # narrowed from Provider.options: this class's own Options

    class Options(Provider.Options):
        send_temperature: bool = False

    @classmethod
    def config_key(cls, settings) -> tuple[Any, ...]:
        return (*super().config_key(settings), os.environ.get("ANTHROPIC_BASE_URL", "").strip())

    def make_client(self) -> Any:
        from anthropic import AsyncAnthropic

        timeout = (self.settings.provider_timeout_seconds + 5.0) if self.settings else 125.0
        return AsyncAnthropic(
            api_key=self.api_key(),
            base_url=os.environ.get("ANTHROPIC_BASE_URL", "").strip() or None,
            max_retries=0,
            timeout=timeout,
        )

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        import anthropic

        client = self.client()
        tool = safe_name(request.schema_name)
        kwargs: dict[str, Any] = {
            "model": request.model or self.default_text_model,
            "max_tokens": request.max_output_tokens,
            "system": request.system,
            "messages": [{"role": "user", "content": _user_content(request)}],
            "tools": [{
                "name": tool,
                "description": "Return the answer as this tool's input (a JSON object matching the schema).",
                "input_schema": request.schema,
            }],
            "tool_choice": {"type": "tool", "name": tool},
            "stream": True,
        }
        if self.options.send_temperature:
            kwargs["temperature"] = request.temperature
        try:
            stream = await client.messages.create(**kwargs)
            async with stream:
                async for event in stream:
                    if event.type == "content_block_delta":
                        delta = event.delta
                        if getattr(delta, "type", "") == "input_json_delta" and delta.partial_json:
                            yield delta.partial_json
                    elif event.type == "message_delta":
                        reason = getattr(event.delta, "stop_reason", None)
                        if reason == "refusal":
                            raise ProviderError("AIが生成を拒否しました。入力内容を見直してください。", code="refused")
        except Exception as exc:  # noqa: BLE001 - mapped to ProviderError
            mapped = map_stainless_error(exc, self.name, anthropic)
            raise (mapped if mapped is not None else exc) from None
