"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and slows streaming responses)."""

from __future__ import annotations

import contextvars
import secrets

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The request id of the request being handled, for log lines (see ops.logging).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{extra_img}; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def content_security_policy(tile_origin: str = "") -> str:
    """The CSP; ``tile_origin`` (the configured basemap host, e.g. https://cyberjapandata.gsi.go.jp) is the one
    outside source images may come from."""
    return CSP_TEMPLATE.format(extra_img=f" {tile_origin}" if tile_origin else "")


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeadersMiddleware:
    """Adds the CSP and other security headers and an X-Request-ID to every HTTP response."""

    def __init__(self, app: ASGIApp, tile_origin: str = "") -> None:
        self.app = app
        self.headers = [(b"content-security-policy", content_security_policy(tile_origin).encode()),
                        *SECURITY_HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else secrets.token_hex(8)
        token = request_id_var.set(request_id)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in present]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)


BODY_TOO_LARGE_MESSAGE = "送信されたデータが大きすぎます（上限{limit}）。"


def _size_label(limit: int) -> str:
    return f"{limit // (1024 * 1024)}MB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)}KB"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streaming body passed its limit (turned into 413 by the app's handler).
    An HTTPException so that FastAPI's body reading re-raises it as is (it turns other errors into 400)."""

    def __init__(self, limit: int) -> None:
        self.message = BODY_TOO_LARGE_MESSAGE.format(limit=_size_label(limit))
        super().__init__(413, self.message)
        self.limit = limit


class BodyLimitMiddleware:
    """One request-body limit for every route (``max_request_body_bytes``; a few upload routes have their own),
    enforced while the body streams, chunked or not, before anything parses it: a declared Content-Length over
    the limit is answered 413 without reading; a body that grows past it fails its next read with 413."""

    def __init__(self, app: ASGIApp, default_limit: int, route_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.route_limits = route_limits or {}

    def limit_for(self, path: str) -> int:
        return self.route_limits.get(path.rstrip("/") or "/", self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await self._refuse(scope, send, limit, 413 if value.isdigit() else 400)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Raised where nothing turned it into a response (e.g. a body read in a background task).
            if not started:
                await self._refuse(scope, send, limit, 413)

    async def _refuse(self, scope: Scope, send: Send, limit: int, status: int) -> None:
        import json

        message = BODY_TOO_LARGE_MESSAGE.format(limit=_size_label(limit)) if status == 413 else \
            "リクエストの形式が正しくありません（Content-Length）。"
        code = "payload_too_large" if status == 413 else "bad_request"
        body = json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


STREAMS_MESSAGE = "同時に開いている進行状況の表示が多すぎます（1人{limit}件まで）。不要なタブを閉じてからもう一度お試しください。"


class _StreamRefused(Exception):
    pass


class StreamLimitMiddleware:
    """A per-user cap on open event streams (text/event-stream responses) in this worker.

    The user is the one the request authenticated as (``request.state.user_id``, set by ``deps``); a stream is
    counted from its response's start until the app returns, so nothing can leak. Over the cap, the stream is
    answered 429 with a Japanese message instead and the route's stream is stopped."""

    def __init__(self, app: ASGIApp, max_per_user: int) -> None:
        self.app = app
        self.max_per_user = max_per_user
        self.open: dict[int, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.max_per_user:
            await self.app(scope, receive, send)
            return
        counted: list[int] = []

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not counted:
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                user_id = (scope.get("state") or {}).get("user_id")
                if content_type.startswith(b"text/event-stream") and user_id is not None:
                    if self.open.get(user_id, 0) >= self.max_per_user:
                        await self._refuse(send)
                        raise _StreamRefused
                    self.open[user_id] = self.open.get(user_id, 0) + 1
                    counted.append(user_id)
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except _StreamRefused:
            return
        finally:
            for user_id in counted:
                left = self.open.get(user_id, 1) - 1
                if left > 0:
                    self.open[user_id] = left
                else:
                    self.open.pop(user_id, None)

    async def _refuse(self, send: Send) -> None:
        import json

        body = json.dumps({"error": {"code": "too_many_streams",
                                     "message": STREAMS_MESSAGE.format(limit=self.max_per_user)}},
                          ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"retry-after", b"5")]})
        await send({"type": "http.response.body", "body": body})
