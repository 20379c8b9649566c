"""Prometheus metrics: the hooks the rest of the app calls, the request middleware, collection for /metrics.

Keep the hook signatures stable: providers, jobs and exports call them.

Two modes:

* **multiprocess** (under gunicorn): ``PROMETHEUS_MULTIPROC_DIR`` is set by ``ops/gunicorn_conf.py`` before
  ``prometheus_client`` is first imported; every worker writes its values to memory-mapped files there and a scrape
  aggregates them with a fresh ``CollectorRegistry`` + ``MultiProcessCollector``. Gauges declare how workers
  combine (``livesum`` for in-flight counts, ``liveall`` for per-worker RSS with a ``pid`` label).
* **plain** (tests, ``uvicorn`` in development): the default registry of this process.

``prometheus_client`` is imported on first use, not at module import, so that importing this module is free.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any

log = logging.getLogger("medipersona.ops")
access_log = logging.getLogger("medipersona.access")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
PROVIDER_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_TICK_SECONDS = 0.25
EXPORT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# Requests whose access-log line goes to DEBUG (load balancer probes, Prometheus scrapes).
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
SAMPLE_INTERVAL_SECONDS = 15.0
_LABEL_RE = re.compile(r"[^A-Za-z0-9_.:/\-]")


def multiprocess_dir() -> str | None:
    path = os.environ.get(MULTIPROC_ENV)
    return path if path and os.path.isdir(path) else None


def bounded_label(value: Any, limit: int = 64) -> str:
    """Bound label values: short, printable, no user text."""
    text = _LABEL_RE.sub("_", str(value or "unknown"))
    return text[:limit] or "unknown"


class _AppMetrics:
    """Every metric a web worker writes. Built once, on first use."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("medipersona_http_requests_total", "HTTP requests by route template and status.",
                                ["method", "route", "status"])
        self.request_seconds = Histogram(
            "medipersona_http_request_duration_seconds",
            "HTTP request duration by route template (event streams are not observed: they last as long as a job).",
            ["method", "route"], buckets=HTTP_BUCKETS)
        self.requests_in_progress = Gauge("medipersona_http_requests_in_progress", "HTTP requests being handled.",
                                          multiprocess_mode="livesum")
        self.generations_in_flight = Gauge("medipersona_generations_in_flight", "Generation jobs running now.",
                                           multiprocess_mode="livesum")
        self.generations = Counter("medipersona_generations_total", "Finished generation jobs.", ["outcome"])
        self.provider_calls = Counter("medipersona_provider_calls_total", "Upstream AI calls.",
                                      ["provider", "model", "task", "outcome"])
        self.provider_seconds = Histogram("medipersona_provider_call_duration_seconds", "Upstream AI call latency.",
                                          ["provider", "model", "task"], buckets=PROVIDER_BUCKETS)
        self.circuit_open = Gauge("medipersona_provider_circuit_open",
                                  "1 while a provider's circuit is open in a worker (its calls are skipped).",
                                  ["provider", "kind"], multiprocess_mode="liveall")
        self.step_retries = Counter("medipersona_job_step_retries_total",
                                    "Generation steps tried again after a temporary provider failure.", ["step"])
        self.queue_depth = Gauge("medipersona_job_queue_depth", "Queued jobs at the runner's last poll.",
                                 multiprocess_mode="livemostrecent")
        self.job_recoveries = Counter("medipersona_job_recoveries_total",
                                      "Jobs taken over after their worker died (lease expired).", ["kind"])
        self.exports = Counter("medipersona_exports_total", "Rendered exports.", ["kind"])
        self.export_seconds = Histogram("medipersona_export_duration_seconds", "Export rendering time.", ["kind"],
                                        buckets=EXPORT_BUCKETS)
        self.worker_rss = Gauge("medipersona_worker_rss_bytes", "Resident memory of each worker (/proc VmRSS).",
                                multiprocess_mode="liveall")
        self.worker_cpu = Gauge("medipersona_worker_cpu_percent", "CPU use of each worker over the last interval.",
                                multiprocess_mode="liveall")
        self.box_cpu = Gauge("medipersona_box_cpu_percent", "CPU use of the box / container (cgroup or psutil).",
                             multiprocess_mode="livemostrecent")
        self.box_memory_used = Gauge("medipersona_box_memory_used_bytes", "Memory in use on the box / container.",
                                     multiprocess_mode="livemostrecent")
        self.loop_lag = Histogram("medipersona_event_loop_lag_seconds",
                                  "How late a 0.25 s timer fires in the worker's event loop (blocking work shows "
                                  "here first; 300 s trips gunicorn's timeout).",
                                  buckets=LAG_BUCKETS)
        self.loop_lag_max = Gauge("medipersona_event_loop_lag_max_seconds",
                                  "Largest event-loop lag of each worker over the last sampling interval.",
                                  multiprocess_mode="liveall")
        self.db_open = Gauge("medipersona_db_connections_open",
                             "Database connections held by the workers' pools (idle + in use).",
                             multiprocess_mode="livesum")
        self.db_in_use = Gauge("medipersona_db_connections_in_use", "Database connections checked out now.",
                               multiprocess_mode="livesum")
        self.box_memory_limit = Gauge("medipersona_box_memory_limit_bytes", "Memory limit of the box / container.",
                                      multiprocess_mode="livemostrecent")


