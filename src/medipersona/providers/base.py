"""The provider interface (after simonw/llm): capability flags, per-provider options, two async calls.

A text call streams chunks of a JSON document that must validate against a JSON schema; an image call returns
bytes. Providers know nothing about personas: the personas domain builds the prompt and the schema.

Nobody calls a provider directly: use ``providers.calls`` (timeouts, retries, concurrency limit, fallback,
logging, metrics) or ``providers.structured.generate_structured`` (plus repair, validation and re-asking).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from medipersona.redact import redact  # also imported from here by the provider modules
from medipersona.retry import parse_retry_after, retry_after_from_headers  # noqa: F401 - re-exported to providers

if TYPE_CHECKING:
    from medipersona.settings import Settings

# Tasks whose model comes from settings.analysis_model (falls back to text_model).
ANALYSIS_TASKS = frozenset({"timeline_analysis", "swot", "competitor_analysis"})


class ProviderError(Exception):
    """A provider call failed. ``retryable`` errors (429, 5xx, timeouts, connection) may be retried.

    ``code``: provider_error | provider_timeout | rate_limited | connection_error | invalid_output | refused |
    unsupported. ``message`` is Japanese (it may reach users); it never holds keys or prompt contents.
    ``detail``: the upstream's own words (English, shortened, redacted) for the operator: logged with the call
    (``error_detail``), never shown to users.
    """

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None,
                 status: int | None = None, code: str = "provider_error", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self.provider: str | None = None  # filled in by providers.calls
        self.mid_stream = False  # True when part of the stream had already been delivered


class ProviderTimeout(ProviderError):
    def __init__(self, message: str = "AIプロバイダーの応答がタイムアウトしました。") -> None:
        super().__init__(message, retryable=True, code="provider_timeout")


def status_error(provider: str, status: int, detail: str = "", *, retry_after: float | None = None) -> ProviderError:
    """A ProviderError for an HTTP status: 408/409/429/5xx are retryable, other 4xx are not.

    ``detail`` (the upstream message) is shortened and redacted and kept for the log, not the user's message;
    it is dropped for 401/403, whose messages quote the key.
    """
    retryable = status in (408, 409, 429) or status >= 500
    code = "rate_limited" if status == 429 else "provider_error"
    detail = "" if status in (401, 403) else redact(" ".join((detail or "").split())[:200])
    if status == 429:
        message = f"AIプロバイダー（{provider}）の利用上限に達しました（HTTP 429）。"
    elif status in (401, 403):
        message = f"AIプロバイダー（{provider}）の認証に失敗しました（HTTP {status}）。APIキーを確認してください。"
    elif status >= 500:
        message = f"AIプロバイダー（{provider}）でサーバーエラーが発生しました（HTTP {status}）。"
    else:
        message = f"AIプロバイダー（{provider}）がリクエストを受け付けませんでした（HTTP {status}）。"
    return ProviderError(message, retryable=retryable, retry_after=retry_after, status=status, code=code,
                         detail=detail)


@dataclass(frozen=True)
class InputImage:
    """An image the model reads with the prompt (e.g. a clinic's leaflet). Only for providers whose
    ``accepts_images`` is true."""

    data: bytes
    mime: str  # image/png | image/jpeg | image/webp

    def data_url(self) -> str:
        import base64

        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


@dataclass
class TextRequest:
    task: str  # persona_text | section_text | timeline_analysis | swot ...
    system: str
    prompt: str
    schema: dict[str, Any]  # JSON schema of the expected object
    schema_name: str = "result"
    model: str = ""  # empty: settings (text_model / analysis_model), then the provider's default
    max_output_tokens: int = 4000
    temperature: float = 0.8
    seed: int | None = None
    # Offline/simulated providers compose output from this structured context instead of calling a model.
    context: dict[str, Any] = field(default_factory=dict)
    # Images read together with the prompt (providers with ``accepts_images`` only).
    images: tuple[InputImage, ...] = ()


def addendum_lines(addendum: str, heading: str = "## 追加の指示") -> list[str]:
    """An admin's extra instructions for a task (``admin.task_options``) as prompt lines: a blank line, the heading
    and the text; none when there are none. Prompts put them before their output and safety rules."""
    text = addendum.strip()
    return ["", heading, text] if text else []


@functools.cache
def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A response model's JSON schema, built once per class (pydantic rebuilds it on every call: 0.4–0.6 ms).
    Shared between requests: read it, never modify it (strict_json_schema copies)."""
    return model.model_json_schema()


def structured_request(task: str, *, system: str, prompt: str, schema: type[BaseModel] | dict[str, Any],
                       schema_name: str | None = None, model: str = "", max_output_tokens: int = 4000,
                       temperature: float = 0.8, seed: int | None = None,
                       context: dict[str, Any] | None = None) -> TextRequest:
    """A structured-output text request, built one way for every prompt: the JSON schema from the pydantic model
    (or as given), named after the task unless ``schema_name`` says otherwise."""
    return TextRequest(task=task, system=system, prompt=prompt,
                       schema=schema if isinstance(schema, dict) else model_schema(schema),
                       schema_name=schema_name or task, model=model, max_output_tokens=max_output_tokens,
                       temperature=temperature, seed=seed, context=context or {})


@dataclass
class ImageRequest:
    task: str  # portrait
    prompt: str
    model: str = ""
    size: str = "1024x1024"
    seed: int | None = None
    context: dict[str, Any] = field(default_factory=dict)  # e.g. {"age": 45, "gender": "female", "seed": 1}


@dataclass
class ImageResult:
    data: bytes
    mime: str  # image/png | image/jpeg | image/webp
    model: str
    revised_prompt: str | None = None


def sniff_image_mime(data: bytes, default: str = "image/png") -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return default


# --- "the request is on the wire" ------------------------------------------------------------------------------
# A generation sends its portrait request before its text work starts: the portrait is the longest call, and the
# text's preparation (prompt, schema, SDK request) run for 200 jobs in one go would hold the portrait requests'
# connections back for a second (benchmarks/generation_burst.py, critical path). The caller sets a callback for
# its task (``on_request_sent``); a provider that can tell when its HTTP request was sent calls
# ``request_sent()`` then (``Provider.reports_request_sent``); ``providers.calls`` calls it for the others just
# before the call, and for every provider once the call has ended (so nobody waits for a signal that never
# comes).
_request_sent_callback: ContextVar[Callable[[], None] | None] = ContextVar("request_sent_callback", default=None)


@contextlib.contextmanager
def on_request_sent(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` (in this task) once the provider request made inside the block has been sent."""
    token = _request_sent_callback.set(callback)
    try:
        yield
    finally:
        _request_sent_callback.reset(token)


def request_sent() -> None:
    """Tell the caller of the current provider call that its request is on the wire (idempotent callbacks)."""
    callback = _request_sent_callback.get()
    if callback is not None:
        callback()


class Provider:
    """Base class. Subclasses set the capability flags and implement the calls they support.

    One instance per provider configuration per process (see ``registry``); an instance owns one pooled SDK
    client, created lazily on first use.
    """

    name: ClassVar[str]
    label: ClassVar[str] = ""
    can_stream: ClassVar[bool] = True
    supports_text: ClassVar[bool] = True
    supports_image: ClassVar[bool] = False
    supports_schema: ClassVar[bool] = True
    # Text calls may carry images (``TextRequest.images``) that the model reads, e.g. a leaflet.
    accepts_images: ClassVar[bool] = False
    needs_key: ClassVar[bool] = False
    key_env_var: ClassVar[str | None] = None
    # All variables the key may come from, in order of preference (default: (key_env_var,)).
    key_env_vars: ClassVar[tuple[str, ...]] = ()
    default_text_model: ClassVar[str] = ""
    default_image_model: ClassVar[str] = ""
    is_offline: ClassVar[bool] = False  # output is composed locally, labelled as offline output
    # Calls ``request_sent()`` when its HTTP request has been sent (else ``providers.calls`` does, at the start).
    reports_request_sent: bool = False
    # Models an admin may pick per task (validated in the admin settings); the defaults come first.
    known_text_models: ClassVar[tuple[str, ...]] = ()
    known_image_models: ClassVar[tuple[str, ...]] = ()

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, options: Options | None = None, *, settings: Settings | None = None) -> None:
        self.options = options or self.Options()
        self.settings = settings

    # --- configuration -----------------------------------------------------------------------------------
    @classmethod
    def key_variables(cls) -> tuple[str, ...]:
        return cls.key_env_vars or ((cls.key_env_var,) if cls.key_env_var else ())

    @classmethod
    def api_key(cls) -> str | None:
        for var in cls.key_variables():
            value = os.environ.get(var, "").strip()
            if value:
                return value
        return None

    @classmethod
    def config_key(cls, settings: Settings) -> tuple[Any, ...]:
        """What makes two instances of this provider different (the per-process singleton cache key)."""
        return (cls.api_key(), settings.provider_timeout_seconds, settings.provider_stream_idle_seconds,
                settings.simulated_text_seconds, settings.simulated_image_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> Provider:
        return cls(settings=settings)

    @classmethod
    def accepts_custom_models(cls) -> bool:
        """Whether model names outside the known lists are accepted (e.g. an OpenAI-compatible server)."""
        return False

    def resolve_model(self, kind: str, requested: str = "") -> str:
        """The model for a call: the requested one, else this provider's default for the kind (text | image)."""
        if requested:
            return requested
        return self.default_image_model if kind == "image" else self.default_text_model

    # --- calls -------------------------------------------------------------------------------------------
    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        """Yield chunks of the JSON document as the model writes them."""
        raise NotImplementedError
        yield ""  # pragma: no cover

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        raise NotImplementedError

    async def warm(self) -> None:
        """Load what the first call would otherwise load (the SDK, its client and connection pool), so the first
        generation pays nothing extra. Called at worker start for the configured providers only
        (``registry.warm_providers``); the default has nothing to load."""

    async def aclose(self) -> None:
        """Release pooled connections (called at worker shutdown)."""
