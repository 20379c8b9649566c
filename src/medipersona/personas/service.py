"""Persona logic without HTTP: create (auto-fill + a durable generation job), read, list, edit, regenerate one
section, duplicate, retry, delete. Routers and pages call these. What a request may ask for is checked in
``personas.checks``; a persona's JSON and warnings are built in ``personas.representation``.
"""

from __future__ import annotations

import copy
import logging
import random
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import User
from medipersona.accounts.service import live_session_ids, session_gone_error
from medipersona.catalog.labels import PERSONA_SECTIONS, SECTION_KEYS
from medipersona.catalog.service import get_catalog
from medipersona.db import utcnow
from medipersona.errors import Conflict, InvalidInput, NotFound
from medipersona.jobs.dblock import write_lock
from medipersona.jobs.lifecycle import local_runtime, wake_local_runners
from medipersona.jobs.models import Job
from medipersona.jobs.service import commit_with_job, enqueue, first_event, new_job
from medipersona.keywords.shares import DemographicShares, demographic_shares
from medipersona.media.service import sweep_unreferenced
from medipersona.personas.autofill import autofill
from medipersona.personas.checks import require_section, validate_catalog
from medipersona.personas.models import Persona, new_persona_id, tags_to_column
from medipersona.personas.representation import persona_summary
from medipersona.personas.schemas import PersonaCreate, PersonaUpdate
from medipersona.personas.search import HistoryFilters, filter_personas
from medipersona.quota import check_daily_quota
from medipersona.settings import Settings
from medipersona.ttlcache import TTLCache

log = logging.getLogger("medipersona.personas")

GENERATE_KIND = "persona_generate"
SECTION_KIND = "persona_section"
PERSONA_JOB_KINDS = (GENERATE_KIND, SECTION_KIND)


async def release_connection(session: AsyncSession) -> None:
    """End the session's read transaction (nothing pending) so that it gives its pooled connection back before
    queueing for the write lock: a request must never hold a connection while it waits for the writer."""
    await session.commit()


async def check_quota(session: AsyncSession, user: User) -> None:
    """One persona generation within the user's daily quota (``quota.check_daily_quota``)."""
    await check_daily_quota(session, user, 1)


async def recent_names(session: AsyncSession, user_id: int, limit: int = 30) -> list[str]:
    rows = await session.scalars(
        select(Persona.name).where(Persona.owner_id == user_id, Persona.name != "")
        .order_by(Persona.created_at.desc()).limit(limit)
    )
    return [n for n in rows if n]


# Names to avoid, per user, for a short while: a burst of generations by one user reads them once, not per
# request. Best effort (per process); names chosen here are added at once.
RECENT_NAMES_TTL = 30.0
_RECENT_NAMES: TTLCache[int, list[str]] = TTLCache(RECENT_NAMES_TTL, 10_000)


async def names_to_avoid(session: AsyncSession, user_id: int) -> list[str]:
    cached = _RECENT_NAMES.get(user_id)
    if cached is not None:
        return cached
    names = await recent_names(session, user_id)
    _RECENT_NAMES.set(user_id, names)
    return names


def _remember_name(user_id: int, name: str) -> None:
    cached = _RECENT_NAMES.get(user_id)
    if cached is not None and name:
        cached.insert(0, name)
        del cached[30:]


async def create_persona(session: AsyncSession, settings: Settings, user: User, data: PersonaCreate, *,
                         auth_session_id: int | None = None) -> Persona:
    """Validate, auto-fill, store the persona and enqueue its generation job (committed; runner woken).

    ``auth_session_id``: the login session the request came with; nothing is stored unless it is still valid
    in the inserting transaction (so the caller may have authenticated from the principal cache)."""
    validate_catalog(user, data)
    await check_quota(session, user)
    avoid = list(await names_to_avoid(session, user.id))
    shares = await shares_for(session, data)
    # Reads done: give the pooled connection back before the CPU work and the (batched) insert.
    await release_connection(session)
    runtime = local_runtime(settings)
    if runtime is not None:
        # A burst of POSTs takes turns of the loop for the auto-fill (~1 ms each): the group inserts and the
        # jobs already started are served between (jobs.pacing).
        await runtime.turns.take(first=True)
    persona, job = new_persona(user, data, avoid, shares=shares)
    if runtime is not None:
        # Group commit with the other requests of these milliseconds (one transaction for many personas);
        # the job starts in this worker right away when it has room (inserted already leased to it).
        if await runtime.insert_and_run(job, [persona, job, first_event(job)], preloaded={"persona": persona},
                                        auth_session_id=auth_session_id):
            persona.status = "queued"  # the API answers queued; the job's first event says so too
        return persona
    async with write_lock(session.bind):
        if auth_session_id is not None and auth_session_id not in await live_session_ids(session, {auth_session_id}):
            raise session_gone_error()
        await commit_with_job(session, persona, job)
    wake_local_runners(settings)
    return persona


