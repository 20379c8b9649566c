"""The seed's indicators and thresholds (pure functions) and the monitoring page / JSON for admins."""

from __future__ import annotations

import math

import pytest

from medipersona.ops import monitoring as mon
from medipersona.ops import snapshots


@pytest.mark.parametrize(("value", "state"), [(None, "unknown"), (5, "ok"), (30, "ok"), (30.1, "caution"),
                                              (80, "caution"), (80.1, "warning")])
def test_cpu(value, state):
    assert mon.cpu_state(value) == state


@pytest.mark.parametrize(("value", "state"), [(50, "ok"), (80, "ok"), (85, "caution"), (90, "caution"),
                                              (90.5, "warning")])
def test_memory(value, state):
    assert mon.memory_state(value) == state


def test_p95_error_rate_and_503():
    assert mon.p95_state(29.9) == "ok" and mon.p95_state(30.5) == "warning" and mon.p95_state(None) == "unknown"
    assert mon.error_rate_state(0, 0) == "unknown"
    assert mon.error_rate_state(9, 1000) == "ok"
    assert mon.error_rate_state(10, 1000) == "warning"
    assert mon.status_503_state(0, 1000) == "ok"
    assert mon.status_503_state(3, 1000) == "caution"
    assert mon.status_503_state(10, 100000) == "warning"       # frequent: 10 in the window
    assert mon.status_503_state(2, 100) == "warning"           # or >= 1 % of requests


def test_sigkill_restarts_providers_queue():
    assert mon.sigkill_state(1, 1) == "warning"
    assert mon.sigkill_state(0, 2) == "caution"
    assert mon.sigkill_state(0, 0) == "ok"
    assert mon.restart_state({"recycled": 12}) == "ok"
    assert mon.restart_state({"recycled": 1, "timeout": 1}) == "caution"
    assert mon.provider_error_state(0, 100) == "ok"
    assert mon.provider_error_state(2, 100) == "caution"
    assert mon.provider_error_state(5, 100) == "warning"
    assert mon.provider_latency_state(12) == "ok" and mon.provider_latency_state(45) == "caution"
    assert mon.queue_state(0) == "ok" and mon.queue_state(101) == "caution"


def test_histogram_quantile_like_prometheus():
    buckets = {0.1: 50, 0.5: 90, 1.0: 100, math.inf: 100}
    assert snapshots.histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert snapshots.histogram_quantile(0.95, buckets) == pytest.approx(0.75)
    assert snapshots.histogram_quantile(0.95, {}) is None
    assert snapshots.histogram_quantile(0.95, {1.0: 0, math.inf: 0}) is None
    assert snapshots.histogram_quantile(0.99, {1.0: 1, math.inf: 10}) == 1.0  # beyond the last finite bucket


def _samples(requests_ok=100, requests_503=0, slow=0, sigkills=0):
    s = [
        ("medipersona_http_requests_total", {"method": "GET", "route": "/login", "status": "200"}, requests_ok),
        ("medipersona_http_requests_total", {"method": "POST", "route": "/api/personas", "status": "503"}, requests_503),
        ("medipersona_http_requests_total", {"method": "GET", "route": "/healthz", "status": "200"}, 5000),
        ("medipersona_http_request_duration_seconds_bucket", {"method": "GET", "route": "/login", "le": "0.1"},
         requests_ok - slow),
        ("medipersona_http_request_duration_seconds_bucket", {"method": "GET", "route": "/login", "le": "60.0"},
         requests_ok),
        ("medipersona_http_request_duration_seconds_bucket", {"method": "GET", "route": "/login", "le": "+Inf"},
         requests_ok),
        ("medipersona_worker_restarts_total", {"reason": "sigkill"}, sigkills),
        ("medipersona_worker_rss_bytes", {"pid": "11"}, 100 * 1048576),
        ("medipersona_worker_rss_bytes", {"pid": "12"}, 120 * 1048576),
        ("medipersona_box_cpu_percent", {}, 12.0),
        ("medipersona_generations_in_flight", {}, 3),
        ("medipersona_provider_calls_total", {"provider": "openai", "model": "gpt-4o-mini", "task": "persona_text",
                                              "outcome": "ok"}, 95),
        ("medipersona_provider_calls_total", {"provider": "openai", "model": "gpt-4o-mini", "task": "persona_text",
                                              "outcome": "timeout"}, 5),
    ]
    return s


def test_snapshot_excludes_probes_and_evaluates():
    snap = snapshots.snapshot_from_samples(_samples(requests_503=2))
    assert snap.requests == 102  # /healthz left out
    assert snap.status_503 == 2 and snap.errors_5xx == 2
    assert snap.worker_rss == {"11": 100 * 1048576, "12": 120 * 1048576}
    indicators = {i.key: i for i in mon.evaluate(snap, snap, memory_percent=95.0)}
    assert indicators["memory"].state == "warning"
    assert indicators["memory"].remedy.startswith("ワーカー数を減らす")
    assert indicators["cpu"].state == "ok"
    assert indicators["error_rate"].state == "warning"
    assert indicators["status_503"].state == "warning"
    assert "タイムアウトを延長" in indicators["status_503"].remedy
    assert indicators["p95"].state == "ok"
    assert indicators["in_flight"].value == 3
    rows = mon.provider_rows(snap)
    assert rows[0]["error_rate"] == 5.0 and rows[0]["state"] == "warning"
    assert mon.overall_state(list(indicators.values())) == "warning"


