"""Competitor-analysis logic without HTTP: validate and create (a row + a durable job), read, list, delete.
Routers and pages call these."""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import User
from medipersona.catalog.service import get_catalog
from medipersona.competitors import usage
from medipersona.competitors.models import CompetitorAnalysis, new_analysis_id
from medipersona.competitors.schemas import AnalysisCreate
from medipersona.db import utcnow
from medipersona.errors import Conflict, Forbidden, InvalidInput, NotFound
from medipersona.jobs.dblock import write_lock
from medipersona.jobs.lifecycle import wake_local_runners
from medipersona.jobs.models import Job
from medipersona.jobs.service import commit_with_job, first_event, new_job
from medipersona.records import iso
from medipersona.settings import Settings

log = logging.getLogger("medipersona.competitors")

JOB_KIND = "competitor_analysis"
STATUS_LABELS = {"queued": "待機中", "running": "分析中", "done": "完了", "failed": "失敗"}
SOURCE_LABELS = {"places": "Google Places API", "list": "取り込んだ競合リスト"}
AREA_TYPE_LABELS = {"urban": "都市部", "suburban": "郊外", "rural": "地方"}
NOT_FOUND_MESSAGE = "競合分析が見つかりません。"


def _field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "in": "body", "message": message}


def prefecture_of(address: str | None) -> tuple[int, str] | None:
    """(JIS prefecture code 1-47, name) when the address starts with (or contains) a prefecture name."""
    if not address:
        return None
    text = unicodedata.normalize("NFKC", address).replace(" ", "").replace("\u3000", "")
    text = re.sub(r"^〒?\d{3}-?\d{4}", "", text)
    prefectures = get_catalog().prefectures
    for index, name in enumerate(prefectures, start=1):
        if text.startswith(name):
            return index, name
    for index, name in enumerate(prefectures, start=1):
        if name in text:
            return index, name
    return None


def resolve_source(settings: Settings, data: AnalysisCreate) -> str:
    return data.source or ("places" if settings.places_configured else "list")


def position_missing_message(settings: Settings) -> str:
    """What to do when the clinic has no position (also shown by the form's script, from the page)."""
    if settings.places_configured:
        return "住所を入力するか、地図をクリックして医院の位置を指定してください。"
    how = "地図をクリックして医院の位置を指定" if settings.map_tile_url else "緯度・経度を入力"
    return f"{how}してください（Google Places APIが未設定のため、住所から位置を求められません）。"


def missing_inputs(settings: Settings, *, source: str, has_coords: bool, address: str | None,
                   competitors_given: bool) -> list[dict[str, str]]:
    """What the request lacks (where the clinic is, the competitor list, a usable source). Works on the typed
    request and on a form that failed the schema, so a form reports every problem in one pass."""
    errors: list[dict[str, str]] = []
    if source == "places" and not settings.places_configured:
        errors.append(_field_error("source", "Google Places APIが設定されていないため利用できません。"
                                             "競合リスト（CSV/XLSX）を取り込んでください。"))
    if source == "list" and not competitors_given:
        errors.append(_field_error("competitors", "競合リスト（CSV・Excel）を選んで読み込んでください。"))
    if not has_coords:
        field = "clinic.address" if settings.places_configured else "clinic.lat"
        if not settings.places_configured or not address:
            errors.append(_field_error(field, position_missing_message(settings)))
    return errors


def form_problems(settings: Settings, body: dict[str, Any]) -> list[dict[str, str]]:
    """``missing_inputs`` for a raw request body (the form path, when the schema already refused it)."""
    raw_clinic = body.get("clinic")
    clinic: dict[str, Any] = raw_clinic if isinstance(raw_clinic, dict) else {}
    source = body.get("source") or ("places" if settings.places_configured else "list")
    return missing_inputs(settings, source=str(source), address=str(clinic.get("address") or "").strip() or None,
                          has_coords=bool(str(clinic.get("lat") or "").strip() and str(clinic.get("lng") or "").strip()),
                          competitors_given=body.get("competitors") is not None)