async def shares_for(session: AsyncSession, data: PersonaCreate) -> DemographicShares | None:
    """The keyword data's gender and age shares when 自動 or 患者タイプ別 will draw gender or age from them."""
    if data.setting_type not in ("auto", "patient_type"):
        return None
    given = data.profile.model_dump(exclude_none=True) if data.profile else {}
    if "gender" in given and "age" in given:
        return None
    try:
        return await demographic_shares(session, data.department, data.chief_complaint)
    except Exception:  # the persona is made from the department's rules instead
        log.exception("keyword shares lookup failed for %s", data.chief_complaint)
        return None


def new_persona(user: User, data: PersonaCreate, avoid_names: list[str],
                shares: DemographicShares | None = None) -> tuple[Persona, Job]:
    """Auto-fill ``data`` (already validated) and build the persona row and its generation job, neither stored
    yet. The persona gets none of ``avoid_names`` (recent names, or the names of the other members of a set).
    ``shares``: the complaint's keyword-data shares (``shares_for``) that 自動 draws gender and age from."""
    catalog = get_catalog()
    seed = data.seed if data.seed is not None else random.SystemRandom().randrange(2**31)
    given_profile = data.profile.model_dump(exclude_none=True) if data.profile else {}
    given_extras = data.extras.model_dump(exclude_none=True) if data.extras else {}
    patient_type_id = data.patient_type
    if data.setting_type == "auto" and not patient_type_id:
        patient_type_id = random.Random(seed).choice(catalog.patient_types).id
    profile, extras = autofill(given_profile, given_extras, department_id=data.department, seed=seed,
                               avoid_names=avoid_names, complaint=catalog.chief_complaint(data.chief_complaint),
                               shares=shares)
    persona = Persona(
        id=new_persona_id(),
        owner_id=user.id,
        status="queued",
        department_id=data.department,
        chief_complaint_id=data.chief_complaint,
        purpose_id=data.purpose,
        setting_type=data.setting_type,
        patient_type_id=patient_type_id,
        seed=seed,
        request=data.model_dump(exclude_none=True, mode="json"),
        name=str(profile.get("name") or ""),
        profile=profile,
        extras=extras,
        extra_fields=[row.model_dump() for row in data.extra_fields if row.name],
        sections={},
        keywords_used=[],
        image_status="pending",
        timings={},
    )
    _remember_name(user.id, persona.name)
    job = new_job(GENERATE_KIND, persona.id, generation_payload(persona, avoid_names), owner_id=user.id)
    persona.current_job_id = job.id
    return persona, job


def generation_payload(persona: Persona, avoid_names: list[str]) -> dict[str, Any]:
    """What the generation job needs before it reads anything: the portrait starts from this at once."""
    profile = persona.profile or {}
    return {"avoid_names": avoid_names[:20],
            "image": {"age": profile.get("age"), "age_months": profile.get("age_months"),
                      "gender": profile.get("gender"), "occupation": profile.get("occupation"),
                      "seed": persona.seed}}


# ------------------------------------------------------------------------------------------------ reading
async def get_persona(session: AsyncSession, user: User, persona_id: str, *, act: bool = False) -> Persona:
    """The persona if the user owns it (admins: any), else 404. ``act``: an action on it (edit, generate again,
    duplicate, analyse, chart), which also needs the persona's section among the user's current ones (403)."""
    persona = await session.get(Persona, persona_id)
    if persona is None or (persona.owner_id != user.id and not user.is_admin):
        raise NotFound("ペルソナが見つかりません。")
    if act:
        require_section(user, persona.department_id)
    return persona


