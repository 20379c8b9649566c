"""Offline SWOT and strategies for a competitor analysis: rule-based Japanese text built only from the facts in
the context (``competitors/prompt.py:build_context``): competitor count and density, ratings, reviews,
websites, distance bands, population by age, the demand estimate, the clinic's own strengths and target.
SWOT items cite their evidence (a competitor's number in the table or the figure used); strategies carry a
priority (高/中/低). Deterministic under ``seed``. Wording follows 医療広告ガイドライン: no cure promises, no
superlatives, no claims of superiority over other clinics, no testimonials as inducement.
"""

from __future__ import annotations

import random
import re
from typing import Any

from medipersona.providers.composers import register_offline_composer, seed_for


def _pieces(text: str, limit: int = 3) -> list[str]:
    parts = [p.strip(" 　・-") for p in re.split(r"[、,。\n/／]+", text or "")]
    return [p for p in parts if p][:limit]


def _pct(part: float, whole: float) -> int:
    return round(100 * part / whole) if whole else 0


def _item(text: str, evidence: str | None = None) -> dict[str, Any]:
    return {"text": text, "evidence": evidence}


def _plan(text: str, priority: str) -> dict[str, Any]:
    return {"text": text, "priority": priority}


def compose_competitor_swot(context: dict[str, Any], seed: int | None) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed or 0)
    clinic = context.get("clinic") or {}
    market = context.get("market") or {}
    pop = context.get("population") or {}
    demand = context.get("demand") or {}
    competitors = context.get("competitors") or []
    radius = context.get("radius_km")
    departments = "・".join(clinic.get("departments") or []) or "自院の診療科"
    count = int(market.get("count") or 0)
    in_radius = f"半径{radius}km内 競合{count}件"
    strengths_given = _pieces(clinic.get("strengths", ""))
    target = (clinic.get("target") or "").strip()
    bands = market.get("bands") or []
    near = bands[0] if bands else None
    peers = "同じ診療科の" if market.get("source") == "places" else ""  # Places finds the same specialties

    strengths = [_item(f"「{s}」という特徴を、受診を検討している人に具体的に伝えられる。") for s in strengths_given]
    if len(clinic.get("departments") or []) > 1:
        strengths.append(_item(f"{departments}を一つの医院で相談できるため、複数の悩みをまとめて相談したい人の選択肢になり"
                               "やすい。"))
    if target:
        strengths.append(_item(f"主なターゲット層（{target[:40]}）が明確で、情報発信や診療体制の方針を絞り込みやすい。"))
    strengths.append(_item(f"{departments}として、地域の人が日常的に相談できる身近な窓口になれる。"))

    weaknesses = []
    if not strengths_given:
        weaknesses.append(_item("強み・特徴が入力されておらず、選ばれる理由を言葉にして伝える準備がまだ整っていない。"))
    if not target:
        weaknesses.append(_item("主なターゲット層が定まっておらず、情報発信の内容が総花的になりやすい。"))
    avg_reviews = market.get("avg_reviews")
    if isinstance(avg_reviews, (int, float)) and avg_reviews > 0:
        weaknesses.append(_item(f"周辺の競合は平均{avg_reviews:,.0f}件の口コミを集めており、自院の情報が比較の場で目に触れ"
                                "にくい可能性がある。", f"競合の平均口コミ数 {avg_reviews:,.0f}件"))
    weaknesses.append(_item("この分析には自院の評価・口コミ数が含まれていないため、評判面での現状把握が今後の課題になる。"))
    if count >= 5:
        weaknesses.append(_item(f"半径{radius}km内に{peers}医療機関が{count}件あり、立地だけでは選ばれる理由に"
                                "なりにくい。", in_radius))

    opportunities = []
    share = market.get("website_share")
    if share is not None and share < 0.7:
        opportunities.append(_item(f"ウェブサイトを持つ競合は{share * 100:.0f}%にとどまり、診療内容や受診の流れを丁寧に"
                                   "発信することで情報を探す人に見つけてもらいやすい。",
                                   f"ウェブサイトのある競合 {share * 100:.0f}%"))
    age = pop.get("age_bands") or {}
    total = sum(v for v in age.values() if isinstance(v, int))
    if total:
        elderly = (age.get("65-74") or 0) + (age.get("75+") or 0)
        children = age.get("0-14") or 0
        opportunities.append(_item(f"{pop.get('area_name') or '地域'}では65歳以上が{_pct(elderly, total)}%を占め、"
                                   "継続的な通院や生活習慣の相談へのニーズが見込める。",
                                   f"65歳以上 {_pct(elderly, total)}%"))
        if children:
            opportunities.append(_item(f"15歳未満が{_pct(children, total)}%おり、子育て世帯が受診しやすい体制づくりにも"
                                       "需要がある。", f"15歳未満 {_pct(children, total)}%"))
    if demand.get("available"):
        opportunities.append(_item(f"需要推計（概算）では地域の{'・'.join(g['label'] for g in demand.get('groups', []))}の"
                                   f"外来患者が1日あたり約{demand['daily_patients']:,.0f}人と見込まれ、一定の受診需要がある。",
                                   f"推計外来患者 約{demand['daily_patients']:,.0f}人/日"))
    if count == 0:
        opportunities.append(_item(f"半径{radius}km内に{peers}医療機関が見つからず、地域の受診先として認知されれば"
                                   "選ばれやすい。", in_radius))
    elif near is not None and near.get("count", 0) == 0:
        opportunities.append(_item(f"{near['label']}には競合がなく、近隣住民にとって通いやすい選択肢になりうる。",
                                   f"{near['label']} 競合0件"))
    opportunities.append(_item("オンライン予約や診療時間の情報を整えることで、忙しい世代の受診のきっかけを作れる。"))

    threats = []
    if count:
        threats.append(_item(f"半径{radius}km内に{peers}競合が{count}件あり（1km²あたり"
                             f"{market.get('per_km2', 0):.2f}件）、患者にとって選択肢が多い。", in_radius))
    nearest = market.get("nearest")
    if nearest:
        threats.append(_item(f"最も近い競合（{nearest['name']}）は約{nearest['distance_m']:,.0f}mの距離にあり、同じ患者層を"
                             "取り合う可能性がある。", "競合No.1"))
    reviewed = [(i, c) for i, c in enumerate(competitors, start=1) if isinstance(c.get("reviews"), int) and c["reviews"] > 0]
    if reviewed:
        number, top = max(reviewed, key=lambda pair: pair[1]["reviews"])
        threats.append(_item(f"口コミの多い競合（{top['name']}、{top['reviews']:,}件）は、地図検索で比較されたときに目に"
                             "留まりやすい。", f"競合No.{number}"))
    avg_rating = market.get("avg_rating")
    if isinstance(avg_rating, (int, float)):
        threats.append(_item(f"競合の平均評価は{avg_rating:.1f}で、口コミサイトで比較されたときの見え方に注意が必要である。",
                             f"競合の平均評価 {avg_rating:.1f}"))
    threats.append(_item("診療時間や予約方法の利便性が比べられやすく、対応が遅れると受診先の候補から外れるおそれがある。"))

    differentiation = []
    for s in strengths_given[:2]:
        differentiation.append(_plan(f"「{s}」を診療方針として明確にし、院内掲示やウェブサイトで具体的な内容を説明する。",
                                     "高"))
    if target:
        differentiation.append(_plan(f"{target[:40]}が相談しやすい診療時間・予約枠・説明の仕方を整え、通いやすさで選ばれる"
                                     "理由を作る。", "高"))
    differentiation.append(_plan(f"{departments}でよくある相談の受診の目安や検査の流れを整理し、初診前の不安を減らす情報を"
                                 "用意する。", "中"))
    differentiation.append(_plan("初診時の問診と説明の流れを標準化し、どのスタッフでも同じ丁寧さで対応できるようにする。", "低"))

    few_sites = share is not None and share < 0.7
    marketing = [
        _plan("Googleビジネスプロフィールの診療時間・診療科・写真を最新に保ち、地図検索で正確な情報が表示されるようにする。",
              "高"),
        _plan("ウェブサイトに診療内容・費用の目安・予約方法をわかりやすく掲載する（効果の保証や他院との比較表現は用いない）。",
              "高" if few_sites else "中"),
    ]
    if few_sites:
        marketing.append(_plan("ウェブサイトを持たない競合が多いため、よくある質問や受診の流れのページを充実させ、検索で"
                               "見つけてもらう。", "中"))
    if age and total and ((age.get("65-74") or 0) + (age.get("75+") or 0)) / total >= 0.25:
        marketing.append(_plan("高齢の方やその家族にも届くよう、院内掲示・地域の広報紙など紙の情報も併用する。", "中"))
    else:
        marketing.append(_plan("スマートフォンで読みやすい情報発信とWeb予約の導線を整え、働く世代が受診を決めやすくする。",
                               "中"))

    operations = [
        _plan("予約枠と受付の流れを見直し、待ち時間の目安を患者に伝えられるようにする。", "高"),
        _plan("問診票のオンライン化などで受付業務を減らし、説明に使える時間を確保する。", "中"),
        _plan("受診後のアンケートで意見を集め、改善した点を院内やウェブサイトで報告する。", "低"),
    ]
    rng.shuffle(operations)

    def fit(items: list[dict[str, Any]], fallback: dict[str, Any]) -> list[dict[str, Any]]:
        """Distinct items (by text), 2 to 5; ``fallback`` (this group's own, never shared) only when fewer than 2."""
        unique = list({item["text"]: item for item in items}.values())
        if len(unique) < 2 and all(item["text"] != fallback["text"] for item in unique):
            unique.append(fallback)
        return unique[:5]

    return {
        "strengths": fit(strengths, _item("近隣に住む人・働く人にとって、通いやすい距離にあること自体が受診先に選ばれる理由に"
                                          "なる。")),
        "weaknesses": fit(weaknesses, _item("競合の評価・口コミ・ウェブサイトと同じ基準で、自院の見え方をまだ比べられていない。")),
        "opportunities": fit(opportunities, _item("通いやすい距離で受診先を探す人は地域に継続的にいるため、認知が広がれば来院につながる。")),
        "threats": fit(threats, _item("半径の外の医療機関やオンライン診療など、ほかの受診手段も比較の対象になりうる。")),
        "differentiation": fit(differentiation, _plan("自院の方針を一文で言い表し、院内外の案内で同じ言葉を使う。", "中")),
        "marketing": fit(marketing, _plan("診療時間・休診日の変更を地図サービスとウェブサイトに同時に反映する。", "中")),
        "operations": fit(operations, _plan("スタッフ間で患者対応の方針を共有し、説明の一貫性を保つ。", "中")),
    }


def _swot_composer(context: dict[str, Any], seed: int | None) -> dict[str, list[dict[str, Any]]]:
    return compose_competitor_swot(context, seed_for(context, seed, "competitor_swot"))


# Found by the offline provider through its composer registry; imported at start by ``medipersona.domains``.
register_offline_composer("competitor_swot", _swot_composer)
