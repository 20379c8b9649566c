"""Cost control: the admin's daily limit of Places-backed analyses per user holds under concurrent requests
(one app, and several engines standing in for several workers), on SQLite and PostgreSQL; the refusal is a 429
with a Japanese message; list analyses are not counted; Places requests reach the usage page."""

from __future__ import annotations

import asyncio

import pytest

from medipersona.competitors.http import aclose_http_client

from .fakes import TEXT, FakeServer
from .helpers import body, wait_status
from .places_standin import PlacesStandIn, at

KEY = "limit-key"


@pytest.fixture
async def fake():
    with FakeServer() as server:
        PlacesStandIn([at("a", "丸の内内科", 300, 0, categories=("内科",))], KEY).install(server)
        yield server
    await aclose_http_client()


@pytest.fixture
def settings_overrides(fake) -> dict:
    return {"google_places_api_key": KEY, "google_places_base_url": fake.url}


def places_body() -> dict:
    data = body(population=None)
    data.pop("source")
    data.pop("competitors")
    return data


async def set_limit(admin_client, limit: int) -> None:
    r = await admin_client.put("/api/admin/settings", json={"limits": {"places_analyses_per_day": limit}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["limits"]["places_analyses_per_day"] == limit


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_the_daily_limit_holds_under_concurrent_requests(admin_client, fake):
    await set_limit(admin_client, 3)
    responses = await asyncio.gather(*(admin_client.post("/api/competitors", json=places_body()) for _ in range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] * 3 + [429] * 7, statuses
    refused = next(r for r in responses if r.status_code == 429)
    error = refused.json()["error"]
    assert error["code"] == "places_daily_limit" and "上限（1日3件）に達しました" in error["message"]
    assert "競合リスト" in error["message"] and int(refused.headers["retry-after"]) > 0
    for r in responses:
        if r.status_code == 202:
            assert (await wait_status(admin_client, r.json()["id"]))["status"] == "done"
    # Refused requests stored nothing; an analysis from a list is not limited.
    assert (await admin_client.get("/api/competitors")).json()["total"] == 3
    assert (await admin_client.post("/api/competitors", json=body())).status_code == 202
    usage = (await admin_client.get("/api/admin/usage")).json()["places"]
    (user,) = usage["users"]
    assert user["analyses"] == 3 and user["calls"] == 9  # 3 analyses × 3 search terms, one page each
    page = (await admin_client.get("/admin/settings")).text
    assert 'id="places-usage"' in page and "3件／9回" in page and 'name="limit.places_analyses_per_day"' in page


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_the_counter_is_atomic_across_workers(app, settings):
    """Two engines (two workers' connection pools) reserve at once: exactly ``limit`` succeed."""
    from medipersona.accounts.service import get_user_by_username
    from medipersona.competitors import usage
    from medipersona.db import Database
    from medipersona.errors import TooManyRequests
    from medipersona.jobs.dblock import write_lock

    async with app.state.db.sessionmaker() as session:
        admin = await get_user_by_username(session, "admin")
    workers = [Database(settings), Database(settings)]

    async def reserve(db: Database) -> bool:
        async with db.sessionmaker() as session, write_lock(session.bind):
            try:
                await usage.reserve_analysis(session, admin.id, 5)
            except TooManyRequests:
                return False
            await session.commit()
            return True

    try:
        results = await asyncio.gather(*(reserve(workers[i % 2]) for i in range(16)))
    finally:
        for db in workers:
            await db.dispose()
    assert results.count(True) == 5
    async with app.state.db.sessionmaker() as session:
        from medipersona.competitors.models import PlacesUsage

        row = await session.get(PlacesUsage, (admin.id, usage.today()))
        assert row.analyses == 5


async def test_no_limit_and_validation(admin_client, fake):
    await set_limit(admin_client, 0)  # 0 = no limit
    for _ in range(4):
        assert (await admin_client.post("/api/competitors", json=places_body())).status_code == 202
    r = await admin_client.put("/api/admin/settings", json={"limits": {"places_analyses_per_day": -1}})
    assert r.status_code == 422 and "0〜1000" in r.text
    r = await admin_client.put("/api/admin/settings", json={"limits": {"unknown": 1}})
    assert r.status_code == 422


async def test_a_run_again_counts_and_is_refused_at_the_limit(admin_client, fake):
    from .fakes import Reply

    await set_limit(admin_client, 1)
    fake.on(TEXT, Reply(403, {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}))
    r = await admin_client.post("/api/competitors", json=places_body())
    assert (await wait_status(admin_client, r.json()["id"]))["status"] == "failed"
    again = await admin_client.post(f"/api/competitors/{r.json()['id']}/retry")
    assert again.status_code == 429 and again.json()["error"]["code"] == "places_daily_limit"
    assert (await admin_client.get(f"/api/competitors/{r.json()['id']}")).json()["status"] == "failed"