def test_window_delta_and_sigkill():
    then = snapshots.snapshot_from_samples(_samples(requests_ok=100))
    now = snapshots.snapshot_from_samples(_samples(requests_ok=300, slow=150, sigkills=1))
    window = snapshots.window_delta(now, then)
    assert window.requests == 200
    p95 = snapshots.histogram_quantile(0.95, window.latency_buckets)
    assert p95 > 30  # 150 of the last 200 took more than 0.1 s, up to 60 s
    indicators = {i.key: i for i in mon.evaluate(now, window, memory_percent=40.0, window_label="直近15分")}
    assert indicators["p95"].state == "warning"
    assert indicators["sigkill"].state == "warning"
    assert indicators["sigkill"].remedy == "メモリ不足（ログでは SIGKILL / OOM）: ワーカー数をすぐに減らす"
    # an old SIGKILL outside the window: caution, not warning
    later = snapshots.window_delta(now, now)
    assert {i.key: i for i in mon.evaluate(now, later, 40.0)}["sigkill"].state == "caution"


def test_history_baseline():
    h = snapshots.History(keep_seconds=100)
    h.add(1000, _samples(requests_ok=10))
    h.add(1050, _samples(requests_ok=20))
    h.add(1120, _samples(requests_ok=30))  # drops the first (older than 100 s)
    when, snap = h.baseline(1120, window=90)
    assert when == 1050 and snap.requests == 20
    assert h.baseline(5000, window=10) is None


async def test_page_for_admin(client):
    await client.login()
    response = await client.get("/admin/monitoring")
    assert response.status_code == 200
    text = response.text
    assert "モニタリング" in text and "メモリ使用率" in text and "レスポンスタイム（P95）" in text
    assert "ワーカー数を減らす" in text  # the seed's remedies are listed
    assert "用語の説明" in text and "Worker RSS" not in text  # technical words explained, not shown bare
    assert "<script>" not in text and " style=" not in text  # CSP: no inline script or style


async def test_page_and_json_forbidden_for_members(member_client):
    assert (await member_client.get("/admin/monitoring")).status_code == 403
    assert (await member_client.get("/api/admin/monitoring")).status_code == 403


async def test_page_anonymous_redirects_to_login(client):
    response = await client.get("/admin/monitoring")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert (await client.get("/api/admin/monitoring")).status_code == 401


async def test_json_for_admin(admin_client):
    for _ in range(3):
        await admin_client.get("/api/catalog")
    data = (await admin_client.get("/api/admin/monitoring")).json()
    keys = [i["key"] for i in data["indicators"]]
    assert keys[:7] == ["cpu", "memory", "p95", "error_rate", "status_503", "sigkill", "restarts"]
    assert data["state"] in {"ok", "caution", "warning", "unknown"}
    assert data["environment"]["multiprocess"] is False
    assert data["workers"] and data["workers"][0]["rss"] > 0


def test_worker_rows_show_event_loop_lag():
    snap = snapshots.snapshot_from_samples([
        ("medipersona_worker_rss_bytes", {"pid": "11"}, 100 * 1048576),
        ("medipersona_worker_rss_bytes", {"pid": "12"}, 100 * 1048576),
        ("medipersona_event_loop_lag_max_seconds", {"pid": "11"}, 0.012),
        ("medipersona_event_loop_lag_max_seconds", {"pid": "12"}, 1.5),
    ])
    rows = {r["pid"]: r for r in mon.worker_rows(snap)}
    assert rows["11"]["lag_state"] == "ok" and rows["11"]["lag_display"] == "12 ms"
    assert rows["12"]["lag_state"] == "caution"


async def test_lag_loop_observes(admin_client):
    import asyncio

    from medipersona.ops import metrics

    task = asyncio.create_task(metrics._lag_loop())
    await asyncio.sleep(0.6)
    task.cancel()
    text = (await admin_client.get("/metrics")).text
    count = [line for line in text.splitlines() if line.startswith("medipersona_event_loop_lag_seconds_count")]
    assert count and float(count[0].rsplit(" ", 1)[1]) >= 1


def test_db_connection_budget():
    assert mon.db_connections_state(None, 100) == "unknown"
    assert mon.db_connections_state(12, None) == "ok"        # SQLite: no server limit
    assert mon.db_connections_state(79, 100) == "ok"
    assert mon.db_connections_state(80, 100) == "caution"
    assert mon.db_connections_state(96, 100) == "warning"
    snap = snapshots.snapshot_from_samples([("medipersona_db_connections_open", {"pid": "1"}, 50),
                                      ("medipersona_db_connections_open", {"pid": "2"}, 35),
                                      ("medipersona_db_connections_in_use", {"pid": "1"}, 30)])
    assert snap.db_open == 85 and snap.db_in_use == 30
    ind = {i.key: i for i in mon.evaluate(snap, snap, 10.0, db_max_connections=100)}["db_connections"]
    assert ind.state == "caution" and "max_connections" in ind.remedy


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_json_reports_db_connections(admin_client, backend):
    data = (await admin_client.get("/api/admin/monitoring")).json()
    ind = {i["key"]: i for i in data["indicators"]}["db_connections"]
    assert ind["value"] is not None and ind["value"] >= 1
    if backend == "postgres":
        assert "PostgreSQLの接続上限" in ind["detail"]
    else:
        assert "SQLite" in ind["target"]
