"""Competitor-analysis JSON API (thin: logic lives in ``service``; the analysis runs as a durable job).

POST   /api/competitors              → 202 {"id", "status", "events_url"}
POST   /api/competitors/import       → 200 {"kind", "rows", "errors"} (multipart ``file``, ``kind``=clinic|competitors)
GET    /api/competitors              → {"items", "total", "page", "per_page", "pages"} (own; admins: all)
GET    /api/competitors/{id}         → the analysis (clinic, competitors by distance, market, population, demand,
                                       swot, status, error, timings)
DELETE /api/competitors/{id}         → 204
GET    /api/competitors/{id}/events  → text/event-stream: status, section, delta, done | error (see ``jobs.py``)
GET    /api/competitors/{id}/map.svg → the map (``map.render_map``: our own SVG, no tiles, no key)
GET    /api/competitors/{id}/map-points → the interactive map's data (clinic, radius, numbered competitors)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from medipersona.competitors import service
from medipersona.competitors.models import CompetitorAnalysis
from medipersona.competitors.schemas import AnalysisCreate
from medipersona.deps import CurrentUser, PagingDep, SessionDep, SettingsDep
from medipersona.errors import InvalidInput, NotFound, PayloadTooLarge
from medipersona.jobs.sse import (
    SSE_RESPONSE_KWARGS,
    LazyStoredState,
    job_event_stream,
    parse_last_event_id,
    static_event_stream,
)

router = APIRouter(prefix="/api/competitors", tags=["competitors"])


async def import_size_guard(request: Request) -> None:
    """Refuse a too-large upload from its Content-Length before the body is parsed."""
    from medipersona.competitors.importer import MAX_FILE_BYTES, TOO_LARGE_MESSAGE

    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_FILE_BYTES + 64 * 1024:
        raise PayloadTooLarge(TOO_LARGE_MESSAGE)


@router.post("", status_code=202)
async def create_analysis(data: AnalysisCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    analysis = await service.create_analysis(session, settings, user, data)
    return JSONResponse({"id": analysis.id, "status": analysis.status,
                         "events_url": f"/api/competitors/{analysis.id}/events"}, status_code=202)


@router.post("/{analysis_id}/retry", status_code=202)
async def retry_analysis(analysis_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """Run a failed analysis again with its original inputs (409 unless it failed)."""
    analysis = await service.retry_analysis(session, settings, user, analysis_id)
    return JSONResponse({"id": analysis.id, "status": analysis.status,
                         "events_url": f"/api/competitors/{analysis.id}/events"}, status_code=202)


async def _read_upload(request: Request) -> tuple[str, bytes, str]:
    """(file name, bytes, kind) of a multipart import request; 413/422 with Japanese messages."""
    from medipersona.competitors.importer import MAX_FILE_BYTES, TOO_LARGE_MESSAGE

    file_error = [{"field": "file", "in": "body", "message": "ファイルを選択してください。"}]
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("ファイルを multipart/form-data の file 項目で送信してください。", fields=file_error)
    form = await request.form(max_files=1, max_fields=10)
    try:
        kind = str(form.get("kind") or "").strip()
        if kind not in ("clinic", "competitors"):
            raise InvalidInput("取り込む内容（kind）を clinic か competitors で指定してください。",
                               fields=[{"field": "kind", "in": "body",
                                        "message": "次のいずれかを指定してください: clinic, competitors"}])
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not getattr(upload, "filename", None):
            raise InvalidInput("取り込むファイルを選択してください。", fields=file_error)
        data = await upload.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise PayloadTooLarge(TOO_LARGE_MESSAGE)
        if not data:
            raise InvalidInput("ファイルが空です。", fields=[{"field": "file", "in": "body", "message": "ファイルが空です。"}])
        return upload.filename or "", data, kind
    finally:
        await form.close()


@router.post("/import", dependencies=[Depends(import_size_guard)])
async def import_file(request: Request, user: CurrentUser):
    """Parse an uploaded CSV/XLSX (clinic info or a competitor list) in a worker thread. Nothing is stored: the
    rows come back for the form. 422 when nothing usable was found."""
    from medipersona.competitors.importer import parse_upload
    from medipersona.uploads import UploadLimitExceeded

    filename, data, kind = await _read_upload(request)
    try:
        result = await parse_upload(filename, data, kind)
    except UploadLimitExceeded as exc:
        raise PayloadTooLarge(exc.message) from None
    body: dict[str, Any] = {"kind": result.kind, "rows": result.rows, "errors": result.errors}
    if not result.rows:
        message = result.fatal or "取り込めるデータがありませんでした。"
        body["error"] = {"code": "import_rejected", "message": message,
                         "fields": [{"field": "file", "in": "body", "message": message}]}
        return JSONResponse(body, status_code=422)
    return body


@router.get("")
async def list_analyses(
    user: CurrentUser,
    session: SessionDep,
    paging: PagingDep,
    status: str = Query("", pattern="^(|queued|running|done|failed)$"),
):
    return await service.list_analyses(session, user, status=status, page=paging.page, per_page=paging.per_page)


@router.get("/{analysis_id}")
async def get_analysis(analysis_id: str, user: CurrentUser, session: SessionDep):
    return service.analysis_to_api(await service.get_analysis(session, user, analysis_id))


@router.delete("/{analysis_id}", status_code=204)
async def delete_analysis(analysis_id: str, user: CurrentUser, session: SessionDep):
    await service.delete_analysis(session, user, analysis_id)
    return Response(status_code=204)


@router.get("/{analysis_id}/map.svg")
async def analysis_map(analysis_id: str, user: CurrentUser, session: SessionDep):
    from medipersona.competitors.map import render_map

    data = service.analysis_to_api(await service.get_analysis(session, user, analysis_id))
    await session.close()
    svg = render_map(data)
    return Response(svg, media_type="image/svg+xml; charset=utf-8",
                    headers={"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/{analysis_id}/map-points")
async def analysis_map_points(analysis_id: str, user: CurrentUser, session: SessionDep):
    """What the interactive map draws: clinic, radius and the numbered competitors with their popup fields."""
    from medipersona.competitors.display import map_points

    return map_points(service.analysis_to_api(await service.get_analysis(session, user, analysis_id)))


@router.get("/{analysis_id}/events")
async def analysis_events(
    request: Request,
    analysis_id: str,
    user: CurrentUser,
    session: SessionDep,
    after: int = Query(0, ge=0, le=2**53, description="Resume after this event id (or send Last-Event-ID)."),
):
    after_id = max(after, parse_last_event_id(request.headers.get("last-event-id")))
    row = (await session.execute(
        select(CompetitorAnalysis.owner_id, CompetitorAnalysis.current_job_id)
        .where(CompetitorAnalysis.id == analysis_id[:64]))).first()
    if row is None or (row.owner_id != user.id and not user.is_admin):
        raise NotFound(service.NOT_FOUND_MESSAGE, code="analysis_not_found")
    if not row.current_job_id:
        analysis = await service.get_analysis(session, user, analysis_id)
        state = stored_state_events(analysis)
        await session.close()
        return StreamingResponse(static_event_stream(state), **SSE_RESPONSE_KWARGS)
    fallback = LazyStoredState(
        request.app, CompetitorAnalysis, analysis_id, stored_state_events,
        missing=[("error", {"code": "analysis_not_found", "message": service.NOT_FOUND_MESSAGE})],
    )
    return StreamingResponse(job_event_stream(request.app, row.current_job_id, after_id=after_id, session=session,
                                              fallback=fallback), **SSE_RESPONSE_KWARGS)


def stored_state_events(analysis: CompetitorAnalysis) -> list[tuple[str, dict]]:
    """Events describing a stored analysis (its job and events are gone)."""
    events: list[tuple[str, dict]] = [("status", {"status": analysis.status})]
    if analysis.status == "failed":
        events.append(("error", analysis.error or {"code": "failed", "message": "競合分析に失敗しました。"}))
    elif analysis.status == "done":
        events.append(("done", {"status": "done", "id": analysis.id}))
    else:
        events.append(("error", {"code": "job_missing", "message": "処理が見つかりません。もう一度分析してください。"}))
    return events
