"""The competitor-analysis API with an imported competitor list (no Places key, no e-Stat): validation,
permissions, owner isolation, the job to done over SSE, history, import, delete — on both databases."""

from __future__ import annotations

import io

import pytest

from .helpers import COMPETITORS, body, stream, wait_status


def field_messages(response) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


# ------------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(("change", "field", "needle"), [
    ({"clinic": {"departments": ["internal_medicine"], "lat": 35.0, "lng": 139.0}}, "clinic.name", "必須項目"),
    ({"radius_km": 2}, "radius_km", "次のいずれか"),
    ({"clinic": {**body()["clinic"], "lng": None}}, "clinic", "緯度と経度は両方"),
    ({"clinic": {**body()["clinic"], "lat": 123}}, "clinic.lat", "緯度は-90〜90の数値で"),
    ({"clinic": {**body()["clinic"], "lng": "東経139"}}, "clinic.lng", "経度は-180〜180の数値で"),
    ({"clinic": {**body()["clinic"], "name": " "}}, "clinic.name", "医院名を入力してください"),
    ({"clinic": {**body()["clinic"], "departments": []}}, "clinic.departments", "診療科を1つ以上選んでください"),
    ({"clinic": {**body()["clinic"], "departments": ["no_such"]}}, "clinic.departments.0", "診療科が見つかりません"),
    ({"clinic": {**body()["clinic"], "postal_code": "12-34"}}, "clinic.postal_code", "123-4567"),
    ({"clinic": {**body()["clinic"], "lat": None, "lng": None}}, "clinic.lat", "地図をクリックして医院の位置を指定してください"),
    ({"competitors": None}, "competitors", "競合リスト"),
    ({"source": "places"}, "source", "Google Places API"),
    ({"source": "web"}, "source", "次のいずれか"),
    ({"competitors": [{"name": "x", "lat": 35.0}]}, "competitors.0.lng", "必須項目"),
    ({"competitors": [{"name": "x", "lat": 35.0, "lng": 139.0, "website": "javascript:alert(1)"}]},
     "competitors.0.website", "http"),
    ({"competitors": [{"name": "x", "lat": 35.0, "lng": 139.0, "rating": 7}]}, "competitors.0.rating", "以下"),
    ({"population": {"area_code": "1310"}}, "population.area_code", "5桁"),
    ({"population": {"area_code": "99101"}}, "population.area_code", "01〜47"),
    ({"population": {"area_code": "27128"}}, "population.area_code", "東京都"),
    ({"population": {"total": 100, "age_bands": {"0-14": 1, "15-64": 1, "65-74": 1, "75+": 1}}}, "population",
     "一致しません"),
    ({"population": {"total": 100}}, "population.age_bands", "年齢別人口"),
    ({"area_type": "space"}, "area_type", "次のいずれか"),
    ({"extra": 1}, "extra", "指定できません"),
])
async def test_invalid_input_422(admin_client, change, field, needle):
    r = await admin_client.post("/api/competitors", json=body(**change))
    assert r.status_code == 422, r.text
    fields = field_messages(r)
    assert field in fields, fields
    assert needle in fields[field], fields[field]


async def test_auth_and_sections(app, client):
    r = await client.post("/api/competitors", json=body())
    assert r.status_code == 401
    assert (await client.get("/api/competitors")).status_code == 401
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="dentist", password="dentist-password-1", role="member",
                          sections=["dental"])
    await client.use_token("dentist", "dentist-password-1")
    r = await client.post("/api/competitors", json=body())
    assert r.status_code == 403 and r.json()["error"]["code"] == "section_forbidden"
    dental = body(clinic={**body()["clinic"], "departments": ["general_dentistry"]})
    assert (await client.post("/api/competitors", json=dental)).status_code == 202


async def test_cookie_write_needs_csrf(client):
    await client.login()
    r = await client.post("/api/competitors", json=body())
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = await client.post("/api/competitors", json=body(), headers={"X-CSRF-Token": client.csrf_token})
    assert r.status_code == 202


