"""Registry, configuration check and the call wrapper (retries, concurrency, fallback, logging, metrics) with
fake providers registered through the registry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from medipersona.errors import ConfigurationError
from medipersona.ops import metrics
from medipersona.providers import calls, registry
from medipersona.providers.base import (
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    TextRequest,
)
from medipersona.providers.calls import CallInfo, image_call, stream_text_call


class ScriptedProvider(Provider):
    """Each call pops one behaviour: an exception to raise before any chunk, ("chunks", [...]), or
    ("chunks_then_error", [...], exc)."""

    name: ClassVar[str] = "scripted"
    supports_image: ClassVar[bool] = True
    default_text_model: ClassVar[str] = "scripted-text"
    default_image_model: ClassVar[str] = "scripted-image"

    def __init__(self) -> None:
        super().__init__()
        self.script: list = []
        self.calls: list[str] = []
        self.active = 0
        self.max_active = 0
        self.hold = 0.0

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        self.calls.append(request.model)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.hold:
                await asyncio.sleep(self.hold)
            step = self.script.pop(0) if self.script else ("chunks", ['{"a": ', '"b"}'])
            if isinstance(step, Exception):
                raise step
            for chunk in step[1]:
                yield chunk
            if step[0] == "chunks_then_error":
                raise step[2]
        finally:
            self.active -= 1

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        self.calls.append(request.model)
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        return ImageResult(data=b"\x89PNGfake", mime="image/png", model="")


@pytest.fixture
def scripted(register_fake) -> ScriptedProvider:
    """This test's scripted provider (registered as "scripted"; its script and counters are its own)."""
    return register_fake(ScriptedProvider())


@pytest.fixture
def observed(monkeypatch):
    seen: list[tuple] = []
    monkeypatch.setattr(metrics, "observe_provider_call", lambda *args: seen.append(args))
    return seen


def req(**kw) -> TextRequest:
    return TextRequest(task=kw.pop("task", "persona_text"), system="s", prompt="p", schema={"type": "object"}, **kw)


async def collect(settings, request, **kw) -> str:
    return "".join([c async for c in stream_text_call(settings, request, **kw)])


# --- configuration ------------------------------------------------------------------------------------------

def test_unknown_provider_is_a_clear_configuration_error(make_settings):
    with pytest.raises(ConfigurationError) as info:
        registry.check_configuration(make_settings(text_provider="openia"))
    message = str(info.value)
    assert "MEDIPERSONA_TEXT_PROVIDER" in message and "'openia'" in message and "openai" in message


def test_image_provider_that_cannot_make_images(make_settings, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    with pytest.raises(ConfigurationError) as info:
        registry.check_configuration(make_settings(image_provider="anthropic"))
    assert "cannot generate images" in str(info.value) and "MEDIPERSONA_IMAGE_PROVIDER" in str(info.value)


@pytest.mark.parametrize(("setting", "name", "variable"), [
    ("text_provider", "openai", "OPENAI_API_KEY"),
    ("image_provider", "openai", "OPENAI_API_KEY"),
    ("text_provider", "anthropic", "ANTHROPIC_API_KEY"),
    ("text_provider", "gemini", "GEMINI_API_KEY or GOOGLE_API_KEY"),
    ("fallback_text_provider", "openai", "OPENAI_API_KEY"),
])
def test_missing_key_is_a_clear_configuration_error(make_settings, monkeypatch, setting, name, variable):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError) as info:
        registry.check_configuration(make_settings(**{setting: name}))
    assert variable in str(info.value)
    assert f"MEDIPERSONA_{setting.upper()}" in str(info.value)


def test_valid_configurations_pass(make_settings, monkeypatch):
    registry.check_configuration(make_settings())  # offline default, no key
    registry.check_configuration(make_settings(text_provider="simulated", image_provider="simulated"))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "g")
    registry.check_configuration(make_settings(text_provider="gemini", image_provider="gemini"))


def test_unknown_fallback_provider(make_settings):
    with pytest.raises(ConfigurationError, match="FALLBACK_IMAGE_PROVIDER"):
        registry.check_configuration(make_settings(fallback_image_provider="nope"))