class _ArbiterMetrics:
    """Metrics the gunicorn arbiter writes (worker exits). Counters survive the workers they count."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge

        self.restarts = Counter("medipersona_worker_restarts_total",
                                "Workers that exited and were replaced, by reason "
                                "(recycled: max_requests or reload; sigkill: killed, perhaps out of memory; "
                                "timeout: blocked event loop; signal; error: non-zero exit).", ["reason"])
        self.last_sigkill = Gauge("medipersona_worker_last_sigkill_timestamp_seconds",
                                  "Unix time of the last worker killed with SIGKILL.", multiprocess_mode="max")


_app_metrics: _AppMetrics | None = None
_arbiter_metrics: _ArbiterMetrics | None = None


def _ensure_multiprocess_dir() -> None:
    """prometheus_client writes into PROMETHEUS_MULTIPROC_DIR as soon as a value is touched: make sure it exists
    (gunicorn_conf creates it at start; a process that inherited the variable without the directory must not
    fail on its first request)."""
    path = os.environ.get(MULTIPROC_ENV)
    if path and not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)


def app_metrics() -> _AppMetrics:
    global _app_metrics
    if _app_metrics is None:
        _ensure_multiprocess_dir()
        _app_metrics = _AppMetrics()
    return _app_metrics


def arbiter_metrics() -> _ArbiterMetrics:
    global _arbiter_metrics
    if _arbiter_metrics is None:
        _ensure_multiprocess_dir()
        _arbiter_metrics = _ArbiterMetrics()
    return _arbiter_metrics


# --- hooks (stable signatures) -------------------------------------------------------------------------------


def observe_provider_call(provider: str, model: str, task: str, outcome: str, seconds: float) -> None:
    """One upstream AI call finished. outcome: ok | error | timeout | retry | invalid_output."""
    m = app_metrics()
    provider, model, task = bounded_label(provider), bounded_label(model), bounded_label(task)
    m.provider_calls.labels(provider, model, task, bounded_label(outcome, 24)).inc()
    m.provider_seconds.labels(provider, model, task).observe(max(0.0, seconds))


def set_circuit_open(provider: str, kind: str, is_open: bool) -> None:
    """A provider's circuit opened (its calls are skipped for a cool-down) or closed again, in this worker."""
    app_metrics().circuit_open.labels(bounded_label(provider), bounded_label(kind, 16)).set(1 if is_open else 0)


def job_step_retried(step: str) -> None:
    """A job step (text, portrait, analysis) failed temporarily and is tried again after a backoff."""
    app_metrics().step_retries.labels(bounded_label(step, 32)).inc()


def generation_started() -> None:
    """A generation job began running in this worker (in-flight gauge +1)."""
    app_metrics().generations_in_flight.inc()


def generation_finished(outcome: str) -> None:
    """A generation job ended (in-flight gauge -1). outcome: done | failed."""
    m = app_metrics()
    m.generations_in_flight.dec()
    m.generations.labels(bounded_label(outcome, 24)).inc()


def job_recovered(kind: str) -> None:
    """A job whose lease expired (dead worker) was taken over by this worker."""
    app_metrics().job_recoveries.labels(bounded_label(kind, 32)).inc()


def set_queue_depth(depth: int) -> None:
    """Queued jobs seen by the runner at its last poll."""
    app_metrics().queue_depth.set(depth)


def observe_export(kind: str, seconds: float) -> None:
    """One export (pdf | pptx) rendered."""
    m = app_metrics()
    kind = bounded_label(kind, 24)
    m.exports.labels(kind).inc()
    m.export_seconds.labels(kind).observe(max(0.0, seconds))


