"""The daily quota of model calls per user (``users.daily_quota``; 0 = unlimited), by local day
(``localtime``: Japan time by default).

One check for every action that calls a model::

    await check_daily_quota(session, user, calls=len(persona_ids) + 1)

A day's use is what the user started that day: each persona created (one generation; a persona set counts its
members), each interview question (one answer) and each message test (one reaction per persona plus the summary).
The count and the check are one read followed by the caller's insert: they are not atomic (see issue 17, which
makes them so); this function is the one place to switch.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona import localtime
from medipersona.accounts.models import User
from medipersona.errors import TooManyRequests


async def calls_used_today(session: AsyncSession, user_id: int) -> int:
    """Model calls the user started today (local day), in one query."""
    from medipersona.interviews.models import Interview, InterviewMessage
    from medipersona.message_tests.models import MessageTest
    from medipersona.personas.models import Persona

    since = localtime.day_start_utc(localtime.today())
    personas = (select(func.count()).select_from(Persona)
                .where(Persona.owner_id == user_id, Persona.created_at >= since).scalar_subquery())
    questions = (select(func.count()).select_from(InterviewMessage)
                 .join(Interview, Interview.id == InterviewMessage.interview_id)
                 .where(Interview.owner_id == user_id, InterviewMessage.role == "user",
                        InterviewMessage.created_at >= since).scalar_subquery())
    tests = (select(func.coalesce(func.sum(MessageTest.model_calls), 0))
             .where(MessageTest.owner_id == user_id, MessageTest.created_at >= since).scalar_subquery())
    row = (await session.execute(select(personas, questions, tests))).one()
    return int(sum(int(value or 0) for value in row))


async def check_daily_quota(session: AsyncSession, user: User, calls: int = 1) -> None:
    """Raise 429 ``quota_exceeded`` (Retry-After: until local midnight) unless ``calls`` more model calls fit
    in the user's daily quota."""
    quota = int(user.daily_quota or 0)
    if quota <= 0:
        return
    used = await calls_used_today(session, user.id)
    if used + calls <= quota:
        return
    headers = {"Retry-After": str(localtime.seconds_until_tomorrow())}
    if used >= quota or calls == 1:
        raise TooManyRequests(f"本日の生成上限（{quota}回）に達しました。明日以降にもう一度お試しください。",
                              code="quota_exceeded", headers=headers)
    raise TooManyRequests(
        f"この操作にはAIの生成が{calls}回必要ですが、本日の残りは{quota - used}回です（1日の上限{quota}回）。"
        "数を減らすか、明日以降にもう一度お試しください。", code="quota_exceeded", headers=headers)
