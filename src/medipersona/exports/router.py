"""Exports: ``GET /api/personas/{id}/export.pdf|.pptx`` and ``GET /api/competitors/{id}/export.pdf|.pptx``.

The handler reads the stored persona (and the keyword store) or the stored competitor analysis (async), then
renders in the export process pool. Only stored data is used; no URL is ever fetched. The routes come from
``exports/routes.py`` (``add_export_routes``), like every other subject's export routes.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from medipersona.errors import Conflict
from medipersona.exports import pdf as pdf_export
from medipersona.exports import pptx as pptx_export
from medipersona.exports.routes import add_export_routes
from medipersona.exports.service import build_document
from medipersona.personas.service import get_persona

log = logging.getLogger("medipersona.exports")

router = APIRouter(tags=["exports"])

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file (attachment)."},
    404: {"description": "No such persona, or not yours."},
    409: {"description": "The persona is not finished yet."},
    503: {"description": "Too many exports waiting."},
}


async def _persona_document(persona_id: str, user, session, settings) -> dict:
    persona = await get_persona(session, user, persona_id)  # 404 unless the owner or an admin
    if persona.status != "done":
        raise Conflict("ペルソナの生成が完了していないため、まだエクスポートできません。生成の完了後にもう一度お試しください。",
                       code="persona_not_ready")
    return await build_document(session, settings, persona)


add_export_routes(
    router, "/api/personas/{persona_id}/export", load=_persona_document,
    renderers={"pdf": pdf_export.render_pdf, "pptx": pptx_export.render_pptx}, suffix="persona",
    names={"pdf": "export_pdf", "pptx": "export_pptx"},
    descriptions={"pdf": "The persona as an A4 landscape PDF (page 2: timeline chart and analysis when present).",
                  "pptx": "The persona as a two-slide PowerPoint file with the same content as the PDF."},
    responses=EXPORT_RESPONSES)


COMPETITOR_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **EXPORT_RESPONSES,
    404: {"description": "No such analysis, or not yours."},
    409: {"description": "The analysis is not finished yet."},
}


async def _analysis_document(analysis_id: str, user, session, settings) -> dict:
    from medipersona.competitors.service import analysis_to_api, get_analysis
    from medipersona.exports.competitors import build_competitor_document

    analysis = await get_analysis(session, user, analysis_id)  # 404 unless the owner or an admin
    if analysis.status != "done":
        raise Conflict("競合分析が完了していないため、まだエクスポートできません。分析の完了後にもう一度お試しください。",
                       code="analysis_not_ready")
    return build_competitor_document(analysis_to_api(analysis))


add_export_routes(
    router, "/api/competitors/{analysis_id}/export", load=_analysis_document,
    renderers={"pdf": pdf_export.render_competitors_pdf, "pptx": pptx_export.render_competitors_pptx},
    suffix="competitors", names={"pdf": "export_analysis_pdf", "pptx": "export_analysis_pptx"},
    descriptions={"pdf": "The competitor analysis as an A4 landscape PDF (map and stats, competitor table, SWOT, "
                         "strategies).",
                  "pptx": "The competitor analysis as PowerPoint slides with the same content as the PDF."},
    responses=COMPETITOR_EXPORT_RESPONSES)
