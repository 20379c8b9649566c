"""The timeline-analysis job (kind ``timeline_analysis``), built on the durable jobs framework.

Flow: ``POST /api/personas/{id}/timeline-analysis`` → ``enqueue_timeline_analysis`` (persona.timeline_status =
queued, a Job row) → the runner calls ``run_timeline_analysis``: timeline from the keyword store → context
(``analysis.build_context``) → ``generate_structured(..., TimelineAnalysis)`` through the provider layer, text
streamed as ``delta`` events {"section": psychology|hidden_needs|marketing, "text", "offset"} → ``done`` with
the analysis; persona.timeline_analysis/timeline_status are written in the same fenced transaction.
Events: ``GET /api/personas/{id}/timeline-analysis/events`` (jobs/sse.py wire format).

Every generation runs one too, inside its own job and beside the persona text (``analyse_with_generation``),
when the complaint has keyword data for the persona: the page and the exports always have it. Its events go
into the generation job's stream as ``analysis_status`` / ``analysis_delta`` / ``analysis_done`` /
``analysis_error``; the analysis's events endpoint shows them as its own (``generation_view``). No extra job,
claim or read of the persona. When the filters leave no rows, no analysis is made (the status stays ``idle``).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.db import utcnow
from medipersona.errors import Conflict, NotFound
from medipersona.jobs.registry import JobContext, JobFailed, LeaseLost, job_handler
from medipersona.keywords.analysis import ANALYSIS_HEADINGS, TimelineAnalysis, build_context, build_request
from medipersona.personas.models import Persona

log = logging.getLogger("medipersona.keywords")

KIND = "timeline_analysis"


async def load_persona_for(session: AsyncSession, persona_id: str, user, *, act: bool = False) -> Persona:
    """The persona if the user owns it (admins: any); 404 otherwise (no existence leak). ``act``: an analysis
    or a chart, which also needs the persona's section among the user's current ones (403)."""
    persona = await session.get(Persona, persona_id) if len(persona_id) <= 32 else None
    if persona is None or (persona.owner_id != user.id and not user.is_admin):
        raise NotFound("ペルソナが見つかりません。", code="persona_not_found")
    if act:
        from medipersona.personas.checks import require_section

        require_section(user, persona.department_id)
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

    persona = await load_persona_for(session, persona_id, user, act=True)
    if persona.status != "done":
        raise Conflict("ペルソナの生成が完了してからタイムライン分析を実行してください。", code="persona_not_ready")
    active = await active_job_for_persona(session, persona.id, (KIND,))
    if active is not None:
        return active, False
    from medipersona.quota import check_daily_quota

    await check_daily_quota(session, user, 1)
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


class _Analysis:
    """One analysis run: streams its three texts through the job's events, returns the stored form."""

    def __init__(self, ctx: JobContext, persona: Persona, timeline: dict[str, Any], *, delta_event: str,
                 status_event: str) -> None:
        self.ctx = ctx
        self.context = build_context(persona, timeline)
        self.seed = persona.seed
        self.delta_event = delta_event
        self.status_event = status_event
        self.sent: dict[str, int] = {}

    def on_progress(self, partial: dict[str, Any]) -> None:
        for key, _heading in ANALYSIS_HEADINGS:
            text = partial.get(key)
            if isinstance(text, str) and len(text) > self.sent.get(key, 0):
                self.ctx.emit_delta(key, text[self.sent.get(key, 0):], event_type=self.delta_event)
                self.sent[key] = len(text)

    def restart(self, _exc=None, _attempt=0, _delay=0.0) -> None:
        self.sent.clear()
        self.ctx.runtime.writer.forget(self.ctx.job_id, self.ctx.attempt, ANALYSIS_KEYS)
        self.ctx.emit(self.status_event, {"status": "running", "task": KIND, "restart": True})

    async def run(self, route, addendum: str) -> dict[str, Any]:
        """The analysis (with ``meta``); ProviderError when it still fails at the job's deadline."""
        from medipersona.providers.steps import with_step_retries
        from medipersona.providers.structured import generate_structured

        request = build_request(self.context, self.seed, route.model, addendum)

        async def analyse(_attempt: int):
            return await generate_structured(self.ctx.settings, request, TimelineAnalysis,
                                             on_progress=self.on_progress, route=route)

        result, meta = await with_step_retries(KIND, analyse, deadline=self.ctx.deadline, on_retry=self.restart)
        analysis = result.model_dump()
        analysis["meta"] = {
            "provider": meta.get("provider"),
            "model": meta.get("model"),
            "label": meta.get("label"),
            "is_offline": meta.get("is_offline"),
            "is_sample_data": self.context["dataset"]["is_sample"],
            "keyword_count": self.context["summary"]["total"],
            "generated_at": utcnow().isoformat(),
        }
        return analysis


