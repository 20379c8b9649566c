"""Export routes written once: ``add_export_routes`` adds ``GET {path}.pdf`` (and ``.pptx``) for one subject
(personas, competitor analyses, persona sets, interviews, message tests), and ``file_response`` renders a document
in the export process pool and answers it as an attachment.

Each subject gives a loader (``subject id, user, session, settings -> doc``: reads what may be exported, raises
``NotFound``/``Conflict``, returns plain data) and its renderers; the session is closed before rendering so the
pooled connection is given back while the pool works.

No ``from __future__ import annotations`` here: the endpoints' annotations are built at run time (the path
parameter's name is the subject's), and FastAPI must see real objects.
"""

import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.exports.pool import run_export
from medipersona.exports.service import content_disposition
from medipersona.ops.metrics import observe_export
from medipersona.settings import Settings

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

Renderer = Callable[[dict], bytes]
Loader = Callable[[str, Any, AsyncSession, Settings], Awaitable[dict[str, Any]]]


async def file_response(kind: str, renderer: Renderer, doc: dict, settings, *, suffix: str) -> Response:
    """Render ``doc`` in the export pool and answer it as an attachment named after ``doc["name"]``."""
    started = time.perf_counter()
    body = await run_export(renderer, doc, workers=settings.export_workers, idle_seconds=settings.export_idle_seconds)
    observe_export(kind, time.perf_counter() - started)
    return Response(
        content=body,
        media_type=MEDIA_TYPES[kind],
        headers={
            "Content-Disposition": content_disposition(doc["name"], kind, suffix=suffix),
            "Cache-Control": "private, no-store",
        },
    )


def add_export_routes(router: APIRouter, path: str, *, load: Loader, renderers: dict[str, Renderer], suffix: str,
                      names: dict[str, str], descriptions: dict[str, str] | None = None,
                      responses: dict[int | str, dict[str, Any]] | None = None) -> None:
    """``GET {path}.{kind}`` for each of ``renderers`` (kind: ``pdf`` | ``pptx``). ``path`` holds one path
    parameter, the subject's id (``/api/personas/{persona_id}/export``); ``names`` and ``descriptions`` (by kind)
    name and document the routes in the OpenAPI document."""
    (id_name,) = re.findall(r"\{(\w+)\}", path)
    for kind, renderer in renderers.items():
        router.add_api_route(f"{path}.{kind}", _endpoint(kind, renderer, id_name, load, suffix), methods=["GET"],
                             response_class=Response, responses=responses, name=names[kind],
                             description=(descriptions or {}).get(kind))


def _endpoint(kind: str, renderer: Renderer, id_name: str, load: Loader, suffix: str):
    async def export(subject_id: Annotated[str, Path(alias=id_name)], user: CurrentUser, session: SessionDep,
                     settings: SettingsDep) -> Response:
        doc = await load(subject_id, user, session, settings)
        await session.close()  # give the connection back while the pool renders
        return await file_response(kind, renderer, doc, settings, suffix=suffix)

    return export
