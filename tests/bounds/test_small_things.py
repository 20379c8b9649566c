"""The 500s and small things of issue 17."""

from __future__ import annotations

import stat

import pytest

from tests.personas.helpers import CREATE_BODY


@pytest.mark.parametrize("query", ["date_to=9999-12-31", "date_from=0001-01-01", "date_from=0001-01-01&date_to=9999-12-31"])
async def test_extreme_dates_in_the_history_are_not_500(admin_client, query):
    r = await admin_client.get(f"/api/personas?{query}")
    assert r.status_code == 200, r.text
    page = await admin_client.get(f"/personas?{query}")
    assert page.status_code in (200, 303), page.status_code


async def test_huge_event_ids_are_not_500(admin_client):
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    r = await admin_client.get(f"/api/personas/{pid}/events?after={10**20}")
    assert r.status_code == 422, r.text
    r = await admin_client.get(f"/api/personas/{pid}/events", headers={"Last-Event-ID": str(10**20)})
    assert r.status_code == 200
    r = await admin_client.get(f"/api/personas/{pid}/timeline-analysis/events", headers={"Last-Event-ID": str(10**20)})
    assert r.status_code == 200


async def test_database_and_data_dir_are_private(tmp_path):
    """A new installation's data folder is 0700 and its SQLite file 0600; an existing 0644 file is narrowed."""
    from sqlalchemy import text

    from medipersona.db import Database
    from tests.support.helpers import make_settings

    settings = make_settings(tmp_path / "fresh")
    db = Database(settings)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        await db.dispose()
    db_file = settings.data_dir / "medipersona.db"
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600, oct(db_file.stat().st_mode)
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700, oct(settings.data_dir.stat().st_mode)
    db_file.chmod(0o644)
    await Database(settings).dispose()
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600


def test_one_worker_is_not_recycled(tmp_path):
    """With one worker, max_requests recycling dropped requests: it is off then (two workers recycle in turns)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIPERSONA_", "PROMETHEUS_"))}
    code = "import medipersona.ops.gunicorn_conf as c; print(c.workers, c.max_requests)"
    for concurrency, expected in (("1", "1 0"), ("2", "2 1000")):
        out = subprocess.run([sys.executable, "-c", code], env={**env, "WEB_CONCURRENCY": concurrency,
                                                                  "MEDIPERSONA_DATA_DIR": str(tmp_path)},
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.split("\n")[-2] == expected, out.stdout + out.stderr


def test_pptx_metadata_is_our_own():
    import io

    from pptx import Presentation

    from medipersona.exports.pptx import pages_pptx

    data = pages_pptx([], {"name": "テスト"}, "ペルソナ")
    props = Presentation(io.BytesIO(data)).core_properties
    assert props.author == "medipersona"
    assert props.last_modified_by == "medipersona"


async def test_swagger_demo_page_is_not_served(client):
    for path in ("/docs/assets/index.html", "/docs", "/openapi.json"):
        r = await client.get(path)
        assert r.status_code in (401, 303, 404), (path, r.status_code)


@pytest.mark.parametrize("name", ["さくら\r\n花子", "a\x00b", "tab\tname"])
async def test_control_characters_in_names_are_refused(admin_client, name):
    r = await admin_client.post("/api/personas", json={**CREATE_BODY, "profile": {"name": name}})
    assert r.status_code == 422, r.text
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    r = await admin_client.patch(f"/api/personas/{pid}", json={"name": name})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"]
