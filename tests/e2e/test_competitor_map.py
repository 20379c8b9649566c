"""The competitor maps in a real browser (Leaflet served by the app, basemap tiles from a local stand-in host
that the CSP allows): the result page's numbered markers match the table and open popups; the form fills the
address from the postal code and places the clinic by a click on the map (no coordinates typed)."""

from __future__ import annotations

import math
import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LAT0, LNG0 = 35.681236, 139.767125


def _point(north_m: float, east_m: float) -> tuple[float, float]:
    return LAT0 + north_m / 111_195.0, LNG0 + east_m / (111_195.0 * math.cos(math.radians(LAT0)))


def _done_analysis(api, name: str) -> str:
    rows = []
    for label, n, e, phone in (("みどり眼科", 0, 2100, "03-1234-5678"), ("<b>あおば</b>眼科", 600, 0, "03-2222-3333"),
                               ("駅前アイクリニック", -1200, -300, None)):
        lat, lng = _point(n, e)
        rows.append({"name": label, "lat": lat, "lng": lng, "rating": 4.0, "reviews": 12,
                     "hours": "月〜金 9:00〜18:00", **({"phone": phone} if phone else {})})
    created = api.post("/api/competitors", json={
        "clinic": {"name": name, "lat": LAT0, "lng": LNG0, "departments": ["ophthalmology"]},
        "radius_km": 3, "source": "list", "competitors": rows})
    assert created.status_code == 202, created.text
    analysis_id = created.json()["id"]
    for _ in range(60):
        if api.get(f"/api/competitors/{analysis_id}").json()["status"] == "done":
            return analysis_id
        time.sleep(0.5)
    raise AssertionError("the analysis did not finish")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_result_map_markers_match_the_table_and_open_popups(session_factory, api, tile_server, viewport):
    analysis_id = _done_analysis(api, f"地図確認眼科-{viewport}")
    s = session_factory(viewport, name="competitor-map")
    page = s.page
    tiles_before = len(tile_server.paths)
    s.goto(f"/competitors/{analysis_id}")
    live = page.locator("#comp-leaflet")
    expect(live).to_be_visible()
    expect(page.locator("#comp-map")).to_be_hidden()  # the SVG diagram gives way to the live map
    expect(live).to_have_attribute("data-markers", "3")
    # Numbered markers: the same numbers and names as the table rows.
    markers = live.locator(".leaflet-marker-icon")
    expect(markers).to_have_count(4)  # the clinic and three competitors
    numbers = live.locator(".comp-pin:not(.comp-pin--clinic)").all_inner_texts()
    table = page.locator("#comp-table tbody tr")
    table_numbers = [t.strip() for t in table.locator("td:first-child").all_inner_texts()]
    assert sorted(numbers, key=int) == table_numbers == ["1", "2", "3"]
    titles = [m.get_attribute("title") for m in live.locator(".leaflet-marker-icon").all()]
    names = [n.splitlines()[0] for n in page.locator("#comp-table tbody th").all_inner_texts()]
    assert {f"{i}. {name}" for i, name in enumerate(names, start=1)} <= set(titles), titles
    # The radius circle is drawn; tiles came from the configured host only.
    expect(live.locator(".leaflet-overlay-pane path")).to_have_count(1)
    expect(live.locator(".leaflet-control-attribution")).to_contain_text("地理院タイル")
    page.wait_for_function("() => [...document.querySelectorAll('#comp-leaflet .leaflet-tile')].some(t => t.complete)")
    assert len(tile_server.paths) > tiles_before

    # A marker's popup: name, distance, rating, phone as a tel: link, hours (markup in a name stays text).
    live.locator(".comp-pin", has_text=re.compile(r"^1$")).click()
    popup = live.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("1. <b>あおば</b>眼科")
    expect(popup).to_contain_text("600m")
    expect(popup).to_contain_text("4.0")
    expect(popup.get_by_role("link", name="03-2222-3333")).to_have_attribute("href", "tel:0322223333")
    expect(popup).to_contain_text("月〜金 9:00〜18:00")
    assert popup.locator("b").count() == 0
    # The table shows the phone numbers as tel: links too.
    expect(table.nth(0).get_by_role("link", name="03-2222-3333")).to_have_attribute("href", "tel:0322223333")
    fit = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth,"
                        " document.getElementById('comp-leaflet').getBoundingClientRect().right]")
    assert fit[0] <= fit[1] and fit[2] <= fit[1], fit
    s.shot("result-map", docs=viewport == "desktop")
    s.problems.assert_clean()


