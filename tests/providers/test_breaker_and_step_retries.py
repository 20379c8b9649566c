"""Faults absorbed in layers: the backoff decision (written once), the circuit breaker per provider, the
fallback taken at once while a circuit is open, and job-step retries until a deadline."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import pytest

from medipersona.providers import breaker as breaker_mod
from medipersona.providers import calls, steps
from medipersona.providers.base import ImageRequest, ImageResult, Provider, ProviderError, TextRequest
from medipersona.providers.registry import ProviderRoute
from medipersona.retry import Backoff, retry_delay


class Flaky(Provider):
    """Fails with ``failure`` while ``down`` is set, else answers; counts its calls."""

    name: ClassVar[str] = "test_flaky"
    supports_image: ClassVar[bool] = True

    def __init__(self, *, down: bool = True) -> None:
        super().__init__()
        self.down = down
        self.calls = 0
        self.failure: ProviderError | None = None

    async def stream_text(self, request: TextRequest):
        self.calls += 1
        if self.down:
            raise self.failure or ProviderError("boom", retryable=True, status=503)
        yield '{"ok": "yes"}'

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        self.calls += 1
        if self.down:
            raise self.failure or ProviderError("boom", retryable=True, status=500)
        return ImageResult(b"\x89PNGflaky", "image/png", "m")


class Steady(Flaky):
    name: ClassVar[str] = "test_steady"


@pytest.fixture(autouse=True)
def _short_span(monkeypatch):
    monkeypatch.setattr(breaker_mod, "MIN_SPAN_SECONDS", 0.0)


@pytest.fixture
def providers(register_fake) -> tuple[Flaky, Steady]:
    """This test's failing ("test_flaky") and answering ("test_steady") providers, each with its own state."""
    return register_fake(Flaky()), register_fake(Steady(down=False))


def req() -> TextRequest:
    return TextRequest(task="persona_text", system="s", prompt="p", schema={"type": "object"})


async def text(settings, route) -> str:
    return "".join([c async for c in calls.stream_text_call(settings, req(), route=route)])


def test_retry_delay_rules():
    backoff = Backoff(1.0, 8.0)
    assert retry_delay(backoff, 1, retryable=False) is None
    assert retry_delay(backoff, 3, retryable=True, max_attempts=3) is None
    assert 1.0 <= retry_delay(backoff, 2, retryable=True) <= 2.0  # 2**(2-1) halved at random
    assert 4.0 <= retry_delay(backoff, 10, retryable=True) <= 8.0  # capped
    assert 5.0 <= retry_delay(backoff, 1, retryable=True, retry_after=5.0) <= 6.0
    assert retry_delay(backoff, 1, retryable=True, retry_after=90.0, max_retry_after=60.0) is None
    assert retry_delay(backoff, 1, retryable=True, retry_after=5.0, remaining=3.0) is None  # past the deadline


async def test_circuit_opens_skips_provider_and_closes_after_a_good_trial(make_settings, providers):
    flaky, _steady = providers
    settings = make_settings(provider_max_retries=0, provider_circuit_failures=3,
                             provider_circuit_cooldown_seconds=0.3)
    route = ProviderRoute("test_flaky")
    for _ in range(3):
        with pytest.raises(ProviderError):
            await text(settings, route)
    assert flaky.calls == 3
    # Open: no call is made; the error is retryable and says how long to wait.
    with pytest.raises(ProviderError) as info:
        await text(settings, route)
    assert info.value.code == "circuit_open" and info.value.retryable and 0 < info.value.retry_after <= 0.3
    assert "一時的に呼び出しを止めています" in info.value.message
    assert flaky.calls == 3
    # After the cool-down one trial call goes through; a success closes the circuit.
    await asyncio.sleep(0.35)
    flaky.down = False
    assert await text(settings, route) == '{"ok": "yes"}'
    assert breaker_mod.breaker_for("test_flaky", "text", 3, 0.3).state == "closed"


async def test_failed_trial_reopens_for_longer(make_settings, providers):
    settings = make_settings(provider_max_retries=0, provider_circuit_failures=2,
                             provider_circuit_cooldown_seconds=0.2)
    route = ProviderRoute("test_flaky")
    for _ in range(2):
        with pytest.raises(ProviderError):
            await text(settings, route)
    await asyncio.sleep(0.25)
    with pytest.raises(ProviderError) as info:
        await text(settings, route)  # the trial fails
    assert info.value.code == "provider_error"
    circuit = breaker_mod.breaker_for("test_flaky", "text", 2, 0.2)
    assert circuit.state == "open" and circuit.open_for == pytest.approx(0.4)


