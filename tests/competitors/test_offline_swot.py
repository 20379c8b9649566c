"""The offline SWOT composer: built from the facts only, valid for the schema, no sentence repeated across
groups (a generic filler in every quadrant reads as boilerplate), deterministic under a seed; SWOT items cite
their evidence, strategies carry a priority."""

from __future__ import annotations

import pytest

from medipersona.competitors.offline_swot import compose_competitor_swot
from medipersona.competitors.prompt import CompetitorSwot

SPARSE = {"clinic": {"name": "A", "departments": ["内科"]}, "radius_km": 1, "market": {"count": 0, "bands": []},
          "population": {}, "demand": {}}
RICH = {
    "clinic": {"name": "B", "departments": ["内科", "小児科"], "strengths": "土曜午後も診療、駅から徒歩2分",
               "target": "共働きの子育て世帯"},
    "radius_km": 3,
    "competitors": [{"name": "あおば内科", "distance_m": 600, "reviews": 12}, {"name": "みどり医院", "reviews": 140}],
    "market": {"count": 12, "per_km2": 0.42, "avg_rating": 3.8, "avg_reviews": 56, "website_share": 0.33,
               "nearest": {"name": "あおば内科", "distance_m": 600},
               "bands": [{"label": "0.5km以内", "count": 0}, {"label": "0.5〜1km", "count": 2}]},
    "population": {"area_name": "千代田区", "age_bands": {"0-14": 7500, "15-64": 45000, "65-74": 7500, "75+": 6000}},
    "demand": {"available": True, "daily_patients": 310.0, "groups": [{"label": "内科系"}, {"label": "小児科"}]},
}


@pytest.mark.parametrize("context", [SPARSE, RICH], ids=["sparse", "rich"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_valid_distinct_and_deterministic(context, seed):
    out = compose_competitor_swot(context, seed)
    CompetitorSwot.model_validate(out)  # 2-6 items per group
    sentences = [item["text"] for items in out.values() for item in items]
    assert len(sentences) == len(set(sentences)), "a sentence appears in two groups"
    assert compose_competitor_swot(context, seed) == out


def test_facts_reach_the_text():
    out = compose_competitor_swot(RICH, 7)
    text = "".join(item["text"] for items in out.values() for item in items)
    for fact in ("土曜午後も診療", "共働きの子育て世帯", "12件", "あおば内科", "33%", "千代田区", "310"):
        assert fact in text, fact


def test_evidence_and_priorities():
    out = compose_competitor_swot(RICH, 7)
    evidence = {item["evidence"] for key in ("strengths", "weaknesses", "opportunities", "threats")
                for item in out[key] if item["evidence"]}
    # A competitor's number in the table (the nearest is No.1, the most reviewed No.2) and the statistics used.
    assert {"競合No.1", "競合No.2", "半径3km内 競合12件", "65歳以上 20%", "ウェブサイトのある競合 33%"} <= evidence
    for key in ("differentiation", "marketing", "operations"):
        priorities = [item["priority"] for item in out[key]]
        assert set(priorities) <= {"高", "中", "低"} and "高" in priorities, key
    assert out["differentiation"][0] == {"text": "「土曜午後も診療」を診療方針として明確にし、院内掲示やウェブサイトで具体的な内容を"
                                                 "説明する。", "priority": "高"}
