"""Persona JSON API (thin: logic lives in ``service``; generation runs as a durable job).

POST   /api/personas                              → 202 {"id", "status"}
GET    /api/personas                              → {"items", "total", "page", "per_page", "pages"}
GET    /api/personas/{id}                         → the persona (inputs after auto-fill, sections, image_url ...)
PATCH  /api/personas/{id}                         → edit profile / extras / extra_fields / name / sections / note / tags
POST   /api/personas/{id}/sections/{key}/regenerate → 202 {"id", "job_id", "section"} (stream on /events)
POST   /api/personas/{id}/regenerate              → 202 {"id", "status"} (all sections and the portrait again)
POST   /api/personas/{id}/duplicate               → 201 the copy
POST   /api/personas/{id}/retry                   → 202 {"id", "status"} (failed ones)
DELETE /api/personas/{id}                         → 204 (the stored image too)
GET    /api/personas/{id}/events                  → text/event-stream (status, delta, section, image, done|error)
GET    /api/personas/{id}/image                   → the stored portrait
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from medipersona.catalog.labels import SECTION_KEYS, SECTION_LABELS
from medipersona.deps import CommitCheckedPrincipal, CurrentUser, PagingDep, SessionDep, SettingsDep
from medipersona.errors import NotFound
from medipersona.jobs.lifecycle import get_runtime
from medipersona.jobs.sse import (
    SSE_RESPONSE_KWARGS,
    LazyStoredState,
    job_event_stream,
    parse_last_event_id,
    static_event_stream,
)
from medipersona.media.router import respond_with_image
from medipersona.personas import checks, representation, service
from medipersona.personas.models import Persona
from medipersona.personas.schemas import PersonaCreate, PersonaUpdate
from medipersona.personas.search import HistoryFiltersDep

router = APIRouter(prefix="/api/personas", tags=["personas"])


@router.post("/check")
async def check_persona(data: PersonaCreate, user: CurrentUser):
    """Warnings (not errors) about hand-entered values that contradict each other or the chief complaint, as
    the persona would be auto-filled from them: {"warnings": [{"rule", "field", "message"}]}."""
    checks.validate_catalog(user, data)
    return {"warnings": representation.request_warnings(data)}


@router.post("", status_code=202)
async def create_persona(data: PersonaCreate, principal: CommitCheckedPrincipal, session: SessionDep,
                         settings: SettingsDep):
    persona = await service.create_persona(session, settings, principal.user, data,
                                           auth_session_id=principal.auth_session.id)
    return JSONResponse({"id": persona.id, "status": persona.status,
                         "events_url": f"/api/personas/{persona.id}/events",
                         "warnings": representation.profile_warnings(persona)}, status_code=202)


@router.get("")
async def list_personas(
    user: CurrentUser,
    session: SessionDep,
    filters: HistoryFiltersDep,
    paging: PagingDep,
):
    return await service.list_personas(session, user, filters, page=paging.page, per_page=paging.per_page)


@router.get("/{persona_id}")
async def get_persona(persona_id: str, user: CurrentUser, session: SessionDep):
    persona = await service.get_persona(session, user, persona_id)
    return representation.persona_to_api(persona, await service.current_job(session, persona))


@router.patch("/{persona_id}")
async def update_persona(persona_id: str, data: PersonaUpdate, user: CurrentUser, session: SessionDep):
    persona = await service.update_persona(session, user, persona_id, data)
    return representation.persona_to_api(persona, await service.current_job(session, persona))


@router.post("/{persona_id}/sections/{key}/regenerate", status_code=202)
async def regenerate_section(persona_id: str, key: str, user: CurrentUser, session: SessionDep,
                             settings: SettingsDep):
    job = await service.regenerate_section(session, settings, user, persona_id, key)
    return JSONResponse({"id": persona_id, "job_id": job.id, "section": key, "status": job.status,
                         "events_url": f"/api/personas/{persona_id}/events"}, status_code=202)


@router.post("/{persona_id}/regenerate", status_code=202)
async def regenerate_all(persona_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    persona = await service.regenerate_all(session, settings, user, persona_id)
    return JSONResponse({"id": persona.id, "status": persona.status,
                         "events_url": f"/api/personas/{persona.id}/events",
                         "warnings": representation.profile_warnings(persona)}, status_code=202)


@router.post("/{persona_id}/duplicate", status_code=201)
async def duplicate_persona(persona_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    copy = await service.duplicate_persona(session, settings, user, persona_id)
    return JSONResponse(representation.persona_to_api(copy), status_code=201)


@router.post("/{persona_id}/retry", status_code=202)
async def retry_persona(persona_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    persona = await service.retry_persona(session, settings, user, persona_id)
    return JSONResponse({"id": persona.id, "status": persona.status,
                         "events_url": f"/api/personas/{persona.id}/events",
                         "warnings": representation.profile_warnings(persona)}, status_code=202)


@router.delete("/{persona_id}", status_code=204)
async def delete_persona(persona_id: str, request: Request, user: CurrentUser, session: SessionDep,
                         settings: SettingsDep):
    await service.delete_persona(session, settings, user, persona_id, db=request.app.state.db)
    return Response(status_code=204)


def _stored_state_events(persona) -> list[tuple[str, dict]]:
    """Events describing a persona that has no job (e.g. a duplicate)."""
    events: list[tuple[str, dict]] = [("status", {"status": persona.status})]
    sections = persona.sections or {}
    for key in SECTION_KEYS:
        if sections.get(key):
            events.append(("section", {"key": key, "label": SECTION_LABELS[key], "text": sections[key]}))
    url = representation.image_url(persona)
    if url:
        events.append(("image", {"status": "done", "url": url}))
    if persona.status == "failed":
        events.append(("error", persona.error or {"code": "failed", "message": "生成に失敗しました。"}))
    else:
        events.append(("done", {"status": persona.status, "sections": sections, "name": persona.name,
                                "image_status": persona.image_status}))
    return events


@router.get("/{persona_id}/events")
async def persona_events(
    request: Request,
    persona_id: str,
    user: CurrentUser,
    session: SessionDep,
    after: int = Query(0, ge=0, le=2**53, description="Resume after this event id (or send Last-Event-ID)."),
):
    after_id = max(after, parse_last_event_id(request.headers.get("last-event-id")))
    runtime = get_runtime(request.app)
    local = runtime.local_job_of(persona_id) if runtime is not None else None
    if local is not None:  # running here: owner and events are in memory, no database read
        if local.ctx.owner_id != user.id and not user.is_admin:
            raise NotFound("ペルソナが見つかりません。")
        return StreamingResponse(job_event_stream(request.app, local.ctx.job_id, after_id=after_id,
                                                  session=session), **SSE_RESPONSE_KWARGS)
    row = (await session.execute(
        select(Persona.owner_id, Persona.status, Persona.current_job_id).where(Persona.id == persona_id))).first()
    if row is None or (row.owner_id != user.id and not user.is_admin):
        raise NotFound("ペルソナが見つかりません。")
    job_id = row.current_job_id
    if not job_id:
        persona = await service.get_persona(session, user, persona_id)
        state = _stored_state_events(persona)
        await session.close()
        return StreamingResponse(static_event_stream(state), **SSE_RESPONSE_KWARGS)
    fallback = LazyStoredState(
        request.app, Persona, persona_id, _stored_state_events,
        missing=[("error", {"code": "not_found", "message": "ペルソナが見つかりません。"})],
    ) if row.status in ("done", "failed") else None
    # The stream reads the state so far with this session and then closes it, so the pooled connection is
    # given back while the stream stays open (for minutes, perhaps).
    return StreamingResponse(job_event_stream(request.app, job_id, after_id=after_id, session=session,
                                              fallback=fallback), **SSE_RESPONSE_KWARGS)


@router.get("/{persona_id}/image")
async def persona_image(persona_id: str, request: Request, user: CurrentUser, session: SessionDep):
    """The current portrait (private, revalidated: it changes when the portrait is made again). Pages link the
    immutable ``image_url`` instead."""
    persona = await service.get_persona(session, user, persona_id)
    if persona.image_status != "done" or not persona.image_digest:
        raise NotFound("画像はまだありません。")
    digest = persona.image_digest
    await session.close()
    return await respond_with_image(request, digest, public=False)
