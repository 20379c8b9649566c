"""Two instances, as on two machines: two real ``medipersona serve`` processes (gunicorn + a uvicorn worker each)
with separate data directories on one PostgreSQL database.

1. A runtime provider switch saved on instance A reaches instance B (its settings were cached) within seconds.
2. A burst of generations goes to both; instance A is SIGKILLed mid-burst (master and worker: the machine
   died). Instance B takes A's jobs over; from B, every job is done exactly once, every persona is complete,
   and every portrait, the ones A stored before it died included, is served from the shared storage.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.personas.helpers import CREATE_BODY, parse_sse
from tests.support.helpers import ADMIN_PASSWORD, dies_with_parent

BIN = Path(sys.executable).parent
BURST_PER_INSTANCE = 12
SECTIONS = ("personality", "reason", "behavior", "reviews", "values", "demands")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Instance:
    def __init__(self, name: str, settings, root: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = root / name
        self.log_path = root / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIPERSONA_", "PROMETHEUS_"))}
        env.update({
            "MEDIPERSONA_DATA_DIR": str(self.data_dir),
            "MEDIPERSONA_DATABASE_URL": settings.database_url,
            "MEDIPERSONA_SECRET_KEY": settings.secret_key,  # one secret for every instance (cookies)
            "MEDIPERSONA_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MEDIPERSONA_COOKIE_SECURE": "never",
            "MEDIPERSONA_TEXT_PROVIDER": "simulated",
            "MEDIPERSONA_IMAGE_PROVIDER": "simulated",
            "MEDIPERSONA_SIMULATED_TEXT_SECONDS": "4",
            "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": "1",
            "MEDIPERSONA_JOB_LEASE_SECONDS": "3",
            "MEDIPERSONA_JOB_POLL_SECONDS": "0.3",
            "MEDIPERSONA_LOG_LEVEL": "WARNING",
            "MEDIPERSONA_DATABASE_POOL_SIZE": "5",
        })
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the server writes into it until it stops
        self.proc = subprocess.Popen(dies_with_parent(
            [str(BIN / "medipersona"), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]),
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    async def wait_up(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base) as client:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"{self.name} exited:\n{self.log()}"
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} did not start:\n{self.log()}")

    def kill_machine(self) -> None:
        """SIGKILL the whole process group (gunicorn master and its worker): nothing runs its shutdown."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


async def _generate(client: httpx.AsyncClient, headers, seed: int) -> str:
    response = await client.post("/api/personas", json={**CREATE_BODY, "seed": seed}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def _finished(client: httpx.AsyncClient, headers, ids: list[str], timeout: float = 90.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        listed = (await client.get("/api/personas", params={"per_page": 100}, headers=headers)).json()["items"]
        status = {p["id"]: p["status"] for p in listed}
        if all(status.get(pid) in ("done", "failed") for pid in ids):
            break
        assert time.monotonic() < deadline, {pid: status.get(pid) for pid in ids}
        await asyncio.sleep(0.5)
    return [(await client.get(f"/api/personas/{pid}", headers=headers)).json() for pid in ids]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_instances_one_killed_mid_burst(settings, tmp_path):
    from medipersona.bootstrap import first_run
    from medipersona.db import Database
    from medipersona.jobs.models import Job, JobEvent

    await first_run(settings)
    a, b = Instance("a", settings, tmp_path), Instance("b", settings, tmp_path)
    try:
        a.start()
        b.start()
        await asyncio.gather(a.wait_up(), b.wait_up())
        async with httpx.AsyncClient(base_url=a.base, timeout=60) as on_a, \
                httpx.AsyncClient(base_url=b.base, timeout=60) as on_b:
            token = (await on_a.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
                     ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}

            # Instance A makes portraits while alive; B has read the admin settings (cached) meanwhile.
            early = [await _generate(on_a, auth, seed) for seed in (1, 2, 3)]
            warm = await _finished(on_b, auth, [await _generate(on_b, auth, 4)])
            assert warm[0]["image_provider"] == "simulated"

            # 1. A runtime switch saved on A reaches B: the portrait from another provider.
            switched = await on_a.put("/api/admin/settings", json={"providers": {"portrait": "offline"}},
                                      headers=auth)
            assert switched.status_code == 200, switched.text
            saved_at = time.monotonic()
            while True:  # B's settings as its generations read them (the same per-process cache)
                seen = (await on_b.get("/api/admin/settings", headers=auth)).json()["settings"]["providers"]
                if seen["portrait"] == "offline":
                    break
                assert time.monotonic() - saved_at < 10, "the switch did not reach instance B"
                await asyncio.sleep(0.1)
            took = time.monotonic() - saved_at
            probe = (await _finished(on_b, auth, [await _generate(on_b, auth, 5)]))[0]
            assert probe["image_provider"] == "offline"
            await _finished(on_a, auth, early)

            # 2. A burst on both; A dies mid-burst.
            burst = await asyncio.gather(*(_generate(client, auth, 100 + i)
                                           for i in range(BURST_PER_INSTANCE) for client in (on_a, on_b)))
            await asyncio.sleep(1.5)  # texts are streaming (4 s each), some portraits stored
            a.kill_machine()

            everyone = early + burst
            personas = await _finished(on_b, auth, everyone)
            for persona in personas:
                assert persona["status"] == "done", (persona["id"], persona["error"])
                assert all(persona["sections"].get(key) for key in SECTIONS)
                assert persona["image_status"] == "done" and persona["image_url"]
                image = await on_b.get(persona["image_url"], headers={"Accept": "image/png"})
                assert image.status_code == 200, persona["image_url"]
                assert hashlib.sha256(image.content).hexdigest() == persona["image_url"].rsplit("/", 1)[-1]
                events = parse_sse((await on_b.get(f"/api/personas/{persona['id']}/events", headers=auth)).content)
                assert [t for t, _ in events].count("done") == 1 and events[-1][0] == "done"
    finally:
        a.stop()
        b.stop()

    db = Database(settings)
    try:
        async with db.sessionmaker() as session:
            jobs = (await session.execute(select(Job.persona_id, Job.status, Job.attempts, Job.lease_owner)
                                          .where(Job.persona_id.in_(everyone)))).all()
            done_events = (await session.execute(select(JobEvent.persona_id).where(
                JobEvent.persona_id.in_(everyone), JobEvent.type == "done"))).scalars().all()
    finally:
        await db.dispose()
    assert {row.persona_id for row in jobs} == set(everyone) and all(row.status == "done" for row in jobs)
    assert sorted(done_events) == sorted(everyone)  # each job finished exactly once
    taken_over = [row for row in jobs if row.attempts > 1]
    assert taken_over, "instance A had nothing running when it was killed"
    print(f"\nswitch reached B after {took:.1f} s; {len(taken_over)} of A's jobs taken over by B")
