"""The answer job (kind ``interview_answer``): the persona answers the newest question, streamed.

Events (jobs/sse.py wire format):
- ``status``  {"status": "running", "attempt"}; {"status": "running", "restart": true} when the model is asked
  again (drop the streamed text)
- ``delta``   {"section": "answer", "text", "offset", ...} as the answer is written
- ``done``    {"status": "done", "message": {"role": "persona", "text", "created_at", "is_offline", "label"}}
- ``error``   {"code", "message"}: the question is removed (``on_failure``) and the interview is idle again

The answer is stored with the job's completion in one transaction; a failure never leaves a question without
an answer.
"""

from __future__ import annotations

import logging
import time
import zlib

from sqlalchemy import delete, insert, select, update

import medipersona.interviews.offline  # noqa: F401  (registers the offline composer of the answers)
from medipersona.db import utcnow
from medipersona.interviews.models import Interview, InterviewMessage
from medipersona.interviews.prompt import InterviewAnswer, build_answer_request
from medipersona.interviews.service import ANSWER_KIND
from medipersona.jobs.registry import JobContext, JobFailed, job_handler
from medipersona.personas.models import Persona

log = logging.getLogger("medipersona.interviews")
PROGRESS_INTERVAL = 0.15


async def _answer_failed(tx, ctx: JobContext, error: dict[str, str]) -> None:
    """Remove the unanswered question and note why, so the page can offer it again."""
    payload = ctx.payload or {}
    interview_id, message_id = payload.get("interview_id"), payload.get("message_id")
    if not interview_id:
        return
    question = ""
    if message_id is not None:
        question = await tx.session.scalar(select(InterviewMessage.text).where(InterviewMessage.id == message_id)) or ""
        await tx.session.execute(delete(InterviewMessage).where(InterviewMessage.id == message_id))
    await tx.session.execute(
        update(Interview).where(Interview.id == interview_id, Interview.current_job_id == ctx.job_id)
        .values(status="idle", current_job_id=None, updated_at=utcnow(),
                last_error={"code": error.get("code", "failed"), "message": error.get("message", ""),
                            "question": question})
        .execution_options(synchronize_session=False))


class AnswerStreamer:
    """Progress snapshots {"answer": partial} → coalesced ``delta`` events (a re-ask restarts the text)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.sent = ""

    def __call__(self, snapshot: dict) -> None:
        text = snapshot.get("answer")
        if not isinstance(text, str):
            return
        if not text.startswith(self.sent):
            self.ctx.runtime.writer.forget(self.ctx.job_id, self.ctx.attempt)
            self.ctx.emit("status", {"status": "running", "attempt": self.ctx.attempt, "restart": True})
            self.sent = ""
        if len(text) > len(self.sent):
            self.ctx.emit_delta("answer", text[len(self.sent):])
            self.sent = text


@job_handler(ANSWER_KIND, on_failure=_answer_failed, max_attempts=3)
async def answer_question(ctx: JobContext) -> None:
    from medipersona.admin import service as admin
    from medipersona.providers.base import ProviderError
    from medipersona.providers.structured import generate_structured

    payload = ctx.payload or {}
    interview_id, message_id = payload.get("interview_id"), payload.get("message_id")
    async with ctx.session() as session:
        interview = await session.get(Interview, interview_id) if interview_id else None
        persona = await session.get(Persona, interview.persona_id) if interview is not None else None
        if interview is None or persona is None:
            raise JobFailed("インタビューが見つかりません。削除された可能性があります。", code="interview_missing")
        rows = (await session.execute(select(InterviewMessage.id, InterviewMessage.role, InterviewMessage.text)
                                      .where(InterviewMessage.interview_id == interview_id)
                                      .order_by(InterviewMessage.id))).all()
        # The persona text model answers for the persona (its extra instructions are about writing personas).
        route, _ = await admin.task_options(session, ctx.settings, "persona_text")
    question = next((r.text for r in rows if r.id == message_id), None)
    if question is None:
        raise JobFailed("質問が見つかりません。もう一度送ってください。", code="question_missing")
    history = [{"role": r.role, "text": r.text} for r in rows if r.id < message_id]
    request = build_answer_request(persona, history, question, model=route.model,
                                   seed=zlib.crc32(f"{interview_id}:{message_id}".encode()))
    started = time.monotonic()
    try:
        obj, meta = await generate_structured(ctx.settings, request, InterviewAnswer, on_progress=AnswerStreamer(ctx),
                                              route=route, progress_interval=PROGRESS_INTERVAL)
    except ProviderError as exc:
        raise JobFailed(f"回答を作成できませんでした。{exc.message}", code=exc.code) from None
    text = obj.answer.strip()
    now = utcnow()
    info = {"provider": meta.get("provider", ""), "model": meta.get("model", ""), "label": meta.get("label", ""),
            "is_offline": bool(meta.get("is_offline")), "seconds": round(time.monotonic() - started, 3)}

    async def store(tx) -> None:
        # tx.session is a Core connection: an INSERT statement, not session.add.
        await tx.session.execute(insert(InterviewMessage).values(interview_id=interview_id, role="persona",
                                                                 text=text, meta=info, created_at=now))
        await tx.session.execute(
            update(Interview).where(Interview.id == interview_id)
            .values(status="idle", current_job_id=None, last_error=None, updated_at=now)
            .execution_options(synchronize_session=False))

    await ctx.finish(apply=store, data={"status": "done", "message": {
        "role": "persona", "text": text, "created_at": now.isoformat(), "is_offline": info["is_offline"],
        "label": info["label"]}})
