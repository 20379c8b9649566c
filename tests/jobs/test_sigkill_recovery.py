"""Recovery of a generation after its worker process is killed with SIGKILL mid-generation.

A real uvicorn process with the simulated provider and a short lease starts a generation; it is ``kill -9``-ed
while the text streams; a second process on the same database takes the job over once the lease expires and
completes it exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.personas.helpers import CREATE_BODY, parse_sse
from tests.support.helpers import ADMIN_PASSWORD, dies_with_parent, wait_healthy

VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(settings, port: int, log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env.update({
        "MEDIPERSONA_DATA_DIR": str(settings.data_dir),
        "MEDIPERSONA_DATABASE_URL": settings.database_url,
        "MEDIPERSONA_SECRET_KEY": settings.secret_key,
        "MEDIPERSONA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MEDIPERSONA_COOKIE_SECURE": "never",
        "MEDIPERSONA_TEXT_PROVIDER": "simulated",
        "MEDIPERSONA_IMAGE_PROVIDER": "simulated",
        "MEDIPERSONA_SIMULATED_TEXT_SECONDS": "4",
        "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": "2",
        "MEDIPERSONA_JOB_LEASE_SECONDS": "2",
        "MEDIPERSONA_JOB_POLL_SECONDS": "0.2",
    })
    log = open(log_path, "ab")
    return subprocess.Popen(dies_with_parent(
        [str(VENV_BIN / "python"), "-m", "uvicorn", "medipersona.asgi:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"]),
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )




@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_generation_survives_sigkill(settings, tmp_path):
    from medipersona.bootstrap import first_run

    await first_run(settings)
    log_path = tmp_path / "server.log"
    port1, port2 = _free_port(), _free_port()
    first = _start(settings, port1, log_path)
    second = None
    try:
        await wait_healthy(f"http://127.0.0.1:{port1}", first)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port1}", timeout=30) as c:
            token = (await c.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
                     ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            r = await c.post("/api/personas", json=CREATE_BODY, headers=headers)
            assert r.status_code == 202, r.text
            pid = r.json()["id"]
            # Follow the live stream until text is arriving, then kill the worker mid-generation.
            seen: list[str] = []
            async with c.stream("GET", f"/api/personas/{pid}/events", headers=headers) as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        seen.append(line[7:])
                    if seen.count("delta") >= 3:
                        break
            assert "done" not in seen
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)

        second = _start(settings, port2, log_path)
        await wait_healthy(f"http://127.0.0.1:{port2}", second)
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port2}", timeout=60) as c:
            r = await c.get(f"/api/personas/{pid}/events", headers=headers)
            events = parse_sse(r.content)
            took = time.monotonic() - started
            persona = (await c.get(f"/api/personas/{pid}", headers=headers)).json()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    types = [t for t, _ in events]
    assert types.count("done") == 1 and types[-1] == "done", types
    running = [d for t, d in events if t == "status" and d.get("status") == "running"]
    assert [d["attempt"] for d in running] == [1, 2]  # the second process took over once
    assert persona["status"] == "done" and persona["job"]["attempts"] == 2 and persona["job"]["status"] == "done"
    assert all(persona["sections"].get(k) for k in ("personality", "reason", "behavior", "reviews", "values",
                                                    "demands"))
    assert persona["image_status"] == "done"
    assert took < 20, f"takeover took {took:.1f}s"
