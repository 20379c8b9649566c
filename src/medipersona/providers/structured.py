"""Structured generation: stream, report progress, repair, validate, re-ask; never a blank success.

    obj, meta = await generate_structured(settings, request, PersonaSections, on_progress=cb)

- ``on_progress(partial: dict)`` (sync or async) is called at most every ``progress_interval`` seconds while
  the text streams, with the fields so far (the field being written included, partially), and once more at
  the end of each stream. It is never called per chunk.
- The answer is repaired (code fences, prose around the object, truncation, trailing commas), validated with
  ``model_cls``; blank or whitespace-only strings are invalid. An invalid answer is re-asked with the problem
  added to the prompt, up to ``max_attempts`` answers in all; then ``ProviderError(code="invalid_output")``.
- A stream that broke after its first chunk (which ``stream_text_call`` cannot retry) is asked again as well.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from medipersona.ops import metrics
from medipersona.providers.base import Provider, ProviderError, TextRequest, model_schema
from medipersona.providers.calls import CallInfo, stream_text_call
from medipersona.providers.partial_json import PartialJSON, repair_json
from medipersona.providers.registry import ProviderRoute
from medipersona.settings import Settings

log = logging.getLogger("medipersona.ai")

M = TypeVar("M", bound=BaseModel)
ProgressCallback = Callable[[dict[str, Any]], Awaitable[None] | None]

REASK_TEMPLATE = (
    "\n\n【再依頼】前回の出力は次の理由で受け付けられませんでした: {problem}\n"
    "指定されたJSONスキーマに厳密に従い、すべての項目を空欄なしで埋めたJSONオブジェクトだけを出力してください。"
)


def _blank_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "(root)"] if not value.strip() else []
    if isinstance(value, dict):
        out: list[str] = []
        for key, item in value.items():
            out.extend(_blank_paths(item, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for index, item in enumerate(value):
            out.extend(_blank_paths(item, f"{path}[{index}]"))
        return out
    return []


def describe_validation_error(exc: ValidationError, limit: int = 6) -> str:
    """Field paths and messages (never the values, which may be long model text)."""
    parts = []
    for error in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in error.get("loc", ())) or "(root)"
        parts.append(f"{loc}: {error.get('msg', 'invalid')}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"ほか{more}件")
    return "; ".join(parts)


def validate_output(text: str, model_cls: type[M]) -> tuple[M | None, bool, str]:
    """(validated object or None, repaired?, problem description)."""
    data, repaired = repair_json(text)
    if data is None:
        return None, repaired, "JSONオブジェクトが見つかりませんでした" if text.strip() else "出力が空でした"
    try:
        obj = model_cls.model_validate(data)
    except ValidationError as exc:
        return None, repaired, describe_validation_error(exc)
    blank = _blank_paths(obj.model_dump())
    if blank:
        return None, repaired, "空欄の項目があります: " + ", ".join(blank[:8])
    return obj, repaired, ""


async def _emit(callback: ProgressCallback, data: dict[str, Any]) -> None:
    result = callback(data)
    if inspect.isawaitable(result):
        await result


async def generate_structured(
    settings: Settings,
    request: TextRequest,
    model_cls: type[M],
    *,
    on_progress: ProgressCallback | None = None,
    max_attempts: int = 3,
    provider: Provider | str | None = None,
    route: ProviderRoute | None = None,
    progress_interval: float = 0.1,
) -> tuple[M, dict[str, Any]]:
    """Stream one structured answer and return ``(validated object, meta)``. ``route``: the provider, model and
    fallback chosen for the task (see ``providers.calls``).

    meta: provider, model, label, is_offline, fallback_used, attempts (answers asked for), calls (upstream
    attempts incl. retries), repaired, seconds (wall time). Raises ProviderError (``code="invalid_output"``
    when no valid answer came after ``max_attempts``).
    """
    if not request.schema:
        request = replace(request, schema=model_schema(model_cls))
    started = time.perf_counter()
    problem = ""
    calls = 0
    info = CallInfo()
    for attempt in range(1, max(1, max_attempts) + 1):
        attempt_request = request if not problem else replace(
            request, prompt=request.prompt + REASK_TEMPLATE.format(problem=problem)
        )
        info = CallInfo()
        parser = PartialJSON()
        last_emit = 0.0
        last_sent: dict[str, Any] | None = None
        try:
            async for chunk in stream_text_call(settings, attempt_request, provider=provider, route=route,
                                                 info=info):
                parser.feed(chunk)
                if on_progress is not None:
                    now = time.monotonic()
                    if now - last_emit >= progress_interval:
                        last_emit = now
                        snapshot = parser.snapshot()
                        if snapshot and snapshot != last_sent:
                            last_sent = snapshot
                            await _emit(on_progress, snapshot)
        except ProviderError as exc:
            calls += info.attempts
            if exc.mid_stream and exc.retryable and attempt < max_attempts:
                log.warning("AI stream broke mid-answer; asking again", extra={
                    "provider": info.provider, "model": info.model, "task": request.task, "attempt": attempt})
                continue
            raise
        calls += info.attempts
        if on_progress is not None:
            snapshot = parser.snapshot()
            if snapshot and snapshot != last_sent:
                await _emit(on_progress, snapshot)
        obj, repaired, problem = validate_output(parser.text, model_cls)
        if obj is not None:
            meta = {
                "provider": info.provider,
                "model": info.model,
                "label": info.label,
                "is_offline": info.is_offline,
                "fallback_used": info.fallback_used,
                "attempts": attempt,
                "calls": calls,
                "repaired": repaired,
                "seconds": round(time.perf_counter() - started, 3),
            }
            return obj, meta
        metrics.observe_provider_call(info.provider, info.model, request.task, "invalid_output", info.seconds)
        log.warning("AI output invalid (%s)", problem, extra={
            "provider": info.provider, "model": info.model, "task": request.task, "outcome": "invalid_output",
            "attempt": attempt})
    err = ProviderError(
        f"AIの出力が求める形式になりませんでした（{max_attempts}回試行）。原因: {problem}",
        code="invalid_output",
    )
    err.provider = info.provider
    raise err
