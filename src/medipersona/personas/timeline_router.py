"""A persona's timeline analysis (a job like generation) and its keyword chart.

    POST /api/personas/{id}/timeline-analysis       202: a job, streamed like generation
    GET  /api/personas/{id}/timeline-analysis       stored status and analysis
    GET  /api/personas/{id}/timeline-analysis/events  SSE of the newest analysis job (Last-Event-ID aware)
    GET  /api/personas/{id}/timeline/chart.svg      the chart for the persona's 主訴, gender and age

The keyword data and its chart come from the keywords domain (``keywords/service.py``); personas build on it, never
the other way round.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from medipersona.catalog.service import get_catalog
from medipersona.deps import CurrentUser, SessionDep
from medipersona.errors import NotFound
from medipersona.keywords.params import ChartSizeDep
from medipersona.keywords.service import chart_title, svg_response, timeline_payload

router = APIRouter(prefix="/api", tags=["keywords"])


@router.post("/personas/{persona_id}/timeline-analysis", status_code=202)
async def start_timeline_analysis(persona_id: str, request: Request, user: CurrentUser,
                                  session: SessionDep) -> JSONResponse:
    """Queue the analysis (心理変化の分析 / 隠れたニーズ / マーケティング提案). 202 with the job and its SSE URL;
    a second request while one is queued/running returns the same job."""
    from medipersona.personas.timeline import enqueue_timeline_analysis

    job, created = await enqueue_timeline_analysis(session, persona_id, user)
    if created:
        from medipersona.jobs.service import wake_runner

        wake_runner(request.app)
    return JSONResponse(
        {
            "job_id": job.id,
            "persona_id": persona_id,
            "status": job.status,
            "events_url": f"/api/personas/{persona_id}/timeline-analysis/events",
        },
        status_code=202,
    )


@router.get("/personas/{persona_id}/timeline-analysis")
async def get_timeline_analysis(persona_id: str, user: CurrentUser, session: SessionDep) -> dict:
    from medipersona.personas.timeline import load_persona_for

    persona = await load_persona_for(session, persona_id, user)
    return {
        "persona_id": persona.id,
        "status": persona.timeline_status,
        "analysis": persona.timeline_analysis if persona.timeline_status == "done" else None,
        "error": (persona.timeline_analysis or {}).get("error") if persona.timeline_status == "failed" else None,
    }


@router.get("/personas/{persona_id}/timeline-analysis/events")
async def timeline_analysis_events(
    persona_id: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events of the newest analysis job (same wire format as generation: status, delta, done,
    error). Without a job, the stored state as one ``done`` or ``error`` event."""
    from medipersona.jobs.sse import (
        SSE_RESPONSE_KWARGS,
        job_event_stream,
        parse_last_event_id,
        static_event_stream,
    )
    from medipersona.personas.timeline import (
        generation_view,
        latest_timeline_job,
        load_persona_for,
        stored_state_events,
    )

    persona = await load_persona_for(session, persona_id, user)
    job = await latest_timeline_job(session, persona.id)
    await session.close()
    after_id = parse_last_event_id(last_event_id)
    if persona.timeline_status in ("queued", "running") and persona.current_job_id and (
            job is None or job.status in ("done", "failed")):
        # The analysis a generation runs beside the persona text: its part of the generation's stream.
        stream = job_event_stream(request.app, persona.current_job_id, after_id=after_id, view=generation_view)
        return StreamingResponse(stream, **SSE_RESPONSE_KWARGS)
    if job is None:
        return StreamingResponse(static_event_stream(stored_state_events(persona)), **SSE_RESPONSE_KWARGS)
    stream = job_event_stream(request.app, job.id, after_id=after_id)
    return StreamingResponse(stream, **SSE_RESPONSE_KWARGS)


@router.get("/personas/{persona_id}/timeline/chart.svg")
async def persona_timeline_chart(
    persona_id: str,
    user: CurrentUser,
    session: SessionDep,
    size: ChartSizeDep,
) -> Response:
    from medipersona.personas.timeline import load_persona_for, persona_age_gender

    persona = await load_persona_for(session, persona_id, user, act=True)
    catalog = get_catalog()
    dep = catalog.department(persona.department_id)
    cc = catalog.chief_complaint(persona.chief_complaint_id)
    if dep is None:
        raise NotFound("ペルソナの診療科がカタログにありません。")
    age, gender = persona_age_gender(persona)
    payload = await timeline_payload(session, dep, cc, gender, age, 300)
    return await svg_response(payload["series"], chart_title(dep, cc), size.width, size.height)