def test_registered_fake_provider_is_used(make_settings, scripted):
    settings = make_settings(text_provider="scripted", image_provider="scripted")
    registry.check_configuration(settings)
    assert registry.text_provider(settings) is scripted
    assert registry.text_provider(settings) is registry.image_provider(settings)


# --- retries --------------------------------------------------------------------------------------------------

async def test_retryable_error_before_first_chunk_is_retried(make_settings, scripted, observed, caplog):
    scripted.script = [ProviderError("busy", retryable=True, status=503), ("chunks", ["{}"])]
    caplog.set_level(logging.INFO, logger="medipersona.ai")
    text = await collect(make_settings(text_provider="scripted"), req())
    assert text == "{}"
    assert [o[3] for o in observed] == ["retry", "ok"]
    assert all(o[:3] == ("scripted", "scripted-text", "persona_text") for o in observed)
    lines = [r for r in caplog.records if "[AI] Response time:" in r.getMessage()]
    assert [r.outcome for r in lines] == ["retry", "ok"]
    assert all(r.getMessage().startswith("[AI] Response time: ") and r.getMessage().endswith(" seconds")
               for r in lines)


async def test_non_retryable_error_is_not_retried(make_settings, scripted, observed, caplog):
    from medipersona.providers.base import status_error

    scripted.script = [status_error("scripted", 400, "model 'gpt-x' does not exist")]
    caplog.set_level(logging.INFO, logger="medipersona.ai")
    with pytest.raises(ProviderError, match="HTTP 400") as info:
        await collect(make_settings(text_provider="scripted"), req())
    assert len(scripted.calls) == 1
    assert [o[3] for o in observed] == ["error"]
    assert "does not exist" not in info.value.message
    logged = [r for r in caplog.records if "[AI] Response time:" in r.getMessage()]
    assert [r.error_detail for r in logged] == ["model 'gpt-x' does not exist"]


async def test_retries_are_bounded(make_settings, scripted, observed):
    scripted.script = [ProviderError("busy", retryable=True) for _ in range(10)]
    with pytest.raises(ProviderError):
        await collect(make_settings(text_provider="scripted", provider_max_retries=3), req())
    assert len(scripted.calls) == 4
    assert [o[3] for o in observed] == ["retry", "retry", "retry", "error"]


async def test_a_stream_is_not_retried_after_its_first_chunk(make_settings, scripted):
    scripted.script = [("chunks_then_error", ['{"a": "x'], ProviderError("reset", retryable=True))]
    received = []
    with pytest.raises(ProviderError) as info:
        async for chunk in stream_text_call(make_settings(text_provider="scripted"), req()):
            received.append(chunk)
    assert received == ['{"a": "x'] and info.value.mid_stream
    assert len(scripted.calls) == 1


async def test_retry_after_longer_than_the_cap_goes_to_the_fallback(make_settings, scripted, monkeypatch):
    monkeypatch.setattr(calls, "MAX_RETRY_AFTER_SECONDS", 5)
    scripted.script = [ProviderError("slow down", retryable=True, retry_after=3600, status=429)]
    settings = make_settings(text_provider="scripted", fallback_text_provider="offline")
    info = CallInfo()
    request = req(task="section_text", context={"section": "reason", "chief_complaint": "頭痛"})
    text = await collect(settings, request, info=info)
    assert '"text"' in text and len(scripted.calls) == 1
    assert info.provider == "offline" and info.fallback_used


async def test_unexpected_exception_becomes_provider_error(make_settings, scripted):
    scripted.script = [RuntimeError("boom")]
    with pytest.raises(ProviderError) as info:
        await collect(make_settings(text_provider="scripted"), req())
    assert "RuntimeError" in info.value.message and not info.value.retryable


# --- models ---------------------------------------------------------------------------------------------------

async def test_model_resolution(make_settings, scripted):
    settings = make_settings(text_provider="scripted", text_model="tm", analysis_model="am")
    await collect(settings, req())
    await collect(settings, req(task="timeline_analysis"))
    await collect(settings, req(model="explicit"))
    await collect(make_settings(text_provider="scripted"), req())
    assert scripted.calls == ["tm", "am", "explicit", "scripted-text"]


# --- concurrency ----------------------------------------------------------------------------------------------

