"""Offline timeline analysis: a rule-based Japanese analysis from the categories and numbers of the context
built by ``keywords/analysis.py:build_context`` (timeline summary, categories before/after, peak day, urgency,
keyword sample, persona summary). Deterministic under ``seed``. Wording follows 医療広告ガイドライン: no cure
promises, no superlatives, no comparisons with other clinics, no testimonials used as inducement.
"""

from __future__ import annotations

import random
from typing import Any

from medipersona.providers.composers import register_offline_composer, seed_for

# Per category: (what the interest means, the hidden need, a guideline-safe measure).
CATEGORY_TEXT: dict[str, tuple[str, str, str]] = {
    "症状・不安": (
        "症状の程度や「このままで大丈夫か」という不安",
        "自分の症状が受診すべき状態なのかを、気軽に確かめたいというニーズ",
        "症状ごとの受診の目安をまとめた解説ページや、受診前に相談できる窓口の案内",
    ),
    "原因・理解": (
        "原因や仕組みの理解",
        "病気について納得できる説明を受け、自分で状況を判断したいというニーズ",
        "原因や検査の流れを図解したコラムと、診察時の丁寧な説明資料の用意",
    ),
    "治療・対策": (
        "治療法や自分でできる対処法",
        "治療の選択肢と、それぞれの期間・負担を事前に知りたいというニーズ",
        "治療の流れ・期間・通院回数の目安を示したページと、選択肢を比較しやすい説明",
    ),
    "医療機関": (
        "近くで受診できる医療機関や診療科",
        "すぐに予約でき、通いやすい医療機関を確実に見つけたいというニーズ",
        "地図検索・Web予約・診療時間の情報を最新に保ち、予約導線を短くする取り組み",
    ),
    "費用・保険": (
        "費用や保険適用の可否",
        "想定外の出費を避けたい、費用の見通しを先に持ちたいというニーズ",
        "保険診療・自費診療の区分と費用の目安をわかりやすく掲載すること",
    ),
    "体験談・口コミ": (
        "他の人の経験や評判",
        "自分と同じ立場の人がどう感じたかを知り、安心したいというニーズ",
        "よくある質問や診療の流れを具体的に伝え、受診前の不安を減らす情報発信",
    ),
    "予防・生活習慣": (
        "再発予防や生活習慣の見直し",
        "受診後も日常生活で気をつける点を継続的に教えてほしいというニーズ",
        "生活上の注意点をまとめた資料の配布や、定期的なフォローの案内",
    ),
    "その他": (
        "生活や仕事に関わる周辺の情報",
        "病気と日常生活をどう両立させるかを相談したいというニーズ",
        "生活との両立に関する相談を受け付けていることの周知",
    ),
}
URGENCY_TEXT = {
    "high": "検索から行動までの間隔が短く、すぐに解決したいという切迫感がうかがえます",
    "medium": "数日から数週間かけて情報を比べたうえで行動する傾向が見られます",
    "low": "長い期間をかけてじっくり情報を集めてから判断する傾向が見られます",
}


def _top(categories: dict[str, int], n: int = 2, exclude_other: bool = True) -> list[str]:
    items = [(c, v) for c, v in categories.items() if v > 0 and not (exclude_other and c == "その他")]
    items.sort(key=lambda kv: -kv[1])
    return [c for c, _ in items[:n]]


def _share(categories: dict[str, int], name: str) -> int:
    total = sum(categories.values())
    return round(100 * categories.get(name, 0) / total) if total else 0


def _keywords(items: list[dict], n: int, rng: random.Random) -> str:
    chosen = [k["keyword"] for k in items[: max(n + 2, n)]]
    rng.shuffle(chosen)
    return "、".join(f"「{k}」" for k in chosen[:n])


def _who(persona: dict[str, Any]) -> str:
    parts = [persona.get("age"), persona.get("gender")]
    who = "・".join(p for p in parts if p)
    return f"{who}の" if who else ""


