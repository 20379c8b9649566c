"""Demand estimate: outpatient rates by age band × population × an area-type factor, with the method shown.

The rates (``data/outpatient_rates.json``) are our own approximations in the shape of 患者調査 (per 100,000
people per day, by age band and department group), labelled as sample figures. Departments map to groups in
that one file; an analysis with several departments counts each group once.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

RATES_FILE = Path(__file__).with_name("data") / "outpatient_rates.json"
BANDS = ("0-14", "15-64", "65-74", "75+")
DEFAULT_AREA_TYPE = "suburban"


@lru_cache
def rate_table() -> dict[str, Any]:
    return json.loads(RATES_FILE.read_text(encoding="utf-8"))


def groups_for(department_ids: list[str]) -> list[str]:
    table = rate_table()["groups"]
    out = []
    for dep_id in department_ids:
        group = next((g for g, spec in table.items() if dep_id in spec["departments"]), "other")
        if group not in out:
            out.append(group)
    return out


def estimate(population: dict[str, Any] | None, department_ids: list[str],
             area_type: str | None) -> dict[str, Any]:
    """The estimate as a dict: ``available`` False (with ``reason``) when there is no age-band population."""
    table = rate_table()
    bands = (population or {}).get("age_bands") if population else None
    if not bands or not all(isinstance(bands.get(b), int) for b in BANDS):
        return {"available": False,
                "message": "年齢別人口のデータがないため、需要推計は行っていません。"}
    assumed = area_type not in table["area_types"]
    area_key = DEFAULT_AREA_TYPE if assumed else area_type
    area = table["area_types"][area_key]
    factor = float(area["factor"])
    groups = groups_for(department_ids)
    rows = []
    per_day = 0.0
    for band in BANDS:
        rate = sum(table["groups"][g]["rates"][band] for g in groups)
        patients = bands[band] * rate / 100_000 * factor
        per_day += patients
        rows.append({"band": band, "population": bands[band], "rate_per_100k": rate,
                     "patients_per_day": round(patients, 1)})
    days = int(table["working_days_per_month"])
    group_labels = "・".join(table["groups"][g]["label"] for g in groups)
    formula = ("1日あたり推計外来患者数 = Σ（年齢階級別人口 × 外来受療率（人口10万対）÷ 100,000）× 地域係数"
               f"（{area['label']} {factor:g}）")
    terms = " + ".join(f"{r['population']:,}人×{r['rate_per_100k']:,}/10万" for r in rows)
    return {
        "available": True,
        "groups": [{"id": g, "label": table["groups"][g]["label"]} for g in groups],
        "area_type": area_key,
        "area_type_label": area["label"],
        "area_type_assumed": assumed,
        "factor": factor,
        "rows": rows,
        "daily_patients": round(per_day, 1),
        "monthly_patients": round(per_day * days),
        "annual_patients": round(per_day * days * 12),
        "working_days_per_month": days,
        "population_area": (population or {}).get("area_name") or "",
        "formula": formula,
        "calculation": (f"（{terms}）× {factor:g} ≒ {per_day:,.1f}人/日、× {days}日 ≒ {per_day * days:,.0f}人/月、"
                        f"× 12か月 ≒ {per_day * days * 12:,.0f}人/年"),
        "method": (f"{(population or {}).get('area_name') or '対象地域'}の年齢別人口に、{group_labels}の外来受療率"
                   "（概算のサンプル値）を掛けて合計し、地域係数で補正しました。"
                   + ("地域の種類が指定されていないため「郊外」として計算しています。" if assumed else "")),
        "note": table["note"],
        "is_sample": bool(table.get("is_sample")),
    }


async def load_rates() -> dict[str, Any]:
    """The rate table, read in a worker thread the first time (no file I/O on the event loop)."""
    import anyio.to_thread

    if rate_table.cache_info().currsize:
        return rate_table()
    return await anyio.to_thread.run_sync(rate_table)
