"""The analysis with Google Places (New) and e-Stat configured, against local fake servers: the clinic
geocoded, competitors searched within the radius, population read from e-Stat; failures end the job with a
Japanese message (never "done" with empty content)."""

from __future__ import annotations

import pytest

from medipersona.competitors.http import aclose_http_client

from .fakes import META, NEARBY, STATS, TEXT, FakeServer, Reply, meta_info, stats_data
from .helpers import body, stream, wait_status
from .places_standin import PlacesStandIn, at

KEY = "server-side-places-key"


@pytest.fixture
async def fake():
    with FakeServer() as server:
        yield server
    await aclose_http_client()


@pytest.fixture
def settings_overrides(fake) -> dict:
    return {"google_places_api_key": KEY, "google_places_base_url": fake.url, "estat_app_id": "estat-app",
            "estat_base_url": fake.url, "estat_stats_data_id": "0003445139"}


def places_body(**overrides) -> dict:
    data = body(**overrides)
    data.pop("source")
    data.pop("competitors")
    return data


GEOCODED = {"places": [{"location": {"latitude": 35.681236, "longitude": 139.767125},
                        "formattedAddress": "日本、〒100-0005 東京都千代田区丸の内１丁目９−１"}]}


def internal_medicine_area():
    return [at("a", "丸の内内科", 0, 600, categories=("内科",), rating=4.0, reviews=8),
            at("b", "はずれ内科医院", 2300, 2300, categories=("内科",)),  # in the rectangle, outside the radius
            at("c", "駅前クリニック", 200, 0, categories=("内科",), website="https://x.example"),
            at("d", "駅前眼科", 100, 0, categories=("眼科",))]  # another specialty


def geocode_or_search(standin: PlacesStandIn):
    """searchText answers the geocoding request (no location restriction) and the specialty searches."""
    def answer(request):
        if "locationRestriction" not in (request.body or {}):
            return Reply(200, GEOCODED)
        return standin.search_text(request)
    return answer


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_places_and_estat_to_done(admin_client, fake):
    standin = PlacesStandIn(internal_medicine_area(), KEY)
    fake.on(TEXT, geocode_or_search(standin))
    fake.on(META, Reply(200, meta_info()))
    fake.on(STATS, Reply(200, stats_data()))
    clinic = {**body()["clinic"], "lat": None, "lng": None}
    r = await admin_client.post("/api/competitors", json=places_body(clinic=clinic, population=None))
    assert r.status_code == 202, r.text
    events = await stream(admin_client, r.json()["id"])
    assert events[-1][0] == "done", events[-2:]
    data = (await admin_client.get(f"/api/competitors/{r.json()['id']}")).json()
    assert data["source"] == "places" and data["source_label"] == "Google Places API"
    assert data["clinic"]["geocoded"] is True and data["clinic"]["lat"] == 35.681236
    assert [c["name"] for c in data["competitors"]] == ["駅前クリニック", "丸の内内科"]
    assert data["market"]["excluded_outside_radius"] == 1
    assert [t["term"] for t in data["market"]["search_terms"]] == ["内科", "内科クリニック", "内科医院"]
    searches = [c for c in fake.calls(TEXT) if "locationRestriction" in c.body]
    assert len(searches) == 3 and all(c.headers["x-goog-api-key"] == KEY for c in searches)
    assert not fake.calls(NEARBY)
    # geocode, 3 searches, meta, stats: no detail calls
    assert len(fake.calls(TEXT)) == 4 and len(fake.requests) == 6 and data["market"]["places_calls"] == 4
    assert fake.calls(STATS)[0].query["cdArea"] == ["13101"]
    pop = data["population"]
    assert pop["source"] == "estat" and pop["area_code"] == "13101"
    assert pop["age_bands"] == {"0-14": 7500, "15-64": 45000, "65-74": 7500, "75+": 6000}
    assert data["demand"]["available"] is True
    # The key stays on the server.
    assert KEY not in (await admin_client.get(f"/api/competitors/{r.json()['id']}")).text
    assert KEY not in str(events)


