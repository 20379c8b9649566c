"""The one way to call a provider: timeouts, bounded retries, a per-provider concurrency limit, fallback,
``[AI] Response time`` logging and metrics.

    async for chunk in stream_text_call(settings, request, route=route):
        ...
    result = await image_call(settings, request, route=route)

``route`` (``registry.ProviderRoute``: provider, model, fallback) is what the admin chose for the task; without
it the environment's providers answer.

- Timeouts: an image call must finish within ``provider_timeout_seconds``; a text stream must finish within
  ``provider_timeout_seconds`` (total deadline) and may not stay silent longer than
  ``provider_stream_idle_seconds`` (idle timeout). Both raise ``ProviderTimeout``.
- Retries: up to ``provider_max_retries`` more attempts for retryable errors (429, 5xx, timeouts, connection
  errors), waiting an exponential backoff with jitter, or the server's Retry-After when it sent one. A stream is
  retried only while nothing has been yielded yet.
- Concurrency: one ``asyncio.Semaphore(provider_max_concurrency)`` per provider and kind (text / image) per
  process, shared by every task; waiting for it is not counted as response time.
- Circuit breaker (``breaker.py``): a provider whose calls keep failing is skipped for a cool-down; the call
  goes to the fallback at once, or fails with ``circuit_open`` (retryable, Retry-After = the cool-down left).
- Fallback: the route's fallback (else ``fallback_text_provider`` / ``fallback_image_provider``) is tried (with its
  own retries) after the primary failed, also when the primary cannot be used here (no API key).
- Every attempt logs ``[AI] Response time: X.XX seconds`` on logger ``medipersona.ai`` with provider, model, task
  and outcome as ``extra`` fields and calls ``ops.metrics.observe_provider_call``. Keys and prompts are never
  logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from medipersona.ops import metrics
from medipersona.providers.base import (
    ANALYSIS_TASKS,
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    ProviderTimeout,
    TextRequest,
    request_sent,
)
from medipersona.providers.breaker import breaker_for
from medipersona.providers.registry import ProviderRoute, env_route, usable_provider
from medipersona.providers.stream_watch import StreamWatch
from medipersona.retry import Backoff, retry_delay
from medipersona.settings import Settings

log = logging.getLogger("medipersona.ai")

BACKOFF_BASE_SECONDS = 0.5  # first retry waits 0.25-0.5 s, then 0.5-1 s, 1-2 s, ...
BACKOFF_MAX_SECONDS = 20.0
MAX_RETRY_AFTER_SECONDS = 60.0  # a server asking for a longer pause is not retried (the fallback is tried)


@dataclass
class CallInfo:
    """Filled in by a call: who actually answered (the fallback, perhaps), with which model, how often tried."""

    provider: str = ""
    model: str = ""
    label: str = ""
    is_offline: bool = False
    attempts: int = 0
    fallback_used: bool = False
    seconds: float = 0.0


# --- concurrency limit ---------------------------------------------------------------------------------------

_semaphores: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, int]] = {}


def provider_semaphore(name: str, settings: Settings, kind: str = "text") -> asyncio.Semaphore:
    """The process-wide semaphore of a provider's text or image calls (per event loop; a worker has one).

    Text and image calls are limited separately (upstream limits differ per endpoint, and one persona makes
    one of each at the same moment).
    """
    loop = asyncio.get_running_loop()
    size = settings.provider_max_concurrency
    key = f"{name}:{kind}"
    entry = _semaphores.get(key)
    if entry is None or entry[0] is not loop or entry[2] != size:
        entry = (loop, asyncio.Semaphore(size), size)
        _semaphores[key] = entry
    return entry[1]


# --- helpers -------------------------------------------------------------------------------------------------

def _retry_wait(err: ProviderError, attempt: int, settings: Settings) -> float | None:
    """Seconds before the next attempt of this call, or None when ``err`` is final for this provider."""
    return retry_delay(Backoff(BACKOFF_BASE_SECONDS, BACKOFF_MAX_SECONDS), attempt, retryable=err.retryable,
                       retry_after=err.retry_after, max_attempts=settings.provider_max_retries + 1,
                       max_retry_after=MAX_RETRY_AFTER_SECONDS)


def _outcome(err: ProviderError) -> str:
    if isinstance(err, ProviderTimeout) or err.code == "provider_timeout":
        return "timeout"
    return "error"


def _record(provider: Provider, model: str, task: str, outcome: str, seconds: float, attempt: int,
            err: ProviderError | None = None) -> None:
    extra = {"provider": provider.name, "model": model, "task": task, "outcome": outcome, "attempt": attempt,
             "seconds": round(seconds, 3)}
    if err is not None:
        extra["error_code"] = err.code
        if err.status is not None:
            extra["status"] = err.status
        if err.detail:
            extra["error_detail"] = err.detail
    level = logging.INFO if outcome in ("ok", "cancelled") else logging.WARNING
    log.log(level, "[AI] Response time: %.2f seconds", seconds, extra=extra)
    if outcome != "cancelled":
        metrics.observe_provider_call(provider.name, model, task, outcome, seconds)


def _as_provider_error(exc: Exception, provider: Provider) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderTimeout()
    return ProviderError(
        f"AIプロバイダー（{provider.name}）の呼び出しで予期しないエラーが発生しました（{type(exc).__name__}）。",
        retryable=False,
    )


def _model_for(settings: Settings, provider: Provider, route: ProviderRoute, requested: str, kind: str,
               task: str, primary: bool) -> str:
    if primary and (requested or route.model):
        return requested or route.model
    configured = ""
    if kind == "image" and provider.name == settings.image_provider:
        configured = settings.image_model
    elif kind == "text" and provider.name == settings.text_provider:
        configured = settings.text_model
        if task in ANALYSIS_TASKS and settings.analysis_model:
            configured = settings.analysis_model
    return provider.resolve_model(kind, configured)


def _route(settings: Settings, kind: str, provider: Provider | str | None, route: ProviderRoute | None
           ) -> tuple[ProviderRoute, list[Provider | str]]:
    """The route of a call and its candidates (primary, then the fallback when it is another provider)."""
    if route is None:
        route = env_route(settings, kind)
        if isinstance(provider, str) and provider:
            route = ProviderRoute(provider, "", route.fallback)
    primary: Provider | str = provider if isinstance(provider, Provider) else route.provider
    primary_name = primary.name if isinstance(primary, Provider) else primary
    candidates = [primary]
    if route.fallback and route.fallback != primary_name:
        candidates.append(route.fallback)
    return route, candidates


def _candidate(settings: Settings, kind: str, route: ProviderRoute, request, candidate: Provider | str,
               index: int):
    """(provider, model, request with that model, circuit breaker) of one candidate; ProviderError when it
    cannot be used here (no key)."""
    prov = candidate if isinstance(candidate, Provider) else usable_provider(candidate, settings, kind)
    model = _model_for(settings, prov, route, request.model, kind, request.task, index == 0)
    breaker = breaker_for(prov.name, kind, settings.provider_circuit_failures,
                          settings.provider_circuit_cooldown_seconds)
    return prov, model, replace(request, model=model), breaker


def _circuit_open(provider: Provider, seconds: float) -> ProviderError:
    err = ProviderError(f"AIサービス（{provider.name}）でエラーが続いているため、一時的に呼び出しを止めています。",
                        retryable=True, retry_after=round(seconds, 2), code="circuit_open")
    err.provider = provider.name
    return err


def _start(info: CallInfo | None, provider: Provider, model: str, attempts: int, fallback: bool) -> None:
    if info is None:
        return
    info.provider = provider.name
    info.model = model
    info.label = provider.label or provider.name
    info.is_offline = provider.is_offline
    info.attempts = attempts
    info.fallback_used = fallback


# --- text ----------------------------------------------------------------------------------------------------

async def stream_text_call(
    settings: Settings,
    request: TextRequest,
    *,
    provider: Provider | str | None = None,
    route: ProviderRoute | None = None,
    info: CallInfo | None = None,
) -> AsyncIterator[str]:
    """Stream the chunks of one structured text answer (see the module docstring for the guarantees).

    ``route``: the provider, model and fallback chosen for the task (else the environment's); ``provider``: a
    provider (instance or name) instead of the route's. ``info`` is filled in with the provider and model that
    answered. Raises ProviderError (``mid_stream`` set when chunks had already been yielded, in which case
    nothing was retried).
    """
    route, candidates = _route(settings, "text", provider, route)
    last_error: ProviderError | None = None
    total = settings.provider_timeout_seconds
    idle = min(settings.provider_stream_idle_seconds, total)
    total_attempts = 0
    for index, candidate in enumerate(candidates):
        try:
            prov, model, req, breaker = _candidate(settings, "text", route, request, candidate, index)
        except ProviderError as exc:
            last_error = exc
            _log_fallback(candidates, index, last_error, request.task)
            continue
        attempt = 0
        while True:
            wait = breaker.before_call()
            if wait is not None:
                last_error = _circuit_open(prov, wait)
                break
            attempt += 1
            total_attempts += 1
            _start(info, prov, model, total_attempts, index > 0)
            delivered = False
            err: ProviderError | None = None
            async with provider_semaphore(prov.name, settings):
                loop = asyncio.get_running_loop()
                started = time.perf_counter()
                deadline = loop.time() + total
                agen = prov.stream_text(req)
                try:
                    try:
                        async with StreamWatch(idle, deadline) as watch:
                            while True:
                                watch.waiting()  # a deadline already past ends this read at once
                                try:
                                    chunk = await anext(agen)
                                except StopAsyncIteration:
                                    break
                                watch.got()
                                if chunk:
                                    delivered = True
                                    yield chunk
                    except TimeoutError:
                        raise ProviderTimeout() from None
                except (asyncio.CancelledError, GeneratorExit):
                    breaker.on_cancelled()
                    _record(prov, model, req.task, "cancelled", time.perf_counter() - started, attempt)
                    raise
                except Exception as exc:  # noqa: BLE001 - mapped to ProviderError below
                    err = _as_provider_error(exc, prov)
                finally:
                    try:
                        await agen.aclose()
                    except Exception:  # noqa: BLE001, S110 - closing a broken stream must not hide the error
                        pass
                seconds = time.perf_counter() - started
            if info is not None:
                info.seconds = seconds
            if err is None:
                breaker.on_success()
                _record(prov, model, req.task, "ok", seconds, attempt)
                return
            breaker.on_failure(err.retryable)
            err.provider = prov.name
            if delivered:
                err.mid_stream = True
                _record(prov, model, req.task, _outcome(err), seconds, attempt, err)
                raise err
            if await _retry_after_failure(err, prov, model, req.task, seconds, attempt, settings):
                continue
            last_error = err
            break
        _log_fallback(candidates, index, last_error, request.task)
    assert last_error is not None
    raise last_error


async def _retry_after_failure(err: ProviderError, prov: Provider, model: str, task: str, seconds: float,
                               attempt: int, settings: Settings) -> bool:
    """After a failed attempt: True when it is retried (recorded, backoff slept), False when it is final."""
    wait = _retry_wait(err, attempt, settings)
    if wait is not None:
        _record(prov, model, task, "retry", seconds, attempt, err)
        await asyncio.sleep(wait)
        return True
    _record(prov, model, task, _outcome(err), seconds, attempt, err)
    return False


def _name(candidate: Provider | str) -> str:
    return candidate.name if isinstance(candidate, Provider) else candidate


def _log_fallback(candidates: list[Provider | str], index: int, error: ProviderError | None, task: str) -> None:
    if index + 1 < len(candidates) and error is not None:
        log.warning("AI provider %s failed (%s); trying fallback %s", _name(candidates[index]), error.code,
                    _name(candidates[index + 1]), extra={"provider": _name(candidates[index]), "task": task})


# --- images --------------------------------------------------------------------------------------------------

async def image_call(
    settings: Settings,
    request: ImageRequest,
    *,
    provider: Provider | str | None = None,
    route: ProviderRoute | None = None,
    info: CallInfo | None = None,
) -> ImageResult:
    """Generate one image with timeout, retries, circuit breaker, concurrency limit and fallback. Raises
    ProviderError. ``request_sent()`` (``providers.base.on_request_sent``) is signalled when the request is
    sent, and in any case when this call ends."""
    try:
        return await _image_call(settings, request, provider, route, info)
    finally:
        request_sent()


async def _image_call(settings: Settings, request: ImageRequest, provider: Provider | str | None,
                      route: ProviderRoute | None, info: CallInfo | None) -> ImageResult:
    route, candidates = _route(settings, "image", provider, route)
    last_error: ProviderError | None = None
    total_attempts = 0
    for index, candidate in enumerate(candidates):
        try:
            prov, model, req, breaker = _candidate(settings, "image", route, request, candidate, index)
        except ProviderError as exc:
            last_error = exc
            _log_fallback(candidates, index, last_error, request.task)
            continue
        attempt = 0
        while True:
            wait = breaker.before_call()
            if wait is not None:
                last_error = _circuit_open(prov, wait)
                break
            attempt += 1
            total_attempts += 1
            _start(info, prov, model, total_attempts, index > 0)
            err: ProviderError | None = None
            result: ImageResult | None = None
            async with provider_semaphore(prov.name, settings, "image"):
                started = time.perf_counter()
                if not prov.reports_request_sent:
                    request_sent()
                try:
                    async with asyncio.timeout(settings.provider_timeout_seconds):
                        result = await prov.generate_image(req)
                except TimeoutError:
                    err = ProviderTimeout()
                except asyncio.CancelledError:
                    breaker.on_cancelled()
                    _record(prov, model, req.task, "cancelled", time.perf_counter() - started, attempt)
                    raise
                except Exception as exc:  # noqa: BLE001 - mapped to ProviderError
                    err = _as_provider_error(exc, prov)
                seconds = time.perf_counter() - started
            if info is not None:
                info.seconds = seconds
            if err is None and result is not None and not result.data:
                err = ProviderError(f"AIプロバイダー（{prov.name}）が空の画像を返しました。", code="invalid_output")
            if err is None:
                assert result is not None
                breaker.on_success()
                _record(prov, model, req.task, "ok", seconds, attempt)
                if not result.model:
                    result.model = model
                return result
            breaker.on_failure(err.retryable)
            err.provider = prov.name
            if await _retry_after_failure(err, prov, model, req.task, seconds, attempt, settings):
                continue
            last_error = err
            break
        _log_fallback(candidates, index, last_error, request.task)
    assert last_error is not None
    raise last_error
