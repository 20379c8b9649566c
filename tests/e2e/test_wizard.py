"""The wizard in a real browser: steps, validation, focus, going back and forth, reload, 編集 jumps."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import STEP_TITLES, choose, current_step_heading, expect_step, fill_wizard, next_step

pytestmark = pytest.mark.e2e


def test_wizard_steps_validation_and_persistence(session_factory, viewport_name):
    s = session_factory(viewport_name, name="wizard")
    page = s.page
    s.goto("/personas/new")
    expect(current_step_heading(page)).to_contain_text(STEP_TITLES[1])
    # Only one step is visible at a time once the script runs.
    expect(page.locator(".wizard-step:visible")).to_have_count(1)
    s.shot("step1", docs=viewport_name == "desktop")

    # Next without a choice: an error next to the field and in the live alert, focus on the field.
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("#wizard-alert")).to_be_visible()
    expect(page.locator("#wizard-alert")).to_contain_text("診療科を選んでください。")
    expect(page.locator('[data-error-for="department"]')).to_have_text("診療科を選んでください。")
    expect(page.locator('input[name="department"]').first).to_be_focused()

    choose(page, "内科")
    next_step(page, 2)
    # Only the chosen department's complaints are offered.
    expect(page.locator('.complaint-group:visible')).to_have_count(1)
    expect(page.locator('.complaint-group:visible')).to_have_attribute("data-department", "internal_medicine")
    choose(page, "頭痛")
    next_step(page, 3)
    choose(page, "来院頻度を増やす")
    next_step(page, 4)

    # Patient type mode requires a type; tiles show 特徴 and 例.
    choose(page, "患者タイプ別")
    expect(page.locator('[data-mode-panel="patient_type"]')).to_be_visible()
    expect(page.locator('[data-mode-panel="input"]')).to_be_hidden()
    expect(page.locator(".tile--type").first).to_contain_text("特徴")
    expect(page.locator(".tile--type").first).to_contain_text("例")
    page.get_by_role("button", name="次へ").click()
    expect(page.locator('[data-error-for="patient_type"]')).to_have_text("患者タイプを選んでください。")
    s.shot("step4-types")

    # Detailed input: the demographic form.
    choose(page, "詳細設定")
    expect(page.locator('[data-mode-panel="input"]')).to_be_visible()
    step4 = page.locator("#step-4")
    step4.get_by_label("名前", exact=True).fill("佐藤 美咲")
    step4.get_by_label("女性", exact=True).check()
    step4.get_by_label("年齢（歳）").select_option(label="100歳")
    expect(step4.get_by_label("月齢（ヶ月）")).to_be_disabled()
    step4.get_by_label("年齢（歳）").select_option(label="38歳")
    step4.get_by_label("都道府県", exact=True).select_option(label="神奈川県")
    step4.get_by_label("年収", exact=True).select_option(label="年収400〜500万円")
    step4.get_by_label("職業", exact=True).fill("看護師")
    s.shot("step4-input")
    next_step(page, 5)

    page.locator("#step-5").get_by_label("座右の銘", exact=True).fill("継続は力なり")
    page.get_by_role("button", name="＋ 項目を追加").click()
    expect(page.locator("[data-extra-row]")).to_have_count(3)
    row = page.locator("[data-extra-row]").nth(0)
    row.get_by_label("項目名").fill("ペット")
    # A value without a name (row 2) is an error next to that row.
    page.locator("[data-extra-row]").nth(1).get_by_label("内容").fill("名前のない内容")
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("[data-extra-row]").nth(1).locator(".field-error").nth(0)).to_have_text("項目名を入力してください。")
    row.get_by_label("内容").fill("柴犬を飼っている")
    # Remove the bad row and the empty one.
    page.locator("[data-extra-row]").nth(2).get_by_role("button", name="削除").click()
    page.locator("[data-extra-row]").nth(1).get_by_role("button", name="削除").click()
    expect(page.locator("[data-extra-row]")).to_have_count(1)
    next_step(page, 6)

    summary = page.locator("#confirm-summary")
    for text in ("内科", "頭痛", "来院頻度を増やす", "詳細設定", "佐藤 美咲", "女性", "38歳", "神奈川県",
                 "年収400〜500万円", "看護師", "継続は力なり", "ペット", "柴犬を飼っている"):
        expect(summary).to_contain_text(text)
    s.shot("step6-confirm", docs=viewport_name == "desktop")

    # 編集 jumps back to its step with the inputs intact.
    page.get_by_role("button", name="主訴を編集").click()
    expect_step(page, 2)
    expect(page.locator('input[name="chief_complaint"]:checked')).to_have_value("internal_medicine.headache")
    # The stepper goes forward to any step already reached.
    page.locator('[data-stepper="5"] a').click()
    expect_step(page, 5)
    expect(page.locator("#step-5").get_by_label("座右の銘", exact=True)).to_have_value("継続は力なり")

    # A reload keeps everything (sessionStorage), including the step and the free rows.
    page.reload()
    expect(current_step_heading(page)).to_contain_text(STEP_TITLES[5])
    expect(page.locator("[data-extra-row]")).to_have_count(1)
    expect(page.locator("[data-extra-row]").first.get_by_label("内容")).to_have_value("柴犬を飼っている")
    page.get_by_role("button", name="戻る").click()
    expect_step(page, 4)
    expect(page.locator("#step-4").get_by_label("名前", exact=True)).to_have_value("佐藤 美咲")
    expect(page.locator("#step-4").get_by_label("年齢（歳）")).to_have_value("38")
    # Start over: everything is cleared after a confirmation.
    page.get_by_role("button", name="入力をクリアして最初から").click()
    expect(current_step_heading(page)).to_contain_text(STEP_TITLES[1])
    expect(page.locator('input[name="department"]:checked')).to_have_count(0)
    assert any("最初からやり直します" in d for d in s.problems.dialogs)
    s.problems.assert_clean()


def test_wizard_department_change_clears_complaint(session_factory):
    s = session_factory("desktop", name="wizard-dept")
    page = s.page
    s.goto("/personas/new")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    fill_wizard(page, mode="auto")
    page.get_by_role("button", name="診療科を編集").click()
    expect_step(page, 1)
    choose(page, "皮膚科")
    next_step(page, 2)
    expect(page.locator('input[name="chief_complaint"]:checked')).to_have_count(0)
    page.get_by_role("button", name="次へ").click()
    expect(page.locator('[data-error-for="chief_complaint"]')).to_have_text("主訴を選んでください。")
    # Focus goes to the first complaint of the chosen department (the others are hidden).
    expect(page.locator('input[name="chief_complaint"][value^="dermatology."]').first).to_be_focused()
    s.problems.assert_clean()


def test_api_field_errors_are_shown_next_to_their_fields(session_factory):
    """What only the server can check (here: an id that is not in the catalog) comes back as 422 with field
    messages; the wizard shows each next to its field and goes to that step."""
    s = session_factory("phone", name="wizard-api-errors")
    page = s.page
    s.goto("/personas/new")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    fill_wizard(page, mode="patient_type", patient_type="経済合理型")
    page.evaluate("document.querySelector('input[name=\"purpose\"]:checked').value = 'no_such_purpose'")
    page.get_by_role("button", name="この内容で作成する").click()
    expect(page.locator("#wizard-alert")).to_contain_text("作成目的が見つかりません。一覧から選んでください。")
    expect(current_step_heading(page)).to_contain_text(STEP_TITLES[3])
    expect(page.locator('[data-error-for="purpose"]')).to_have_text("作成目的が見つかりません。一覧から選んでください。")
    expect(page.locator('input[name="purpose"]:checked')).to_be_focused()
    expect(page.locator('input[name="purpose"]:checked')).to_have_attribute("aria-invalid", "true")
    # Still on the wizard, nothing lost.
    expect(page).to_have_url(s.url("/personas/new"))
    s.shot("api-errors")
    s.problems.assert_clean(allow=("422",))


def test_wizard_by_keyboard_only(session_factory):
    s = session_factory("desktop", name="wizard-keyboard")
    page = s.page
    s.goto("/personas/new")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    page.get_by_label("診療科を名前で絞り込む").focus()
    page.keyboard.type("眼")
    expect(page.locator('[data-filter-item="department"]:visible')).to_have_count(1)
    page.keyboard.press("Tab")  # into the radio group: the only visible department
    page.keyboard.press("Space")
    expect(page.locator('input[name="department"]:checked')).to_have_value("ophthalmology")
    page.keyboard.press("Tab")  # → 次へ
    expect(page.get_by_role("button", name="次へ")).to_be_focused()
    page.keyboard.press("Enter")
    expect_step(page, 2)
    page.keyboard.press("Tab")  # complaint filter
    page.keyboard.press("Tab")  # complaint radios
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    checked = page.locator('input[name="chief_complaint"]:checked')
    expect(checked).to_have_count(1)
    assert checked.get_attribute("value").startswith("ophthalmology.")
    # Enter inside the form goes to the next step (never submits early).
    page.keyboard.press("Enter")
    expect_step(page, 3)
    s.problems.assert_clean()


def test_confirm_step_warns_about_contradictions(session_factory):
    """Hand-entered values that contradict the complaint or each other are shown as warnings; creating stays
    possible."""
    s = session_factory("desktop", name="wizard-warnings")
    page = s.page
    s.goto("/personas/new")
    fill_wizard(page, mode="input", department="婦人科", complaint="更年期障害", gender="男性",
                profile={"年齢（歳）": "79歳", "家族構成": "一人暮らし"}, extras={"休日の過ごし方": "夫婦で温泉に行く"})
    warnings = page.locator("#confirm-warnings")
    expect(warnings).to_be_visible()
    expect(warnings).to_contain_text("主に女性が対象です")
    expect(warnings).to_contain_text("想定年齢")
    expect(warnings).to_contain_text("配偶者")
    expect(page.locator("#wizard-submit")).to_be_enabled()
    # Consistent values: no warning.
    page.get_by_role("button", name="ペルソナの項目を編集").click()
    expect_step(page, 4)
    page.locator("#step-4").get_by_label("女性", exact=True).check()
    page.locator("#step-4").get_by_label("年齢（歳）").select_option(label="52歳")
    page.locator("#step-4").get_by_label("家族構成", exact=True).fill("夫と2人暮らし")
    page.locator('[data-stepper="6"] a').click()
    expect_step(page, 6)
    expect(warnings).to_be_hidden()
    s.problems.assert_clean()
