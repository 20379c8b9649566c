"""Account API: bearer tokens, the current user, password change, user administration."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from medipersona.accounts import service
from medipersona.accounts.schemas import (
    PasswordChange,
    TokenRequest,
    TokenResponse,
    UserCreate,
    UserOut,
    UserUpdate,
)
from medipersona.db import utcnow
from medipersona.deps import (
    AdminUser,
    CurrentPrincipal,
    CurrentUser,
    IntId,
    SessionDep,
    SettingsDep,
    client_ip,
)

router = APIRouter(prefix="/api", tags=["accounts"])


@router.post("/auth/token", response_model=TokenResponse)
async def create_token(body: TokenRequest, request: Request, session: SessionDep, settings: SettingsDep):
    """Exchange a username and password for a bearer token (throttled like the login page)."""
    user = await service.authenticate(session, settings, body.username, body.password, client_ip(request))
    issued = await service.issue_session(session, settings, user, "api")
    return TokenResponse(
        access_token=issued.token,
        expires_at=utcnow() + timedelta(seconds=settings.api_token_max_age_seconds),
    )


@router.delete("/auth/token", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Revoke the token (or browser session) this request was made with."""
    await service.revoke_session(session, principal.auth_session.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/me", response_model=UserOut)
async def me(user: CurrentUser):
    return user


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await service.change_password(
        session,
        principal.user,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session_id=principal.auth_session.id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/users", response_model=list[UserOut])
async def list_users(_admin: AdminUser, session: SessionDep):
    return await service.list_users(session)


@router.post("/admin/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, _admin: AdminUser, session: SessionDep):
    return await service.create_user(session, **body.model_dump())


@router.patch("/admin/users/{user_id}", response_model=UserOut)
async def update_user(user_id: IntId, body: UserUpdate, _admin: AdminUser, session: SessionDep):
    user = await service.get_user(session, user_id)
    return await service.update_user(session, user, **body.model_dump(exclude_unset=True))


@router.delete("/admin/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: IntId, admin: AdminUser, session: SessionDep) -> Response:
    user = await service.get_user(session, user_id)
    await service.delete_user(session, user, acting_user=admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/admin/users/{user_id}/unlock", status_code=status.HTTP_200_OK)
async def unlock_user(user_id: IntId, admin: AdminUser, session: SessionDep) -> dict:
    """Forget the user's failed logins from every address (the waits they caused end at once)."""
    from medipersona.accounts import throttle

    user = await service.get_user(session, user_id)
    return {"username": user.username,
            "cleared": await throttle.unlock(session, user.username, by=f"admin:{admin.username}")}
