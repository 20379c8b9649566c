"""The basemap setting: the CSP's img-src allows exactly the configured tile host; empty → no outside host and
the SVG diagram; a bad URL stops the app at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from medipersona.settings import Settings
from medipersona.web.middleware import content_security_policy


def test_default_is_the_gsi_standard_map():
    settings = Settings()
    assert settings.map_tile_url == "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
    assert settings.map_tile_origin == "https://cyberjapandata.gsi.go.jp"
    assert settings.map_tile_attribution == "地理院タイル"


@pytest.mark.parametrize(("url", "origin"), [
    ("", ""),
    ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
    ("http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8081"),
])
def test_tile_origin_in_the_csp(url, origin):
    settings = Settings(map_tile_url=url)
    assert settings.map_tile_origin == origin
    csp = content_security_policy(settings.map_tile_origin)
    img_src = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img_src == ("img-src 'self' data: blob:" + (f" {origin}" if origin else ""))
    assert "default-src 'self'" in csp and "script-src 'self'" in csp  # nothing else opens up


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://tiles.example/{z}/{x}.png",
                                 "https://tiles.example/{z}/{x}/{y}.png' onload='x", "ftp://t.example/{z}/{x}/{y}"])
def test_bad_tile_urls_are_refused(url):
    with pytest.raises(ValidationError):
        Settings(map_tile_url=url)


@pytest.fixture
def settings_overrides() -> dict:
    return {"map_tile_url": ""}


async def test_without_tiles_the_pages_keep_the_svg_map_and_no_leaflet(admin_client, app):
    from medipersona.accounts.service import get_user_by_username

    from .analysis_samples import insert_analysis

    async with app.state.db.sessionmaker() as session:
        admin = await get_user_by_username(session, "admin")
    analysis = await insert_analysis(app, admin.id)
    page = await admin_client.get(f"/competitors/{analysis.id}")
    assert "comp-leaflet" not in page.text and "leaflet.js" not in page.text
    assert f'src="/api/competitors/{analysis.id}/map.svg"' in page.text
    assert "img-src 'self' data: blob:;" in page.headers["content-security-policy"]
    form = await admin_client.get("/competitors")
    assert "comp-picker" not in form.text and "緯度・経度は地図アプリなどで確認して入力" in form.text
