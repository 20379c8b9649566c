"""The competitor analysis in a real browser: the form with coordinates and an imported (Shift_JIS) competitor
list, the live result (steps, SWOT streamed), the map, the table sorted by distance and limited to the radius,
exports, the history and delete — without console/CSP errors or requests leaving the server."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LAT0, LNG0 = 35.681236, 139.767125
GENERATION_TIMEOUT = 30_000


def _at(north_m: float, east_m: float) -> tuple[str, str]:
    return (f"{LAT0 + north_m / 111_195.0:.6f}",
            f"{LNG0 + east_m / (111_195.0 * math.cos(math.radians(LAT0))):.6f}")


def competitor_csv() -> bytes:
    rows = [("みどり医院", 0, 2100, "3.9", "42", "月〜金 9:00〜18:00", ""),
            ("<script>window.__xss=1</script>駅前クリニック", -1200, -300, "3.1", "5", "", ""),
            ("あおば内科", 600, 0, "4.4", "120", "", "https://aoba.example.jp/"),
            ("遠くの病院", 8000, 0, "4.0", "300", "", "")]  # 8 km away: outside the 3 km radius
    lines = ["名称,住所,緯度,経度,評価,口コミ数,診療時間,ウェブサイト"]
    for name, n, e, rating, reviews, hours, site in rows:
        lat, lng = _at(n, e)
        lines.append(f"{name},東京都千代田区,{lat},{lng},{rating},{reviews},{hours},{site}")
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


def test_competitor_analysis_journey(session_factory, api):
    s = session_factory("desktop", name="competitors")
    page = s.page
    s.goto("/")
    page.get_by_role("link", name="競合分析").first.click()
    expect(page).to_have_url(re.compile(r"/competitors$"))
    expect(page.get_by_role("heading", name="新しい競合分析")).to_be_visible()

    page.get_by_label("医院名（必須）").fill("E2Eさくら内科")
    page.get_by_label("緯度（必須）").fill(str(LAT0))
    page.get_by_label("経度（必須）").fill(str(LNG0))
    page.locator("#comp-form").get_by_label("内科", exact=True).check()
    page.get_by_label("強み・特徴").fill("土曜午後も診療")
    page.get_by_label("半径3km").check()
    page.locator("#competitors-file").set_input_files(
        files=[{"name": "競合リスト.csv", "mimeType": "text/csv", "buffer": competitor_csv()}])
    expect(page.locator("#competitors-file-status")).to_contain_text("4件の競合医療機関を読み込みました")
    s.shot("form")
    page.get_by_role("button", name="この内容で分析する").click()
    page.wait_for_url(re.compile(r"/competitors/[0-9a-f]{32}$"))
    analysis_id = page.url.rsplit("/", 1)[1]

    # The SWOT streams in: a quadrant has text while the analysis is not yet done (captured in the page).
    seen = page.wait_for_function(
        """() => {
            const root = document.getElementById('comp-result');
            if (!root || root.dataset.status === 'done') return null;
            const texts = [...document.querySelectorAll('[data-swot-text]')].map(e => e.textContent);
            if (!texts.some(t => t.length > 0)) return null;
            return {steps: document.querySelectorAll('[data-step].is-done').length,
                    progress: document.getElementById('comp-progress-text').textContent};
        }""",
        timeout=GENERATION_TIMEOUT,
    ).json_value()
    assert seen["steps"] >= 3, seen  # competitors, market, population, demand finished before the SWOT
    assert "生成中" in seen["progress"] or "分析中" in seen["progress"], seen

    # Done: the page shows the stored result.
    expect(page.locator("#comp-status .badge")).to_have_text("完了", timeout=GENERATION_TIMEOUT)
    expect(page.locator("#comp-progress")).to_be_hidden()
    page.wait_for_function("() => document.getElementById('comp-map').naturalWidth > 0")
    # Only competitors inside the radius, nearest first, markup shown as text.
    names = page.locator("#comp-table tbody th").all_inner_texts()
    assert [n.splitlines()[0] for n in names] == ["あおば内科", "<script>window.__xss=1</script>駅前クリニック",
                                                  "みどり医院"], names
    distances = page.locator('#comp-table [data-col="distance"]').all_inner_texts()
    metres = [float(d[:-2]) * 1000 if d.endswith("km") else float(d[:-1]) for d in distances]
    assert metres == sorted(metres) and metres[-1] <= 3000, distances
    assert page.evaluate("window.__xss") is None
    for quadrant in ("strengths", "weaknesses", "opportunities", "threats", "differentiation", "marketing",
                     "operations"):
        expect(page.locator(f'[data-swot="{quadrant}"] .comp-items li').first).not_to_be_empty()
    expect(page.locator('[data-swot="marketing"] .comp-priority').first).to_contain_text("優先度")
    expect(page.locator("#market-rows")).to_contain_text("3件")
    expect(page.locator("#population-rows")).to_contain_text("人口データはありません")  # never invented
    s.shot("result-done", docs=True)

    # The map is our own SVG: numbered dots for the three, no outside reference.
    svg = api.get(f"/api/competitors/{analysis_id}/map.svg").text
    assert re.findall(r">(\d+)</text></g>", svg) and "遠くの病院" not in svg and "href" not in svg

    # Exports are real downloads.
    for link, magic in (("PDFで保存", b"%PDF-"), ("PowerPointで保存", b"PK")):
        expect(page.get_by_role("link", name=link)).to_have_attribute("href", re.compile(r"/export\.(pdf|pptx)$"))
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("link", name=link).click()
        assert Path(info.value.path()).read_bytes()[:len(magic)] == magic

    # History lists it; delete (confirm dialog accepted) removes it.
    s.goto("/competitors")
    item = page.locator(f'[data-analysis-id="{analysis_id}"]')
    expect(item).to_contain_text("E2Eさくら内科")
    expect(item).to_contain_text("完了")
    item.get_by_role("button", name=re.compile("削除")).click()
    expect(page.locator(".alert--success")).to_have_text("競合分析を削除しました。")
    expect(page.locator(f'[data-analysis-id="{analysis_id}"]')).to_have_count(0)
    assert api.get(f"/api/competitors/{analysis_id}").status_code == 404
    s.problems.assert_clean()


def test_form_errors_are_shown_in_japanese(session_factory):
    s = session_factory("desktop", name="competitors-errors")
    page = s.page
    s.goto("/competitors")
    page.get_by_role("button", name="この内容で分析する").click()
    expect(page.locator("#comp-alert")).to_be_visible()
    expect(page.locator('[data-error-for="competitors"]')).to_contain_text("競合リスト")
    # With a list but no name, department or position: field messages from the API (422).
    page.locator("#competitors-file").set_input_files(
        files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": competitor_csv()}])
    expect(page.locator("#competitors-file-status")).to_contain_text("読み込みました")
    page.get_by_role("button", name="この内容で分析する").click()
    expect(page.locator('[data-error-for="clinic.name"]')).to_be_visible()
    expect(page.locator('[data-error-for="clinic.departments"]')).to_be_visible()
    expect(page.locator("#c-name")).to_have_attribute("aria-invalid", "true")
    assert "/competitors" in page.url and not re.search(r"/competitors/[0-9a-f]{32}", page.url)
    s.problems.assert_clean(allow=("422",))


def test_without_javascript_the_form_posts_the_list_file(session_factory):
    s = session_factory("desktop", name="competitors-nojs", javascript=False)
    page = s.page
    s.goto("/competitors")
    expect(page.locator("#clinic-file")).to_be_hidden()  # the JSON import needs JavaScript
    page.get_by_label("医院名（必須）").fill("E2E静的クリニック")
    page.get_by_label("緯度（必須）").fill(str(LAT0))
    page.get_by_label("経度（必須）").fill(str(LNG0))
    page.locator("#comp-form").get_by_label("内科", exact=True).check()
    page.get_by_label("半径1km").check()
    page.locator("#competitors-file").set_input_files(
        files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": competitor_csv()}])
    page.get_by_role("button", name="この内容で分析する").click()
    page.wait_for_url(re.compile(r"/competitors/[0-9a-f]{32}$"))
    for _ in range(30):  # the page refreshes itself (noscript meta refresh); reload sooner here
        if page.locator("#comp-status .badge").inner_text() == "完了":
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator("#comp-status .badge")).to_have_text("完了")
    # Radius 1 km: only the competitor 600 m away.
    expect(page.locator("#comp-table tbody tr")).to_have_count(1)
    expect(page.locator("#comp-table tbody th")).to_contain_text("あおば内科")
    s.problems.assert_clean()


def test_result_and_form_fit_a_phone(session_factory, api):
    """At 390 px: no sideways scrolling of the page (the table scrolls in its own box), the map fits the width,
    the form's fields are usable."""
    rows = [{"name": name, "lat": float(_at(n, e)[0]), "lng": float(_at(n, e)[1]), "rating": 4.0, "reviews": 10,
             "hours": "月〜金 9:00〜18:00", "website": "https://example.jp/"}
            for name, n, e in (("とても長い名前の医療法人社団さくら会さくら内科クリニック", 300, 0),
                               ("みどり医院", 0, 900), ("あおば内科", -1500, 200))]
    created = api.post("/api/competitors", json={
        "clinic": {"name": "スマホ確認内科", "lat": LAT0, "lng": LNG0, "departments": ["internal_medicine"]},
        "radius_km": 3, "source": "list", "competitors": rows})
    assert created.status_code == 202, created.text
    analysis_id = created.json()["id"]
    for _ in range(60):  # a sync (Playwright) test: no event loop to block here
        if api.get(f"/api/competitors/{analysis_id}").json()["status"] == "done":
            break
        time.sleep(0.5)

    s = session_factory("phone", name="competitors")
    page = s.page
    s.goto(f"/competitors/{analysis_id}")
    expect(page.locator("#comp-status .badge")).to_have_text("完了")
    page.wait_for_function("() => document.getElementById('comp-map').naturalWidth > 0")
    fit = page.evaluate("""() => ({
        page: document.scrollingElement.scrollWidth, view: window.innerWidth,
        map: document.getElementById('comp-map').getBoundingClientRect().right})""")
    assert fit["page"] <= fit["view"] and fit["map"] <= fit["view"], fit
    expect(page.locator("#comp-table tbody tr")).to_have_count(3)
    # Names stay readable (the table scrolls in its own box rather than squeezing a column to one character).
    name_width = page.locator("#comp-table tbody th").first.bounding_box()["width"]
    assert name_width >= 150, name_width
    assert page.evaluate("() => { const w = document.querySelector('#comp-table').closest('.table-wrap');"
                         " return w.scrollWidth > w.clientWidth; }")
    s.shot("result-done", docs=True)

    s.goto("/competitors")
    expect(page.get_by_label("医院名（必須）")).to_be_visible()
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    page.get_by_label("医院名（必須）").fill("スマホ入力テスト")
    expect(page.get_by_label("医院名（必須）")).to_have_value("スマホ入力テスト")
    s.problems.assert_clean()
