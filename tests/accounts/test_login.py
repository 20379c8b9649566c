"""Login, logout, sessions, CSRF, throttling, bearer tokens and roles — over HTTP against a real database."""

import re

import pytest

from tests.support.helpers import ADMIN_PASSWORD, MEMBER_PASSWORD

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


async def test_login_success_sets_secure_session_cookie(client):
    response = await client.login()
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "mp_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    dashboard = await client.get("/")
    assert dashboard.status_code == 200
    assert "ダッシュボード" in dashboard.text
    assert "admin" in dashboard.text


async def test_login_failure_shows_japanese_error(client):
    response = await client.login(password="wrong-password")
    assert response.status_code == 401
    assert "ユーザー名またはパスワードが正しくありません" in response.text
    assert (await client.get("/")).status_code == 303  # still anonymous → redirect to login


async def test_login_page_redirects_anonymous_users(client):
    response = await client.get("/account/password")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_login_without_login_csrf_is_rejected(client):
    response = await client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 403
    assert "mp_session" not in response.headers.get("set-cookie", "")


async def test_open_redirect_is_refused(client):
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                                  "csrf_token": token, "next": "//evil.example/x"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_account_is_throttled_after_repeated_failures(client, settings):
    for _ in range(settings.login_max_failures_per_account):
        response = await client.post("/api/auth/token", json={"username": "admin", "password": "nope-nope"})
        assert response.status_code == 401
    # Even the right password must wait, from this address (others are not slowed: tests/bounds).
    response = await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 429
    assert response.headers["retry-after"]
    assert response.json()["error"]["code"] == "login_throttled"
    assert "待って" in response.json()["error"]["message"]


async def test_ip_is_throttled_across_accounts(client, settings):
    for i in range(settings.login_max_failures_per_ip):
        await client.post("/api/auth/token", json={"username": f"user{i % 7}", "password": "nope-nope"})
    response = await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "ip_throttled"


async def test_successful_login_resets_account_failures(client, settings):
    for _ in range(settings.login_max_failures_per_account - 1):
        await client.post("/api/auth/token", json={"username": "admin", "password": "nope-nope"})
    assert (await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
            ).status_code == 200
    for _ in range(settings.login_max_failures_per_account - 1):
        await client.post("/api/auth/token", json={"username": "admin", "password": "nope-nope"})
    assert (await client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
            ).status_code == 200


