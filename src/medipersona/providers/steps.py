"""Job steps that call providers: a step whose call failed after all its retries and its fallback (a provider
down for a while) is tried again with a longer backoff, until the job's deadline. One level above
``providers/calls.py``, which retries single calls within seconds."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from medipersona.ops import metrics
from medipersona.providers.base import ProviderError
from medipersona.retry import Backoff, retry_until

log = logging.getLogger("medipersona.ai")
T = TypeVar("T")

# A job step is tried again after 1-2 s, 2-4 s, ... 30 s at most, until the job's deadline.
STEP_BACKOFF_BASE_SECONDS = 2.0
STEP_BACKOFF_MAX_SECONDS = 30.0


async def with_step_retries(step: str, run: Callable[[int], Awaitable[T]], *, deadline: float,
                            on_retry: Callable[[Exception, int, float], None] | None = None,
                            also_retry: tuple[type[Exception], ...] = ()) -> T:
    """Run one job step that calls providers (``run(attempt)``), trying it again after a temporary failure
    (a retryable ProviderError: 429, 5xx, timeouts, an open circuit; or one of ``also_retry``) with backoff,
    while ``time.monotonic()`` is before ``deadline`` (``JobContext.deadline``). The last failure is raised."""

    def classify(exc: Exception) -> tuple[bool, float | None]:
        if isinstance(exc, ProviderError):
            return exc.retryable, exc.retry_after
        return isinstance(exc, also_retry), None

    def retried(exc: Exception, attempt: int, delay: float) -> None:
        metrics.job_step_retried(step)
        log.warning("%s failed (%s); trying the step again in %.1f s (attempt %d)", step,
                    getattr(exc, "code", type(exc).__name__), delay, attempt + 1,
                    extra={"task": step, "provider": getattr(exc, "provider", None) or ""})
        if on_retry is not None:
            on_retry(exc, attempt, delay)

    return await retry_until(run, deadline=deadline, classify=classify, on_retry=retried,
                             backoff=Backoff(STEP_BACKOFF_BASE_SECONDS, STEP_BACKOFF_MAX_SECONDS))
