"""Alembic environment: runs migrations through the app's async engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import AsyncConnection

from medipersona.models import metadata

config = context.config


# Several instances starting at once all run `medipersona serve` (migrate first): on PostgreSQL they queue on
# this advisory lock (held to the end of the migration transaction) and the later ones find nothing to do.
MIGRATION_LOCK_ID = 7_270_414


def _run(connection) -> None:
    from sqlalchemy import text

    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


async def _run_async(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if isinstance(connection, AsyncConnection):  # pragma: no cover - not used yet
    raise RuntimeError("pass a sync connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async(config.get_main_option("sqlalchemy.url") or ""))
