"""Backoff and retry decisions, written once. Provider calls (``providers/calls.py``: a few quick retries of one
call) and job steps (``retry_until``: a failed generation step tried again until the job's deadline) use them.

    delay = retry_delay(backoff, attempt, retryable=err.retryable, retry_after=err.retry_after,
                        max_attempts=3, remaining=deadline - loop.time())
    if delay is None: raise          # final
    await asyncio.sleep(delay)

Delays are exponential with jitter (``base * 2**(n-1)``, halved at random, capped), or the server's Retry-After
plus a little jitter; a retry whose wait would not end before the deadline is not made. ``parse_retry_after`` reads
the header once for every caller (AI providers, Places): a malformed value means "no hint", never an exception.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. None when absent or malformed
    ("soon", "nan", garbage dates), so the caller's own backoff applies."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_after_from_headers(headers: object) -> float | None:
    """Retry-After (or OpenAI's retry-after-ms) from a headers mapping, if any; odd header objects give None."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    try:
        ms = get("retry-after-ms")
        if ms:
            try:
                value = float(ms) / 1000.0
            except (TypeError, ValueError):
                value = math.nan
            if math.isfinite(value):
                return max(0.0, value)
        return parse_retry_after(get("retry-after"))
    except Exception:  # noqa: BLE001 - a header object we do not know must not break error mapping
        return None


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 20.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return retry_after + random.uniform(0.0, min(1.0, 0.1 * retry_after + 0.05))
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


def retry_delay(backoff: Backoff, attempt: int, *, retryable: bool, retry_after: float | None = None,
                max_attempts: int | None = None, max_retry_after: float | None = None,
                remaining: float | None = None) -> float | None:
    """Seconds to wait before trying again after failed attempt ``attempt``, or None when the failure is final:
    not retryable, attempts used up, a Retry-After longer than ``max_retry_after``, or no time left."""
    if not retryable or (max_attempts is not None and attempt >= max_attempts):
        return None
    if retry_after is not None and max_retry_after is not None and retry_after > max_retry_after:
        return None
    delay = backoff.delay(attempt, retry_after)
    if remaining is not None and delay >= remaining:
        return None
    return delay


async def retry_until(step: Callable[[int], Awaitable[T]], *, deadline: float, backoff: Backoff,
                      classify: Callable[[Exception], tuple[bool, float | None]],
                      on_retry: Callable[[Exception, int, float], None] | None = None) -> T:
    """Run ``step(attempt)`` until it succeeds; after a failure that ``classify`` calls retryable (it returns
    ``(retryable, retry_after)``) wait a backoff and try again while ``time.monotonic()`` is before
    ``deadline``. The last failure is raised."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await step(attempt)
        except Exception as exc:
            retryable, retry_after = classify(exc)
            delay = retry_delay(backoff, attempt, retryable=retryable, retry_after=retry_after,
                                remaining=deadline - time.monotonic())
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            await asyncio.sleep(delay)