async def test_concurrency_limit_is_shared_across_tasks(make_settings, scripted):
    scripted.hold = 0.05
    settings = make_settings(text_provider="scripted", provider_max_concurrency=3)
    await asyncio.gather(*(collect(settings, req()) for _ in range(12)))
    assert len(scripted.calls) == 12
    assert scripted.max_active == 3


async def test_semaphore_is_per_provider_not_per_request(make_settings):
    settings = make_settings()
    assert calls.provider_semaphore("x", settings) is calls.provider_semaphore("x", settings)
    assert calls.provider_semaphore("x", settings) is not calls.provider_semaphore("y", settings)


# --- images ---------------------------------------------------------------------------------------------------

async def test_image_call_retries_and_logs(make_settings, scripted, observed, caplog):
    scripted.script = [ProviderError("busy", retryable=True, status=502)]
    caplog.set_level(logging.INFO, logger="medipersona.ai")
    result = await image_call(make_settings(image_provider="scripted", image_model="im"),
                              ImageRequest(task="portrait", prompt="p"))
    assert result.data.startswith(b"\x89PNG") and result.model == "im"
    assert [o[3] for o in observed] == ["retry", "ok"]
    assert [o[1] for o in observed] == ["im", "im"]


async def test_empty_image_is_an_error(make_settings, monkeypatch, scripted):
    async def empty(request):
        return ImageResult(data=b"", mime="image/png", model="m")
    monkeypatch.setattr(scripted, "generate_image", empty)
    with pytest.raises(ProviderError) as info:
        await image_call(make_settings(image_provider="scripted"), ImageRequest(task="portrait", prompt="p"))
    assert info.value.code == "invalid_output"


def test_upstream_messages_are_redacted():
    from medipersona.providers.base import redact, status_error

    err = status_error("openai", 401, "Incorrect API key provided: sk-abc12***********wxyz. You can find...")
    assert "sk-" not in err.message and "401" in err.message and "APIキー" in err.message
    err = status_error("openai", 400, "bad key sk-proj-abcdef123456 and AIzaSyA1234567890 here")
    assert "abcdef123456" not in err.message and "AIzaSy" not in err.message and "HTTP 400" in err.message
    # the upstream's English stays out of the user's Japanese message; the operator gets it, redacted
    assert "here" not in err.message and err.detail.startswith("bad ") and err.detail.endswith(" here")
    assert "abcdef123456" not in err.detail and "AIzaSy" not in err.detail
    assert redact("model gpt-5.4-mini not found") == "model gpt-5.4-mini not found"


async def test_timeline_analysis_uses_the_keyword_module(make_settings, monkeypatch):
    import json

    from medipersona.keywords import offline_analysis
    from medipersona.providers.base import TextRequest
    from medipersona.providers.offline import OfflineProvider

    seen = {}

    def fake(context, seed):
        seen["args"] = (context, seed)
        return {"psychology": "a", "hidden_needs": "b", "marketing": "c"}

    monkeypatch.setattr(offline_analysis, "compose_timeline_analysis", fake)

    def compose():
        request = TextRequest(task="timeline_analysis", system="", prompt="", schema={}, context={"summary": {}},
                              seed=5)
        return json.loads(OfflineProvider().compose_json(request))

    out = compose()
    assert out == {"psychology": "a", "hidden_needs": "b", "marketing": "c"}
    assert seen["args"][0] == {"summary": {}} and isinstance(seen["args"][1], int)
    assert compose() == out


def test_sdks_are_imported_lazily():
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "os.environ.update(OPENAI_API_KEY='k', ANTHROPIC_API_KEY='k', GEMINI_API_KEY='k')\n"
        "from medipersona.settings import Settings\n"
        "from medipersona.providers import calls, structured, registry\n"
        "for text, image in [('openai', 'openai'), ('anthropic', 'gemini'), ('simulated', 'offline')]:\n"
        "    s = Settings(text_provider=text, image_provider=image, data_dir='/tmp/x', secret_key='x')\n"
        "    registry.check_configuration(s); registry.text_provider(s); registry.image_provider(s)\n"
        "print(sorted(m for m in ('openai', 'anthropic', 'google.genai', 'PIL') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
