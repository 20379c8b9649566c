"""The daily quota of model calls per user (``users.daily_quota``; 0 = unlimited), by local day
(``localtime``: Japan time by default).

One check for every action that calls a model::

    await check_daily_quota(session, user, calls=len(persona_ids) + 1)

A day's use is what the user started that day: each persona created or generated again (one generation; a
persona set counts its members), each section regenerated, each timeline analysis, each interview question (one
answer) and each message test (one reaction per persona plus the summary).

The check and the count are one atomic statement on ``usage_counters`` (one row per user and local day)::

    UPDATE usage_counters SET calls = calls + :n WHERE user_id = :u AND day = :d AND calls + :n <= :quota

committed on its own connection before the caller goes on, so twenty simultaneous requests against a quota of
three get exactly three through, on SQLite (one writer at a time) and PostgreSQL (the row lock) alike. The day's
row starts from what the user's rows already say (``calls_used_today``), so the counter agrees with history.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona import localtime
from medipersona.accounts.models import User
from medipersona.db import Base, upsert_insert
from medipersona.errors import TooManyRequests

usage_counters = Table(
    "usage_counters", Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("day", String(10), primary_key=True),  # local date, ISO (localtime)
    Column("calls", Integer, nullable=False, default=0),
)


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


def _insert_ignore(dialect: str, values: dict):
    return upsert_insert(dialect)(usage_counters).values(**values).on_conflict_do_nothing()


async def check_daily_quota(session: AsyncSession, user: User, calls: int = 1) -> None:
    """Count ``calls`` model calls against the user's daily quota, or raise 429 ``quota_exceeded``
    (Retry-After: until local midnight) when they do not fit. Atomic: check and count are one UPDATE."""
    quota = int(user.daily_quota or 0)
    if quota <= 0:
        return
    from medipersona.jobs.dblock import write_lock

    day = localtime.today().isoformat()
    used_before = await calls_used_today(session, user.id)
    # On the caller's own connection (a second one per request could exhaust the pool under a burst), in a
    # transaction of its own: the read above ends first (SQLite cannot upgrade an old read snapshot).
    await session.commit()
    table = usage_counters
    async with write_lock(session.bind):
        try:
            dialect = session.get_bind().dialect.name
            await session.execute(_insert_ignore(dialect, {"user_id": user.id, "day": day, "calls": used_before}))
            counted = await session.execute(
                update(table).where(table.c.user_id == user.id, table.c.day == day, table.c.calls + calls <= quota)
                .values(calls=table.c.calls + calls)
            )
            used = 0
            reserved = getattr(counted, "rowcount", 0) == 1
            if not reserved:
                used = int(await session.scalar(
                    select(table.c.calls).where(table.c.user_id == user.id, table.c.day == day)) or 0)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    if reserved:
        return
    headers = {"Retry-After": str(localtime.seconds_until_tomorrow())}
    if used >= quota or calls == 1:
        raise TooManyRequests(f"本日の生成上限（{quota}回）に達しました。明日以降にもう一度お試しください。",
                              code="quota_exceeded", headers=headers)
    raise TooManyRequests(
        f"この操作にはAIの生成が{calls}回必要ですが、本日の残りは{quota - used}回です（1日の上限{quota}回）。"
        "数を減らすか、明日以降にもう一度お試しください。", code="quota_exceeded", headers=headers)
