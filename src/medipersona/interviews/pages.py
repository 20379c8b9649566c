"""Interview pages: ``/interviews/{id}`` (the conversation, suggested questions, the question form, exports) and
the form posts that work without JavaScript (start an interview from the persona page, ask a question).

``interview.js`` enhances the page: questions are sent to the API and the answer streams in over SSE. All logic is
in ``interviews/service.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from medipersona.deps import CurrentUser, SessionDep, SettingsDep
from medipersona.errors import AppError
from medipersona.interviews import service
from medipersona.interviews.schemas import QUESTION_MAX, QuestionIn
from medipersona.personas.character import persona_card
from medipersona.personas.models import Persona
from medipersona.web.templating import local_time, render

router = APIRouter(include_in_schema=False)


async def _page(request: Request, user, session, interview_id: str, *, error_message: str = "", draft: str = "",
                status_code: int = 200):
    interview = await service.get_interview(session, user, interview_id)
    persona = await session.get(Persona, interview.persona_id)
    messages = await service.messages_of(session, interview.id)
    data = service.interview_to_api(interview, persona, messages)
    last_error = interview.last_error or {}
    return render(request, "interviews/detail.html", {
        "i": data,
        "card": persona_card(persona),
        "messages": [{**m, "time": local_time(msg.created_at)} for m, msg in
                     zip(data["messages"], messages, strict=True)],
        "answering": interview.status == "answering",
        "offline": any(m.get("is_offline") for m in data["messages"]),
        "last_error": last_error,
        "error_message": error_message,
        "draft": draft or (last_error.get("question") or ""),
        "question_max": QUESTION_MAX,
    }, status_code=status_code)


@router.get("/interviews/{interview_id}")
async def interview_page(request: Request, interview_id: str, user: CurrentUser, session: SessionDep):
    return await _page(request, user, session, interview_id)


@router.post("/personas/{persona_id}/interviews")
async def start_submit(persona_id: str, user: CurrentUser, session: SessionDep):
    interview = await service.create_interview(session, user, persona_id)
    return RedirectResponse(f"/interviews/{interview.id}", status_code=303)


@router.post("/interviews/{interview_id}/messages")
async def ask_submit(request: Request, interview_id: str, user: CurrentUser, session: SessionDep,
                     settings: SettingsDep):
    """No-JavaScript question: stored with its answer job, then the page (which refreshes until the answer is
    there); a refused question comes back in the form with the message."""
    from pydantic import ValidationError

    text = str((await request.form()).get("text") or "")
    try:
        question = QuestionIn.model_validate({"text": text})
        await service.ask(session, settings, user, interview_id, question.text)
    except ValidationError as exc:
        message = exc.errors()[0].get("ctx", {}).get("error") or "質問を確認してください。"
        return await _page(request, user, session, interview_id, error_message=str(message), draft=text,
                           status_code=422)
    except AppError as exc:
        if exc.status_code in (401, 403, 404) and exc.code in ("not_authenticated", "csrf_failed",
                                                                "interview_not_found"):
            raise
        await session.rollback()
        return await _page(request, user, session, interview_id, error_message=exc.message, draft=text,
                           status_code=exc.status_code)
    return RedirectResponse(f"/interviews/{interview_id}#ask", status_code=303)


@router.post("/interviews/{interview_id}/delete")
async def delete_submit(interview_id: str, user: CurrentUser, session: SessionDep):
    persona_id = await service.delete_interview(session, user, interview_id)
    return RedirectResponse(f"/personas/{persona_id}?message=interview_deleted#interviews", status_code=303)
