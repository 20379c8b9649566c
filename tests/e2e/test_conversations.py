"""Persona sets, interviews and message tests in a real browser: a set made from the wizard fills in live, an
interview's answers stream into the conversation, a message test shows its reactions, chart and summary."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import fill_wizard

pytestmark = pytest.mark.e2e

DONE_TIMEOUT = 40_000
AD = "駅から徒歩3分の内科です。土曜も診療し、発熱の方は当日予約できます。費用の目安は3割負担で約2,000円です。"


def wait_until(api, url: str, statuses=("done",), timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(url).json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.3)


def no_page_overflow(page) -> None:
    """Nothing wider than the screen (wide tables scroll inside their own box)."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_set_from_the_wizard_fills_in_live(session_factory, viewport_name):
    s = session_factory(viewport_name, name="persona-set")
    page = s.page
    s.goto("/personas/new")
    page.evaluate("sessionStorage.clear()")
    page.reload()
    fill_wizard(page, mode="auto", department="内科", complaint="頭痛")
    expect(page.locator("#wizard-batch")).to_be_visible()
    page.get_by_label("人数").select_option(label="3人")
    page.get_by_label("変化をつける項目").select_option(label="患者タイプ")
    page.get_by_role("button", name="まとめて作成する").click()
    page.wait_for_url(re.compile(r"/persona-sets/[0-9a-f]{32}$"))
    # Live: a member's progress or key lines change while the set is still generating.
    seen = page.wait_for_function(
        """() => {
            const root = document.getElementById('persona-set');
            if (root.dataset.status === 'done') return null;
            const progress = [...document.querySelectorAll('[data-field="progress"]')].map(e => e.textContent);
            const lines = [...document.querySelectorAll('[data-key-line]')].filter(e => e.textContent !== '—');
            return progress.some(t => t.includes('生成中')) || lines.length ? {lines: lines.length} : null;
        }""", timeout=DONE_TIMEOUT).json_value()
    assert seen is not None
    expect(page.locator("#set-status .badge")).to_have_text("完了", timeout=DONE_TIMEOUT)
    cards = page.locator("[data-member]")
    expect(cards).to_have_count(3)
    names = []
    for i in range(3):
        card = cards.nth(i)
        expect(card.locator('[data-field="status"] .badge')).to_have_text("完了")
        expect(card.locator("[data-portrait]")).to_be_visible(timeout=DONE_TIMEOUT)
        expect(card.locator('[data-key-line="reason"]')).not_to_have_text("—")
        names.append(card.locator('[data-field="name"]').text_content())
    assert len(set(names)) == 3
    types = [cards.nth(i).locator('[data-field="patient_type_name"]').text_content() for i in range(3)]
    assert len(set(types)) == 3
    table = page.locator("#set-compare")
    expect(table.locator("thead th")).to_have_count(4)
    expect(table.locator("tbody tr")).to_have_count(14)
    expect(table.locator("tbody")).to_contain_text(types[0])
    expect(page.locator("#set-export-pdf")).to_have_attribute("href", re.compile(r"/export\.pdf$"))
    expect(page.locator("#set-progress")).to_be_hidden()
    with page.expect_download() as download:
        page.locator("#set-export-pdf").click()
    assert download.value.suggested_filename.endswith("_persona_set.pdf")
    no_page_overflow(page)
    s.shot("done", docs=viewport_name == "desktop")
    s.problems.assert_clean()


