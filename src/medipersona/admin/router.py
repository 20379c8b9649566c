"""Admin settings and usage API (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from medipersona.admin import service
from medipersona.admin.schemas import AdminSettingsUpdate
from medipersona.catalog.labels import MAX_SECTION_LENGTH, MIN_SECTION_LENGTH, PERSONA_SECTIONS
from medipersona.deps import AdminUser, SessionDep, SettingsDep

router = APIRouter(prefix="/api/admin", tags=["admin"])


async def settings_payload(session, settings) -> dict:
    current = await service.load_admin_settings(session)
    return {
        "settings": current.as_dict(),
        "sections": [{"key": s.key, "label": s.label, "default_length": s.default_length,
                      "min": MIN_SECTION_LENGTH, "max": MAX_SECTION_LENGTH} for s in PERSONA_SECTIONS],
        "model_choices": service.model_choices(settings, current),
        "fallback_kinds": service.FALLBACK_KINDS,
        "env_fallbacks": {"text": settings.fallback_text_provider, "image": settings.fallback_image_provider},
        "prompt_tasks": service.PROMPT_TASKS,
        "limits": {key: {"label": label, "max": maximum} for key, (label, _default, maximum) in service.LIMITS.items()},
    }


async def usage_payload(session, days: int) -> dict:
    """Personas per user and day, and (under "places") the Google Places use of competitor analyses."""
    from medipersona.competitors import usage as places_usage

    return {**await service.usage_by_user_and_day(session, days),
            "places": await places_usage.usage_by_user_and_day(session, days)}


@router.get("/settings")
async def read_settings(_admin: AdminUser, session: SessionDep, settings: SettingsDep) -> dict:
    return await settings_payload(session, settings)


@router.put("/settings")
async def update_settings(body: AdminSettingsUpdate, admin: AdminUser, session: SessionDep,
                          settings: SettingsDep) -> dict:
    await service.save_admin_settings(session, settings, body.model_dump(exclude_none=True), admin.id)
    return await settings_payload(session, settings)


@router.get("/usage")
async def read_usage(_admin: AdminUser, session: SessionDep, days: int = Query(14, ge=1, le=90)) -> dict:
    return await usage_payload(session, days)
