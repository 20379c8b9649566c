"""Typed dependencies shared by every router: ``SessionDep``, ``SettingsDep``, ``CurrentUser``, ``AdminUser``.

Authentication: ``Authorization: Bearer <token>`` (API tokens, exempt from CSRF) or the session cookie (browser;
every state-changing request must carry the session's CSRF token in ``X-CSRF-Token``, a ``csrf_token`` query
parameter (upload forms' action URLs) or a ``csrf_token`` field of a urlencoded form; a multipart body is never read
before the token is checked).
"""

from __future__ import annotations

import hmac
import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import AuthSession, User
from medipersona.accounts.service import SESSIONS_CHANGED_HOOKS, token_digest
from medipersona.db import Database, utcnow
from medipersona.errors import CsrfFailed, Forbidden, NotAuthenticated
from medipersona.settings import Settings
from medipersona.ttlcache import TTLCache

SESSION_COOKIE = "mp_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


# Dependencies are ``async def`` (or built by ``query_params``): FastAPI runs a plain ``def`` or a class in its
# thread pool, a thread hop on every request that uses it.


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.db


def query_params(cls: type[T]) -> Any:
    """``Depends(...)`` for a dataclass of query parameters, built on the event loop (``Depends()`` on the class
    itself would call it in the thread pool). FastAPI reads the parameters from the class's signature."""

    async def build(**values: Any) -> T:
        return cls(**values)

    build.__signature__ = inspect.signature(cls, eval_str=True)  # type: ignore[attr-defined]
    build.__name__ = build.__qualname__ = f"{cls.__name__}_params"
    return Depends(build)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass
class Principal:
    user: User
    auth_session: AuthSession
    via: str  # "cookie" | "bearer"

    @property
    def csrf_token(self) -> str:
        return self.auth_session.csrf_token


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def _lookup(session: AsyncSession, token: str, kind: str) -> tuple[User, AuthSession] | None:
    row = (
        await session.execute(
            select(User, AuthSession)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.token_hash == token_digest(token), AuthSession.kind == kind)
        )
    ).first()
    if row is None:
        return None
    user, auth = row
    if not user.is_active or auth.expires_at < utcnow():
        return None
    return user, auth


# Read-only requests reuse a token's lookup for a moment: under a burst of hundreds of requests the lookup
# otherwise queues for a pooled connection (and costs ~1 ms of CPU each). State-changing requests look up
# afresh, except those whose service checks the session again inside its own write transaction
# (``CommitCheckedPrincipal``). A revocation in this worker clears the cache at once; other workers' reads
# see it within PRINCIPAL_CACHE_SECONDS, their writes at once.
PRINCIPAL_CACHE_SECONDS = 2.0
PRINCIPAL_CACHE_MAX = 5000
_principal_cache: TTLCache[tuple[str, str], tuple[User, AuthSession]] = TTLCache(PRINCIPAL_CACHE_SECONDS,
                                                                                  PRINCIPAL_CACHE_MAX)


def clear_principal_cache() -> None:
    _principal_cache.clear()


SESSIONS_CHANGED_HOOKS.append(clear_principal_cache)  # a logout or revocation in this worker clears it at once


async def _cached_lookup(session: AsyncSession, token: str, kind: str, *, allow_cached: bool):
    if not allow_cached:
        return await _lookup(session, token, kind)
    key = (token, kind)
    hit = _principal_cache.get(key)
    if hit is not None and hit[1].expires_at >= utcnow():
        return hit
    found = await _lookup(session, token, kind)
    if found is not None:
        _principal_cache.set(key, found)
    else:
        _principal_cache.pop(key)
    return found


async def get_optional_principal(request: Request, session: SessionDep) -> Principal | None:
    return await _resolve_principal(request, session, allow_cached=request.method in SAFE_METHODS)


async def _resolve_principal(request: Request, session: AsyncSession, *, allow_cached: bool) -> Principal | None:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = None
    if token := bearer_token(request):
        found = await _cached_lookup(session, token, "api", allow_cached=allow_cached)
        if found is None:
            raise NotAuthenticated("APIトークンが無効か、有効期限が切れています。", code="invalid_token",
                                   headers={"WWW-Authenticate": "Bearer"})
        principal = Principal(found[0], found[1], "bearer")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        found = await _cached_lookup(session, cookie, "cookie", allow_cached=allow_cached)
        if found is not None:
            principal = Principal(found[0], found[1], "cookie")
    request.state.principal = principal
    if principal is not None:
        request.state.user_id = principal.user.id
    return principal


async def check_csrf(request: Request, principal: Principal) -> None:
    if principal.via != "cookie" or request.method in SAFE_METHODS:
        return
    # Checked before any body is read: the header (scripts), or the query string, which an upload form carries in
    # its action URL (Referrer-Policy same-origin; the access log has no query strings). Only a small urlencoded
    # form is read for its field; a multipart body is never read for a request that may be forged.
    sent = request.headers.get(CSRF_HEADER) or request.query_params.get(CSRF_FORM_FIELD)
    if not sent and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, principal.csrf_token):
        raise CsrfFailed()


async def get_principal(
    request: Request, principal: Annotated[Principal | None, Depends(get_optional_principal)]
) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    await check_csrf(request, principal)
    return principal


async def get_commit_checked_principal(request: Request, session: SessionDep) -> Principal:
    """For a write whose service passes ``principal.auth_session.id`` to its write transaction, which refuses
    it if the session is gone by then (``RowInserter``): the lookup itself may come from the cache."""
    principal = await _resolve_principal(request, session, allow_cached=True)
    if principal is None:
        raise NotAuthenticated()
    await check_csrf(request, principal)
    return principal


async def get_current_user(principal: Annotated[Principal, Depends(get_principal)]) -> User:
    return principal.user


async def get_admin_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("管理者のみが利用できる機能です。", code="admin_only")
    return user


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CommitCheckedPrincipal = Annotated[Principal, Depends(get_commit_checked_principal)]
CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]


# Integer ids in paths: bounded so that a huge number is a 422, not a database overflow.
IntId = Annotated[int, Path(ge=1, le=2_147_483_647, description="numeric id")]


@dataclass(frozen=True)
class Paging:
    """``?page=&per_page=`` of the JSON list endpoints (personas, persona sets, message tests, analyses)."""

    page: Annotated[int, Query(ge=1, le=10_000)] = 1
    per_page: Annotated[int, Query(ge=1, le=100)] = 20


PagingDep = Annotated[Paging, query_params(Paging)]


def client_ip(request: Request) -> str:
    """The client address (uvicorn applies X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"
