"""Japanese persona pages: the history and the live result page, and the display helpers they share.

The 6-step wizard (new persona form) lives in ``personas/wizard_pages.py``; it uses ``load_persona`` and
``int_or_none`` from here. Everything is server-rendered and works without JavaScript; ``persona.js``,
``history.js`` and ``timeline.js`` enhance it (streaming over SSE, in-place edits). The JSON API
(``personas/router.py``) does the work; these handlers read personas for display and delegate every change to
``personas/service.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from medipersona.accounts.models import User
from medipersona.catalog.labels import (
    EXTRA_FIELDS,
    GENDERS,
    INCOME_BANDS,
    PERSONA_SECTIONS,
    PROFILE_FIELDS,
    SETTING_TYPES,
    age_label,
)
from medipersona.catalog.service import get_catalog
from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import NotFound
from medipersona.personas.models import Persona, persona_tags
from medipersona.personas.schemas import NOTE_MAX, TAG_MAX, TAGS_MAX
from medipersona.personas.search import AGE_BAND_LABELS, PageHistoryFiltersDep, filter_personas
from medipersona.web.templating import local_time, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
STATUS_LABELS = {"queued": "待機中", "running": "生成中", "done": "完了", "failed": "失敗"}
OFFLINE_LABEL = "オフライン生成（AI未使用）"


# --------------------------------------------------------------------------------------------------------------
# helpers


async def load_persona(session, user: User, persona_id: str) -> Persona:
    """The persona if the user may see it (own, or any for admins); 404 otherwise (no existence leak)."""
    persona = await session.get(Persona, persona_id) if len(persona_id) <= 32 else None
    if persona is None or (persona.owner_id != user.id and not user.is_admin):
        raise NotFound("ペルソナが見つかりません。削除されたか、閲覧する権限がありません。")
    return persona


def _catalog_names(persona: Persona) -> dict[str, str]:
    catalog = get_catalog()
    dep = catalog.department(persona.department_id)
    comp = catalog.chief_complaint(persona.chief_complaint_id)
    purpose = catalog.purpose(persona.purpose_id)
    ptype = catalog.patient_type(persona.patient_type_id) if persona.patient_type_id else None
    return {
        "department": dep.name if dep else persona.department_id,
        "chief_complaint": comp.name if comp else persona.chief_complaint_id,
        "purpose": purpose.name if purpose else persona.purpose_id,
        "setting_type": SETTING_TYPES.get(persona.setting_type, persona.setting_type),
        "patient_type": ptype.name if ptype else "",
    }


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def profile_display(profile: dict[str, Any]) -> list[dict[str, str]]:
    """The profile as label/value rows, codes turned into labels (45歳, 女性, 年収500〜600万円)."""
    rows = []
    for f in PROFILE_FIELDS:
        raw = profile.get(f.key)
        if f.key == "gender":
            value = GENDERS.get(raw or "", raw or "")
        elif f.key == "age":
            years = int_or_none(raw)
            value = age_label(years, int_or_none(profile.get("age_months")) or 0) if years is not None else ""
        elif f.key == "income":
            value = INCOME_BANDS.get(raw or "", raw or "")
        else:
            value = "" if raw is None else str(raw)
        rows.append({"key": f.key, "label": f.label, "value": value, "raw": "" if raw is None else str(raw)})
    return rows


def extras_display(extras: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": f.key, "label": f.label, "value": str(extras.get(f.key) or "")} for f in EXTRA_FIELDS]


def _analysis_headings() -> tuple[tuple[str, str], ...]:
    from medipersona.keywords.analysis import ANALYSIS_HEADINGS

    return ANALYSIS_HEADINGS


def _image_url(persona: Persona) -> str:
    from medipersona.personas.representation import image_url

    return image_url(persona) or ""


def is_offline(persona: Persona) -> bool:
    """Offline output (composed locally, no AI model): the offline provider or one flagged ``is_offline``."""
    text_meta = (persona.timings or {}).get("text") or {}
    return persona.text_provider == "offline" or bool(text_meta.get("is_offline"))


# --------------------------------------------------------------------------------------------------------------
# history


@router.get("/personas")
async def history(request: Request, user: CurrentUser, session: SessionDep, filters: PageHistoryFiltersDep,
                  owner: str = "", page: int = 1, message: str = ""):
    catalog = get_catalog()
    page = max(1, min(page, 10_000))
    query = select(Persona, User.username).join(User, User.id == Persona.owner_id)
    owner = owner.strip()[:64] if user.is_admin else ""
    if owner:
        query = query.where(User.username == owner)
    query = filter_personas(query, user, filters)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = (
        await session.execute(
            query.order_by(Persona.created_at.desc(), Persona.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )
    ).all()
    items = [history_item(persona, username) for persona, username in rows]
    departments = catalog.departments if user.is_admin else catalog.departments_in(user.sections)
    active_filters = {**filters.active(), **({"owner": owner} if owner else {})}
    pages = max(1, -(-total // PAGE_SIZE))

    def page_link(n: int) -> str:
        return "/personas?" + urlencode({**active_filters, "page": n})

    return render(
        request,
        "personas/history.html",
        {
            "items": items,
            "total": total,
            "filters": {**filters.form_values(), "owner": owner},
            "filtered": bool(active_filters),
            "narrowed": bool(set(active_filters) - {"q"}),
            "departments": departments,
            "genders": GENDERS,
            "age_bands": AGE_BAND_LABELS,
            "patient_types": catalog.patient_types,
            "page": page,
            "pages": pages,
            "prev_link": page_link(page - 1) if page > 1 else "",
            "next_link": page_link(page + 1) if page < pages else "",
            "message": {"deleted": "ペルソナを削除しました。", "duplicated": "ペルソナを複製しました。"}.get(message, ""),
            "return_to": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        },
    )


def history_item(persona: Persona, owner: str) -> dict[str, Any]:
    """One card of the history: who the persona is (sex, age, patient type) at a glance, tags and note."""
    profile = persona.profile or {}
    months = int_or_none(profile.get("age_months")) or 0
    return {
        "id": persona.id,
        "name": persona.name,
        "status": persona.status,
        "status_label": STATUS_LABELS.get(persona.status, persona.status),
        "created": local_time(persona.created_at),
        "owner": owner,
        "offline": is_offline(persona),
        "image_url": _image_url(persona),
        "gender": GENDERS.get(persona.gender, ""),
        "age": age_label(persona.age, months) if persona.age is not None else "",
        "tags": persona_tags(persona),
        "note": persona.note or "",
        **_catalog_names(persona),
    }


def _safe_return(target: str | None) -> str:
    if target and target.startswith("/personas") and not target.startswith("//"):
        return target
    return "/personas"


@router.post("/personas/{persona_id}/delete")
async def delete_submit(request: Request, persona_id: str, user: CurrentUser, session: SessionDep,
                        settings: SettingsDep):
    from medipersona.personas import service

    persona = await load_persona(session, user, persona_id)
    form = await request.form()
    if form.get("confirmed") != "1":
        # Without JavaScript there was no confirm() dialog: ask on a page of its own.
        return render(request, "personas/confirm_delete.html", {
            "p": persona, "names": _catalog_names(persona), "created": local_time(persona.created_at),
            "return_to": _safe_return(str(form.get("return_to") or "")),
        })
    await service.delete_persona(session, settings, user, persona.id, db=request.app.state.db)
    target = _safe_return(str(form.get("return_to") or ""))
    if target.startswith(f"/personas/{persona_id}"):
        target = "/personas"
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}message=deleted", status_code=303)


@router.post("/personas/{persona_id}/duplicate")
async def duplicate_submit(persona_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    from medipersona.personas import service

    persona = await load_persona(session, user, persona_id)
    copy = await service.duplicate_persona(session, settings, user, persona.id)
    return RedirectResponse(f"/personas/{copy.id}?message=duplicated", status_code=303)


# --------------------------------------------------------------------------------------------------------------
# result page


@router.get("/personas/{persona_id}")
async def persona_page(request: Request, persona_id: str, user: CurrentUser, session: SessionDep,
                       message: str = ""):
    from medipersona.interviews.service import list_for_persona
    from medipersona.personas.prompt import guardian_labels
    from medipersona.personas.representation import profile_warnings

    persona = await load_persona(session, user, persona_id)
    owner = await session.get(User, persona.owner_id) if persona.owner_id != user.id else None
    interviews = await list_for_persona(session, user, persona.id)
    sections = persona.sections or {}
    profile = persona.profile or {}
    return render(
        request,
        "personas/detail.html",
        {
            "p": persona,
            "names": _catalog_names(persona),
            "owner": owner,
            "status_label": STATUS_LABELS.get(persona.status, persona.status),
            "offline": is_offline(persona),
            "offline_label": OFFLINE_LABEL,
            "profile_rows": profile_display(profile),
            "guardian_rows": [{"label": k, "value": v} for k, v in guardian_labels(profile).items()],
            "demographics_label": str((profile.get("demographics") or {}).get("label") or ""),
            "profile_warnings": profile_warnings(persona),
            "profile": profile,
            "extras_rows": extras_display(persona.extras or {}),
            "extra_fields": persona.extra_fields or [],
            "sections": [
                {"key": s.key, "label": s.label, "target": s.default_length, "text": sections.get(s.key) or ""}
                for s in PERSONA_SECTIONS
            ],
            "image_url": _image_url(persona),
            "created": local_time(persona.created_at),
            "genders": GENDERS,
            "income_bands": INCOME_BANDS,
            "prefectures": get_catalog().prefectures,
            "ages": range(101),
            "months": range(12),
            "error": persona.error or {},
            "message": {"duplicated": "ペルソナを複製しました。",
                        "interview_deleted": "インタビューを削除しました。"}.get(message, ""),
            "interviews": [{**i, "updated": local_time(datetime.fromisoformat(i["updated_at"]))} for i in interviews],
            "timeline_analysis": persona.timeline_analysis or {},
            "analysis_headings": _analysis_headings(),
            "keywords_used": [k for k in (persona.keywords_used or []) if isinstance(k, dict) and k.get("keyword")],
            "tags": persona_tags(persona),
            "stale_sections": list(persona.stale_sections or []),
            "tags_max": TAGS_MAX,
            "tag_max": TAG_MAX,
            "note_max": NOTE_MAX,
        },
    )
