"""Warm start: a worker imports and builds the clients of the providers it is configured for when it starts
(app lifespan), not at the first generation; the SDKs of other providers stay unloaded. Its routes are built
at start too (FastAPI builds an included router's routes at the first request reaching it otherwise).

Each case runs in a fresh interpreter: this test process has every SDK imported by other tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import asyncio, json, sys
SDKS = ("openai", "anthropic", "google.genai")
from medipersona.settings import Settings
from medipersona.app import create_app
from medipersona.providers import registry

config = json.loads(sys.argv[1])
settings = Settings(**config["settings"])

async def pick(update):
    from medipersona.admin.service import save_admin_settings
    from medipersona.db import Database
    db = Database(settings)
    async with db.sessionmaker() as session:
        await save_admin_settings(session, settings, update, None)
    await db.dispose()

async def main():
    app = create_app(settings)
    if config["admin"]:
        await pick(config["admin"])
    out = {"before_start": sorted(m for m in SDKS if m in sys.modules)}
    async with app.router.lifespan_context(app):
        out["after_start"] = sorted(m for m in SDKS if m in sys.modules)
        loop = asyncio.get_running_loop()
        out["clients"] = {name: registry.get_provider(name, settings)._client_loop is loop
                          for name in config["expect_clients"]}
        # No route is built by the first request any more: count the route handlers built while it is served.
        import fastapi.routing, httpx
        built = []
        original = fastapi.routing.APIRoute.get_route_handler
        def counting(self):
            built.append(self.path)
            return original(self)
        fastapi.routing.APIRoute.get_route_handler = counting
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            status = (await client.get("/api/personas/00000000000000000000000000/events")).status_code
        out["first_request"] = {"status": status, "routes_built": len(built)}
        import gc
        out["gc"] = {"frozen": gc.get_freeze_count(), "gen0": gc.get_threshold()[0]}
    # Whatever the lifespan started has finished with it (a task still running when the loop closes can keep
    # the process from ever exiting: see app.py's shutdown).
    out["tasks_left"] = sorted(t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task())
    print(json.dumps(out))

asyncio.run(main())
"""


def run_worker(settings, *, text: str, image: str, admin: dict | None = None, expect_clients=(),
               warm: bool = True) -> dict:
    config = {
        "settings": {"data_dir": str(settings.data_dir), "database_url": settings.database_url,
                     "secret_key": "x", "cookie_secure": "never", "text_provider": text, "image_provider": image},
        "admin": admin or {},
        "expect_clients": list(expect_clients),
    }
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MEDIPERSONA_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"))}
    env.update(OPENAI_API_KEY="k", ANTHROPIC_API_KEY="k", GEMINI_API_KEY="k",
               OPENAI_BASE_URL="http://127.0.0.1:9/v1", ANTHROPIC_BASE_URL="http://127.0.0.1:9",
               GEMINI_BASE_URL="http://127.0.0.1:9/")
    script = SCRIPT if warm else SCRIPT.replace("from medipersona.app import create_app", (
        "from medipersona.app import create_app\n"
        "import medipersona.app as _app\n"
        "async def _no_warm_up(*args): pass\n"
        "_app.warm_up = _no_warm_up"))
    out = subprocess.run([sys.executable, "-c", script, json.dumps(config)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("text", "image", "loaded"), [
    ("openai", "openai", ["openai"]),
    ("anthropic", "offline", ["anthropic"]),
    ("gemini", "gemini", ["google.genai"]),
    ("offline", "simulated", []),
])
def test_the_configured_providers_sdk_is_loaded_at_start_and_no_other(settings, text, image, loaded):
    result = run_worker(settings, text=text, image=image, expect_clients=[p for p in {text, image}
                                                                         if p not in ("offline", "simulated")])
    assert result["before_start"] == []  # creating the app imports no SDK
    assert result["after_start"] == loaded
    # Each configured SDK provider's pooled client exists, bound to the worker's loop, before any call.
    assert all(result["clients"].values()) and bool(result["clients"]) == bool(loaded)
    assert result["tasks_left"] == []


def test_a_provider_an_admin_picked_is_warmed_too(settings):
    result = run_worker(settings, text="offline", image="offline",
                        admin={"providers": {"persona_text": "anthropic"}}, expect_clients=["anthropic"])
    assert result["after_start"] == ["anthropic"]
    assert result["clients"] == {"anthropic": True}


def test_routes_are_built_at_start_not_by_the_first_request(settings):
    warmed = run_worker(settings, text="offline", image="offline")
    assert warmed["first_request"]["status"] == 401  # it reached its route: authentication is asked for
    assert warmed["first_request"]["routes_built"] == 0
    cold = run_worker(settings, text="offline", image="offline", warm=False)
    # Without the warm-up the first request built the routes of the routers it looked through (FastAPI >= 0.165
    # builds them lazily; an older FastAPI builds them when they are included, and then this part is moot).
    import fastapi

    if tuple(int(x) for x in fastapi.__version__.split(".")[:2]) >= (0, 165):
        assert cold["first_request"]["routes_built"] > 0


def test_a_worker_moves_its_start_out_of_the_collectors_way(settings):
    """What a worker loaded to start (modules, routes, the SDK) is frozen, and young collections are rarer:
    a burst's full collections (40-150 ms pauses of the event loop, three per 200 generations) stop."""
    from medipersona.ops.process import GC_GEN0_THRESHOLD

    started = run_worker(settings, text="openai", image="openai")
    assert started["gc"]["frozen"] > 50_000
    assert started["gc"]["gen0"] == GC_GEN0_THRESHOLD > 700
