"""Admin pages: settings (section lengths, provider and model per task, fallbacks, extra prompt instructions)
and usage."""

from __future__ import annotations

from fastapi import APIRouter, Request

from medipersona.admin import service
from medipersona.admin.router import settings_payload, usage_payload
from medipersona.deps import AdminUser, SessionDep, SettingsDep
from medipersona.errors import AppError
from medipersona.web.templating import render

router = APIRouter(include_in_schema=False)


async def _page(request, session, settings, *, error="", fields=None, message="", status_code=200):
    payload = await settings_payload(session, settings)
    usage = await usage_payload(session, 14)
    return render(request, "admin/settings.html", {
        **payload, "usage": usage, "error": error, "field_errors": {f["field"]: f["message"] for f in fields or []},
        "message": message,
    }, status_code=status_code)


@router.get("/admin/settings")
async def settings_page(request: Request, _admin: AdminUser, session: SessionDep, settings: SettingsDep):
    return await _page(request, session, settings)


@router.post("/admin/settings")
async def settings_submit(request: Request, admin: AdminUser, session: SessionDep, settings: SettingsDep):
    form = await request.form()
    update: dict = {"section_lengths": {}, "models": {}, "providers": {}, "fallbacks": {}, "prompt_addenda": {},
                    "limits": {}}
    bad_numbers = []
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if key.startswith("length."):
            try:
                update["section_lengths"][key[7:]] = int(value)
            except ValueError:
                bad_numbers.append({"field": f"section_lengths.{key[7:]}", "message": "数値で入力してください。"})
        elif key.startswith("model."):
            update["models"][key[6:]] = value
        elif key.startswith("provider."):
            update["providers"][key[9:]] = value
        elif key.startswith("fallback."):
            update["fallbacks"][key[9:]] = value
        elif key.startswith("addendum."):
            update["prompt_addenda"][key[9:]] = value
        elif key.startswith("limit."):
            try:
                update["limits"][key[6:]] = int(value.strip() or "0")
            except ValueError:
                bad_numbers.append({"field": f"limits.{key[6:]}", "message": "整数で入力してください（0は無制限）。"})
    if bad_numbers:
        return await _page(request, session, settings, error="設定内容に誤りがあります。", fields=bad_numbers,
                           status_code=422)
    if not any(update.values()):  # not this page's form (a stray or forged post): change nothing
        return await _page(request, session, settings, error="設定項目が送信されませんでした。画面から保存してください。",
                           status_code=422)
    try:
        await service.save_admin_settings(session, settings, update, admin.id)
    except AppError as exc:
        return await _page(request, session, settings, error=exc.message, fields=exc.fields,
                           status_code=exc.status_code)
    return await _page(request, session, settings, message="設定を保存しました。")
