"""An analysis (the dict of ``GET /api/competitors/{id}``) as Japanese rows for people: the result page and the
PDF/PPTX exports read these, so both show the same labels and the same formatting (one source of truth).

Nothing here invents data: a value the analysis does not hold is shown as "—" or "データなし".
"""

from __future__ import annotations

import re
from typing import Any

from medipersona.competitors.labels import AGE_BAND_LABELS, PLACES_CAP_NOTE, STRATEGY_SECTIONS, SWOT_SECTIONS
from medipersona.competitors.prompt import PRIORITIES, item_line

NO_DATA = "—"
POPULATION_SOURCE_LABELS = {"estat": "e-Stat（国勢調査）", "user": "入力値", "manual": "入力値",
                            "none": "データなし", "unavailable": "データなし"}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def distance_label(metres: Any) -> str:
    m = _num(metres)
    if m is None:
        return NO_DATA
    return f"{m / 1000:.2f}km" if m >= 1000 else f"{m:.0f}m"


def rating_label(value: Any) -> str:
    v = _num(value)
    return NO_DATA if v is None else f"{v:.1f}"


def count_label(value: Any, unit: str = "件") -> str:
    v = _num(value)
    return NO_DATA if v is None else f"{round(v):,}{unit}"


def percent_label(value: Any) -> str:
    """A share 0..1 (or 0..100) as a percentage."""
    v = _num(value)
    if v is None:
        return NO_DATA
    return f"{v * 100 if v <= 1 else v:.0f}%"


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(f"・{text(v)}" for v in value if text(v))
    if isinstance(value, dict):
        return text(value.get("text") or value.get("items") or value.get("body"))
    return str(value).strip()


def tel_href(phone: Any) -> str:
    """``tel:`` link of a Japanese phone number ('03-1234-5678' → 'tel:0312345678'); '' when it has no digits."""
    digits = re.sub(r"[^0-9+]", "", str(phone or ""))
    return f"tel:{digits}" if len(digits.lstrip("+")) >= 3 else ""


def department_name(dep_id: str) -> str:
    """A catalog department's name (an unknown id as it is)."""
    from medipersona.catalog.service import get_catalog

    dep = get_catalog().department(dep_id)
    return dep.name if dep is not None else dep_id


def _sorted_competitors(analysis: dict[str, Any]) -> list[dict[str, Any]]:
    comps = [c for c in analysis.get("competitors") or [] if isinstance(c, dict)]
    comps.sort(key=lambda c: (_num(c.get("distance_m")) if _num(c.get("distance_m")) is not None else float("inf"),
                              str(c.get("name") or "")))
    return comps


def competitor_rows(analysis: dict[str, Any]) -> list[dict[str, str]]:
    """The competitor table (sorted by distance; ``number`` matches the map's markers)."""
    rows = []
    for number, c in enumerate(_sorted_competitors(analysis), start=1):
        website = str(c.get("website") or "")
        departments = [department_name(d) for d in c.get("departments") or [] if isinstance(d, str)]
        rows.append({
            "number": str(number),
            "name": str(c.get("name") or ""),
            "address": str(c.get("address") or ""),
            "distance": distance_label(c.get("distance_m")),
            "rating": rating_label(c.get("rating")),
            "reviews": count_label(c.get("reviews")),
            "phone": str(c.get("phone") or ""),
            "tel": tel_href(c.get("phone")),
            "hours": text(c.get("hours")) or NO_DATA,
            "website": website if website.lower().startswith(("http://", "https://")) else "",
            "departments": "・".join(d for d in departments if d),
        })
    return rows


def map_points(analysis: dict[str, Any]) -> dict[str, Any]:
    """What the interactive map draws: the clinic, the radius, and each competitor with the table's number and
    the popup's fields (same labels as the table)."""
    clinic = analysis.get("clinic") or {}
    comps = _sorted_competitors(analysis)
    points = []
    for row, c in zip(competitor_rows(analysis), comps, strict=True):
        lat, lng = _num(c.get("lat")), _num(c.get("lng"))
        if lat is not None and lng is not None:
            points.append({**row, "lat": lat, "lng": lng})
    lat, lng = _num(clinic.get("lat")), _num(clinic.get("lng"))
    return {
        "clinic": {"name": str(clinic.get("name") or ""), "address": str(clinic.get("address") or ""),
                   "lat": lat, "lng": lng},
        "radius_m": (_num(analysis.get("radius_km")) or 0) * 1000,
        "competitors": points,
    }


