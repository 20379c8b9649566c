"""Account logic, testable without HTTP: users, login with throttling, sessions and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import AuthSession, LoginAttempt, User
from medipersona.accounts.passwords import hash_password, password_problem, verify_password
from medipersona.catalog.service import get_catalog
from medipersona.db import utcnow
from medipersona.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from medipersona.settings import Settings

ROLES = ("admin", "member")
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{3,64}$"
USERNAME_RULE = "ユーザー名は3〜64文字の半角英数字と _ . @ - で入力してください。"


def validate_username(username: str) -> str:
    """The one username rule (API schema, admin form, CLI): 3-64 of A-Z a-z 0-9 _ . @ - (so no control
    characters, no markup, and nothing that could never log in)."""
    if not re.fullmatch(USERNAME_PATTERN[1:-1], username or ""):
        raise _field_error("username", USERNAME_RULE)
    return username


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields=[{"field": field, "message": message}])


def validate_sections(sections: list[str]) -> list[str]:
    known = [s.id for s in get_catalog().sections]
    unknown = [s for s in sections if s not in known]
    if unknown:
        raise _field_error("sections", f"不明な区分です: {', '.join(unknown)}（{', '.join(known)} から選んでください）")
    # Keep catalog order, drop duplicates.
    return [s for s in known if s in sections]


# --- users -----------------------------------------------------------------------------------------------


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str = "member",
    sections: list[str] | None = None,
    daily_quota: int = 0,
) -> User:
    validate_username(username)
    if role not in ROLES:
        raise _field_error("role", "ロールは admin か member を指定してください。")
    if problem := password_problem(password, username):
        raise _field_error("password", problem)
    if await get_user_by_username(session, username):
        raise Conflict("このユーザー名はすでに使われています。", code="username_taken")
    all_sections = [s.id for s in get_catalog().sections]
    user = User(
        username=username,
        password_hash=await hash_password(password),
        role=role,
        sections=validate_sections(sections) if sections is not None else all_sections,
        daily_quota=daily_quota,
    )
    session.add(user)
    await session.commit()
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.id)))


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("ユーザーが見つかりません。")
    return user


async def count_active_admins(session: AsyncSession) -> int:
    return await session.scalar(
        select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))
    ) or 0


async def update_user(
    session: AsyncSession,
    user: User,
    *,
    role: str | None = None,
    sections: list[str] | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    daily_quota: int | None = None,
) -> User:
    demotes_admin = user.is_admin and ((role is not None and role != "admin") or is_active is False)
    if demotes_admin and await count_active_admins(session) <= 1:
        raise Conflict("最後の管理者は無効化・降格できません。", code="last_admin")
    if role is not None:
        if role not in ROLES:
            raise _field_error("role", "ロールは admin か member を指定してください。")
        user.role = role
    if sections is not None:
        user.sections = validate_sections(sections)
    if daily_quota is not None:
        user.daily_quota = daily_quota
    if password is not None:
        if problem := password_problem(password, user.username):
            raise _field_error("password", problem)
        user.password_hash = await hash_password(password)
        user.password_changed_at = utcnow()
        await session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    if is_active is False:
        await session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    if is_active is not None:
        user.is_active = is_active
    await session.commit()
    _forget_principals()
    return user


async def delete_user(session: AsyncSession, user: User, *, acting_user: User) -> None:
    if user.id == acting_user.id:
        raise Conflict("自分自身は削除できません。", code="delete_self")
    if user.is_admin and await count_active_admins(session) <= 1:
        raise Conflict("最後の管理者は削除できません。", code="last_admin")
    await session.delete(user)
    await session.commit()
    _forget_principals()


async def change_password(
    session: AsyncSession, user: User, *, current_password: str, new_password: str, keep_session_id: int | None
) -> None:
    if not await verify_password(user.password_hash, current_password):
        raise _field_error("current_password", "現在のパスワードが正しくありません。")
    if current_password == new_password:
        raise _field_error("new_password", "新しいパスワードは現在のものと違うものにしてください。")
    if problem := password_problem(new_password, user.username):
        raise _field_error("new_password", problem)
    user.password_hash = await hash_password(new_password)
    user.password_changed_at = utcnow()
    # Sign out every other session and token of this user.
    stmt = delete(AuthSession).where(AuthSession.user_id == user.id)
    if keep_session_id is not None:
        stmt = stmt.where(AuthSession.id != keep_session_id)
    await session.execute(stmt)
    await session.commit()
    _forget_principals()


async def ensure_first_admin(session: AsyncSession, settings: Settings) -> str | None:
    """Create the first admin when there is no user. Returns the generated password when one was generated."""
    if await session.scalar(select(func.count()).select_from(User)):
        return None
    generated = None
    password = settings.admin_password
    if not password:
        generated = password = secrets.token_urlsafe(12)
    await create_user(session, username=settings.admin_username, password=password, role="admin")
    return generated


# --- login and throttling ------------------------------------------------------------------------------


async def authenticate(session: AsyncSession, settings: Settings, username: str, password: str, ip: str) -> User:
    """The user for these credentials; raises TooManyRequests while this address must wait
    (``accounts.throttle``: growing delays, never a hard lock)."""
    from medipersona.accounts import throttle

    username = username.strip()
    await throttle.check(session, settings, username, ip)
    user = await get_user_by_username(session, username) if username else None
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        await throttle.record_failure(session, username, ip)
        raise NotAuthenticated("ユーザー名またはパスワードが正しくありません。", code="invalid_credentials")
    await throttle.clear(session, username, ip)
    await session.commit()
    return user


# --- sessions and tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedSession:
    token: str
    csrf_token: str
    session_id: int


async def issue_session(session: AsyncSession, settings: Settings, user: User, kind: str) -> IssuedSession:
    token = secrets.token_urlsafe(32)
    max_age = settings.session_max_age_seconds if kind == "cookie" else settings.api_token_max_age_seconds
    row = AuthSession(
        token_hash=token_digest(token),
        user_id=user.id,
        kind=kind,
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + timedelta(seconds=max_age),
    )
    session.add(row)
    # Housekeeping: expired sessions and old failed-login rows.
    await session.execute(delete(AuthSession).where(AuthSession.expires_at < utcnow()))
    await session.execute(
        delete(LoginAttempt).where(LoginAttempt.at < utcnow() - timedelta(days=1))
    )
    await session.commit()
    return IssuedSession(token=token, csrf_token=row.csrf_token, session_id=row.id)


SESSION_GONE_MESSAGE = "ログイン状態が無効になりました（ログアウト・期限切れ・アカウント停止）。もう一度ログインしてください。"


def session_gone_error() -> NotAuthenticated:
    """The 401 for a write refused because its login session ended before it committed."""
    return NotAuthenticated(SESSION_GONE_MESSAGE, code="session_revoked")


async def live_session_ids(conn, session_ids: set[int]) -> set[int]:
    """Which of ``session_ids`` are still valid: not revoked, not expired, their user active. ``conn`` is a
    connection or session in the caller's write transaction, so the answer holds for what it commits."""
    if not session_ids:
        return set()
    rows = await conn.execute(
        select(AuthSession.id, AuthSession.expires_at)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id.in_(sorted(session_ids)), User.is_active.is_(True))
    )
    now = utcnow()
    return {row.id for row in rows if row.expires_at >= now}


async def revoke_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(AuthSession).where(AuthSession.id == session_id))
    await session.commit()
    _forget_principals()


# Called when sessions or users change; ``deps`` adds the clearing of its short-lived principal cache at import
# (a hook, so that accounts does not import the web layer above it).
SESSIONS_CHANGED_HOOKS: list[Callable[[], None]] = []


def _forget_principals() -> None:
    """Sessions or users changed: drop this worker's short-lived principal cache (see deps.py)."""
    for hook in SESSIONS_CHANGED_HOOKS:
        hook()
