"""The provider interface (after simonw/llm): capability flags, per-provider options, two async calls.

A text call streams chunks of a JSON document that must validate against a JSON schema; an image call returns
bytes. Providers know nothing about personas: the personas domain builds the prompt and the schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ProviderError(Exception):
    """A provider call failed. ``retryable`` errors (429, 5xx, timeouts, connection) may be retried."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None,
                 status: int | None = None, code: str = "provider_error") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.code = code


class ProviderTimeout(ProviderError):
    def __init__(self, message: str = "provider timed out") -> None:
        super().__init__(message, retryable=True, code="provider_timeout")


@dataclass
class TextRequest:
    task: str  # persona_text | section_text | timeline_analysis | swot ...
    system: str
    prompt: str
    schema: dict[str, Any]  # JSON schema of the expected object
    schema_name: str = "result"
    model: str = ""  # empty: the provider's default
    max_output_tokens: int = 4000
    temperature: float = 0.8
    seed: int | None = None
    # Offline/simulated providers compose output from this structured context instead of calling a model.
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageRequest:
    task: str  # portrait
    prompt: str
    model: str = ""
    size: str = "1024x1024"
    seed: int | None = None
    context: dict[str, Any] = field(default_factory=dict)  # e.g. {"age": 45, "gender": "female", "name": ...}


@dataclass
class ImageResult:
    data: bytes
    mime: str  # image/png | image/jpeg | image/webp
    model: str
    revised_prompt: str | None = None


class Provider:
    """Base class. Subclasses set the capability flags and implement the calls they support."""

    name: ClassVar[str]
    label: ClassVar[str] = ""
    can_stream: ClassVar[bool] = True
    supports_text: ClassVar[bool] = True
    supports_image: ClassVar[bool] = False
    supports_schema: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False
    key_env_var: ClassVar[str | None] = None
    default_text_model: ClassVar[str] = ""
    default_image_model: ClassVar[str] = ""
    is_offline: ClassVar[bool] = False  # output is composed locally, labelled as offline output

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or self.Options()

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        """Yield chunks of the JSON document as the model writes them."""
        raise NotImplementedError
        yield ""  # pragma: no cover

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release pooled connections (called at worker shutdown)."""
