"""The message-test job (kind ``message_test``): every persona reacts (in parallel, each a validated structured
answer), then the numbers are computed and the summary is written, streamed.

Events (jobs/sse.py wire format):
- ``status``  {"status": "running", "attempt"} at each (re)start — clients drop what they showed;
  {"status": "running", "restart": true, "part": "summary"} when the summary is asked again
- ``result``  {"index", "persona_id", "name", "patient_type", "score", "comment", "would_book", "concerns", ...}
  as each reaction arrives (stored at once)
- ``stats``   the computed numbers (distribution, average, would_book, by_type, top_concerns)
- ``delta``   {"section": overview|concerns|booking_triggers|by_type, "text", "offset"} — the summary streamed
- ``section`` {"key", "label", "text"} when a summary part is complete
- ``done``    {"status": "done", "id"}  /  ``error`` {"code", "message"}

A reaction that cannot be had (after the provider's retries and the re-asks of invalid output) fails the test with
a Japanese message naming the persona; nothing half-done is reported as done.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import select, update

import medipersona.message_tests.offline  # noqa: F401  (registers the offline composers of reactions and summary)
from medipersona.db import utcnow
from medipersona.jobs.registry import JobContext, JobFailed, job_handler
from medipersona.message_tests.models import MessageTest
from medipersona.message_tests.prompt import (
    SUMMARY_KEYS,
    SUMMARY_SECTIONS,
    Reaction,
    TestSummary,
    build_reaction_request,
    build_summary_request,
)
from medipersona.message_tests.service import JOB_KIND, image_file, reader_of
from medipersona.message_tests.stats import compute_stats
from medipersona.personas.models import Persona
from medipersona.providers.base import InputImage

if TYPE_CHECKING:  # pragma: no cover
    from medipersona.providers.registry import ProviderRoute

log = logging.getLogger("medipersona.message_tests")
PROGRESS_INTERVAL = 0.15
REACTION_CONCURRENCY = 12
SUMMARY_LABELS = dict(SUMMARY_SECTIONS)


async def _mark_failed(tx, ctx: JobContext, error: dict[str, str]) -> None:
    """A failed test keeps no partial reactions: it is run again whole (retry)."""
    test_id = str((ctx.payload or {}).get("test_id") or "")
    if test_id:
        await tx.session.execute(
            update(MessageTest).where(MessageTest.id == test_id)
            .values(status="failed", error=dict(error), results=[], summary={}, finished_at=utcnow(),
                    updated_at=utcnow())
            .execution_options(synchronize_session=False))


class SummaryStreamer:
    """Progress snapshots of the summary → coalesced ``delta`` events and ``section`` events per part."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.sent: dict[str, str] = {}
        self.completed: set[str] = set()

    def __call__(self, snapshot: dict[str, Any]) -> None:
        present = [k for k in SUMMARY_KEYS if isinstance(snapshot.get(k), str)]
        if any(not snapshot[k].startswith(self.sent.get(k, "")) for k in present) or (self.sent and not present):
            self.ctx.runtime.writer.forget(self.ctx.job_id, self.ctx.attempt)
            self.ctx.emit("status", {"status": "running", "attempt": self.ctx.attempt, "restart": True,
                                     "part": "summary"})
            self.sent.clear()
            self.completed.clear()
        for index, key in enumerate(present):
            text = snapshot[key]
            if len(text) > len(self.sent.get(key, "")):
                self.ctx.emit_delta(key, text[len(self.sent.get(key, "")):])
                self.sent[key] = text
            if index < len(present) - 1 and key not in self.completed and text.strip():
                self.completed.add(key)
                self.ctx.emit("section", {"key": key, "label": SUMMARY_LABELS[key], "text": text.strip()})


async def _load(ctx: JobContext, test_id: str) -> tuple[MessageTest, list[Persona], ProviderRoute]:
    from medipersona.admin import service as admin

    async with ctx.session() as session:
        test = await session.get(MessageTest, test_id)
        if test is None:
            raise JobFailed("メッセージテストが見つかりません。削除された可能性があります。", code="test_missing")
        ids = list(test.persona_ids or [])
        found = {p.id: p for p in await session.scalars(select(Persona).where(Persona.id.in_(ids)))}
        route, _ = await admin.task_options(session, ctx.settings, "persona_text")
    personas = [found[i] for i in ids if i in found and found[i].status == "done"]
    if not personas:
        raise JobFailed("テストするペルソナが見つかりません。削除された可能性があります。", code="personas_missing")
    return test, personas, route