def validate_request(settings: Settings, user: User, data: AnalysisCreate) -> str:
    """Catalog ids, cross-field rules and the user's sections (403). Returns the source to use."""
    catalog = get_catalog()
    errors: list[dict[str, str]] = []
    departments = []
    for index, dep_id in enumerate(data.clinic.departments):
        dep = catalog.department(dep_id)
        if dep is None:
            errors.append(_field_error(f"clinic.departments.{index}", "診療科が見つかりません。一覧から選んでください。"))
        else:
            departments.append(dep)
    if len(set(data.clinic.departments)) != len(data.clinic.departments):
        errors.append(_field_error("clinic.departments", "同じ診療科が重複しています。"))
    source = resolve_source(settings, data)
    errors += missing_inputs(settings, source=source, address=data.clinic.address,
                             has_coords=data.clinic.lat is not None and data.clinic.lng is not None,
                             competitors_given=data.competitors is not None)
    if data.population is not None and data.population.area_code:
        pref = prefecture_of(data.clinic.address)
        code_pref = int(data.population.area_code[:2])
        if pref is not None and pref[0] != code_pref:
            errors.append(_field_error("population.area_code",
                                       f"市区町村コードの都道府県（{catalog.prefectures[code_pref - 1]}）が住所の都道府県"
                                       f"（{pref[1]}）と一致しません。"))
    if data.population is not None and data.population.age_bands is None and data.population.total is not None:
        errors.append(_field_error("population.age_bands", "需要推計には年齢別人口（0-14・15-64・65-74・75+）が必要です。"))
    if errors:
        raise InvalidInput(fields=errors)
    if any(dep.section not in (user.sections or []) for dep in departments):
        raise Forbidden("この診療科を利用する権限がありません。管理者に利用できる診療科の設定を依頼してください。",
                        code="section_forbidden")
    return source


async def create_analysis(session: AsyncSession, settings: Settings, user: User,
                          data: AnalysisCreate) -> CompetitorAnalysis:
    """Validate, store the analysis and its job (one commit) and wake the runner."""
    source = validate_request(settings, user, data)
    clinic = data.clinic.model_dump(mode="json")
    clinic["area_type"] = data.area_type
    request: dict[str, Any] = {
        "competitors": [c.model_dump(mode="json", exclude_none=True) for c in data.competitors or []],
        "population": (data.population.model_dump(mode="json", by_alias=True, exclude_none=True)
                       if data.population is not None else None),
        "area_type": data.area_type,
    }
    analysis = CompetitorAnalysis(
        id=new_analysis_id(), owner_id=user.id, status="queued", clinic=clinic, radius_km=int(data.radius_km),
        source=source, competitors=[], market={}, population={}, demand={}, swot={}, timings={},
        text_provider="", text_model="",
    )
    job = new_job(JOB_KIND, None, {"analysis_id": analysis.id, "request": request}, owner_id=user.id)
    analysis.current_job_id = job.id
    limit = await places_limit(session, source)
    await session.commit()  # end the read transaction before queueing for the writer
    async with write_lock(session.bind):
        if source == "places":
            await usage.reserve_analysis(session, user.id, limit)
        await commit_with_job(session, analysis, job)
    wake_local_runners(settings)
    return analysis


async def places_limit(session: AsyncSession, source: str) -> int:
    """The admin's daily limit of Places-backed analyses per user (read only for such an analysis)."""
    from medipersona.admin.service import daily_limit

    return await daily_limit(session, "places_analyses_per_day") if source == "places" else 0


async def retry_analysis(session: AsyncSession, settings: Settings, user: User,
                         analysis_id: str) -> CompetitorAnalysis:
    """Run a failed analysis again with the inputs it was created with (e.g. once the Places key is fixed).
    The failed job (and its events) is replaced by the new one in the same transaction: an analysis has one job."""
    analysis = await get_analysis(session, user, analysis_id)
    if analysis.status != "failed":
        raise Conflict("失敗した競合分析だけ再実行できます。", code="not_failed")
    previous = await session.get(Job, analysis.current_job_id) if analysis.current_job_id else None
    request = (previous.payload or {}).get("request") if previous is not None else None
    if not isinstance(request, dict):
        raise Conflict("元の入力が見つからないため再実行できません。新しい競合分析を作成してください。",
                       code="inputs_missing")
    assert previous is not None  # the request came from it
    if analysis.source == "places" and not settings.places_configured:
        raise Conflict("Google Places APIが設定されていないため再実行できません。競合リストを取り込んで新しい競合分析を"
                       "作成してください。", code="places_not_configured")
    job = new_job(JOB_KIND, None, {"analysis_id": analysis.id, "request": request}, owner_id=user.id)
    limit = await places_limit(session, analysis.source)
    await session.commit()  # end the read transaction before queueing for the writer
    async with write_lock(session.bind):
        if analysis.source == "places":  # a run again searches Places again: it counts
            await usage.reserve_analysis(session, user.id, limit)
        await session.execute(sa_delete(Job).where(Job.id == previous.id))
        analysis.status = "queued"
        analysis.error = None
        analysis.finished_at = None
        analysis.current_job_id = job.id
        analysis.competitors, analysis.market, analysis.population = [], {}, {}
        analysis.demand, analysis.swot, analysis.timings = {}, {}, {}
        analysis.updated_at = utcnow()
        session.add(analysis)
        session.add(job)
        await session.flush()
        session.add(first_event(job))
        await session.commit()
    wake_local_runners(settings)
    return analysis


