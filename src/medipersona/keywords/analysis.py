"""Timeline analysis: output schema, the context handed to the provider, and the prompt.

The provider gets a ``TextRequest(task="timeline_analysis", context=...)``; real models read the prompt, the
offline provider composes from the context (``keywords/offline_analysis.py``). The context holds the timeline
summary, categories before/after, peak day, urgency, a bounded keyword sample and a persona summary — nothing
else (no full persona inputs, bounded size).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medipersona.catalog.labels import age_label, gender_label
from medipersona.catalog.service import get_catalog
from medipersona.keywords.categories import DISPLAY_ORDER

ANALYSIS_HEADINGS: tuple[tuple[str, str], ...] = (
    ("psychology", "心理変化の分析"),
    ("hidden_needs", "隠れたニーズ"),
    ("marketing", "マーケティング提案"),
)
SAMPLE_PER_PHASE = 12  # keywords before and after the search handed to the model
MAX_SECTION_CHARS = 900


class TimelineAnalysis(BaseModel):
    """The stored analysis (Persona.timeline_analysis holds these keys plus ``meta``)."""

    model_config = ConfigDict(extra="ignore")

    psychology: str = Field(..., min_length=20, max_length=2000, title="心理変化の分析",
                            description="主訴の検索前後で患者の心理・関心がどう変化するか")
    hidden_needs: str = Field(..., min_length=20, max_length=2000, title="隠れたニーズ",
                              description="検索行動から読み取れる、表に出にくいニーズ")
    marketing: str = Field(..., min_length=20, max_length=2000, title="マーケティング提案",
                           description="医療広告ガイドラインに沿った、クリニックの具体的な施策")


def timeline_urgency(near_share: float, same_day_share: float, peak_day: int | None) -> dict[str, Any]:
    """How quickly people act, agreeing with the timeline's own numbers.

    The score weighs the share of pre-search interest in the last 7 days (60 %) and same-day searches (40 %).
    「高」 needs a high score AND a peak within a week of the search; a high score with a peak far away is 「中」;
    a peak within a week with a quarter of the interest in the last 7 days is never 「低」. The description
    states the numbers it rests on."""
    score = round(100 * (0.6 * near_share + 0.4 * same_day_share))
    peak_near = peak_day is not None and -7 <= peak_day <= 7
    peak_far = peak_day is None or abs(peak_day) > 30
    if score >= 60 and peak_near:
        level = "high"
    elif score >= 60 or (score >= 35 and not peak_far) or (peak_near and near_share >= 0.25):
        level = "medium"
    else:
        level = "low"
    label, note = {
        "high": ("高", "検索から受診・行動までが短く、すぐに解決したいニーズが強い"),
        "medium": ("中", "数日〜数週間の比較検討を経て行動する傾向"),
        "low": ("低", "長期間にわたって情報収集し、じっくり検討する傾向"),
    }[level]
    peak = "ピーク日なし" if peak_day is None else f"関連検索のピークは主訴の検索の{abs(peak_day)}日{'前' if peak_day < 0 else '後'}" \
        if peak_day else "関連検索のピークは主訴の検索と同じ日"
    numbers = f"検索前の関心のうち直近7日間が{round(near_share * 100)}%、{peak}"
    return {"level": level, "label": label, "score": score, "description": f"{note}（{numbers}）",
            "near_before_share": round(near_share, 3), "same_day_share": round(same_day_share, 3),
            "peak_day": peak_day}


def consistent_urgency(summary: dict[str, Any]) -> dict[str, Any]:
    """The urgency of a timeline summary recomputed from its numbers (peak day, share in the last 7 days)."""
    urgency = summary.get("urgency") or {}
    return timeline_urgency(float(urgency.get("near_before_share") or 0.0),
                            float(urgency.get("same_day_share") or 0.0), summary.get("peak_day"))


def _keyword_sample(series: list[dict], phase: str, limit: int) -> list[dict]:
    from medipersona.keywords.hygiene import is_noise

    chosen = sorted((p for p in series if p["phase"] == phase and not is_noise(p["keyword"])),
                    key=lambda p: -p["overlap"])[:limit]
    return [
        {"keyword": p["keyword"][:60], "days": round(p["days"], 1), "overlap": p["overlap"],
         "estimated_volume": p["estimated_volume"], "category": p["category"]}
        for p in chosen
    ]


def persona_summary(persona: Any) -> dict[str, Any]:
    """The few persona facts the analysis needs (labels, not codes; no free-text inputs beyond excerpts)."""
    profile = persona.profile or {}
    catalog = get_catalog()
    dep = catalog.department(persona.department_id)
    cc = catalog.chief_complaint(persona.chief_complaint_id)
    age = profile.get("age")
    sections = persona.sections or {}
    return {
        "name": str(profile.get("name") or persona.name or "")[:40],
        "gender": gender_label(profile.get("gender")),
        "age": age_label(age, int(profile.get("age_months") or 0)) if isinstance(age, int) else None,
        "occupation": str(profile.get("occupation") or "")[:60],
        "family": str(profile.get("family") or "")[:80],
        "department": dep.name if dep else persona.department_id,
        "chief_complaint": cc.name if cc else persona.chief_complaint_id,
        "reason": str(sections.get("reason") or "")[:240],
        "behavior": str(sections.get("behavior") or "")[:240],
    }


def build_context(persona: Any, timeline: dict[str, Any]) -> dict[str, Any]:
    summary = timeline["summary"]
    series = timeline["series"]
    return {
        "persona": persona_summary(persona),
        "dataset": {"level": timeline["dataset"]["level"], "is_sample": timeline["dataset"]["is_sample"]},
        "filters": {k: timeline["filters"].get(k) for k in ("gender", "age_band", "age_band_label")},
        "summary": {
            "total": summary["total"],
            "before_count": summary["before_count"],
            "after_count": summary["after_count"],
            "before_volume": summary["before_volume"],
            "after_volume": summary["after_volume"],
            "days_min": summary["days_min"],
            "days_max": summary["days_max"],
        },
        "peak_day": summary["peak_day"],
        "urgency": consistent_urgency(summary),
        "categories_before": {c: summary["categories_before"].get(c, 0) for c in DISPLAY_ORDER},
        "categories_after": {c: summary["categories_after"].get(c, 0) for c in DISPLAY_ORDER},
        "keywords_before": _keyword_sample(series, "before", SAMPLE_PER_PHASE),
        "keywords_after": _keyword_sample(series, "after", SAMPLE_PER_PHASE),
    }


SYSTEM_PROMPT = (
    "あなたは日本の医療機関向けマーケティングの専門家です。検索キーワードの時系列データと架空の患者ペルソナから、"
    "患者の心理変化・隠れたニーズ・クリニックの施策を分析します。医療広告ガイドラインを守り、治療効果の保証、"
    "「必ず治る」などの表現、他院との比較優良表示、体験談による誘引は提案しないでください。"
    "出力は指定されたJSONスキーマに厳密に従った日本語のJSONオブジェクトだけにしてください。"
)


def build_prompt(context: dict[str, Any], addendum: str = "") -> str:
    """``addendum``: extra instructions an admin configured (the system prompt's rules still apply)."""
    p = context["persona"]
    s = context["summary"]
    lines = [
        "## ペルソナ",
        f"- {p['name']}（{p.get('gender') or '性別不明'}・{p.get('age') or '年齢不明'}）"
        f" {p.get('occupation') or ''} {p.get('family') or ''}".rstrip(),
        f"- 診療科: {p['department']} / 主訴: {p['chief_complaint']}",
    ]
    if p.get("reason"):
        lines.append(f"- 通院理由（抜粋）: {p['reason']}")
    lines += [
        "",
        "## 検索タイムラインの要約（主訴の検索を0日として前後の関連検索）",
        f"- 関連キーワード数: {s['total']}（検索前 {s['before_count']} / 検索後 {s['after_count']}）",
        f"- ピーク日: {context['peak_day']}日",
        f"- 緊急度: {context['urgency']['label']}（{context['urgency']['description']}）",
        "- カテゴリ（検索前）: " + json.dumps(context["categories_before"], ensure_ascii=False),
        "- カテゴリ（検索後）: " + json.dumps(context["categories_after"], ensure_ascii=False),
        "",
        "## 代表的なキーワード（日数・重複ボリューム・カテゴリ）",
    ]
    for label, key in (("検索前", "keywords_before"), ("検索後", "keywords_after")):
        items = "、".join(f"{k['keyword']}（{k['days']:+.1f}日・{k['overlap']}人・{k['category']}）"
                         for k in context[key]) or "なし"
        lines.append(f"- {label}: {items}")
    if context["dataset"]["is_sample"]:
        lines.append("\n※ キーワードデータは架空のサンプルデータです。")
    from medipersona.providers.base import addendum_lines

    lines += addendum_lines(addendum)
    lines += [
        "",
        "## 出力",
        "次の3項目を、それぞれ200〜400文字程度の日本語で書いてください。",
        "- psychology: 心理変化の分析（検索前→検索後で関心・不安がどう移るか、数値に触れながら）",
        "- hidden_needs: 隠れたニーズ（キーワードから読み取れる、患者が口にしにくい要望）",
        "- marketing: マーケティング提案（医療広告ガイドラインに沿った具体的な施策を3つ程度）",
    ]
    return "\n".join(lines)


def build_request(context: dict[str, Any], seed: int | None, model: str = "", addendum: str = ""):
    from medipersona.providers.base import structured_request

    return structured_request("timeline_analysis", system=SYSTEM_PROMPT, prompt=build_prompt(context, addendum),
                              schema=TimelineAnalysis, model=model, max_output_tokens=3000, temperature=0.7, seed=seed,
                              context=context)
