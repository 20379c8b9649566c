"""API docs (Swagger UI from the swagger-ui-bundle package, no CDN), for logged-in users only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from medipersona.deps import CurrentUser

router = APIRouter(include_in_schema=False)

_DOCS_HTML = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>medipersona API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/js/docs.js"></script></body></html>"""


@router.get("/openapi.json")
async def openapi(request: Request, _user: CurrentUser):
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def docs(_user: CurrentUser):
    # Swagger UI sets inline styles; allow them on this page only (scripts stay 'self').
    return HTMLResponse(_DOCS_HTML, headers={
        "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'",
    })