@job_handler(JOB_KIND, on_failure=_mark_failed, max_attempts=3)
async def run_message_test(ctx: JobContext) -> None:
    from medipersona.providers.base import ProviderError
    from medipersona.providers.structured import generate_structured

    started = time.monotonic()
    test_id = str((ctx.payload or {}).get("test_id") or "")
    test, personas, route = await _load(ctx, test_id)
    image = None
    path = image_file(ctx.settings, test)
    if path is not None:
        try:
            image = InputImage(await anyio.Path(path).read_bytes(), test.image_mime or "image/png")
        except OSError:
            raise JobFailed("チラシの画像ファイルが見つかりません。画像を付け直して新しいテストを作成してください。",
                            code="image_missing") from None
    ctx.emit("status", {"status": "running", "attempt": ctx.attempt, "total": len(personas)})
    ctx.patch(MessageTest, test_id, status="running", results=[], summary={}, error=None, updated_at=utcnow())
    results: list[dict[str, Any] | None] = [None] * len(personas)
    limit = asyncio.Semaphore(REACTION_CONCURRENCY)
    meta: dict[str, Any] = {}

    async def react(index: int, persona: Persona) -> None:
        request = build_reaction_request(persona, test.message, test.kind, model=route.model, image=image,
                                         seed=zlib.crc32(f"{test_id}:{persona.id}".encode()))
        async with limit:
            try:
                obj, answer_meta = await generate_structured(ctx.settings, request, Reaction, route=route)
            except ProviderError as exc:
                raise JobFailed(f"{persona.name}さんの反応を得られませんでした。{exc.message}", code=exc.code) from None
        meta.update(answer_meta)
        result = {"index": index, **reader_of(persona), "score": obj.score, "comment": obj.comment.strip(),
                  "would_book": obj.would_book, "concerns": [c.strip() for c in obj.concerns if c.strip()][:5],
                  "is_offline": bool(answer_meta.get("is_offline"))}
        results[index] = result
        ctx.emit("result", result)
        ctx.patch(MessageTest, test_id, results=[r for r in results if r is not None], updated_at=utcnow())

    tasks = [asyncio.create_task(react(i, p), name=f"reaction-{test_id}-{i}") for i, p in enumerate(personas)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    reactions = [r for r in results if r is not None]
    reactions_seconds = round(time.monotonic() - started, 3)
    stats = compute_stats(reactions)
    ctx.emit("stats", stats)
    try:
        summary_obj, summary_meta = await generate_structured(
            ctx.settings, build_summary_request(test.message, test.kind, reactions, stats, model=route.model,
                                                seed=zlib.crc32(test_id.encode())),
            TestSummary, on_progress=SummaryStreamer(ctx), route=route, progress_interval=PROGRESS_INTERVAL)
    except ProviderError as exc:
        raise JobFailed(f"まとめを作成できませんでした。{exc.message}", code=exc.code) from None
    summary = {key: getattr(summary_obj, key).strip() for key in SUMMARY_KEYS}
    for key in SUMMARY_KEYS:
        ctx.emit("section", {"key": key, "label": SUMMARY_LABELS[key], "text": summary[key]})
    summary["stats"] = stats
    summary["meta"] = {"provider": summary_meta.get("provider", ""), "model": summary_meta.get("model", ""),
                       "label": summary_meta.get("label", ""), "is_offline": bool(summary_meta.get("is_offline")),
                       "fallback_used": bool(summary_meta.get("fallback_used") or meta.get("fallback_used"))}
    timings = {"reactions_seconds": reactions_seconds, "total_seconds": round(time.monotonic() - started, 3),
               "attempt": ctx.attempt}
    ctx.patch(MessageTest, test_id, status="done", results=reactions, summary=summary, error=None,
              text_provider=summary["meta"]["provider"], text_model=summary["meta"]["model"], timings=timings,
              finished_at=utcnow(), updated_at=utcnow())
    await ctx.finish(data={"status": "done", "id": test_id}, result={"test_id": test_id})
