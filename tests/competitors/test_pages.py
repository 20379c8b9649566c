"""Competitor pages: the form and history, the no-JavaScript submit, the result page, owner isolation, escaping."""

from __future__ import annotations

import re

from medipersona.catalog.service import get_catalog
from tests.competitors.analysis_samples import XSS, insert_analysis
from tests.support.helpers import MEMBER_PASSWORD

CSV = ("名称,住所,緯度,経度,評価,口コミ数\n"
       "あおば内科,東京都千代田区丸の内2-1,35.6866,139.7671,4.4,120\n"
       "みどり医院,東京都中央区八重洲1-1,35.6810,139.7903,3.9,42\n").encode("cp932")


async def _logged_in(client, username="admin", password=None):
    from tests.support.helpers import ADMIN_PASSWORD

    response = await client.login(username, password or ADMIN_PASSWORD)
    assert response.status_code == 303
    return client


async def test_form_lists_catalog_departments_radius_choices_and_nav(client):
    await _logged_in(client)
    page = await client.get("/competitors")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/competitors" aria-current="page">競合分析</a>' in html
    for dep in get_catalog().departments[:5]:
        assert f'value="{dep.id}"' in html and dep.name in html
    assert re.findall(r'name="radius_km" value="(\d)"', html) == ["1", "3", "5"]
    assert "半径1km" in html and "半径5km" in html
    assert "まだ競合分析がありません。" in html
    # CSP: no inline script or style.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html


async def test_no_javascript_submit_with_a_cp932_list_starts_an_analysis(client):
    await _logged_in(client)
    # The upload form carries its CSRF token in its action URL (a multipart body is not read before the check).
    action = re.search(r'<form id="comp-form"[^>]* action="([^"]+)"', (await client.get("/competitors")).text).group(1)
    assert action == f"/competitors?csrf_token={client.csrf_token}"
    form = {"clinic.name": "テスト内科", "clinic.lat": "35.681236",
            "clinic.lng": "139.767125", "clinic.departments": "internal_medicine", "radius_km": "1", "source": "list"}
    response = await client.post(action, data=form, files={"competitors_file": ("list.csv", CSV, "text/csv")})
    assert response.status_code == 303, response.text
    analysis_id = response.headers["location"].rsplit("/", 1)[1]
    api = await client.get(f"/api/competitors/{analysis_id}")
    assert api.status_code == 200
    assert api.json()["radius_km"] == 1 and api.json()["clinic"]["name"] == "テスト内科"
    page = await client.get(f"/competitors/{analysis_id}")
    assert page.status_code == 200 and "テスト内科の競合分析" in page.text
    history = await client.get("/competitors")
    assert f'/competitors/{analysis_id}' in history.text


async def test_no_javascript_submit_errors_are_shown_in_japanese_with_422(client):
    await _logged_in(client)
    form = {"csrf_token": client.csrf_token, "clinic.name": "", "clinic.lat": "35.6", "radius_km": "3",
            "source": "list"}
    response = await client.post("/competitors", data=form)
    assert response.status_code == 422
    html = response.text
    assert 'id="comp-alert"' in html and "入力" in html
    assert re.search(r'data-error-for="clinic[.a-z_]*"[^>]*>[^<]+<', html)  # a field message next to its field
    assert 'value="35.6"' in html  # the input is kept


async def test_an_empty_form_reports_every_problem_in_one_pass(client):
    """The issue: an empty form needed three rounds and showed generic messages."""
    await _logged_in(client)
    form = {"csrf_token": client.csrf_token, "clinic.name": "", "clinic.lat": "", "clinic.lng": "", "radius_km": "3",
            "source": "list"}
    html = (await client.post("/competitors", data=form)).text
    messages = dict(re.findall(r'data-error-for="([a-z_.]+)"[^>]*>([^<]+)<', html))
    assert messages["clinic.name"] == "医院名を入力してください。"
    assert messages["clinic.departments"] == "診療科を1つ以上選んでください。"
    assert "医院の位置" in messages["clinic.lat"] or messages["clinic.lat"].startswith("緯度・経度を入力")
    assert messages["competitors"] == "競合リスト（CSV・Excel）を選んで読み込んでください。"
    assert "文字列で指定してください" not in html and "以下の値を指定してください" not in html
    # A wrong coordinate names its field and range.
    form.update({"clinic.name": "テスト内科", "clinic.lat": "135", "clinic.lng": "139.7"})
    messages = dict(re.findall(r'data-error-for="([a-z_.]+)"[^>]*>([^<]+)<',
                               (await client.post("/competitors", data=form)).text))
    assert messages["clinic.lat"] == "緯度は-90〜90の数値で入力してください（例: 35.681236）。"


async def test_form_post_requires_csrf(client):
    await _logged_in(client)
    response = await client.post("/competitors", data={"clinic.name": "x"})
    assert response.status_code == 403