def test_an_interview_streams_its_answers(session_factory, viewport_name, api):
    created = api.post("/api/personas", json={"department": "internal_medicine",
                                              "chief_complaint": "internal_medicine.influenza",
                                              "purpose": "increase_visit_frequency", "setting_type": "auto",
                                              "seed": 5})
    persona = wait_until(api, f"/api/personas/{created.json()['id']}")
    s = session_factory(viewport_name, name="interview")
    page = s.page
    s.goto(f"/personas/{persona['id']}")
    page.get_by_role("button", name="新しいインタビューを始める").click()
    page.wait_for_url(re.compile(r"/interviews/[0-9a-f]{32}$"))
    expect(page.locator("h1")).to_contain_text(persona["name"])
    suggestion = page.locator(".suggestion").first
    question = suggestion.text_content()
    assert "通院" in question  # the suggestions of the persona's purpose (来院頻度を増やす)
    suggestion.click()
    expect(page.locator(".chat__msg--user").first).to_have_text(re.compile(re.escape(question)))
    pending = page.locator(".chat__msg--persona").first
    # The answer streams: text appears while the bubble is still pending.
    page.wait_for_function(
        """() => { const li = document.querySelector('.chat__msg--persona');
                   return li && li.classList.contains('is-pending') && li.querySelector('.chat__text').textContent.length > 0; }""",
        timeout=DONE_TIMEOUT)
    expect(pending).not_to_have_class(re.compile("is-pending"), timeout=DONE_TIMEOUT)
    expect(pending.locator(".badge--offline")).to_be_visible()
    textarea = page.get_by_label("質問（500文字以内）")
    expect(textarea).to_be_enabled()
    textarea.fill("あなたは実在の人物ですか？")
    expect(page.locator("#question-count")).to_have_text("13/500文字")
    page.get_by_role("button", name="質問する").click()
    answer = page.locator(".chat__msg--persona").nth(1)
    expect(answer).not_to_have_class(re.compile("is-pending"), timeout=DONE_TIMEOUT)
    expect(answer.locator(".chat__text")).to_contain_text("架空の患者ペルソナ")
    expect(textarea).to_have_value("")
    textarea.fill("   ")
    page.get_by_role("button", name="質問する").click()
    expect(page.locator("#ask-alert")).to_have_text("質問を入力してください。")
    with page.expect_download() as download:
        page.get_by_role("link", name="Markdownで保存").click()
    markdown = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115 - a downloaded file
    assert question in markdown and "架空の患者ペルソナ" in markdown
    page.reload()
    expect(page.locator(".chat__msg")).to_have_count(4)
    no_page_overflow(page)
    s.shot("conversation", docs=viewport_name == "desktop")
    s.problems.assert_clean()


def test_a_message_test_shows_reactions_chart_and_summary(session_factory, viewport_name, api):
    created = api.post("/api/persona-sets", json={"department": "internal_medicine",
                                                  "chief_complaint": "internal_medicine.influenza",
                                                  "purpose": "increase_patients", "setting_type": "auto",
                                                  "count": 2, "vary": "gender"})
    set_id = created.json()["id"]
    wait_until(api, f"/api/persona-sets/{set_id}")
    s = session_factory(viewport_name, name="message-test")
    page = s.page
    s.goto(f"/message-tests?set_id={set_id}")
    expect(page.get_by_label("ペルソナセット", exact=True)).to_be_checked()
    expect(page.locator("#mt-set")).to_have_value(set_id)
    expect(page.locator("#mt-image-note")).to_contain_text("画像を読み取れないため")
    page.get_by_label("種類").select_option(label="広告")
    page.get_by_role("button", name="テストする").click()
    expect(page.locator("#mt-alert")).to_contain_text("メッセージを入力してください。")
    page.locator("#mt-message").fill(AD)
    page.get_by_role("button", name="テストする").click()
    page.wait_for_url(re.compile(r"/message-tests/[0-9a-f]{32}$"))
    expect(page.locator("#mt-status .badge")).to_have_text("完了", timeout=DONE_TIMEOUT)
    reactions = page.locator("#mt-results .reaction")
    expect(reactions).to_have_count(2)
    expect(reactions.first.locator(".reaction__comment")).not_to_be_empty()
    expect(reactions.first.locator(".reaction__score")).to_contain_text(re.compile(r"[1-5]点"))
    for key in ("overview", "concerns", "booking_triggers", "by_type"):
        expect(page.locator(f'[data-summary="{key}"] [data-summary-text]')).not_to_be_empty()
    expect(page.locator('[data-summary="overview"]')).to_contain_text("2人のペルソナが読み")
    page.wait_for_function("() => document.getElementById('mt-chart').naturalWidth > 0")
    expect(page.locator("#mt-offline")).to_be_visible()
    with page.expect_download() as download:
        page.locator("#mt-export-csv").click()
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))  # noqa: SIM115
    assert rows[0][0] == "名前" and len(rows) == 3
    no_page_overflow(page)
    s.shot("result", docs=viewport_name == "desktop")
    s.problems.assert_clean()
