"""Interview logic without HTTP: start an interview with a finished persona, ask a question (stored with its
answer job in one transaction), read, list, delete; suggested questions per purpose.

A question is kept only if it gets an answer: when the answer job fails, the question is removed in the same
transaction and the interview remembers the failure (``last_error`` with the question, so the page can offer it
again). One answer at a time per interview: a second question while one is answered is refused (409).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import User
from medipersona.catalog.service import get_catalog
from medipersona.db import utcnow
from medipersona.errors import Conflict, NotFound
from medipersona.interviews.models import Interview, InterviewMessage, new_interview_id
from medipersona.jobs.dblock import write_lock
from medipersona.jobs.lifecycle import wake_local_runners
from medipersona.jobs.models import Job
from medipersona.jobs.service import first_event, new_job
from medipersona.personas.checks import require_section
from medipersona.personas.models import Persona
from medipersona.personas.service import get_persona, release_connection
from medipersona.quota import check_daily_quota
from medipersona.records import iso, owned_or_404
from medipersona.settings import Settings

log = logging.getLogger("medipersona.interviews")

ANSWER_KIND = "interview_answer"
NOT_FOUND_MESSAGE = "インタビューが見つかりません。"
TITLE_MAX = 60
NOT_READY_MESSAGE = "ペルソナの生成が完了していないため、まだインタビューできません。完成してからもう一度お試しください。"



@lru_cache(maxsize=1)
def _suggestion_data() -> dict[str, list[str]]:
    raw = json.loads(resources.files("medipersona.interviews").joinpath("data/suggestions.json").read_text("utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def suggestions_for(persona: Persona) -> list[str]:
    """Suggested questions for the persona's purpose (作成目的), its chief complaint filled in."""
    data = _suggestion_data()
    complaint = get_catalog().chief_complaint(persona.chief_complaint_id)
    name = complaint.name if complaint else "今の症状"
    return [q.replace("{complaint}", name) for q in data.get(persona.purpose_id, []) + data.get("common", [])]


def _usable_persona(user: User, persona: Persona) -> None:
    """The persona may be interviewed: the user may use its department (403) and it is finished (409)."""
    require_section(user, persona.department_id)
    if persona.status != "done":
        raise Conflict(NOT_READY_MESSAGE, code="persona_not_ready")


async def create_interview(session: AsyncSession, user: User, persona_id: str) -> Interview:
    persona = await get_persona(session, user, persona_id)  # 404 unless the owner or an admin
    _usable_persona(user, persona)
    interview = Interview(id=new_interview_id(), persona_id=persona.id, owner_id=user.id, title="", status="idle")
    await release_connection(session)
    async with write_lock(session.bind):
        session.add(interview)
        await session.commit()
    return interview


async def get_interview(session: AsyncSession, user: User, interview_id: str) -> Interview:
    """The interview if the user owns it (admins: any); 404 otherwise (no existence leak)."""
    return await owned_or_404(session, Interview, interview_id, user, message=NOT_FOUND_MESSAGE, code="interview_not_found")


async def messages_of(session: AsyncSession, interview_id: str) -> list[InterviewMessage]:
    return list(await session.scalars(select(InterviewMessage).where(InterviewMessage.interview_id == interview_id)
                                      .order_by(InterviewMessage.id)))


def message_to_api(message: InterviewMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"id": message.id, "role": message.role, "text": message.text,
                           "created_at": iso(message.created_at)}
    if message.role == "persona":
        meta = message.meta or {}
        out["is_offline"] = bool(meta.get("is_offline"))
        out["label"] = meta.get("label", "")
    return out


def interview_to_api(interview: Interview, persona: Persona, messages: list[InterviewMessage]) -> dict[str, Any]:
    return {
        "id": interview.id,
        "persona_id": interview.persona_id,
        "persona": {"id": persona.id, "name": persona.name, "status": persona.status,
                    "url": f"/personas/{persona.id}"},
        "title": interview.title,
        "status": interview.status,
        "messages": [message_to_api(m) for m in messages],
        "last_error": interview.last_error,
        "suggestions": suggestions_for(persona),
        "owner_id": interview.owner_id,
        "created_at": iso(interview.created_at),
        "updated_at": iso(interview.updated_at),
        "events_url": f"/api/interviews/{interview.id}/events",
    }


