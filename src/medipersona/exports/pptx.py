"""Persona PPTX: two slides (A4 landscape) with the same layout and content as the PDF.

Runs inside the export process pool only (python-pptx is imported inside the functions). python-pptx sets only
the Latin font; every run here also gets ``<a:ea typeface="…">`` so Japanese text uses a Japanese font. PPTX does
not embed fonts: Meiryo is on every Windows PowerPoint and is substituted elsewhere (Hiragino, IPAexGothic).
Text boxes have the size of their content as measured with IPAexGothic's metrics, a fixed line pitch and no
auto-fit, so they look the same as the PDF and never overflow their panels.
"""

from __future__ import annotations

from io import BytesIO

from medipersona.exports.fonts import metrics

EA_FONT = "Meiryo"
LATIN_FONT = "Meiryo"
MM_EMU = 36000


def _emu(mm: float) -> int:
    return round(mm * MM_EMU)


def _set_fonts(run, ea: str = EA_FONT, latin: str = LATIN_FONT) -> None:
    from pptx.oxml.ns import qn

    run.font.name = latin  # <a:latin>
    rpr = run._r.get_or_add_rPr()
    for tag in ("a:ea", "a:cs"):
        old = rpr.find(qn(tag))
        if old is not None:
            rpr.remove(old)
    latin_el = rpr.find(qn("a:latin"))
    ea_el = rpr.makeelement(qn("a:ea"), {"typeface": ea})
    cs_el = rpr.makeelement(qn("a:cs"), {"typeface": ea})
    latin_el.addnext(ea_el)
    ea_el.addnext(cs_el)
    rpr.set("lang", "ja-JP")
    rpr.set("altLang", "en-US")


def _add_text(slide, op) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
    from pptx.util import Pt

    from medipersona.exports.layout import LINE_FACTOR

    box = slide.shapes.add_textbox(_emu(op.x), _emu(op.y), _emu(op.w), _emu(op.h))
    tf = box.text_frame
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    tf.margin_left = tf.margin_right = tf.margin_top = tf.margin_bottom = 0
    tf.vertical_anchor = MSO_ANCHOR.TOP
    align = {"left": PP_ALIGN.LEFT, "center": PP_ALIGN.CENTER, "right": PP_ALIGN.RIGHT}[op.align]
    for i, paragraph in enumerate(op.text.split("\n")):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.alignment = align
        p.line_spacing = Pt(op.size * LINE_FACTOR)
        p.space_before = Pt(0)
        p.space_after = Pt(0)
        run = p.add_run()
        run.text = paragraph
        run.font.size = Pt(op.size)
        run.font.color.rgb = RGBColor(*op.color)
        _set_fonts(run)


def _add_rect(slide, op) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Pt

    shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, _emu(op.x), _emu(op.y), _emu(op.w), _emu(op.h))
    shape.shadow.inherit = False
    if op.fill is not None:
        shape.fill.solid()
        shape.fill.fore_color.rgb = RGBColor(*op.fill)
    else:
        shape.fill.background()
    if op.border is not None:
        shape.line.color.rgb = RGBColor(*op.border)
        shape.line.width = Pt(0.7)
    else:
        shape.line.fill.background()


def draw_slides(prs, pages) -> None:
    blank = prs.slide_layouts[6]
    for page in pages:
        slide = prs.slides.add_slide(blank)
        for op in page.ops:
            if op.kind == "rect":
                _add_rect(slide, op)
            elif op.kind == "image":
                slide.shapes.add_picture(BytesIO(op.data), _emu(op.x), _emu(op.y), _emu(op.w), _emu(op.h))
            elif op.kind == "text":
                _add_text(slide, op)


def render_pptx(doc: dict) -> bytes:
    """The PPTX bytes for an export document (plain data from ``exports.service.build_document``)."""
    from medipersona.exports.assets import chart_png, load_portrait
    from medipersona.exports.layout import build_pages

    portrait = load_portrait(doc.get("portrait"))
    series = (doc.get("timeline") or {}).get("series")
    pages = build_pages(metrics(), doc, portrait, lambda w, h: chart_png(series, w, h))
    return pages_pptx(pages, doc, "ペルソナ")


def render_competitors_pptx(doc: dict) -> bytes:
    """The PPTX of a competitor analysis: the same pages as its PDF, the map as a picture."""
    from medipersona.exports.competitors import competitor_pages, map_png

    pages = competitor_pages(metrics(), doc, lambda w, h: map_png(doc))
    return pages_pptx(pages, doc, "競合分析")


def pages_pptx(pages, doc: dict, kind_label: str) -> bytes:
    """A presentation of ``pages`` (one slide each) with the document's title and date, as bytes."""
    from pptx import Presentation
    from pptx.util import Emu

    from medipersona.exports.assets import created_at
    from medipersona.exports.layout import PAGE_H, PAGE_W

    prs = Presentation()
    prs.slide_width = Emu(_emu(PAGE_W))
    prs.slide_height = Emu(_emu(PAGE_H))
    prs.core_properties.title = f"{doc.get('name') or ''} {kind_label}"
    prs.core_properties.author = "medipersona"
    prs.core_properties.last_modified_by = "medipersona"  # not python-pptx's default author
    if created := created_at(doc):
        prs.core_properties.created = prs.core_properties.modified = created.replace(tzinfo=None)
    draw_slides(prs, pages)
    out = BytesIO()
    prs.save(out)
    return out.getvalue()


def warm_up() -> None:
    from pptx import Presentation

    Presentation()
    metrics()
