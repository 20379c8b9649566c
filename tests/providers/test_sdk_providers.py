"""The real SDKs (openai, anthropic, google-genai) against a local HTTP server speaking their APIs."""

from __future__ import annotations

import email.utils
import json
import logging
import time

import pytest
from pydantic import BaseModel

from medipersona.providers import registry
from medipersona.providers.base import ImageRequest, ProviderError, ProviderTimeout, TextRequest
from medipersona.providers.calls import CallInfo, image_call, stream_text_call
from medipersona.providers.structured import generate_structured
from tests.providers.fakes import TINY_PNG, Error, ErrorEvent, Hang, Image, Stall, Text

ROUTES = {"openai": "openai_chat", "anthropic": "anthropic", "gemini": "gemini_stream"}
TEXT_PROVIDERS = list(ROUTES)
VALID = {"personality": "落ち着いた性格で、物事を計画的に進める。", "reason": "頭痛が続くため受診を考えている。"}
PROMPT_SECRET = "PROMPT-CONTENT-MUST-NOT-BE-LOGGED"


class Sections(BaseModel):
    personality: str
    reason: str


def text_request(**kw) -> TextRequest:
    values = {"task": "persona_text", "system": "あなたは医療マーケティングの専門家です。",
                  "prompt": f"ペルソナを作成してください。{PROMPT_SECRET}", "schema": Sections.model_json_schema(),
                  "schema_name": "persona"}
    values.update(kw)
    return TextRequest(**values)


def gap(fake_api, route: str) -> float:
    calls = fake_api.calls(route)
    return calls[1].at - calls[0].at


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
async def test_structured_happy_path(fake_api, make_settings, caplog, name):
    fake_api.script(ROUTES[name], Text(json.dumps(VALID, ensure_ascii=False), chunks=7))
    settings = make_settings(text_provider=name)
    progress: list[dict] = []
    caplog.set_level(logging.INFO, logger="medipersona.ai")

    obj, meta = await generate_structured(settings, text_request(), Sections, on_progress=progress.append)

    assert obj.model_dump() == VALID
    assert meta["provider"] == name and meta["attempts"] == 1 and meta["repaired"] is False
    assert progress and progress[-1] == VALID
    records = [r for r in caplog.records if "[AI] Response time:" in r.getMessage()]
    assert len(records) == 1
    rec = records[0]
    assert (rec.provider, rec.task, rec.outcome) == (name, "persona_text", "ok")
    assert rec.model == registry.get_provider_class(name).default_text_model
    assert "sk-" not in caplog.text and "gemini-test-key" not in caplog.text and PROMPT_SECRET not in caplog.text


async def test_openai_request_uses_strict_structured_outputs(fake_api, make_settings):
    fake_api.script("openai_chat", Text(json.dumps(VALID)))
    settings = make_settings(text_provider="openai", text_model="my-local-model")
    await generate_structured(settings, text_request(), Sections)
    body = fake_api.calls("openai_chat")[0].body
    assert body["model"] == "my-local-model"
    assert body["stream"] is True
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["personality", "reason"]
    assert fake_api.calls("openai_chat")[0].headers["authorization"] == "Bearer sk-test-not-a-real-key"


async def test_anthropic_request_forces_the_tool(fake_api, make_settings):
    fake_api.script("anthropic", Text(json.dumps(VALID)))
    await generate_structured(make_settings(text_provider="anthropic"), text_request(), Sections)
    body = fake_api.calls("anthropic")[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "persona"}
    assert body["tools"][0]["input_schema"]["properties"].keys() == {"personality", "reason"}
    assert body["stream"] is True


