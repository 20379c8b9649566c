"""Persona-set logic without HTTP: create (members built by the persona pipeline, stored with their generation
jobs in one transaction), read with the members' state, list, delete.

Each member is an ordinary persona (``personas.service.new_persona``: auto-fill, the generation job); the jobs
run in parallel, so a set takes about as long as one persona. Members never share a name: each one avoids the
user's recent names and the names given to the members before it.
"""

from __future__ import annotations

import logging
import random
import re
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import User
from medipersona.catalog.labels import PERSONA_SECTIONS
from medipersona.catalog.service import get_catalog
from medipersona.jobs.dblock import write_lock
from medipersona.jobs.lifecycle import local_runtime, wake_local_runners
from medipersona.jobs.service import first_event
from medipersona.persona_sets.models import PersonaSet, new_set_id
from medipersona.persona_sets.schemas import VARY_LABELS, PersonaSetCreate
from medipersona.persona_sets.variation import member_requests
from medipersona.personas.character import persona_card
from medipersona.personas.checks import validate_catalog
from medipersona.personas.models import Persona
from medipersona.personas.service import (
    names_to_avoid,
    new_persona,
    release_connection,
    shares_for,
)
from medipersona.quota import check_daily_quota
from medipersona.records import iso, owned_or_404
from medipersona.settings import Settings

log = logging.getLogger("medipersona.persona_sets")

NOT_FOUND_MESSAGE = "ペルソナセットが見つかりません。"
SET_STATUS_LABELS = {"queued": "待機中", "running": "生成中", "done": "完了", "partial": "一部失敗",
                     "failed": "失敗"}
KEY_LINE_MAX = 70
# The comparison table: profile rows (label, key in the member dict), then one row per section.
PROFILE_ROWS: tuple[tuple[str, str], ...] = (
    ("年齢", "age_label"), ("性別", "gender_label"), ("患者タイプ", "patient_type_name"), ("職業", "occupation"),
    ("家族構成", "family"), ("年収", "income_label"), ("居住地", "place"), ("趣味", "hobby"),
)



async def create_set(session: AsyncSession, settings: Settings, user: User, data: PersonaSetCreate) -> PersonaSet:
    """Validate, build the members, store the set, the personas and their jobs in one transaction, wake the
    runner. Nothing is stored when anything is refused."""
    base = data.base()
    validate_catalog(user, base)
    seed = data.seed if data.seed is not None else random.SystemRandom().randrange(2**31)
    requests = member_requests(data, seed)
    await check_daily_quota(session, user, data.count)
    avoid = list(await names_to_avoid(session, user.id))
    shares = await shares_for(session, base)
    await release_connection(session)
    personas, jobs = [], []
    for request in requests:
        persona, job = new_persona(user, request, avoid, shares=shares if request.setting_type != "input" else None)
        avoid.append(persona.name)
        personas.append(persona)
        jobs.append(job)
    catalog = get_catalog()
    complaint = catalog.chief_complaint(data.chief_complaint)
    department = catalog.department(data.department)
    persona_set = PersonaSet(
        id=new_set_id(), owner_id=user.id,
        title=f"{complaint.name if complaint else data.chief_complaint}（{department.name if department else ''}）"
              f"・{VARY_LABELS[data.vary]}別 {data.count}人",
        department_id=data.department, chief_complaint_id=data.chief_complaint, purpose_id=data.purpose,
        vary=data.vary, count=data.count, request={**data.model_dump(exclude_none=True, mode="json"), "seed": seed},
        persona_ids=[p.id for p in personas],
    )
    rows = [persona_set, *personas, *jobs, *(first_event(job) for job in jobs)]
    runtime = local_runtime(settings)
    if runtime is not None:
        # The worker's group insert (the path of POST /api/personas): one transaction, tables in foreign-key order.
        await runtime.inserter.insert(rows)
    else:
        async with write_lock(session.bind):
            # Parents before children (no ORM relationships order them): set and personas, jobs, first events.
            session.add_all(rows[:1 + len(personas)])
            await session.flush()
            session.add_all(jobs)
            await session.flush()
            session.add_all(rows[1 + len(personas) + len(jobs):])
            await session.commit()
    wake_local_runners(settings)
    log.info("persona set %s: %d members queued", persona_set.id, len(personas))
    return persona_set


async def get_set(session: AsyncSession, user: User, set_id: str) -> PersonaSet:
    """The set if the user owns it (admins: any); 404 otherwise (no existence leak)."""
    return await owned_or_404(session, PersonaSet, set_id, user, message=NOT_FOUND_MESSAGE, code="set_not_found")


async def members_of(session: AsyncSession, persona_set: PersonaSet) -> list[Persona | None]:
    """The member personas in set order (None for a member deleted since)."""
    ids = list(persona_set.persona_ids or [])
    rows = {p.id: p for p in await session.scalars(select(Persona).where(Persona.id.in_(ids)))} if ids else {}
    return [rows.get(pid) for pid in ids]


