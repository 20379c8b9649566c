"""Metrics hooks called by the rest of the app (operations work turns these into Prometheus metrics).

Keep these function signatures stable: providers, jobs and exports call them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


def observe_provider_call(provider: str, model: str, task: str, outcome: str, seconds: float) -> None:
    """One upstream AI call finished. outcome: ok | error | timeout | retry | invalid_output."""


def generation_started() -> None:
    """A generation job began running in this worker (in-flight gauge +1)."""


def generation_finished(outcome: str) -> None:
    """A generation job ended (in-flight gauge -1). outcome: done | failed."""


def job_recovered(kind: str) -> None:
    """A job whose lease expired (dead worker) was taken over by this worker."""


def set_queue_depth(depth: int) -> None:
    """Queued jobs seen by the runner at its last poll."""


def observe_export(kind: str, seconds: float) -> None:
    """One export (pdf | pptx) rendered."""


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
