"""Interview JSON API (thin: logic lives in ``service``; each answer is a durable job streamed over SSE).

POST   /api/personas/{id}/interviews    → 201 {"id", "url", "events_url"} (the persona must be finished)
GET    /api/personas/{id}/interviews    → {"items": [...]} (own; admins: all)
GET    /api/interviews/{id}             → {"id", "persona_id", "messages": [{"role", "text", "created_at"}], ...}
POST   /api/interviews/{id}/messages    → 202 {"id", "message_id", "job_id", "events_url"}  body {"text"}
GET    /api/interviews/{id}/events      → text/event-stream: status, delta (section "answer"), done | error
DELETE /api/interviews/{id}             → 204
GET    /api/interviews/{id}/export.pdf  → the conversation as a PDF
GET    /api/interviews/{id}/export.md   → the conversation as Markdown
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.exports.routes import add_export_routes
from medipersona.interviews import service
from medipersona.interviews.export import render_interview_pdf
from medipersona.interviews.models import Interview
from medipersona.interviews.schemas import QuestionIn
from medipersona.jobs.sse import (
    SSE_RESPONSE_KWARGS,
    job_event_stream,
    parse_last_event_id,
    static_event_stream,
)
from medipersona.personas.models import Persona

router = APIRouter(tags=["interviews"])


@router.post("/api/personas/{persona_id}/interviews", status_code=201)
async def create_interview(persona_id: str, user: CurrentUser, session: SessionDep):
    interview = await service.create_interview(session, user, persona_id)
    return JSONResponse({"id": interview.id, "url": f"/interviews/{interview.id}",
                         "events_url": f"/api/interviews/{interview.id}/events"}, status_code=201)


@router.get("/api/personas/{persona_id}/interviews")
async def list_interviews(persona_id: str, user: CurrentUser, session: SessionDep):
    return {"items": await service.list_for_persona(session, user, persona_id)}


async def _loaded(session, user, interview_id: str) -> tuple[Interview, Persona, list]:
    interview = await service.get_interview(session, user, interview_id)
    persona = await session.get(Persona, interview.persona_id)
    return interview, persona, await service.messages_of(session, interview.id)


@router.get("/api/interviews/{interview_id}")
async def get_interview(interview_id: str, user: CurrentUser, session: SessionDep):
    return service.interview_to_api(*await _loaded(session, user, interview_id))


@router.post("/api/interviews/{interview_id}/messages", status_code=202)
async def ask(interview_id: str, data: QuestionIn, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    interview, question, job = await service.ask(session, settings, user, interview_id, data.text)
    return JSONResponse({"id": interview.id, "message_id": question.id, "job_id": job.id, "status": "answering",
                         "events_url": f"/api/interviews/{interview.id}/events"}, status_code=202)


@router.delete("/api/interviews/{interview_id}", status_code=204)
async def delete_interview(interview_id: str, user: CurrentUser, session: SessionDep):
    await service.delete_interview(session, user, interview_id)
    return Response(status_code=204)


def stored_state_events(interview: Interview, messages: list) -> list[tuple[str, dict]]:
    """Events describing an interview with no answer being written: its last answer, or why it failed."""
    events: list[tuple[str, dict]] = [("status", {"status": interview.status})]
    if interview.last_error:
        return [*events, ("error", dict(interview.last_error))]
    last = next((m for m in reversed(messages) if m.role == "persona"), None)
    return [*events, ("done", {"status": "done", "message": service.message_to_api(last) if last else None})]


@router.get("/api/interviews/{interview_id}/events")
async def interview_events(request: Request, interview_id: str, user: CurrentUser, session: SessionDep,
                           after: int = Query(0, ge=0, le=2**62,
                                              description="Resume after this event id (or send Last-Event-ID).")):
    interview = await service.get_interview(session, user, interview_id)
    after_id = max(after, parse_last_event_id(request.headers.get("last-event-id")))
    if interview.status == "answering" and interview.current_job_id:
        return StreamingResponse(job_event_stream(request.app, interview.current_job_id, after_id=after_id,
                                                  session=session), **SSE_RESPONSE_KWARGS)
    state = stored_state_events(interview, await service.messages_of(session, interview.id))
    await session.close()
    return StreamingResponse(static_event_stream(state), **SSE_RESPONSE_KWARGS)


async def _document(session, user, interview_id: str) -> dict:
    from medipersona.interviews.export import build_interview_document
    from medipersona.personas.character import persona_card

    interview, persona, messages = await _loaded(session, user, interview_id)
    member = persona_card(persona)
    persona_info = {"name": persona.name,
                    "subtitle": f"{member['patient_type_name'] or '患者タイプなし'}",
                    "profile": [member["age_label"], member["gender_label"], member["occupation"], member["family"]]}
    return build_interview_document(service.interview_to_api(interview, persona, messages), persona_info)


@router.get("/api/interviews/{interview_id}/export.md")
async def export_markdown(interview_id: str, user: CurrentUser, session: SessionDep) -> Response:
    from medipersona.exports.service import content_disposition
    from medipersona.interviews.export import interview_markdown

    doc = await _document(session, user, interview_id)
    return Response(interview_markdown(doc), media_type="text/markdown; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(doc["persona_name"], "md", "interview"),
                             "Cache-Control": "private, no-store"})


async def _pdf_document(interview_id: str, user, session, settings) -> dict:
    return await _document(session, user, interview_id)


add_export_routes(router, "/api/interviews/{interview_id}/export", load=_pdf_document,
                  renderers={"pdf": render_interview_pdf}, suffix="interview", names={"pdf": "export_pdf"})
