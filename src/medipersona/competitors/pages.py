"""Competitor-analysis pages: ``/competitors`` (the "新しい競合分析" form and the history) and ``/competitors/{id}``
(the result: map, table, market, population, demand, SWOT and strategies, exports).

Server-rendered and usable without JavaScript (the form posts multipart to ``/competitors``, with the competitor
list as a file); ``competitors.js`` enhances it (file import preview through ``/api/competitors/import``, JSON
submit, live progress and SWOT streaming over SSE). All logic is in ``competitors/service.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import (
    UploadFile,  # what request.form() holds (fastapi.UploadFile subclasses it)
)

from medipersona.accounts.models import User
from medipersona.catalog.service import get_catalog
from medipersona.competitors import display
from medipersona.competitors.labels import ANALYSIS_STEPS, RADIUS_CHOICES, STRATEGY_SECTIONS, SWOT_SECTIONS
from medipersona.competitors.schemas import AGE_BANDS
from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import AppError
from medipersona.web.templating import local_time, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
CLINIC_FIELDS = ("name", "postal_code", "address", "lat", "lng", "strengths", "target")


def map_tiles(settings) -> dict[str, str]:
    """The basemap the page's Leaflet maps use (url '' = none: the SVG diagram, coordinates typed)."""
    return {"url": settings.map_tile_url, "attribution": settings.map_tile_attribution,
            "attribution_url": settings.map_tile_attribution_url}


def _departments_for(user: User) -> list[dict[str, Any]]:
    """The catalog's departments the user may use, grouped by section (labels from the catalog only)."""
    catalog = get_catalog()
    groups = []
    for section in catalog.sections:
        if section.id not in (user.sections or []):
            continue
        deps = [{"id": d.id, "name": d.name} for d in catalog.departments if d.section == section.id]
        if deps:
            groups.append({"id": section.id, "name": section.name, "departments": deps})
    return groups


def _history_item(summary: dict[str, Any], usernames: dict[int, str]) -> dict[str, Any]:
    from datetime import datetime

    created = summary.get("created_at")
    return {**summary,
            "created": local_time(datetime.fromisoformat(created)) if created else "",
            "department_names": "、".join(d["name"] for d in summary.get("departments") or []),
            "owner": usernames.get(int(summary.get("owner_id") or 0), "")}


async def _index_page(request: Request, user: User, session, settings, *, values: dict[str, Any] | None = None,
                      errors: list[dict[str, str]] | None = None, error_message: str = "", page: int = 1,
                      message: str = "", status_code: int = 200):
    from sqlalchemy import select

    from medipersona.competitors import service

    listing = await service.list_analyses(session, user, page=max(1, min(page, 10_000)), per_page=PAGE_SIZE)
    usernames: dict[int, str] = {}
    if user.is_admin and listing["items"]:
        ids = {i["owner_id"] for i in listing["items"]}
        usernames = dict((await session.execute(select(User.id, User.username).where(User.id.in_(ids)))).all())
    values = values or {}
    return render(request, "competitors/index.html", {
        "groups": _departments_for(user),
        "radius_choices": RADIUS_CHOICES,
        "area_types": service.AREA_TYPE_LABELS,
        "age_bands": AGE_BANDS,
        "age_band_labels": display.AGE_BAND_LABELS,
        "places_configured": settings.places_configured,
        "position_message": service.position_missing_message(settings),
        "tiles": map_tiles(settings),
        "values": values,
        "clinic": values.get("clinic") or {},
        "selected_departments": set((values.get("clinic") or {}).get("departments") or []),
        "field_errors": {e.get("field", ""): e.get("message", "") for e in (errors or [])},
        "error_message": error_message,
        "items": [_history_item(i, usernames) for i in listing["items"]],
        "total": listing["total"],
        "page": listing["page"],
        "pages": listing["pages"],
        "message": {"deleted": "競合分析を削除しました。"}.get(message, ""),
    }, status_code=status_code)


@router.get("/competitors")
async def index(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, page: int = 1,
                message: str = ""):
    return await _index_page(request, user, session, settings, page=page, message=message)


