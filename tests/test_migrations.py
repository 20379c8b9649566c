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