ANALYSIS_KEYS = tuple(key for key, _heading in ANALYSIS_HEADINGS)


async def _timeline_of(session, persona: Persona) -> dict[str, Any] | None:
    from medipersona.keywords import store

    age, gender = persona_age_gender(persona)
    timeline = await store.timeline(session, persona.department_id, persona.chief_complaint_id,
                                    gender=gender, age=age)
    return timeline if timeline is not None and timeline["series"] else None


@job_handler(KIND, on_failure=mark_timeline_failed)
async def run_timeline_analysis(ctx: JobContext) -> None:
    from medipersona.admin import service as admin
    from medipersona.providers.base import ProviderError

    async with ctx.session() as session:
        persona = await session.get(Persona, ctx.persona_id) if ctx.persona_id else None
        if persona is None:
            raise JobFailed("ペルソナが見つかりません。削除された可能性があります。", code="persona_not_found")
        timeline = await _timeline_of(session, persona)
        if timeline is None:
            raise JobFailed(NO_DATA_MESSAGE, code="no_keyword_data")
        route, addendum = await admin.task_options(session, ctx.settings, KIND)
    ctx.emit("status", {"status": "running", "task": KIND})
    await ctx.write(_apply_status(ctx.subject_id, {"timeline_status": "running", "updated_at": utcnow()}))
    try:
        analysis = await _Analysis(ctx, persona, timeline, delta_event="delta", status_event="status").run(
            route, addendum)
    except ProviderError as exc:
        raise JobFailed(str(exc) or "AIによる分析に失敗しました。時間をおいてもう一度お試しください。",
                        code=exc.code) from None
    await ctx.finish(
        apply=_apply_status(ctx.subject_id, {"timeline_status": "done", "timeline_analysis": analysis,
                                             "updated_at": utcnow()}),
        data={"analysis": analysis},
    )


NO_DATA_MESSAGE = "この主訴（または診療科）に使えるキーワードデータがないため、タイムライン分析を実行できません。"

# The analysis a generation runs beside the persona text: its events in the generation job's stream.
GENERATION_EVENTS = {"analysis_status": "status", "analysis_delta": "delta", "analysis_done": "done",
                     "analysis_error": "error"}


def generation_view(type: str, data: Any) -> tuple[str, Any] | None:
    """The timeline analysis's events within a generation job's stream, as the analysis's own stream shows
    them (jobs.sse ``view``). A generation that failed before its analysis ended ends the analysis too."""
    if type in GENERATION_EVENTS:
        return GENERATION_EVENTS[type], data
    if type == "error":
        return "error", {"code": "generation_failed",
                         "message": "ペルソナの生成に失敗したため、タイムライン分析は完了しませんでした。"}
    return None


async def analyse_with_generation(ctx: JobContext, persona: Persona) -> None:
    """Run the timeline analysis inside a generation job (beside the text and the portrait), when the
    complaint has keyword data for this persona (a persona written again from a changed profile gets a new
    analysis too). Writes go with the job's batches; a failure is stored on the persona (it never fails the
    generation)."""
    from medipersona.admin import service as admin
    from medipersona.providers.base import ProviderError

    await ctx.turn()
    async with ctx.session() as session:
        timeline = await _timeline_of(session, persona)
        if timeline is None:
            return
        route, addendum = await admin.task_options(session, ctx.settings, KIND)
    ctx.patch(Persona, ctx.subject_id, timeline_status="running", updated_at=utcnow())
    ctx.emit("analysis_status", {"status": "running", "task": KIND})
    try:
        analysis = await _Analysis(ctx, persona, timeline, delta_event="analysis_delta",
                                   status_event="analysis_status").run(route, addendum)
    except (ProviderError, Exception) as exc:
        if isinstance(exc, LeaseLost):
            raise
        if not isinstance(exc, ProviderError):
            log.exception("timeline analysis failed inside generation %s", ctx.job_id)
        error = {"code": getattr(exc, "code", "internal_error"),
                 "message": getattr(exc, "message", "") or "AIによる分析に失敗しました。"}
        ctx.patch(Persona, ctx.subject_id, timeline_status="failed", timeline_analysis={"error": error},
                  updated_at=utcnow())
        ctx.emit("analysis_error", error)
        return
    ctx.patch(Persona, ctx.subject_id, timeline_status="done", timeline_analysis=analysis, updated_at=utcnow())
    ctx.emit("analysis_done", {"analysis": analysis})
