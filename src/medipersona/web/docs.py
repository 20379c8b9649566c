"""API docs for logged-in users: Swagger UI 5 (it reads the OpenAPI 3.1 document FastAPI writes), served from the
``openapi-ui-bundles`` package that the setup step installs (no CDN, no copy in the repository).

Only the two files the page needs are served (not the package's demo ``index.html``), and only to logged-in users,
like the page and the document themselves.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from medipersona.deps import CurrentUser
from medipersona.errors import NotFound

router = APIRouter(include_in_schema=False)


def _swagger_dir() -> Path:
    from openapi_ui_bundles import swagger_ui

    return Path(swagger_ui.static_path)


SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}

_DOCS_HTML = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>medipersona API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
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


@router.get("/docs/assets/{name}")
async def docs_asset(name: str, _user: CurrentUser):
    if name not in SWAGGER_FILES:
        raise NotFound("ファイルが見つかりません。")
    return FileResponse(_swagger_dir() / name, media_type=SWAGGER_FILES[name],
                        headers={"Cache-Control": "private, max-age=86400"})
