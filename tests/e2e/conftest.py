"""End-to-end fixtures: the app as a real server subprocess and headless Chromium driven by Playwright.

The server runs ``tests/e2e/serve.py`` (uvicorn + the test provider of ``tests/e2e/provider_plugin.py``) on a free
port with a temporary data directory, after ``medipersona migrate``. Text streams through the simulated provider
with short latencies so that streaming is observable; a persona whose name contains ``E2E-FAIL`` fails and one
whose name contains ``E2E-XSS`` gets markup in its model output.

Screenshots go to ``test-artifacts/screenshots/`` (gitignored); ``MP_E2E_DOCS=1`` also refreshes the few committed
under ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.helpers import dies_with_parent

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "screenshots"
DOCS_SHOTS = REPO_ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("MP_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ADMIN_PASSWORD = "e2e-admin-password-1"
MEMBER_PASSWORD = "e2e-member-password-1"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TEXT_SECONDS = float(os.environ.get("MP_E2E_TEXT_SECONDS", "1.5"))
IMAGE_SECONDS = float(os.environ.get("MP_E2E_IMAGE_SECONDS", "2"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    tile_netloc: str = ""  # the local basemap host the pages may load images from

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


class TileServer:
    """A local stand-in for the basemap tile host: every ``/tiles/{z}/{x}/{y}.png`` is one small PNG. The pages
    load tiles only from the configured host, which the CSP allows; nothing leaves the machine."""

    def __init__(self) -> None:
        import io
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (256, 256), (226, 232, 240)).save(buffer, format="PNG")
        png = buffer.getvalue()
        self.paths: list[str] = []
        tiles = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                tiles.paths.append(self.path)
                ok = self.path.startswith("/tiles/") and self.path.endswith(".png")
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "image/png" if ok else "text/plain")
                self.send_header("Content-Length", str(len(png) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(png)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.netloc = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"http://{self.netloc}/tiles/{{z}}/{{x}}/{{y}}.png"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _server_env(data_dir: Path, tile_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env.update(
        MEDIPERSONA_MAP_TILE_URL=tile_url,
        MEDIPERSONA_DATA_DIR=str(data_dir),
        MEDIPERSONA_ADMIN_USERNAME="admin",
        MEDIPERSONA_ADMIN_PASSWORD=ADMIN_PASSWORD,
        MEDIPERSONA_SECRET_KEY="e2e-secret-key-not-for-production",
        MEDIPERSONA_COOKIE_SECURE="never",
        MEDIPERSONA_TEXT_PROVIDER="e2e",
        MEDIPERSONA_IMAGE_PROVIDER="e2e",
        MEDIPERSONA_SIMULATED_TEXT_SECONDS=str(TEXT_SECONDS),
        MEDIPERSONA_SIMULATED_IMAGE_SECONDS=str(IMAGE_SECONDS),
        MEDIPERSONA_PROVIDER_MAX_RETRIES="0",
        MEDIPERSONA_LOG_LEVEL="WARNING",
        MP_E2E_PLUGIN="1",
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)]),
    )
    return env


@pytest.fixture(scope="session", autouse=True)
def _patient_expectations():
    """The box is shared (2 cores, other test suites, benchmarks): give assertions time before failing."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def tile_server() -> Iterator[TileServer]:
    server = TileServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory, tile_server) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    base = tmp_path_factory.mktemp("e2e")
    data_dir = base / "var"
    env = _server_env(data_dir, tile_server.url)
    serve = [sys.executable, str(Path(__file__).with_name("serve.py"))]
    migrated = subprocess.run(serve + ["migrate"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    created = subprocess.run(serve + ["create-user", "member1", "--role", "member"],
                             env={**env, "MEDIPERSONA_NEW_USER_PASSWORD": MEMBER_PASSWORD},
                             capture_output=True, text=True, timeout=60, check=False)
    assert created.returncode == 0, created.stdout + created.stderr
    port = _free_port()
    log_path = base / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(dies_with_parent(serve + ["serve", str(port)]), env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", data_dir, env, log_path, tile_server.netloc)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("e2e server did not start:\n" + server.log())
        time.sleep(0.2)
    yield server
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _fontconfig(tmp_dir: Path) -> dict[str, str]:
    """A fontconfig that adds the project's Japanese font (IPAexGothic, found by the exports' font finder),
    so screenshots show Japanese text even on a box without CJK system fonts."""
    try:
        from medipersona.exports.fonts import font_path

        font_dir = Path(font_path()).parent
    except Exception:  # noqa: BLE001 - screenshots without the font are still valid test artefacts
        return {}
    conf = tmp_dir / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{font_dir}</dir><cachedir>{tmp_dir / 'fc-cache'}</cachedir></fontconfig>"
    )
    return {"FONTCONFIG_FILE": str(conf)}


# Module scope, not session: the sync Playwright API keeps an event loop running while it is open, which would
# break the async (pytest-asyncio) tests that run after the browser tests in the same pytest session.
@pytest.fixture(scope="module")
def browser(e2e_server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    env = {**os.environ, **_fontconfig(tmp_path_factory.mktemp("fonts"))}
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield instance
        instance.close()


@dataclass
class PageProblems:
    """Console errors (CSP violations show up here), uncaught exceptions, requests that left the server."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self, allow: tuple[str, ...] = ()) -> None:
        errors = [e for e in self.console_errors if not any(a in e for a in allow)]
        assert not errors, errors
        assert not self.page_errors, self.page_errors
        assert not self.external_requests, self.external_requests


def _login(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")


@pytest.fixture(scope="module")
def auth_states(browser, e2e_server, tmp_path_factory) -> dict[str, str]:
    """Logged-in storage states (cookies) for the admin and a member, made once per session."""
    states = {}
    for username, password in (("admin", ADMIN_PASSWORD), ("member1", MEMBER_PASSWORD)):
        context = browser.new_context()
        page = context.new_page()
        _login(page, e2e_server.base_url, username, password)
        path = tmp_path_factory.mktemp("auth") / f"{username}.json"
        context.storage_state(path=str(path))
        context.close()
        states[username] = str(path)
    return states


class Session:
    """A browser context + page at one viewport, optionally logged in, watching for problems."""

    def __init__(self, browser, server: Server, viewport: dict, storage_state: str | None, name: str,
                 javascript: bool = True) -> None:
        self.server = server
        self.name = name
        self.problems = PageProblems()
        self.context = browser.new_context(viewport=viewport, storage_state=storage_state, locale="ja-JP",
                                           accept_downloads=True, java_script_enabled=javascript)
        hosts = {urlsplit(server.base_url).netloc, server.tile_netloc}

        def guard(route):
            url = route.request.url
            if urlsplit(url).netloc in hosts or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                self.problems.external_requests.append(url)
                route.abort()

        self.context.route("**/*", guard)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.on("console", lambda m: m.type == "error" and self.problems.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.page_errors.append(str(e)))

        def on_dialog(dialog):
            self.problems.dialogs.append(f"{dialog.type}: {dialog.message}")
            if dialog.type == "confirm":
                dialog.accept()
            else:
                dialog.dismiss()

        self.page.on("dialog", on_dialog)

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def shot(self, name: str, *, docs: bool = False, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        if docs and os.environ.get("MP_E2E_DOCS"):
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS_SHOTS / path.name)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture(params=["desktop", "phone"])
def viewport_name(request) -> str:
    return request.param


@pytest.fixture
def session_factory(browser, e2e_server, auth_states):
    made: list[Session] = []

    def make(viewport: str = "desktop", user: str | None = "admin", name: str = "", javascript: bool = True) -> Session:
        s = Session(browser, e2e_server, DESKTOP if viewport == "desktop" else PHONE,
                    auth_states[user] if user else None, f"{name or 'page'}-{viewport}", javascript)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def api(e2e_server) -> Iterator[httpx.Client]:
    """A bearer-token API client as the admin (for setting up and checking state)."""
    with httpx.Client(base_url=e2e_server.base_url, timeout=30) as client:
        token = client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client
