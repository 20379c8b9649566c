"""Competitor-analysis exports: the analysis (the dict of ``GET /api/competitors/{id}``) turned into plain data for
the export process, and the A4 landscape pages drawn from it (the same pages for the PDF and the PPTX).

``build_competitor_document`` runs in the web worker (light: labels and rows from ``competitors.display``, the
same the result page shows). ``competitor_pages`` runs in the export pool; the map comes from
``competitors.map`` (SVG for the PDF, PNG for the PPTX), drawn from stored coordinates only: nothing is fetched.
"""

from __future__ import annotations

from typing import Any

from medipersona import localtime
from medipersona.competitors import display

TABLE_COLUMNS = (("No.", 9.0), ("名称", 58.0), ("距離", 16.0), ("評価", 11.0), ("口コミ数", 14.0), ("電話", 26.0),
                 ("診療時間", 90.0), ("ウェブサイト", 53.0))  # widths in mm: 277 = page width - margins


def build_competitor_document(analysis: dict[str, Any]) -> dict[str, Any]:
    clinic = analysis.get("clinic") or {}
    name = str(clinic.get("name") or "")
    offline = analysis.get("text_provider") == "offline"
    return {
        "title": "競合分析",
        "created": analysis.get("created_at"),
        "name": name,
        "subtitle": f"{name}　半径{analysis.get('radius_km')}km　作成日 {localtime.format_date(analysis.get('created_at'))}"
                    + ("　※SWOT・戦略はオフライン生成（AI未使用）" if offline else ""),
        # Only what the map needs (plain data for the pool process).
        "map": {"clinic": {"name": name, "lat": clinic.get("lat"), "lng": clinic.get("lng")},
                "radius_km": analysis.get("radius_km"),
                "competitors": [{k: c.get(k) for k in ("name", "lat", "lng", "distance_m")}
                                for c in analysis.get("competitors") or [] if isinstance(c, dict)]},
        "clinic": display.clinic_rows(analysis),
        "market": display.market_rows(analysis),
        "bands": display.band_rows(analysis),
        "competitors": [[r["number"], r["name"], r["distance"], r["rating"], r["reviews"],
                         r["phone"] or display.NO_DATA, r["hours"], r["website"] or display.NO_DATA]
                        for r in display.competitor_rows(analysis)],
        "population": display.population_rows(analysis),
        "demand": display.demand_rows(analysis),
        "demand_method": display.demand_method(analysis),
        "swot": [(label, text) for _key, label, text in display.swot_blocks(analysis)],
        "strategies": [(label, text) for _key, label, text in display.strategy_blocks(analysis)],
    }


# --- layout (export pool) -----------------------------------------------------------------------------------


def _header(fm, ops, title: str, subtitle: str) -> float:
    from medipersona.exports.tables import page_header

    return page_header(fm, ops, title, subtitle)


def _overview_page(fm, doc: dict, map_fn):
    from medipersona.exports.geometry import (
        BORDER,
        MARGIN,
        PAGE_H,
        PAGE_W,
        PLACEHOLDER,
        WHITE,
        Box,
        Page,
        contain,
        image,
        rect,
    )
    from medipersona.exports.panels import info_panels

    page = Page()
    top = _header(fm, page.ops, "競合分析", doc.get("subtitle") or "")
    size = PAGE_H - MARGIN - top
    drawn = map_fn(size, size) if map_fn is not None else None
    if drawn is not None:
        data, iw, ih = drawn[:3]
        fmt = "svg" if drawn[3:] == ("svg",) else "raster"
        page.ops.append(rect(Box(MARGIN, top, size, size), fill=WHITE, border=BORDER))
        page.ops.append(image(contain(iw, ih, Box(MARGIN, top, size, size)), data, fmt))
    else:
        page.ops.append(rect(Box(MARGIN, top, size, size), fill=PLACEHOLDER, border=BORDER))
    x = MARGIN + size + 6
    panels = [("自院の情報", doc.get("clinic") or []), ("市場データ", doc.get("market") or [])]
    if doc.get("bands"):
        panels.append(("距離帯別の競合数", doc["bands"]))
    page.ops.extend(info_panels(fm, panels, Box(x, top, PAGE_W - MARGIN - x, PAGE_H - MARGIN - top)))
    return page


TABLE_PT = 7.5
TABLE_MAX_LINES = 3


def _table_pages(fm, doc: dict) -> list:
    from medipersona.exports.tables import table_pages

    rows = doc.get("competitors") or []
    return table_pages(fm, list(TABLE_COLUMNS), rows, title=f"競合医療機関（距離の近い順・{len(rows)}件）",
                       subtitle=doc.get("subtitle") or "", size=TABLE_PT, max_lines=TABLE_MAX_LINES,
                       empty="範囲内に競合医療機関は見つかりませんでした。")


def _swot_page(fm, doc: dict):
    from medipersona.exports.geometry import FontRange
    from medipersona.exports.tables import block_grid_page

    return block_grid_page(fm, "SWOT分析", doc.get("subtitle") or "", list(doc.get("swot") or []),
                           font=FontRange(11.0, 5.0))


def _strategy_page(fm, doc: dict):
    from medipersona.exports.geometry import MARGIN, PAGE_H, PAGE_W, Box, FontRange, Page
    from medipersona.exports.panels import Block, info_panels, titled_blocks

    page = Page()
    top = _header(fm, page.ops, "地域・需要と戦略提案", doc.get("subtitle") or "")
    left_w = 95.0
    panels = [("地域の人口", doc.get("population") or []), ("需要推計", doc.get("demand") or [])]
    if doc.get("demand_method"):
        panels.append(("推計の方法", [("方法", doc["demand_method"])]))
    page.ops.extend(info_panels(fm, panels, Box(MARGIN, top, left_w, PAGE_H - MARGIN - top)))
    x = MARGIN + left_w + 5
    gap = 3.0
    strategies = doc.get("strategies") or []
    h = (PAGE_H - MARGIN - top - gap * (len(strategies) - 1)) / max(1, len(strategies))
    blocks = [Block(label, text or "—", Box(x, top + i * (h + gap), PAGE_W - MARGIN - x, h))
              for i, (label, text) in enumerate(strategies)]
    page.ops.extend(titled_blocks(fm, blocks, FontRange(10.0, 5.0)))
    return page


def competitor_pages(fm, doc: dict, map_fn=None) -> list:
    """``map_fn(w_mm, h_mm)`` -> (data, px_w, px_h[, "svg"]) | None draws the map for the box left to it."""
    return [_overview_page(fm, doc, map_fn), *_table_pages(fm, doc), _swot_page(fm, doc), _strategy_page(fm, doc)]


MAP_PX = 640


def map_svg(doc: dict, font_key: str) -> tuple[bytes, int, int, str]:
    """The map as SVG for the PDF, drawn by fpdf2 with the document's own font (it has no ``<title>``)."""
    import re

    from medipersona.competitors.map import render_map

    svg = render_map(doc.get("map") or {}, MAP_PX, MAP_PX, font_family=font_key)
    svg = re.sub(r"<title>.*?</title>", "", svg, flags=re.DOTALL)
    return svg.encode(), MAP_PX, MAP_PX, "svg"


def map_png(doc: dict) -> tuple[bytes, int, int]:
    from medipersona.competitors.map import build_map_layout, render_png
    from medipersona.exports.fonts import font_path

    scale = 3
    png = render_png(build_map_layout(doc.get("map") or {}, MAP_PX, MAP_PX), font_path(), scale)
    return png, MAP_PX * scale, MAP_PX * scale
