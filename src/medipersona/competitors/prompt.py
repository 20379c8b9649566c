"""The SWOT / strategy request: facts only from the analysis data, labels instead of codes, and the rules of
医療広告ガイドライン (no cure promises, no superlatives, no claims of superiority over other clinics, no
testimonials as inducement)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from medipersona.competitors.labels import PLACES_CAP_NOTE, STRATEGY_SECTIONS
from medipersona.competitors.labels import SWOT_SECTIONS as SWOT_QUADRANTS

# The SWOT quadrants then the strategy groups: the keys of ``swot`` and of the streamed ``delta`` events.
SWOT_SECTIONS: tuple[tuple[str, str], ...] = SWOT_QUADRANTS + STRATEGY_SECTIONS
SWOT_KEYS = tuple(k for k, _ in SWOT_SECTIONS)
SWOT_LABELS = dict(SWOT_SECTIONS)
ITEM_MAX = 300


def _items():
    return Field(min_length=2, max_length=6)


class CompetitorSwot(BaseModel):
    strengths: list[str] = _items()
    weaknesses: list[str] = _items()
    opportunities: list[str] = _items()
    threats: list[str] = _items()
    differentiation: list[str] = _items()
    marketing: list[str] = _items()
    operations: list[str] = _items()

    @field_validator("*")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        out = [v.strip() for v in value]
        if any(not v for v in out):
            raise ValueError("空の項目があります")
        if any(len(v) > ITEM_MAX for v in out):
            raise ValueError(f"各項目は{ITEM_MAX}文字以内にしてください")
        return out


SYSTEM_PROMPT = (
    "あなたは日本の診療所の経営とマーケティングを支援するアナリストです。与えられたデータだけを根拠に、"
    "自院のSWOT分析（強み・弱み・機会・脅威）と、差別化戦略・マーケティング戦略・オペレーション改善の提案を"
    "日本語で書きます。データにない数値や事実（競合の評判・患者数・設備など）を作らないでください。"
    "医療広告ガイドラインに従い、「必ず治る」などの効果の保証、「地域一番」「最高」などの最上級表現、"
    "他院より優れていると示す比較広告、体験談による誘引は提案しないでください。"
    "出力は指定されたJSONスキーマに厳密に従った日本語のJSONオブジェクトだけにしてください。"
)


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "データなし"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def build_context(analysis: dict[str, Any]) -> dict[str, Any]:
    """The facts the text is built from (also the offline composer's input)."""
    from medipersona.catalog.service import get_catalog

    catalog = get_catalog()
    clinic = analysis["clinic"]
    departments = [catalog.department(d).name if catalog.department(d) else d for d in clinic.get("departments", [])]
    competitors = analysis.get("competitors") or []
    top = [{"name": c.get("name", ""), "distance_m": c.get("distance_m"), "rating": c.get("rating"),
            "reviews": c.get("reviews"), "has_website": bool(c.get("website"))} for c in competitors[:15]]
    return {
        "clinic": {"name": clinic.get("name", ""), "address": clinic.get("address") or "",
                   "departments": departments, "strengths": clinic.get("strengths") or "",
                   "target": clinic.get("target") or ""},
        "radius_km": analysis["radius_km"],
        "source_label": analysis.get("source_label", ""),
        "market": analysis.get("market") or {},
        "competitors": top,
        "population": analysis.get("population") or {},
        "demand": analysis.get("demand") or {},
    }


def build_prompt(context: dict[str, Any], addendum: str = "") -> str:
    """``addendum``: extra instructions an admin configured (the system prompt's rules still apply)."""
    c = context["clinic"]
    m = context["market"]
    lines = [
        "## 自院",
        f"- 名称: {c['name']}",
        f"- 診療科: {'・'.join(c['departments'])}",
        f"- 所在地: {c['address'] or '未入力'}",
        f"- 強み・特徴: {c['strengths'] or '未入力'}",
        f"- 主なターゲット層: {c['target'] or '未入力'}",
        "",
        f"## 商圏（半径{context['radius_km']}km、競合の出典: {context['source_label']}）",
        f"- 競合数: {_fmt(m.get('count'), '件')}（1km²あたり {_fmt(m.get('per_km2'), '件', 2)}）",
        f"- 競合の平均評価: {_fmt(m.get('avg_rating'), '', 2)}（評価のある{_fmt(m.get('rated_count'), '件')}）",
        f"- 競合の平均口コミ数: {_fmt(m.get('avg_reviews'), '件')}",
        f"- ウェブサイトのある競合: {_fmt(m.get('website_count'), '件')}"
        + (f"（{m['website_share'] * 100:.0f}%）" if m.get("website_share") is not None else ""),
        "- 距離帯別の競合数: " + "、".join(f"{b['label']} {b['count']}件" for b in m.get("bands", [])),
        *([f"- 注意: {PLACES_CAP_NOTE}競合数・密度は下限として扱うこと。"] if m.get("capped") else []),
        "",
        "## 近い競合（距離順）",
    ]
    for i, comp in enumerate(context["competitors"], start=1):
        lines.append(f"{i}. {comp['name']}（{_fmt(comp['distance_m'], 'm', 0)}・評価 {_fmt(comp['rating'], '', 1)}・"
                     f"口コミ {_fmt(comp['reviews'], '件')}・ウェブサイト{'あり' if comp['has_website'] else 'なし'}）")
    if not context["competitors"]:
        lines.append("- 半径内に競合は見つかりませんでした。")
    pop = context["population"]
    lines += ["", "## 地域の人口"]
    if pop.get("age_bands"):
        total = pop.get("total") or sum(pop["age_bands"].values())
        lines.append(f"- {pop.get('area_name') or '対象地域'}: 総人口 {_fmt(total, '人')}（出典: {pop.get('source_detail', '')}）")
        lines.append("- 年齢別: " + "、".join(
            f"{band}歳 {_fmt(v, '人')}（{v / total * 100:.1f}%）" if total else f"{band}歳 {_fmt(v, '人')}"
            for band, v in pop["age_bands"].items()))
    else:
        lines.append(f"- データなし（{pop.get('message') or '人口データは取得していません'}）")
    demand = context["demand"]
    lines += ["", "## 需要推計"]
    if demand.get("available"):
        lines.append(f"- 1日あたり推計外来患者数: {_fmt(demand['daily_patients'], '人')}"
                     f"（{demand['area_type_label']}、{'・'.join(g['label'] for g in demand['groups'])}、"
                     "受療率は概算のサンプル値）")
    else:
        lines.append("- 推計なし（人口データがないため）")
    if addendum.strip():
        lines += ["", "## 追加の指示", addendum.strip()]
    lines += [
        "",
        "## 出力",
        "各項目を2〜5個の箇条（1項目60〜150文字程度）で書いてください。上のデータにない事実は書かないでください。",
        "- strengths / weaknesses / opportunities / threats: 自院のSWOT",
        "- differentiation: 差別化戦略 / marketing: マーケティング戦略 / operations: オペレーション改善",
    ]
    return "\n".join(lines)


def build_request(context: dict[str, Any], seed: int | None, model: str = "", addendum: str = ""):
    from medipersona.providers.base import TextRequest

    return TextRequest(
        task="competitor_swot",
        system=SYSTEM_PROMPT,
        prompt=build_prompt(context, addendum),
        schema=CompetitorSwot.model_json_schema(),
        schema_name="competitor_swot",
        model=model,
        max_output_tokens=4000,
        temperature=0.7,
        seed=seed,
        context=context,
    )
