"""Admin settings: validated, stored in ``app_settings``, read through a per-process cache.

Every save bumps a version row (``app_settings`` key ``version``: a counter and a random token) in the same
transaction; each worker of each instance compares it at most once per ``CHECK_INTERVAL`` and reloads when it
changed, so a change (section lengths, the provider and model per task ...) reaches every instance within about
a second, without a restart. Provider choices are validated in ``admin/providers.py``.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona import localtime
from medipersona.admin.models import AppSetting
from medipersona.admin.providers import (  # noqa: F401  (MODEL_TASKS, model_choices: re-exported)
    FALLBACK_KINDS,
    MODEL_TASKS,
    model_choices,
    route_for,
    validate_providers,
)
from medipersona.catalog.labels import (
    MAX_SECTION_LENGTH,
    MIN_SECTION_LENGTH,
    PERSONA_SECTIONS,
    SECTION_LABELS,
)
from medipersona.db import utcnow
from medipersona.errors import InvalidInput
from medipersona.jobs.dblock import write_lock
from medipersona.providers.registry import ProviderRoute
from medipersona.settings import Settings

log = logging.getLogger("medipersona.admin")

CHECK_INTERVAL = 1.0  # seconds between version checks per worker
VERSION_KEY = "version"
MAX_ADDENDUM_LENGTH = 1000

# Tasks that accept extra prompt instructions.
PROMPT_TASKS: dict[str, str] = {"persona_text": "ペルソナ本文", "timeline_analysis": "タイムライン分析",
                                "competitor_swot": "競合分析（SWOT・戦略）"}
# Daily limits an admin sets (key → (label, default, maximum)); 0 = no limit.
LIMITS: dict[str, tuple[str, int, int]] = {
    "places_analyses_per_day": ("Google Placesを使う競合分析（1ユーザー1日あたり）", 10, 1000),
}
PARTS = ("section_lengths", "models", "providers", "fallbacks", "prompt_addenda", "limits")


@dataclass
class AdminSettings:
    section_lengths: dict[str, int] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # task -> model ("" = provider default)
    # task -> provider ("" = the environment's; "none" for the portrait: 画像なし)
    providers: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)  # text | image -> provider ("" = the environment's)
    prompt_addenda: dict[str, str] = field(default_factory=dict)  # task -> extra instructions
    limits: dict[str, int] = field(default_factory=dict)  # LIMITS key -> per user and day (0 = none)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARTS}


def default_admin_settings() -> AdminSettings:
    return AdminSettings(
        section_lengths={s.key: s.default_length for s in PERSONA_SECTIONS},
        models={task: "" for task in MODEL_TASKS},
        providers={task: "" for task in MODEL_TASKS},
        fallbacks={kind: "" for kind in FALLBACK_KINDS},
        prompt_addenda={task: "" for task in PROMPT_TASKS},
        limits={key: default for key, (_label, default, _max) in LIMITS.items()},
    )


@dataclass
class _Cached:
    settings: AdminSettings
    version: Any
    checked_at: float


_cache: dict[str, _Cached] = {}  # per database (tests and benchmarks open several in one process)


def clear_cache() -> None:
    _cache.clear()


def _cache_key(session: AsyncSession) -> str:
    bind = session.bind
    return str(getattr(bind, "url", bind))


async def load_admin_settings(session: AsyncSession) -> AdminSettings:
    key = _cache_key(session)
    cached = _cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < CHECK_INTERVAL:
        return cached.settings
    if cached is not None:
        # Claimed before the await: the generations of a burst that find the check due meanwhile use the cached
        # settings (at most one interval old) instead of each asking the database the same question.
        cached.checked_at = now
    version = await session.scalar(select(AppSetting.value).where(AppSetting.key == VERSION_KEY))
    if cached is not None and cached.version == version:
        cached.checked_at = now
        return cached.settings
    result = default_admin_settings()
    rows = {row.key: row.value for row in await session.scalars(select(AppSetting))}
    for name in PARTS:
        stored = rows.get(name)
        if isinstance(stored, dict):
            current = getattr(result, name)
            current.update({k: v for k, v in stored.items() if k in current})
    _cache[key] = _Cached(result, rows.get(VERSION_KEY), now)
    return result


async def get_section_lengths(session: AsyncSession) -> dict[str, int]:
    """Per-section target lengths (called by the generation pipeline)."""
    return dict((await load_admin_settings(session)).section_lengths)


async def task_route(session: AsyncSession, settings: Settings, task: str) -> ProviderRoute | None:
    """Who answers ``task`` now: the admin's provider, model and fallback, else the environment's. None when
    the admin turned the task off (the portrait: 画像なし)."""
    return route_for(await load_admin_settings(session), settings, task)


async def daily_limit(session: AsyncSession, key: str) -> int:
    """A daily limit from ``LIMITS`` (0 = none)."""
    return int((await load_admin_settings(session)).limits.get(key, LIMITS[key][1]))


async def prompt_addendum(session: AsyncSession, task: str) -> str:
    """Extra instructions an admin added for a task ('' when none)."""
    return (await load_admin_settings(session)).prompt_addenda.get(task, "")


async def task_options(session: AsyncSession, settings: Settings, task: str) -> tuple[ProviderRoute, str]:
    """(route, extra instructions) an admin configured for a text task; the environment's route and no extra
    instructions when the admin settings cannot be read (a job must not fail over them)."""
    try:
        current = await load_admin_settings(session)
    except Exception:
        log.exception("reading the admin settings for %s failed; using the defaults", task)
        current = default_admin_settings()
    route = route_for(current, settings, task)
    assert route is not None  # only the portrait can be turned off
    return route, current.prompt_addenda.get(task, "")


def validate_update(settings: Settings, update: dict[str, Any]) -> AdminSettings:
    """Check an update against the catalog, the providers and their models; raise InvalidInput per field."""
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
    errors += validate_providers(settings, update, result)
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
    """Validate the whole update first; then write every part and a new version in one transaction (all or
    nothing). Every worker of every instance takes it up at its next version check."""
    clear_cache()
    current = await load_admin_settings(session)
    merged = {name: {**getattr(current, name), **(update.get(name) or {})} for name in PARTS}
    for task, provider in (update.get("providers") or {}).items():
        # Another provider without a model named for it: its default, not the old provider's model.
        if provider != current.providers.get(task) and task not in (update.get("models") or {}):
            merged["models"][task] = ""
    validated = validate_update(settings, merged)
    version = await session.get(AppSetting, VERSION_KEY)
    counter = int((version.value or {}).get("n", 0)) + 1 if version is not None and isinstance(version.value, dict) else 1
    values = {**validated.as_dict(), VERSION_KEY: {"n": counter, "token": secrets.token_hex(8)}}
    async with write_lock(session.bind):
        for key, value in values.items():
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
