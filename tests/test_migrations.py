"""Migrations on SQLite and PostgreSQL: upgrade from empty, match the models, downgrade and upgrade again."""

import subprocess
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from medipersona.migrate import downgrade, upgrade
from medipersona.models import metadata
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


def _diff(settings):
    """Differences between the migrated schema and the models (empty when migrations are complete)."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def run():
        engine = create_async_engine(settings.effective_database_url)
        async with engine.connect() as conn:
            def compare(sync_conn):
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
                return compare_metadata(ctx, metadata)

            result = await conn.run_sync(compare)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return result, tables

    return asyncio.run(run())


def test_upgrade_matches_models_and_round_trips(empty_db):
    upgrade(empty_db)
    diff, tables = _diff(empty_db)
    assert {"users", "auth_sessions", "login_attempts", "personas"} <= tables
    assert set(metadata.tables) <= tables | {"alembic_version"}
    assert diff == [], f"models and migrations differ: {diff}"
    downgrade(empty_db, "base")
    _diff_after, tables_after = _diff(empty_db)
    assert tables_after <= {"alembic_version"}
    upgrade(empty_db)
    assert set(metadata.tables) <= _diff(empty_db)[1]


def test_migrate_command_is_idempotent(empty_db):
    upgrade(empty_db)
    upgrade(empty_db)  # second run is a no-op, not an error


def test_history_columns_are_filled_from_stored_profiles(empty_db):
    """0008 adds gender/age columns for the history filters and fills them from personas saved before it."""
    import asyncio

    from sqlalchemy import select

    from medipersona.accounts.service import create_user
    from medipersona.db import Database
    from medipersona.personas.models import Persona

    upgrade(empty_db)

    async def add_personas():
        db = Database(empty_db)
        async with db.sessionmaker() as session:
            user = await create_user(session, username="owner1", password="owner-password-1", role="member")
            for pid, profile in (("a" * 32, {"gender": "female", "age": 45}), ("b" * 32, {"age": "7"}),
                                 ("c" * 32, {})):
                session.add(Persona(id=pid, owner_id=user.id, department_id="internal_medicine",
                                    chief_complaint_id="internal_medicine.influenza", purpose_id="increase_patients",
                                    setting_type="input", seed=1, profile=profile))
            await session.commit()
        await db.dispose()

    async def read():
        db = Database(empty_db)
        async with db.sessionmaker() as session:
            rows = (await session.execute(select(Persona.id, Persona.gender, Persona.age).order_by(Persona.id))).all()
        await db.dispose()
        return [tuple(r) for r in rows]

    asyncio.run(add_personas())
    downgrade(empty_db, "0007")  # as if the personas had been saved before 0008
    upgrade(empty_db)
    assert asyncio.run(read()) == [("a" * 32, "female", 45), ("b" * 32, "", 7), ("c" * 32, "", None)]


def test_keyword_rows_are_packed_and_unpacked(empty_db):
    """0013 packs every dataset's rows (in their order) into keyword_packs and drops keyword_rows; the
    downgrade writes the same rows back."""
    import asyncio

    from sqlalchemy import text

    from medipersona.db import Database
    from medipersona.keywords.pack import ROW_FIELDS, decode

    rows = [
        (1, "頭痛 薬", 5400, 700, 2.5, -3.25, 38.5, 61.5, 3.0, 12.0, 20.0, 25.0, 18.0, 12.0, 10.0, "治療・対策"),
        (2, "頭痛 原因", 2900, 350, 1.25, 0.0, 50.0, 50.0, 1.5, 9.0, 21.0, 27.5, 20.0, 12.0, 9.0, "症状・原因"),
        (3, "頭痛外来 近く", 880, 90, 3.75, 4.5, 40.0, 60.0, 0.0, 5.0, 15.0, 30.0, 25.0, 15.0, 10.0, "医療機関"),
    ]
    columns = ", ".join(f'"{c}"' for c in ROW_FIELDS)
    marks = ", ".join(f":{c}" for c in ROW_FIELDS)

    async def run(statements):
        db = Database(empty_db)
        async with db.engine.begin() as conn:
            results = [(await conn.execute(text(sql), params)).all() if sql.startswith("SELECT")
                       else await conn.execute(text(sql), params) for sql, params in statements]
        await db.dispose()
        return results

    downgrade_to = "0012"
    upgrade(empty_db)
    downgrade(empty_db, downgrade_to)
    asyncio.run(run([
        ("DELETE FROM keyword_rows", {}),
        ("DELETE FROM keyword_datasets", {}),
        ("INSERT INTO keyword_datasets (id, scope, department_id, chief_complaint_id, row_count, source_file, "
         "imported_at, is_sample, generation) VALUES (7, 'internal_medicine|internal_medicine.headache', "
         "'internal_medicine', 'internal_medicine.headache', 3, 'a.csv', '2026-12-01 00:00:00', false, 1)", {}),
        *[(f"INSERT INTO keyword_rows (dataset_id, {columns}) VALUES (7, {marks})", dict(zip(ROW_FIELDS, row)))
          for row in reversed(rows)],
    ]))
    upgrade(empty_db)
    [packs, tables] = asyncio.run(run([
        ("SELECT dataset_id, data FROM keyword_packs", {}),
        ("SELECT 1 FROM keyword_datasets", {}),
    ]))
    assert [p[0] for p in packs] == [7]
    assert decode(bytes(packs[0][1])).rows() == list(reversed(rows))  # the rows' insertion order
    downgrade(empty_db, downgrade_to)
    [back] = asyncio.run(run([(f"SELECT {columns} FROM keyword_rows WHERE dataset_id = 7 ORDER BY id", {})]))
    assert [tuple(r) for r in back] == list(reversed(rows))
    upgrade(empty_db)
