"""What the keyword API (``keywords/router.py``) and a persona's chart (``personas/timeline_router.py``) share:
the scope check, the timeline of a department / 主訴 and its SVG chart. Routers import this, never each other."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi.responses import Response

from medipersona.catalog.service import Department, get_catalog
from medipersona.errors import Forbidden, NotFound
from medipersona.keywords import store


def resolve_scope(user, department: str, chief_complaint: str | None) -> tuple[Department, Any]:
    """Catalog ids → objects; 404 for unknown ids, 403 for a department outside the user's sections."""
    catalog = get_catalog()
    dep = catalog.department(department)
    if dep is None:
        raise NotFound(f"診療科「{department}」が見つかりません。/api/catalog の id を指定してください。",
                       code="department_not_found")
    if dep.section not in user.sections:
        raise Forbidden("この診療科を利用する権限がありません。", code="section_forbidden")
    cc = None
    if chief_complaint:
        cc = catalog.chief_complaint(chief_complaint)
        if cc is None or cc.department_id != dep.id:
            raise NotFound(f"主訴「{chief_complaint}」は診療科「{dep.name}」にありません。",
                           code="chief_complaint_not_found")
    return dep, cc


async def timeline_result(session, dep, cc, gender, age, max_points) -> dict[str, Any]:
    """The store's (cached) timeline of the department / 主訴; 404 when no keyword data covers it."""
    result = await store.timeline(session, dep.id, cc.id if cc else None, gender=gender, age=age,
                                  max_points=max_points)
    if result is None:
        raise NotFound(f"「{dep.name}{' / ' + cc.name if cc else ''}」のキーワードデータがありません。"
                       "管理画面の「キーワードデータ」から取り込んでください。", code="keyword_data_not_found")
    return result


async def timeline_payload(session, dep, cc, gender, age, max_points) -> dict[str, Any]:
    result = await timeline_result(session, dep, cc, gender, age, max_points)
    return {
        "department": {"id": dep.id, "name": dep.name},
        "chief_complaint": {"id": cc.id, "name": cc.name} if cc else None,
        **result,
    }


def chart_title(dep, cc) -> str:
    return f"検索タイムライン: {dep.name}{' / ' + cc.name if cc else ''}"


async def svg_response(series: list[dict], title: str, width: int, height: int) -> Response:
    """The chart drawn off the event loop, as a privately cacheable SVG response."""
    from medipersona.keywords.chart import build_chart_layout
    from medipersona.keywords.chart_render import render_svg

    def draw() -> str:
        return render_svg(build_chart_layout(series, width, height), title=title)

    svg = await anyio.to_thread.run_sync(draw)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})
