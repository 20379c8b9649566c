"""Prometheus metrics (operations work fills this in). The middleware is a pass-through until then."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
