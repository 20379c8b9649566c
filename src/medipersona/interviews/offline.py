"""The offline interview answer: rule-based, in character, built only from the persona (profile, extras, patient
type, sections, keyword data) and the question. No model is involved; the answer is labelled as offline output by
the page (the provider's ``is_offline``).

The question is matched to a topic by its words (identity and medical questions first: the persona says it is a
fictional persona, and gives no medical advice, as a patient would not); the answer speaks the persona's own
section sentences in the first person, avoiding what it already said in this interview. Deterministic under the
seed.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

from medipersona.personas.character import sentences, spoken
from medipersona.providers.composers import register_offline_composer

MAX_CHARS = 300

# (topic, words in the question). First match wins.
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("identity", ("実在", "本当に存在", "本物", "AI", "ＡＩ", "人工知能", "ロボット", "架空", "人間ですか")),
    ("medical", ("薬", "治療法", "治りますか", "治る", "診断", "飲んだ方", "飲むべき", "手術", "効きますか",
                 "どうすれば治", "病気ですか")),
    ("intro", ("自己紹介", "あなたは誰", "どんな方", "どんな人", "お仕事", "ご家族", "趣味", "休日")),
    ("info", ("調べ", "検索", "ネット", "SNS", "ＳＮＳ", "情報", "ホームページ", "サイト", "スマホ")),
    ("reviews", ("口コミ", "評判", "レビュー", "評価")),
    ("cost", ("費用", "料金", "値段", "いくら", "保険", "自費", "お金")),
    ("continue", ("続け", "やめ", "定期", "次回", "次の予約", "再診", "通い続", "中断")),
    ("access", ("予約", "待ち", "時間", "土曜", "日曜", "夜", "通いやす", "駅", "アクセス", "場所")),
    ("hesitation", ("ためら", "不安", "心配", "怖", "迷", "躊躇")),
    ("choose", ("選ぶ", "選び", "決め手", "選んだ", "決める", "クリニック", "病院", "医院", "受診先")),
    ("reason", ("症状", "悩み", "困って", "きっかけ", "つらい", "辛い", "いつから", "困りごと")),
    ("wants", ("望", "期待", "欲しい", "ほしい", "あったら", "改善", "してほしい", "求め", "うれしい", "嬉しい")),
)
# The sections each topic speaks from, in order of preference.
TOPIC_SECTIONS: dict[str, tuple[str, ...]] = {
    "medical": ("demands",), "info": ("behavior",), "reviews": ("reviews", "values"), "cost": ("demands", "values"),
    "continue": ("behavior", "demands"), "access": ("behavior", "demands"), "hesitation": ("values", "reason"),
    "choose": ("values", "reviews"), "reason": ("reason", "behavior"), "wants": ("demands", "values"),
    "other": ("personality", "demands"),
}
OPENERS = ("そうですね。", "はい。", "うーん、そうですね。", "そうですね、少し考えると……。")
# A first sentence that answers the question's topic before the persona's own words (one is picked).
TOPIC_LEADS: dict[str, tuple[str, ...]] = {
    "continue": ("通院が続かなくなるのは、症状が落ち着いて、仕事や家のことで忙しくなったときです。",
                 "通うたびに待ち時間が長かったり、次の予約が取りにくかったりすると、足が遠のきます。"),
    "access": ("通いやすさはかなり気にします。", "待ち時間や予約の取りやすさは、受診先を決めるうえで大事です。"),
    "choose": ("クリニックを選ぶときは、いくつかの点を比べてから決めます。", "受診先は、自分なりの基準で選んでいます。"),
    "reason": ("{complaint}のことでは、いろいろと気になっています。",),
    "info": ("受診の前には、まずスマートフォンで調べます。",),
    "reviews": ("口コミは受診の前に目を通します。",),
    "hesitation": ("受診をためらうのは、行っても解決するのか分からないときです。",
                   "自分の症状で受診してよいのか、迷うことがあります。"),
    "wants": ("クリニックにお願いしたいことはいくつかあります。",),
}
COST_LINES = {
    "cost_conscious": "費用はかなり気にします。何にいくらかかるのか、先に分かっていないと決められません。",
    "urgent_solution": "費用よりも、まずは早く何とかしたいという気持ちが強いです。",
    "innovation_oriented": "新しい検査や治療なら、納得できれば多少の費用はかけてもいいと思っています。",
}


def topic_of(question: str) -> str:
    for topic, words in TOPICS:
        if any(word in question for word in words):
            return topic
    return "other"


def _said(history: list[dict[str, Any]]) -> str:
    return "".join(m.get("text", "") for m in history if m.get("role") == "persona")


def _from_sections(context: dict[str, Any], keys: tuple[str, ...], rng: random.Random, said: str,
                   limit: int = 2) -> list[str]:
    """Up to ``limit`` sentences of the sections, spoken, preferring ones not said yet in this interview."""
    name = context.get("name") or ""
    pool = [spoken(s, name) for key in keys for s in sentences((context.get("sections") or {}).get(key, ""))]
    fresh = [s for s in pool if s not in said]
    chosen = fresh or [f"前にもお話ししたとおり、{s}" for s in pool[:1]]
    if len(chosen) > limit:
        first = chosen[0]
        rest = chosen[1:]
        rng.shuffle(rest)
        chosen = [first, *rest[: limit - 1]]
    return chosen


def _label(context: dict[str, Any], key: str) -> str:
    return str((context.get("profile") or {}).get(key) or "")


def _topic_lines(topic: str, context: dict[str, Any], rng: random.Random, said: str) -> list[str]:
    name = context.get("name") or "私"
    complaint = context.get("chief_complaint") or "今の症状"
    age, gender = _label(context, "age"), _label(context, "gender")
    extras = context.get("extras") or {}
    ptype = (context.get("patient_type") or {}).get("id", "")
    if topic == "identity":
        return ["私は、クリニックがマーケティングを考えるために作られた架空の患者ペルソナです。実在する人物ではありません。",
                f"{name}という{age}の{gender}として、{complaint}で悩む患者の立場からお答えしています。"]
    if topic == "medical":
        return [f"私は医師ではないので、{complaint}の治療や薬について、どうするのが良いとは言えません。",
                "そこは診察のときに、先生にきちんと聞いてみたいです。",
                *_from_sections(context, TOPIC_SECTIONS["medical"], rng, said, limit=1)]
    lines: list[str]
    if topic == "intro":
        lines = [f"{name}です。{age}の{gender}です。"]
        if _label(context, "occupation"):
            lines.append(f"仕事は{_label(context, 'occupation')}です。")
        family = _label(context, "family")
        if family:
            lines.append(f"{family}です。" if "暮らし" in family else f"家族は{family}です。")
        if _label(context, "hobby"):
            lines.append(f"趣味は{_label(context, 'hobby')}です。")
        lines.append(f"最近は{complaint}のことが気になっています。")
        return lines
    lines = [rng.choice(TOPIC_LEADS[topic]).format(complaint=complaint)] if topic in TOPIC_LEADS else []
    if topic == "info":
        keywords = [k for k in context.get("keywords") or [] if k]
        if keywords:
            picked = rng.sample(keywords, min(2, len(keywords)))
            lines.append("「" + "」や「".join(picked) + "」といった言葉で検索しました。")
        if extras.get("よく見るメディア/SNS"):
            lines.append(f"普段は{extras['よく見るメディア/SNS']}をよく見ています。")
    elif topic == "cost":
        lines.append(COST_LINES.get(ptype, "費用は、受診する前に目安が分かれば安心です。"))
    elif topic == "hesitation" and extras.get("最近の悩み/関心"):
        lines.append(f"正直なところ、最近は{extras['最近の悩み/関心']}のことも気になっています。")
    return lines + _from_sections(context, TOPIC_SECTIONS[topic], rng, said, limit=2 if lines else 3)


def compose_interview_answer(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    question = str(context.get("question") or "")
    history = list(context.get("history") or [])
    rng = random.Random((seed or 0) ^ zlib.crc32(question.encode()) ^ len(history))
    topic = topic_of(question)
    lines = _topic_lines(topic, context, rng, _said(history))
    if topic not in ("identity", "intro"):
        lines.insert(0, rng.choice(OPENERS))
    age = context.get("age")
    if isinstance(age, int) and age < 13:
        lines.insert(0, f"（{context.get('name') or '子ども'}の保護者としてお答えします）")
    answer = ""
    for line in lines:
        if answer and len(answer) + len(line) > MAX_CHARS:
            break
        answer += line
    return {"answer": answer or f"{context.get('chief_complaint') or '今の症状'}のことで、いろいろと考えているところです。"}


register_offline_composer("interview_answer", compose_interview_answer)