def test_form_postal_code_fills_the_address_and_a_click_places_the_clinic(session_factory, api, tile_server):
    s = session_factory("desktop", name="competitor-picker")
    page = s.page
    s.goto("/competitors")
    picker = page.locator("#comp-picker")
    expect(picker).to_be_visible()
    page.get_by_label("医院名（必須）").fill("E2E地図で指定眼科")
    page.get_by_label("郵便番号").press_sequentially("1000005")
    expect(page.get_by_label("住所")).to_have_value("東京都千代田区丸の内")
    expect(page.locator("#c-postal-status")).to_contain_text("住所を入力しました")
    expect(page.locator("#c-picker-status")).to_contain_text("市区町村を表示しました")
    expect(page.get_by_label("市区町村コード（5桁）")).to_have_value("13101")
    # The map moved to Chiyoda: a click in its middle places the clinic there.
    box = picker.bounding_box()
    picker.click(position={"x": box["width"] / 2 + 40, "y": box["height"] / 2 - 30})
    expect(page.locator("#c-picker-status")).to_contain_text("医院の位置を指定しました")
    lat, lng = float(page.get_by_label(re.compile("^緯度")).input_value()), float(page.get_by_label(re.compile("^経度")).input_value())
    assert abs(lat - 35.694) < 0.02 and abs(lng - 139.754) < 0.02, (lat, lng)
    expect(picker.locator(".leaflet-marker-icon")).to_have_count(1)
    # Typing coordinates stays possible and moves the marker.
    page.get_by_label(re.compile("^緯度")).fill(str(LAT0))
    page.get_by_label(re.compile("^経度")).fill(str(LNG0))
    page.get_by_label(re.compile("^経度")).dispatch_event("change")
    expect(page.locator("#c-picker-status")).to_contain_text(f"緯度 {LAT0}")
    picker.click(position={"x": box["width"] / 2 - 25, "y": box["height"] / 2 + 15})  # and click again
    expect(page.get_by_label(re.compile("^緯度"))).not_to_have_value(str(LAT0))
    lat = float(page.get_by_label(re.compile("^緯度")).input_value())
    lng = float(page.get_by_label(re.compile("^経度")).input_value())
    page.locator("#comp-form").get_by_label("眼科", exact=True).check()
    rows = "名称,緯度,経度\r\nあおば眼科,35.6850,139.7700\r\n".encode("cp932")
    page.locator("#competitors-file").set_input_files(files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": rows}])
    expect(page.locator("#competitors-file-status")).to_contain_text("1件の競合医療機関を読み込みました")
    s.shot("form-picker")
    page.get_by_role("button", name="この内容で分析する").click()
    page.wait_for_url(re.compile(r"/competitors/[0-9a-f]{32}$"))
    clinic = api.get(f"/api/competitors/{page.url.rsplit('/', 1)[1]}").json()["clinic"]
    assert clinic["lat"] == pytest.approx(lat, abs=1e-6) and clinic["lng"] == pytest.approx(lng, abs=1e-6)
    assert clinic["postal_code"] == "100-0005" and clinic["address"] == "東京都千代田区丸の内"
    s.problems.assert_clean()


def test_unknown_postal_code_is_said_in_japanese(session_factory):
    s = session_factory("phone", name="competitor-picker")
    page = s.page
    s.goto("/competitors")
    page.get_by_label("郵便番号").press_sequentially("9999999")
    expect(page.locator("#c-postal-status")).to_contain_text("見つかりませんでした")
    expect(page.get_by_label("住所")).to_have_value("")
    expect(page.locator("#comp-picker")).to_be_visible()
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    s.problems.assert_clean(allow=("404",))
