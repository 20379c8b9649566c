"""A complaint the bundled catalog lacks, imported from an export (CLI, another process) and added on the admin
catalog page, shows up in the wizard: with data first and marked データあり; the search box filters as one types
(full-width input matches too)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from medipersona.catalog.editing import new_complaint_id
from tests.e2e.helpers import choose, next_step
from tests.keywords.kw_helpers import make_rows, write_csv

pytestmark = pytest.mark.e2e


def test_wizard_shows_a_new_complaint(session_factory, e2e_server, tmp_path):
    root = tmp_path / "exports"
    write_csv(root / "眼科" / "主訴" / "ICL_全体.csv", make_rows(12, prefix="ICL"))
    out = subprocess.run([sys.executable, "-m", "medipersona", "import-keywords", "-q", str(root)],
                         env=e2e_server.env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "主訴「ICL」（眼科）" in out.stdout

    admin = session_factory("desktop", name="catalog-admin")
    admin.goto("/admin/catalog?department=ophthalmology")
    admin.page.get_by_label("主訴を追加").fill("多焦点眼内レンズ")
    admin.page.get_by_role("button", name="追加", exact=True).click()
    expect(admin.page.locator(".alert--success")).to_contain_text("主訴「多焦点眼内レンズ」を追加しました")
    icl_id = new_complaint_id("ophthalmology", "ICL")
    expect(admin.page.locator(f'tr[data-complaint-id="{icl_id}"] td').nth(1)).to_contain_text("12行")

    s = session_factory("phone", name="catalog-wizard")
    page = s.page
    s.goto("/personas/new")
    choose(page, "眼科")
    next_step(page, 2)
    group = page.locator('.complaint-group[data-department="ophthalmology"]')
    icl = group.locator("label.tile", has=page.locator(".tile__title", has_text="ICL"))
    new_without_data = group.locator("label.tile", has=page.locator(".tile__title", has_text="多焦点眼内レンズ"))
    expect(icl).to_contain_text("データあり")
    expect(new_without_data).not_to_contain_text("データあり")
    titles = group.locator(".tile__title").all_text_contents()
    assert titles.index("ICL") < titles.index("多焦点眼内レンズ")  # complaints with data come first
    assert titles[-1] == "多焦点眼内レンズ"
    s.shot("complaints-with-data-first")

    search = page.get_by_placeholder("主訴を絞り込む（例: 頭痛）")
    search.press_sequentially("ｉｃ")
    expect(group.locator("label.tile:visible")).to_have_count(1)
    expect(icl).to_be_visible()
    s.shot("complaint-search", full_page=False)
    search.fill("存在しない主訴の名前")
    expect(page.locator("[data-no-match]")).to_be_visible()
    search.fill("")
    expect(new_without_data).to_be_visible()
    icl.click()
    next_step(page, 3)
    s.problems.assert_clean()
    admin.problems.assert_clean()
