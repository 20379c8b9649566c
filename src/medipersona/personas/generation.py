"""The persona generation job: the portrait starts first, the text as soon as the portrait's request is sent
(at most ``PORTRAIT_HEAD_START_MAX`` later), text streamed as it is written.

Events (see jobs/sse.py for the wire format):
- ``status``  {"status": "running", "attempt": n} at each (re)start — clients drop partial text then;
  {"status": "running", "restart": true} when the model is asked again (invalid output).
- ``delta``   {"section", "text", "offset", "section_index", "sections_total", "chars", "target"}
- ``section`` {"key", "label", "text"} when a section is complete (and stored)
- ``image``   {"status": "done", "url"}, {"status": "failed", "message"} or {"status": "none", "message"} (画像なし)
- ``done``    {"status": "done", "sections": {...}, "image_status", "error"?}  /  ``error`` {"code", "message"}

Faults are absorbed in layers: each provider call is retried a few times (``providers.calls``: Retry-After,
circuit breaker, fallback provider); a step that still fails with a temporary error (429, 5xx, timeout) is tried
again with backoff until the job's deadline (``with_step_retries``; the text restarts, the page is told); a
worker that dies mid-job hands the job to another (leases). A portrait failure does not fail the persona (status
done, ``error`` notes the image). A text failure fails the persona with a Japanese message (the page offers
「もう一度生成する」); blank sections are never reported as done.

When the complaint has keyword data the timeline analysis runs beside the text in the same job (its events
are ``analysis_*``, see ``personas/timeline.py``); the job is done when the text, the portrait and the analysis are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import case, select, update

from medipersona.catalog.labels import PERSONA_SECTIONS, SECTION_KEYS, SECTION_LABELS
from medipersona.catalog.service import get_catalog
from medipersona.db import utcnow
from medipersona.jobs.registry import JobContext, JobFailed, job_handler
from medipersona.jobs.write_ops import WriteTx
from medipersona.ops import metrics
from medipersona.personas.models import Persona
from medipersona.personas.portrait_step import make_portrait
from medipersona.personas.prompt import (
    PersonaText,
    PromptInputs,
    SectionText,
    build_section_request,
    build_text_request,
    default_section_lengths,
)
from medipersona.personas.timeline import analyse_with_generation
from medipersona.providers.base import ProviderError

log = logging.getLogger("medipersona.personas")

KEYWORD_LIMIT = 15
# The text and the analysis wait (at most this long) until the portrait's request is sent: the portrait is the
# longest call, and the text's preparation for a burst's 200 jobs, run first, held the portrait requests back
# by a second (their connections are only completed between the event loop's turns).
PORTRAIT_HEAD_START_MAX = 1.0
# Streamed text is looked at (partial JSON parsed) at most this often per job; matches the event coalescing.
PROGRESS_INTERVAL = 0.15


async def section_lengths(session) -> dict[str, int]:
    """Per-section target lengths: the admin's settings (admin domain), else the defaults."""
    return (await admin_config(session, None))["lengths"]


async def admin_config(session, settings) -> dict[str, Any]:
    """What an admin configured for persona generation: section lengths, the text route (provider, model,
    fallback) and extra instructions. Falls back to the defaults (and the environment's providers) when the
    admin settings are unreadable."""
    from medipersona.admin import service as admin

    config: dict[str, Any] = {"lengths": default_section_lengths(), "route": None, "addendum": ""}
    try:
        configured = await admin.get_section_lengths(session)
        config["lengths"].update({k: int(v) for k, v in (configured or {}).items() if k in config["lengths"]})
    except Exception:
        log.exception("reading admin settings failed; using defaults")
    if settings is not None:
        config["route"], config["addendum"] = await admin.task_options(session, settings, "persona_text")
    return config


def prompt_inputs(persona: Persona, avoid_names: list[str] | None = None) -> PromptInputs:
    catalog = get_catalog()
    department = catalog.department(persona.department_id)
    complaint = catalog.chief_complaint(persona.chief_complaint_id)
    purpose = catalog.purpose(persona.purpose_id)
    if department is None or complaint is None or purpose is None:
        raise JobFailed("ペルソナの条件（診療科・主訴・作成目的）がカタログに見つかりません。", code="catalog_missing")
    pt = catalog.patient_type(persona.patient_type_id) if persona.patient_type_id else None
    return PromptInputs(
        department=department,
        chief_complaint=complaint,
        purpose=purpose,
        patient_type=pt,
        profile=dict(persona.profile or {}),
        extras=dict(persona.extras or {}),
        extra_fields=list(persona.extra_fields or []),
        avoid_names=list(avoid_names or []),
        generate_name=not bool((persona.profile or {}).get("name")),
    )