async def current_job(session: AsyncSession, persona: Persona) -> Job | None:
    if not persona.current_job_id:
        return None
    return await session.get(Job, persona.current_job_id)


async def list_personas(session: AsyncSession, user: User, filters: HistoryFilters, *, page: int = 1,
                        per_page: int = 20) -> dict[str, Any]:
    query = filter_personas(select(Persona), user, filters)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = await session.scalars(
        query.order_by(Persona.created_at.desc(), Persona.id).offset((page - 1) * per_page).limit(per_page)
    )
    return {"items": [persona_summary(p) for p in rows], "total": total, "page": page, "per_page": per_page,
            "pages": max(1, -(-total // per_page))}


# ------------------------------------------------------------------------------------------------ changes
async def _active_job(session: AsyncSession, persona: Persona) -> Job | None:
    job = await current_job(session, persona)
    if job is not None and job.status in ("queued", "running"):
        return job
    return None


REQUIRED_PROFILE_FIELDS = {"name": "名前", "gender": "性別", "age": "年齢"}


async def update_persona(session: AsyncSession, user: User, persona_id: str, data: PersonaUpdate) -> Persona:
    persona = await get_persona(session, user, persona_id, act=True)
    if await _active_job(session, persona) is not None:
        raise Conflict("生成中のペルソナは編集できません。完了してからもう一度お試しください。", code="busy")
    await release_connection(session)
    before = (copy.deepcopy(persona.profile or {}), copy.deepcopy(persona.extras or {}),
              copy.deepcopy(persona.extra_fields or []))
    if data.profile is not None:
        # A field sent empty (or null) is cleared, except the ones every persona needs.
        given = data.profile.model_dump(exclude_unset=True)
        missing = [{"field": f"profile.{key}", "message": f"{label}は空にできません。"}
                   for key, label in REQUIRED_PROFILE_FIELDS.items() if key in given and given[key] is None]
        if missing:
            raise InvalidInput("入力内容を確認してください。", fields=missing)
        profile = dict(persona.profile or {})
        for key, value in given.items():
            if value is None:
                profile.pop(key, None)
            else:
                profile[key] = value
        persona.profile = profile
        if data.profile.name:
            persona.name = data.profile.name
    if data.name is not None:
        persona.name = data.name
        persona.profile = {**(persona.profile or {}), "name": data.name}
    if data.extras is not None:
        extras = dict(persona.extras or {})
        for key, value in data.extras.model_dump(exclude_unset=True).items():
            if value is None:
                extras.pop(key, None)
            else:
                extras[key] = value
        persona.extras = extras
    if data.extra_fields is not None:
        persona.extra_fields = [row.model_dump() for row in data.extra_fields if row.name]
    if _changes_what_sections_say(persona, before):
        persona.stale_sections = [k for k in SECTION_KEYS if (persona.sections or {}).get(k)]
    if data.sections is not None:
        if persona.status != "done":
            raise Conflict("完成していないペルソナの文章は編集できません。", code="not_done")
        persona.sections = {**(persona.sections or {}), **{k: v.strip() for k, v in data.sections.items()}}
        persona.stale_sections = [k for k in persona.stale_sections or [] if k not in data.sections]
    if data.note is not None:
        persona.note = data.note
    if data.tags is not None:
        persona.tags = tags_to_column(data.tags)
    persona.updated_at = utcnow()
    async with write_lock(session.bind):
        await session.commit()
    return persona


def _changes_what_sections_say(persona: Persona, before: tuple[dict, dict, list]) -> bool:
    """The sections were written from the profile, the extras and the free rows: a change to any of them leaves
    the text out of date (tags and notes do not)."""
    return before != (persona.profile or {}, persona.extras or {}, persona.extra_fields or [])


async def regenerate_all(session: AsyncSession, settings: Settings, user: User, persona_id: str) -> Persona:
    """Write the persona again from its current profile: the six sections, the keywords and the portrait (a new
    generation job, streamed like the first one)."""
    persona = await get_persona(session, user, persona_id, act=True)
    if persona.status != "done":
        raise Conflict("完成したペルソナだけすべて再生成できます。", code="not_done")
    if await _active_job(session, persona) is not None:
        raise Conflict("このペルソナは現在生成中です。完了してからもう一度お試しください。", code="busy")
    await check_quota(session, user)
    persona.stale_sections = []  # everything is written again from the current profile
    return await _generate_again(session, settings, user, persona)


async def _generate_again(session: AsyncSession, settings: Settings, user: User, persona: Persona) -> Persona:
    """A new generation job for a stored persona (retry after a failure, 「すべて再生成」)."""
    await release_connection(session)
    async with write_lock(session.bind):
        job = await enqueue(session, GENERATE_KIND, persona.id, generation_payload(persona, []), owner_id=user.id)
        persona.status = "queued"
        persona.error = None
        persona.finished_at = None
        persona.current_job_id = job.id
        await session.commit()
    wake_local_runners(settings)
    return persona


async def regenerate_section(session: AsyncSession, settings: Settings, user: User, persona_id: str,
                             key: str) -> Job:
    if key not in SECTION_KEYS:
        raise NotFound("指定された項目はありません。")
    persona = await get_persona(session, user, persona_id, act=True)
    if persona.status != "done":
        raise Conflict("完成したペルソナだけ項目を再生成できます。", code="not_done")
    if await _active_job(session, persona) is not None:
        raise Conflict("このペルソナは現在生成中です。完了してからもう一度お試しください。", code="busy")
    await check_quota(session, user)
    await release_connection(session)
    async with write_lock(session.bind):
        job = await enqueue(session, SECTION_KIND, persona.id, {"section": key}, owner_id=user.id)
        persona.current_job_id = job.id
        await session.commit()
    wake_local_runners(settings)
    return job


async def retry_persona(session: AsyncSession, settings: Settings, user: User, persona_id: str) -> Persona:
    persona = await get_persona(session, user, persona_id, act=True)
    if persona.status != "failed":
        raise Conflict("失敗したペルソナだけ再試行できます。", code="not_failed")
    await check_quota(session, user)
    return await _generate_again(session, settings, user, persona)


# Columns a duplicate does not take from its source: its own identity, state and times; the timeline analysis
# is run again on demand. The portrait is shared (stored once, by content).
NOT_DUPLICATED = frozenset({"id", "owner_id", "status", "current_job_id", "timeline_status",
                            "timeline_analysis", "created_at", "updated_at", "finished_at"})


async def duplicate_persona(session: AsyncSession, settings: Settings, user: User, persona_id: str) -> Persona:
    source = await get_persona(session, user, persona_id, act=True)
    if source.status != "done":
        raise Conflict("完成したペルソナだけ複製できます。", code="not_done")
    copied = {column.key: copy.deepcopy(getattr(source, column.key))
              for column in Persona.__table__.columns if column.key not in NOT_DUPLICATED}
    duplicate = Persona(**copied, id=new_persona_id(), owner_id=user.id, status="done", finished_at=utcnow())
    await release_connection(session)
    async with write_lock(session.bind):
        session.add(duplicate)
        await session.commit()
    return duplicate


async def delete_persona(session: AsyncSession, settings: Settings, user: User, persona_id: str, *,
                         db=None) -> None:
    """Delete the persona, its jobs and events; then portraits nothing references any more (``db``: the app's
    Database, for that sweep)."""
    persona = await get_persona(session, user, persona_id)
    pid = persona.id
    await release_connection(session)
    # Jobs and their events go with the persona (ON DELETE CASCADE); a worker still running one loses its
    # lease at its next write and stops.
    async with write_lock(session.bind):
        await session.execute(sa_delete(Job).where(Job.persona_id == pid))
        await session.delete(persona)
        await session.commit()
    if db is not None:
        try:
            await sweep_unreferenced(settings, db)
        except Exception:  # noqa: BLE001 - the persona is gone; its portrait goes with a later sweep
            log.exception("sweeping unreferenced portraits failed")


def section_specs() -> list[dict[str, Any]]:
    return [{"key": s.key, "label": s.label, "default_length": s.default_length} for s in PERSONA_SECTIONS]
