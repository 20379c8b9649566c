"""gunicorn settings: the seed's recommended command line, as a config file, plus metrics across workers.

    gunicorn -c python:medipersona.ops.gunicorn_conf medipersona.asgi:app     (what ``medipersona serve`` runs)

The seed's values: uvicorn workers (the maintained ``uvicorn-worker`` package, without WebSocket:
``ops/worker.py``), timeout 300, graceful-timeout 120, max-requests 1000, max-requests-jitter 100, bind
0.0.0.0:$PORT. The seed's ``--worker-connections`` is left out: it only affects gevent/eventlet/gthread workers
and does nothing with uvicorn workers (one uvicorn worker accepts as many connections as its event loop can
hold).

Workers: ``WEB_CONCURRENCY`` if set (Render and most PaaS honour it), else the seed's formula on this box,
``min(CPU × 4, memory / worker memory, peak users / 10)`` (``ops/advisor.py``), with the worker memory taken from
``MEDIPERSONA_WORKER_RSS_MB``, else the last ``medipersona advise-workers`` measurement, else the seed's 600 MB.
Command-line options (``--workers 3``) override everything here.

What ``timeout`` means for uvicorn workers: a heartbeat, not a request limit. A worker whose event loop is blocked
for 300 s is aborted (counted as a ``timeout`` restart). ``graceful_timeout`` bounds a worker's exit on deploys
and on ``max_requests`` recycling; generations are durable jobs, so one cut short resumes in another worker.

Metrics: ``PROMETHEUS_MULTIPROC_DIR`` is set here, before anything imports ``prometheus_client``, and wiped when the
server starts; ``child_exit`` marks the dead worker's live gauges and counts the exit by reason — ``sigkill``
(gunicorn logs "Worker (pid:…) was sent SIGKILL! Perhaps out of memory?"), ``timeout``, ``signal``, ``error``,
``recycled``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

# --- metrics directory: must be in the environment before prometheus_client is imported anywhere -------------
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(tempfile.gettempdir(),
                                                          f"medipersona-metrics-{os.getpid()}")
    os.environ["MEDIPERSONA_METRICS_DIR_OWNED"] = "1"

from medipersona.ops.advisor import workers_for_this_box
from medipersona.ops.logging import gunicorn_logconfig_dict, json_logs_requested
from medipersona.ops.worker_exits import WATCHER, exit_reason, pop_exit_info

# --- the seed's settings -----------------------------------------------------------------------------------------
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
worker_class = "medipersona.ops.worker.UvicornWorker"  # uvicorn-worker's, without WebSocket (ops/worker.py)
workers, workers_reason = workers_for_this_box(Path(os.environ.get("MEDIPERSONA_DATA_DIR", "var")))
timeout = 300
graceful_timeout = 120
max_requests = 1000
max_requests_jitter = 100
if workers == 1:
    # Recycling the only worker leaves no one to answer while its replacement starts (one request in 200 was
    # dropped in issue 17's test): no recycling with one worker. Two or more workers take turns.
    max_requests = 0
    max_requests_jitter = 0

# --- the rest ---------------------------------------------------------------------------------------------------
# Uvicorn trusts X-Forwarded-For/-Proto only from these addresses (the reverse proxy); passed to uvicorn's
# forwarded_allow_ips by the worker. "*" behind a PaaS router that is the only way in (Render).
forwarded_allow_ips = (os.environ.get("MEDIPERSONA_FORWARDED_ALLOW_IPS") or os.environ.get("FORWARDED_ALLOW_IPS")
                       or "127.0.0.1")
keepalive = 5  # seconds an idle keep-alive connection stays open (uvicorn's default; gunicorn's is 2)
# The heartbeat file on tmpfs: a slow disk must not make a healthy worker look blocked.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
# No gunicorn access log: the app writes one line per request (route template, no query string, request id).
accesslog = None
# gunicorn >= 25 opens a control socket in ~/.gunicorn/ by default: one path shared by every server of the user
# (tests, benchmarks, a second instance) and a write into $HOME (read-only under systemd's ProtectSystem=strict).
# Nothing here uses it.
control_socket_disable = True
if json_logs_requested():
    logconfig_dict = gunicorn_logconfig_dict()


def on_starting(server) -> None:
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if os.path.isdir(path):
        for entry in os.listdir(path):  # stale values of a previous run
            if entry.endswith(".db"):
                try:
                    os.remove(os.path.join(path, entry))
                except OSError:
                    pass
    os.makedirs(path, exist_ok=True)
    error_log = logging.getLogger("gunicorn.error")
    if WATCHER not in error_log.filters:
        error_log.addFilter(WATCHER)
    if server.cfg.workers == 1 and server.cfg.max_requests:
        server.cfg.set("max_requests", 0)
        server.cfg.set("max_requests_jitter", 0)
        server.log.warning("one worker: max_requests recycling is off (restarting the only worker drops requests); "
                           "run two workers (WEB_CONCURRENCY=2) to recycle them in turns")
    if server.cfg.workers == workers:
        server.log.info("workers: %s (%s)", workers, workers_reason)
    else:
        server.log.info("workers: %s (set on the command line; without it: %s)", server.cfg.workers, workers_reason)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    try:
        from medipersona.ops.compaction import compact_dead_worker

        compact_dead_worker(worker.pid)
    except Exception:  # noqa: BLE001 - the arbiter must keep running whatever happens here
        server.log.exception("could not archive the metrics of worker %s", worker.pid)
    reason = exit_reason(pop_exit_info(worker.pid), bool(getattr(worker, "aborted", False)))
    try:
        from medipersona.ops.metrics import worker_exited

        worker_exited(reason, time.time())
    except Exception:
        server.log.exception("could not count the worker exit")
    if reason == "sigkill":
        server.log.error("Worker (pid:%s) SIGKILL counted (medipersona_worker_restarts_total{reason=\"sigkill\"}): "
                         "perhaps out of memory — reduce workers (medipersona advise-workers)", worker.pid)


def on_exit(server) -> None:
    if os.environ.get("MEDIPERSONA_METRICS_DIR_OWNED") == "1":
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