async def test_csrf_required_for_cookie_state_changes(client, member):
    await client.login()
    body = {"username": "newuser1", "password": "a-good-password-1", "role": "member"}
    no_token = await client.post("/api/admin/users", json=body)
    assert no_token.status_code == 403
    assert no_token.json()["error"]["code"] == "csrf_failed"
    wrong = await client.post("/api/admin/users", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    ok = await client.post("/api/admin/users", json=body, headers={"X-CSRF-Token": client.csrf_token})
    assert ok.status_code == 201, ok.text
    # Logout is state-changing too.
    assert (await client.post("/logout")).status_code == 403
    assert (await client.post("/logout", data={"csrf_token": client.csrf_token})).status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_bearer_token_works_on_api_without_csrf(client):
    token = await client.token()
    headers = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == "admin"
    created = await client.post("/api/admin/users", headers=headers,
                                json={"username": "scripted", "password": "scripted-pass-1"})
    assert created.status_code == 201
    # Revoked tokens stop working.
    assert (await client.delete("/api/auth/token", headers=headers)).status_code == 204
    again = await client.get("/api/auth/me", headers=headers)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_token"


async def test_bad_bearer_token_is_401_with_message(client):
    response = await client.get("/api/catalog", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["message"]


async def test_member_gets_403_on_admin_endpoints(member_client, member):
    for method, path in [("GET", "/api/admin/users"), ("POST", "/api/admin/users"),
                         ("PATCH", f"/api/admin/users/{member.id}"), ("DELETE", f"/api/admin/users/{member.id}")]:
        response = await member_client.request(method, path, json={} if method in ("POST", "PATCH") else None)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "admin_only"
    assert (await member_client.get("/admin/users")).status_code == 403


async def test_password_change_signs_out_other_sessions(client, member):
    other = await client.token("member1", MEMBER_PASSWORD)
    await client.use_token("member1", MEMBER_PASSWORD)
    bad = await client.post("/api/auth/password", json={"current_password": "wrong", "new_password": "x"})
    assert bad.status_code == 422
    weak = await client.post("/api/auth/password",
                             json={"current_password": MEMBER_PASSWORD, "new_password": "short"})
    assert weak.status_code == 422
    assert weak.json()["error"]["fields"][0]["field"] == "new_password"
    ok = await client.post("/api/auth/password",
                           json={"current_password": MEMBER_PASSWORD, "new_password": "brand-new-pass-9"})
    assert ok.status_code == 204
    assert (await client.get("/api/auth/me")).status_code == 200  # this token survives
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"})).status_code == 401
    assert (await client.post("/api/auth/token", json={"username": "member1", "password": "brand-new-pass-9"})
            ).status_code == 200


async def test_admin_manages_users(admin_client, member):
    users = (await admin_client.get("/api/admin/users")).json()
    assert {u["username"] for u in users} == {"admin", "member1"}
    patched = await admin_client.patch(f"/api/admin/users/{member.id}", json={"sections": ["dental"]})
    assert patched.json()["sections"] == ["dental"]
    bad = await admin_client.patch(f"/api/admin/users/{member.id}", json={"sections": ["space"]})
    assert bad.status_code == 422
    assert "space" in bad.json()["error"]["message"]
    dup = await admin_client.post("/api/admin/users", json={"username": "member1", "password": "another-pass-1"})
    assert dup.status_code == 409
    me = (await admin_client.get("/api/auth/me")).json()
    last_admin = await admin_client.patch(f"/api/admin/users/{me['id']}", json={"role": "member"})
    assert last_admin.status_code == 409
    assert (await admin_client.delete(f"/api/admin/users/{member.id}")).status_code == 204
    assert (await admin_client.delete(f"/api/admin/users/{member.id}")).status_code == 404


async def test_disabled_user_cannot_log_in(admin_client, member):
    await admin_client.patch(f"/api/admin/users/{member.id}", json={"is_active": False})
    response = await admin_client.post("/api/auth/token", json={"username": "member1", "password": MEMBER_PASSWORD})
    assert response.status_code == 401


async def test_api_docs_only_for_logged_in_users(client):
    assert (await client.get("/openapi.json")).status_code == 401
    assert (await client.get("/docs")).status_code == 303
    await client.use_token()
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/catalog" in spec.json()["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in docs.text
    assert "http" not in docs.text.split("<body>")[1]  # no external URLs
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert (await client.get("/docs/assets/index.html")).status_code == 404  # the package's demo page is not served
    client.headers.pop("Authorization")
    assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 303  # to the login page


async def test_revocation_elsewhere_blocks_state_changes_at_once(app, client, monkeypatch):
    """Read-only requests may reuse a token lookup for up to 2 s; writes look up afresh (persona creation
    checks the session in its insert transaction instead: tests/personas/test_hot_path.py)."""
    from sqlalchemy import delete

    from medipersona import deps
    from medipersona.accounts.models import AuthSession

    await client.use_token()
    assert (await client.get("/api/auth/me")).status_code == 200  # now cached
    # Another worker revokes every session: this worker's cache does not know.
    async with app.state.db.sessionmaker() as session:
        await session.execute(delete(AuthSession))
        await session.commit()
    write = await client.post("/api/admin/users", json={"username": "late-writer", "password": "late-writer-pw1"})
    assert write.status_code == 401
    monkeypatch.setattr(deps._principal_cache, "ttl", 0.0)
    assert (await client.get("/api/auth/me")).status_code == 401