def term_rows(analysis: dict[str, Any]) -> list[dict[str, str]]:
    """How many places each search term found (Places searches only)."""
    rows = []
    for t in (analysis.get("market") or {}).get("search_terms") or []:
        if not isinstance(t, dict):
            continue
        rows.append({
            "term": str(t.get("term") or ""),
            "departments": "・".join(str(d) for d in t.get("departments") or []),
            "found": count_label(t.get("found")) + ("（上限）" if t.get("capped") else ""),
            "in_radius": count_label(t.get("in_radius")),
            "new": count_label(t.get("new")),
        })
    return rows


def market_rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    market = analysis.get("market") or {}
    radius = analysis.get("radius_km")
    density = _num(market.get("per_km2", market.get("density_per_km2")))
    count = count_label(market.get("count"))
    rows = [
        (f"競合数（半径{radius}km）", f"{count}以上" if market.get("capped") and count != NO_DATA else count),
        ("1km²あたり", NO_DATA if density is None else f"{density:.2f}件"),
        ("平均評価", rating_label(market.get("avg_rating"))),
        ("平均口コミ数", count_label(market.get("avg_reviews"))),
        ("ウェブサイトあり", percent_label(market.get("website_share"))),
    ]
    nearest = market.get("nearest")
    if isinstance(nearest, dict) and nearest.get("name"):
        rows.append(("最寄りの競合", f"{nearest['name']}（{distance_label(nearest.get('distance_m'))}）"))
    if _num(market.get("excluded_not_clinic")):
        rows.append(("除外（薬局・店舗など）", count_label(market.get("excluded_not_clinic"))))
    if market.get("capped"):
        rows.append(("注意", PLACES_CAP_NOTE))
    if _num(market.get("searches_left_out")):
        rows.append(("検索しなかった語", f"{count_label(market.get('searches_left_out'))}（1回の分析の検索数の上限を超えたため）"))
    return rows


def band_rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    market = analysis.get("market") or {}
    return [(str(b.get("label") or ""), count_label(b.get("count")))
            for b in market.get("bands") or [] if isinstance(b, dict)]


def population_rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    """Population by age band, or a single "データなし" row: never a guessed figure."""
    pop = analysis.get("population") or {}
    bands = pop.get("age_bands") or {}
    if not bands and _num(pop.get("total")) is None:
        return [("人口データ", str(pop.get("message") or "データなし（e-Stat未設定、または入力なし）"))]
    rows = []
    if pop.get("area_name") or pop.get("area_code"):
        rows.append(("地域", " ".join(str(v) for v in (pop.get("area_name"), pop.get("area_code")) if v)))
    rows.append(("総人口", count_label(pop.get("total"), "人")))
    total = _num(pop.get("total")) or sum(_num(v) or 0 for v in bands.values())
    for key, label in AGE_BAND_LABELS.items():
        value = _num(bands.get(key))
        if value is None:
            continue
        share = f"（{value / total * 100:.1f}%）" if total else ""
        rows.append((label, f"{round(value):,}人{share}"))
    source = POPULATION_SOURCE_LABELS.get(str(pop.get("source") or ""), str(pop.get("source") or ""))
    if source:
        rows.append(("出典", source + (f"（{pop['time']}）" if pop.get("time") else "")))
    return rows


def demand_rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    demand = analysis.get("demand") or {}
    if not demand or demand.get("available") is False:
        return [("需要推計", str(demand.get("message") or "人口データがないため推計できません。"))]
    rows = []
    for key, label in (("daily_patients", "外来患者数／日（推計）"), ("monthly_patients", "外来患者数／月（推計）"),
                       ("annual_patients", "外来患者数／年（推計）")):
        if _num(demand.get(key)) is not None:
            rows.append((label, count_label(demand.get(key), "人")))
    if demand.get("area_type_label"):
        assumed = "（指定なしのため仮定）" if demand.get("area_type_assumed") else ""
        rows.append(("地域区分", f"{demand['area_type_label']}{assumed}"))
    if demand.get("groups"):
        rows.append(("診療科グループ", "、".join(str(g.get("label", "")) for g in demand["groups"]
                                            if isinstance(g, dict))))
    return rows