async def test_result_page_sorted_table_map_swot_exports_and_escaping(client, app):
    await _logged_in(client)
    from medipersona.accounts.service import get_user_by_username

    async with app.state.db.sessionmaker() as session:
        admin = await get_user_by_username(session, "admin")
    analysis = await insert_analysis(app, admin.id)
    page = await client.get(f"/competitors/{analysis.id}")
    assert page.status_code == 200
    html = page.text
    names = re.findall(r'<th scope="row">([^<]+)', html)
    assert names == ["あおば内科", XSS.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;"), "みどり医院"]
    assert XSS not in html
    assert "javascript:alert" not in html  # a non-http website never becomes a link
    assert 'href="https://aoba.example.jp/"' in html
    assert re.findall(r'data-col="distance">([^<]+)', html) == ["600m", "1.24km", "2.10km"]
    assert f'src="/api/competitors/{analysis.id}/map.svg"' in html
    for label in ("強み", "弱み", "機会", "脅威", "差別化戦略", "マーケティング戦略", "オペレーション改善"):
        assert f">{label}</h3>" in html
    assert "土曜午後の診療は周辺で少ない。" in html
    # Phone numbers as tel: links; SWOT evidence beside its item; strategies by priority with badges.
    assert '<a href="tel:0312345678">03-1234-5678</a>' in html
    assert "根拠: 競合No.1" in html and "根拠: 競合の平均口コミ数 56件" in html
    diff = html[html.index('id="strategy-differentiation-title"'):html.index('id="strategy-marketing-title"')]
    assert diff.index("優先度 高") < diff.index("平日夜と土曜午後") < diff.index("優先度 低") < diff.index("問診の説明")
    assert 'class="badge comp-priority comp-priority--high"' in diff
    assert "問診票のWeb化で待ち時間を短くする。" in html  # an older analysis's plain text still shows
    # The Leaflet map (served by the app) with the configured basemap; the CSP allows exactly that tile host.
    assert 'id="comp-leaflet"' in html and f'data-points-url="/api/competitors/{analysis.id}/map-points"' in html
    assert 'src="/static/leaflet/leaflet.js' in html and 'data-tile-url="https://cyberjapandata.gsi.go.jp/xyz/std/' in html
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://cyberjapandata.gsi.go.jp;" in csp
    assert (await client.get("/static/leaflet/leaflet.js")).status_code == 200
    points = (await client.get(f"/api/competitors/{analysis.id}/map-points")).json()
    assert [(p["number"], p["name"]) for p in points["competitors"]] == [("1", "あおば内科"), ("2", XSS), ("3", "みどり医院")]
    assert points["competitors"][2]["tel"] == "tel:0312345678" and points["competitors"][2]["phone"] == "03-1234-5678"
    assert f'href="/api/competitors/{analysis.id}/export.pdf"' in html
    assert f'href="/api/competitors/{analysis.id}/export.pptx"' in html
    # No population was given and none was fetched: it says so instead of inventing numbers.
    assert "データなし" in html


async def test_other_members_cannot_see_or_delete_an_analysis(client, app, member):
    analysis = await insert_analysis(app, member.id)
    await _logged_in(client)  # the admin may
    assert (await client.get(f"/competitors/{analysis.id}")).status_code == 200
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="member2", password=MEMBER_PASSWORD, role="member")
    import httpx

    from tests.support.helpers import Client

    async with Client(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
        await other.login("member2", MEMBER_PASSWORD)
        assert (await other.get(f"/competitors/{analysis.id}")).status_code == 404
        response = await other.post(f"/competitors/{analysis.id}/delete", data={"csrf_token": other.csrf_token})
        assert response.status_code == 404
        assert analysis.id not in (await other.get("/competitors")).text


async def test_delete_from_the_page(client, app):
    await _logged_in(client)
    from medipersona.accounts.service import get_user_by_username

    async with app.state.db.sessionmaker() as session:
        admin = await get_user_by_username(session, "admin")
    analysis = await insert_analysis(app, admin.id)
    response = await client.post(f"/competitors/{analysis.id}/delete", data={"csrf_token": client.csrf_token})
    assert response.status_code == 303 and response.headers["location"] == "/competitors?message=deleted"
    assert (await client.get(f"/competitors/{analysis.id}")).status_code == 404


async def test_a_failed_analysis_offers_to_run_again(client, app, monkeypatch):
    from medipersona.competitors import offline_swot as offline_competitors

    from .helpers import body, wait_status

    await _logged_in(client)
    working = offline_competitors.compose_competitor_swot
    monkeypatch.setattr(offline_competitors, "compose_competitor_swot", lambda context, seed: {})
    created = await client.post("/api/competitors", json=body(), headers={"X-CSRF-Token": client.csrf_token})
    analysis_id = created.json()["id"]
    assert (await wait_status(client, analysis_id))["status"] == "failed"
    page = (await client.get(f"/competitors/{analysis_id}")).text
    assert f'action="/competitors/{analysis_id}/retry"' in page and "同じ条件でもう一度実行" in page
    assert not re.search(r'<div id="comp-failure"[^>]* hidden>', page)

    monkeypatch.setattr(offline_competitors, "compose_competitor_swot", working)
    assert (await client.post(f"/competitors/{analysis_id}/retry")).status_code == 403  # CSRF
    response = await client.post(f"/competitors/{analysis_id}/retry", data={"csrf_token": client.csrf_token})
    assert response.status_code == 303 and response.headers["location"] == f"/competitors/{analysis_id}"
    assert (await wait_status(client, analysis_id))["status"] == "done"
    done_page = (await client.get(f"/competitors/{analysis_id}")).text
    assert re.search(r'<div id="comp-failure"[^>]* hidden>', done_page)  # the failure box (and its button) hidden
