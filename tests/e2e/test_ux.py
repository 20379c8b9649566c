"""The UX pass (issue 19) in a real browser, at desktop (1280 px) and phone (390 px) widths: API docs render,
focus rings and control borders reach 3:1 (computed from the page's CSS), dates in Japan time on the page and in
the PDF, the timeline chart on a phone, print, history search and filters, the admin pages on a phone."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import choose, fill_wizard, next_step

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 30_000
INPUT_PERSONA = {"department": "internal_medicine", "chief_complaint": "internal_medicine.headache",
                 "purpose": "increase_patients", "setting_type": "input"}


# ------------------------------------------------------------------------------------------------ helpers
def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS colours as getComputedStyle gives them (rgb()/rgba())."""
    def luminance(css: str) -> float:
        r, g, b = (int(float(v)) / 255 for v in re.findall(r"[\d.]+", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# The colours around an element: its outline, its border and the first opaque background behind it.
RING_JS = """(el) => {
    const cs = getComputedStyle(el);
    let node = el.parentElement, behind = 'rgb(255, 255, 255)';
    while (node) {
        const b = getComputedStyle(node).backgroundColor;
        if (b && b !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(b)) { behind = b; break; }
        node = node.parentElement;
    }
    return {outline: cs.outlineColor, outlineStyle: cs.outlineStyle, outlineWidth: parseFloat(cs.outlineWidth),
            border: cs.borderTopColor, borderWidth: parseFloat(cs.borderTopWidth), behind};
}"""


def tab_until(page: Page, selector: str, limit: int = 60):
    """Press Tab (as a keyboard user) until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return page.locator(":focus")
    raise AssertionError(f"Tab never reached {selector}")


def make_persona(api, **profile) -> str:
    body = {**INPUT_PERSONA, "profile": profile} if profile else {**INPUT_PERSONA, "setting_type": "auto"}
    created = api.post("/api/personas", json=body)
    assert created.status_code == 202, created.text
    pid = created.json()["id"]
    for _ in range(120):
        if api.get(f"/api/personas/{pid}").json()["status"] in ("done", "failed"):
            return pid
        time.sleep(0.25)
    raise AssertionError("persona not done")


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


# ------------------------------------------------------------------------------------------------ API docs
def test_api_docs_render_the_openapi_31_document(session_factory, viewport_name):
    s = session_factory(viewport_name, name="docs")
    page = s.page
    s.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("medipersona")
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/personas").first).to_be_attached()
    assert page.evaluate("() => fetch('/openapi.json').then(r => r.json()).then(d => d.openapi)").startswith("3.1")
    s.shot("docs", docs=viewport_name == "desktop", full_page=False)
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ contrast
def test_focus_rings_and_tile_borders_reach_3_to_1(session_factory, viewport_name):
    s = session_factory(viewport_name, name="contrast")
    page = s.page
    s.goto("/personas/new")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    page.wait_for_selector("#wizard.is-enhanced", state="attached")
    results = {}
    # A tile: its ring is drawn by the tile (label) around the focused radio.
    page.locator("#department-filter").focus()
    tab_until(page, 'input[name="department"]')
    tile = page.locator("label.tile:has(input:focus-visible)")
    expect(tile).to_have_count(1)
    results["tile focus"] = tile.evaluate(RING_JS)
    # An unselected tile's border against the card.
    results["tile border"] = page.locator("label.tile:not(:has(input:checked))").first.evaluate(RING_JS)
    # A button (次へ) and, on the desktop, a link in the coloured header.
    results["button focus"] = tab_until(page, "[data-wizard-next]").evaluate(RING_JS)
    if viewport_name == "desktop":
        page.locator(".brand").focus()
        results["header link focus"] = tab_until(page, ".site-nav a").evaluate(RING_JS)
    for name, ring in results.items():
        if name == "tile border":
            assert ring["borderWidth"] >= 1 and contrast(ring["border"], ring["behind"]) >= 3, (name, ring)
        else:
            assert ring["outlineStyle"] != "none" and ring["outlineWidth"] >= 2, (name, ring)
            assert contrast(ring["outline"], ring["behind"]) >= 3, (name, ring, contrast(ring["outline"], ring["behind"]))
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ Japan time
def test_dates_are_japan_time_on_the_page_and_in_the_pdf(session_factory, api, e2e_server, tmp_path):
    pid = make_persona(api, name="時刻 確認子", gender="female", age=40)
    # 22:30 UTC on 1 December is 07:30 on 2 December in Japan: the date itself differs.
    stored = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    with sqlite3.connect(e2e_server.data_dir / "medipersona.db") as db:
        db.execute("UPDATE personas SET created_at = ? WHERE id = ?",
                   (stored.strftime("%Y-%m-%d %H:%M:%S.%f"), pid))
    local = stored.astimezone(ZoneInfo("Asia/Tokyo"))
    assert local.strftime("%Y-%m-%d %H:%M") == "2026-12-02 07:30"

    s = session_factory("desktop", name="japan-time")
    page = s.page
    s.goto(f"/personas/{pid}")
    expect(page.locator(".persona-head__sub time")).to_have_text("2026-12-02 07:30")
    s.goto("/personas?q=確認子")
    expect(page.locator(f'[data-persona-id="{pid}"] time')).to_have_text("2026-12-02 07:30")

    with page.expect_download(timeout=60_000) as download_info:
        s.goto(f"/personas/{pid}")
        page.get_by_role("link", name="PDFで保存").click()
    pdf = tmp_path / "persona.pdf"
    download_info.value.save_as(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "2026-12-02" in text and "2026-12-01" not in text, text[:800]

    # Usage per day is counted by Japan-time days, and says so.
    s.goto("/admin/settings")
    expect(page.get_by_role("heading", name=re.compile("利用状況"))).to_contain_text("日本時間")
    s.goto("/admin/monitoring")
    expect(page.locator(".mon-meta").first).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} 時点"))
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ timeline tab
def test_timeline_tab_on_a_phone_and_a_desktop(session_factory, viewport_name, api):
    pid = make_persona(api, name="タイムライン 確認", gender="female", age=35)
    s = session_factory(viewport_name, name="timeline")
    page = s.page
    s.goto(f"/personas/{pid}#timeline")
    expect(page.get_by_role("tab", name="タイムライン分析")).to_have_attribute("aria-selected", "true")
    page.wait_for_function("() => { const i = document.querySelector('#timeline-chart img');"
                           " return i && i.naturalWidth > 0; }")
    # 「分析を生成」 (「分析をやり直す」 once the generation wrote it) comes before the chart and the tables.
    button_y = page.locator("#analysis-generate").bounding_box()["y"]
    assert button_y < page.locator("#timeline-chart").bounding_box()["y"]
    assert button_y < page.locator("#timeline-summary").bounding_box()["y"]
    no_sideways_scroll(page)
    box = page.evaluate("""() => { const sc = document.querySelector('.timeline__chart-scroll');
        const img = sc.querySelector('img');
        return {scroll: sc.scrollWidth, client: sc.clientWidth, right: sc.getBoundingClientRect().right,
                img: img.getBoundingClientRect().width, view: window.innerWidth}; }""")
    assert box["right"] <= box["view"], box
    cue = page.locator(".timeline__scroll-cue")
    if viewport_name == "phone":
        # The chart keeps a readable size and scrolls in its own box, with a visible cue; the page does not.
        assert box["scroll"] > box["client"] and box["img"] >= 600, box
        expect(cue).to_be_visible()
        scroller = page.locator(".timeline__chart-scroll")
        scroller.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => document.querySelector('.timeline__chart-scroll').scrollLeft > 0")
    else:
        assert box["scroll"] <= box["client"] + 1, box  # fits: nothing to scroll
        expect(cue).to_be_hidden()
    s.shot("tab", docs=True, full_page=False)
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ print
def test_printing_a_persona_shows_the_content_only(session_factory, api):
    pid = make_persona(api, name="印刷 確認", gender="male", age=50)
    s = session_factory("desktop", name="print")
    page = s.page
    s.goto(f"/personas/{pid}")
    expect(page.locator("#persona-status .badge")).to_have_text("完了")
    page.emulate_media(media="print")
    for hidden in (".site-header", ".site-footer", "#persona-tabs", "#profile-edit", ".persona-actions",
                   '[data-regenerate="personality"]'):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#persona-name")).to_be_visible()
    expect(page.locator("#section-personality [data-section-text]")).to_be_visible()
    expect(page.locator("#profile-list")).to_be_visible()
    page.pdf(path=str(s.shot("screen").with_suffix(".pdf")))  # Chromium prints it without error
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ history
def test_history_search_and_filters(session_factory, viewport_name, api):
    woman = make_persona(api, name="履歴 花子", gender="female", age=44)
    man = make_persona(api, name="履歴 太郎", gender="male", age=46)
    tag = f"チラシ{viewport_name}"  # the server lives for the whole run: one tag per test case
    api.patch(f"/api/personas/{woman}", json={"tags": [tag], "note": "駅前の看板の案"})
    s = session_factory(viewport_name, name="history")
    page = s.page
    s.goto("/personas")
    page.get_by_label("キーワード").fill("女性 40代 履歴")
    page.get_by_role("button", name="検索").click()
    expect(page.locator(f'[data-persona-id="{woman}"]')).to_be_visible()
    expect(page.locator(f'[data-persona-id="{man}"]')).to_have_count(0)
    card = page.locator(f'[data-persona-id="{woman}"]')
    expect(card.locator("[data-history-who]")).to_contain_text("女性・44歳")
    expect(card).to_contain_text(tag)
    expect(card).to_contain_text("駅前の看板の案")
    s.shot("search", docs=viewport_name == "phone")
    # Filters by sex and age band; a tag chip filters by its tag.
    s.goto("/personas")
    page.get_by_text("条件で絞り込む").click()
    page.get_by_label("性別").select_option(label="男性")
    page.get_by_label("年代").select_option(label="40代")
    page.get_by_role("button", name="検索").click()
    expect(page.locator(f'[data-persona-id="{man}"]')).to_be_visible()
    expect(page.locator(f'[data-persona-id="{woman}"]')).to_have_count(0)
    s.goto("/personas?q=履歴")
    page.locator(f'[data-persona-id="{woman}"]').get_by_role("link", name=tag).click()
    expect(page.locator(".history-item")).to_have_count(1)
    no_sideways_scroll(page)
    s.problems.assert_clean()


def test_notes_and_tags_are_edited_on_the_persona_page(session_factory, api):
    pid = make_persona(api, name="メモ 確認", gender="female", age=30)
    s = session_factory("phone", name="notes")
    page = s.page
    s.goto(f"/personas/{pid}")
    page.get_by_role("button", name="メモ・タグを編集").click()
    expect(page.locator("#notes-form-title")).to_be_focused()
    page.locator("#pn-tags").fill("新患向け、 院内掲示")
    page.locator("#pn-note").fill("待合室のポスター用")
    page.locator("#notes-form").get_by_role("button", name="保存").click()
    expect(page.locator("#notes-status")).to_have_text("メモ・タグを保存しました。")
    expect(page.locator("#notes-view")).to_contain_text("待合室のポスター用")
    stored = api.get(f"/api/personas/{pid}").json()
    assert stored["tags"] == ["新患向け", "院内掲示"] and stored["note"] == "待合室のポスター用"
    # A bad tag: a Japanese message next to the field, nothing saved.
    page.get_by_role("button", name="メモ・タグを編集").click()
    page.locator("#pn-tags").fill("あ" * 21)
    page.locator("#notes-form").get_by_role("button", name="保存").click()
    expect(page.locator("#pn-err-tags")).to_contain_text("20文字以内")
    assert api.get(f"/api/personas/{pid}").json()["tags"] == ["新患向け", "院内掲示"]
    s.problems.assert_clean(allow=("422",))


# ------------------------------------------------------------------------------------------------ admin pages
def test_admin_pages_on_a_phone_read_in_japanese(session_factory):
    s = session_factory("phone", name="admin")
    page = s.page
    s.goto("/admin/users")
    name_cell = page.locator(".user-table__name").first
    expect(name_cell).to_have_text("admin")
    assert name_cell.bounding_box()["width"] >= 150  # not one character per line
    no_sideways_scroll(page)
    # The rule is shown as a hint (and as the browser's message) before anyone types 「山田花子」.
    hint = page.locator("#new-username-hint")
    expect(hint).to_contain_text("半角英数字")
    expect(page.locator("#new-username")).to_have_attribute("aria-describedby", "new-username-hint")
    page.locator("#new-username").fill("山田花子")
    message = page.locator("#new-username").evaluate("el => el.validationMessage")
    assert "半角英数字" in message, message
    s.shot("users", docs=True)
    s.goto("/admin/monitoring")
    text = page.locator("main").inner_text()
    for code in ("生成完了: done", "Worker RSS", "SIGKILL / OOM", "PROMETHEUS_MULTIPROC_DIR", "プロバイダ"):
        assert code not in text, code
    expect(page.get_by_role("heading", name="用語の説明")).to_be_visible()
    expect(page.locator("[data-indicator=sigkill] th")).to_contain_text("メモリ不足による強制終了")
    s.shot("monitoring", docs=True)
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ wizard
def _fresh_wizard(s) -> Page:
    s.goto("/personas/new")
    s.page.evaluate("sessionStorage.clear()")
    s.page.reload()
    s.page.wait_for_selector("#wizard.is-enhanced", state="attached")
    return s.page


def test_wizard_errors_clear_when_fixed_and_name_their_field_once(session_factory, viewport_name):
    s = session_factory(viewport_name, name="wizard-errors")
    page = _fresh_wizard(s)
    page.get_by_role("button", name="次へ").click()
    alert = page.locator("#wizard-alert")
    expect(alert.locator("li")).to_have_text(["診療科を選んでください。"])  # not 「診療科：診療科を…」
    choose(page, "内科")
    expect(alert).to_be_hidden()  # fixed: the error goes without pressing 次へ again
    expect(page.locator('[data-error-for="department"]')).to_be_hidden()
    expect(page.locator('input[name="department"][aria-invalid]')).to_have_count(0)
    next_step(page, 2)
    choose(page, "頭痛")
    next_step(page, 3)
    # 作成目的 has a default: the first purpose is chosen, 次へ goes on.
    expect(page.locator('input[name="purpose"]:checked')).to_have_value("increase_patients")
    next_step(page, 4)
    choose(page, "患者タイプ別")
    page.get_by_role("button", name="次へ").click()
    expect(page.locator('[data-error-for="patient_type"]')).to_have_text("患者タイプを選んでください。")
    choose(page, "対話重視型")
    expect(page.locator('[data-error-for="patient_type"]')).to_be_hidden()
    expect(alert).to_be_hidden()
    next_step(page, 5)
    s.problems.assert_clean()


def test_wizard_submit_stays_in_the_sticky_bar_on_step_6(session_factory, viewport_name):
    s = session_factory(viewport_name, name="wizard-sticky")
    page = _fresh_wizard(s)
    fill_wizard(page, mode="input", department="内科", complaint="頭痛",
                profile={"名前": "長い 確認", "職業": "会社員", "趣味": "登山とキャンプ"},
                extras={"座右の銘": "継続は力なり", "休日の過ごし方": "家族と公園"},
                rows=[("ペット", "柴犬"), ("通勤", "電車で40分")], gender="男性")
    submit = page.get_by_role("button", name="この内容で作成する")
    expect(submit).to_have_count(1)
    for where in ("top", "bottom"):
        page.evaluate("(w) => window.scrollTo(0, w === 'top' ? 0 : document.body.scrollHeight)", where)
        box = submit.bounding_box()
        viewport = page.viewport_size
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], (where, box, viewport)
    expect(page.locator("#wizard-nav")).to_contain_text("この内容で作成する")
    s.shot("step6", docs=viewport_name == "phone", full_page=False)
    submit.click()
    page.wait_for_url(re.compile(r"/personas/[0-9a-f]{32}$"))
    s.problems.assert_clean()


def test_wizard_stepper_on_a_phone_and_locked_steps_out_of_the_tab_order(session_factory, viewport_name):
    s = session_factory(viewport_name, name="wizard-stepper")
    page = _fresh_wizard(s)
    # Locked steps (2-6 on a fresh wizard) are skipped by Tab.
    for n in range(2, 7):
        expect(page.locator(f'[data-stepper="{n}"] a')).to_have_attribute("tabindex", "-1")
    page.locator('[data-stepper="1"] a').focus()
    page.keyboard.press("Tab")
    assert not page.evaluate("() => !!document.activeElement.closest('#wizard-stepper')")
    # Nothing in the stepper overflows or overlaps (on a phone the step's heading names it).
    boxes = page.evaluate("""() => [...document.querySelectorAll('#wizard-stepper a')].map(a => {
        const r = a.getBoundingClientRect();
        return {left: r.left, right: r.right, overflow: a.scrollWidth > a.clientWidth + 1}; })""")
    assert not any(b["overflow"] for b in boxes), boxes
    assert all(a["right"] <= b["left"] + 0.5 for a, b in zip(boxes, boxes[1:], strict=False)), boxes
    no_sideways_scroll(page)
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ competitors
def test_competitor_form_reports_every_problem_in_one_pass(session_factory, viewport_name):
    s = session_factory(viewport_name, name="competitors-form")
    page = s.page
    s.goto("/competitors")
    page.get_by_role("button", name="この内容で分析する").click()
    expect(page.locator("#comp-alert")).to_be_visible()
    expected = {"clinic.name": "医院名を入力してください。", "clinic.departments": "診療科を1つ以上選んでください。",
                "clinic.lat": "Google Places APIが未設定", "competitors": "競合リスト（CSV・Excel）を選んで読み込んでください。"}
    for field, message in expected.items():
        expect(page.locator(f'[data-error-for="{field}"]')).to_contain_text(message)
    expect(page.locator("#c-name")).to_have_attribute("aria-invalid", "true")
    # A wrong coordinate: its own message, with the range.
    page.get_by_label("医院名（必須）").fill("一度で確認内科")
    page.get_by_label("緯度（必須）").fill("135")
    page.get_by_label("経度（必須）").fill("139.7")
    page.get_by_role("button", name="この内容で分析する").click()
    expect(page.locator('[data-error-for="clinic.lat"]')).to_have_text("緯度は-90〜90の数値で入力してください（例: 35.681236）。")
    expect(page.locator('[data-error-for="clinic.name"]')).to_be_hidden()
    # The import report names each bad line once (not 「3行目：3行目: …」).
    csv = "名称,住所,緯度,経度\nよい医院,東京都,35.68,139.76\n位置なし医院,東京都,,\n".encode()
    page.locator("#competitors-file").set_input_files(
        files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": csv}])
    expect(page.locator("#competitors-file-errors li")).to_have_count(1)
    line = page.locator("#competitors-file-errors li").first.inner_text()
    assert line.startswith("3行目：") and line.count("行目") == 1, line
    no_sideways_scroll(page)
    s.shot("errors", docs=viewport_name == "phone")
    s.problems.assert_clean(allow=("422",))


def test_competitor_result_links_read_their_site_and_swot_has_no_instructions(session_factory, api):
    rows = [{"name": "あおば内科", "lat": 35.6866, "lng": 139.7671, "website": "https://www.aoba-naika.example.jp/",
             "phone": "03-1234-5678", "departments": "内科、小児科"},
            {"name": "みどり医院", "lat": 35.6810, "lng": 139.7700}]
    created = api.post("/api/competitors", json={
        "clinic": {"name": "リンク確認内科", "lat": 35.681236, "lng": 139.767125, "departments": ["internal_medicine"]},
        "radius_km": 3, "source": "list", "competitors": rows})
    assert created.status_code == 202, created.text
    analysis_id = created.json()["id"]
    for _ in range(60):
        if api.get(f"/api/competitors/{analysis_id}").json()["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    s = session_factory("desktop", name="competitors-result")
    page = s.page
    s.goto(f"/competitors/{analysis_id}")
    expect(page.locator("#comp-status .badge")).to_have_text("完了")
    link = page.locator("#comp-table a[href^='https://']")
    expect(link).to_have_text("aoba-naika.example.jp")
    expect(link).to_have_attribute("aria-label", re.compile("あおば内科のウェブサイト"))
    # 電話 and 診療科 from the list are shown.
    aoba = page.locator("#comp-table tbody tr", has_text="あおば内科")
    expect(aoba.get_by_role("link", name="03-1234-5678")).to_have_attribute("href", "tel:0312345678")
    expect(aoba).to_contain_text("内科・小児科")
    text = page.locator("main").inner_text()
    assert "入力すると" not in text and "e-Stat API" not in text, text
    s.problems.assert_clean()


# ------------------------------------------------------------------------------------------------ persona page
def test_profile_change_marks_sections_then_edit_in_place_and_regenerate_all(session_factory, viewport_name, api):
    pid = make_persona(api, name="文章 更新", gender="female", age=41)
    s = session_factory(viewport_name, name="persona-edit")
    page = s.page
    s.goto(f"/personas/{pid}")
    expect(page.locator("#persona-status .badge")).to_have_text("完了")
    expect(page.locator("#stale-notice")).to_be_hidden()
    # The form says what clearing a field does.
    page.get_by_role("button", name="編集", exact=True).click()
    expect(page.locator("#profile-form")).to_contain_text("空欄にして保存した項目はプロフィールから削除されます")
    page.locator("#pe-occupation").fill("図書館司書")
    page.locator("#profile-form").get_by_role("button", name="保存").click()
    expect(page.locator("#profile-status")).to_have_text("プロフィールを保存しました。")
    expect(page.locator("#stale-notice")).to_be_visible()
    expect(page.locator("[data-stale-badge]:visible")).to_have_count(6)
    # Edit one section in place: it is current again.
    page.get_by_role("button", name="通院理由を編集").click()
    editor = page.locator("#section-reason textarea")
    expect(editor).to_be_focused()
    editor.fill("図書館の仕事で目を酷使し、頭痛が続くため受診を考えている。")
    page.locator("#section-reason").get_by_role("button", name="保存").click()
    expect(page.locator("#section-reason [data-section-text]")).to_have_text("図書館の仕事で目を酷使し、頭痛が続くため受診を考えている。")
    expect(page.locator("#section-reason [data-stale-badge]")).to_be_hidden()
    expect(page.locator("[data-stale-badge]:visible")).to_have_count(5)
    assert api.get(f"/api/personas/{pid}").json()["sections"]["reason"].startswith("図書館の仕事")
    s.shot("stale", docs=viewport_name == "desktop")
    # 「すべて再生成」 (confirmed): the page follows the new generation; nothing is out of date afterwards.
    page.get_by_role("button", name="すべて再生成").click()
    expect(page.locator("#persona-status .badge")).to_have_text("完了", timeout=GENERATION_TIMEOUT)
    page.wait_for_function("() => document.getElementById('persona').dataset.status === 'done'")
    expect(page.locator("#stale-notice")).to_be_hidden()
    expect(page.locator("[data-stale-badge]:visible")).to_have_count(0)
    assert any("作り直します" in d for d in s.problems.dialogs), s.problems.dialogs
    assert api.get(f"/api/personas/{pid}").json()["stale_sections"] == []
    s.problems.assert_clean()
