"""Admin settings: validated, stored in ``app_settings``, read through a short per-process cache.

The cache lives 2 s, so a change made in one worker reaches every worker within 2 s without a restart.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona import localtime
from medipersona.admin.models import AppSetting
from medipersona.catalog.labels import (
    MAX_SECTION_LENGTH,
    MIN_SECTION_LENGTH,
    PERSONA_SECTIONS,
    SECTION_LABELS,
)
from medipersona.db import utcnow
from medipersona.errors import InvalidInput
from medipersona.settings import Settings

log = logging.getLogger("medipersona.admin")

CACHE_SECONDS = 2.0
MAX_ADDENDUM_LENGTH = 1000

# Tasks whose model an admin may choose, with the kind of provider that serves them.
MODEL_TASKS: dict[str, tuple[str, str]] = {
    "persona_text": ("text", "ペルソナ本文"),
    "portrait": ("image", "似顔絵"),
    "timeline_analysis": ("text", "タイムライン分析"),
    "competitor_swot": ("text", "競合分析（SWOT・戦略）"),
}
# Analysis tasks default to MEDIPERSONA_ANALYSIS_MODEL (then the text model).
ANALYSIS_TASKS = frozenset({"timeline_analysis", "competitor_swot"})
# Tasks that accept extra prompt instructions.
PROMPT_TASKS: dict[str, str] = {"persona_text": "ペルソナ本文", "timeline_analysis": "タイムライン分析",
                                "competitor_swot": "競合分析（SWOT・戦略）"}
# Daily limits an admin sets (key → (label, default, maximum)); 0 = no limit.
LIMITS: dict[str, tuple[str, int, int]] = {
    "places_analyses_per_day": ("Google Placesを使う競合分析（1ユーザー1日あたり）", 10, 1000),
}
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")


@dataclass
class AdminSettings:
    section_lengths: dict[str, int] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # task -> model ("" = provider default)
    prompt_addenda: dict[str, str] = field(default_factory=dict)  # task -> extra instructions
    limits: dict[str, int] = field(default_factory=dict)  # LIMITS key -> per user and day (0 = none)

    def as_dict(self) -> dict[str, Any]:
        return {"section_lengths": self.section_lengths, "models": self.models, "prompt_addenda": self.prompt_addenda,
                "limits": self.limits}


def default_admin_settings() -> AdminSettings:
    return AdminSettings(
        section_lengths={s.key: s.default_length for s in PERSONA_SECTIONS},
        models={task: "" for task in MODEL_TASKS},
        prompt_addenda={task: "" for task in PROMPT_TASKS},
        limits={key: default for key, (_label, default, _max) in LIMITS.items()},
    )


_cache: tuple[float, AdminSettings] | None = None


def clear_cache() -> None:
    global _cache
    _cache = None


async def load_admin_settings(session: AsyncSession) -> AdminSettings:
    global _cache
    if _cache is not None and time.monotonic() - _cache[0] < CACHE_SECONDS:
        return _cache[1]
    result = default_admin_settings()
    rows = {row.key: row.value for row in await session.scalars(select(AppSetting))}
    for name in ("section_lengths", "models", "prompt_addenda", "limits"):
        stored = rows.get(name)
        if isinstance(stored, dict):
            current = getattr(result, name)
            current.update({k: v for k, v in stored.items() if k in current})
    _cache = (time.monotonic(), result)
    return result


async def get_section_lengths(session: AsyncSession) -> dict[str, int]:
    """Per-section target lengths (called by the generation pipeline)."""
    return dict((await load_admin_settings(session)).section_lengths)


def _provider_for(settings: Settings, kind: str) -> str:
    return settings.image_provider if kind == "image" else settings.text_provider


async def model_for(session: AsyncSession, settings: Settings, task: str) -> str:
    """The model for a task: the admin's choice, else the env setting, else '' (the provider's default)."""
    return (await load_admin_settings(session)).models.get(task, "") or env_model(settings, task)


def env_model(settings: Settings, task: str) -> str:
    """The model the environment sets for a task ('' = the provider's default)."""
    if task == "portrait":
        return settings.image_model
    if task in ANALYSIS_TASKS:
        return settings.analysis_model or settings.text_model
    return settings.text_model


async def daily_limit(session: AsyncSession, key: str) -> int:
    """A daily limit from ``LIMITS`` (0 = none)."""
    return int((await load_admin_settings(session)).limits.get(key, LIMITS[key][1]))


async def prompt_addendum(session: AsyncSession, task: str) -> str:
    """Extra instructions an admin added for a task ('' when none)."""
    return (await load_admin_settings(session)).prompt_addenda.get(task, "")


async def task_options(session: AsyncSession, settings: Settings, task: str) -> tuple[str, str]:
    """(model, extra instructions) an admin configured for a text task; the env settings and no extra
    instructions when the admin settings cannot be read (a job must not fail over them)."""
    try:
        return await model_for(session, settings, task), await prompt_addendum(session, task)
    except Exception:
        log.exception("reading the admin settings for %s failed; using the defaults", task)
        return env_model(settings, task), ""


def model_choices(settings: Settings) -> dict[str, dict[str, Any]]:
    """Per task: the configured provider, its known models, and whether other names are accepted."""
    from medipersona.providers.registry import get_provider_class

    choices = {}
    for task, (kind, label) in MODEL_TASKS.items():
        provider = _provider_for(settings, kind)
        cls = get_provider_class(provider)
        known = list(cls.known_image_models if kind == "image" else cls.known_text_models)
        choices[task] = {
            "label": label,
            "kind": kind,
            "provider": provider,
            "provider_label": cls.label or provider,
            "known_models": known,
            "default_model": cls.default_image_model if kind == "image" else cls.default_text_model,
            "accepts_custom": cls.accepts_custom_models(),
        }
    return choices


def _fail(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields=[{"field": field_name, "message": message}])


def validate_update(settings: Settings, update: dict[str, Any]) -> AdminSettings:
    """Check an update against the catalog and the provider's model list; raise InvalidInput per field."""
    errors: list[dict[str, str]] = []
    result = default_admin_settings()
    for key, value in (update.get("section_lengths") or {}).items():
        if key not in result.section_lengths:
            errors.append({"field": f"section_lengths.{key}", "message": "ペルソナ詳細にない項目です。"})
        elif not isinstance(value, int) or isinstance(value, bool) or not (
            MIN_SECTION_LENGTH <= value <= MAX_SECTION_LENGTH
        ):
            errors.append({"field": f"section_lengths.{key}",
                           "message": f"{SECTION_LABELS[key]}の文字数は{MIN_SECTION_LENGTH}〜{MAX_SECTION_LENGTH}で指定してください。"})
        else:
            result.section_lengths[key] = value
    choices = model_choices(settings)
    for task, value in (update.get("models") or {}).items():
        if task not in choices:
            errors.append({"field": f"models.{task}", "message": "不明なタスクです。"})
            continue
        value = (value or "").strip() if isinstance(value, str) else value
        if not isinstance(value, str):
            errors.append({"field": f"models.{task}", "message": "モデル名は文字列で指定してください。"})
        elif value == "":
            result.models[task] = ""
        elif not _MODEL_NAME.match(value):
            errors.append({"field": f"models.{task}", "message": "モデル名に使えない文字が含まれています。"})
        elif value not in choices[task]["known_models"] and not choices[task]["accepts_custom"]:
            known = "、".join(choices[task]["known_models"]) or "（なし）"
            errors.append({"field": f"models.{task}",
                           "message": f"AIサービス「{choices[task]['provider_label']}」では使えないモデルです。選べるモデル: {known}"})
        else:
            result.models[task] = value
    for task, value in (update.get("prompt_addenda") or {}).items():
        if task not in PROMPT_TASKS:
            errors.append({"field": f"prompt_addenda.{task}", "message": "不明なタスクです。"})
        elif not isinstance(value, str) or len(value) > MAX_ADDENDUM_LENGTH:
            errors.append({"field": f"prompt_addenda.{task}",
                           "message": f"追加の指示は{MAX_ADDENDUM_LENGTH}文字以内の文字列で指定してください。"})
        else:
            result.prompt_addenda[task] = value.strip()
    for key, value in (update.get("limits") or {}).items():
        if key not in LIMITS:
            errors.append({"field": f"limits.{key}", "message": "不明な上限です。"})
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= LIMITS[key][2]:
            errors.append({"field": f"limits.{key}",
                           "message": f"{LIMITS[key][0]}の上限は0〜{LIMITS[key][2]}の整数で指定してください（0は無制限）。"})
        else:
            result.limits[key] = value
    if errors:
        raise InvalidInput("設定内容に誤りがあります。", fields=errors)
    return result


async def save_admin_settings(session: AsyncSession, settings: Settings, update: dict[str, Any],
                              user_id: int | None) -> AdminSettings:
    """Validate the whole update first; then write every part in one transaction (all or nothing)."""
    current = await load_admin_settings(session)
    merged = {
        "section_lengths": {**current.section_lengths, **(update.get("section_lengths") or {})},
        "models": {**current.models, **(update.get("models") or {})},
        "prompt_addenda": {**current.prompt_addenda, **(update.get("prompt_addenda") or {})},
        "limits": {**current.limits, **(update.get("limits") or {})},
    }
    validated = validate_update(settings, merged)
    for key, value in validated.as_dict().items():
        row = await session.get(AppSetting, key)
        if row is None:
            session.add(AppSetting(key=key, value=value, updated_by=user_id))
        else:
            row.value = value
            row.updated_by = user_id
            row.updated_at = utcnow()
    await session.commit()
    clear_cache()
    return validated


async def usage_by_user_and_day(session: AsyncSession, days: int = 14) -> dict[str, Any]:
    """Personas created per user per local day (Japan time) over the last ``days`` days, with each user's quota."""
    from medipersona.accounts.models import User
    from medipersona.personas.models import Persona

    first_day = localtime.today() - timedelta(days=days - 1)
    rows = (await session.execute(
        select(Persona.owner_id, Persona.created_at, Persona.status)
        .where(Persona.created_at >= localtime.day_start_utc(first_day))
    )).all()
    users = {u.id: u for u in await session.scalars(select(User).order_by(User.id))}
    day_list = [(first_day + timedelta(days=i)).isoformat() for i in range(days)]
    table: dict[int, dict[str, Any]] = {
        uid: {"user_id": uid, "username": u.username, "daily_quota": u.daily_quota,
              "days": {d: 0 for d in day_list}, "failed": 0, "total": 0}
        for uid, u in users.items()
    }
    for owner_id, created_at, status in rows:
        entry = table.get(owner_id)
        if entry is None:
            continue
        day = localtime.format_date(created_at)
        if day in entry["days"]:
            entry["days"][day] += 1
        entry["total"] += 1
        entry["failed"] += status == "failed"
    total = await session.scalar(select(func.count()).select_from(Persona)) or 0
    return {"days": day_list, "users": list(table.values()), "all_time_total": total}
