"""Login throttling (issue 17, "owner locked out by strangers" and "username rules"): strangers' failures slow
the strangers down, never the owner; delays grow; `medipersona unlock USER` and the admin button end them."""

from __future__ import annotations

import logging
import re

import httpx

from tests.support.helpers import ADMIN_PASSWORD, Client

TOKEN = "/api/auth/token"


def _client_from(app, address: str) -> Client:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return Client(transport=transport, base_url="http://testserver", follow_redirects=False)


async def _fail(c: Client, n: int, username: str = "admin") -> list[httpx.Response]:
    return [await c.post(TOKEN, json={"username": username, "password": "wrong-password"}) for _ in range(n)]


async def test_strangers_cannot_lock_the_owner_out(app, settings):
    async with _client_from(app, "203.0.113.9") as stranger, _client_from(app, "198.51.100.7") as owner:
        for r in await _fail(stranger, settings.login_max_failures_per_account + 3):
            assert r.status_code in (401, 429)
        r = await owner.post(TOKEN, json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text


async def test_delays_grow_and_are_not_a_hard_lock(app, settings, monkeypatch):
    from medipersona.accounts import throttle

    free = settings.login_max_failures_per_account
    assert [throttle.delay_seconds(n, free, 900) for n in range(free - 1, free + 4)] == [0, 1, 2, 4, 8]
    assert throttle.delay_seconds(free + 40, free, 900) == 900
    async with _client_from(app, "203.0.113.10") as c:
        await _fail(c, free)
        r = await c.post(TOKEN, json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "login_throttled"
        assert 1 <= int(r.headers["retry-after"]) <= 2
        # Once the delay has passed, the right password works again from the same address.
        from datetime import timedelta

        from medipersona import db as db_module

        later = db_module.utcnow() + timedelta(seconds=3)
        monkeypatch.setattr(throttle, "utcnow", lambda: later)
        r = await c.post(TOKEN, json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text


async def test_unlock_from_the_cli_and_the_admin_button(app, settings, caplog, monkeypatch):
    from medipersona.accounts.models import LoginAttempt

    async with _client_from(app, "203.0.113.11") as attacker, _client_from(app, "198.51.100.8") as admin:
        await _fail(attacker, settings.login_max_failures_per_account)
        assert (await attacker.post(TOKEN, json={"username": "admin", "password": ADMIN_PASSWORD})).status_code == 429
        await admin.login()
        users = (await admin.get("/admin/users")).text
        assert "ログイン制限を解除" in users
        user_id = re.search(r'action="/admin/users/(\d+)"', users).group(1)
        with caplog.at_level(logging.WARNING, logger="medipersona.accounts"):
            r = await admin.post(f"/admin/users/{user_id}", data={"action": "unlock", "csrf_token": admin.csrf_token})
        assert r.status_code == 200
        assert "ログイン制限を解除しました" in r.text
        assert any("login unlocked" in rec.getMessage() for rec in caplog.records)
        assert (await attacker.post(TOKEN, json={"username": "admin", "password": ADMIN_PASSWORD})).status_code == 200

    # The CLI, on the same database.
    async with _client_from(app, "203.0.113.12") as attacker:
        await _fail(attacker, settings.login_max_failures_per_account)
    from sqlalchemy import func, select

    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(LoginAttempt)) >= 1
    for name in ("DATA_DIR", "DATABASE_URL", "SECRET_KEY"):
        value = {"DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url,
                 "SECRET_KEY": settings.secret_key}[name]
        monkeypatch.setenv(f"MEDIPERSONA_{name}", value)
    import pytest

    from medipersona import cli
    from medipersona.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as done:
            await __import__("anyio").to_thread.run_sync(cli.main, ["unlock", "admin"])
        assert done.value.code == 0
    finally:
        get_settings.cache_clear()
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(LoginAttempt)
                                    .where(LoginAttempt.username == "admin")) == 0


async def test_one_username_rule_for_api_admin_form_and_cli(client):
    from medipersona.accounts.service import create_user
    from medipersona.errors import InvalidInput

    await client.login()
    bad = ["<img src=x>", "ab", "a" * 300, "na\nme", "bad\x00name", "tab\tname"]
    for name in bad:
        r = await client.post("/api/admin/users", json={"username": name, "password": "a-good-password-1"},
                              headers={"X-CSRF-Token": client.csrf_token})
        assert r.status_code == 422, (name, r.text)
        r = await client.post("/admin/users", data={"username": name, "password": "a-good-password-1",
                                                     "role": "member", "csrf_token": client.csrf_token})
        assert r.status_code == 422, (name, r.status_code)
        assert "ユーザー名" in r.text
    async with client._transport.app.state.db.sessionmaker() as session:
        for name in bad:
            try:
                await create_user(session, username=name, password="a-good-password-1")
            except InvalidInput as exc:
                assert exc.fields[0]["field"] == "username"
            else:
                raise AssertionError(name)
