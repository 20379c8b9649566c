"""Test helpers shared by test modules (settings, PostgreSQL access, the logged-in client). Fixtures live in
``tests/conftest.py``; modules import helpers from here, never from ``conftest``."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path

import httpx

from medipersona.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"
KEYWORDS_DIR = SHARED_DIR / "data" / "keywords"
PG_ADMIN_URL = os.environ.get("MEDIPERSONA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ADMIN_PASSWORD = "admin-password-123"
MEMBER_PASSWORD = "member-password-123"


def dies_with_parent(command: list[str]) -> list[str]:
    """``command`` run so that it gets SIGTERM when the process that started it dies (util-linux ``setpriv
    --pdeathsig``, which sets it and execs the command): servers started by a test do not outlive a test run
    that was killed before its teardown (they kept polling the box's CPU and spoiled benchmarks)."""
    import shutil

    if shutil.which("setpriv") is None:
        return command
    return ["setpriv", "--pdeathsig", "TERM", "--", *command]


def pg_available() -> bool:
    try:
        out = subprocess.run(["psql", PG_ADMIN_URL, "-tAc", "select 1"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


def asyncpg_url(dbname: str) -> str:
    base = re.sub(r"^postgresql(\+\w+)?://", "postgresql+asyncpg://", PG_ADMIN_URL)
    return base.rsplit("/", 1)[0] + "/" + dbname


def make_settings(tmp_path: Path, database_url: str = "", **overrides) -> Settings:
    values = dict(
        data_dir=tmp_path / "var",
        database_url=database_url,
        secret_key="test-secret-key",
        admin_username="admin",
        admin_password=ADMIN_PASSWORD,
        cookie_secure="never",
        text_provider="offline",
        image_provider="offline",
    )
    values.update(overrides)
    return Settings(**values)


class Client(httpx.AsyncClient):
    """An httpx client on the app with helpers for logging in."""

    csrf_token: str = ""

    async def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Response:
        page = await self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = await self.post(
            "/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"}
        )
        if response.status_code == 303:
            dashboard = await self.get("/")
            match = re.search(r'<meta name="csrf-token" content="([^"]*)"', dashboard.text)
            self.csrf_token = match.group(1) if match else ""
        return response

    async def token(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        response = await self.post("/api/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    async def use_token(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        self.headers["Authorization"] = f"Bearer {await self.token(username, password)}"


def run_sync(fn, *args):
    """Run blocking test helpers off the event loop."""
    return asyncio.to_thread(fn, *args)


async def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Wait until a server process started by a test answers ``/healthz`` (it must not exit meanwhile)."""
    import time

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base) as c:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "server exited"
            try:
                if (await c.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server did not start")
