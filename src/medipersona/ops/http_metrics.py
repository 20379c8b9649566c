"""The HTTP side of the metrics (``ops/metrics.py``): a pure-ASGI middleware counting requests by route
template and status, observing latency, writing the one access-log line per request, and running the per-worker
sampler for the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medipersona.ops.metrics import (
    METHODS,
    QUIET_ROUTES,
    access_log,
    app_metrics,
    bounded_label,
    sampler_loop,
)


def route_template(scope: Scope, root_path_before: str = "") -> str:
    """The matched route's path template (``/api/personas/{persona_id}``), never the raw path.

    Routes leave ``scope["route"]``; mounts (static files) only extend ``root_path``, so a grown root path means
    "served by the mount at that prefix"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is not None:
        if route.__class__.__name__ == "Mount":
            return (path.rstrip("/") or "") + "/{path}"
        return path
    root_path = scope.get("root_path", "") or ""
    if root_path != root_path_before and root_path.startswith(root_path_before):
        return root_path[len(root_path_before):].rstrip("/") + "/{path}"
    return "<unmatched>"


class MetricsMiddleware:
    """Pure ASGI: counts requests by route template and status, observes latency, writes one access-log line.

    On the ASGI lifespan it also starts the per-worker sampler (RSS, CPU, memory, monitoring history).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._sampler: asyncio.Task | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        m = app_metrics()
        start = time.perf_counter()
        state = {"status": 500, "stream": False}
        root_path_before = scope.get("root_path", "") or ""

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                for key, value in message.get("headers", ()):
                    if key.lower() == b"content-type" and value.startswith(b"text/event-stream"):
                        state["stream"] = True
            await send(message)

        m.requests_in_progress.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            m.requests_in_progress.dec()
            duration = time.perf_counter() - start
            method = scope.get("method", "GET")
            method = method if method in METHODS else "OTHER"
            route = route_template(scope, root_path_before)
            status = state["status"]
            m.requests.labels(method, route, str(status)).inc()
            if not state["stream"]:
                m.request_seconds.labels(method, route).observe(duration)
            level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
            if access_log.isEnabledFor(level):
                shown = route if route != "<unmatched>" else bounded_label(scope.get("path", ""), 100)
                access_log.log(level, "%s %s %s %.1fms", method, shown, status, duration * 1000,
                               extra={"method": method, "route": shown, "status": status,
                                      "duration_ms": round(duration * 1000, 1)})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and self._sampler is None:
                limit = 0
                settings = getattr(scope.get("app"), "state", None)
                if settings is not None and getattr(settings, "settings", None) is not None:
                    limit = settings.settings.memory_limit_mb
                self._sampler = asyncio.create_task(sampler_loop(limit, scope.get("app")),
                                                    name="medipersona-metrics-sampler")
            elif message["type"] == "lifespan.shutdown" and self._sampler is not None:
                sampler, self._sampler = self._sampler, None
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)  # no task outlives the lifespan
            return message

        await self.app(scope, receive_wrapper, send)