# ------------------------------------------------------------------------------------------------ lifecycle
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_list_source_runs_to_done(admin_client):
    r = await admin_client.post("/api/competitors", json=body())
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] == "queued" and created["events_url"] == f"/api/competitors/{created['id']}/events"
    events = await stream(admin_client, created["id"])
    types = [t for t, _ in events]
    assert types[-1] == "done", events[-3:]
    sections = [d["key"] for t, d in events if t == "section"]
    assert sections[:5] == ["clinic", "competitors", "market", "population", "demand"]
    assert sections[5:] == ["strengths", "weaknesses", "opportunities", "threats", "differentiation", "marketing",
                            "operations"]
    assert any(t == "delta" and d["section"] == "strengths" for t, d in events)

    data = (await admin_client.get(f"/api/competitors/{created['id']}")).json()
    assert data["status"] == "done" and data["error"] is None and data["finished_at"]
    names = [c["name"] for c in data["competitors"]]
    assert names == ["近い内科", "中間クリニック", "遠い医院"]  # within 3 km, sorted by distance
    assert all(c["distance_m"] <= 3000 for c in data["competitors"])
    assert [c["number"] for c in data["competitors"]] == [1, 2, 3]
    market = data["market"]
    assert market["count"] == 3 and market["excluded_outside_radius"] == 1 and market["source"] == "list"
    assert market["avg_rating"] == pytest.approx((4.2 + 3.5) / 2)
    assert data["population"]["source"] == "user" and data["population"]["total"] == 66000
    assert data["demand"]["available"] is True and data["demand"]["area_type_label"] == "都市部"
    assert data["demand"]["daily_patients"] > 0
    swot = data["swot"]
    for key in ("strengths", "weaknesses", "opportunities", "threats", "differentiation", "marketing", "operations"):
        assert swot[key] and all(item["text"].strip() for item in swot[key]), key
    assert any("土曜午後も診療" in s["text"] for s in swot["strengths"])
    assert any("3件" in s["text"] for s in swot["threats"])
    assert all(s["priority"] in ("高", "中", "低") for key in ("differentiation", "marketing", "operations")
               for s in swot[key])
    assert swot["meta"]["is_offline"] is True and data["text_provider"] == "offline"

    # A late client gets the whole story again, ending with done.
    again = await stream(admin_client, created["id"])
    assert again[-1][0] == "done"

    svg = await admin_client.get(f"/api/competitors/{created['id']}/map.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "近い内科" in svg.text or "1" in svg.text


async def test_radius_is_honoured(admin_client):
    r = await admin_client.post("/api/competitors", json=body(radius_km=1))
    data = await wait_status(admin_client, r.json()["id"])
    assert data["status"] == "done"
    assert [c["name"] for c in data["competitors"]] == ["近い内科", "中間クリニック"]
    assert data["market"]["excluded_outside_radius"] == 2
    assert [b["max_km"] for b in data["market"]["bands"]] == [0.5, 1.0]


async def test_no_population_means_no_demand(admin_client):
    r = await admin_client.post("/api/competitors", json=body(population=None, area_type=None))
    data = await wait_status(admin_client, r.json()["id"])
    assert data["status"] == "done"
    assert data["population"]["source"] == "unavailable" and "age_bands" not in data["population"]
    assert data["demand"]["available"] is False and "人口" in data["demand"]["message"]


async def test_offline_provider_failure_fails_the_job(admin_client, monkeypatch):
    from medipersona.competitors import offline_swot as offline_competitors

    def broken(context, seed):
        return {"strengths": [], "weaknesses": [], "opportunities": [], "threats": [], "differentiation": [],
                "marketing": [], "operations": []}

    monkeypatch.setattr(offline_competitors, "compose_competitor_swot", broken)
    r = await admin_client.post("/api/competitors", json=body())
    events = await stream(admin_client, r.json()["id"])
    assert events[-1][0] == "error"
    assert "SWOT分析を生成できませんでした" in events[-1][1]["message"]
    data = (await admin_client.get(f"/api/competitors/{r.json()['id']}")).json()
    assert data["status"] == "failed" and data["swot"] == {}
    assert "SWOT" in data["error"]["message"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_a_failed_analysis_runs_again_with_its_inputs(app, admin_client, member_client, monkeypatch):
    from sqlalchemy import func, select

    from medipersona.competitors import offline_swot as offline_competitors
    from medipersona.jobs.models import Job

    working = offline_competitors.compose_competitor_swot
    monkeypatch.setattr(offline_competitors, "compose_competitor_swot", lambda context, seed: {})
    analysis_id = (await admin_client.post("/api/competitors", json=body(radius_km=1))).json()["id"]
    assert (await wait_status(admin_client, analysis_id))["status"] == "failed"
    # only a failed analysis can run again, and only for its owner
    assert (await member_client.post(f"/api/competitors/{analysis_id}/retry")).status_code == 404

    monkeypatch.setattr(offline_competitors, "compose_competitor_swot", working)  # the cause is fixed
    r = await admin_client.post(f"/api/competitors/{analysis_id}/retry")
    assert r.status_code == 202 and r.json()["status"] == "queued", r.text
    events = await stream(admin_client, analysis_id)
    assert events[-1][0] == "done", events[-2:]
    assert not any(t == "error" for t, _ in events), "the failed run's events are gone with its job"
    data = (await admin_client.get(f"/api/competitors/{analysis_id}")).json()
    assert data["status"] == "done" and data["error"] is None and data["swot"]["strengths"]
    assert data["radius_km"] == 1 and [c["name"] for c in data["competitors"]] == ["近い内科", "中間クリニック"]
    async with app.state.db.sessionmaker() as session:
        jobs = await session.scalar(select(func.count()).select_from(Job).where(Job.owner_id == data["owner_id"]))
    assert jobs == 1  # the failed job was replaced, not left behind

    again = await admin_client.post(f"/api/competitors/{analysis_id}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_failed"


# ------------------------------------------------------------------------------------------------ history
async def test_owner_isolation_list_and_delete(admin_client, member_client):
    mine = (await member_client.post("/api/competitors", json=body())).json()["id"]
    admins = (await admin_client.post("/api/competitors", json=body())).json()["id"]
    await wait_status(member_client, mine)
    await wait_status(admin_client, admins)

    listing = (await member_client.get("/api/competitors")).json()
    assert [i["id"] for i in listing["items"]] == [mine]
    assert listing["total"] == 1 and listing["pages"] == 1
    item = listing["items"][0]
    assert item["clinic_name"] == "さくら内科クリニック" and item["competitor_count"] == 3
    assert {i["id"] for i in (await admin_client.get("/api/competitors")).json()["items"]} == {mine, admins}
    assert (await admin_client.get("/api/competitors", params={"per_page": 1})).json()["pages"] == 2

    for path in (f"/api/competitors/{admins}", f"/api/competitors/{admins}/events", f"/api/competitors/{admins}/map.svg"):
        r = await member_client.get(path)
        assert r.status_code == 404 and r.json()["error"]["message"] == "競合分析が見つかりません。"
    assert (await member_client.delete(f"/api/competitors/{admins}")).status_code == 404
    assert (await admin_client.get(f"/api/competitors/{mine}")).status_code == 200  # admins see all

    assert (await member_client.delete(f"/api/competitors/{mine}")).status_code == 204
    assert (await member_client.get(f"/api/competitors/{mine}")).status_code == 404
    assert (await member_client.get("/api/competitors")).json()["total"] == 0


# ------------------------------------------------------------------------------------------------ import
async def test_import_endpoint(admin_client):
    csv_bytes = ("名称,住所,緯度,経度,評価\n"
                 "A医院,東京都,35.68,139.76,4.0\n"
                 "B医院,東京都,北緯,139.76,\n").encode("cp932")
    r = await admin_client.post("/api/competitors/import", data={"kind": "competitors"},
                                files={"file": ("list.csv", csv_bytes, "text/csv")})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["kind"] == "competitors" and [row["name"] for row in data["rows"]] == ["A医院"]
    assert data["errors"][0]["line"] == 3 and "緯度" in data["errors"][0]["message"]

    r = await admin_client.post("/api/competitors/import", data={"kind": "clinic"},
                                files={"file": ("clinic.csv", "医院名,住所\nさくら,東京都\n".encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["rows"] == [{"name": "さくら", "address": "東京都"}]

    # Imported rows go straight into the analysis request.
    r = await admin_client.post("/api/competitors", json=body(competitors=data["rows"]))
    assert r.status_code == 202


@pytest.mark.parametrize(("kwargs", "status", "needle"), [
    ({"data": {"kind": "competitors"}, "files": {"file": ("x.csv", b"foo,bar\n1,2\n", "text/csv")}}, 422,
     "必須の列"),
    ({"data": {"kind": "weird"}, "files": {"file": ("x.csv", b"a,b\n", "text/csv")}}, 422, "kind"),
    ({"data": {"kind": "competitors"}}, 422, "ファイル"),
    ({"data": {"kind": "competitors"}, "files": {"file": ("x.csv", b"", "text/csv")}}, 422, "空"),
    ({"data": {"kind": "competitors"}, "files": {"file": ("x.csv", b"a" * (2 * 1024 * 1024 + 10), "text/csv")}}, 413,
     "2MB"),
])
async def test_import_rejects(admin_client, kwargs, status, needle):
    r = await admin_client.post("/api/competitors/import", **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.text


async def test_import_xlsx(admin_client):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["名称", "緯度", "経度"])
    for row in COMPETITORS:
        wb.active.append([row["name"], row["lat"], row["lng"]])
    buf = io.BytesIO()
    wb.save(buf)
    r = await admin_client.post("/api/competitors/import", data={"kind": "competitors"},
                                files={"file": ("list.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 200 and len(r.json()["rows"]) == 4
