"""Shared fixtures: real databases (a SQLite file, a PostgreSQL database), the app over ASGI, users and logins.

Each test gets a fresh database cloned from a migrated template (a file copy for SQLite, CREATE DATABASE ...
TEMPLATE for PostgreSQL), so tests are isolated and fast.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from medipersona.domains import register_domains
from medipersona.settings import Settings
from tests.support.helpers import (
    MEMBER_PASSWORD,
    PG_ADMIN_URL,
    Client,
    asyncpg_url,
    make_settings,
    pg_available,
    psql,
)

# Environment variables that must not leak into tests from the developer's shell.
# What create_app does first: the domains register their job handlers and offline composers (tests also use the
# offline provider and the job runtime without an app).
register_domains()

for _name in list(os.environ):
    if _name.startswith("MEDIPERSONA_") and _name != "MEDIPERSONA_TEST_PG":
        del os.environ[_name]


def _migrate(settings: Settings) -> None:
    """Migrate and load the sample keyword data once into a template (what `medipersona migrate` does,
    minus the admin account, which each test's app fixture creates)."""
    from medipersona.db import Database
    from medipersona.keywords.sample import load_sample_if_empty
    from medipersona.migrate import upgrade

    upgrade(settings)

    async def load() -> None:
        db = Database(settings)
        try:
            await load_sample_if_empty(db)
        finally:
            await db.dispose()

    asyncio.run(load())


@dataclass
class Templates:
    sqlite_file: Path
    pg_template: str | None


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory) -> Templates:
    """Migrated template databases, made once per test session."""
    base = tmp_path_factory.mktemp("template")
    sqlite_settings = make_settings(base)
    _migrate(sqlite_settings)
    pg_template = None
    if pg_available():
        pg_template = f"mp_tpl_{uuid.uuid4().hex[:10]}"
        psql(f'CREATE DATABASE "{pg_template}"')
        _migrate(make_settings(base, asyncpg_url(pg_template)))
    yield Templates(sqlite_file=base / "var" / "medipersona.db", pg_template=pg_template)
    if pg_template:
        subprocess.run(["psql", PG_ADMIN_URL, "-qc", f'DROP DATABASE IF EXISTS "{pg_template}" WITH (FORCE)'],
                       capture_output=True)


@pytest.fixture(autouse=True)
def _fresh_circuit_breakers():
    """Circuit breakers keep per-process state: one test's failing provider must not open another's circuit."""
    from medipersona.providers.breaker import reset_breakers

    reset_breakers()
    yield
    reset_breakers()


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """Override with ``@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)``."""
    return request.param


@pytest.fixture
def settings_overrides() -> dict:
    """Override in a test module to change settings for its tests."""
    return {}


@pytest.fixture
def settings(tmp_path, backend, db_templates, settings_overrides) -> Settings:
    if backend == "sqlite":
        target = tmp_path / "var" / "medipersona.db"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(db_templates.sqlite_file, target)
        s = make_settings(tmp_path, **settings_overrides)
        yield s
        return
    if db_templates.pg_template is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432 (.ci/run should have started it)")
        pytest.skip("PostgreSQL not available")
    name = f"mp_t_{uuid.uuid4().hex[:12]}"
    psql(f'CREATE DATABASE "{name}" TEMPLATE "{db_templates.pg_template}"')
    s = make_settings(tmp_path, asyncpg_url(name), **settings_overrides)
    yield s
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                   capture_output=True)


@pytest.fixture
async def app(settings):
    """The app with its lifespan running (database, job runner) and the first admin created."""
    from medipersona.app import create_app
    from medipersona.bootstrap import first_run

    await first_run(settings)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def db(app):
    return app.state.db


@pytest.fixture
async def client(app) -> AsyncIterator[Client]:
    transport = httpx.ASGITransport(app=app)
    async with Client(transport=transport, base_url="http://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
async def admin_client(client) -> Client:
    """A client authenticated as the admin with a bearer token."""
    await client.use_token()
    return client


@pytest.fixture
async def member(app):
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        return await create_user(session, username="member1", password=MEMBER_PASSWORD, role="member")


@pytest.fixture
async def member_client(app, member) -> AsyncIterator[Client]:
    transport = httpx.ASGITransport(app=app)
    async with Client(transport=transport, base_url="http://testserver", follow_redirects=False) as c:
        await c.use_token("member1", MEMBER_PASSWORD)
        yield c
