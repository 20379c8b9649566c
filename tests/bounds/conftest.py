"""A real server process (uvicorn, one worker) for the bounds tests, and its memory measured with psutil."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.helpers import ADMIN_PASSWORD, dies_with_parent, wait_healthy

VENV_BIN = Path(sys.executable).parent
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    base: str
    proc: subprocess.Popen
    token: str = ""

    @property
    def rss(self) -> int:
        return psutil.Process(self.proc.pid).memory_info().rss

    @contextmanager
    def peak_rss(self, interval: float = 0.01):
        """Samples the server's RSS while the block runs; yields a dict whose "peak" is set at the end."""
        result = {"peak": self.rss}
        stop = threading.Event()
        process = psutil.Process(self.proc.pid)

        def sample() -> None:
            while not stop.is_set():
                try:
                    result["peak"] = max(result["peak"], process.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(interval)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield result
        finally:
            stop.set()
            thread.join()
            result["peak"] = max(result["peak"], self.rss)

    def client(self, timeout: float = 60.0) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=timeout)


def start_server(settings, log_path: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env.update({
        "MEDIPERSONA_DATA_DIR": str(settings.data_dir),
        "MEDIPERSONA_DATABASE_URL": settings.database_url,
        "MEDIPERSONA_SECRET_KEY": settings.secret_key,
        "MEDIPERSONA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MEDIPERSONA_COOKIE_SECURE": "never",
        "MEDIPERSONA_TEXT_PROVIDER": "offline",
        "MEDIPERSONA_IMAGE_PROVIDER": "offline",
        **(extra_env or {}),
    })
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(dies_with_parent(
            [str(VENV_BIN / "python"), "-m", "uvicorn", "medipersona.asgi:app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"]),
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    return proc, port




@pytest.fixture
def server_env() -> dict[str, str]:
    """Override in a module for extra MEDIPERSONA_* variables of the live server."""
    return {}


@pytest.fixture
async def live_server(settings, tmp_path, server_env):
    from medipersona.bootstrap import first_run

    await first_run(settings)
    proc, port = start_server(settings, tmp_path / "server.log", server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, proc)
        async with httpx.AsyncClient(base_url=base) as c:
            r = await c.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
            assert r.status_code == 200, r.text
        yield LiveServer(base, proc, r.json()["access_token"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