async def test_a_capped_search_is_reported_as_a_lower_bound(admin_client, fake):
    """Text Search returns at most 60 places per term: a term that reached it means the radius may hold more,
    and the page, the prompt and the stats say so instead of presenting the count as the market's size."""
    from medipersona.competitors.display import market_rows
    from medipersona.competitors.labels import PLACES_CAP_NOTE

    area = [at(f"p{i}", f"第{i}内科", (i % 10 - 4.5) * 100, (i // 10 - 3) * 100, categories=("内科",)) for i in range(70)]
    PlacesStandIn(area, KEY).install(fake)
    r = await admin_client.post("/api/competitors", json=places_body(population=None))
    assert r.status_code == 202, r.text
    assert (await stream(admin_client, r.json()["id"]))[-1][0] == "done"
    data = (await admin_client.get(f"/api/competitors/{r.json()['id']}")).json()
    assert data["market"]["count"] == 60 and data["market"]["capped"] is True
    rows = dict(market_rows(data))
    assert rows["競合数（半径3km）"] == "60件以上" and rows["注意"] == PLACES_CAP_NOTE
    page = await admin_client.get(f"/competitors/{r.json()['id']}")
    assert "60件以上" in page.text

    PlacesStandIn(area[:5], KEY).install(fake)
    r = await admin_client.post("/api/competitors", json=places_body(population=None))
    assert (await stream(admin_client, r.json()["id"]))[-1][0] == "done"
    data = (await admin_client.get(f"/api/competitors/{r.json()['id']}")).json()
    assert data["market"]["capped"] is False and "注意" not in dict(market_rows(data))


async def test_places_403_fails_the_job_with_a_japanese_message(admin_client, fake):
    fake.on(TEXT, Reply(403, {"error": {"code": 403, "message": "Places API (New) has not been used",
                                        "status": "PERMISSION_DENIED"}}))
    r = await admin_client.post("/api/competitors", json=places_body())
    events = await stream(admin_client, r.json()["id"])
    kind, error = events[-1]
    assert kind == "error" and error["code"] == "places_forbidden"
    assert "Places API (New) が有効" in error["message"]
    assert not any(t == "done" for t, _ in events)
    data = await wait_status(admin_client, r.json()["id"])
    assert data["status"] == "failed" and data["error"]["code"] == "places_forbidden"
    assert data["swot"] == {} and data["competitors"] == []
    assert 1 <= len(fake.calls(TEXT)) <= 3  # the plan's first pages at most: a failure stops the search
    assert (await admin_client.get("/api/admin/usage")).json()["places"]["users"][0]["calls"] == 0


async def test_geocode_not_found_fails_cleanly(admin_client, fake):
    fake.on(TEXT, Reply(200, {}))
    clinic = {**body()["clinic"], "lat": None, "lng": None}
    r = await admin_client.post("/api/competitors", json=places_body(clinic=clinic))
    data = await wait_status(admin_client, r.json()["id"])
    assert data["status"] == "failed" and "住所から位置を特定できませんでした" in data["error"]["message"]
    assert not fake.calls(NEARBY)


async def test_estat_error_means_population_not_available(admin_client, fake):
    fake.on(TEXT, Reply(200, {}))
    fake.on(STATS, Reply(200, stats_data(status=100)))
    r = await admin_client.post("/api/competitors", json=places_body(population={"area_code": "13101"}))
    data = await wait_status(admin_client, r.json()["id"])
    assert data["status"] == "done"
    assert data["competitors"] == [] and data["market"]["count"] == 0
    pop = data["population"]
    assert pop["source"] == "unavailable" and "アプリケーションID" in pop["message"] and "age_bands" not in pop
    assert data["demand"]["available"] is False
    assert not fake.calls(META)  # the code was given: no lookup by name
    assert any("見つからず" in item["text"] for item in data["swot"]["opportunities"])


async def test_list_source_still_possible_with_places_configured(admin_client, fake):
    r = await admin_client.post("/api/competitors", json=body())
    data = await wait_status(admin_client, r.json()["id"])
    assert data["status"] == "done" and data["source"] == "list"
    assert not fake.calls(NEARBY)