async def test_gemini_request_asks_for_json(fake_api, make_settings):
    fake_api.script("gemini_stream", Text(json.dumps(VALID)))
    await generate_structured(make_settings(text_provider="gemini"), text_request(), Sections)
    call = fake_api.calls("gemini_stream")[0]
    assert call.path.endswith("/models/gemini-2.5-flash:streamGenerateContent") and call.query == "alt=sse"
    config = call.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "personality" in json.dumps(config)


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
async def test_retry_on_429_honours_retry_after_seconds(fake_api, make_settings, caplog, name):
    route = ROUTES[name]
    fake_api.script(route, Error(429, {"Retry-After": "1"}), Text(json.dumps(VALID)))
    caplog.set_level(logging.INFO, logger="medipersona.ai")
    obj, meta = await generate_structured(make_settings(text_provider=name), text_request(), Sections)
    assert obj.reason == VALID["reason"]
    assert len(fake_api.calls(route)) == 2
    assert gap(fake_api, route) >= 0.9  # waited for Retry-After, not the 10 ms test backoff
    outcomes = [r.outcome for r in caplog.records if "[AI] Response time:" in r.getMessage()]
    assert outcomes == ["retry", "ok"]
    assert meta["calls"] == 2


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
async def test_retry_on_503_honours_retry_after_http_date(fake_api, make_settings, name):
    route = ROUTES[name]
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    fake_api.script(route, Error(503, {"Retry-After": when}), Text(json.dumps(VALID)))
    obj, _ = await generate_structured(make_settings(text_provider=name), text_request(), Sections)
    assert obj.personality == VALID["personality"]
    assert len(fake_api.calls(route)) == 2
    assert gap(fake_api, route) >= 0.9


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
async def test_5xx_without_retry_after_backs_off_and_gives_up(fake_api, make_settings, name):
    route = ROUTES[name]
    fake_api.script(route, default=Error(500))
    with pytest.raises(ProviderError) as info:
        await generate_structured(make_settings(text_provider=name, provider_max_retries=2), text_request(),
                                  Sections)
    assert info.value.status == 500 and info.value.retryable
    assert len(fake_api.calls(route)) == 3  # 1 + 2 retries


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
async def test_no_retry_on_400(fake_api, make_settings, name):
    route = ROUTES[name]
    fake_api.script(route, default=Error(400))
    with pytest.raises(ProviderError) as info:
        await generate_structured(make_settings(text_provider=name), text_request(), Sections)
    assert info.value.status == 400 and not info.value.retryable
    assert "HTTP 400" in info.value.message
    assert len(fake_api.calls(route)) == 1


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
async def test_timeout_raises_provider_timeout(fake_api, make_settings, caplog, name):
    route = ROUTES[name]
    fake_api.script(route, default=Hang(3))
    settings = make_settings(text_provider=name, provider_timeout_seconds=0.5, provider_max_retries=1)
    # As a worker does at start (app lifespan): the SDK's import and client set-up are not part of the call's
    # 0.5 s (a cold import under load took longer than that and the first attempt timed out before its request).
    await registry.get_provider(name, settings).warm()
    caplog.set_level(logging.INFO, logger="medipersona.ai")
    with pytest.raises(ProviderTimeout):
        async for _ in stream_text_call(settings, text_request()):
            pass
    assert len(fake_api.calls(route)) == 2  # timeouts are retryable
    outcomes = [r.outcome for r in caplog.records if "[AI] Response time:" in r.getMessage()]
    assert outcomes == ["retry", "timeout"]


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
async def test_stream_idle_timeout_after_first_chunk_is_not_retried(fake_api, make_settings, name):
    route = ROUTES[name]
    fake_api.script(route, default=Stall(json.dumps(VALID), after_chunks=2, seconds=3))
    settings = make_settings(text_provider=name, provider_stream_idle_seconds=0.4, provider_max_retries=2)
    received = []
    with pytest.raises(ProviderTimeout) as info:
        async for chunk in stream_text_call(settings, text_request()):
            received.append(chunk)
    assert received and info.value.mid_stream
    assert len(fake_api.calls(route)) == 1


@pytest.mark.parametrize("name", TEXT_PROVIDERS)
@pytest.mark.parametrize("answer", [
    "```json\n" + json.dumps(VALID, ensure_ascii=False) + "\n```",
    json.dumps(VALID, ensure_ascii=False)[:-8],  # truncated inside the last string
    "以下が結果です。\n" + json.dumps(VALID, ensure_ascii=False) + "\nご確認ください。",
])
async def test_malformed_output_is_repaired(fake_api, make_settings, name, answer):
    fake_api.script(ROUTES[name], Text(answer))
    obj, meta = await generate_structured(make_settings(text_provider=name), text_request(), Sections)
    assert meta["repaired"] is True and meta["attempts"] == 1
    assert obj.personality == VALID["personality"]
    assert VALID["reason"].startswith(obj.reason) and obj.reason


