"""OpenAI (and any OpenAI-compatible server: Ollama, vLLM, ...) through the official async SDK.

Text: Chat Completions streaming with Structured Outputs (``response_format`` json_schema, strict). Images: the
Images API, stored from base64. The key comes from ``OPENAI_API_KEY``, the endpoint from ``OPENAI_BASE_URL``.
The SDK's own retries are off (``max_retries=0``): ``providers.calls`` retries.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

from medipersona.providers.base import (
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    TextRequest,
    redact,
    request_sent,
    sniff_image_mime,
)
from medipersona.providers.sdk_common import (
    PooledClientProvider,
    map_stainless_error,
    safe_name,
    strict_json_schema,
)


async def _sse_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The lines of an SSE byte stream (LF or CRLF ends), without decoding them to text: a chunk comes per token
    from a real API, and the SDK's ``iter_lines`` decoded each one to text before splitting it: this takes about
    half its CPU per chunk (``benchmarks/sse_lines.py``). A line cut between chunks is joined (its pieces kept
    apart until its end comes: a long line in many small pieces costs its length, not its square); a stream's
    last line without an end is kept too."""
    pending: list[bytes] = []  # the pieces of a line not ended yet
    async for chunk in chunks:
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            pending.append(chunk)
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
            pending.clear()
        rest = lines.pop()
        if rest:
            pending.append(rest)
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield b"".join(pending)


def _sse_content(line: bytes) -> str | None:
    """The text delta of one SSE line of a Chat Completions stream (None for other lines)."""
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    if not data or data == b"[DONE]":
        return None
    try:
        event = json.loads(data)
    except ValueError:
        raise ProviderError("AIプロバイダー（openai）のストリームを解釈できませんでした。", retryable=True) from None
    if not isinstance(event, dict):
        return None
    error = event.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise ProviderError(f"AIプロバイダー（openai）がエラーを返しました: {redact(str(message)[:200])}",
                            retryable="overloaded" in str(message).lower())
    choices = event.get("choices") or ()
    if not choices:
        return None
    delta = choices[0].get("delta") or {}
    if delta.get("refusal"):
        raise ProviderError("AIが生成を拒否しました。入力内容を見直してください。", code="refused")
    content = delta.get("content")
    return content if isinstance(content, str) else None


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTPS_PROXY / HTTP_PROXY, else ALL_PROXY; NO_PROXY honoured),
    as the SDK's default httpx client finds it: many clinics reach the internet only through one."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    proxy = (proxies.get(parts.scheme) or proxies.get("all") or "").strip()
    if proxy and "://" not in proxy:  # "proxy.example:3128", as httpx reads it too
        proxy = "http://" + proxy
    return proxy or None


def _http_client(transport: str, timeout: float, base_url: str) -> Any:
    """The SDK's HTTP client for ``transport`` (None: the SDK's default httpx client). The aiohttp client is the
    SDK's own (``DefaultAioHttpClient``, its default limits), with a trace hook that signals
    ``request_sent()`` once a request's headers are on the wire, and the environment's proxy for ``base_url``
    (looked up here once: aiohttp's own ``trust_env`` looks it up, and reads ~/.netrc, again at every request)."""
    if transport != "aiohttp":
        return None
    try:
        import aiohttp
        import httpx2
        from openai import DefaultAioHttpClient
        from openai._constants import DEFAULT_CONNECTION_LIMITS
        from openai._vendor.httpx_aiohttp import AiohttpTransport
    except (ImportError, RuntimeError):  # an SDK without the aiohttp extra (or too old to have it)
        return None

    async def headers_sent(*_args: Any) -> None:
        request_sent()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(headers_sent)
    proxy = _env_proxy(base_url)
    http = AiohttpTransport(limits=DEFAULT_CONNECTION_LIMITS, proxy=httpx2.Proxy(proxy) if proxy else None)
    limits = DEFAULT_CONNECTION_LIMITS

    def session() -> aiohttp.ClientSession:
        # What AiohttpTransport.get_client builds, plus the trace hook.
        connector = aiohttp.TCPConnector(keepalive_timeout=limits.keepalive_expiry, ssl=http.ssl_context,
                                         limit=limits.max_connections or 0)
        return aiohttp.ClientSession(connector=connector, trace_configs=[trace])

    http.client = session
    return DefaultAioHttpClient(timeout=timeout, transport=http)


