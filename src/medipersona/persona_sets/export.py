"""A persona set as one PDF/PPTX: comparison pages (portraits over a table: profile rows, then each section's key
line; six members per page) followed by each member's ordinary persona page.

``build_set_document`` runs in the web worker (stored data only: rows, labels, the portraits' bytes from shared
storage). ``render_set_pdf`` / ``render_set_pptx`` run in the export process pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the pool process imports this module: keep it light
    from medipersona.personas.models import Persona
    from medipersona.settings import Settings

MEMBERS_PER_PAGE = 6
LABEL_W = 30.0
STRIP_H = 30.0
COMPARISON_PT = 7.5
COMPARISON_LINES = 4


async def build_set_document(session, settings: Settings, data: dict[str, Any], personas: list[Persona]
                             ) -> dict[str, Any]:
    """Plain data for the pool: ``data`` is the set as the API shows it, ``personas`` its finished members."""
    from medipersona.exports.service import extra_rows, meta_rows, portrait_bytes, profile_rows, section_rows
    from medipersona.persona_sets.service import comparison_rows

    done = {p.id: p for p in personas}
    members = [m for m in data["personas"] if m["id"] in done]
    docs = []
    for m in members:
        persona = done[m["id"]]
        docs.append({"title": f"患者ペルソナ（{data['title']}）", "name": persona.name, "meta": meta_rows(persona),
                     "portrait": await portrait_bytes(session, settings, persona), "basic": profile_rows(persona),
                     "extras": extra_rows(persona), "sections": section_rows(persona)})
    missing = data["count"] - len(members)
    subtitle = f"{data['department']['name']}／{data['chief_complaint']['name']}　作成目的：{data['purpose']['name']}"
    if missing:
        subtitle += f"　※未完成・失敗・削除の{missing}人を除く"
    return {"title": "ペルソナセット", "name": data["title"], "created": data.get("created_at"), "subtitle": subtitle,
            "columns": [m["name"] for m in members], "rows": comparison_rows(members), "members": docs}


# --- layout (export pool) -----------------------------------------------------------------------------------


def comparison_pages(fm, doc: dict, portraits: list) -> list:
    from medipersona.exports.geometry import (
        BORDER,
        MARGIN,
        PAGE_W,
        PLACEHOLDER,
        Box,
        Page,
        contain,
        image,
        rect,
    )
    from medipersona.exports.tables import page_header, table_pages

    pages = []
    names = doc.get("columns") or []
    for first in range(0, max(1, len(names)), MEMBERS_PER_PAGE):
        group = list(range(first, min(first + MEMBERS_PER_PAGE, len(names))))
        col_w = (PAGE_W - 2 * MARGIN - LABEL_W) / max(1, len(group))
        page = Page()
        title = "比較表" + (f"（{first + 1}〜{group[-1] + 1}人目）" if len(names) > MEMBERS_PER_PAGE and group else "")
        top = page_header(fm, page.ops, title, doc.get("subtitle") or "")
        side = STRIP_H - 4
        for slot, index in enumerate(group):
            box = Box(MARGIN + LABEL_W + slot * col_w + (col_w - side) / 2, top, side, side)
            portrait = portraits[index] if index < len(portraits) else None
            if portrait is None:
                page.ops.append(rect(box, fill=PLACEHOLDER, border=BORDER))
            else:
                data, iw, ih = portrait
                page.ops.append(rect(box, fill=PLACEHOLDER))
                page.ops.append(image(contain(iw, ih, box), data))
        columns = [("項目", LABEL_W)] + [(names[i], col_w) for i in group]
        rows = [[label, *(values[i] for i in group)] for label, values in doc.get("rows") or []]
        pages.append(page)
        pages.extend(table_pages(fm, columns, rows, title=title, subtitle=doc.get("subtitle") or "",
                                 size=COMPARISON_PT, max_lines=COMPARISON_LINES, start=(page, top + STRIP_H),
                                 empty="完成したペルソナがありません。"))
    return pages


def set_pages(fm, doc: dict) -> list:
    from medipersona.exports.assets import load_portrait
    from medipersona.exports.layout import persona_page

    portraits = [load_portrait(m.get("portrait")) for m in doc.get("members") or []]
    pages = comparison_pages(fm, doc, portraits)
    pages += [persona_page(fm, member, portrait) for member, portrait in zip(doc.get("members") or [], portraits,
                                                                             strict=True)]
    return pages


def render_set_pdf(doc: dict) -> bytes:
    from medipersona.exports.fonts import metrics
    from medipersona.exports.pdf import pages_pdf

    return pages_pdf(set_pages(metrics(), doc), doc, "ペルソナセット")


def render_set_pptx(doc: dict) -> bytes:
    from medipersona.exports.fonts import metrics
    from medipersona.exports.pptx import pages_pptx

    return pages_pptx(set_pages(metrics(), doc), doc, "ペルソナセット")