def form_to_request(form) -> dict[str, Any]:
    """The form's fields as the JSON body of ``POST /api/competitors`` (the no-JavaScript path; ``competitors.js``
    builds the same body in the browser)."""
    def val(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    clinic: dict[str, Any] = {"name": val("clinic.name"),
                              "departments": [str(d) for d in form.getlist("clinic.departments")]}
    for key in CLINIC_FIELDS[1:]:
        if value := val(f"clinic.{key}"):
            clinic[key] = value
    radius = val("radius_km")
    body: dict[str, Any] = {"clinic": clinic, "radius_km": int(radius) if radius.isdigit() else (radius or 3)}
    if source := val("source"):
        body["source"] = source
    if area_type := val("area_type"):
        body["area_type"] = area_type
    population: dict[str, Any] = {}
    for key in ("area_code", "area_name", "total"):
        if value := val(f"population.{key}"):
            population[key] = value
    bands = {band: val(f"population.{band}") for band in AGE_BANDS}
    if any(bands.values()):
        population["age_bands"] = bands
    if population:
        body["population"] = population
    return body


def _merge_errors(*groups: list[dict[str, str]]) -> list[dict[str, str]]:
    """Field errors of several checks, one per field (the first check's message wins); the list file's own error
    stands for the missing-list one."""
    merged: dict[str, dict[str, str]] = {}
    for error in (e for group in groups for e in group):
        merged.setdefault(str(error.get("field", "")), error)
    if "competitors_file" in merged:
        merged.pop("competitors", None)
    return list(merged.values())


@router.post("/competitors")
async def submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """No-JavaScript submit: the competitor list comes as a file; validate through the API's schema and service."""
    from pydantic import ValidationError

    from medipersona.competitors import schemas, service
    from medipersona.web.validation import validation_error_body

    form = await request.form()
    body = form_to_request(form)
    errors: list[dict[str, str]] = []
    upload = form.get("competitors_file")
    if isinstance(upload, UploadFile) and upload.filename:
        from medipersona.competitors.importer import (
            MAX_FILE_BYTES,
            TOO_LARGE_MESSAGE,
            ImportResult,
            parse_upload,
        )

        raw = await upload.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            errors.append({"field": "competitors_file", "message": TOO_LARGE_MESSAGE})
        else:
            from medipersona.uploads import UploadLimitExceeded

            try:
                result = await parse_upload(upload.filename, raw, "competitors")
            except UploadLimitExceeded as exc:
                result = ImportResult(kind="competitors", fatal=exc.message)
            if result.rows:
                body["competitors"] = result.rows
            else:
                errors.append({"field": "competitors_file",
                               "message": result.fatal or "取り込めるデータがありませんでした。"})
    # Every problem at once: the file's, the schema's, and what is missing that the schema cannot check.
    try:
        data = schemas.AnalysisCreate.model_validate(body)
    except ValidationError as exc:
        err = validation_error_body(exc.errors())["error"]
        return await _index_page(request, user, session, settings, values=body,
                                 errors=_merge_errors(errors, err["fields"], service.form_problems(settings, body)),
                                 error_message=err["message"], status_code=422)
    if errors:
        return await _index_page(request, user, session, settings, values=body,
                                 errors=_merge_errors(errors, service.form_problems(settings, body)),
                                 error_message="入力内容を確認してください。", status_code=422)
    try:
        analysis = await service.create_analysis(session, settings, user, data)
    except AppError as exc:
        if exc.status_code in (401, 403) and exc.code in ("not_authenticated", "csrf_failed"):
            raise
        return await _index_page(request, user, session, settings, values=body, errors=exc.fields,
                                 error_message=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/competitors/{analysis.id}", status_code=303)


@router.post("/competitors/{analysis_id}/delete")
async def delete_submit(analysis_id: str, user: CurrentUser, session: SessionDep):
    from medipersona.competitors import service

    await service.delete_analysis(session, user, analysis_id)
    return RedirectResponse("/competitors?message=deleted", status_code=303)


@router.post("/competitors/{analysis_id}/retry")
async def retry_submit(analysis_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    from medipersona.competitors import service

    await service.retry_analysis(session, settings, user, analysis_id)
    return RedirectResponse(f"/competitors/{analysis_id}", status_code=303)


@router.get("/competitors/{analysis_id}")
async def result_page(request: Request, analysis_id: str, user: CurrentUser, session: SessionDep,
                      settings: SettingsDep):
    from medipersona.competitors import service

    analysis = service.analysis_to_api(await service.get_analysis(session, user, analysis_id))
    step_done = {
        "competitors": bool(analysis["market"]) or analysis["status"] == "done",
        "market": bool(analysis["market"]),
        "population": bool(analysis["population"]),
        "demand": bool(analysis["demand"]),
        "swot": analysis["status"] == "done",
    }
    return render(request, "competitors/detail.html", {
        "a": analysis,
        "clinic_name": (analysis["clinic"] or {}).get("name") or "競合分析",
        "created": local_time(_parse_iso(analysis["created_at"])),
        "clinic_rows": display.clinic_rows(analysis),
        "competitors": display.competitor_rows(analysis),
        "market_rows": display.market_rows(analysis),
        "band_rows": display.band_rows(analysis),
        "term_rows": display.term_rows(analysis),
        "tiles": map_tiles(settings),
        "population_rows": display.population_rows(analysis),
        "demand_rows": display.demand_rows(analysis),
        "demand_method": display.demand_method(analysis),
        "swot": display.swot_item_blocks(analysis),
        "strategies": display.strategy_item_blocks(analysis),
        "steps": [{"key": k, "label": label, "done": step_done.get(k, False)} for k, label in ANALYSIS_STEPS],
        "swot_sections": SWOT_SECTIONS,
        "strategy_sections": STRATEGY_SECTIONS,
        "error": analysis["error"] or {},
    })


def _parse_iso(value: str | None):
    from datetime import datetime

    return datetime.fromisoformat(value) if value else None