def _raw_chat_stream(client: Any, body: dict[str, Any]) -> Any:
    """``POST /chat/completions`` with ``body`` as it is; an async context manager giving the SDK's raw streamed
    response (what ``client.chat.completions.with_streaming_response.create`` returns)."""
    from openai import AsyncStream
    from openai._base_client import make_request_options
    from openai._constants import RAW_RESPONSE_HEADER
    from openai._response import AsyncResponseContextManager
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    request = client.post("/chat/completions", body=body, cast_to=ChatCompletion, stream=True,
                          stream_cls=AsyncStream[ChatCompletionChunk],
                          options=make_request_options(extra_headers={RAW_RESPONSE_HEADER: "stream"},
                                                       security={"bearer_auth": True}))
    return AsyncResponseContextManager(request)


def _user_content(request: TextRequest) -> Any:
    """The prompt, followed by the request's images as data URLs (Chat Completions content parts)."""
    if not request.images:
        return request.prompt
    return [{"type": "text", "text": request.prompt},
            *({"type": "image_url", "image_url": {"url": image.data_url()}} for image in request.images)]


class OpenAIProvider(PooledClientProvider):
    name: ClassVar[str] = "openai"
    label: ClassVar[str] = "OpenAI"
    supports_text: ClassVar[bool] = True
    supports_image: ClassVar[bool] = True
    supports_schema: ClassVar[bool] = True
    accepts_images: ClassVar[bool] = True
    needs_key: ClassVar[bool] = True
    key_env_var: ClassVar[str | None] = "OPENAI_API_KEY"
    default_text_model: ClassVar[str] = "gpt-5.4-mini"
    default_image_model: ClassVar[str] = "gpt-image-2"
    known_text_models: ClassVar[tuple[str, ...]] = (
        "gpt-5.4-mini", "gpt-5.4", "gpt-5.4-nano", "gpt-5-mini", "gpt-5", "gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", "gpt-4o",
    )
    known_image_models: ClassVar[tuple[str, ...]] = ("gpt-image-2", "gpt-image-1", "gpt-image-1-mini", "dall-e-3")

    @classmethod
    def accepts_custom_models(cls) -> bool:
        # Ollama, vLLM and other OpenAI-compatible servers name their models freely.
        return bool(os.environ.get("OPENAI_BASE_URL", "").strip())

    options: Options  # narrowed from Provider.options: this class's own Options

    class Options(Provider.Options):
        # "json_schema": Structured Outputs (strict). "json_object": plain JSON mode for servers without it.
        response_format: Literal["json_schema", "json_object"] = "json_schema"
        # Reasoning models accept only the default temperature; send it only when asked to.
        send_temperature: bool = False
        # Read the SSE lines of the stream ourselves (json.loads per chunk) instead of letting the SDK build a
        # pydantic model per chunk: measured ~2x less CPU per streamed call. Requests, auth, base URL and
        # error statuses still go through the SDK.
        raw_stream: bool = True
        # The SDK's HTTP transport. "aiohttp" (the SDK's ``DefaultAioHttpClient``, the ``openai[aiohttp]``
        # extra): its pool finds a free connection in O(1); the default httpx pool checks every open connection
        # for each request, ~5 ms of CPU per generation at 200 concurrent calls (benchmarks/generation_burst.py).
        # "httpx" is used when aiohttp is not installed.
        http_transport: Literal["aiohttp", "httpx"] = "aiohttp"

    @classmethod
    def config_key(cls, settings) -> tuple[Any, ...]:
        return (*super().config_key(settings), os.environ.get("OPENAI_BASE_URL", "").strip())

    def make_client(self) -> Any:
        from openai import AsyncOpenAI

        timeout = (self.settings.provider_timeout_seconds + 5.0) if self.settings else 125.0
        base_url = os.environ.get("OPENAI_BASE_URL", "").strip() or None
        http_client = _http_client(self.options.http_transport, timeout, base_url or "https://api.openai.com/v1")
        self.reports_request_sent = http_client is not None
        return AsyncOpenAI(
            api_key=self.api_key(),
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
            http_client=http_client,
        )

    def warm_client(self, client: Any) -> None:
        # The SDK imports its resources (and their pydantic types) on first access.
        client.chat.completions.with_streaming_response  # noqa: B018 - loads the resource
        client.images  # noqa: B018
        from openai.types import ImagesResponse

        ImagesResponse.model_validate({"created": 0, "data": [{"b64_json": ""}]})

    async def warm(self) -> None:
        await super().warm()
        # The first connection resolves the API's host in the loop's default executor (created, with its
        # thread, on first use): resolve it now. A lookup, not a request; failures only mean it happens later.
        url = self.client().base_url
        try:
            async with asyncio.timeout(2.0):
                await asyncio.get_running_loop().getaddrinfo(url.host, url.port or 443)
        except (OSError, TimeoutError):
            pass

    def _error(self, exc: Exception) -> Exception:
        import openai

        mapped = map_stainless_error(exc, self.name, openai)
        return mapped if mapped is not None else exc

    def _response_format(self, request: TextRequest) -> dict[str, Any]:
        if self.options.response_format == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": safe_name(request.schema_name),
                "schema": strict_json_schema(request.schema),
                "strict": True,
            },
        }

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        client = self.client()
        body: dict[str, Any] = {
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": _user_content(request)},
            ],
            "response_format": self._response_format(request),
            "max_completion_tokens": request.max_output_tokens,
        }
        if self.options.send_temperature:
            body["temperature"] = request.temperature
        model = request.model or self.default_text_model
        try:
            if self.options.raw_stream:
                # The body goes in as JSON as it is, through the SDK's own request path (auth, base URL, errors,
                # the raw streamed response of ``with_streaming_response``) without ``chat.completions.create``'s
                # parameter transformation: it walked every message and the schema against its typed dicts
                # (~1 ms of CPU per call), and still hashed its annotations with an empty body (~0.3 ms).
                async with _raw_chat_stream(client, {**body, "model": model, "stream": True}) as response:
                    async for line in _sse_lines(response.iter_bytes()):
                        piece = _sse_content(line)
                        if piece:
                            yield piece
                return
            stream = await client.chat.completions.create(model=model, stream=True, **body)
            async with stream:
                async for chunk in stream:
                    if not chunk.choices:
                        continue
                    delta = chunk.choices[0].delta
                    if delta is None:
                        continue
                    if getattr(delta, "refusal", None):
                        raise ProviderError("AIが生成を拒否しました。入力内容を見直してください。", code="refused")
                    if delta.content:
                        yield delta.content
        except Exception as exc:  # noqa: BLE001 - mapped to ProviderError
            raise self._error(exc) from None

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        client = self.client()
        model = request.model or self.default_image_model
        kwargs: dict[str, Any] = {"model": model, "prompt": request.prompt, "n": 1, "size": request.size}
        if model.startswith("dall-e"):
            kwargs["response_format"] = "b64_json"  # gpt-image models always return base64
        try:
            # The SDK's request path (auth, base URL, errors) without ``images.generate``'s parameter
            # transformation: it hashes the typed-dict annotations (a long ``Literal`` of sizes) on every call,
            # 35 % of a portrait's CPU up to its request in the burst's profile. Our body is already wire format.
            from openai._base_client import make_request_options
            from openai.types import ImagesResponse

            response = await client.post("/images/generations", body=kwargs, cast_to=ImagesResponse,
                                         options=make_request_options(security={"bearer_auth": True}))
        except Exception as exc:  # noqa: BLE001 - mapped to ProviderError
            raise self._error(exc) from None
        item = response.data[0] if response.data else None
        b64 = getattr(item, "b64_json", None) if item is not None else None
        if not b64:
            raise ProviderError("画像生成APIが画像データ（base64）を返しませんでした。", code="invalid_output")
        try:
            data = base64.b64decode(b64)
        except (binascii.Error, ValueError):
            raise ProviderError("画像生成APIが不正な画像データを返しました。", code="invalid_output") from None
        return ImageResult(data=data, mime=sniff_image_mime(data), model=model,
                           revised_prompt=getattr(item, "revised_prompt", None))
