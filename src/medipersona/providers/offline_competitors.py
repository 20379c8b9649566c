"""Offline SWOT and strategies for a competitor analysis: rule-based Japanese text built only from the facts in
the context (``competitors/prompt.py:build_context``): competitor count and density, ratings, reviews,
websites, distance bands, population by age, the demand estimate, the clinic's own strengths and target.
Deterministic under ``seed``. Wording follows 医療広告ガイドライン: no cure promises, no superlatives, no claims
of superiority over other clinics, no testimonials as inducement.
"""

from __future__ import annotations

import random
import re
from typing import Any


def _pieces(text: str, limit: int = 3) -> list[str]:
    parts = [p.strip(" 　・-") for p in re.split(r"[、,。\n/／]+", text or "")]
    return [p for p in parts if p][:limit]


def _pct(part: float, whole: float) -> int:
    return round(100 * part / whole) if whole else 0


def compose_competitor_swot(context: dict[str, Any], seed: int | None) -> dict[str, list[str]]:
    rng = random.Random(seed or 0)
    clinic = context.get("clinic") or {}
    market = context.get("market") or {}
    pop = context.get("population") or {}
    demand = context.get("demand") or {}
    radius = context.get("radius_km")
    departments = "・".join(clinic.get("departments") or []) or "自院の診療科"
    count = int(market.get("count") or 0)
    strengths_given = _pieces(clinic.get("strengths", ""))
    target = (clinic.get("target") or "").strip()
    bands = market.get("bands") or []
    near = bands[0] if bands else None

    strengths = [f"「{s}」という特徴を、受診を検討している人に具体的に伝えられる。" for s in strengths_given]
    if len(clinic.get("departments") or []) > 1:
        strengths.append(f"{departments}を一つの医院で相談できるため、複数の悩みをまとめて相談したい人の選択肢になりやすい。")
    if target:
        strengths.append(f"主なターゲット層（{target[:40]}）が明確で、情報発信や診療体制の方針を絞り込みやすい。")
    strengths.append(f"{departments}として、地域の人が日常的に相談できる身近な窓口になれる。")

    weaknesses = []
    if not strengths_given:
        weaknesses.append("強み・特徴が入力されておらず、選ばれる理由を言葉にして伝える準備がまだ整っていない。")
    if not target:
        weaknesses.append("主なターゲット層が定まっておらず、情報発信の内容が総花的になりやすい。")
    avg_reviews = market.get("avg_reviews")
    if isinstance(avg_reviews, (int, float)) and avg_reviews > 0:
        weaknesses.append(f"周辺の競合は平均{avg_reviews:,.0f}件の口コミを集めており、自院の情報が比較の場で目に触れにくい可能性がある。")
    weaknesses.append("この分析には自院の評価・口コミ数が含まれていないため、評判面での現状把握が今後の課題になる。")
    if count >= 5:
        weaknesses.append(f"半径{radius}km内に{count}件の医療機関があり、立地だけでは選ばれる理由になりにくい。")

    opportunities = []
    share = market.get("website_share")
    if share is not None and share < 0.7:
        opportunities.append(f"ウェブサイトを持つ競合は{share * 100:.0f}%にとどまり、診療内容や受診の流れを丁寧に発信することで"
                             "情報を探す人に見つけてもらいやすい。")
    age = pop.get("age_bands") or {}
    total = sum(v for v in age.values() if isinstance(v, int))
    if total:
        elderly = (age.get("65-74") or 0) + (age.get("75+") or 0)
        children = age.get("0-14") or 0
        opportunities.append(f"{pop.get('area_name') or '地域'}では65歳以上が{_pct(elderly, total)}%を占め、"
                             "継続的な通院や生活習慣の相談へのニーズが見込める。")
        if children:
            opportunities.append(f"15歳未満が{_pct(children, total)}%おり、子育て世帯が受診しやすい体制づくりにも需要がある。")
    if demand.get("available"):
        opportunities.append(f"需要推計（概算）では地域の{'・'.join(g['label'] for g in demand.get('groups', []))}の外来患者が"
                             f"1日あたり約{demand['daily_patients']:,.0f}人と見込まれ、一定の受診需要がある。")
    if count == 0:
        opportunities.append(f"半径{radius}km内に同種の医療機関が見つからず、地域の受診先として認知されれば選ばれやすい。")
    elif near is not None and near.get("count", 0) == 0:
        opportunities.append(f"{near['label']}には競合がなく、近隣住民にとって最も通いやすい選択肢になりうる。")
    opportunities.append("オンライン予約や診療時間の情報を整えることで、忙しい世代の受診のきっかけを作れる。")

    threats = []
    if count:
        threats.append(f"半径{radius}km内に{count}件の競合があり（1km²あたり{market.get('per_km2', 0):.2f}件）、"
                       "患者にとって選択肢が多い。")
    nearest = market.get("nearest")
    if nearest:
        threats.append(f"最も近い競合（{nearest['name']}）は約{nearest['distance_m']:,.0f}mの距離にあり、同じ患者層を"
                       "取り合う可能性がある。")
    avg_rating = market.get("avg_rating")
    if isinstance(avg_rating, (int, float)):
        threats.append(f"競合の平均評価は{avg_rating:.1f}で、口コミサイトで比較されたときの見え方に注意が必要である。")
    threats.append("診療時間や予約方法の利便性が比べられやすく、対応が遅れると受診先の候補から外れるおそれがある。")

    differentiation = []
    for s in strengths_given[:2]:
        differentiation.append(f"「{s}」を診療方針として明確にし、院内掲示やウェブサイトで具体的な内容を説明する。")
    if target:
        differentiation.append(f"{target[:40]}が相談しやすい診療時間・予約枠・説明の仕方を整え、通いやすさで選ばれる理由を作る。")
    differentiation.append(f"{departments}でよくある相談の受診の目安や検査の流れを整理し、初診前の不安を減らす情報を用意する。")
    differentiation.append("初診時の問診と説明の流れを標準化し、どのスタッフでも同じ丁寧さで対応できるようにする。")

    marketing = [
        "Googleビジネスプロフィールの診療時間・診療科・写真を最新に保ち、地図検索で正確な情報が表示されるようにする。",
        "ウェブサイトに診療内容・費用の目安・予約方法をわかりやすく掲載する（効果の保証や他院との比較表現は用いない）。",
    ]
    if share is not None and share < 0.7:
        marketing.append("ウェブサイトを持たない競合が多いため、よくある質問や受診の流れのページを充実させ、検索で見つけてもらう。")
    if age and total and ((age.get("65-74") or 0) + (age.get("75+") or 0)) / total >= 0.25:
        marketing.append("高齢の方やその家族にも届くよう、院内掲示・地域の広報紙など紙の情報も併用する。")
    else:
        marketing.append("スマートフォンで読みやすい情報発信とWeb予約の導線を整え、働く世代が受診を決めやすくする。")

    operations = [
        "予約枠と受付の流れを見直し、待ち時間の目安を患者に伝えられるようにする。",
        "問診票のオンライン化などで受付業務を減らし、説明に使える時間を確保する。",
        "受診後のアンケートで意見を集め、改善した点を院内やウェブサイトで報告する。",
    ]
    rng.shuffle(operations)

    def fit(items: list[str], fallback: str) -> list[str]:
        """Distinct items, 2 to 5; ``fallback`` (this group's own, never shared) only when fewer than 2."""
        unique = list(dict.fromkeys(items))
        if len(unique) < 2 and fallback not in unique:
            unique.append(fallback)
        return unique[:5]

    return {
        "strengths": fit(strengths, "近隣に住む人・働く人にとって、通いやすい距離にあること自体が受診先に選ばれる理由になる。"),
        "weaknesses": fit(weaknesses, "競合の評価・口コミ・ウェブサイトと同じ基準で、自院の見え方をまだ比べられていない。"),
        "opportunities": fit(opportunities, "地域の年齢別人口を入力すると、見込める受診需要をより具体的に見極められる。"),
        "threats": fit(threats, "半径の外の医療機関やオンライン診療など、ほかの受診手段も比較の対象になりうる。"),
        "differentiation": fit(differentiation, "自院の方針を一文で言い表し、院内外の案内で同じ言葉を使う。"),
        "marketing": fit(marketing, "診療時間・休診日の変更を地図サービスとウェブサイトに同時に反映する。"),
        "operations": fit(operations, "スタッフ間で患者対応の方針を共有し、説明の一貫性を保つ。"),
    }