def compose_timeline_analysis(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    """{"psychology", "hidden_needs", "marketing"}: three Japanese paragraphs from the context's numbers."""
    rng = random.Random(seed)
    persona = context.get("persona") or {}
    summary = context.get("summary") or {}
    before = context.get("categories_before") or {}
    after = context.get("categories_after") or {}
    urgency = context.get("urgency") or {}
    peak = context.get("peak_day")
    complaint = persona.get("chief_complaint") or "主訴"
    who = _who(persona)
    kw_before = context.get("keywords_before") or []
    kw_after = context.get("keywords_after") or []

    top_before = _top(before) or ["症状・不安"]
    top_after = _top(after) or ["治療・対策"]
    n_before, n_after = summary.get("before_count", 0), summary.get("after_count", 0)
    total = summary.get("total", n_before + n_after)

    # 心理変化の分析
    psych: list[str] = []
    psych.append(
        f"{who}患者が「{complaint}」を検索する前後の関連キーワード{total}語のうち、検索前は{n_before}語、"
        f"検索後は{n_after}語でした。"
    )
    first = top_before[0]
    psych.append(
        f"検索前は「{first}」に分類される語が{_share(before, first)}%を占め、"
        f"{CATEGORY_TEXT[first][0]}への関心が行動の出発点になっていると考えられます。"
    )
    if kw_before:
        psych.append(f"代表的な語は{_keywords(kw_before, 3, rng)}などです。")
    later = top_after[0]
    share_after, share_before = _share(after, later), _share(before, later)
    if later != first and share_after > share_before:
        psych.append(
            f"検索後は「{later}」が{share_before}%から{share_after}%に増え、関心の中心は"
            f"{CATEGORY_TEXT[later][0]}へと移っていきます。"
        )
    elif later != first:
        psych.append(f"検索後は「{later}」が{share_after}%で最も多く、{CATEGORY_TEXT[later][0]}にも目が向いています。")
    else:
        psych.append(
            f"検索後も「{later}」が中心（{share_after}%）で、{CATEGORY_TEXT[later][0]}への関心が続いている様子が"
            "うかがえます。"
        )
    if kw_after:
        psych.append(f"検索後には{_keywords(kw_after, 3, rng)}といった語が見られます。")
    if peak is not None:
        when = "主訴の検索と同じ日" if peak == 0 else (f"検索の{abs(peak)}日前" if peak < 0 else f"検索の{peak}日後")
        psych.append(f"関連検索のピークは{when}で、")
        psych[-1] += URGENCY_TEXT.get(str(urgency.get("level") or ""), URGENCY_TEXT["medium"]) + "。"

    # 隠れたニーズ
    needs: list[str] = []
    needs_cats = list(dict.fromkeys([*top_before[:1], *top_after[:2]]))
    needs.append(f"検索の流れから、{who}患者には次のような表に出にくいニーズがあると考えられます。")
    for i, cat in enumerate(needs_cats, 1):
        needs.append(f"{i}つ目は、{CATEGORY_TEXT[cat][1]}です。")
    if before.get("費用・保険", 0) + after.get("費用・保険", 0) == 0:
        needs.append("費用に関する検索は目立ちませんが、受診を決める段階で費用の見通しを確認したい気持ちは"
                     "潜在的にあると考えられます。")
    if urgency.get("level") == "high":
        needs.append("行動までが早いため、調べた当日に予約・受診まで進められる手軽さも重要です。")
    elif urgency.get("level") == "low":
        needs.append("時間をかけて検討するため、繰り返し読み返せる情報や相談の機会が安心につながります。")
    occupation = persona.get("occupation")
    if occupation:
        needs.append(f"{occupation}としての生活リズムの中で、無理なく通院を続けられるかどうかも関心事です。")

    # マーケティング提案
    marketing: list[str] = []
    marketing.append("医療広告ガイドラインに沿って、次の施策が考えられます。")
    measures = list(dict.fromkeys([top_before[0], *top_after[:2], "医療機関"]))[:3]
    for i, cat in enumerate(measures, 1):
        marketing.append(f"（{i}）{CATEGORY_TEXT[cat][2]}。")
    if peak is not None and peak < 0:
        marketing.append(f"検索の{abs(peak)}日前ごろから情報収集が始まるため、その段階で目に触れる解説記事の充実が"
                         "有効です。")
    elif urgency.get("level") == "high":
        marketing.append("検索と同じ日に受診先を決める人が多いため、検索結果や地図から当日予約まで迷わず進める"
                         "導線づくりが有効です。")
    else:
        marketing.append("検索後も情報を比べる期間があるため、診療の流れや費用の目安を一か所にまとめて伝えることが"
                         "有効です。")
    marketing.append("いずれも治療効果を保証する表現や他院との比較は避け、事実に基づいて伝えることが大切です。")
    if (context.get("dataset") or {}).get("is_sample"):
        marketing.append("（この分析は架空のサンプルデータに基づいています。）")

    return {"psychology": "".join(psych), "hidden_needs": "".join(needs), "marketing": "".join(marketing)}


def _timeline_composer(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    return compose_timeline_analysis(context, seed_for(context, seed, "timeline"))


# Found by the offline provider through its composer registry; imported at start by ``medipersona.domains``.
register_offline_composer("timeline_analysis", _timeline_composer)
