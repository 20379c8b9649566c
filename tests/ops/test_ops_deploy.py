"""render.yaml and the deployment settings it relies on."""

from __future__ import annotations

from pathlib import Path

import yaml

from medipersona.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_render_yaml():
    spec = yaml.safe_load((ROOT / "render.yaml").read_text(encoding="utf-8"))
    (web,) = [s for s in spec["services"] if s["type"] == "web"]
    assert web["healthCheckPath"] == "/healthz"
    assert web["startCommand"].startswith("medipersona serve")
    assert web["buildCommand"]
    assert web["maxShutdownDelaySeconds"] == 120  # gunicorn's graceful_timeout
    env = {e["key"]: e for e in web["envVars"]}
    assert env["MEDIPERSONA_SECRET_KEY"]["generateValue"] is True
    assert env["MEDIPERSONA_DATABASE_URL"]["fromDatabase"]["name"] == spec["databases"][0]["name"]
    assert env["MEDIPERSONA_ADMIN_PASSWORD"]["sync"] is False
    for e in web["envVars"]:  # no secret values committed
        if e["key"].endswith(("_KEY", "_PASSWORD", "_TOKEN")):
            assert "value" not in e, e["key"]


def test_paas_database_urls_get_the_async_driver():
    assert Settings(database_url="postgres://u:p@h:5432/db").database_url == "postgresql+asyncpg://u:p@h:5432/db"
    assert Settings(database_url="postgresql://u:p@h/db").database_url == "postgresql+asyncpg://u:p@h/db"
    assert Settings(database_url="postgresql+asyncpg://u:p@h/db").database_url == "postgresql+asyncpg://u:p@h/db"
    assert Settings(database_url="").database_url == ""
