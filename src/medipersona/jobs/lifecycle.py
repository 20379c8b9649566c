"""The job runners of this process: started and stopped with the app's lifespan (``start_job_runner`` /
``stop_job_runner``; the runner is ``app.state.jobs``), and found or woken by code that enqueued a job, with
the app (``wake_runner``) or without it (``wake_local_runners``, ``local_runtime``: by database URL)."""

from __future__ import annotations

from fastapi import FastAPI

from medipersona.jobs.runner import JobRuntime
from medipersona.ops import process
from medipersona.settings import Settings

_LOCAL_RUNTIMES: list[JobRuntime] = []


def wake_local_runners(settings: Settings) -> None:
    """Wake every runner of this process that uses the same database (when no app object is at hand)."""
    url = settings.effective_database_url
    for runtime in _LOCAL_RUNTIMES:
        if runtime.settings.effective_database_url == url:
            runtime.wake()


def local_runtime(settings: Settings) -> JobRuntime | None:
    """A running runtime of this process on the same database, if any."""
    url = settings.effective_database_url
    return next((r for r in _LOCAL_RUNTIMES if r.settings.effective_database_url == url), None)


def get_runtime(app: FastAPI) -> JobRuntime | None:
    return getattr(app.state, "jobs", None)


def wake_runner(app: FastAPI) -> None:
    """Call after committing an enqueued job: this worker claims it at once (no polling delay)."""
    runtime = get_runtime(app)
    if runtime is not None:
        runtime.wake()


async def start_job_runner(app: FastAPI) -> None:
    process.tune_worker_process()
    runtime = JobRuntime(app.state.settings, app.state.db)
    app.state.jobs = runtime
    _LOCAL_RUNTIMES.append(runtime)
    await runtime.start()


async def stop_job_runner(app: FastAPI) -> None:
    runtime = get_runtime(app)
    if runtime is not None:
        try:
            await runtime.stop()
        finally:
            if runtime in _LOCAL_RUNTIMES:
                _LOCAL_RUNTIMES.remove(runtime)
