"""Persona PDF (A4 landscape): page 1 the persona, page 2 the timeline chart and analysis when present.

Runs inside the export process pool only (fpdf2 is imported inside the functions). The IPAexGothic font is parsed
once per process; each document gets a cheap copy of the parsed font with a fresh glyph subset, and fontTools does
not re-encode glyph outlines (``recalcBBoxes=False``). The timeline chart is embedded as vector SVG (the keyword
chart's ``render_svg``) drawn with the same font, so there is no raster encode/decode on the way.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from io import BytesIO

from medipersona.exports.fonts import FONT_FAMILY, PT_MM, font_path, metrics

FONT_KEY = "ipaexg"


# Tables the PDF never uses (Identity-H CID text is placed by glyph id; no vertical writing, no shaping).
_DROP_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG", "kern", "hdmx", "LTSH", "VDMX")


def _lean_font_bytes(path) -> bytes:
    """The font without the tables above and with one Unicode cmap subtable: the per-document subsetting then
    decompiles far less (about 40 % faster exports)."""
    from fontTools import ttLib

    font = ttLib.TTFont(str(path), recalcTimestamp=False)
    for tag in _DROP_TABLES:
        if tag in font:
            del font[tag]
    cmap = font["cmap"]
    best = [t for t in cmap.tables if (t.platformID, t.platEncID) == (3, 10)] or \
        [t for t in cmap.tables if (t.platformID, t.platEncID) == (3, 1)]
    if best:
        cmap.tables = best[:1]
    out = BytesIO()
    font.save(out)
    return out.getvalue()


@lru_cache(maxsize=1)
def _font_template():
    """(parsed fpdf font, lean font bytes): made once per export process."""
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

    path = font_path()
    return TTFFont(FPDF(), path, FONT_KEY, ""), _lean_font_bytes(path)


def _fresh_font():
    """A per-document copy of the parsed font (fpdf's subsetter edits the fontTools object in place)."""
    from fontTools import ttLib

    template, data = _font_template()
    memo = {id(template.cw): template.cw, id(template.glyph_ids): template.glyph_ids}  # read-only: share
    font = copy.deepcopy(template, memo)
    font.ttfont = ttLib.TTFont(BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
    return font


def warm_up() -> None:
    _font_template()
    metrics()


def _new_pdf():
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_creator("medipersona")
    pdf.fonts[FONT_KEY] = _fresh_font()
    return pdf


def draw_pages(pdf, pages) -> None:
    fm = metrics()
    for page in pages:
        pdf.add_page()
        for op in page.ops:
            if op.kind == "rect":
                if op.fill is None and op.border is None:
                    continue
                if op.fill is not None:
                    pdf.set_fill_color(*op.fill)
                if op.border is not None:
                    pdf.set_draw_color(*op.border)
                    pdf.set_line_width(0.25)
                style = ("F" if op.fill is not None else "") + ("D" if op.border is not None else "")
                pdf.rect(op.x, op.y, op.w, op.h, style=style)
            elif op.kind == "image":
                pdf.image(BytesIO(op.data), x=op.x, y=op.y, w=op.w, h=op.h)
            elif op.kind == "text":
                pdf.set_font(FONT_KEY, size=op.size)
                pdf.set_text_color(*op.color)
                size_mm = op.size * PT_MM
                lh = op.line_h
                # Baseline inside each line box: half the leading above, then the ascent.
                base = (lh - (fm.ascent + fm.descent) * size_mm) / 2 + fm.ascent * size_mm
                for i, line in enumerate(op.lines):
                    if not line:
                        continue
                    x = op.x
                    if op.align != "left":
                        free = op.w - fm.width_mm(line, op.size)
                        x += free if op.align == "right" else free / 2
                    pdf.text(x, op.y + i * lh + base, line)


def render_pdf(doc: dict) -> bytes:
    """The PDF bytes for an export document (plain data from ``exports.service.build_document``)."""
    from medipersona.exports.assets import chart_svg, load_portrait
    from medipersona.exports.layout import build_pages

    fm = metrics()
    portrait = load_portrait(doc.get("portrait"))
    series = (doc.get("timeline") or {}).get("series")
    pages = build_pages(fm, doc, portrait, lambda w, h: chart_svg(series, w, h, FONT_KEY))
    return pages_pdf(pages, doc, "ペルソナ")


def pages_pdf(pages, doc: dict, kind_label: str) -> bytes:
    """A PDF of laid-out ``pages`` titled ``<doc name> <kind_label>``, dated by the document (the same
    document gives the same file)."""
    from medipersona.exports.assets import created_at

    pdf = _new_pdf()
    pdf.set_title(f"{doc.get('name') or ''} {kind_label}")
    pdf.set_author("medipersona")
    if created := created_at(doc):
        pdf.set_creation_date(created)
    draw_pages(pdf, pages)
    return bytes(pdf.output())


def render_competitors_pdf(doc: dict) -> bytes:
    """The PDF of a competitor analysis (plain data from ``exports.competitors.build_competitor_document``)."""
    from medipersona.exports.competitors import competitor_pages, map_svg

    pages = competitor_pages(metrics(), doc, lambda w, h: map_svg(doc, FONT_KEY))
    return pages_pdf(pages, doc, "競合分析")


__all__ = ["FONT_FAMILY", "pages_pdf", "render_competitors_pdf", "render_pdf", "warm_up"]
