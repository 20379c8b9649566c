"""The interview prompt (history trimmed to a token budget) and the offline answers (in character, rule-based)."""

from __future__ import annotations

import re

import pytest

from medipersona.interviews.offline import compose_interview_answer, topic_of
from medipersona.interviews.prompt import TRIMMED_NOTE, build_answer_request, estimate_tokens, trim_history
from medipersona.personas.character import character_context, spoken
from tests.support.conversations import PROFILE, persona_object


def test_estimate_counts_japanese_characters_and_ascii_words():
    assert estimate_tokens("あいう") == 3
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("頭痛 ok") == 3


def test_history_is_trimmed_oldest_first_within_the_budget():
    history = [{"role": "user" if i % 2 == 0 else "persona", "text": f"{i:02d}" + "あ" * 200} for i in range(40)]
    kept, trimmed = trim_history(history, budget=1000)
    assert trimmed and kept == history[-len(kept):]
    assert sum(estimate_tokens(m["text"]) + 4 for m in kept) <= 1000
    assert len(kept) == 4
    request = build_answer_request(persona_object(), history, "最後の質問", seed=1, budget=1000)
    assert TRIMMED_NOTE in request.prompt
    assert "00あ" not in request.prompt and "39あ" in request.prompt and "最後の質問" in request.prompt
    short = build_answer_request(persona_object(), history[:2], "次の質問", seed=1)
    assert TRIMMED_NOTE not in short.prompt and "00あ" in short.prompt


@pytest.mark.parametrize(("question", "topic"), [
    ("あなたは実在の人物ですか？", "identity"),
    ("AIですか？", "identity"),
    ("どの薬を飲めば治りますか？", "medical"),
    ("簡単に自己紹介をお願いします。", "intro"),
    ("口コミではどんな点を見ますか？", "reviews"),
    ("費用の目安はいつ知りたいですか？", "cost"),
    ("クリニックを選ぶときの決め手は何ですか？", "choose"),
    ("今日はいい天気ですね", "other"),
])
def test_questions_find_their_topic(question, topic):
    assert topic_of(question) == topic


def answer(question: str, history=(), **overrides) -> str:
    context = {**character_context(persona_object(**overrides)), "question": question, "history": list(history)}
    return compose_interview_answer(context, 42)["answer"]


def test_offline_answers_stay_in_character_and_are_honest_about_being_fictional():
    identity = answer("あなたは実在の人物ですか？")
    assert "架空" in identity and "実在する人物ではありません" in identity and "山田 花子" in identity
    medical = answer("どの薬を飲めば治りますか？")
    assert "医師ではない" in medical and "先生" in medical
    assert not re.search(r"(飲んでください|服用してください|処方|治ります)", medical)
    intro = answer("簡単に自己紹介をお願いします。")
    assert intro.startswith("山田 花子です。45歳の女性です。") and "会社員（事務職）" in intro
    cost = answer("費用はどう考えますか？")
    assert "費用はかなり気にします" in cost  # the persona is 経済合理型
    info = answer("受診前にネットで何を調べましたか？")
    assert "インフルエンザ 検査 いつ" in info or "発熱外来 予約" in info
    for text in (identity, medical, intro, cost, info):
        assert len(text) <= 300 and text.endswith("。")


def test_offline_answers_speak_the_sections_in_the_first_person_and_vary():
    first = answer("口コミではどんな点を見ますか？")
    assert "口コミでは待ち時間の長さと、受付の対応についての書き込みを重視しています。" in first
    again = answer("口コミではどんな点を見ますか？", history=[{"role": "user", "text": "口コミ"},
                                                          {"role": "persona", "text": first}])
    assert again != first
    assert answer("口コミではどんな点を見ますか？") == first  # deterministic under the seed
    child = answer("症状について教えてください。", profile={**PROFILE, "age": 6})
    assert child.startswith("（山田 花子の保護者としてお答えします）")


@pytest.mark.parametrize(("plain", "polite"), [
    ("通いやすさを重視している。", "通いやすさを重視しています。"),
    ("早めに受診したい。", "早めに受診したいです。"),
    ("口コミを見比べる。", "口コミを見比べるんです。"),
    ("説明がわかりやすいことが大切だ。", "説明がわかりやすいことが大切なんです。"),
    ("待ち時間が長いと不安になる。", "待ち時間が長いと不安になるんです。"),
    ("山田さんは慎重な性格だ。", "私は慎重な性格なんです。"),
    ("もう相談しました。", "もう相談しました。"),
])
def test_section_sentences_are_spoken_politely(plain, polite):
    assert spoken(plain, "山田") == polite
