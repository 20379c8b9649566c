"""Progressive enhancement: with JavaScript off, the same server-rendered pages still create, show, list and
delete personas (the wizard is one long form, the result page refreshes itself while generating)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_create_view_and_delete_without_javascript(session_factory):
    s = session_factory("phone", name="nojs", javascript=False)
    page = s.page
    s.goto("/personas/new")
    # Every step is on the page at once.
    for n in range(1, 7):
        expect(page.locator(f"#step-{n}-title")).to_be_visible()
    page.locator("label.tile", has_text="眼科").first.click()
    page.locator('label.tile:has(input[value="ophthalmology.dry_eye"])').click()
    page.locator("label.tile", has_text="来院頻度を増やす").click()
    page.locator("label.tile", has_text="詳細設定").click()
    page.locator("#profile-name").fill("伊藤 JS無効")
    page.locator("#profile-age").select_option("64")
    page.locator("#extras-motto").fill("日々是好日")
    page.locator("#extra-name-0").fill("趣味の道具")
    page.locator("#extra-value-0").fill("カメラ")
    s.shot("wizard")
    page.get_by_role("button", name="この内容で作成する").click()
    expect(page).to_have_url(re.compile(r"/personas/[0-9a-f]{32}$"))
    pid = page.url.rsplit("/", 1)[1]
    # The page reloads itself (<noscript> meta refresh) until the persona is done.
    expect(page.locator("#persona-status .badge")).to_have_text("完了", timeout=40_000)
    expect(page.locator("#persona-name")).to_have_text("伊藤 JS無効")
    expect(page.locator('[data-profile-field="age"]')).to_have_text("64歳")
    expect(page.locator("#extras-list")).to_contain_text("カメラ")
    expect(page.locator("#section-personality [data-section-text]")).not_to_be_empty()
    s.shot("result")

    s.goto("/personas")
    item = page.locator(f'[data-persona-id="{pid}"]')
    expect(item).to_contain_text("伊藤 JS無効")
    item.get_by_role("button", name=re.compile("削除")).click()
    # No confirm() without JavaScript: the server asks on a page of its own.
    expect(page.get_by_role("heading", name="ペルソナを削除しますか？")).to_be_visible()
    s.shot("confirm-delete")
    page.get_by_role("button", name="削除する").click()
    expect(page.locator(".alert--success")).to_have_text("ペルソナを削除しました。")
    expect(page.locator(f'[data-persona-id="{pid}"]')).to_have_count(0)
    s.problems.assert_clean()


def test_wizard_errors_without_javascript(session_factory):
    s = session_factory("desktop", name="nojs-errors", javascript=False)
    page = s.page
    s.goto("/personas/new")
    page.get_by_role("button", name="この内容で作成する").click()
    expect(page.locator("#wizard-alert")).to_be_visible()
    expect(page.locator("#wizard-alert")).to_contain_text("入力内容に誤りがあります。")
    expect(page.locator('[data-error-for="department"]')).to_be_visible()
    s.problems.assert_clean(allow=("422",))
