"""generate_structured: progress throttling, validation, re-asking, mid-stream breaks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from pydantic import BaseModel

from medipersona.providers.base import Provider, ProviderError, TextRequest
from medipersona.providers.structured import generate_structured, validate_output


class Out(BaseModel):
    title: str
    body: str


class ChunkProvider(Provider):
    name: ClassVar[str] = "chunky"

    def __init__(self) -> None:
        super().__init__()
        self.answers: list = []
        self.prompts: list[str] = []

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        self.prompts.append(request.prompt)
        answer = self.answers.pop(0)
        if isinstance(answer, tuple):  # (text, exception): some text, then the stream breaks
            yield answer[0]
            raise answer[1]
        for ch in answer:  # one character per chunk
            yield ch


@pytest.fixture
def chunky(register_fake) -> ChunkProvider:
    """This test's chunked provider (registered as "chunky"; its answers and prompts are its own)."""
    return register_fake(ChunkProvider())


def req() -> TextRequest:
    return TextRequest(task="section_text", system="s", prompt="お願いします", schema={})


ANSWER = json.dumps({"title": "見出し", "body": "本文" * 40}, ensure_ascii=False)


async def test_progress_is_throttled_not_per_chunk(make_settings, chunky):
    chunky.answers = [ANSWER]
    progress = []
    obj, _ = await generate_structured(make_settings(text_provider="chunky"), req(), Out,
                                       on_progress=progress.append)
    assert len(ANSWER) > 90
    assert 1 <= len(progress) <= len(ANSWER) // 10  # throttled: nowhere near one call per chunk
    assert progress[-1] == obj.model_dump()


async def test_progress_shows_growing_partial_fields(make_settings, chunky):
    chunky.answers = [ANSWER]
    progress = []

    async def on_progress(partial):  # async callbacks are awaited
        progress.append(partial)

    await generate_structured(make_settings(text_provider="chunky"), req(), Out, on_progress=on_progress,
                              progress_interval=0)
    bodies = [p.get("body", "") for p in progress]
    assert len(progress) > 20
    assert bodies == sorted(bodies, key=len) and bodies[-1] == "本文" * 40
    assert any(0 < len(b) < 80 for b in bodies)  # the field being written is reported partially


async def test_schema_comes_from_the_model_when_missing(make_settings, chunky):
    chunky.answers = [ANSWER]
    obj, meta = await generate_structured(make_settings(text_provider="chunky"), req(), Out)
    assert obj.title == "見出し" and meta["attempts"] == 1 and meta["provider"] == "chunky"


async def test_reask_then_success(make_settings, chunky):
    chunky.answers = ['{"title": "x"}', "not json at all", ANSWER]
    _obj, meta = await generate_structured(make_settings(text_provider="chunky"), req(), Out)
    assert meta["attempts"] == 3
    assert "再依頼" not in chunky.prompts[0]
    assert "body" in chunky.prompts[1] and "再依頼" in chunky.prompts[1]
    assert "JSONオブジェクトが見つかりません" in chunky.prompts[2]


async def test_gives_up_with_a_clear_error(make_settings, chunky):
    chunky.answers = ['{"title": "", "body": "x"}'] * 2
    with pytest.raises(ProviderError) as info:
        await generate_structured(make_settings(text_provider="chunky"), req(), Out, max_attempts=2)
    assert info.value.code == "invalid_output"
    assert "2回" in info.value.message and "title" in info.value.message and "空欄" in info.value.message


async def test_mid_stream_break_is_asked_again(make_settings, chunky):
    chunky.answers = [('{"title": "途中', ProviderError("reset", retryable=True)), ANSWER]
    obj, meta = await generate_structured(make_settings(text_provider="chunky"), req(), Out)
    assert obj.title == "見出し" and meta["attempts"] == 2


async def test_non_retryable_mid_stream_error_propagates(make_settings, chunky):
    chunky.answers = [('{"title": "途中', ProviderError("refused", code="refused"))]
    with pytest.raises(ProviderError, match="refused"):
        await generate_structured(make_settings(text_provider="chunky"), req(), Out)


def test_validate_output_flags_whitespace_only_fields():
    obj, _, problem = validate_output('{"title": "t", "body": " \\n\\t "}', Out)
    assert obj is None and "body" in problem
    obj, _, problem = validate_output('{"title": "t", "body": 3}', Out)
    assert obj is None and "body" in problem
    obj, repaired, problem = validate_output('{"title": "t", "body": "b"}', Out)
    assert obj is not None and not repaired and problem == ""


def test_a_models_schema_is_built_once_and_shared_by_its_requests(monkeypatch):
    """structured_request (the timeline analysis, conversations ...) and generate_structured read one cached
    schema per response model: pydantic's model_json_schema costs ~0.5 ms per call on the generation path."""
    from medipersona.providers.base import model_schema, structured_request

    class Answer(BaseModel):
        text: str

    calls = []
    original = Answer.model_json_schema.__func__
    monkeypatch.setattr(Answer, "model_json_schema", classmethod(lambda cls, *a, **k: calls.append(1) or
                                                                   original(cls, *a, **k)))
    first = structured_request("t", system="s", prompt="p", schema=Answer)
    second = structured_request("t", system="s", prompt="q", schema=Answer)
    assert first.schema is second.schema is model_schema(Answer)
    assert first.schema["properties"]["text"]["type"] == "string"
    assert len(calls) == 1
