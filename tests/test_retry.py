"""The one retry helper (``medipersona.retry``): Retry-After parsing, backoff bounds and the deadline loop."""

from __future__ import annotations

import time

import pytest

from medipersona.retry import Backoff, parse_retry_after, retry_after_from_headers, retry_delay, retry_until


@pytest.mark.parametrize(("value", "expected"), [
    ("3", 3.0), ("0.5", 0.5), (" 7 ", 7.0), ("-4", 0.0),
    ("soon", None), ("", None), ("   ", None), (None, None), ("nan", None), ("inf", None), ("-inf", None),
    ("Wed, 99 Foo 2015 07:28:00 GMT", None), ("Mon, 32 Jan 2015 99:99:99 GMT", None), ("1e400", None),
])
def test_parse_retry_after_values(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_dates():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0) == 0.0  # in the past


def test_retry_after_from_headers():
    assert retry_after_from_headers({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_from_headers({"retry-after-ms": "junk", "retry-after": "2"}) == 2.0
    assert retry_after_from_headers({"retry-after": "soon"}) is None
    assert retry_after_from_headers(None) is None
    assert retry_after_from_headers(object()) is None

    class Broken:
        def get(self, name):
            raise RuntimeError("odd header object")

    assert retry_after_from_headers(Broken()) is None


def test_retry_delay_decisions():
    backoff = Backoff(base=1.0, cap=4.0)
    assert retry_delay(backoff, 1, retryable=False) is None
    assert retry_delay(backoff, 3, retryable=True, max_attempts=3) is None
    assert retry_delay(backoff, 1, retryable=True, retry_after=100, max_retry_after=60) is None
    assert retry_delay(backoff, 1, retryable=True, remaining=0.1) is None  # the wait would outlive the deadline
    for attempt in range(1, 8):
        delay = retry_delay(backoff, attempt, retryable=True)
        ceiling = min(4.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert 5.0 <= retry_delay(backoff, 1, retryable=True, retry_after=5.0) <= 5.6


async def test_retry_until_retries_then_raises_at_deadline():
    calls: list[int] = []

    async def step(attempt: int) -> str:
        calls.append(attempt)
        if attempt < 3:
            raise ConnectionError("flaky")
        return "ok"

    assert await retry_until(step, deadline=time.monotonic() + 5, backoff=Backoff(base=0.01, cap=0.02),
                             classify=lambda exc: (True, None)) == "ok"
    assert calls == [1, 2, 3]

    async def always_fails(attempt: int) -> str:
        raise ValueError(f"attempt {attempt}")

    with pytest.raises(ValueError, match="attempt 1"):  # not retryable: the first failure is final
        await retry_until(always_fails, deadline=time.monotonic() + 5, backoff=Backoff(base=0.01),
                          classify=lambda exc: (False, None))
    with pytest.raises(ValueError):
        await retry_until(always_fails, deadline=time.monotonic() + 0.2, backoff=Backoff(base=0.01, cap=0.02),
                          classify=lambda exc: (True, None))
