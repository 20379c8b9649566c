"""Exports: ``GET /api/personas/{id}/export.pdf|.pptx`` and ``GET /api/competitors/{id}/export.pdf|.pptx``.

The handler reads the stored persona (and the keyword store) or the stored competitor analysis (async), then
renders in the export process pool. Only stored data is used; no URL is ever fetched.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Response

from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import Conflict
from medipersona.exports import pdf as pdf_export
from medipersona.exports import pptx as pptx_export
from medipersona.exports.pool import run_export
from medipersona.exports.service import build_document, content_disposition
from medipersona.ops.metrics import observe_export
from medipersona.personas.service import get_persona

log = logging.getLogger("medipersona.exports")

router = APIRouter(tags=["exports"])

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
RENDERERS = {"pdf": pdf_export.render_pdf, "pptx": pptx_export.render_pptx}
COMPETITOR_RENDERERS = {"pdf": pdf_export.render_competitors_pdf, "pptx": pptx_export.render_competitors_pptx}
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file (attachment)."},
    404: {"description": "No such persona, or not yours."},
    409: {"description": "The persona is not finished yet."},
    503: {"description": "Too many exports waiting."},
}


async def _export(kind: str, persona_id: str, user, session, settings) -> Response:
    persona = await get_persona(session, user, persona_id)  # 404 unless the owner or an admin
    if persona.status != "done":
        raise Conflict("ペルソナの生成が完了していないため、まだエクスポートできません。生成の完了後にもう一度お試しください。",
                       code="persona_not_ready")
    doc = await build_document(session, settings, persona)
    return await file_response(kind, RENDERERS[kind], doc, settings, suffix="persona")


async def file_response(kind: str, renderer, doc: dict, settings, *, suffix: str) -> Response:
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


@router.get("/api/personas/{persona_id}/export.pdf", responses=EXPORT_RESPONSES, response_class=Response)
async def export_pdf(persona_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    """The persona as an A4 landscape PDF (page 2: timeline chart and analysis when present)."""
    return await _export("pdf", persona_id, user, session, settings)


@router.get("/api/personas/{persona_id}/export.pptx", responses=EXPORT_RESPONSES, response_class=Response)
async def export_pptx(persona_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    """The persona as a two-slide PowerPoint file with the same content as the PDF."""
    return await _export("pptx", persona_id, user, session, settings)


COMPETITOR_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **EXPORT_RESPONSES,
    404: {"description": "No such analysis, or not yours."},
    409: {"description": "The analysis is not finished yet."},
}


async def _export_analysis(kind: str, analysis_id: str, user, session, settings) -> Response:
    from medipersona.competitors.service import analysis_to_api, get_analysis
    from medipersona.exports.competitors import build_competitor_document

    analysis = await get_analysis(session, user, analysis_id)  # 404 unless the owner or an admin
    if analysis.status != "done":
        raise Conflict("競合分析が完了していないため、まだエクスポートできません。分析の完了後にもう一度お試しください。",
                       code="analysis_not_ready")
    doc = build_competitor_document(analysis_to_api(analysis))
    await session.close()  # give the connection back while the pool renders
    return await file_response(kind, COMPETITOR_RENDERERS[kind], doc, settings, suffix="competitors")


@router.get("/api/competitors/{analysis_id}/export.pdf", responses=COMPETITOR_EXPORT_RESPONSES,
            response_class=Response)
async def export_analysis_pdf(analysis_id: str, user: CurrentUser, session: SessionDep,
                              settings: SettingsDep) -> Response:
    """The competitor analysis as an A4 landscape PDF (map and stats, competitor table, SWOT, strategies)."""
    return await _export_analysis("pdf", analysis_id, user, session, settings)


@router.get("/api/competitors/{analysis_id}/export.pptx", responses=COMPETITOR_EXPORT_RESPONSES,
            response_class=Response)
async def export_analysis_pptx(analysis_id: str, user: CurrentUser, session: SessionDep,
                               settings: SettingsDep) -> Response:
    """The competitor analysis as PowerPoint slides with the same content as the PDF."""
    return await _export_analysis("pptx", analysis_id, user, session, settings)
