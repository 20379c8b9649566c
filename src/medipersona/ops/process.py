"""Process-wide tuning of a worker that carries hundreds of concurrent jobs, and giving memory back after a
burst. Applied by ``jobs.lifecycle.start_job_runner``; measured in docs/benchmarks.md (generation burst)."""

from __future__ import annotations

import os

SWITCH_INTERVAL = 0.001  # seconds; CPython default 0.005
GC_GEN0_THRESHOLD = 7000  # allocations between young collections; CPython default 700

_TUNED = False


def tune_worker_process() -> None:
    """Process-wide settings for a worker that carries hundreds of concurrent jobs; applied once per process
    (the first app start — a test session starting many apps must not freeze each one's garbage)."""
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    import gc
    import sys

    # The objects that exist now (modules, classes, the catalog ...) live as long as the process: move them
    # out of the cyclic GC's generations, so that full collections during a burst take microseconds instead
    # of tens of milliseconds of blocked event loop (measured: 67 ms for ~100k objects on the 2-core box).
    gc.collect()
    gc.freeze()
    # And fewer young collections: a full one runs every 100 of them and walks everything a burst keeps alive
    # (three of 40-150 ms each during 200 generations with the default 700; none with 7,000).
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
    # Every database call hops to a driver thread (aiosqlite) and back. With a busy event loop the thread
    # waits up to the interpreter's switch interval (5 ms) for the GIL at each hop; a shorter interval keeps
    # hundreds of small queries from queueing behind each other.
    sys.setswitchinterval(SWITCH_INTERVAL)
    _limit_malloc_arenas()
    _fix_mmap_threshold()


def _limit_malloc_arenas(count: int = 1) -> None:
    """glibc gives every thread that allocates under contention its own heap arena (up to 8 per core), and
    keeps their pages: with ~70 driver and pool threads that is tens of MB of RSS after a burst (measured:
    worker RSS after 200 generations 151 MB → 137 MB with 2 arenas → 126 MB with 1; the threads mostly wait
    on I/O and the GIL, so one arena costs no throughput). Like ``MALLOC_ARENA_MAX=1`` in the environment
    (which wins when set), applied before this worker's threads exist. No-op without glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, count)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


MMAP_THRESHOLD = 128 * 1024  # bytes: glibc's initial value, kept fixed


def _fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> None:
    """Keep glibc's mmap threshold where it starts (like ``MALLOC_MMAP_THRESHOLD_=131072``, which wins when
    set): blocks above it are mapped on their own and unmapped when freed. glibc otherwise raises the
    threshold to the size of the first large block freed, and from then on such blocks come from the heap and
    stay in the RSS: a login's argon2 hash (19 MiB of working memory) left the idle worker at 104 MB instead of
    85 MB (measured, docs/benchmarks.md). No-op without glibc."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, threshold)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def release_free_memory() -> None:
    """Give the heap's free pages back to the OS (glibc ``malloc_trim``). After a burst, the memory its
    hundreds of requests and jobs used is free but stays in the process's RSS: glibc returns only the top of
    the heap on its own. Blocking for a few milliseconds: call it in a thread. No-op without glibc."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
