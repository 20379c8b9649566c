"""Shared steps of the browser tests (driving the wizard like a person would: labels, buttons, keyboard)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

STEP_TITLES = {
    1: "診療科を選んでください",
    2: "主訴を選んでください",
    3: "作成目的を選んでください",
    4: "ペルソナの項目を設定してください",
    5: "追加項目（任意）",
    6: "入力内容の確認",
}


def current_step_heading(page: Page):
    return page.locator("#wizard.is-enhanced .wizard-step:not([hidden]) h2")


def expect_step(page: Page, n: int) -> None:
    heading = current_step_heading(page)
    expect(heading).to_contain_text(STEP_TITLES[n])
    # Focus moved to the step heading for keyboard and screen-reader users.
    expect(page.locator(f"#step-{n}-title")).to_be_focused()


def next_step(page: Page, n: int) -> None:
    page.get_by_role("button", name="次へ").click()
    expect_step(page, n)


def choose(page: Page, name: str) -> None:
    """Click the visible tile whose title is exactly ``name``."""
    page.locator(".wizard-step:not([hidden]) label.tile:visible", has=page.locator(".tile__title", has_text=re.compile(f"^{re.escape(name)}$"))).first.click()


def fill_wizard(page: Page, *, mode: str = "auto", department: str = "内科", complaint: str = "頭痛",
                purpose: str = "患者数を増やす", patient_type: str = "対話重視型", profile: dict | None = None,
                extras: dict | None = None, rows: list[tuple[str, str]] | None = None,
                gender: str = "") -> None:
    """From step 1 to the confirmation step."""
    page.wait_for_selector("#wizard.is-enhanced", state="attached")
    expect(current_step_heading(page)).to_contain_text(STEP_TITLES[1])
    choose(page, department)
    next_step(page, 2)
    choose(page, complaint)
    next_step(page, 3)
    choose(page, purpose)
    next_step(page, 4)
    choose(page, {"patient_type": "患者タイプ別", "input": "詳細設定", "auto": "自動"}[mode])
    if mode == "patient_type":
        choose(page, patient_type)
    if mode == "input":
        if gender:
            page.locator("#step-4").get_by_label(gender, exact=True).check()
        for label, value in (profile or {}).items():
            field = page.locator("#step-4").get_by_label(label, exact=True)
            if field.evaluate("el => el.tagName") == "SELECT":
                field.select_option(label=value)
            else:
                field.fill(value)
    next_step(page, 5)
    for label, value in (extras or {}).items():
        page.locator("#step-5").get_by_label(label, exact=True).fill(value)
    for i, (name, value) in enumerate(rows or []):
        row_inputs = page.locator("[data-extra-row]")
        if row_inputs.count() <= i:
            page.get_by_role("button", name="＋ 項目を追加").click()
        row = page.locator("[data-extra-row]").nth(i)
        row.get_by_label("項目名").fill(name)
        row.get_by_label("内容").fill(value)
    next_step(page, 6)


def submit_wizard(page: Page) -> str:
    page.get_by_role("button", name="この内容で作成する").click()
    page.wait_for_url(re.compile(r"/personas/[0-9a-f]{32}$"))
    return page.url.rsplit("/", 1)[1]
