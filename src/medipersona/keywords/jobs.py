"""The timeline-analysis job (kind ``timeline_analysis``), built on the durable jobs framework.

Flow: ``POST /api/personas/{id}/timeline-analysis`` → ``enqueue_timeline_analysis`` (persona.timeline_status =
queued, a Job row) → the runner calls ``run_timeline_analysis``: timeline from the keyword store → context
(``analysis.build_context``) → ``generate_structured(..., TimelineAnalysis)`` through the provider layer, text
streamed as ``delta`` events {"section": psychology|hidden_needs|marketing, "text", "offset"} → ``done`` with
the analysis; persona.timeline_analysis/timeline_status are written in the same fenced transaction.
Events: ``GET /api/personas/{id}/timeline-analysis/events`` (jobs/sse.py wire format).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.db import utcnow
from medipersona.errors import Conflict, NotFound
from medipersona.jobs.registry import JobContext, JobFailed, job_handler
from medipersona.keywords.analysis import ANALYSIS_HEADINGS, TimelineAnalysis, build_context, build_request
from medipersona.personas.models import Persona

log = logging.getLogger("medipersona.keywords")

KIND = "timeline_analysis"


async def load_persona_for(session: AsyncSession, persona_id: str, user) -> Persona:
    """The persona if the user owns it (admins: any); 404 otherwise (no existence leak)."""
    persona = await session.get(Persona, persona_id) if len(persona_id) <= 32 else None
    if persona is None or (persona.owner_id != user.id and not user.is_admin):
        raise NotFound("ペルソナが見つかりません。", code="persona_not_found")
    return persona


def persona_age_gender(persona: Persona) -> tuple[int | None, str | None]:
    profile = persona.profile or {}
    age = profile.get("age")
    if isinstance(age, str) and age.isdigit():
        age = int(age)
    return (age if isinstance(age, int) and not isinstance(age, bool) else None), profile.get("gender")


async def latest_timeline_job(session: AsyncSession, persona_id: str):
    from medipersona.jobs.models import Job

    return (await session.scalars(
        select(Job).where(Job.persona_id == persona_id, Job.kind == KIND).order_by(Job.created_at.desc()).limit(1)
    )).first()


def stored_state_events(persona: Persona) -> list[tuple[str, Any]]:
    """Events describing a persona's stored analysis when no job exists."""
    if persona.timeline_status == "done" and persona.timeline_analysis:
        return [("done", {"analysis": persona.timeline_analysis})]
    if persona.timeline_status == "failed":
        error = (persona.timeline_analysis or {}).get("error") or {
            "code": "timeline_failed", "message": "タイムライン分析に失敗しました。"}
        return [("error", error)]
    return [("error", {"code": "no_analysis", "message": "タイムライン分析はまだ実行されていません。"})]


async def enqueue_timeline_analysis(session: AsyncSession, persona_id: str, user) -> tuple[Any, bool]:
    """(job, created). A queued/running analysis of the persona is returned instead of a second one."""
    from medipersona.jobs.service import active_job_for_persona, enqueue

    persona = await load_persona_for(session, persona_id, user)
    if persona.status != "done":
        raise Conflict("ペルソナの生成が完了してからタイムライン分析を実行してください。", code="persona_not_ready")
    active = await active_job_for_persona(session, persona.id, (KIND,))
    if active is not None:
        return active, False
    job = await enqueue(session, KIND, persona.id, {}, owner_id=user.id)
    persona.timeline_status = "queued"
    await session.commit()
    return job, True


def _apply_status(persona_id: str, values: dict[str, Any]):
    async def apply(tx) -> None:
        await tx.session.execute(
            update(Persona).where(Persona.id == persona_id).values(**values)
            .execution_options(synchronize_session=False)
        )

    return apply


async def mark_timeline_failed(tx, ctx: JobContext, error: dict[str, str]) -> None:
    """Status failed with the error; a previous analysis (from an earlier run) is kept next to it."""
    previous = await tx.session.scalar(select(Persona.timeline_analysis).where(Persona.id == ctx.persona_id))
    kept = {k: v for k, v in (previous or {}).items() if k != "error"}
    await tx.session.execute(
        update(Persona).where(Persona.id == ctx.persona_id)
        .values(timeline_status="failed", timeline_analysis={**kept, "error": error}, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@job_handler(KIND, on_failure=mark_timeline_failed)
async def run_timeline_analysis(ctx: JobContext) -> None:
    from medipersona.admin import service as admin
    from medipersona.keywords import store
    from medipersona.providers.base import ProviderError
    from medipersona.providers.structured import generate_structured

    async with ctx.session() as session:
        persona = await session.get(Persona, ctx.persona_id) if ctx.persona_id else None
        if persona is None:
            raise JobFailed("ペルソナが見つかりません。削除された可能性があります。", code="persona_not_found")
        age, gender = persona_age_gender(persona)
        timeline = await store.timeline(session, persona.department_id, persona.chief_complaint_id,
                                        gender=gender, age=age)
        if timeline is None or not timeline["series"]:
            raise JobFailed("この主訴（または診療科）に使えるキーワードデータがないため、タイムライン分析を実行"
                            "できません。", code="no_keyword_data")
        context = build_context(persona, timeline)
        seed = persona.seed
        model, addendum = await admin.task_options(session, ctx.settings, KIND)
    ctx.emit("status", {"status": "running", "task": KIND})
    await ctx.write(_apply_status(ctx.persona_id, {"timeline_status": "running", "updated_at": utcnow()}))

    sent: dict[str, int] = {}

    def on_progress(partial: dict[str, Any]) -> None:
        for key, _heading in ANALYSIS_HEADINGS:
            text = partial.get(key)
            if not isinstance(text, str):
                continue
            done = sent.get(key, 0)
            if len(text) > done:
                ctx.emit_delta(key, text[done:])
                sent[key] = len(text)

    try:
        result, meta = await generate_structured(ctx.settings, build_request(context, seed, model, addendum),
                                                 TimelineAnalysis,
                                                 on_progress=on_progress)
    except ProviderError as exc:
        raise JobFailed(str(exc) or "AIによる分析に失敗しました。時間をおいてもう一度お試しください。",
                        code=exc.code) from None

    analysis = result.model_dump()
    analysis["meta"] = {
        "provider": meta.get("provider"),
        "model": meta.get("model"),
        "label": meta.get("label"),
        "is_offline": meta.get("is_offline"),
        "is_sample_data": context["dataset"]["is_sample"],
        "keyword_count": context["summary"]["total"],
        "generated_at": utcnow().isoformat(),
    }
    await ctx.finish(
        apply=_apply_status(ctx.persona_id, {"timeline_status": "done", "timeline_analysis": analysis,
                                             "updated_at": utcnow()}),
        data={"analysis": analysis},
    )
