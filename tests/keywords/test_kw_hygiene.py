"""Keyword hygiene (look-up searches never reach a prompt or an analysis) and an urgency that agrees with the
timeline's numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medipersona.keywords.analysis import _keyword_sample, timeline_urgency
from medipersona.keywords.hygiene import clean_rows, is_noise


@pytest.mark.parametrize("keyword", [
    "ニキビ 英語", "ニキビ　英語", "更年期 読み方", "白内障 漢字", "花粉症 由来", "頭痛 類義語", "めまい 意味",
    "ニキビ 英語で", "ニキビ 対義語", "ＥＤ 意味", "蕁麻疹の読み方", "ものもらい 語源 方言",
])
def test_look_up_searches_are_noise(keyword):
    assert is_noise(keyword)


@pytest.mark.parametrize("keyword", [
    "ニキビ 皮膚科", "ニキビ 治し方", "更年期 症状", "白内障 手術 費用", "花粉症 薬", "意味記憶 障害",
    "漢方 更年期", "英語 教室 子ども 喘息", "ニキビ 跡", "めまい 何科",
])
def test_patient_searches_are_kept(keyword):
    assert not is_noise(keyword)


def test_clean_rows_keeps_order_and_drops_noise():
    rows = [{"keyword": "ニキビ 皮膚科"}, {"keyword": "ニキビ 英語"}, {"keyword": "ニキビ 薬"},
            {"keyword": "ニキビ 読み方"}]
    assert [r["keyword"] for r in clean_rows(rows)] == ["ニキビ 皮膚科", "ニキビ 薬"]


def test_analysis_sample_has_no_noise():
    series = [{"keyword": k, "phase": "before", "overlap": o, "days": -3.0, "estimated_volume": 1, "category": "症状"}
              for k, o in (("ニキビ 英語", 999), ("ニキビ 原因", 10), ("ニキビ 意味", 500))]
    assert [k["keyword"] for k in _keyword_sample(series, "before", 12)] == ["ニキビ 原因"]


def test_prompt_keywords_are_cleaned_in_the_generation_lookup():
    import inspect

    from medipersona.personas import generation

    source = inspect.getsource(generation._keywords)
    assert "clean_rows" in source  # the prompt's keyword list goes through hygiene


@settings(max_examples=500, deadline=None)
@given(near=st.floats(0, 1), same=st.floats(0, 1), peak=st.one_of(st.none(), st.integers(-180, 180)))
def test_urgency_agrees_with_its_numbers(near, same, peak):
    u = timeline_urgency(near, same, peak)
    if u["level"] == "high":
        assert peak is not None and abs(peak) <= 7 and u["score"] >= 60
    if peak is not None and abs(peak) > 30:
        assert u["level"] != "high"
    if peak is not None and abs(peak) <= 7 and near >= 0.25:
        assert u["level"] != "low"
    assert f"{round(near * 100)}%" in u["description"]
    if peak:
        assert f"{abs(peak)}日" in u["description"]


def test_issue_example_peak_77_days_after_is_not_high():
    assert timeline_urgency(0.9, 0.8, 77)["level"] == "medium"
    assert timeline_urgency(0.9, 0.8, 2)["level"] == "high"
