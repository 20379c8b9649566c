"""The app's static files: pages load them with a version query (``?v=<app version>``), so a deploy changes every
URL; an ES module's own imports (``import … from "./sse.js"``) carry no query, so those responses say
``Cache-Control: no-cache`` — the browser revalidates them (ETag, a 304 when unchanged) instead of running a module
from the previous release next to the new page scripts."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class AppStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if "v" not in parse_qs(scope.get("query_string", b"").decode("latin-1")):
            response.headers["Cache-Control"] = "no-cache"
        return response
