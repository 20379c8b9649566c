"""Atomic daily quotas (issue 17, "daily quota race"): check and count in one statement, for every action that
calls a model, under concurrent requests on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from tests.personas.helpers import CREATE_BODY


async def _limited(app, client, quota: int) -> None:
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="limited", password="limited-password-1", daily_quota=quota)
    await client.use_token("limited", "limited-password-1")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_twenty_simultaneous_creations_against_a_quota_of_three(app, client):
    await _limited(app, client, 3)
    answers = await asyncio.gather(*(client.post("/api/personas", json=CREATE_BODY) for _ in range(20)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(202) == 3, codes
    assert codes.count(429) == 17, codes
    assert all(r.json()["error"]["code"] == "quota_exceeded" for r in answers if r.status_code == 429)


async def _done_persona(client) -> str:
    from tests.personas.helpers import parse_sse

    pid = (await client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    stream = await asyncio.wait_for(client.get(f"/api/personas/{pid}/events"), 60)
    assert parse_sse(stream.content)[-1][0] == "done"
    return pid


async def test_regenerate_section_and_timeline_analysis_count(app, client):
    """Each action that calls a model counts: creation (1), a section regenerated (1), a timeline analysis (1);
    the fourth is refused with 429 and a Japanese message."""
    await _limited(app, client, 3)
    pid = await _done_persona(client)
    first = (await client.get(f"/api/personas/{pid}")).json()
    section = next(iter(first["sections"])) if isinstance(first.get("sections"), dict) else "basic"
    r = await client.post(f"/api/personas/{pid}/sections/{section}/regenerate")
    assert r.status_code in (200, 202), r.text
    stream = await asyncio.wait_for(client.get(f"/api/personas/{pid}/events"), 60)
    assert stream.status_code == 200
    await asyncio.sleep(0.5)
    r = await client.post(f"/api/personas/{pid}/timeline-analysis")
    assert r.status_code == 202, r.text
    await asyncio.wait_for(client.get(f"/api/personas/{pid}/timeline-analysis/events"), 60)
    for attempt in (client.post(f"/api/personas/{pid}/regenerate"),
                    client.post(f"/api/personas/{pid}/timeline-analysis")):
        r = await attempt
        assert r.status_code == 429, r.text
        assert "上限" in r.json()["error"]["message"]
