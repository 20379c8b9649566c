"""Message-test pages: ``/message-tests`` (the form: who reads — a persona set or chosen personas —, the kind of
copy, the text, a leaflet image when the provider reads images; and the tests so far) and ``/message-tests/{id}``
(reactions, chart, numbers, the summary, exports).

Server-rendered; the form posts multipart without JavaScript. ``message_test.js`` sends it as JSON and follows the
test's event stream (reactions and the summary appear as they come). All logic is in ``message_tests/service.py``.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from starlette.datastructures import (
    UploadFile,  # what request.form() holds (fastapi.UploadFile subclasses it)
)

from medipersona.accounts.models import User
from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import AppError, PayloadTooLarge
from medipersona.message_tests import service
from medipersona.message_tests.prompt import SCORE_LABELS, SUMMARY_SECTIONS
from medipersona.message_tests.schemas import (
    IMAGE_MAX_BYTES,
    IMAGE_TYPES,
    KIND_LABELS,
    MAX_PERSONAS,
    MESSAGE_MAX,
)
from medipersona.personas.character import persona_card
from medipersona.personas.models import Persona
from medipersona.web.templating import local_time, render

router = APIRouter(include_in_schema=False)

PERSONA_CHOICES = 60


def _created(iso: str | None) -> str:
    return local_time(datetime.fromisoformat(iso)) if iso else ""


async def _choices(session, user: User) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The user's finished sets and finished personas (newest first) to choose readers from."""
    from medipersona.persona_sets.service import list_sets

    sets = [s for s in (await list_sets(session, user, per_page=50))["items"] if s["status"] in ("done", "partial")]
    query = select(Persona).where(Persona.status == "done").order_by(Persona.created_at.desc()).limit(PERSONA_CHOICES)
    if not user.is_admin:
        query = query.where(Persona.owner_id == user.id)
    personas = [persona_card(p) for p in await session.scalars(query)]
    return sets, personas


async def _index(request: Request, user: User, session, settings, *, values: dict[str, Any] | None = None,
                 errors: list[dict[str, str]] | None = None, error_message: str = "", status_code: int = 200):
    from medipersona.providers.registry import provider_label, text_accepts_images

    sets, personas = await _choices(session, user)
    listing = await service.list_tests(session, user, per_page=30)
    values = values or {}
    return render(request, "message_tests/index.html", {
        "sets": sets, "personas": personas, "kinds": KIND_LABELS,
        "items": [{**i, "created": _created(i["created_at"])} for i in listing["items"]], "total": listing["total"],
        "values": values, "target": values.get("target") or ("personas" if not sets else "set"),
        "selected": set(values.get("persona_ids") or []),
        "field_errors": {e.get("field", ""): e.get("message", "") for e in (errors or [])},
        "error_message": error_message, "message_max": MESSAGE_MAX, "max_personas": MAX_PERSONAS,
        "accepts_images": text_accepts_images(settings), "provider_label": provider_label(settings.text_provider),
        "image_max_mb": IMAGE_MAX_BYTES // (1024 * 1024), "image_types": ",".join(IMAGE_TYPES),
    }, status_code=status_code)


@router.get("/message-tests")
async def index(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, set_id: str = ""):
    values = {"target": "set", "set_id": set_id} if set_id else {}
    return await _index(request, user, session, settings, values=values)


async def _form_body(request: Request) -> dict[str, Any]:
    form = await request.form(max_files=1, max_fields=200)
    try:
        target = str(form.get("target") or "")
        body: dict[str, Any] = {"message": str(form.get("message") or ""), "kind": str(form.get("kind") or "ad")}
        if target == "set":
            body["set_id"] = str(form.get("set_id") or "") or None
        else:
            body["persona_ids"] = [str(v) for v in form.getlist("persona_ids")] or None
        upload = form.get("image")
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(IMAGE_MAX_BYTES + 1)
            if len(raw) > IMAGE_MAX_BYTES:
                raise PayloadTooLarge(f"画像は{IMAGE_MAX_BYTES // (1024 * 1024)}MB以内にしてください。")
            mime = upload.content_type if upload.content_type in IMAGE_TYPES else "image/png"
            body["image"] = {"data": base64.b64encode(raw).decode(), "mime": mime}
        return {**body, "target": target}
    finally:
        await form.close()


@router.post("/message-tests")
async def create_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    """No-JavaScript submit (multipart, the image as a file): start the test or show the form with the messages."""
    from pydantic import ValidationError

    from medipersona.message_tests.schemas import MessageTestCreate
    from medipersona.web.validation import validation_error_body

    body = await _form_body(request)
    values = {k: v for k, v in body.items() if k != "image"}
    try:
        test = await service.create_test(session, settings, user, MessageTestCreate.model_validate(
            {k: v for k, v in body.items() if k != "target"}))
    except ValidationError as exc:
        err = validation_error_body(exc.errors())["error"]
        return await _index(request, user, session, settings, values=values, errors=err["fields"],
                            error_message=err["message"], status_code=422)
    except AppError as exc:
        if exc.status_code == 401 or exc.code == "csrf_failed":
            raise
        await session.rollback()
        return await _index(request, user, session, settings, values=values, errors=exc.fields,
                            error_message=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/message-tests/{test.id}", status_code=303)


@router.get("/message-tests/{test_id}")
async def detail(request: Request, test_id: str, user: CurrentUser, session: SessionDep):
    test = await service.get_test(session, user, test_id)
    data = service.test_to_api(test)
    summary = data["summary"] or {}
    return render(request, "message_tests/detail.html", {
        "t": data, "created": _created(data["created_at"]), "stats": summary.get("stats") or {},
        "summary_sections": SUMMARY_SECTIONS, "summary": summary, "score_labels": SCORE_LABELS,
        "offline": bool((summary.get("meta") or {}).get("is_offline"))
        or any(r.get("is_offline") for r in data["results"]),
        "total": len(data["persona_ids"]),
        "finished": data["status"] in ("done", "failed"),
    })


@router.post("/message-tests/{test_id}/retry")
async def retry_submit(test_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    await service.retry_test(session, settings, user, test_id)
    return RedirectResponse(f"/message-tests/{test_id}", status_code=303)


@router.post("/message-tests/{test_id}/delete")
async def delete_submit(test_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    await service.delete_test(session, settings, user, test_id)
    return RedirectResponse("/message-tests", status_code=303)
