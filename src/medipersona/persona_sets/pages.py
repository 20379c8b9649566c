"""Persona-set pages: ``/persona-sets`` (the sets, newest first) and ``/persona-sets/{id}`` (the members side by side
with a comparison table, exports), plus ``POST /persona-sets/new``: the wizard's 「まとめて作成する」 button
without JavaScript.

Server-rendered and complete without JavaScript (a running set refreshes itself); ``persona_set.js`` follows the
set's event stream and updates the cards and the table in place. All logic is in ``persona_sets/service.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from medipersona.accounts.models import User
from medipersona.catalog.labels import PERSONA_SECTIONS
from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import AppError
from medipersona.persona_sets import service
from medipersona.web.templating import local_time, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20


def _created(iso: str | None) -> str:
    return local_time(datetime.fromisoformat(iso)) if iso else ""


@router.get("/persona-sets")
async def sets_index(request: Request, user: CurrentUser, session: SessionDep, page: int = 1, message: str = ""):
    listing = await service.list_sets(session, user, page=max(1, min(page, 10_000)), per_page=PAGE_SIZE)
    owners: dict[int, str] = {}
    if user.is_admin and listing["items"]:
        ids = {i["owner_id"] for i in listing["items"]}
        owners = dict((await session.execute(select(User.id, User.username).where(User.id.in_(ids)))).all())
    items = [{**i, "created": _created(i["created_at"]), "owner": owners.get(i["owner_id"], "")}
             for i in listing["items"]]

    def page_link(n: int) -> str:
        return "/persona-sets?" + urlencode({"page": n})

    return render(request, "persona_sets/index.html", {
        "items": items, "total": listing["total"], "page": listing["page"], "pages": listing["pages"],
        "prev_link": page_link(page - 1) if page > 1 else "",
        "next_link": page_link(page + 1) if page < listing["pages"] else "",
        "message": {"deleted": "ペルソナセットを削除しました（ペルソナは履歴に残っています）。"}.get(message, ""),
    })


@router.get("/persona-sets/{set_id}")
async def set_page(request: Request, set_id: str, user: CurrentUser, session: SessionDep):
    persona_set = await service.get_set(session, user, set_id)
    data = service.set_to_api(persona_set, await service.members_of(session, persona_set))
    return render(request, "persona_sets/detail.html", {
        "s": data,
        "members": data["personas"],
        "comparison": data["comparison"],
        "sections": PERSONA_SECTIONS,
        "created": _created(data["created_at"]),
        "finished": data["status"] not in ("queued", "running"),
    })


@router.post("/persona-sets/{set_id}/delete")
async def delete_submit(set_id: str, user: CurrentUser, session: SessionDep):
    await service.delete_set(session, user, set_id)
    return RedirectResponse("/persona-sets?message=deleted", status_code=303)


def _set_body(form) -> dict[str, Any]:
    from medipersona.personas.wizard_pages import form_to_request

    body: dict[str, Any] = form_to_request(form)
    count = str(form.get("count") or "").strip()
    body["count"] = int(count) if count.isdigit() else count
    body["vary"] = str(form.get("vary") or "").strip() or "patient_type"
    return body


@router.post("/persona-sets/new")
async def wizard_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """The wizard posted with 「まとめて作成する」 (no JavaScript): create the set, or show the wizard again with
    the messages."""
    from pydantic import ValidationError

    from medipersona.persona_sets.schemas import PersonaSetCreate
    from medipersona.personas.wizard_pages import values_from_body, wizard_page
    from medipersona.web.validation import validation_error_body

    body = _set_body(await request.form())
    values = {**values_from_body(body), "set_count": body["count"], "set_vary": body["vary"]}
    try:
        persona_set = await service.create_set(session, settings, user, PersonaSetCreate.model_validate(body))
    except ValidationError as exc:
        err = validation_error_body(exc.errors())["error"]
        return wizard_page(request, user, section=None, values=values, errors=err["fields"],
                           error_message=err["message"], status_code=422)
    except AppError as exc:
        if exc.status_code in (401, 403) and exc.code in ("not_authenticated", "csrf_failed"):
            raise
        return wizard_page(request, user, section=None, values=values, errors=exc.fields,
                           error_message=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/persona-sets/{persona_set.id}", status_code=303)

