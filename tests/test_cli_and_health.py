"""The command line (as a real subprocess) and the health probes."""

import os
import subprocess
import sys

import pytest

from tests.support.helpers import make_settings


def _cli(args, env, stdin=None):
    return subprocess.run([sys.executable, "-m", "medipersona", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env["MEDIPERSONA_DATA_DIR"] = str(tmp_path / "var")
    return env


def test_migrate_prints_generated_admin_password_once(cli_env):
    first = _cli(["migrate"], cli_env)
    assert first.returncode == 0, first.stderr
    assert "username=admin password=" in first.stdout
    second = _cli(["migrate"], cli_env)
    assert second.returncode == 0, second.stderr
    assert "password=" not in second.stdout


def test_create_user_from_stdin_and_refuses_weak_password(cli_env):
    assert _cli(["migrate"], cli_env).returncode == 0
    ok = _cli(["create-user", "reception", "--sections", "dental", "--password-stdin"], cli_env,
              stdin="a-strong-password-1\n")
    assert ok.returncode == 0, ok.stderr
    assert "sections=dental" in ok.stdout
    weak = _cli(["create-user", "weak", "--password-stdin"], cli_env, stdin="123\n")
    assert weak.returncode == 1
    assert "10文字以上" in weak.stderr
    dup = _cli(["create-user", "reception", "--password-stdin"], cli_env, stdin="a-strong-password-1\n")
    assert dup.returncode == 1


def test_usage_error_exits_2(cli_env):
    result = _cli(["no-such-command"], cli_env)
    assert result.returncode == 2


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


async def test_readyz_503_when_database_unreachable(tmp_path):
    import httpx

    from medipersona.app import create_app

    settings = make_settings(tmp_path, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            response = await c.get("/readyz")
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "database_unreachable"
            assert (await c.get("/healthz")).status_code == 200