def key_line(text: str) -> str:
    """The first sentence of a section, shortened: what the side-by-side view shows."""
    text = (text or "").strip()
    match = re.match(r"(.+?[。！？])", text)
    line = match.group(1) if match else text
    return line if len(line) <= KEY_LINE_MAX else line[:KEY_LINE_MAX - 1] + "…"


def member_to_api(persona: Persona) -> dict[str, Any]:
    """A member: its card, how far its generation is, the key line of each section."""
    sections = persona.sections or {}
    return {
        **persona_card(persona),
        "sections_done": sum(1 for s in PERSONA_SECTIONS if sections.get(s.key)),
        "sections_total": len(PERSONA_SECTIONS),
        "key_lines": {s.key: key_line(sections[s.key]) for s in PERSONA_SECTIONS if sections.get(s.key)},
        "error": persona.error,
        "events_url": f"/api/personas/{persona.id}/events",
    }


def derived_status(members: list[Persona | None]) -> str:
    statuses = [m.status for m in members if m is not None]
    if not statuses:
        return "failed"
    if all(s == "queued" for s in statuses):
        return "queued"
    if any(s in ("queued", "running") for s in statuses):
        return "running"
    if all(s == "done" for s in statuses):
        return "done"
    return "failed" if all(s == "failed" for s in statuses) else "partial"


def set_to_api(persona_set: PersonaSet, members: list[Persona | None]) -> dict[str, Any]:
    catalog = get_catalog()
    status = derived_status(members)
    department = catalog.department(persona_set.department_id)
    complaint = catalog.chief_complaint(persona_set.chief_complaint_id)
    purpose = catalog.purpose(persona_set.purpose_id)
    personas = []
    for pid, member in zip(persona_set.persona_ids or [], members, strict=True):
        personas.append(member_to_api(member) if member is not None else
                        {"id": pid, "status": "deleted", "status_label": "削除済み", "name": ""})
    return {
        "id": persona_set.id,
        "title": persona_set.title,
        "status": status,
        "status_label": SET_STATUS_LABELS[status],
        "owner_id": persona_set.owner_id,
        "count": persona_set.count,
        "vary": persona_set.vary,
        "vary_label": VARY_LABELS.get(persona_set.vary, persona_set.vary),
        "department": {"id": persona_set.department_id, "name": department.name if department else ""},
        "chief_complaint": {"id": persona_set.chief_complaint_id, "name": complaint.name if complaint else ""},
        "purpose": {"id": persona_set.purpose_id, "name": purpose.name if purpose else ""},
        "persona_ids": list(persona_set.persona_ids or []),
        "personas": personas,
        "done_count": sum(1 for p in personas if p["status"] == "done"),
        "comparison": {"columns": [{"id": p["id"], "name": p["name"]} for p in personas if p["status"] != "deleted"],
                       "rows": [{"label": label, "values": values} for label, values in comparison_rows(personas)]},
        "created_at": iso(persona_set.created_at),
        "events_url": f"/api/persona-sets/{persona_set.id}/events",
    }


def comparison_rows(members: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The comparison table (label, one value per member): profile rows, then each section's key line."""
    live = [m for m in members if m.get("status") != "deleted"]
    rows = [(label, [str(m.get(key) or "") for m in live]) for label, key in PROFILE_ROWS]
    if any(m.get("guardian") for m in live):  # children (or dependent elderly) in the set: who decides for them
        rows.insert(len(PROFILE_ROWS) - 1, ("保護者", [str(m.get("guardian") or "") for m in live]))
    rows += [(spec.label, [m.get("key_lines", {}).get(spec.key, "") for m in live]) for spec in PERSONA_SECTIONS]
    return rows


async def list_sets(session: AsyncSession, user: User, *, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """Own sets, newest first (admins: everyone's), each with its members' state."""
    query = select(PersonaSet)
    if not user.is_admin:
        query = query.where(PersonaSet.owner_id == user.id)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    sets = list(await session.scalars(query.order_by(PersonaSet.created_at.desc(), PersonaSet.id)
                                      .offset((page - 1) * per_page).limit(per_page)))
    ids = [pid for s in sets for pid in (s.persona_ids or [])]
    rows = {p.id: p for p in await session.scalars(select(Persona).where(Persona.id.in_(ids)))} if ids else {}
    items = []
    for s in sets:
        data = set_to_api(s, [rows.get(pid) for pid in s.persona_ids or []])
        items.append({k: data[k] for k in ("id", "title", "status", "status_label", "count", "vary_label",
                                            "department", "chief_complaint", "done_count", "created_at",
                                            "owner_id")}
                     | {"names": [p["name"] for p in data["personas"] if p.get("name")]})
    return {"items": items, "total": total, "page": page, "per_page": per_page,
            "pages": max(1, -(-total // per_page))}


async def delete_set(session: AsyncSession, user: User, set_id: str) -> None:
    """Delete the set (the grouping); its personas stay in the history."""
    persona_set = await get_set(session, user, set_id)
    await release_connection(session)
    async with write_lock(session.bind):
        await session.execute(sa_delete(PersonaSet).where(PersonaSet.id == persona_set.id))
        await session.commit()