async def ask(session: AsyncSession, settings: Settings, user: User, interview_id: str, text: str
              ) -> tuple[Interview, InterviewMessage, Job]:
    """Store the question and its answer job (one transaction) and wake the runner. 409 while an answer is
    being written or the persona is not finished; 429 over the daily quota."""
    interview = await get_interview(session, user, interview_id)
    persona = await session.get(Persona, interview.persona_id)
    if persona is None:
        raise NotFound("ペルソナが見つかりません。削除された可能性があります。", code="persona_not_found")
    _usable_persona(user, persona)
    if interview.status == "answering":
        raise Conflict("前の質問への回答を作成中です。回答が表示されてから次の質問を送ってください。", code="answering")
    await check_daily_quota(session, user, 1)
    await release_connection(session)
    now = utcnow()
    job = new_job(ANSWER_KIND, persona.id, {"interview_id": interview.id}, owner_id=user.id)
    question = InterviewMessage(interview_id=interview.id, role="user", text=text, meta={"job_id": job.id},
                                created_at=now)
    title = interview.title or (text if len(text) <= TITLE_MAX else text[:TITLE_MAX - 1] + "…")
    async with write_lock(session.bind):
        # Only an idle interview takes a question: two questions sent at once cannot both start an answer.
        claimed = await session.execute(
            update(Interview).where(Interview.id == interview.id, Interview.status == "idle")
            .values(status="answering", current_job_id=job.id, title=title, last_error=None, updated_at=now)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
            await session.rollback()
            raise Conflict("前の質問への回答を作成中です。回答が表示されてから次の質問を送ってください。",
                           code="answering")
        session.add(question)
        await session.flush()
        job.payload = {"interview_id": interview.id, "message_id": question.id}
        session.add(job)
        await session.flush()
        session.add(first_event(job))
        await session.commit()
    wake_local_runners(settings)
    await session.refresh(interview)
    return interview, question, job


async def list_for_persona(session: AsyncSession, user: User, persona_id: str) -> list[dict[str, Any]]:
    """The persona's interviews (the user's own; admins: all), most recently used first."""
    await get_persona(session, user, persona_id)
    query = (select(Interview, func.count(InterviewMessage.id))
             .outerjoin(InterviewMessage, InterviewMessage.interview_id == Interview.id)
             .where(Interview.persona_id == persona_id).group_by(Interview.id)
             .order_by(Interview.updated_at.desc(), Interview.id))
    if not user.is_admin:
        query = query.where(Interview.owner_id == user.id)
    return [{"id": i.id, "title": i.title or "（質問はまだありません）", "status": i.status, "message_count": count,
             "created_at": iso(i.created_at), "updated_at": iso(i.updated_at), "url": f"/interviews/{i.id}"}
            for i, count in (await session.execute(query)).all()]


async def delete_interview(session: AsyncSession, user: User, interview_id: str) -> str:
    """Delete the interview, its messages and its answer jobs (their events go with them). Returns the persona
    id."""
    interview = await get_interview(session, user, interview_id)
    job_ids = {str((m.meta or {}).get("job_id")) for m in await messages_of(session, interview.id)
               if m.role == "user" and (m.meta or {}).get("job_id")}
    if interview.current_job_id:
        job_ids.add(interview.current_job_id)
    persona_id = interview.persona_id
    await release_connection(session)
    async with write_lock(session.bind):
        if job_ids:
            await session.execute(sa_delete(Job).where(Job.id.in_(sorted(job_ids))))
        await session.execute(sa_delete(Interview).where(Interview.id == interview_id))
        await session.commit()
    return persona_id
