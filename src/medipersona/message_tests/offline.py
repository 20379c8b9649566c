"""Offline message-test answers: rule-based, in character, from the persona (patient type, complaint, profile)
and the message's own words. No model is involved; the page labels the output as offline.

A reaction scores what the message offers against what the persona's patient type looks for (access, cost,
expertise, explanation, ...), whether it names the persona's complaint or department, and whether it uses
exaggerated claims (which lower trust, as 医療広告ガイドライン would have it). Concerns are fixed phrases, so that
the summary can count them. The summary is written from the reactions and the computed numbers.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

from medipersona.providers.composers import register_offline_composer

# What a message can offer: feature -> (words that show it, how a persona says it is missing, what would fix it).
FEATURES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "access": (("駅", "徒歩", "駐車場", "土曜", "日曜", "祝日", "夜", "時まで", "Web予約", "ネット予約", "予約",
                "アクセス", "近く"), "診療時間や通いやすさが分からない", "診療時間・最寄り駅・予約方法を明記する"),
    "cost": (("円", "料金", "費用", "保険", "無料", "割引", "負担", "価格"), "費用の目安が書かれていない",
             "費用の目安や保険適用の有無を示す"),
    "expertise": (("専門", "認定", "指導医", "経験", "実績", "院長", "資格"), "医師の専門性や経歴が分からない",
                  "医師の専門分野や経歴を紹介する"),
    "dialogue": (("丁寧", "説明", "相談", "カウンセリング", "話を聞", "寄り添"), "相談しやすい雰囲気か分からない",
                 "相談やカウンセリングの流れを説明する"),
    "prevention": (("予防", "検診", "健診", "早期", "定期", "チェック"), "予防や定期的なケアについての情報がない",
                   "予防や定期チェックの案内を加える"),
    "technology": (("最新", "機器", "オンライン", "デジタル", "アプリ", "AI"), "設備や新しい仕組みについての情報がない",
                   "設備やオンラインの仕組みを紹介する"),
    "trust": (("地域", "長年", "かかりつけ", "家族", "開院", "安心"), "どんなクリニックなのか人柄が伝わらない",
              "院長の人柄や地域での取り組みを伝える"),
    "speed": (("当日", "すぐ", "待ち時間", "即日", "待たず", "短時間"), "すぐに診てもらえるのか分からない",
              "当日受診や待ち時間の目安を示す"),
    "gentle": (("漢方", "自然", "体に優しい", "負担の少ない", "生活習慣"), "薬以外の選択肢についての情報がない",
               "薬以外の選択肢についても触れる"),
    "choice": (("選択肢", "選べる", "比較", "プラン", "複数"), "治療の選択肢が示されていない",
               "治療の選択肢とそれぞれの特徴を示す"),
}
TYPE_NEEDS: dict[str, str] = {
    "convenience_focused": "access", "specialist_seeking": "expertise", "preventive_health": "prevention",
    "alternative_medicine": "gentle", "cost_conscious": "cost", "information_seeker": "expertise",
    "innovation_oriented": "technology", "dialogue_focused": "dialogue", "trust_based": "trust",
    "urgent_solution": "speed", "passive_dependent": "trust", "autonomous_decision": "choice",
}
EXAGGERATIONS = ("必ず", "絶対", "日本一", "最高", "No.1", "ナンバーワン", "完治", "100%", "１００％", "誰でも", "確実")
EXAGGERATION_CONCERN = "「必ず」などの言い切りが多く、かえって信頼しにくい"
OFF_TOPIC_CONCERN = "自分の症状に合うクリニックなのか分からない"
# Concern -> what would fix it (the summary's 予約につながる条件).
FIXES: dict[str, str] = {
    **{missing: fix for _words, missing, fix in FEATURES.values()},
    EXAGGERATION_CONCERN: "言い切りや誇大な表現を控え、事実を具体的に書く",
    OFF_TOPIC_CONCERN: "対象となる症状や悩みを具体的に書く",
}
LIKED = {
    "access": "通いやすさが書いてあるのは助かります", "cost": "費用の目安があるのは安心です",
    "expertise": "先生の専門が分かるのは心強いです", "dialogue": "相談しやすそうなところに惹かれます",
    "prevention": "予防や定期的なチェックに力を入れているのは好印象です",
    "technology": "新しい設備や仕組みがあるのは魅力的です", "trust": "地域に根ざした雰囲気に安心感があります",
    "speed": "すぐに診てもらえそうなのはありがたいです", "gentle": "体にやさしい選択肢があるのはうれしいです",
    "choice": "選択肢を示してもらえるのは納得しやすいです",
}
OPENERS = {5: "これはかなり気になります。", 4: "なかなか良さそうだと思いました。", 3: "気にはなりますが、決め手はまだありません。",
           2: "正直、あまり響きませんでした。", 1: "自分には関係なさそうだと感じました。"}


def features_of(message: str) -> set[str]:
    return {name for name, (words, _missing, _fix) in FEATURES.items() if any(w in message for w in words)}


def compose_reaction(context: dict[str, Any], seed: int | None) -> dict[str, Any]:
    message = str(context.get("message") or "")
    rng = random.Random((seed or 0) ^ zlib.crc32(message.encode()))
    offered = features_of(message)
    ptype = (context.get("patient_type") or {}).get("id", "")
    need = TYPE_NEEDS.get(ptype)
    complaint = str(context.get("chief_complaint") or "")
    department = str(context.get("department") or "")
    relevant = bool(complaint and complaint in message) or bool(department and department in message) or any(
        k and k in message for k in context.get("keywords") or [])
    exaggerated = any(word in message for word in EXAGGERATIONS)
    score = 2 + (1 if relevant else 0) + (1 if need in offered else 0) + (1 if len(offered) >= 3 else 0)
    score -= 1 if exaggerated else 0
    score = max(1, min(5, score))
    concerns: list[str] = []
    if exaggerated:
        concerns.append(EXAGGERATION_CONCERN)
    if need and need not in offered:
        concerns.append(FEATURES[need][1])
    if not relevant:
        concerns.append(OFF_TOPIC_CONCERN)
    missing = [f for f in ("access", "cost", "expertise") if f not in offered and f != need]
    if len(concerns) < 2 and missing:
        concerns.append(FEATURES[rng.choice(missing)][1])
    liked = [LIKED[f] for f in sorted(offered)]
    parts = [OPENERS[score]]
    if liked:
        parts.append(rng.choice(liked) + "。")
    if relevant:
        parts.append(f"{complaint}で悩んでいる私にも関係がある内容だと思いました。")
    else:
        parts.append(f"ただ、{complaint or '今の症状'}のことで受診を考えている私に向けた内容なのかは分かりませんでした。")
    if concerns:
        parts.append(f"{concerns[0]}のが気になります。")
    would_book = score >= 4
    parts.append("この内容なら予約してみようと思います。" if would_book else "今のままだと、予約まではしないと思います。")
    return {"score": score, "comment": "".join(parts)[:400], "would_book": would_book, "concerns": concerns[:3]}


def compose_summary(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    stats = context.get("stats") or {}
    results = context.get("results") or []
    count = stats.get("count") or len(results)
    dist = stats.get("distribution") or {}
    spread = "、".join(f"{k}点が{dist.get(str(k), 0)}人" for k in range(5, 0, -1) if dist.get(str(k)))
    overview = (f"{count}人のペルソナが読み、平均スコアは{stats.get('average', 0)}でした（{spread}）。"
                f"予約すると答えたのは{stats.get('would_book', 0)}人です。")
    best = max(results, key=lambda r: r["score"], default=None)
    worst = min(results, key=lambda r: r["score"], default=None)
    if best is not None and worst is not None and best is not worst:
        overview += (f"最も高く評価したのは{best['name']}さん（{best.get('patient_type') or '患者タイプなし'}、"
                     f"{best['score']}点）、最も低かったのは{worst['name']}さん（{worst['score']}点）です。")
    top = stats.get("top_concerns") or []
    if top:
        concerns = "複数の人が挙げた懸念は、" + "、".join(f"「{c['text']}」（{c['count']}人）" for c in top[:3]) + "です。"
    else:
        concerns = "目立った共通の懸念はありませんでした。"
    with_concerns = [r["score"] for r in results if r.get("concerns")]
    without = [r["score"] for r in results if not r.get("concerns")]
    if with_concerns and without and sum(with_concerns) / len(with_concerns) < sum(without) / len(without):
        concerns += (f"懸念を挙げた{len(with_concerns)}人の平均は{sum(with_concerns) / len(with_concerns):.1f}点で、"
                     f"挙げなかった{len(without)}人（{sum(without) / len(without):.1f}点）より低くなりました。")
    fixes = [FIXES[c["text"]] for c in top[:3] if c["text"] in FIXES]
    booking = ("予約につなげるには、" + "、".join(fixes) + "ことが考えられます。") if fixes else \
        "主な懸念は少ないため、予約方法と連絡先を分かりやすく示すことで、関心を予約につなげやすくなります。"
    booking += "効果を保証する表現は避け、事実に基づく情報を具体的に示してください。"
    rows = stats.get("by_type") or []
    by_type = "".join(f"{row['patient_type']}（{row['count']}人）は平均{row['average']}点、予約{row['would_book']}人。"
                      for row in rows) or "患者タイプ別の傾向を示せるだけの回答がありませんでした。"
    return {"overview": overview, "concerns": concerns, "booking_triggers": booking, "by_type": by_type}


register_offline_composer("message_test_reaction", compose_reaction)
register_offline_composer("message_test_summary", compose_summary)
