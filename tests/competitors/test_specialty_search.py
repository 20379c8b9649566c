"""Specialty search against the local stand-in of Places API (New): an eye clinic's competitors are the eye
clinics within the radius (none of another specialty unless it also matches), pages are followed up to 60
results per term, the radius is exact, the field mask asks only for what is shown, each term's counts are
reported, and dental departments search among dentists."""

from __future__ import annotations

import pytest

from medipersona.competitors import places
from medipersona.competitors.geo import bounding_box, haversine_m
from medipersona.competitors.http import aclose_http_client
from medipersona.settings import Settings

from .fakes import LAT0, LNG0, NEARBY, TEXT, FakeServer
from .helpers import body, stream
from .places_standin import PlacesStandIn, StandInPlace, at

KEY = "stand-in-key"
EYE = ("眼科",)
# Everything the page, the popups and the exports show, plus the type that tells a clinic from a pharmacy.
SHOWN_FIELDS = {"places.id", "places.displayName", "places.formattedAddress", "places.location", "places.rating",
                "places.userRatingCount", "places.regularOpeningHours.weekdayDescriptions", "places.websiteUri",
                "places.nationalPhoneNumber", "places.types"}


def eye_area() -> list[StandInPlace]:
    """A test area around (LAT0, LNG0): 24 eye clinics within 3 km (two pages for one term), internal medicine
    clinics, a clinic of both, a pharmacy named after the eye clinic, eye clinics outside the radius."""
    area = []
    names = ("眼科", "眼科クリニック", "眼科医院", "アイクリニック")
    for i in range(24):
        north, east = (i % 6 - 2.5) * 400, (i // 6 - 1.5) * 500
        area.append(at(f"eye{i}", f"{'ABCDEFGHIJKLMNOPQRSTUVWX'[i]}{names[i % 4]}", north, east, categories=EYE,
                       phone=f"03-1111-{i:04d}", rating=3.5 + (i % 3) / 2, reviews=10 + i,
                       hours=("月曜日: 9時00分～18時00分",)))
    for i in range(15):
        area.append(at(f"int{i}", f"第{i}内科クリニック", (i % 5 - 2) * 300, (i // 5 - 1) * 300, categories=("内科",)))
    area += [
        at("both", "山田内科・眼科", 150, 150, categories=("内科", "眼科"), phone="03-2222-0000"),
        at("pharmacy", "駅前眼科前薬局", 100, -100, categories=(), types=("pharmacy", "health", "store")),
        at("corner", "コーナー眼科", 2400, 2400, categories=EYE),  # 3.39 km: in the rectangle, outside the circle
        at("far", "遠方眼科", 4500, 0, categories=EYE),  # outside the rectangle: never returned
        at("self", "さくら眼科", 5, 5, categories=EYE),  # the clinic itself
    ]
    return area


@pytest.fixture
async def fake():
    with FakeServer() as server:
        yield server
    await aclose_http_client()


def _settings(fake) -> Settings:
    return Settings(google_places_api_key=KEY, google_places_base_url=fake.url, places_timeout_seconds=5)


async def test_eye_clinic_competitors_are_eye_clinics_within_the_radius(fake):
    area = eye_area()
    PlacesStandIn(area, KEY).install(fake)
    result = await places.search_specialties(_settings(fake), LAT0, LNG0, 3, ["ophthalmology"], "さくら眼科")
    ids = {c["place_id"] for c in result.competitors}
    expected = {p.id for p in area if p.id.startswith("eye")} | {"both"}
    assert ids == expected  # every eye clinic in the radius, the clinic of both specialties, nothing else
    assert not any(i.startswith("int") for i in ids) and "pharmacy" not in ids and "self" not in ids
    assert result.outside_radius == 1 and result.not_clinics == 1  # the corner clinic; the pharmacy
    assert [c["number"] for c in result.competitors] == list(range(1, 26))
    distances = [c["distance_m"] for c in result.competitors]
    assert distances == sorted(distances) and max(distances) <= 3000
    assert all(c["departments"] == ["ophthalmology"] for c in result.competitors)
    both = next(c for c in result.competitors if c["place_id"] == "both")
    assert both["phone"] == "03-2222-0000" and both["name"] == "山田内科・眼科"

    # One Text Search per term, each followed to its second page with the first page's parameters.
    calls = fake.calls(TEXT)
    queries = [c.body["textQuery"] for c in calls]
    assert sorted(set(queries)) == sorted(["眼科", "眼科クリニック", "眼科医院"])
    assert len(calls) == 6 and result.calls == 6  # 28 matches in the rectangle: 2 pages of 20 per term
    for call in calls:
        assert call.headers["x-goog-api-key"] == KEY
        assert set(call.headers["x-goog-fieldmask"].split(",")) == SHOWN_FIELDS | {"nextPageToken"}
        assert call.body["pageSize"] == 20 and call.body["rankPreference"] == "DISTANCE"
        assert "includedType" not in call.body
    second_pages = [c for c in calls if "pageToken" in c.body]
    assert len(second_pages) == 3
    assert not fake.calls(NEARBY)

    # Per-term counts: found (the API's answers), in the radius, and new after the terms before.
    terms = {t["term"]: t for t in result.terms}
    assert list(terms) == ["眼科", "眼科クリニック", "眼科医院"]
    # 28 = 24 eye clinics, the clinic of both, the pharmacy, the corner clinic and the clinic itself.
    assert terms["眼科"] == {"term": "眼科", "kind": "text", "departments": ["眼科"], "found": 28, "in_radius": 26,
                           "new": 26, "pages": 2, "capped": False}
    assert terms["眼科クリニック"]["new"] == 0 and terms["眼科医院"]["found"] == 27  # the pharmacy matched 眼科 only


async def test_radius_is_exact_and_the_rectangle_holds_the_circle(fake):
    """Places at 2,999 m are kept and at 3,001 m dropped, on the axes and on the diagonals."""
    area = []
    for i, (n, e) in enumerate(((1, 0), (0, 1), (-1, 0), (0, -1), (0.7071, 0.7071), (-0.7071, -0.7071))):
        area.append(at(f"in{i}", f"内{i}眼科", n * 2999, e * 2999, categories=EYE))
        area.append(at(f"out{i}", f"外{i}眼科", n * 3001, e * 3001, categories=EYE))
    PlacesStandIn(area, KEY).install(fake)
    result = await places.search_specialties(_settings(fake), LAT0, LNG0, 3, ["ophthalmology"])
    assert {c["place_id"] for c in result.competitors} == {f"in{i}" for i in range(6)}
    kept = {c["place_id"]: c["distance_m"] for c in result.competitors}
    assert all(2990 < d <= 3000 for d in kept.values())
    low_lat, low_lng, high_lat, high_lng = bounding_box(LAT0, LNG0, 3000.0)
    rect = fake.calls(TEXT)[0].body["locationRestriction"]["rectangle"]
    assert rect == {"low": {"latitude": low_lat, "longitude": low_lng},
                    "high": {"latitude": high_lat, "longitude": high_lng}}
    # The diagonal points at 3,001 m lie in the rectangle's corners: the API returns them, the radius drops them.
    assert result.outside_radius == 2


def test_bounding_box_contains_the_circle_and_is_tight():
    for lat in (35.68, 43.06, 26.21):
        low_lat, low_lng, high_lat, high_lng = bounding_box(lat, 139.7, 5000.0)
        for deg in range(0, 360, 5):
            import math

            b = math.radians(deg)
            # the point at 5 km in direction b (spherical destination formula)
            d = 5000.0 / 6_371_008.8
            p1, l1 = math.radians(lat), math.radians(139.7)
            p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
            l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
            plat, plng = math.degrees(p2), math.degrees(l2)
            assert low_lat - 1e-9 <= plat <= high_lat + 1e-9 and low_lng - 1e-9 <= plng <= high_lng + 1e-9
        assert haversine_m(lat, 139.7, high_lat, 139.7) == pytest.approx(5000.0, rel=1e-9)


async def test_pages_are_followed_up_to_60_per_term_and_the_cap_is_reported(fake):
    area = [at(f"e{i}", f"第{i}眼科", (i % 10 - 4.5) * 150, (i // 10 - 3.5) * 150, categories=EYE) for i in range(80)]
    PlacesStandIn(area, KEY).install(fake)
    result = await places.search_specialties(_settings(fake), LAT0, LNG0, 3, ["ophthalmology"])
    per_term = [c for c in fake.calls(TEXT) if c.body["textQuery"] == "眼科"]
    assert len(per_term) == 3  # 3 pages of 20, no fourth request
    assert all(t["found"] == 60 and t["pages"] == 3 for t in result.terms)
    assert result.capped is True and len(result.competitors) == 60


async def test_dental_departments_search_among_dentists_and_general_dentistry_by_type(fake):
    area = [at("d1", "駅前歯科", 200, 0, categories=("歯科",), types=("dentist", "health")),
            at("d2", "スマイルデンタルオフィス", -300, 0, categories=(), types=("dentist", "health")),
            at("lab", "中央歯科技工所", 100, 0, categories=("歯科",), types=("point_of_interest",)),
            at("o1", "矯正歯科クリニック", 0, 400, categories=("矯正歯科", "歯科"), types=("dentist",))]
    PlacesStandIn(area, KEY).install(fake)
    result = await places.search_specialties(_settings(fake), LAT0, LNG0, 1, ["general_dentistry", "orthodontics"])
    for call in fake.calls(TEXT):
        assert call.body["includedType"] == "dentist" and call.body["strictTypeFiltering"] is True
    nearby = fake.calls(NEARBY)
    assert len(nearby) == 1 and nearby[0].body["includedTypes"] == ["dentist", "dental_clinic"]
    assert nearby[0].body["locationRestriction"]["circle"]["radius"] == 1000.0
    assert set(nearby[0].headers["x-goog-fieldmask"].split(",")) == SHOWN_FIELDS
    ids = {c["place_id"] for c in result.competitors}
    assert ids == {"d1", "d2", "o1"}  # the dental lab is no dentist; the office without 歯科 in its name by type
    labels = [t["term"] for t in result.terms]
    assert labels == ["歯科", "歯科医院", "歯医者", "歯科医院（種別検索）", "矯正歯科"]
    ortho = next(c for c in result.competitors if c["place_id"] == "o1")
    assert ortho["departments"] == ["general_dentistry", "orthodontics"]


def test_search_plan_uses_the_catalog_terms_and_is_bounded():
    from medipersona.catalog.service import get_catalog

    catalog = get_catalog()
    assert all(d.search_terms for d in catalog.departments)  # every department has its words
    plan, left_out = places.search_plan(["ophthalmology"])
    assert [s.query for s in plan] == list(catalog.department("ophthalmology").search_terms)
    many = [d.id for d in catalog.departments if d.section == "medical"][:10]
    plan, left_out = places.search_plan(many)
    assert len(plan) == places.MAX_SEARCHES and left_out > 0


@pytest.fixture
def settings_overrides(fake) -> dict:
    return {"google_places_api_key": KEY, "google_places_base_url": fake.url, "map_tile_url": ""}


def _eye_body() -> dict:
    data = body(clinic={**body()["clinic"], "name": "さくら眼科", "departments": ["ophthalmology"]}, population=None)
    data.pop("source")
    data.pop("competitors")
    return data


async def test_the_analysis_reports_terms_and_shows_phones(admin_client, fake):
    PlacesStandIn(eye_area(), KEY).install(fake)
    r = await admin_client.post("/api/competitors", json=_eye_body())
    assert r.status_code == 202, r.text
    assert (await stream(admin_client, r.json()["id"]))[-1][0] == "done"
    data = (await admin_client.get(f"/api/competitors/{r.json()['id']}")).json()
    market = data["market"]
    assert market["count"] == 25 and market["places_calls"] == 6 and market["capped"] is False
    assert [t["term"] for t in market["search_terms"]] == ["眼科", "眼科クリニック", "眼科医院"]
    page = (await admin_client.get(f"/competitors/{r.json()['id']}")).text
    assert 'id="comp-terms"' in page and "眼科クリニック" in page
    assert 'href="tel:0311110000"' in page and "03-1111-0000" in page
    assert '<span class="comp-table__sub comp-table__deps">眼科</span>' in page
    points = (await admin_client.get(f"/api/competitors/{r.json()['id']}/map-points")).json()
    assert [p["number"] for p in points["competitors"]] == [str(i) for i in range(1, 26)]
    assert points["radius_m"] == 3000 and points["clinic"]["name"] == "さくら眼科"
    # The prompt's facts say the competitors share the specialty.
    usage = (await admin_client.get("/api/admin/usage")).json()["places"]["users"]
    assert usage[0]["analyses"] == 1 and usage[0]["calls"] == 6
