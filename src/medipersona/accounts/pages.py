"""Japanese pages: login, logout, dashboard, password change, user administration."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from medipersona.accounts import service
from medipersona.catalog.service import get_catalog
from medipersona.deps import (
    SESSION_COOKIE,
    AdminUser,
    CurrentPrincipal,
    CurrentUser,
    IntId,
    OptionalPrincipal,
    SessionDep,
    SettingsDep,
    client_ip,
)
from medipersona.errors import AppError, InvalidInput
from medipersona.settings import Settings
from medipersona.web.templating import render

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "mp_login_csrf"


def secure_cookie(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure == "always":
        return True
    if settings.cookie_secure == "never":
        return False
    return request.url.scheme == "https"


def safe_next(target: str | None) -> str:
    """Only same-site relative paths, so that the login form cannot redirect elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(request: Request, settings: Settings, *, error: str = "", username: str = "", next_url: str = "/",
                status_code: int = 200):
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"error": error, "username": username, "next_url": next_url, "login_csrf": token},
        status_code=status_code,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax",
                        secure=secure_cookie(request, settings), max_age=3600)
    return response


@router.get("/login")
async def login_form(request: Request, principal: OptionalPrincipal, settings: SettingsDep, next: str = "/"):
    if principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, settings, next_url=safe_next(next))


@router.post("/login")
async def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: str = Form("", max_length=64),
    password: str = Form("", max_length=256),
    next: str = Form("/", max_length=2000),
    csrf_token: str = Form("", max_length=200),
):
    next_url = safe_next(next)
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not cookie_token or not hmac.compare_digest(csrf_token, cookie_token):
        return _login_page(request, settings, error="ページの有効期限が切れました。もう一度ログインしてください。",
                           username=username, next_url=next_url, status_code=403)
    if not username or not password:
        return _login_page(request, settings, error="ユーザー名とパスワードを入力してください。",
                           username=username, next_url=next_url, status_code=422)
    try:
        user = await service.authenticate(session, settings, username, password, client_ip(request))
    except AppError as exc:
        return _login_page(request, settings, error=exc.message, username=username, next_url=next_url,
                           status_code=exc.status_code)
    issued = await service.issue_session(session, settings, user, "cookie")
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request, settings),
        max_age=settings.session_max_age_seconds,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(principal: CurrentPrincipal, session: SessionDep):
    await service.revoke_session(session, principal.auth_session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def dashboard(request: Request, user: CurrentUser, session: SessionDep):
    from medipersona.personas.models import Persona

    query = select(func.count()).select_from(Persona)
    if not user.is_admin:
        query = query.where(Persona.owner_id == user.id)
    persona_count = await session.scalar(query) or 0
    recent = list(
        await session.scalars(
            select(Persona)
            .where(Persona.owner_id == user.id)
            .order_by(Persona.created_at.desc())
            .limit(5)
        )
    )
    catalog = get_catalog()
    return render(
        request,
        "dashboard.html",
        {
            "persona_count": persona_count,
            "recent": recent,
            "sections": [s for s in catalog.sections if s.id in user.sections],
            "department_count": len(catalog.departments_in(user.sections)),
        },
    )


@router.get("/account/password")
async def password_form(request: Request, _user: CurrentUser):
    return render(request, "account_password.html", {})


@router.post("/account/password")
async def password_submit(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    current_password: str = Form("", max_length=256),
    new_password: str = Form("", max_length=256),
    new_password_confirm: str = Form("", max_length=256),
):
    if new_password != new_password_confirm:
        return render(request, "account_password.html",
                      {"error": "新しいパスワードが確認用と一致しません。"}, status_code=422)
    try:
        await service.change_password(session, principal.user, current_password=current_password,
                                      new_password=new_password, keep_session_id=principal.auth_session.id)
    except AppError as exc:
        return render(request, "account_password.html", {"error": exc.message}, status_code=exc.status_code)
    return render(request, "account_password.html", {"message": "パスワードを変更しました。"})


async def _users_page(request: Request, session, *, error: str = "", message: str = "", status_code: int = 200):
    return render(
        request,
        "admin_users.html",
        {
            "users": await service.list_users(session),
            "sections": get_catalog().sections,
            "username_rule": service.USERNAME_RULE,
            "error": error,
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/admin/users")
async def users_page(request: Request, _admin: AdminUser, session: SessionDep):
    return await _users_page(request, session)


@router.post("/admin/users")
async def users_create(request: Request, _admin: AdminUser, session: SessionDep):
    form = await request.form()
    try:
        user = await service.create_user(
            session,
            username=str(form.get("username", "")).strip(),
            password=str(form.get("password", "")),
            role=str(form.get("role", "member")),
            sections=[str(s) for s in form.getlist("sections")],
            daily_quota=_quota(form.get("daily_quota")),
        )
    except AppError as exc:
        return await _users_page(request, session, error=exc.message, status_code=exc.status_code)
    return await _users_page(request, session, message=f"ユーザー「{user.username}」を作成しました。")


def _quota(value) -> int:
    """Daily generation limit from a form field ('' or 0 = unlimited)."""
    text = str(value or "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > 100000:
        raise InvalidInput("1日あたりの上限は0〜100000の整数で入力してください（0は無制限）。",
                           fields=[{"field": "daily_quota", "message": "0〜100000の整数で入力してください。"}])
    return int(text)


@router.post("/admin/users/{user_id}")
async def users_update(request: Request, user_id: IntId, admin: AdminUser, session: SessionDep):
    form = await request.form()
    action = str(form.get("action", "update"))
    try:
        user = await service.get_user(session, user_id)
        if action == "unlock":
            from medipersona.accounts import throttle

            removed = await throttle.unlock(session, user.username, by=f"admin:{admin.username}")
            return await _users_page(request, session,
                                     message=f"ユーザー「{user.username}」のログイン制限を解除しました（失敗記録{removed}件）。")
        if action == "delete":
            name = user.username
            await service.delete_user(session, user, acting_user=admin)
            return await _users_page(request, session, message=f"ユーザー「{name}」を削除しました。")
        password = str(form.get("password", "")) or None
        await service.update_user(
            session,
            user,
            role=str(form.get("role", user.role)),
            sections=[str(s) for s in form.getlist("sections")],
            is_active=form.get("is_active") == "on",
            password=password,
            daily_quota=_quota(form.get("daily_quota")),
        )
    except AppError as exc:
        return await _users_page(request, session, error=exc.message, status_code=exc.status_code)
    return await _users_page(request, session, message=f"ユーザー「{user.username}」を更新しました。")
