"""A circuit breaker per provider and kind (text / image), per worker process.

When, among the calls that ended in the last ``WINDOW_SECONDS`` (at least ``MIN_SPAN_SECONDS`` of them), at
least ``provider_circuit_failures`` failed with a temporary error (429, 5xx, timeouts, connection errors) and
they are at least half of them, the circuit opens: for ``provider_circuit_cooldown_seconds`` calls to that provider are not made at all (the fallback provider
answers, or the job step waits and tries again), then one trial call is let through (half-open): a success
closes the circuit, a failure opens it again for twice as long (at most 8 × the cool-down).

A share over a time window, not "N failures in a row": with a hundred calls in flight, the ones that time out end
together, seconds after the quick successes, and would look like a run of failures. Random faults (20 % of calls
failing) keep the share near 20 % and never open it; an upstream that is down opens it within a few calls.

Why per worker and not shared through the database: every worker sees the upstream's answers itself and reaches
the same verdict after a few calls; sharing would put a write on every call's path, and a breaker only saves
wasted calls and waiting (jobs are correct either way).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from medipersona.ops import metrics

log = logging.getLogger("medipersona.ai")

MAX_COOLDOWN_FACTOR = 8
WINDOW_SECONDS = 30.0
FAILURE_SHARE = 0.5
# A verdict needs outcomes spread over this long: when a burst starts, the calls that fail at once (429, 500)
# end before the ones that succeed, and the first outcomes alone would look like an outage.
MIN_SPAN_SECONDS = 2.0
MAX_OUTCOMES = 2000  # outcomes kept per breaker (a bounded window even at thousands of calls a minute)


@dataclass
class CircuitBreaker:
    provider: str
    kind: str
    failures_to_open: int
    cooldown: float
    state: str = "closed"  # closed | open | half_open
    outcomes: deque = field(default_factory=deque)  # (time, failed) in the window, at most MAX_OUTCOMES
    failures: int = 0  # the failed ones among ``outcomes`` (kept as they come and go: no recount per call)
    opened_at: float = 0.0
    open_for: float = 0.0
    trial_running: bool = field(default=False)

    def before_call(self) -> float | None:
        """None: make the call. Else the seconds until the next trial call may be made (skip this provider)."""
        if self.state == "closed":
            return None
        now = time.monotonic()
        if self.state == "open":
            remaining = self.opened_at + self.open_for - now
            if remaining > 0:
                return remaining
            self.state = "half_open"
            self.trial_running = False
        if self.trial_running:
            return min(1.0, self.cooldown)
        self.trial_running = True
        return None

    def _note(self, failed: bool) -> tuple[int, int, float]:
        """Record an outcome; (failures, calls, seconds spanned) within the window."""
        now = time.monotonic()
        outcomes = self.outcomes
        if len(outcomes) >= MAX_OUTCOMES:
            self.failures -= outcomes.popleft()[1]
        outcomes.append((now, failed))
        self.failures += failed
        horizon = now - WINDOW_SECONDS
        while outcomes[0][0] < horizon:
            self.failures -= outcomes.popleft()[1]
        return self.failures, len(outcomes), now - outcomes[0][0]

    def on_success(self) -> None:
        self._note(False)
        if self.state != "closed":
            self.outcomes.clear()
            self.failures = 0
            log.info("AI provider %s (%s): circuit closed again", self.provider, self.kind)
            self.state = "closed"
            self.trial_running = False
            metrics.set_circuit_open(self.provider, self.kind, False)

    def on_failure(self, temporary: bool) -> None:
        """A failed call. Only temporary failures count (a 400 says nothing about the provider's health)."""
        if self.state == "half_open":
            self.trial_running = False
            if temporary:
                self._open(min(self.open_for * 2, self.cooldown * MAX_COOLDOWN_FACTOR))
            return
        if not temporary:
            return
        failures, total, span = self._note(True)
        if (self.state == "closed" and failures >= self.failures_to_open and failures >= FAILURE_SHARE * total
                and span >= MIN_SPAN_SECONDS):
            self._open(self.cooldown)

    def on_cancelled(self) -> None:
        if self.state == "half_open":
            self.trial_running = False

    def _open(self, seconds: float) -> None:
        self.state = "open"
        self.opened_at = time.monotonic()
        self.open_for = seconds
        log.warning("AI provider %s (%s): circuit open for %.0f s (%d of its last %d calls failed)", self.provider,
                    self.kind, seconds, self.failures, len(self.outcomes),
                    extra={"provider": self.provider, "kind": self.kind})
        metrics.set_circuit_open(self.provider, self.kind, True)


_breakers: dict[tuple[str, str], CircuitBreaker] = {}


def breaker_for(provider: str, kind: str, failures_to_open: int, cooldown: float) -> CircuitBreaker:
    """The worker's breaker of a provider's text or image calls (settings changes apply to it at once)."""
    breaker = _breakers.get((provider, kind))
    if breaker is None:
        breaker = _breakers[(provider, kind)] = CircuitBreaker(provider, kind, failures_to_open, cooldown)
    breaker.failures_to_open = failures_to_open
    breaker.cooldown = cooldown
    return breaker


def reset_breakers() -> None:
    """Forget every breaker's state (tests)."""
    _breakers.clear()
