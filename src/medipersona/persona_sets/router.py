"""Persona-set JSON API (thin: logic lives in ``service``; members are ordinary personas with their own jobs).

POST   /api/persona-sets                   → 202 {"id", "persona_ids", "status", "events_url"}
GET    /api/persona-sets                   → {"items", "total", "page", "per_page", "pages"} (own; admins: all)
GET    /api/persona-sets/{id}              → the set with its members' state (``service.set_to_api``)
DELETE /api/persona-sets/{id}              → 204 (the grouping; the personas stay in the history)
GET    /api/persona-sets/{id}/events       → text/event-stream: member, progress, done (``stream.py``)
GET    /api/persona-sets/{id}/export.pdf   → comparison pages + each member's persona page
GET    /api/persona-sets/{id}/export.pptx  → the same as slides
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from medipersona.deps import CurrentUser, PagingDep, SessionDep, SettingsDep
from medipersona.errors import Conflict
from medipersona.exports.routes import add_export_routes
from medipersona.jobs.sse import SSE_RESPONSE_KWARGS
from medipersona.persona_sets import service
from medipersona.persona_sets.export import render_set_pdf, render_set_pptx
from medipersona.persona_sets.schemas import PersonaSetCreate

router = APIRouter(prefix="/api/persona-sets", tags=["persona sets"])


@router.post("", status_code=202)
async def create_set(data: PersonaSetCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    persona_set = await service.create_set(session, settings, user, data)
    return JSONResponse({"id": persona_set.id, "persona_ids": list(persona_set.persona_ids), "status": "queued",
                         "events_url": f"/api/persona-sets/{persona_set.id}/events"}, status_code=202)


@router.get("")
async def list_sets(user: CurrentUser, session: SessionDep, paging: PagingDep):
    return await service.list_sets(session, user, page=paging.page, per_page=paging.per_page)


@router.get("/{set_id}")
async def get_set(set_id: str, user: CurrentUser, session: SessionDep):
    persona_set = await service.get_set(session, user, set_id)
    return service.set_to_api(persona_set, await service.members_of(session, persona_set))


@router.delete("/{set_id}", status_code=204)
async def delete_set(set_id: str, user: CurrentUser, session: SessionDep):
    await service.delete_set(session, user, set_id)
    return Response(status_code=204)


@router.get("/{set_id}/events")
async def set_events(request: Request, set_id: str, user: CurrentUser, session: SessionDep):
    from medipersona.persona_sets.stream import set_event_stream

    persona_set = await service.get_set(session, user, set_id)
    members = [m for m in await service.members_of(session, persona_set) if m is not None]
    await session.close()  # the stream may stay open for a while: give the connection back
    return StreamingResponse(set_event_stream(request.app, members), **SSE_RESPONSE_KWARGS)


async def _set_document(set_id: str, user, session, settings) -> dict:
    from medipersona.persona_sets.export import build_set_document

    persona_set = await service.get_set(session, user, set_id)
    members = await service.members_of(session, persona_set)
    data = service.set_to_api(persona_set, members)
    if data["status"] in ("queued", "running"):
        raise Conflict("ペルソナセットの生成が完了していないため、まだエクスポートできません。すべてのペルソナの完成後に"
                       "もう一度お試しください。", code="set_not_ready")
    done = [m for m in members if m is not None and m.status == "done"]
    if not done:
        raise Conflict("完成したペルソナがないため、エクスポートできません。", code="set_empty")
    return await build_set_document(session, settings, data, done)


add_export_routes(
    router, "/{set_id}/export", load=_set_document, renderers={"pdf": render_set_pdf, "pptx": render_set_pptx},
    suffix="persona_set", names={"pdf": "export_pdf", "pptx": "export_pptx"},
    descriptions={"pdf": "The set as one A4 landscape PDF: comparison pages, then each member's persona page.",
                  "pptx": "The set as PowerPoint slides with the same pages as the PDF."})
