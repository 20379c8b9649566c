"""Login throttling: growing delays per (account, address) and per address, never a hard account lock.

Failed logins are rows of ``login_attempts`` (shared by every worker through the database). After
``login_max_failures_per_account`` failures for one account from one address, each further attempt for that
account *from that address* must wait 1 s, then 2 s, 4 s, ... (up to ``login_failure_window_seconds``) after the
last failure; after ``login_max_failures_per_ip`` failures from one address (any accounts), every attempt from it
waits likewise. An address with no recent failures is never slowed down, so strangers cannot lock the owner out.
A success clears that (account, address) pair's failures; ``unlock`` (CLI ``medipersona unlock USER`` and the admin
button) clears an account's failures from every address. Throttles and unlocks are logged.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import LoginAttempt
from medipersona.db import utcnow
from medipersona.errors import TooManyRequests
from medipersona.settings import Settings

log = logging.getLogger("medipersona.accounts")


def delay_seconds(failures: int, free: int, cap: int) -> int:
    """The wait after the last failure once ``failures`` passed ``free``: 1 s, doubling, at most ``cap``."""
    if failures < free:
        return 0
    return min(cap, 2 ** min(failures - free, 30))


async def _failures(session: AsyncSession, since: datetime, *conditions) -> tuple[int, datetime | None]:
    row = (await session.execute(
        select(func.count(), func.max(LoginAttempt.at)).select_from(LoginAttempt)
        .where(LoginAttempt.at >= since, *conditions)
    )).one()
    return int(row[0] or 0), row[1]


async def check(session: AsyncSession, settings: Settings, username: str, ip: str) -> None:
    """Raise TooManyRequests (with Retry-After) while this address must wait before trying this account."""
    window = settings.login_failure_window_seconds
    now = utcnow()
    since = now - timedelta(seconds=window)
    checks = (
        ("ip_throttled", settings.login_max_failures_per_ip, (LoginAttempt.ip == ip,),
         "このネットワークからのログイン失敗が多すぎます。{seconds}秒ほど待ってからお試しください。"),
        ("login_throttled", settings.login_max_failures_per_account,
         (LoginAttempt.ip == ip, LoginAttempt.username == username),
         "ログイン失敗が続いたため、{seconds}秒ほど待ってからお試しください。"),
    )
    for code, free, conditions, message in checks:
        count, last = await _failures(session, since, *conditions)
        wait = delay_seconds(count, free, window)
        if wait and last is not None:
            left = math.ceil((last + timedelta(seconds=wait) - now).total_seconds())
            if left > 0:
                log.warning("login throttled (%s): user=%r ip=%s failures=%d wait=%ds", code, username, ip, count,
                            left)
                raise TooManyRequests(message.format(seconds=left), code=code,
                                      headers={"Retry-After": str(left)})


async def record_failure(session: AsyncSession, username: str, ip: str) -> None:
    session.add(LoginAttempt(username=username[:64], ip=ip[:64]))
    await session.commit()


async def clear(session: AsyncSession, username: str, ip: str) -> None:
    """After a successful login: this pair's failures only (others' failures still count against them)."""
    await session.execute(delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.ip == ip))


async def unlock(session: AsyncSession, username: str, *, by: str = "cli") -> int:
    """Forget every recorded failure for ``username`` (any address). Returns how many were removed."""
    result = await session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    removed = getattr(result, "rowcount", 0)
    await session.commit()
    log.warning("login unlocked: user=%r by=%s (%d failures cleared)", username, by, removed or 0)
    return int(removed or 0)