def demand_method(analysis: dict[str, Any]) -> str:
    """How the estimate was made (method, formula, the calculation, the note on the sample rates)."""
    demand = analysis.get("demand") or {}
    if not demand.get("available"):
        return ""
    return "\n".join(text(demand.get(k)) for k in ("method", "formula", "calculation", "note") if demand.get(k))


def swot_items(value: Any, *, by_priority: bool = False) -> list[dict[str, str]]:
    """Items of one SWOT/strategy key as {"text", "evidence", "priority"} (older analyses stored plain strings);
    strategies sorted 高 → 中 → 低 when ``by_priority``."""
    items = []
    for item in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
        if isinstance(item, str) and item.strip():
            items.append({"text": item.strip(), "evidence": "", "priority": ""})
        elif isinstance(item, dict) and str(item.get("text") or "").strip():
            priority = str(item.get("priority") or "")
            items.append({"text": str(item["text"]).strip(), "evidence": str(item.get("evidence") or ""),
                          "priority": priority if priority in PRIORITIES else ""})
    if by_priority:
        rank = {p: i for i, p in enumerate(PRIORITIES)}
        items.sort(key=lambda i: rank.get(i["priority"], len(PRIORITIES)))
    return items


def _lines(items: list[dict[str, str]]) -> str:
    return "\n".join(f"・{item_line({k: v for k, v in i.items() if v})}" for i in items)


def _strategies(analysis: dict[str, Any]) -> dict[str, Any]:
    swot = analysis.get("swot") or {}
    strategies = swot.get("strategies")
    return strategies if isinstance(strategies, dict) else swot


def swot_blocks(analysis: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, label, text) of the four SWOT quadrants (text: one line per item, its evidence after it)."""
    swot = analysis.get("swot") or {}
    return [(key, label, _lines(swot_items(swot.get(key)))) for key, label in SWOT_SECTIONS]


def strategy_blocks(analysis: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, label, text) of the strategy groups, 高 first (text: one line per item with its priority)."""
    strategies = _strategies(analysis)
    return [(key, label, _lines(swot_items(strategies.get(key), by_priority=True))) for key, label in STRATEGY_SECTIONS]


def swot_item_blocks(analysis: dict[str, Any]) -> list[tuple[str, str, list[dict[str, str]]]]:
    """(key, label, items) of the SWOT quadrants for the page (evidence shown beside each item)."""
    swot = analysis.get("swot") or {}
    return [(key, label, swot_items(swot.get(key))) for key, label in SWOT_SECTIONS]


def strategy_item_blocks(analysis: dict[str, Any]) -> list[tuple[str, str, list[dict[str, str]]]]:
    """(key, label, items) of the strategy groups for the page (priority badges), 高 first."""
    strategies = _strategies(analysis)
    return [(key, label, swot_items(strategies.get(key), by_priority=True)) for key, label in STRATEGY_SECTIONS]


def clinic_rows(analysis: dict[str, Any]) -> list[tuple[str, str]]:
    clinic = analysis.get("clinic") or {}
    departments = "、".join(d.get("name", "") for d in analysis.get("departments") or [] if isinstance(d, dict))
    lat, lng = _num(clinic.get("lat")), _num(clinic.get("lng"))
    return [
        ("医院名", str(clinic.get("name") or "")),
        ("住所", " ".join(v for v in (f"〒{clinic['postal_code']}" if clinic.get("postal_code") else "",
                                     str(clinic.get("address") or "")) if v) or NO_DATA),
        ("位置", f"{lat:.5f}, {lng:.5f}" if lat is not None and lng is not None else NO_DATA),
        ("診療科", departments or NO_DATA),
        ("分析範囲", f"半径{analysis.get('radius_km')}km"),
        ("競合データ", str(analysis.get("source_label") or analysis.get("source") or "")),
        ("強み・特徴", str(clinic.get("strengths") or NO_DATA)),
        ("主なターゲット層", str(clinic.get("target") or NO_DATA)),
    ]
