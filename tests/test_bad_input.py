"""Every endpoint answers bad input with a 4xx and a clear message — never a 500, never an empty 200.

Walks every route the app registers (API and pages), so endpoints added later are covered automatically.
"""

import re

from fastapi.routing import APIRoute

# Endpoints whose side effect would end the test's own session.
SKIP = {("DELETE", "/api/auth/token"), ("POST", "/logout")}

BAD_BODIES = [
    ("invalid json", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("wrong type", {"json": ["a", "list"]}),
    ("junk fields", {"json": {"junk": "<script>alert(1)</script>", "department": 123, "age": -5}}),
    ("huge string", {"json": {"username": "x" * 100_000, "name": "y" * 100_000}}),
    ("form junk", {"data": {"junk": "1", "age": "abc"}}),
]
BAD_IDS = ["does-not-exist", "0", "-1", "%00", "9" * 30]


def _api_routes(routes):
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's included-router wrapper (we add no include prefix)
            yield from _api_routes(route.original_router.routes)


def _routes(app):
    for route in _api_routes(app.routes):
        for method in route.methods - {"HEAD", "OPTIONS"}:
            if (method, route.path) not in SKIP:
                yield method, route


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _assert_clear_error(response, what, *, junk: bool):
    """Never a 5xx; a 4xx says why (JSON ``error.message`` or a page with text); ``junk`` input (a bad id, a bad
    body) is refused, not answered 2xx as if it meant something. Redirects (login pages, PRG) are allowed."""
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if junk:
        assert not 200 <= response.status_code < 300, f"{what}: accepted junk with {response.status_code}"
    if response.status_code >= 400:
        if response.headers.get("content-type", "").startswith("application/json"):
            error = response.json().get("error")
            assert error and error.get("message"), f"{what}: no error message in {response.text[:300]}"
        else:
            assert response.text.strip(), f"{what}: empty {response.status_code} page"


async def test_bad_input_never_500(admin_client, app):
    checked = 0
    for method, route in _routes(app):
        for bad_id in BAD_IDS if "{" in route.path else [""]:
            path = _fill(route.path, bad_id) if bad_id else route.path
            if method in ("GET", "DELETE"):
                variants = [("no params", {}), ("junk query", {"params": {
                    "department": "nope", "chief_complaint": "<x>", "age": "abc", "gender": "robot",
                    "page": "-1", "date_from": "yesterday", "q": "'; drop table users; --"}})]
            else:
                variants = BAD_BODIES
            for label, kwargs in variants:
                response = await admin_client.request(method, path, **kwargs)
                junk = bool(bad_id) or method not in ("GET", "DELETE")
                _assert_clear_error(response, f"{method} {path} [{label}]", junk=junk)
                checked += 1
    assert checked > 50


async def test_unknown_api_path_is_json_404(admin_client):
    response = await admin_client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_unknown_page_is_japanese_404(client):
    await client.login()
    response = await client.get("/nothing-here")
    assert response.status_code == 404
    assert "見つかりません" in response.text


async def test_validation_messages_are_japanese_and_field_level(client):
    response = await client.post("/api/auth/token", json={"username": ""})
    assert response.status_code == 422
    fields = {f["field"]: f["message"] for f in response.json()["error"]["fields"]}
    assert "password" in fields and "必須" in fields["password"]
    assert "username" in fields and "文字以上" in fields["username"]


async def test_security_headers_on_every_response(client):
    for path in ("/login", "/healthz", "/api/catalog"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]
