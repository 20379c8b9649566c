"""/metrics: who may scrape, what it contains (route templates, not raw paths), the hooks, log lines."""

from __future__ import annotations

import json
import logging

import pytest

from medipersona.ops import metrics

TOKEN = "scrape-token-for-tests-0123456789"


@pytest.fixture
def settings_overrides():
    return {"metrics_token": TOKEN}


async def test_anonymous_gets_401(client):
    response = await client.get("/metrics")
    assert response.status_code == 401
    assert response.headers.get("www-authenticate") == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_wrong_token_401_member_403(client, member_client):
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope-nope-nope"})).status_code == 401
    assert (await member_client.get("/metrics")).status_code == 403


async def test_admin_bearer_and_session_and_scrape_token(client, admin_client):
    response = await admin_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "medipersona_http_requests_total" in response.text
    del admin_client.headers["Authorization"]
    await admin_client.login()
    assert (await admin_client.get("/metrics")).status_code == 200
    client.cookies.clear()
    assert (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200


async def test_route_templates_not_raw_paths(admin_client):
    await admin_client.get("/api/auth/me?name=山田花子")
    await admin_client.get("/no/such/page/12345")
    await admin_client.get("/static/css/app.css")
    text = (await admin_client.get("/metrics")).text
    assert 'route="/api/auth/me"' in text
    assert 'route="<unmatched>"' in text and "12345" not in text
    assert 'route="/static/{path}"' in text
    assert "山田" not in text


async def test_hooks_show_up(admin_client):
    metrics.observe_provider_call("simulated", "sim-text", "persona_text", "ok", 3.2)
    metrics.observe_provider_call("simulated", "sim-text", "persona_text", "timeout", 120.0)
    metrics.generation_started()
    metrics.generation_finished("done")
    metrics.set_queue_depth(4)
    metrics.job_recovered("persona")
    metrics.observe_export("pdf", 1.4)
    text = (await admin_client.get("/metrics")).text
    assert ('medipersona_provider_calls_total{model="sim-text",outcome="timeout",provider="simulated",'
            'task="persona_text"}') in text
    assert "medipersona_provider_call_duration_seconds_bucket" in text
    assert "medipersona_generations_in_flight" in text
    assert "medipersona_job_queue_depth 4.0" in text
    assert 'medipersona_job_recoveries_total{kind="persona"}' in text
    assert 'medipersona_exports_total{kind="pdf"}' in text
    assert "medipersona_worker_rss_bytes" in text


async def test_access_log_line(admin_client, caplog):
    caplog.set_level(logging.INFO, logger="medipersona.access")
    logging.getLogger("medipersona").propagate = True
    try:
        await admin_client.get("/api/auth/me?email=hanako@example.jp", headers={"X-Request-ID": "abc123"})
    finally:
        logging.getLogger("medipersona").propagate = False
    records = [r for r in caplog.records if r.name == "medipersona.access"]
    assert records, "no access log line"
    rec = records[-1]
    assert rec.getMessage().startswith("GET /api/auth/me 200 ")
    assert rec.route == "/api/auth/me" and rec.status == 200 and rec.method == "GET"
    assert "hanako" not in rec.getMessage()


def test_json_ai_line_and_redaction():
    from medipersona.ops.logging import JsonFormatter, PlainFormatter, redact

    record = logging.LogRecord("medipersona.ai", logging.INFO, __file__, 1, "[AI] Response time: %.2f seconds",
                               (3.14159,), None)
    for key, value in {"provider": "openai", "model": "gpt-4o-mini", "task": "persona_text", "outcome": "ok",
                       "attempt": 1}.items():
        setattr(record, key, value)
    record.request_id = "r1"
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "[AI] Response time: 3.14 seconds"
    assert (data["provider"], data["model"], data["task"], data["outcome"], data["seconds"]) == (
        "openai", "gpt-4o-mini", "persona_text", "ok", 3.142)
    assert data["request_id"] == "r1"
    plain = PlainFormatter().format(record)
    assert "[AI] Response time: 3.14 seconds provider=openai model=gpt-4o-mini task=persona_text outcome=ok" in plain
    assert "sk-abc" not in redact("key sk-abcdefghijklmnop used")
    assert redact("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer ***"
    assert redact("api_key=AIzaSyA1234567890abcdefghijk") == "api_key=***"
