"""The export process pool: PDF/PPTX rendering off the event loop and out of the web worker.

A ``ProcessPoolExecutor`` with the ``spawn`` start method (never fork a process that runs an event loop and
threads), ``settings.export_workers`` processes, created on first use. Each process imports fpdf2, python-pptx
and Pillow and parses the Japanese font once (the initializer), so an export pays only for its own layout and
output. The web worker never imports those libraries: it pickles plain data and a module-level function. The
export processes run at a lower CPU priority (nice 5) so a busy export never starves the event loops.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from medipersona.errors import ServiceUnavailable

log = logging.getLogger("medipersona.exports")

T = TypeVar("T")
MAX_WAITING_PER_WORKER = 32  # exports queued beyond this are refused (503) instead of piling up
EXPORT_TIMEOUT_SECONDS = 60.0  # a render taking longer is abandoned (the client gets 503)
EXPORT_NICENESS = 5  # export processes yield the CPU to the web workers' event loops when cores are busy

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_workers = 1
_in_flight = 0
_idle_seconds = 600.0  # stop the pool's processes after this long without exports (0: never)
_last_used = 0.0


def _initializer() -> None:
    """Runs once in each export process: heavy imports and font parsing happen here, not per export."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which shuts the pool down
    try:
        os.nice(EXPORT_NICENESS)
    except OSError:  # pragma: no cover - not permitted on this platform
        pass
    from medipersona.exports import pdf, pptx

    pdf.warm_up()
    pptx.warm_up()


def _ping() -> bool:
    return True


def configure(workers: int, idle_seconds: float | None = None) -> None:
    """Pool size for the next pool created and the idle time after which it stops (set from settings)."""
    global _workers, _idle_seconds
    _workers = max(1, int(workers))
    if idle_seconds is not None:
        _idle_seconds = float(idle_seconds)


def _stop_if_idle() -> None:
    """Each export process holds ~130 MB: give it back when nobody has exported for a while."""
    if _pool is None or _in_flight or _idle_seconds <= 0 or time.monotonic() - _last_used < _idle_seconds:
        return
    log.info("export pool idle for %.0f s; stopping its processes", _idle_seconds)
    _discard(_pool)


def get_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(max_workers=_workers, mp_context=context, initializer=_initializer)
            log.info("export pool started with %d process(es)", _workers)
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


async def run_export(fn: Callable[..., T], *args: Any, workers: int | None = None,
                     idle_seconds: float | None = None) -> T:
    """Run ``fn(*args)`` in the export pool and await its result without blocking the event loop.

    ``fn`` must be a module-level function whose module is light to import (heavy imports inside it). A pool
    that broke (a process was killed, e.g. out of memory) is replaced and the export retried once.
    """
    global _in_flight, _last_used
    if workers is not None:
        configure(workers, idle_seconds)
    if _in_flight >= _workers * MAX_WAITING_PER_WORKER:
        raise ServiceUnavailable("エクスポートが混み合っています。しばらくしてからもう一度お試しください。",
                                 code="export_busy")
    loop = asyncio.get_running_loop()
    _in_flight += 1
    try:
        for attempt in (1, 2):
            pool = get_pool()
            try:
                return await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), EXPORT_TIMEOUT_SECONDS)
            except TimeoutError:
                log.error("export did not finish within %.0f s", EXPORT_TIMEOUT_SECONDS)
                raise ServiceUnavailable("エクスポートに時間がかかりすぎたため中止しました。もう一度お試しください。",
                                         code="export_timeout") from None
            except BrokenProcessPool:
                log.warning("export pool broke (attempt %d); starting a new one", attempt)
                _discard(pool)
                if attempt == 2:
                    raise ServiceUnavailable("エクスポート処理を実行できませんでした。もう一度お試しください。",
                                             code="export_failed") from None
        raise AssertionError("unreachable")
    finally:
        _in_flight -= 1
        _last_used = time.monotonic()
        if _idle_seconds > 0:
            loop.call_later(_idle_seconds + 1, _stop_if_idle)


async def warm_up(workers: int | None = None) -> None:
    """Start the pool's processes now (optional; otherwise the first export starts them)."""
    await run_export(_ping, workers=workers)


def shutdown_export_pool() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
        log.info("export pool stopped")
