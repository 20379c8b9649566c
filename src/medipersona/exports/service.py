"""Export documents: a stored persona turned into plain data for the export process (runs in the web worker).

Everything here is light (no fpdf/pptx/PIL): it reads the database and the stored portrait's bytes (never a
URL), asks the keyword store for the timeline series, and returns dicts/lists/strings the pool can pickle.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from medipersona import localtime
from medipersona.catalog.labels import (
    EXTRA_FIELDS,
    PERSONA_SECTIONS,
    PROFILE_FIELDS,
    age_label,
    gender_label,
    income_label,
)
from medipersona.catalog.service import get_catalog
from medipersona.keywords.analysis import ANALYSIS_HEADINGS  # (key, 見出し) of the stored analysis
from medipersona.personas.models import Persona
from medipersona.settings import Settings

log = logging.getLogger("medipersona.exports")

MAX_EXTRA_FIELDS = 40


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(_text(v) for v in value if v not in (None, ""))
    return str(value).strip()


def profile_rows(persona: Persona) -> list[tuple[str, str]]:
    profile = persona.profile or {}
    rows = []
    for field in PROFILE_FIELDS:
        if field.key == "name":
            continue
        value = profile.get(field.key)
        if field.key == "gender":
            text = gender_label(value) or ""
        elif field.key == "age":
            text = age_label(int(value), int(profile.get("age_months") or 0)) if isinstance(value, int) else _text(value)
        elif field.key == "income":
            text = income_label(value) or ""
        else:
            text = _text(value)
        rows.append((field.label, text))
    from medipersona.personas.prompt import guardian_summary

    guardian = guardian_summary(profile)
    if guardian:
        rows.append(("保護者", guardian))
    return rows


def extra_rows(persona: Persona) -> list[tuple[str, str]]:
    extras = persona.extras or {}
    rows = [(f.label, _text(extras.get(f.key))) for f in EXTRA_FIELDS if _text(extras.get(f.key))]
    for item in (persona.extra_fields or [])[:MAX_EXTRA_FIELDS]:
        if isinstance(item, dict) and _text(item.get("name")):
            rows.append((_text(item.get("name")), _text(item.get("value"))))
    return rows


def section_rows(persona: Persona) -> list[tuple[str, str]]:
    sections = persona.sections or {}
    return [(s.label, _text(sections.get(s.key))) for s in PERSONA_SECTIONS]


def analysis_rows(analysis: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The three headings of the stored timeline analysis (keys by id or by the Japanese heading)."""
    if not analysis:
        return []
    rows = []
    for key, heading in ANALYSIS_HEADINGS:
        value = analysis.get(key, analysis.get(heading))
        if isinstance(value, dict):
            value = value.get("text") or value.get("body")
        if _text(value):
            rows.append((heading, _text(value)))
    return rows


def meta_rows(persona: Persona) -> list[tuple[str, str]]:
    catalog = get_catalog()
    department = catalog.department(persona.department_id)
    complaint = catalog.chief_complaint(persona.chief_complaint_id)
    created = localtime.format_date(persona.created_at)
    return [
        ("診療科", department.name if department else persona.department_id),
        ("主訴", complaint.name if complaint else persona.chief_complaint_id),
        ("作成日", created),
    ]


async def timeline_series(session: AsyncSession, persona: Persona) -> tuple[Any, list[tuple[str, str]]]:
    """(series points, summary rows) from the keyword store for the persona's 主訴, gender and age."""
    from medipersona.keywords import store
    from medipersona.personas.timeline import persona_age_gender  # the same filters as the timeline analysis

    age, gender = persona_age_gender(persona)
    result = await store.timeline(session, persona.department_id, persona.chief_complaint_id, gender=gender, age=age)
    if not result or not result.get("series"):
        return None, []
    return result["series"], summary_rows(result)


def _top_categories(counts: Any) -> str:
    if not isinstance(counts, dict):
        return ""
    top = [c for c, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n][:3]
    return "、".join(top)


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The numbers shown under the chart, in Japanese, from the keyword store's timeline summary."""
    summary = result.get("summary") or {}
    rows: list[tuple[str, str]] = []
    if summary.get("total") is not None:
        rows.append(("キーワード数", f"{summary['total']}語"))
    if summary.get("before_count") is not None:
        rows.append(("主訴検索の前", f"{summary['before_count']}語"))
    if summary.get("after_count") is not None:
        rows.append(("主訴検索の後", f"{summary['after_count']}語"))
    if summary.get("peak_day") is not None:
        rows.append(("ピーク", f"{summary['peak_day']:+d}日" if isinstance(summary["peak_day"], int)
                     else f"{summary['peak_day']}日"))
    urgency = summary.get("urgency")
    if isinstance(urgency, dict) and urgency.get("label"):
        rows.append(("緊急度", f"{urgency['label']}（{urgency.get('score', '')}）"))
    if before := _top_categories(summary.get("categories_before")):
        rows.append(("前の主なカテゴリ", before))
    if after := _top_categories(summary.get("categories_after")):
        rows.append(("後の主なカテゴリ", after))
    if (result.get("dataset") or {}).get("is_sample"):
        rows.append(("データ", "架空のサンプルデータ"))
    return rows


async def portrait_bytes(session: AsyncSession, settings: Settings, persona: Persona) -> bytes | None:
    """The stored portrait's original bytes (shared storage), or None (the export shows 画像なし)."""
    from medipersona.media.service import read_bytes, stored_rows

    if persona.image_status != "done" or not persona.image_digest:
        return None
    try:
        row = (await stored_rows(session, persona.image_digest)).get("original")
        return await read_bytes(settings, session, persona.image_digest, row) if row else None
    except OSError:
        log.exception("reading the portrait for an export failed (persona %s)", persona.id)
        return None


async def build_document(session: AsyncSession, settings: Settings, persona: Persona) -> dict[str, Any]:
    """Plain data for ``render_pdf`` / ``render_pptx``."""
    doc: dict[str, Any] = {
        "title": "患者ペルソナ",
        "created": persona.created_at.isoformat() if persona.created_at else None,
        "name": persona.name or _text((persona.profile or {}).get("name")),
        "meta": meta_rows(persona),
        "portrait": await portrait_bytes(session, settings, persona),
        "basic": profile_rows(persona),
        "extras": extra_rows(persona),
        "sections": section_rows(persona),
        "timeline": None,
    }
    analysis = analysis_rows(persona.timeline_analysis if persona.timeline_status == "done" else None)
    series: Any = None
    summary: list[tuple[str, str]] = []
    try:
        series, summary = await timeline_series(session, persona)
    except Exception:
        log.exception("timeline series failed for an export")
    if analysis or series:
        meta = dict(doc["meta"])
        doc["timeline"] = {
            "subtitle": f"{doc['name']}　{meta.get('診療科', '')}／{meta.get('主訴', '')}",
            "series": series,
            "summary": summary,
            "analysis": analysis,
        }
    return doc


# --- file names ------------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def export_filename(name: str, ext: str, suffix: str = "persona") -> str:
    clean = " ".join(_UNSAFE.sub("", unicodedata.normalize("NFC", name or "")).split())[:80]
    return f"{clean}_{suffix}.{ext}" if clean else f"{suffix}.{ext}"


def content_disposition(name: str, ext: str, suffix: str = "persona") -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name per RFC 5987/6266."""
    full = export_filename(name, ext, suffix)
    stem = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:60]
    fallback = f"{stem}_{suffix}.{ext}" if stem else f"{suffix}.{ext}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(full, safe='')}"
