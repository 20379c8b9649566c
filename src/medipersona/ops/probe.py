"""Start a throw-away medipersona server (uvicorn or gunicorn) on a free port and drive it over HTTP.

Used by ``medipersona advise-workers`` (measure a warmed worker's memory) and ``benchmarks/seed_scenarios.py``.
The server gets its own temporary data directory (migrated, first admin with a random password) and never sees
the operator's database or keys.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from medipersona.ops import system


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProbeServer:
    """``with ProbeServer(workers=0) as srv:`` — 0: one plain uvicorn process; N >= 1: gunicorn with N workers."""

    def __init__(self, workers: int = 0, env: dict[str, str] | None = None, data_dir: Path | None = None,
                 startup_timeout: float = 90.0, log_path: Path | None = None) -> None:
        self.workers = workers
        self.extra_env = env or {}
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="medipersona-probe-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.admin_password = secrets.token_urlsafe(18)
        self.startup_timeout = startup_timeout
        self.log_path = log_path or (self.data_dir / "server.log")
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MEDIPERSONA_") and k not in ("PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY")}
        env.update({
            "MEDIPERSONA_DATA_DIR": str(self.data_dir / "var"),
            "MEDIPERSONA_SECRET_KEY": secrets.token_urlsafe(32),
            "MEDIPERSONA_ADMIN_PASSWORD": self.admin_password,
            "MEDIPERSONA_COOKIE_SECURE": "never",
            "MEDIPERSONA_TEXT_PROVIDER": "offline",
            "MEDIPERSONA_IMAGE_PROVIDER": "offline",
            "MEDIPERSONA_LOG_LEVEL": "WARNING",
        })
        env.update(self.extra_env)
        return env

    def start(self) -> ProbeServer:
        env = self.env()
        migrate = subprocess.run([sys.executable, "-m", "medipersona", "migrate"], env=env, capture_output=True,
                                 text=True, timeout=300, check=False)
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrate.stderr[-2000:]}")
        if self.workers <= 0:
            argv = [sys.executable, "-m", "uvicorn", "medipersona.asgi:app", "--host", "127.0.0.1",
                    "--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        else:
            argv = [sys.executable, "-m", "gunicorn", "-c", "python:medipersona.ops.gunicorn_conf",
                    "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "medipersona.asgi:app"]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the server's lifetime
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    if self.workers <= 0 or len(self.worker_pids()) >= self.workers:
                        return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start in {self.startup_timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the uvicorn process, or gunicorn's workers (not the arbiter)."""
        if self.proc is None:
            return []
        if self.workers <= 0:
            return [self.proc.pid]
        import psutil

        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.Error:
            return []
        pids = []
        for child in children:
            try:
                if child.status() == psutil.STATUS_ZOMBIE:  # killed, not reaped yet
                    continue
                if "gunicorn" in " ".join(child.cmdline()) or child.name().startswith("python"):
                    pids.append(child.pid)
            except psutil.Error:
                continue
        return pids

    def rss_mb(self) -> dict[int, float]:
        return {pid: (system.process_rss_bytes(pid) or 0) / 1048576 for pid in self.worker_pids()}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)  # gunicorn stops its workers gracefully
                self.proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> ProbeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP helpers ---------------------------------------------------------------------------------------

    def token(self, client: httpx.Client | None = None) -> str:
        c = client or httpx.Client(base_url=self.base_url, timeout=30)
        response = c.post("/api/auth/token", json={"username": "admin", "password": self.admin_password})
        response.raise_for_status()
        return response.json()["access_token"]


def generation_payload(catalog: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """A valid ``POST /api/personas`` body from the catalog: department, chief complaint, purpose; the rest auto."""
    departments = [d for d in catalog.get("departments") or [] if d.get("chief_complaints")]
    dept = departments[index % len(departments)]
    complaints = dept["chief_complaints"]
    purposes = catalog.get("purposes") or [{"id": "increase_patients"}]
    return {
        "department": dept["id"],
        "chief_complaint": complaints[index % len(complaints)]["id"],
        "purpose": purposes[index % len(purposes)]["id"],
        "setting_type": "auto",
        "seed": index,
    }


TERMINAL = frozenset({"done", "failed"})
