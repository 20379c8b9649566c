"""Japanese persona pages: the 6-step wizard, the live result page and the history.

Everything here is server-rendered and works without JavaScript; ``wizard.js``, ``persona.js``, ``history.js`` and
``timeline.js`` enhance it (steps, streaming over SSE, in-place edits). The JSON API (``personas/router.py``) does
the work; these handlers read personas for display and delegate every change to ``personas/service.py``.
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
from medipersona.catalog.router import catalog_payload
from medipersona.catalog.service import get_catalog
from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import AppError, NotFound
from medipersona.personas.models import Persona, persona_tags
from medipersona.personas.schemas import NOTE_MAX, TAG_MAX, TAGS_MAX
from medipersona.personas.search import AGE_BAND_LABELS, PageHistoryFiltersDep, filter_personas
from medipersona.web.templating import local_time, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
STATUS_LABELS = {"queued": "待機中", "running": "生成中", "done": "完了", "failed": "失敗"}
OFFLINE_LABEL = "オフライン生成（AI未使用）"
MAX_EXTRA_ROWS = 20
WIZARD_STEPS = ("診療科", "主訴", "作成目的", "ペルソナの項目", "追加項目", "確認")


# --------------------------------------------------------------------------------------------------------------
# helpers


async def _load_persona(session, user: User, persona_id: str) -> Persona:
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


def _int_or_none(value: Any) -> int | None:
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
            years = _int_or_none(raw)
            value = age_label(years, _int_or_none(profile.get("age_months")) or 0) if years is not None else ""
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
    from medipersona.personas.service import image_url

    return image_url(persona) or ""


def is_offline(persona: Persona) -> bool:
    """Offline output (composed locally, no AI model): the offline provider or one flagged ``is_offline``."""
    text_meta = (persona.timings or {}).get("text") or {}
    return persona.text_provider == "offline" or bool(text_meta.get("is_offline"))


# --------------------------------------------------------------------------------------------------------------
# wizard


def _wizard_values(persona: Persona | None) -> dict[str, Any]:
    """Initial form values: empty, or the inputs of a persona being edited (as the user sent them)."""
    values: dict[str, Any] = {"profile": {}, "extras": {}, "extra_fields": []}
    if persona is None:
        return values
    req = persona.request or {}
    values.update(
        department=req.get("department") or persona.department_id,
        chief_complaint=req.get("chief_complaint") or persona.chief_complaint_id,
        purpose=req.get("purpose") or persona.purpose_id,
        setting_type=req.get("setting_type") or persona.setting_type,
        patient_type=req.get("patient_type") or persona.patient_type_id or "",
    )
    profile = dict(req.get("profile") or {})
    values["profile"] = {k: ("" if v is None else v) for k, v in profile.items()}
    values["extras"] = {k: ("" if v is None else v) for k, v in (req.get("extras") or {}).items()}
    values["extra_fields"] = [
        {"name": str(r.get("name", "")), "value": str(r.get("value", ""))}
        for r in (req.get("extra_fields") or []) if isinstance(r, dict)
    ]
    return values


def wizard_page(request: Request, user: User, *, section: str | None, values: dict[str, Any],
                 source: Persona | None = None, errors: list[dict[str, str]] | None = None,
                 error_message: str = "", status_code: int = 200):
    catalog = get_catalog()
    user_sections = [s for s in catalog.sections if s.id in user.sections]
    active = section if section in {s.id for s in user_sections} else None
    payload = catalog_payload([active] if active else list(user.sections), with_data=True)
    departments = payload["departments"]
    groups = [
        {"id": s.id, "name": s.name, "departments": [d for d in departments if d["section"] == s.id]}
        for s in user_sections
    ]
    groups = [g for g in groups if g["departments"]]
    field_errors = {e.get("field", ""): e.get("message", "") for e in (errors or [])}
    extra_rows = list(values.get("extra_fields") or [])
    from medipersona.persona_sets.schemas import wizard_choices  # the confirm step's 「まとめて作成」

    while len(extra_rows) < 2:
        extra_rows.append({"name": "", "value": ""})
    return render(
        request,
        "personas/wizard.html",
        {
            "catalog": payload,
            "groups": groups,
            "user_sections": user_sections,
            "active_section": active,
            "steps": WIZARD_STEPS,
            "values": values,
            "extra_rows": extra_rows,
            "source": source,
            "field_errors": field_errors,
            "error_message": error_message,
            "max_extra_rows": MAX_EXTRA_ROWS,
            "ages": range(101),
            "months": range(12),
            "set_choices": wizard_choices(),
        },
        status_code=status_code,
    )


@router.get("/personas/new")
async def wizard(request: Request, user: CurrentUser, session: SessionDep, section: str | None = None,
                 source: str | None = None):
    """The wizard; ``?source=<id>`` prefills it from a persona ("back to edit"), ``?section=`` filters."""
    persona = await _load_persona(session, user, source) if source else None
    return wizard_page(request, user, section=section, values=_wizard_values(persona), source=persona)


def form_to_request(form) -> dict[str, Any]:
    """The wizard's form fields as the JSON body of ``POST /api/personas`` (the no-JavaScript path).

    ``static/js/wizard/request.js`` builds the same body in the browser; keep the two in step.
    """
    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    body: dict[str, Any] = {
        "department": text("department"),
        "chief_complaint": text("chief_complaint"),
        "purpose": text("purpose"),
        "setting_type": text("setting_type") or "auto",
    }
    if body["setting_type"] == "patient_type" and text("patient_type"):
        body["patient_type"] = text("patient_type")
    if body["setting_type"] == "input":
        profile: dict[str, Any] = {}
        for f in PROFILE_FIELDS:
            if f.key == "age":
                continue
            if value := text(f"profile.{f.key}"):
                profile[f.key] = value
        years = text("profile.age")
        if years != "":
            profile["age"] = _int_or_none(years) if _int_or_none(years) is not None else years
            months = _int_or_none(text("profile.age_months"))
            if months:
                profile["age_months"] = months
        if profile:
            body["profile"] = profile
    extras = {f.key: text(f"extras.{f.key}") for f in EXTRA_FIELDS if text(f"extras.{f.key}")}
    if extras:
        body["extras"] = extras
    names = form.getlist("extra_name")
    vals = form.getlist("extra_value")
    rows = []
    for n, v in zip(names, vals, strict=False):
        n, v = str(n).strip(), str(v).strip()
        if n or v:
            rows.append({"name": n, "value": v})
    if rows:
        body["extra_fields"] = rows
    return body


def values_from_body(body: dict[str, Any]) -> dict[str, Any]:
    values = {k: body.get(k, "") for k in ("department", "chief_complaint", "purpose", "setting_type",
                                              "patient_type")}
    values["profile"] = dict(body.get("profile") or {})
    values["extras"] = dict(body.get("extras") or {})
    values["extra_fields"] = list(body.get("extra_fields") or [])
    return values


@router.post("/personas/new")
async def wizard_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """No-JavaScript submit: validate through the API's schema and service, then go to the result page."""
    from pydantic import ValidationError

    from medipersona.personas import schemas, service
    from medipersona.web.validation import validation_error_body

    form = await request.form()
    body = form_to_request(form)
    try:
        data = schemas.PersonaCreate.model_validate(body)
        persona = await service.create_persona(session, settings, user, data)
    except ValidationError as exc:
        err = validation_error_body(exc.errors())["error"]
        return wizard_page(request, user, section=None, values=values_from_body(body), errors=err["fields"],
                            error_message=err["message"], status_code=422)
    except AppError as exc:
        if exc.status_code in (401, 403) and exc.code in ("not_authenticated", "csrf_failed"):
            raise
        return wizard_page(request, user, section=None, values=values_from_body(body), errors=exc.fields,
                            error_message=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/personas/{persona.id}", status_code=303)


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
    months = _int_or_none(profile.get("age_months")) or 0
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

    persona = await _load_persona(session, user, persona_id)
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

    persona = await _load_persona(session, user, persona_id)
    copy = await service.duplicate_persona(session, settings, user, persona.id)
    return RedirectResponse(f"/personas/{copy.id}?message=duplicated", status_code=303)


# --------------------------------------------------------------------------------------------------------------
# result page


@router.get("/personas/{persona_id}")
async def persona_page(request: Request, persona_id: str, user: CurrentUser, session: SessionDep,
                       message: str = ""):
    from medipersona.interviews.service import list_for_persona
    from medipersona.personas.prompt import guardian_labels
    from medipersona.personas.service import profile_warnings

    persona = await _load_persona(session, user, persona_id)
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
