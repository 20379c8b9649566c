"""Metric samples turned into snapshots, and this worker's history of them (for rates over a window).

``snapshot_from_samples`` aggregates one scrape of every worker's metrics; ``window_delta`` is the change between
two snapshots; ``HISTORY`` keeps the snapshots the worker's sampler takes (``ops.metrics``). The indicators and
thresholds over them are ``ops.monitoring``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

Sample = tuple[str, dict[str, str], float]

WINDOW_SECONDS = 15 * 60
# Routes left out of the seed's "response time": probes and scrapes are not user requests.
EXCLUDED_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
PROVIDER_FAILURES = frozenset({"error", "timeout", "invalid_output", "retry"})


@dataclass
class ProviderStats:
    calls: float = 0.0
    failures: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)


@dataclass
class Snapshot:
    requests: float = 0.0
    errors_5xx: float = 0.0
    status_503: float = 0.0
    latency_buckets: dict[float, float] = field(default_factory=dict)
    providers: dict[tuple[str, str], ProviderStats] = field(default_factory=dict)
    restarts: dict[str, float] = field(default_factory=dict)
    generations: dict[str, float] = field(default_factory=dict)
    last_sigkill: float | None = None
    in_flight: float = 0.0
    queue_depth: float | None = None
    worker_rss: dict[str, float] = field(default_factory=dict)
    worker_cpu: dict[str, float] = field(default_factory=dict)
    worker_lag: dict[str, float] = field(default_factory=dict)
    box_cpu: float | None = None
    memory_used: float | None = None
    memory_limit: float | None = None
    job_recoveries: float = 0.0
    db_open: float | None = None
    db_in_use: float | None = None


def snapshot_from_samples(samples: list[Sample]) -> Snapshot:
    snap = Snapshot()
    for name, labels, value in samples:
        if name == "medipersona_http_requests_total":
            if labels.get("route") in EXCLUDED_ROUTES:
                continue
            snap.requests += value
            status = labels.get("status", "")
            if status.startswith("5"):
                snap.errors_5xx += value
            if status == "503":
                snap.status_503 += value
        elif name == "medipersona_http_request_duration_seconds_bucket":
            if labels.get("route") in EXCLUDED_ROUTES:
                continue
            le = float(labels["le"])
            snap.latency_buckets[le] = snap.latency_buckets.get(le, 0.0) + value
        elif name == "medipersona_provider_calls_total":
            stats = snap.providers.setdefault((labels.get("provider", "?"), labels.get("model", "?")), ProviderStats())
            stats.calls += value
            if labels.get("outcome") in PROVIDER_FAILURES:
                stats.failures += value
        elif name == "medipersona_provider_call_duration_seconds_bucket":
            stats = snap.providers.setdefault((labels.get("provider", "?"), labels.get("model", "?")), ProviderStats())
            le = float(labels["le"])
            stats.buckets[le] = stats.buckets.get(le, 0.0) + value
        elif name == "medipersona_worker_restarts_total":
            reason = labels.get("reason", "?")
            snap.restarts[reason] = snap.restarts.get(reason, 0.0) + value
        elif name == "medipersona_generations_total":
            outcome = labels.get("outcome", "?")
            snap.generations[outcome] = snap.generations.get(outcome, 0.0) + value
        elif name == "medipersona_worker_last_sigkill_timestamp_seconds":
            if value > 0:
                snap.last_sigkill = max(snap.last_sigkill or 0.0, value)
        elif name == "medipersona_generations_in_flight":
            snap.in_flight += value
        elif name == "medipersona_job_queue_depth":
            snap.queue_depth = value
        elif name == "medipersona_job_recoveries_total":
            snap.job_recoveries += value
        elif name == "medipersona_worker_rss_bytes":
            snap.worker_rss[labels.get("pid", "self")] = value
        elif name == "medipersona_worker_cpu_percent":
            snap.worker_cpu[labels.get("pid", "self")] = value
        elif name == "medipersona_event_loop_lag_max_seconds":
            snap.worker_lag[labels.get("pid", "self")] = value
        elif name == "medipersona_db_connections_open":
            snap.db_open = (snap.db_open or 0.0) + value
        elif name == "medipersona_db_connections_in_use":
            snap.db_in_use = (snap.db_in_use or 0.0) + value
        elif name == "medipersona_box_cpu_percent":
            snap.box_cpu = value
        elif name == "medipersona_box_memory_used_bytes":
            snap.memory_used = value
        elif name == "medipersona_box_memory_limit_bytes":
            snap.memory_limit = value
    return snap


def _sub(a: dict, b: dict) -> dict:
    return {k: max(0.0, v - b.get(k, 0.0)) for k, v in a.items()}


def window_delta(now: Snapshot, then: Snapshot | None) -> Snapshot:
    """Counters as the change since ``then`` (gauges from ``now``). A counter that went down (reset) counts whole."""
    if then is None:
        return now
    if now.requests < then.requests:  # counters reset (a new server): the totals are the window
        return now
    providers = {}
    for key, stats in now.providers.items():
        old = then.providers.get(key, ProviderStats())
        providers[key] = ProviderStats(max(0.0, stats.calls - old.calls), max(0.0, stats.failures - old.failures),
                                       _sub(stats.buckets, old.buckets))
    return Snapshot(
        requests=now.requests - then.requests,
        errors_5xx=max(0.0, now.errors_5xx - then.errors_5xx),
        status_503=max(0.0, now.status_503 - then.status_503),
        latency_buckets=_sub(now.latency_buckets, then.latency_buckets),
        providers=providers,
        restarts=_sub(now.restarts, then.restarts),
        generations=_sub(now.generations, then.generations),
        last_sigkill=now.last_sigkill,
        in_flight=now.in_flight,
        queue_depth=now.queue_depth,
        worker_rss=now.worker_rss,
        worker_cpu=now.worker_cpu,
        worker_lag=now.worker_lag,
        box_cpu=now.box_cpu,
        memory_used=now.memory_used,
        memory_limit=now.memory_limit,
        job_recoveries=max(0.0, now.job_recoveries - then.job_recoveries),
        db_open=now.db_open,
        db_in_use=now.db_in_use,
    )


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative buckets {le: count}; None without observations."""
    if not buckets:
        return None
    items = sorted(buckets.items())
    total = items[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in items:
        if count >= rank:
            if math.isinf(le):
                return prev_le  # beyond the last finite bucket: its upper bound is the best we know
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


class History:
    """Aggregated snapshots taken by this worker's sampler, for rates over a window."""

    def __init__(self, keep_seconds: float = WINDOW_SECONDS + 120) -> None:
        self.keep_seconds = keep_seconds
        self._items: deque[tuple[float, Snapshot]] = deque()

    def add(self, when: float, samples: list[Sample]) -> None:
        self._items.append((when, snapshot_from_samples(samples)))
        while self._items and self._items[0][0] < when - self.keep_seconds:
            self._items.popleft()

    def baseline(self, now: float, window: float = WINDOW_SECONDS) -> tuple[float, Snapshot] | None:
        """The oldest snapshot inside the window (None: no history yet)."""
        for when, snap in self._items:
            if when >= now - window:
                return when, snap
        return None

    def clear(self) -> None:
        self._items.clear()


HISTORY = History()