# ------------------------------------------------------------------------------------------------ reading
async def get_analysis(session: AsyncSession, user: User, analysis_id: str) -> CompetitorAnalysis:
    """The analysis if the user owns it (admins: any); 404 otherwise (no existence leak)."""
    analysis = await session.get(CompetitorAnalysis, analysis_id) if len(analysis_id) <= 32 else None
    if analysis is None or (analysis.owner_id != user.id and not user.is_admin):
        raise NotFound(NOT_FOUND_MESSAGE, code="analysis_not_found")
    return analysis


def _departments(ids: list[str]) -> list[dict[str, str]]:
    catalog = get_catalog()
    out = []
    for dep_id in ids or []:
        dep = catalog.department(dep_id)
        out.append({"id": dep_id, "name": dep.name if dep else dep_id})
    return out


def analysis_to_api(analysis: CompetitorAnalysis) -> dict[str, Any]:
    """Everything about one analysis (competitors sorted by distance)."""
    clinic = dict(analysis.clinic or {})
    competitors = sorted(analysis.competitors or [], key=lambda c: c.get("distance_m", 0))
    return {
        "id": analysis.id,
        "status": analysis.status,
        "status_label": STATUS_LABELS.get(analysis.status, analysis.status),
        "owner_id": analysis.owner_id,
        "clinic": clinic,
        "departments": _departments(clinic.get("departments") or []),
        "radius_km": analysis.radius_km,
        "source": analysis.source,
        "source_label": SOURCE_LABELS.get(analysis.source, analysis.source),
        "area_type": clinic.get("area_type"),
        "competitors": competitors,
        "market": analysis.market or {},
        "population": analysis.population or {},
        "demand": analysis.demand or {},
        "swot": analysis.swot or {},
        "text_provider": analysis.text_provider,
        "text_model": analysis.text_model,
        "error": analysis.error,
        "timings": analysis.timings or {},
        "created_at": iso(analysis.created_at),
        "updated_at": iso(analysis.updated_at),
        "finished_at": iso(analysis.finished_at),
        "events_url": f"/api/competitors/{analysis.id}/events",
        "map_url": f"/api/competitors/{analysis.id}/map.svg",
    }


def analysis_summary(analysis: CompetitorAnalysis) -> dict[str, Any]:
    clinic = analysis.clinic or {}
    return {
        "id": analysis.id,
        "status": analysis.status,
        "status_label": STATUS_LABELS.get(analysis.status, analysis.status),
        "clinic_name": clinic.get("name", ""),
        "address": clinic.get("address"),
        "departments": _departments(clinic.get("departments") or []),
        "radius_km": analysis.radius_km,
        "source": analysis.source,
        "competitor_count": (analysis.market or {}).get("count"),
        "owner_id": analysis.owner_id,
        "created_at": iso(analysis.created_at),
        "finished_at": iso(analysis.finished_at),
    }


async def list_analyses(session: AsyncSession, user: User, *, status: str = "", page: int = 1,
                        per_page: int = 20) -> dict[str, Any]:
    """Own analyses, newest first (admins: everyone's), paginated like personas."""
    query = select(CompetitorAnalysis)
    if not user.is_admin:
        query = query.where(CompetitorAnalysis.owner_id == user.id)
    if status:
        query = query.where(CompetitorAnalysis.status == status)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = await session.scalars(query.order_by(CompetitorAnalysis.created_at.desc(), CompetitorAnalysis.id)
                                 .offset((page - 1) * per_page).limit(per_page))
    return {"items": [analysis_summary(a) for a in rows], "total": total, "page": page, "per_page": per_page,
            "pages": max(1, -(-total // per_page))}


async def delete_analysis(session: AsyncSession, user: User, analysis_id: str) -> None:
    """Delete the analysis and its job (events go with the job); a worker still running it loses its lease."""
    analysis = await get_analysis(session, user, analysis_id)
    job_id = analysis.current_job_id
    await session.commit()
    async with write_lock(session.bind):
        if job_id:
            await session.execute(sa_delete(Job).where(Job.id == job_id))
        await session.execute(sa_delete(CompetitorAnalysis).where(CompetitorAnalysis.id == analysis.id))
        await session.commit()