async def _load(ctx: JobContext, *, with_keywords: bool = False):
    """The persona, the admin's generation settings and (optionally) the keywords for its prompt, with one
    session."""
    # A job started by the request that created the persona gets the object it inserted: no read back.
    persona = ctx.preloaded.get("persona") if ctx.attempt == 1 else None
    async with ctx.session() as session:
        if persona is None:
            persona = await session.get(Persona, ctx.persona_id)
            if persona is None:
                raise JobFailed("ペルソナが見つかりません。削除された可能性があります。", code="persona_missing")
            session.expunge(persona)
        config = await admin_config(session, ctx.settings)
        keywords = await _keywords(session, persona) if with_keywords else []
    return persona, config, keywords


async def _keywords(session, persona: Persona) -> list[dict[str, Any]]:
    from medipersona.keywords.hygiene import clean_rows
    from medipersona.keywords.lookup import top_keywords_for_prompt

    profile = persona.profile or {}
    try:
        # twice the limit: look-up searches (「ニキビ 英語」) are dropped before the prompt (keywords/hygiene.py)
        rows = await top_keywords_for_prompt(session, persona.department_id, persona.chief_complaint_id,
                                             profile.get("age"), profile.get("gender"), limit=KEYWORD_LIMIT * 2)
    except Exception:
        log.exception("keyword lookup failed for persona %s", persona.id)
        return []
    return [dict(r) for r in clean_rows(rows or [])[:KEYWORD_LIMIT]]


class SectionStreamer:
    """Turns progress snapshots ({key: partial text}) into coalesced ``delta`` and ``section`` events."""

    def __init__(self, ctx: JobContext, lengths: dict[str, int], keys: tuple[str, ...] = SECTION_KEYS,
                 on_complete=None) -> None:
        self.ctx = ctx
        self.lengths = lengths
        self.keys = keys
        self.sent: dict[str, str] = {}
        self.completed: dict[str, str] = {}
        self.on_complete = on_complete
        self.first_progress: float | None = None

    def __call__(self, snapshot: dict[str, Any]) -> None:
        if self.first_progress is None:
            self.first_progress = time.monotonic()
        present = [k for k in snapshot if k in self.keys and isinstance(snapshot[k], str)]
        # A re-ask restarts the answer: the text no longer extends what was sent.
        if any(not snapshot[k].startswith(self.sent.get(k, "")) for k in present) or (
            self.sent and not present
        ):
            self.restart()
        for index, key in enumerate(present):
            text = snapshot[key]
            prev = self.sent.get(key, "")
            if len(text) > len(prev):
                self.ctx.emit_delta(key, text[len(prev):], section_index=SECTION_KEYS.index(key) + 1
                                    if key in SECTION_KEYS else 1, sections_total=len(self.keys), chars=len(text),
                                    target=self.lengths.get(key, 0))
                self.sent[key] = text
            if index < len(present) - 1 and key not in self.completed and text.strip():
                self.complete(key, text)

    def restart(self) -> None:
        self.ctx.runtime.writer.forget(self.ctx.job_id, self.ctx.attempt, self.keys)
        self.ctx.emit("status", {"status": "running", "attempt": self.ctx.attempt, "restart": True})
        self.sent.clear()
        self.completed.clear()

    def complete(self, key: str, text: str) -> None:
        text = text.strip()
        self.completed[key] = text
        self.ctx.emit("section", {"key": key, "label": SECTION_LABELS.get(key, key), "text": text})
        if self.on_complete is not None:
            self.on_complete(key, text)


async def _mark_failed(tx: WriteTx, ctx: JobContext, error: dict[str, str]) -> None:
    # An analysis that was running beside the text stopped with it: not "running" for ever.
    timeline = case((Persona.timeline_status.in_(("queued", "running")), "idle"), else_=Persona.timeline_status)
    await tx.session.execute(
        update(Persona).where(Persona.id == ctx.persona_id)
        .values(status="failed", error=dict(error), finished_at=utcnow(), updated_at=utcnow(),
                timeline_status=timeline)
        .execution_options(synchronize_session=False)
    )


def _step_failed_message(exc: ProviderError) -> str:
    again = "時間をおいて「もう一度生成する」を押してください。" if exc.retryable else ""
    return f"ペルソナの文章を生成できませんでした。{exc.message}{again}"