async def test_open_circuit_goes_to_the_fallback_at_once(make_settings, providers):
    flaky, steady = providers
    settings = make_settings(provider_max_retries=1, provider_circuit_failures=2)
    route = ProviderRoute("test_flaky", fallback="test_steady")
    assert await text(settings, route) == '{"ok": "yes"}'  # primary failed twice (opened), fallback answered
    assert flaky.calls == 2 and steady.calls == 1
    info = calls.CallInfo()
    image = await calls.image_call(settings, ImageRequest(task="portrait", prompt="p"), route=route, info=info)
    assert image.data.startswith(b"\x89PNG") and info.fallback_used
    assert await text(settings, route) == '{"ok": "yes"}'
    assert flaky.calls == 4  # the text circuit is open: no third text call (the image circuit is its own)


async def test_failures_that_end_together_do_not_open_it_at_once(make_settings, providers, monkeypatch):
    """A burst's quick failures end before its successes: no verdict before the outcomes span a moment."""
    flaky, _ = providers
    monkeypatch.setattr(breaker_mod, "MIN_SPAN_SECONDS", 0.3)
    settings = make_settings(provider_max_retries=0, provider_circuit_failures=3)
    for _ in range(6):
        with pytest.raises(ProviderError) as info:
            await text(settings, ProviderRoute("test_flaky"))
        assert info.value.code == "provider_error"
    await asyncio.sleep(0.35)
    with pytest.raises(ProviderError):
        await text(settings, ProviderRoute("test_flaky"))
    with pytest.raises(ProviderError) as info:
        await text(settings, ProviderRoute("test_flaky"))
    assert info.value.code == "circuit_open"


async def test_non_temporary_errors_do_not_open_the_circuit(make_settings, providers):
    flaky, _ = providers
    flaky.failure = ProviderError("bad request", retryable=False, status=400)
    settings = make_settings(provider_circuit_failures=2)
    for _ in range(4):
        with pytest.raises(ProviderError):
            await text(settings, ProviderRoute("test_flaky"))
    assert flaky.calls == 4


async def test_provider_without_key_is_refused_with_reason_and_fallback_answers(make_settings, providers,
                                                                                 monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = make_settings()
    with pytest.raises(ProviderError) as info:
        await text(settings, ProviderRoute("openai"))
    assert info.value.code == "not_configured" and "OPENAI_API_KEY" in info.value.message
    assert not info.value.retryable
    assert await text(settings, ProviderRoute("openai", fallback="test_steady")) == '{"ok": "yes"}'


async def test_step_retries_until_success_or_deadline(monkeypatch):
    monkeypatch.setattr(steps, "STEP_BACKOFF_BASE_SECONDS", 0.01)
    attempts: list[int] = []
    retried: list[int] = []

    async def step(attempt: int) -> str:
        attempts.append(attempt)
        if attempt < 3:
            raise ProviderError("429", retryable=True, status=429, code="rate_limited")
        return "ok"

    result = await steps.with_step_retries("test", step, deadline=time.monotonic() + 5,
                                           on_retry=lambda exc, n, d: retried.append(n))
    assert result == "ok" and attempts == [1, 2, 3] and retried == [1, 2]

    async def never(attempt: int) -> str:
        raise ProviderError("500", retryable=True, status=500)

    with pytest.raises(ProviderError):  # the deadline ends it
        await steps.with_step_retries("test", never, deadline=time.monotonic() + 0.3)

    async def fatal(attempt: int) -> str:
        attempts.append(attempt)
        raise ProviderError("401", retryable=False, status=401)

    attempts.clear()
    with pytest.raises(ProviderError):
        await steps.with_step_retries("test", fatal, deadline=time.monotonic() + 5)
    assert attempts == [1]  # not temporary: no step retry


def test_the_breaker_counts_failures_in_its_window_as_outcomes_come_and_go(monkeypatch):
    """The failures are counted as outcomes enter and leave the window (by age, and past MAX_OUTCOMES), not
    recounted at every call: the count must stay what a recount gives."""
    import random

    clock = [1000.0]
    monkeypatch.setattr(breaker_mod.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(breaker_mod, "MAX_OUTCOMES", 50)
    b = breaker_mod.CircuitBreaker("p", "text", failures_to_open=10**9, cooldown=1.0)
    rng = random.Random(7)
    for _ in range(3000):
        clock[0] += rng.choice((0.001, 0.01, 0.5, 3.0, 40.0))
        failures, calls_in_window, _span = b._note(rng.random() < 0.3)
        assert failures == b.failures == sum(1 for _t, failed in b.outcomes if failed)
        assert calls_in_window == len(b.outcomes) <= 50
        assert all(t >= clock[0] - breaker_mod.WINDOW_SECONDS for t, _f in b.outcomes)
