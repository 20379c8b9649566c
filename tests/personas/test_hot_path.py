"""The generation hot path asks the database only what it must (issue 3: 200 POSTs on one worker).

- A job started by the POST that created its persona does not read the persona back.
- A stream of a job running in this worker starts from the events kept in memory (no ``job_events`` read),
  and says exactly what a stream reading the table says.
- ``POST /api/personas`` may authenticate from the principal cache, because the insert checks the login
  session in its own transaction: one query per batch of POSTs, and a revoked session still writes nothing.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, func, select

from medipersona.personas.models import Persona

from .helpers import CREATE_BODY, parse_sse, stream_events

SLOW = {"text_provider": "simulated", "image_provider": "simulated", "simulated_text_seconds": 0.8,
        "simulated_image_seconds": 1.0}


@contextmanager
def statements(app):
    """Collect the SQL statements the app sends while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()).lower())

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def selects_from(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if s.startswith("select") and re.search(rf"\b(from|join) {table}\b", s)]


@pytest.mark.parametrize("settings_overrides", [SLOW])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_generation_reads_nothing_back_and_streams_from_memory(app, admin_client):
    with statements(app) as seen:
        created = await admin_client.post("/api/personas", json=CREATE_BODY)
        assert created.status_code == 202
        pid = created.json()["id"]
        await asyncio.sleep(0.4)  # the job runs: status and first deltas are committed
        assert app.state.jobs.local_job_of(pid) is not None
        before_stream = len(seen)
        live = await stream_events(admin_client, pid)  # connects mid-generation, follows to the end
        during_stream = seen[before_stream:]
    assert live[0] == ("status", {"status": "queued"})
    assert live[-1][0] == "done"
    assert any(t == "delta" for t, _ in live)
    read_back = [s for s in selects_from(seen, "personas") if "where personas.id =" in s]
    assert not read_back, "the job read its persona back"
    # The writer keeps writing meanwhile (and numbers event ids with a max(id) read); the stream itself reads
    # neither the events nor the persona row.
    stream_reads = [s for s in during_stream if s.startswith(("select job_events.id, job_events.type",
                                                              "select personas.owner_id"))]
    assert not stream_reads

    # The job has ended: its log is gone and a new stream reads the table. Both say the same.
    assert app.state.jobs.local_job_of(pid) is None
    with statements(app) as seen:
        from_table = await stream_events(admin_client, pid)
    assert [s for s in seen if s.startswith("select job_events.id, job_events.type")]
    assert from_table == live


@pytest.mark.parametrize("settings_overrides", [SLOW])
async def test_memory_stream_is_only_for_the_owner(app, admin_client, member_client):
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    await asyncio.sleep(0.2)
    assert app.state.jobs.local_job_of(pid) is not None
    other = await member_client.get(f"/api/personas/{pid}/events")
    assert other.status_code == 404
    assert other.json()["error"]["message"] == "ペルソナが見つかりません。"
    # Resuming after the last event seen sends only what came after it.
    events = await stream_events(admin_client, pid)
    raw = await admin_client.get(f"/api/personas/{pid}/events", headers={"Last-Event-ID": "0"})
    assert parse_sse(raw.content) == events


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_cached_writes_are_checked_in_the_insert_transaction(app, admin_client):
    assert (await admin_client.get("/api/auth/me")).status_code == 200  # the token's lookup is now cached
    with statements(app) as seen:
        answers = await asyncio.gather(*(admin_client.post("/api/personas", json={**CREATE_BODY, "seed": i})
                                         for i in range(8)))
    assert [r.status_code for r in answers] == [202] * 8
    session_checks = selects_from(seen, "auth_sessions")
    assert 1 <= len(session_checks) < 8, "one session check per batch, not one lookup per request"

    # Another worker revokes the session: the cached principal still lets the request in, the insert refuses.
    assert (await admin_client.get("/api/auth/me")).status_code == 200  # cached afresh (it lives 2 s)
    async with app.state.db.sessionmaker() as session:
        count_before = await session.scalar(select(func.count()).select_from(Persona))
        from medipersona.accounts.models import AuthSession

        await session.execute(delete(AuthSession))
        await session.commit()
    refused = await admin_client.post("/api/personas", json=CREATE_BODY)
    assert refused.status_code == 401
    body = refused.json()["error"]
    assert body["code"] == "session_revoked" and "もう一度ログイン" in body["message"]
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Persona)) == count_before
