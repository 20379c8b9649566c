"""Migration 0010 moves portrait files (``<data_dir>/images``) into the shared database, and the downgrade writes
them back; ``medipersona import-portraits`` does the same for another instance's folder."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import uuid
from datetime import UTC, datetime
from io import BytesIO

import pytest
import sqlalchemy as sa

from medipersona.migrate import downgrade, upgrade
from tests.support.helpers import PG_ADMIN_URL, asyncpg_url, make_settings, pg_available


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request, tmp_path):
    if request.param == "sqlite":
        yield make_settings(tmp_path)
        return
    if not pg_available():
        pytest.skip("PostgreSQL not available")
    name = f"mp_mig_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    yield make_settings(tmp_path, asyncpg_url(name))
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                   capture_output=True)


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


def _run(settings, fn):
    """Run ``fn(sync_connection)`` in one transaction on the settings' database."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def go():
        engine = create_async_engine(settings.effective_database_url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _insert_personas(conn, rows: list[dict]) -> None:
    conn.execute(sa.text("INSERT INTO users (username, password_hash, role, sections, is_active, daily_quota, "
                         "created_at, password_changed_at) VALUES ('u1', 'x', 'admin', '[]', true, 0, :t, :t)"),
                 {"t": datetime(2026, 1, 1, tzinfo=UTC)})
    owner = conn.execute(sa.text("SELECT id FROM users WHERE username = 'u1'")).scalar_one()
    for row in rows:
        conn.execute(sa.text(
            "INSERT INTO personas (id, owner_id, status, department_id, chief_complaint_id, purpose_id, "
            "setting_type, seed, request, name, profile, extras, extra_fields, sections, keywords_used, "
            "image_status, image_path, image_mime, text_provider, text_model, image_provider, image_model, "
            "timings, timeline_status, created_at, updated_at, note) VALUES (:id, :owner, 'done', 'd', 'c', 'p', "
            "'auto', 1, '{}', 'n', '{}', '{}', '[]', '{}', '[]', :status, :path, 'image/png', '', '', '', '', "
            "'{}', 'idle', :t, :t, '')"),
            {"id": row["id"], "owner": owner, "status": row.get("status", "done"), "path": row["path"],
             "t": datetime(2026, 1, 1, tzinfo=UTC)})


def test_files_move_into_the_database_and_back(empty_db):
    settings = empty_db
    upgrade(settings, "0009")
    images = settings.images_dir
    images.mkdir(parents=True, exist_ok=True)
    red, blue = _png((200, 30, 30)), _png((30, 30, 200))
    (images / "p1-1.png").write_bytes(red)
    (images / "p2-2.png").write_bytes(blue)
    (images / "p3-1.png").write_bytes(red)  # the same picture as p1's: stored once
    _run(settings, lambda c: _insert_personas(c, [
        {"id": "p1", "path": "p1-1.png"}, {"id": "p2", "path": "p2-2.png"}, {"id": "p3", "path": "p3-1.png"},
        {"id": "p4", "path": "gone-1.png"}, {"id": "p5", "path": "../../../etc/passwd"},
        {"id": "p6", "path": None, "status": "pending"}]))

    upgrade(settings)

    def check(conn):
        personas = {r.id: r for r in conn.execute(sa.text(
            "SELECT id, image_status, image_digest, image_mime FROM personas")).all()}
        stored = {r.digest: r for r in conn.execute(sa.text(
            "SELECT digest, variant, mime, size, location, data FROM stored_images")).all()}
        return personas, stored

    personas, stored = _run(settings, check)
    red_digest, blue_digest = hashlib.sha256(red).hexdigest(), hashlib.sha256(blue).hexdigest()
    assert personas["p1"].image_digest == personas["p3"].image_digest == red_digest
    assert personas["p2"].image_digest == blue_digest and personas["p2"].image_status == "done"
    assert set(stored) == {red_digest, blue_digest}
    assert bytes(stored[red_digest].data) == red and stored[red_digest].location == "db"
    assert stored[red_digest].mime == "image/png" and stored[red_digest].size == len(red)
    # A file that is gone (or a path outside the folder) leaves the persona without a portrait, not broken.
    for pid in ("p4", "p5"):
        assert personas[pid].image_digest is None and personas[pid].image_status == "failed"
    assert personas["p6"].image_digest is None and personas["p6"].image_status == "pending"

    # Downgrade: the files come back and image_path points at them.
    for path in images.iterdir():
        path.unlink()
    downgrade(settings, "0009")
    paths = dict(_run(settings, lambda c: c.execute(sa.text("SELECT id, image_path FROM personas")).all()))
    assert (images / paths["p1"]).read_bytes() == red and (images / paths["p2"]).read_bytes() == blue
    assert paths["p4"] is None


async def test_import_portraits_command_for_another_instances_folder(app, settings, tmp_path, monkeypatch):
    """A second instance's images folder (the migration ran elsewhere): its files fill the personas that
    still lack a stored portrait; personas that have one, and files of unknown personas, are skipped."""
    import argparse

    from medipersona.media import cli
    from medipersona.personas.models import Persona

    async with app.state.db.sessionmaker() as session:
        for pid, digest in (("q1", None), ("q2", "f" * 64)):
            session.add(Persona(id=pid, owner_id=1, status="done", department_id="d", chief_complaint_id="c",
                                purpose_id="p", setting_type="auto", seed=1, image_status="done",
                                image_digest=digest))
        await session.commit()
    folder = tmp_path / "other-instance-images"
    folder.mkdir()
    green = _png((20, 160, 20))
    (folder / "q1-1.png").write_bytes(_png((1, 1, 1)))
    (folder / "q1-2.png").write_bytes(green)  # the newer attempt wins
    (folder / "q2-1.png").write_bytes(_png((2, 2, 2)))
    (folder / "nobody-1.png").write_bytes(_png((3, 3, 3)))
    monkeypatch.setattr("medipersona.settings.get_settings", lambda: settings)
    code = await asyncio.to_thread(cli.run, argparse.Namespace(folder=str(folder)))
    assert code == 0
    async with app.state.db.sessionmaker() as session:
        q1, q2 = await session.get(Persona, "q1"), await session.get(Persona, "q2")
    assert q1.image_digest == hashlib.sha256(green).hexdigest() and q2.image_digest == "f" * 64
    assert await asyncio.to_thread(cli.run, argparse.Namespace(folder=str(tmp_path / "missing"))) == 2