async def test_invalid_output_is_reasked_with_the_problem(fake_api, make_settings):
    fake_api.script("openai_chat", Text(json.dumps({"personality": "明るい"})), Text(json.dumps(VALID)))
    obj, meta = await generate_structured(make_settings(text_provider="openai"), text_request(), Sections)
    assert meta["attempts"] == 2 and obj.reason == VALID["reason"]
    second_prompt = fake_api.calls("openai_chat")[1].body["messages"][-1]["content"]
    assert "再依頼" in second_prompt and "reason" in second_prompt
    assert "再依頼" not in fake_api.calls("openai_chat")[0].body["messages"][-1]["content"]


async def test_blank_sections_are_invalid_and_fail_clearly(fake_api, make_settings):
    fake_api.script("openai_chat", default=Text(json.dumps({"personality": "   ", "reason": "理由"})))
    with pytest.raises(ProviderError) as info:
        await generate_structured(make_settings(text_provider="openai"), text_request(), Sections, max_attempts=3)
    assert info.value.code == "invalid_output"
    assert "3回" in info.value.message and "personality" in info.value.message
    assert len(fake_api.calls("openai_chat")) == 3


async def test_fallback_text_provider_after_primary_exhausts_retries(fake_api, make_settings, caplog):
    fake_api.script("openai_chat", default=Error(503))
    fake_api.script("anthropic", Text(json.dumps(VALID)))
    settings = make_settings(text_provider="openai", fallback_text_provider="anthropic", provider_max_retries=1)
    caplog.set_level(logging.INFO, logger="medipersona.ai")
    obj, meta = await generate_structured(settings, text_request(), Sections)
    assert obj.reason == VALID["reason"]
    assert meta["provider"] == "anthropic" and meta["fallback_used"] is True
    assert meta["model"] == "claude-sonnet-4-6"
    assert len(fake_api.calls("openai_chat")) == 2 and len(fake_api.calls("anthropic")) == 1
    outcomes = [(r.provider, r.outcome) for r in caplog.records if "[AI] Response time:" in r.getMessage()]
    assert outcomes == [("openai", "retry"), ("openai", "error"), ("anthropic", "ok")]


async def test_openai_image_from_b64(fake_api, make_settings, caplog):
    fake_api.script("openai_images", Image())
    caplog.set_level(logging.INFO, logger="medipersona.ai")
    result = await image_call(make_settings(image_provider="openai"), ImageRequest(task="portrait", prompt="笑顔"))
    assert result.data == TINY_PNG and result.mime == "image/png" and result.model == "gpt-image-2"
    body = fake_api.calls("openai_images")[0].body
    assert body["model"] == "gpt-image-2" and "response_format" not in body
    rec = next(r for r in caplog.records if "[AI] Response time:" in r.getMessage())
    assert (rec.provider, rec.task, rec.outcome) == ("openai", "portrait", "ok")


