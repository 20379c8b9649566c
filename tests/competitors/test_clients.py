"""The Places API (New) and e-Stat clients against local fake servers (real sockets)."""

from __future__ import annotations

import pytest

from medipersona.competitors import estat, places
from medipersona.competitors.http import aclose_http_client
from medipersona.settings import Settings

from .fakes import (
    AGE_CLASSES,
    AGE_VALUES,
    LAT0,
    LNG0,
    META,
    STATS,
    TEXT,
    FakeServer,
    Reply,
    meta_info,
    place,
    stats_data,
)

KEY = "test-key-123"


@pytest.fixture
async def fake():
    with FakeServer() as server:
        yield server
    await aclose_http_client()


def _settings(fake, **extra) -> Settings:
    return Settings(google_places_api_key=KEY, google_places_base_url=fake.url, estat_app_id="app-1",
                    estat_base_url=fake.url, estat_stats_data_id="0003445139", places_timeout_seconds=5, **extra)


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The backoff waits of the Places client, recorded (and not slept)."""
    recorded: list[float] = []
    real_sleep = places._sleep

    async def record_sleep(seconds: float) -> None:
        recorded.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(places, "_sleep", record_sleep)
    return recorded


ONE_TERM = ["allergology"]  # one search term (アレルギー科): one Text Search


async def test_text_search_request_and_parsing(fake):
    fake.on(TEXT, Reply(200, {"places": [
        place("p3", "遠いクリニック", 1500, 1500),       # 2.12 km: outside a 1 km radius (in the rectangle's corner)
        place("p1", "近いアレルギー科", 300, 0, rating=4.5, userRatingCount=20, websiteUri="https://near.example",
              regularOpeningHours={"weekdayDescriptions": ["月曜日: 9時00分～18時00分", "火曜日: 休業日"]},
              nationalPhoneNumber="03-0000-0000"),
        place("p0", "さくらアレルギー科クリニック", 5, 5),  # the clinic itself
        place("p2", "中くらい医院", 0, -700),
        place("p2", "中くらい医院", 0, -700),              # a duplicate
        {"id": "bad", "displayName": {"text": "no location"}},
    ]}))
    result = await places.search_specialties(_settings(fake), LAT0, LNG0, 1, ONE_TERM, "さくらアレルギー科クリニック")
    calls = fake.requests
    assert len(calls) == 1 and calls[0].path == TEXT  # one search, no per-place detail calls
    call = calls[0]
    assert call.headers["x-goog-api-key"] == KEY
    assert call.headers["x-goog-fieldmask"] == (
        "places.id,places.displayName,places.formattedAddress,places.location,places.rating,places.userRatingCount,"
        "places.regularOpeningHours.weekdayDescriptions,places.websiteUri,places.nationalPhoneNumber,"
        "places.types,nextPageToken")
    assert call.body["textQuery"] == "アレルギー科" and call.body["pageSize"] == 20
    assert set(call.body["locationRestriction"]) == {"rectangle"}
    assert call.body["rankPreference"] == "DISTANCE" and call.body["languageCode"] == "ja"
    assert [c["name"] for c in result.competitors] == ["近いアレルギー科", "中くらい医院"]
    assert all(c["distance_m"] <= 1000 for c in result.competitors)
    assert result.outside_radius == 1 and result.calls == 1
    near = result.competitors[0]
    assert near["number"] == 1 and near["rating"] == 4.5 and near["reviews"] == 20
    assert near["hours"] == "月曜日: 9時00分～18時00分 / 火曜日: 休業日"
    assert near["website"] == "https://near.example" and near["phone"] == "03-0000-0000"
    assert near["distance_m"] == pytest.approx(300, abs=1) and near["bearing_deg"] == pytest.approx(0, abs=0.5)


@pytest.mark.parametrize(("status", "code", "needle"), [
    (403, "places_forbidden", "Places API (New) が有効"),
    (400, "places_bad_request", "400"),
])
async def test_client_errors_fail_at_once(fake, status, code, needle):
    fake.on(TEXT, Reply(status, {"error": {"code": status, "message": "denied", "status": "PERMISSION_DENIED"}}))
    with pytest.raises(places.PlacesError) as info:
        await places.search_specialties(_settings(fake), LAT0, LNG0, 3, ONE_TERM)
    assert info.value.code == code and needle in info.value.message
    assert len(fake.requests) == 1  # not retried


async def test_invalid_key_message(fake):
    fake.on(TEXT, Reply(400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                                        "status": "INVALID_ARGUMENT"}}))
    with pytest.raises(places.PlacesError) as info:
        await places.search_specialties(_settings(fake), LAT0, LNG0, 3, ONE_TERM)
    assert info.value.code == "places_key_invalid" and "APIキーが無効" in info.value.message
    assert KEY not in info.value.message


async def test_429_and_5xx_are_retried_honouring_retry_after(fake):
    fake.on(TEXT, Reply(429, {"error": {"code": 429}}, {"Retry-After": "0"}),
            Reply(503, {"error": {"code": 503}}, {"Retry-After": "0"}),
            Reply(200, {"places": [place("p1", "A", 100, 0)]}))
    result = await places.search_specialties(_settings(fake), LAT0, LNG0, 1, ONE_TERM)
    assert [c["name"] for c in result.competitors] == ["A"]
    assert len(fake.requests) == 3 and result.calls == 1  # only the answered request is billed


@pytest.mark.parametrize("header", ["soon", "", "nan", "inf", "Wed, 99 Foo 2015 07:28:00 GMT", "-3"])
async def test_malformed_retry_after_falls_back_to_backoff(fake, header, waits):
    """A 429 whose Retry-After is not a number or a date is retried on our own backoff, not failed."""
    fake.on(TEXT, Reply(429, {"error": {"code": 429}}, {"Retry-After": header}),
            Reply(200, {"places": [place("p1", "A", 100, 0)]}))
    result = await places.search_specialties(_settings(fake), LAT0, LNG0, 1, ONE_TERM)
    assert [c["name"] for c in result.competitors] == ["A"]
    assert len(waits) == 1 and 0.0 <= waits[0] <= places.BACKOFF.base + 0.5


async def test_long_retry_after_is_capped(fake, waits):
    fake.on(TEXT, Reply(429, {"error": {"code": 429}}, {"Retry-After": "3600"}),
            Reply(200, {"places": [place("p1", "A", 100, 0)]}))
    await places.search_specialties(_settings(fake), LAT0, LNG0, 1, ONE_TERM)
    assert len(waits) == 1 and places.MAX_RETRY_AFTER_SECONDS <= waits[0] <= places.MAX_RETRY_AFTER_SECONDS + 1.0


async def test_retries_are_bounded(fake):
    fake.on(TEXT, Reply(500, {"error": {"code": 500}}, {"Retry-After": "0"}))
    with pytest.raises(places.PlacesError) as info:
        await places.search_specialties(_settings(fake), LAT0, LNG0, 1, ONE_TERM)
    assert info.value.code == "places_unavailable" and "500" in info.value.message
    assert len(fake.requests) == places.MAX_ATTEMPTS


async def test_geocode(fake):
    fake.on(TEXT, Reply(200, {"places": [{"location": {"latitude": 35.5, "longitude": 139.5},
                                          "formattedAddress": "日本、〒100-0005 東京都千代田区丸の内１丁目"}]}))
    found = await places.geocode(_settings(fake), "東京都千代田区丸の内1-9-1")
    assert found["lat"] == 35.5 and found["lng"] == 139.5
    call = fake.requests[0]
    assert call.body["textQuery"] == "東京都千代田区丸の内1-9-1"
    assert call.headers["x-goog-fieldmask"] == "places.location,places.formattedAddress"
    fake.on(TEXT, Reply(200, {}))
    with pytest.raises(places.PlacesError) as info:
        await places.geocode(_settings(fake), "どこでもない")
    assert info.value.code == "geocode_not_found"


# --- e-Stat ------------------------------------------------------------------------------------------------
def test_parse_population_by_class_codes():
    pop = estat.parse_population(stats_data(), "13101")
    # 5-year classes 0-14 (2000+2500+3000), 15-64, 65-69 + 70-74, 75+ of the latest year, both sexes (総数).
    assert pop["age_bands"] == {"0-14": 7500, "15-64": 45000, "65-74": 7500, "75+": 6000}
    assert pop["total"] == 67000 and pop["unknown_age"] == 1000  # 総数 includes age unknown
    assert pop["area_name"] == "千代田区" and pop["time"] == "2020年" and pop["source"] == "estat"
    assert "男女，年齢" in pop["source_detail"]


def test_parse_population_single_object_classes():
    assert estat.parse_population(stats_data(single_area_class=True), "13101")["age_bands"]["75+"] == 6000


@pytest.mark.parametrize(("data", "code"), [
    # 70～74歳 missing from the classes: the ages are not covered, nothing is summed
    (stats_data(age_classes=[c for c in AGE_CLASSES if c[0] != "006"]), "estat_age_classes"),
    # a class that straddles a band boundary (60～69歳) cannot be split
    (stats_data(age_classes=[("000", "総数"), ("001", "0～14歳"), ("002", "15～59歳"), ("003", "60～69歳"),
                             ("004", "70歳以上")]), "estat_age_classes"),
    (stats_data(values={**AGE_VALUES, "004": "***"}), "estat_value_missing"),
    (stats_data(status=100), "estat_app_id_invalid"),
    (stats_data(status=1), "estat_no_data"),
    ({"nothing": 1}, "estat_bad_response"),
])
def test_parse_population_refuses_what_it_cannot_read(data, code):
    with pytest.raises(estat.EstatError) as info:
        estat.parse_population(data, "13101")
    assert info.value.code == code and info.value.message


def test_parse_population_unknown_area():
    with pytest.raises(estat.EstatError) as info:
        estat.parse_population(stats_data(), "13102")
    assert info.value.code == "estat_area_missing" and "13102" in info.value.message


@pytest.mark.parametrize(("address", "expected"), [
    ("東京都千代田区丸の内1-9-1", ("13101", "千代田区")),
    ("〒100-0005 東京都中央区銀座1", ("13102", "中央区")),
    ("大阪府大阪市中央区本町1", ("27128", "大阪市中央区")),
    ("北海道札幌市中央区北1条", ("01101", "札幌市中央区")),
    ("神奈川県横浜市西区", None),
])
def test_match_area(address, expected):
    assert estat.match_area(meta_info(), address) == expected


async def test_fetch_population_and_resolve_over_http(fake):
    fake.on(STATS, Reply(200, stats_data()))
    fake.on(META, Reply(200, meta_info()))
    settings = _settings(fake)
    assert await estat.resolve_area_code(settings, "東京都千代田区丸の内1-9-1") == ("13101", "千代田区")
    pop = await estat.fetch_population(settings, "13101")
    assert pop["age_bands"]["15-64"] == 45000
    meta_call, stats_call = fake.calls(META)[0], fake.calls(STATS)[0]
    assert meta_call.query["appId"] == ["app-1"] and meta_call.query["statsDataId"] == ["0003445139"]
    assert stats_call.query["cdArea"] == ["13101"] and stats_call.query["statsDataId"] == ["0003445139"]
    assert stats_call.query["metaGetFlg"] == ["Y"]


async def test_estat_app_id_is_masked_in_httpx_logs(fake, caplog):
    import logging

    fake.on(STATS, Reply(200, stats_data()))
    with caplog.at_level(logging.INFO, logger="httpx"):
        await estat.fetch_population(_settings(fake), "13101")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "httpx")
    assert "getStatsData" in logged and "appId=***" in logged
    assert "app-1" not in logged
