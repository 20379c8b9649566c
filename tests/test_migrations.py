"""Migrations on SQLite and PostgreSQL: upgrade from empty, match the models, downgrade and upgrade again."""

import subprocess
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from medipersona.migrate import downgrade, upgrade
from medipersona.models import metadata
from tests.conftest import PG_ADMIN_URL, _asyncpg_url, _pg_available, make_settings



@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request, tmp_path):
    if request.param == "sqlite":
        yield make_settings(tmp_path)
        return
    if not _pg_available():
        pytest.skip("PostgreSQL not available")
    name = f"mp_mig_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    yield make_settings(tmp_path, _asyncpg_url(name))
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
