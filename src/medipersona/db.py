"""Database engine, sessions and the declarative base shared by every domain's models.

SQLite (default) and PostgreSQL go through the same code. For SQLite we turn on WAL and a busy timeout so that
several workers and many concurrent jobs can read while one writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import orjson
from sqlalchemy import DateTime, MetaData, Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from medipersona.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.dialects.postgresql.dml import Insert as PgInsert

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type) -> Table:
    """The Core ``Table`` of a declarative model (typed as such, for insert/update/delete on the table)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def upsert_insert(dialect_name: str) -> Callable[[Any], PgInsert]:
    """``insert`` of the dialect, for ``INSERT ... ON CONFLICT`` (PostgreSQL and SQLite spell it the same way)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return cast("Callable[[Any], PgInsert]", sqlite_insert)


# Times are stored in UTC; medipersona.localtime shows them (and filters by day) in Japan time.
def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """The models' time column, written once: ``DateTime(timezone=True)`` in the schema (no migration), UTC when
    stored (a naive value is taken as UTC, an aware one converted), and always an aware UTC datetime when read —
    SQLite hands back naive values, PostgreSQL aware ones; code never fixes them up itself."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _private_sqlite_file(settings: Settings) -> None:
    """The data folder is created 0700 and the SQLite file 0600 (owner only; SQLite gives its -wal/-shm files
    the database file's mode). A database file readable by others is narrowed to 0600."""
    import os

    data_dir = settings.data_dir
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    path = settings.effective_database_url.split(":///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass  # SQLite reports an unusable path itself, with its own message


def json_text(value: Any) -> str:
    """How JSON columns are written: orjson (several times faster than ``json.dumps`` on the events a generation
    writes; Japanese kept as UTF-8 rather than \\u escapes). Read back by SQLAlchemy's default ``json.loads``."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        _private_sqlite_file(settings)
        # SQLite connections are cheap local handles: the pool-size settings budget PostgreSQL connections.
        engine = create_async_engine(url, pool_size=10, max_overflow=20, connect_args={"timeout": 30},
                                     json_serializer=json_text)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(
        url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow, pool_pre_ping=True,
        json_serializer=json_text,
    )


class Database:
    """One engine and session factory per process (created in the app lifespan or a CLI command)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
