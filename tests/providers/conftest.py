"""Fixtures of the provider tests: the fake API server (see ``fakes.py``), settings, fresh provider singletons."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn

from medipersona.providers import calls, registry
from medipersona.providers.base import Provider
from medipersona.settings import Settings
from tests.providers.fakes import PERSONA_CONTEXT, FakeAPI


@pytest.fixture(scope="session")
def _fake_server():
    api = FakeAPI()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(api.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1,
                            timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "fake API server did not start"
    api.base_url = f"http://127.0.0.1:{port}"
    yield api
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def fake_api(_fake_server, monkeypatch) -> FakeAPI:
    """The fake server, reset, with the SDKs' base URLs and keys pointing at it."""
    _fake_server.reset()
    base = _fake_server.base_url
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{base}/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"{base}/anthropic")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_BASE_URL", f"{base}/gemini/")
    return _fake_server


@pytest.fixture(autouse=True)
async def _fresh_providers(monkeypatch):
    registry.reset_providers()
    monkeypatch.setattr(calls, "BACKOFF_BASE_SECONDS", 0.01)
    yield
    await registry.aclose_providers()  # the pooled clients (aiohttp sessions) of this test's loop


@pytest.fixture
def register_fake():
    """``register_fake(provider)``: the registry hands out that very instance (its state is its own, nothing is
    kept on the class) under its class's ``name``, for this test only. Returns the provider."""
    names: list[str] = []

    def register(provider: Provider) -> Provider:
        cls = type(provider)
        # The registry builds providers from a class: a one-off subclass whose from_settings returns this one.
        registry.register_provider(type(cls.__name__, (cls,), {"from_settings": classmethod(lambda _c, _s: provider)}))
        names.append(cls.name)
        return provider

    yield register
    for name in names:
        registry.unregister_provider(name)


@pytest.fixture
def make_settings(tmp_path):
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "var", "secret_key": "x", "text_provider": "offline",
                                      "image_provider": "offline", "provider_max_retries": 2,
                                      "provider_timeout_seconds": 20, "simulated_text_seconds": 0,
                                      "simulated_image_seconds": 0}
        values.update(overrides)
        return Settings(**values)
    return make


@pytest.fixture
def persona_context() -> dict[str, Any]:
    return json.loads(json.dumps(PERSONA_CONTEXT))
