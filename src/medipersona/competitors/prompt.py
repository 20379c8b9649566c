"""The SWOT / strategy request: facts only from the analysis data, labels instead of codes, and the rules of
医療広告ガイドライン (no cure promises, no superlatives, no claims of superiority over other clinics, no
testimonials as inducement)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from medipersona.competitors.labels import PLACES_CAP_NOTE, STRATEGY_SECTIONS
from medipersona.competitors.labels import SWOT_SECTIONS as SWOT_QUADRANTS

# The SWOT quadrants then the strategy groups: the keys of ``swot`` and of the streamed ``delta`` events.
SWOT_SECTIONS: tuple[tuple[str, str], ...] = SWOT_QUADRANTS + STRATEGY_SECTIONS
SWOT_KEYS = tuple(k for k, _ in SWOT_SECTIONS)
SWOT_LABELS = dict(SWOT_SECTIONS)
ITEM_MAX = 300


EVIDENCE_MAX = 60
PRIORITIES = ("高", "中", "低")


def _clean_text(value: str | None) -> str | None:
    """Stripped; a blank string is refused (``None`` stays: an evidence may be absent)."""
    if value is None:
        return value
    value = value.strip()
    if not value:
        raise ValueError("空の項目があります")
    return value


class SwotItem(BaseModel):
    """One SWOT point; ``evidence`` cites what it rests on: a competitor's number or a figure of the data."""

    text: str = Field(max_length=ITEM_MAX)
    evidence: str | None = Field(None, max_length=EVIDENCE_MAX,
                                 description="根拠（例: 競合No.3、65歳以上 28%、半径3km内 競合12件）。なければ null")

    _clean = field_validator("text", "evidence")(_clean_text)


class StrategyItem(BaseModel):
    """One strategy with its priority (高 first: what to do soonest)."""

    text: str = Field(max_length=ITEM_MAX)
    priority: Literal["高", "中", "低"]

    _clean = field_validator("text")(_clean_text)


def _swot():
    return Field(min_length=2, max_length=6)


class CompetitorSwot(BaseModel):
    strengths: list[SwotItem] = _swot()
    weaknesses: list[SwotItem] = _swot()
    opportunities: list[SwotItem] = _swot()
    threats: list[SwotItem] = _swot()
    differentiation: list[StrategyItem] = _swot()
    marketing: list[StrategyItem] = _swot()
    operations: list[StrategyItem] = _swot()


def item_line(item: Any) -> str:
    """One item as a line of text: the streamed deltas and plain-text exports. The evidence and the priority
    come after the text, so a line being streamed only ever grows."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return ""
    line = str(item.get("text") or "")
    if item.get("evidence"):
        line += f"（根拠: {item['evidence']}）"
    if item.get("priority"):
        line += f"〔優先度: {item['priority']}〕"
    return line


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
    departments = [dep.name if (dep := catalog.department(d)) else d for d in clinic.get("departments", [])]
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
        *([f"- 競合は自院と同じ診療科の医療機関（検索語: {'・'.join(t['term'] for t in m['search_terms'])}）"]
          if m.get("search_terms") else []),
        "",
        "## 近い競合（距離順）",
    ]
    for i, comp in enumerate(context["competitors"], start=1):
        lines.append(f"No.{i} {comp['name']}（{_fmt(comp['distance_m'], 'm', 0)}・評価 {_fmt(comp['rating'], '', 1)}・"
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
    from medipersona.providers.base import addendum_lines

    lines += addendum_lines(addendum)
    lines += [
        "",
        "## 出力",
        "各項目を2〜5個の箇条（1項目60〜150文字程度）で書いてください。上のデータにない事実は書かないでください。",
        "- strengths / weaknesses / opportunities / threats: 自院のSWOT。各箇条の text に内容、evidence に根拠を"
        "短く書く（競合なら「競合No.3」のように上の一覧の番号、統計なら「65歳以上 28%」のように数値）。"
        "データに根拠がない箇条の evidence は null。",
        "- differentiation: 差別化戦略 / marketing: マーケティング戦略 / operations: オペレーション改善。"
        "各箇条の text に内容、priority に優先度（高・中・低）。高は効果が大きくすぐ着手すべきもの。",
    ]
    return "\n".join(lines)


def build_request(context: dict[str, Any], seed: int | None, model: str = "", addendum: str = ""):
    from medipersona.providers.base import structured_request

    return structured_request("competitor_swot", system=SYSTEM_PROMPT, prompt=build_prompt(context, addendum),
                              schema=CompetitorSwot, model=model, max_output_tokens=4000, temperature=0.7, seed=seed,
                              context=context)