@job_handler("persona_generate", on_failure=_mark_failed, max_attempts=3)
async def generate_persona(ctx: JobContext) -> None:
    metrics.generation_started()
    outcome = "failed"
    try:
        await _generate(ctx)
        outcome = "done"
    finally:
        metrics.generation_finished(outcome)


async def _generate(ctx: JobContext) -> None:
    from medipersona.providers.steps import with_step_retries
    from medipersona.providers.structured import generate_structured

    started = time.monotonic()
    timings: dict[str, Any] = {}
    image_spec = (ctx.payload or {}).get("image")
    image_task = None
    # A group insert starts its jobs together: their starts (the portrait's request above all) take turns of
    # the loop, so that the connections they open, and the requests still being inserted, are served between.
    await ctx.turn(first=True)
    try:
        if image_spec:
            # The portrait starts at once, from the job payload; the text once its request is sent.
            portrait_sent = asyncio.Event()
            image_task = asyncio.create_task(make_portrait(ctx, image_spec, timings, on_sent=portrait_sent.set),
                                             name=f"portrait-{ctx.persona_id}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PORTRAIT_HEAD_START_MAX):
                    await portrait_sent.wait()
        await ctx.turn()
        persona, config, keywords = await _load(ctx, with_keywords=True)
        lengths = config["lengths"]
    except BaseException:
        if image_task is not None:
            image_task.cancel()
        raise
    if image_task is None:
        spec = {"age": (persona.profile or {}).get("age"), "gender": (persona.profile or {}).get("gender"),
                "age_months": (persona.profile or {}).get("age_months"), "seed": persona.seed}
        image_task = asyncio.create_task(make_portrait(ctx, spec, timings), name=f"portrait-{ctx.persona_id}")
    # The timeline analysis is written beside the text when the complaint has keyword data for this persona
    # (personas/timeline.py; the check is a cached lookup).
    timeline_task: asyncio.Task | None = asyncio.create_task(analyse_with_generation(ctx, persona),
                                                             name=f"timeline-{ctx.persona_id}")
    timings.update({k: v for k, v in (persona.timings or {}).items() if k not in timings})
    queued_at = persona.created_at
    if queued_at is not None:
        timings["queued_seconds"] = round(max(0.0, (utcnow() - _aware(queued_at)).total_seconds()
                                              - (time.monotonic() - started)), 3)
    timings["load_seconds"] = round(time.monotonic() - started, 3)
    timings["attempt"] = ctx.attempt

    ctx.patch(Persona, ctx.subject_id, status="running", error=None, sections={}, updated_at=utcnow())
    try:
        inputs = prompt_inputs(persona, (ctx.payload or {}).get("avoid_names"))
        request = build_text_request(inputs, keywords, section_lengths=lengths, seed=persona.seed,
                                     model=config["route"].model, addendum=config["addendum"])
        stored: dict[str, str] = {}

        def on_complete(key: str, text: str) -> None:
            stored[key] = text
            ctx.patch(Persona, ctx.subject_id, sections=dict(stored), updated_at=utcnow())

        streamer = SectionStreamer(ctx, lengths, on_complete=on_complete)
        text_started = time.monotonic()

        async def write_text(_attempt: int):
            return await generate_structured(ctx.settings, request, PersonaText, on_progress=streamer,
                                             route=config["route"], progress_interval=PROGRESS_INTERVAL)

        def restart_text(_exc, _attempt, _delay) -> None:
            stored.clear()
            streamer.restart()

        try:
            obj, meta = await with_step_retries("persona_text", write_text, deadline=ctx.deadline,
                                                on_retry=restart_text)
        except ProviderError as exc:
            raise JobFailed(_step_failed_message(exc), code=exc.code) from None
        timings["text_seconds"] = round(time.monotonic() - text_started, 3)
        if streamer.first_progress is not None:
            timings["text_first_progress_seconds"] = round(streamer.first_progress - text_started, 3)
        sections = obj.sections()
        missing = [SECTION_LABELS[k] for k in SECTION_KEYS if not sections.get(k)]
        if missing:  # generate_structured validates this already; never report blank sections as done
            raise JobFailed("AIの出力に空の項目がありました: " + "、".join(missing), code="invalid_output")
        for key in SECTION_KEYS:
            if streamer.completed.get(key) != sections[key]:
                ctx.emit("section", {"key": key, "label": SECTION_LABELS[key], "text": sections[key]})
        image_status, image_error = await image_task
        if timeline_task is not None:
            await timeline_task
    except BaseException:
        image_task.cancel()
        if timeline_task is not None:
            timeline_task.cancel()
        raise
    timings["total_seconds"] = round(time.monotonic() - started, 3)
    name = persona.name
    if inputs.generate_name and obj.name and obj.name.strip():
        name = obj.name.strip()
    text_meta = {"provider": meta.get("provider", ""), "model": meta.get("model", ""),
                 "label": meta.get("label", ""), "is_offline": bool(meta.get("is_offline")),
                 "fallback_used": bool(meta.get("fallback_used")), "repaired": bool(meta.get("repaired")),
                 "answers": meta.get("attempts", 1)}
    timings["text"] = text_meta

    profile = dict(persona.profile or {})
    if name != persona.name:
        profile["name"] = name
    # The persona's final state and the job's completion are written in the same transaction.
    ctx.patch(Persona, ctx.subject_id, status="done", sections=sections, stale_sections=[], name=name, profile=profile,
              keywords_used=keywords, text_provider=text_meta["provider"], text_model=text_meta["model"],
              timings=timings, error=image_error, finished_at=utcnow(), updated_at=utcnow())
    done = {"status": "done", "name": name, "sections": sections, "image_status": image_status}
    if image_error:
        done["error"] = image_error
    await ctx.finish(data=done, result={"persona_id": ctx.persona_id})


def _aware(value):
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _section_failed(tx: WriteTx, ctx: JobContext, error: dict[str, str]) -> None:
    note = {"code": error.get("code", "section_failed"), "part": "section",
            "section": (ctx.payload or {}).get("section"), "message": error.get("message", "")}
    await tx.session.execute(
        update(Persona).where(Persona.id == ctx.persona_id).values(error=note, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@job_handler("persona_section", on_failure=_section_failed, max_attempts=3)
async def regenerate_section(ctx: JobContext) -> None:
    from medipersona.providers.steps import with_step_retries
    from medipersona.providers.structured import generate_structured

    key = (ctx.payload or {}).get("section")
    if key not in SECTION_KEYS:
        raise JobFailed("指定された項目はありません。", code="unknown_section")
    persona, config, _ = await _load(ctx)
    lengths = config["lengths"]
    inputs = prompt_inputs(persona)
    inputs.generate_name = False
    current = dict(persona.sections or {})
    # A new seed per regeneration: the same section should not come back word for word.
    seed = (persona.seed * 31 + SECTION_KEYS.index(key) * 7919 + int(time.time())) % (2**31)
    request = build_section_request(inputs, list(persona.keywords_used or []), key, current,
                                    section_lengths=lengths, seed=seed, model=config["route"].model,
                                    addendum=config["addendum"])

    def on_progress(snapshot: dict[str, Any]) -> None:
        if isinstance(snapshot.get("text"), str):
            streamer({key: snapshot["text"]})

    streamer = SectionStreamer(ctx, lengths, keys=(key,))
    started = time.monotonic()

    async def write_section(_attempt: int):
        return await generate_structured(ctx.settings, request, SectionText, on_progress=on_progress,
                                         route=config["route"], progress_interval=PROGRESS_INTERVAL)

    try:
        obj, meta = await with_step_retries("persona_section", write_section, deadline=ctx.deadline,
                                            on_retry=lambda *_: streamer.restart())
    except ProviderError as exc:
        raise JobFailed(f"「{SECTION_LABELS[key]}」を再生成できませんでした。{exc.message}", code=exc.code) from None
    text = obj.text.strip()
    ctx.emit("section", {"key": key, "label": SECTION_LABELS[key], "text": text})
    seconds = round(time.monotonic() - started, 3)

    async def store(tx: WriteTx) -> None:
        row = (await tx.session.execute(select(Persona.sections, Persona.timings, Persona.stale_sections)
                                        .where(Persona.id == ctx.persona_id))).first()
        if row is None:
            return
        sections = {**(row.sections or {}), key: text}
        timings = {**(row.timings or {}), f"regenerated_{key}_seconds": seconds}
        stale = [k for k in row.stale_sections or [] if k != key]
        await tx.session.execute(
            update(Persona).where(Persona.id == ctx.persona_id)
            .values(sections=sections, timings=timings, stale_sections=stale, error=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    await ctx.finish(apply=store, data={"status": "done", "section": key, "text": text,
                                        "provider": meta.get("provider", "")})


__all__ = ["PERSONA_SECTIONS", "generate_persona", "regenerate_section"]
