"""The new-persona wizard: the 6-step form page and its no-JavaScript submit.

Apart from ``pages.py`` (history, result page) because the form is shared: ``persona_sets/pages.py`` renders the
same page and reads the same fields for 「まとめて作成」. ``wizard.js`` enhances it (steps);
``static/js/wizard/request.js`` builds in the browser the body ``form_to_request`` builds here.
``app.py`` includes this router before ``pages.router``, so ``/personas/new`` is matched before
``/personas/{persona_id}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from medipersona.accounts.models import User
from medipersona.catalog.labels import EXTRA_FIELDS, PROFILE_FIELDS
from medipersona.catalog.router import catalog_payload
from medipersona.catalog.service import get_catalog
from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import AppError
from medipersona.personas.models import Persona
from medipersona.personas.pages import int_or_none, load_persona
from medipersona.web.templating import render

router = APIRouter(include_in_schema=False)

MAX_EXTRA_ROWS = 20
WIZARD_STEPS = ("診療科", "主訴", "作成目的", "ペルソナの項目", "追加項目", "確認")


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
    persona = await load_persona(session, user, source) if source else None
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
            profile["age"] = int_or_none(years) if int_or_none(years) is not None else years
            months = int_or_none(text("profile.age_months"))
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
