"""Message-test JSON API (thin: logic lives in ``service``; the test runs as a durable job).

POST   /api/message-tests                 → 202 {"id", "status", "events_url"}
          body {"persona_ids": [...] | "set_id", "message", "kind": ad|leaflet|web|other, "image"?: {"data", "mime"}}
GET    /api/message-tests                 → {"items", "total", "page", "per_page", "pages"} (own; admins: all)
GET    /api/message-tests/{id}            → {"status", "results": [{"persona_id", "score", "comment", "would_book",
                                            "concerns", ...}], "summary", ...}
POST   /api/message-tests/{id}/retry      → 202 (failed tests only)
DELETE /api/message-tests/{id}            → 204
GET    /api/message-tests/{id}/events     → text/event-stream: status, result, stats, delta, section, done | error
GET    /api/message-tests/{id}/chart.svg  → the score chart (our own SVG)
GET    /api/message-tests/{id}/image      → the leaflet image, if one was sent
GET    /api/message-tests/{id}/export.pdf → message, chart, numbers, summary, reactions
GET    /api/message-tests/{id}/export.csv → one row per persona
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from medipersona.deps import CurrentUser, PagingDep, SessionDep, SettingsDep
from medipersona.errors import Conflict, NotFound, PayloadTooLarge
from medipersona.exports.routes import add_export_routes
from medipersona.jobs.sse import (
    SSE_RESPONSE_KWARGS,
    job_event_stream,
    parse_last_event_id,
    static_event_stream,
)
from medipersona.message_tests import service
from medipersona.message_tests.export import render_test_pdf
from medipersona.message_tests.models import MessageTest
from medipersona.message_tests.schemas import IMAGE_MAX_BYTES, MessageTestCreate

router = APIRouter(prefix="/api/message-tests", tags=["message tests"])
BODY_LIMIT = IMAGE_MAX_BYTES * 4 // 3 + 64 * 1024  # the image as base64 plus the rest of the body


async def body_size_guard(request: Request) -> None:
    """Refuse a body larger than an image and a message can make, from its Content-Length, before parsing it."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > BODY_LIMIT:
        raise PayloadTooLarge(f"送信データが大きすぎます。画像は{IMAGE_MAX_BYTES // (1024 * 1024)}MB以内にしてください。")


@router.post("", status_code=202, dependencies=[Depends(body_size_guard)])
async def create_test(data: MessageTestCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    test = await service.create_test(session, settings, user, data)
    return JSONResponse({"id": test.id, "status": test.status, "persona_ids": list(test.persona_ids),
                         "events_url": f"/api/message-tests/{test.id}/events"}, status_code=202)


@router.get("")
async def list_tests(user: CurrentUser, session: SessionDep, paging: PagingDep):
    return await service.list_tests(session, user, page=paging.page, per_page=paging.per_page)


@router.get("/{test_id}")
async def get_test(test_id: str, user: CurrentUser, session: SessionDep):
    return service.test_to_api(await service.get_test(session, user, test_id))


@router.post("/{test_id}/retry", status_code=202)
async def retry_test(test_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    test = await service.retry_test(session, settings, user, test_id)
    return JSONResponse({"id": test.id, "status": test.status, "events_url": f"/api/message-tests/{test.id}/events"},
                        status_code=202)


@router.delete("/{test_id}", status_code=204)
async def delete_test(test_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    await service.delete_test(session, settings, user, test_id)
    return Response(status_code=204)


def stored_state_events(test: MessageTest) -> list[tuple[str, dict]]:
    """Events describing a test whose job's events are gone."""
    events: list[tuple[str, dict]] = [("status", {"status": test.status})]
    if test.status == "failed":
        return [*events, ("error", test.error or {"code": "failed", "message": "メッセージテストに失敗しました。"})]
    if test.status == "done":
        return [*events, ("done", {"status": "done", "id": test.id})]
    return [*events, ("error", {"code": "job_missing", "message": "処理が見つかりません。もう一度テストしてください。"})]


@router.get("/{test_id}/events")
async def test_events(request: Request, test_id: str, user: CurrentUser, session: SessionDep,
                      after: int = Query(0, ge=0, le=2**62,
                                         description="Resume after this event id (or send Last-Event-ID).")):
    test = await service.get_test(session, user, test_id)
    after_id = max(after, parse_last_event_id(request.headers.get("last-event-id")))
    if not test.current_job_id:
        state = stored_state_events(test)
        await session.close()
        return StreamingResponse(static_event_stream(state), **SSE_RESPONSE_KWARGS)
    fallback = stored_state_events(test) if test.status in ("done", "failed") else None
    return StreamingResponse(job_event_stream(request.app, test.current_job_id, after_id=after_id, session=session,
                                              fallback=fallback), **SSE_RESPONSE_KWARGS)


@router.get("/{test_id}/chart.svg")
async def chart(test_id: str, user: CurrentUser, session: SessionDep):
    from medipersona.message_tests.chart import score_chart_svg
    from medipersona.message_tests.stats import compute_stats

    test = await service.get_test(session, user, test_id)
    stats = (test.summary or {}).get("stats") or compute_stats(list(test.results or []))
    return Response(score_chart_svg(stats), media_type="image/svg+xml; charset=utf-8",
                    headers={"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/{test_id}/image")
async def image(test_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    test = await service.get_test(session, user, test_id)
    path = service.image_file(settings, test)
    await session.close()
    if path is None or not await anyio.Path(path).is_file():
        raise NotFound("画像はありません。", code="image_not_found")
    return FileResponse(path, media_type=test.image_mime or "image/png",
                        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})


async def _finished(session, user, test_id: str) -> dict:
    test = await service.get_test(session, user, test_id)
    if test.status != "done":
        raise Conflict("メッセージテストが完了していないため、まだエクスポートできません。完了後にもう一度お試しください。",
                       code="test_not_ready")
    return service.test_to_api(test)


@router.get("/{test_id}/export.csv")
async def export_csv(test_id: str, user: CurrentUser, session: SessionDep) -> Response:
    from medipersona.exports.service import content_disposition
    from medipersona.message_tests.export import results_csv

    data = await _finished(session, user, test_id)
    return Response(results_csv(data), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition("メッセージテスト", "csv", "results"),
                             "Cache-Control": "private, no-store"})


async def _pdf_document(test_id: str, user, session, settings) -> dict:
    from datetime import datetime

    from medipersona.message_tests.export import build_test_document
    from medipersona.web.templating import local_time

    data = await _finished(session, user, test_id)
    return build_test_document(data, local_time(datetime.fromisoformat(data["created_at"])))


add_export_routes(router, "/{test_id}/export", load=_pdf_document, renderers={"pdf": render_test_pdf},
                  suffix="message_test", names={"pdf": "export_pdf"})