# --- worker lifecycle (called from the gunicorn arbiter's hooks) -------------------------------------------


def worker_exited(reason: str, when: float | None = None) -> None:
    m = arbiter_metrics()
    m.restarts.labels(bounded_label(reason, 16)).inc()
    if reason == "sigkill":
        m.last_sigkill.set(when or time.time())


# --- process samples -------------------------------------------------------------------------------------------

_cpu_sampler = None


def sample_process(memory_limit_mb: int = 0) -> None:
    """Publish this worker's RSS and CPU and the box's CPU and memory (cheap: a few /proc reads)."""
    global _cpu_sampler
    from medipersona.ops import system

    m = app_metrics()
    if (rss := system.process_rss_bytes()) is not None:
        m.worker_rss.set(rss)
    if _cpu_sampler is None:
        _cpu_sampler = system.CpuSampler()
    process_pct, box_pct = _cpu_sampler.sample()
    if process_pct is not None:
        m.worker_cpu.set(process_pct)
    if box_pct is not None:
        m.box_cpu.set(box_pct)
    mem = system.memory_info(memory_limit_mb)
    m.box_memory_used.set(mem.used_bytes)
    m.box_memory_limit.set(mem.limit_bytes)


_lag_max = 0.0


async def _lag_loop() -> None:
    """A timer that should fire every 0.25 s; how late it fires is the time the loop was busy elsewhere."""
    global _lag_max
    loop = asyncio.get_running_loop()
    m = app_metrics()
    while True:
        start = loop.time()
        await asyncio.sleep(LAG_TICK_SECONDS)
        lag = max(0.0, loop.time() - start - LAG_TICK_SECONDS)
        m.loop_lag.observe(lag)
        _lag_max = max(_lag_max, lag)


def sample_db(app: Any) -> None:
    """Connections of this worker's SQLAlchemy pool (PostgreSQL counts them against max_connections)."""
    db = getattr(getattr(app, "state", None), "db", None)
    if db is None:
        return
    try:
        pool = db.engine.sync_engine.pool
        in_use, idle = int(pool.checkedout()), int(pool.checkedin())
    except (AttributeError, TypeError):  # a pool class without counters
        return
    m = app_metrics()
    m.db_in_use.set(in_use)
    m.db_open.set(in_use + idle)


async def sampler_loop(memory_limit_mb: int, app: Any = None) -> None:
    from medipersona.ops.snapshots import HISTORY

    lag_task = asyncio.create_task(_lag_loop(), name="medipersona-loop-lag")
    try:
        await _sample_forever(memory_limit_mb, HISTORY, app)
    finally:
        lag_task.cancel()
        await asyncio.gather(lag_task, return_exceptions=True)


async def _sample_forever(memory_limit_mb: int, history, app: Any = None) -> None:
    global _lag_max
    while True:
        try:
            app_metrics().loop_lag_max.set(_lag_max)
            _lag_max = 0.0
            sample_process(memory_limit_mb)
            sample_db(app)
            samples = await asyncio.to_thread(collect_samples)
            history.add(time.time(), samples)
        except Exception:
            log.exception("metrics sampling failed")
        await asyncio.sleep(SAMPLE_INTERVAL_SECONDS)


# --- collection ------------------------------------------------------------------------------------------------


def _registry():
    if multiprocess_dir():
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def _retrying(fn):
    """A scrape can race with the arbiter archiving a dead worker's file (ops/compaction.py): read again. The
    arbiter writes the archive first and removes the worker's file last, so once the read has failed the file is
    gone and the archive holds its values: the next read lists the files anew and needs no pause."""
    for attempt in range(3):
        try:
            return fn()
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def render_latest() -> tuple[bytes, str]:
    """The exposition text of every worker (multiprocess) or of this process (plain). Blocking file reads."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    app_metrics()  # make sure the series exist even before the first request
    return _retrying(lambda: generate_latest(_registry())), CONTENT_TYPE_LATEST


def collect_samples() -> list[tuple[str, dict[str, str], float]]:
    """Every sample as (name, labels, value), aggregated over workers in multiprocess mode. Blocking."""
    app_metrics()

    def read() -> list[tuple[str, dict[str, str], float]]:
        out: list[tuple[str, dict[str, str], float]] = []
        for family in _registry().collect():
            if not family.name.startswith("medipersona_"):
                continue
            for sample in family.samples:
                out.append((sample.name, dict(sample.labels), float(sample.value)))
        return out

    return _retrying(read)
