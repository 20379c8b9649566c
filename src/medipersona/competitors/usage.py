"""Cost control of Google Places: a per-user daily limit on Places-backed analyses, and the Places requests
they made, per user and day (Japan time), in ``places_usage``.

The limit is checked and counted in one statement, an upsert whose update only happens below the limit::

    INSERT INTO places_usage (user_id, day, analyses, calls) VALUES (:user, :day, 1, 0)
    ON CONFLICT (user_id, day) DO UPDATE SET analyses = places_usage.analyses + 1
        WHERE places_usage.analyses < :limit
    RETURNING analyses

No row back means the limit was reached. PostgreSQL locks the (user, day) row for the rest of the transaction
and re-checks the condition on the latest version, SQLite runs one writer at a time: concurrent requests in any
number of workers cannot pass the limit together. It runs in the transaction that stores the analysis and its
job, so a refused or failed request counts nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona import localtime
from medipersona.competitors.models import PlacesUsage
from medipersona.db import upsert_insert, utcnow
from medipersona.errors import TooManyRequests

DEFAULT_DAILY_LIMIT = 10  # Places-backed analyses per user and day; 0 = no limit (admin setting)


def today() -> date:
    """The day the limit counts in (Japan time: the users' day)."""
    return localtime.today()


def seconds_until_tomorrow() -> int:
    return localtime.seconds_until_tomorrow()


async def reserve_analysis(session: AsyncSession, user_id: int, limit: int) -> None:
    """Count one Places-backed analysis for the user today, inside the caller's transaction; 429 with a Japanese
    message when ``limit`` (> 0) analyses were counted already."""
    insert = upsert_insert(session.get_bind().dialect.name)
    now = utcnow()
    stmt = insert(PlacesUsage).values(user_id=user_id, day=today(), analyses=1, calls=0, updated_at=now)
    upsert = stmt.on_conflict_do_update(
        index_elements=[PlacesUsage.user_id, PlacesUsage.day],
        set_={"analyses": PlacesUsage.analyses + 1, "updated_at": now},
        where=(PlacesUsage.analyses < limit) if limit > 0 else None,
    ).returning(PlacesUsage.analyses)
    if (await session.execute(upsert)).first() is None:
        await session.rollback()
        raise TooManyRequests(
            f"本日のGoogle Placesを使う競合分析の上限（1日{limit}件）に達しました。明日（日本時間0時以降）にもう一度"
            "お試しいただくか、競合リスト（CSV・Excel）を取り込んで分析してください。",
            code="places_daily_limit", headers={"Retry-After": str(seconds_until_tomorrow())},
        )


async def add_calls(session: AsyncSession, user_id: int, calls: int) -> None:
    """Add the Places requests an analysis made to the user's day (the caller commits)."""
    if calls <= 0:
        return
    insert = upsert_insert(session.get_bind().dialect.name)
    now = utcnow()
    stmt = insert(PlacesUsage).values(user_id=user_id, day=today(), analyses=0, calls=calls, updated_at=now)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[PlacesUsage.user_id, PlacesUsage.day],
        set_={"calls": PlacesUsage.calls + calls, "updated_at": now},
    ))


async def usage_by_user_and_day(session: AsyncSession, days: int = 14) -> dict[str, Any]:
    """{"days": [...], "users": [{"user_id", "username", "days": {day: {"analyses", "calls"}}, "analyses",
    "calls"}]} over the last ``days`` days (Japan time), users with any use only."""
    from medipersona.accounts.models import User

    first = today() - timedelta(days=days - 1)
    day_list = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    rows = (await session.execute(
        select(PlacesUsage.user_id, User.username, PlacesUsage.day, PlacesUsage.analyses, PlacesUsage.calls)
        .join(User, User.id == PlacesUsage.user_id).where(PlacesUsage.day >= first)
        .order_by(User.username)
    )).all()
    users: dict[int, dict[str, Any]] = {}
    for user_id, username, day, analyses, calls in rows:
        entry = users.setdefault(user_id, {"user_id": user_id, "username": username, "analyses": 0, "calls": 0,
                                           "days": {d: {"analyses": 0, "calls": 0} for d in day_list}})
        entry["days"][day.isoformat()] = {"analyses": analyses, "calls": calls}
        entry["analyses"] += analyses
        entry["calls"] += calls
    return {"days": day_list, "users": list(users.values())}
