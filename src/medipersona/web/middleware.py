"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and slows streaming responses)."""

from __future__ import annotations

import contextvars
import secrets

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
