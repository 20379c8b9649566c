"""Offline reactions and summary (rule-based, from the persona and the message) and the computed numbers."""

from __future__ import annotations

from medipersona.message_tests.offline import EXAGGERATION_CONCERN, compose_reaction, compose_summary
from medipersona.message_tests.stats import compute_stats
from medipersona.personas.character import character_context
from tests.support.conversations import persona_object

PLAIN = "駅から徒歩3分。土曜も診療しています。インフルエンザの検査は当日予約できます。費用は約2,000円です。"


def reaction(message: str, **overrides) -> dict:
    return compose_reaction({**character_context(persona_object(**overrides)), "message": message}, 5)


def test_what_the_type_looks_for_and_the_complaint_raise_the_score():
    cost = reaction(PLAIN)  # 経済合理型: the price is there
    assert cost["score"] >= 4 and cost["would_book"] is True
    assert "費用の目安があるのは安心です" in cost["comment"]
    specialist = reaction(PLAIN, patient_type_id="specialist_seeking")
    assert specialist["score"] < cost["score"]
    assert "医師の専門性や経歴が分からない" in specialist["concerns"]
    off_topic = reaction("新しく美容メニューを始めました。", patient_type_id="specialist_seeking")
    assert off_topic["score"] <= 2 and off_topic["would_book"] is False
    assert "自分の症状に合うクリニックなのか分からない" in off_topic["concerns"]


def test_exaggerated_claims_cost_trust():
    honest = reaction(PLAIN)
    boastful = reaction(PLAIN + "必ず治る、日本一のクリニックです。")
    assert boastful["score"] == honest["score"] - 1
    assert boastful["concerns"][0] == EXAGGERATION_CONCERN
    for r in (honest, boastful):
        assert 1 <= r["score"] <= 5 and r["comment"].endswith("。") and len(r["concerns"]) <= 3


def test_numbers_and_summary_come_from_the_reactions():
    results = [
        {"name": "A", "patient_type": "経済合理型", "score": 5, "would_book": True, "concerns": []},
        {"name": "B", "patient_type": "経済合理型", "score": 3, "would_book": False,
         "concerns": ["費用の目安が書かれていない", "医師の専門性や経歴が分からない"]},
        {"name": "C", "patient_type": "対話重視型", "score": 2, "would_book": False,
         "concerns": ["費用の目安が書かれていない。", "費用の目安が書かれていない"]},
    ]
    stats = compute_stats(results)
    assert stats["count"] == 3 and stats["average"] == 3.33 and stats["would_book"] == 1
    assert stats["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 1}
    assert stats["by_type"][0] == {"patient_type": "経済合理型", "count": 2, "average": 4.0, "would_book": 1}
    # The same concern counts once per persona, whatever its punctuation.
    assert stats["top_concerns"][0] == {"text": "費用の目安が書かれていない", "count": 2}
    summary = compose_summary({"results": results, "stats": stats}, 1)
    assert "3人のペルソナが読み、平均スコアは3.33" in summary["overview"]
    assert "最も高く評価したのはAさん" in summary["overview"]
    assert "「費用の目安が書かれていない」（2人）" in summary["concerns"]
    assert "懸念を挙げた2人の平均は2.5点" in summary["concerns"]
    assert "費用の目安や保険適用の有無を示す" in summary["booking_triggers"]
    assert "対話重視型（1人）は平均2.0点" in summary["by_type"]
