"""A circuit breaker per provider and kind (text / image), per worker process.

After ``provider_circuit_failures`` consecutive temporary failures (429, 5xx, timeouts, connection errors) the
circuit opens: for ``provider_circuit_cooldown_seconds`` calls to that provider are not made at all (the fallback
provider answers, or the job step waits and tries again), then one trial call is let through (half-open): a
success closes the circuit, a failure opens it again for twice as long (at most 8 × the cool-down).

Why per worker and not shared through the database: every worker sees the upstream's answers itself and reaches
the same verdict after a few calls; sharing would put a write on every call's path, and a breaker only saves
wasted calls and waiting (jobs are correct either way). Random faults do not trip it: with 20 % of calls failing,
8 failures in a row happen about once in 400 000 calls.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from medipersona.ops import metrics

log = logging.getLogger("medipersona.ai")

MAX_COOLDOWN_FACTOR = 8


@dataclass
class CircuitBreaker:
    provider: str
    kind: str
    failures_to_open: int
    cooldown: float
    state: str = "closed"  # closed | open | half_open
    consecutive_failures: int = 0
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

    def on_success(self) -> None:
        self.consecutive_failures = 0
        if self.state != "closed":
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
        self.consecutive_failures += 1
        if self.state == "closed" and self.consecutive_failures >= self.failures_to_open:
            self._open(self.cooldown)

    def on_cancelled(self) -> None:
        if self.state == "half_open":
            self.trial_running = False

    def _open(self, seconds: float) -> None:
        self.state = "open"
        self.opened_at = time.monotonic()
        self.open_for = seconds
        log.warning("AI provider %s (%s): circuit open for %.0f s after %d failures in a row", self.provider,
                    self.kind, seconds, self.consecutive_failures,
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