async def test_openai_reaches_the_api_through_the_proxy_of_the_environment(fake_api, make_settings, monkeypatch):
    """A clinic's network often reaches the internet only through a proxy (HTTP_PROXY / HTTPS_PROXY): the aiohttp
    transport goes through it, as the SDK's default httpx client does. The API's host does not exist here, so
    only the proxy (the fake API, answering absolute-form requests) can answer."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fake_api.base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://api.openai.invalid/v1")
    fake_api.script("openai_images", Image())
    fake_api.script("openai_chat", Text(json.dumps(VALID)))
    result = await image_call(make_settings(image_provider="openai"), ImageRequest(task="portrait", prompt="笑顔"))
    assert result.data == TINY_PNG
    obj, meta = await generate_structured(make_settings(text_provider="openai"), text_request(), Sections)
    assert obj.reason == VALID["reason"] and meta["provider"] == "openai"
    for route in ("openai_images", "openai_chat"):
        assert fake_api.calls(route)[0].headers["host"] == "api.openai.invalid"

    # NO_PROXY is honoured too: the same host then is tried directly, and does not exist.
    monkeypatch.setenv("NO_PROXY", "api.openai.invalid")
    registry.reset_providers()
    with pytest.raises(ProviderError):
        await image_call(make_settings(image_provider="openai", provider_max_retries=0),
                         ImageRequest(task="portrait", prompt="笑顔"))
    assert len(fake_api.calls("openai_images")) == 1


def test_the_proxy_for_the_api_is_the_one_the_environment_names_for_its_scheme(monkeypatch):
    from medipersona.providers.openai_provider import _env_proxy

    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert _env_proxy("https://api.openai.com/v1") is None
    monkeypatch.setenv("ALL_PROXY", "http://proxy.clinic.example:8080")
    assert _env_proxy("https://api.openai.com/v1") == "http://proxy.clinic.example:8080"
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@proxy.clinic.example:3128")
    assert _env_proxy("https://api.openai.com/v1") == "http://user:pw@proxy.clinic.example:3128"
    monkeypatch.delenv("ALL_PROXY")
    assert _env_proxy("http://127.0.0.1:1234/v1") is None  # a local server over http: no HTTP_PROXY named
    monkeypatch.setenv("HTTPS_PROXY", "proxy.clinic.example:3128")  # no scheme: http, as httpx takes it
    assert _env_proxy("https://api.openai.com/v1") == "http://proxy.clinic.example:3128"
    monkeypatch.setenv("NO_PROXY", ".openai.com,localhost")
    assert _env_proxy("https://api.openai.com/v1") is None


async def test_openai_dalle_asks_for_b64(fake_api, make_settings):
    fake_api.script("openai_images", Image())
    settings = make_settings(image_provider="openai", image_model="dall-e-3")
    await image_call(settings, ImageRequest(task="portrait", prompt="笑顔"))
    assert fake_api.calls("openai_images")[0].body["response_format"] == "b64_json"


async def test_gemini_image_inline_data(fake_api, make_settings):
    fake_api.script("gemini_generate", Image())
    result = await image_call(make_settings(image_provider="gemini"), ImageRequest(task="portrait", prompt="笑顔"))
    assert result.data == TINY_PNG and result.model == "gemini-2.5-flash-image"
    assert fake_api.calls("gemini_generate")[0].path.endswith("gemini-2.5-flash-image:generateContent")


async def test_image_retry_on_429_then_fallback_to_offline(fake_api, make_settings):
    fake_api.script("openai_images", default=Error(429, {"Retry-After": "0"}))
    settings = make_settings(image_provider="openai", fallback_image_provider="offline", provider_max_retries=1)
    info = CallInfo()
    result = await image_call(settings, ImageRequest(task="portrait", prompt="x", context={"age": 70, "seed": 1}),
                              info=info)
    assert len(fake_api.calls("openai_images")) == 2
    assert info.provider == "offline" and info.fallback_used and info.is_offline
    assert result.data.startswith(b"\x89PNG")


async def test_image_timeout(fake_api, make_settings):
    fake_api.script("openai_images", default=Hang(3))
    settings = make_settings(image_provider="openai", provider_timeout_seconds=0.4, provider_max_retries=0)
    with pytest.raises(ProviderTimeout):
        await image_call(settings, ImageRequest(task="portrait", prompt="x"))


async def test_one_shared_openai_client_per_process(fake_api, make_settings):
    import asyncio

    from medipersona.providers.openai_provider import OpenAIProvider

    fake_api.script("openai_chat", default=Text(json.dumps(VALID)))
    settings = make_settings(text_provider="openai")
    before = OpenAIProvider.clients_created
    results = await asyncio.gather(*(generate_structured(settings, text_request(), Sections) for _ in range(20)))
    assert len(results) == 20
    assert OpenAIProvider.clients_created - before == 1
    assert registry.text_provider(settings) is registry.text_provider(settings)
    assert registry.text_provider(settings) is registry.image_provider(make_settings(image_provider="openai"))


@pytest.mark.parametrize("raw_stream", [True, False])
async def test_openai_both_stream_readers(fake_api, make_settings, raw_stream):
    from medipersona.providers.openai_provider import OpenAIProvider

    settings = make_settings(text_provider="openai")
    provider = OpenAIProvider(OpenAIProvider.Options(raw_stream=raw_stream), settings=settings)
    try:
        fake_api.script("openai_chat", Error(429, {"Retry-After": "0"}), Text(json.dumps(VALID), chunks=9))
        obj, meta = await generate_structured(settings, text_request(), Sections, provider=provider)
        assert obj.model_dump() == VALID and meta["calls"] == 2
        fake_api.script("openai_chat", Error(400))
        with pytest.raises(ProviderError) as info:
            await generate_structured(settings, text_request(), Sections, provider=provider)
        assert info.value.status == 400
    finally:
        await provider.aclose()  # its HTTP client's connections (else "Unclosed client session" at exit)


async def test_openai_error_event_inside_the_stream(fake_api, make_settings):
    from medipersona.providers.openai_provider import _sse_content

    assert _sse_content(b'data: {"choices": [{"delta": {"content": "abc"}}]}') == "abc"
    assert _sse_content(b"data: [DONE]") is None and _sse_content(b": keep-alive") is None
    with pytest.raises(ProviderError, match="boom"):
        _sse_content(b'data: {"error": {"message": "boom"}}')
    with pytest.raises(ProviderError) as info:
        _sse_content(b'data: {"choices": [{"delta": {"refusal": "no"}}]}')
    assert info.value.code == "refused"


async def test_openai_stream_lines_survive_any_cut_of_the_bytes():
    """The raw reader splits SSE lines itself: a line (or a UTF-8 character) cut between two network chunks is
    joined, CRLF and LF both end lines, and a last line without an end is kept."""
    import random

    from medipersona.providers.openai_provider import _sse_content, _sse_lines

    deltas = ["患者は", "頭痛に悩み", "、夜も眠れない。", "\n改行も", "😷"]
    events = [json.dumps({"choices": [{"delta": {"content": d}}]}, ensure_ascii=False) for d in deltas]
    wire = "".join(f"data: {e}\r\n\r\n" if i % 2 else f"data: {e}\n\n" for i, e in enumerate(events))
    wire = (": keep-alive\n" + wire + "data: [DONE]").encode()
    rng = random.Random(5)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(wire)), rng.randrange(0, 40)))
        parts = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]

        async def chunks(parts=parts):
            for part in parts:
                yield part

        lines = [line async for line in _sse_lines(chunks())]
        assert lines[-1] == b"data: [DONE]" and all(not line.endswith(b"\r") for line in lines)
        assert [c for c in map(_sse_content, lines) if c] == deltas

    async def byte_by_byte(data: bytes):
        for i in range(len(data)):
            yield data[i:i + 1]

    long_line = b"data: " + b"x" * 200_000
    assert [line async for line in _sse_lines(byte_by_byte(long_line + b"\n\n"))] == [long_line, b""]


async def test_anthropic_overloaded_error_event_is_retried(fake_api, make_settings):
    fake_api.script("anthropic", ErrorEvent("overloaded_error"), Text(json.dumps(VALID)))
    obj, meta = await generate_structured(make_settings(text_provider="anthropic"), text_request(), Sections)
    assert obj.reason == VALID["reason"] and meta["calls"] == 2
    assert len(fake_api.calls("anthropic")) == 2


async def test_anthropic_other_error_event_is_not_retried(fake_api, make_settings):
    fake_api.script("anthropic", default=ErrorEvent("invalid_request_error"))
    with pytest.raises(ProviderError) as info:
        await generate_structured(make_settings(text_provider="anthropic"), text_request(), Sections)
    assert "invalid_request_error" in info.value.message and not info.value.retryable
    assert len(fake_api.calls("anthropic")) == 1


async def test_openai_image_signals_its_request_on_the_wire_before_the_answer(fake_api, make_settings):
    """A generation starts its text once the portrait request is sent (personas.generation): openai reports
    the moment its request headers went out (an aiohttp trace hook), long before the image comes back."""
    import asyncio

    from medipersona.providers.base import on_request_sent

    fake_api.script("openai_images", Hang(1.0))
    settings = make_settings(image_provider="openai", provider_timeout_seconds=0.6, provider_max_retries=0)
    sent = asyncio.Event()

    async def portrait():
        with on_request_sent(sent.set):
            await image_call(settings, ImageRequest(task="portrait", prompt="x"))

    task = asyncio.create_task(portrait())
    await asyncio.wait_for(sent.wait(), timeout=0.5)  # while the fake API still holds the answer back
    assert not task.done()
    with pytest.raises(ProviderTimeout):
        await task
    await asyncio.sleep(0.6)  # the fake records a request when it has answered it
    assert fake_api.calls("openai_images")[0].headers["authorization"] == "Bearer sk-test-not-a-real-key"


async def test_request_sent_is_signalled_when_no_request_is_made(make_settings):
    """A provider that cannot report the moment (offline, simulated) signals at the call's start; an image call
    that ends in any way signals too, so a waiting text never waits for nothing."""
    from medipersona.providers.base import on_request_sent

    signals: list[str] = []
    with on_request_sent(lambda: signals.append("sent")):
        await image_call(make_settings(image_provider="offline"),
                         ImageRequest(task="portrait", prompt="x", context={"age": 40, "seed": 2}))
    assert signals and set(signals) == {"sent"}
