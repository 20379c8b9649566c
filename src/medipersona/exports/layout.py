"""The persona document's pages, shared by the PDF and the PPTX: A4 landscape pages as lists of drawing
operations in millimetres (the persona page, the timeline page).

Every text is wrapped and shrunk until it fits its box (``text_fit.py``), so neither renderer can overflow; the
boxed pieces (info panels, titled blocks) are in ``panels.py`` and the page vocabulary (``Box``, ``FontRange``,
colours, ops) in ``geometry.py``. The names other documents import from here are re-exported below.
"""

from __future__ import annotations

from medipersona.exports.fonts import FontMetrics
from medipersona.exports.geometry import (
    ACCENT,
    ACCENT_LIGHT,
    BORDER,
    LINE_FACTOR,
    MARGIN,
    MUTED,
    PAGE_H,
    PAGE_W,
    PLACEHOLDER,
    TEXT,
    WHITE,
    Box,
    FontRange,
    ImageOp,
    Page,
    RectOp,
    TextOp,
    contain,
    image,
    rect,
)
from medipersona.exports.panels import (
    MIN_INFO_PT,
    Block,
    block_bodies,
    info_panels,
    info_size,
    titled_blocks,
)
from medipersona.exports.text_fit import (
    ELLIPSIS,
    NO_LINE_END,
    NO_LINE_START,
    WRAP_SAFETY,
    common_size,
    fit,
    largest_size,
    shrink_to_content,
    text_height,
    text_op,
    truncate,
    wrap,
)

__all__ = [
    "ACCENT", "ACCENT_LIGHT", "BORDER", "ELLIPSIS", "LINE_FACTOR", "MARGIN", "MIN_INFO_PT", "MUTED", "NO_LINE_END",
    "NO_LINE_START", "PAGE_H", "PAGE_W", "PLACEHOLDER", "TEXT", "WHITE", "WRAP_SAFETY", "Block", "Box", "FontRange",
    "ImageOp", "Page", "RectOp", "TextOp", "build_pages", "common_size", "contain", "fit", "image", "info_panels",
    "info_size", "largest_size", "persona_page", "rect", "shrink_to_content", "text_height", "text_op",
    "timeline_page", "titled_blocks", "truncate", "wrap",
]

# Font ranges by text role.
DOC_LABEL_FONT = FontRange(8, 6)  # 患者ペルソナ above the name
NAME_FONT = FontRange(18, 8)
META_FONT = FontRange(8, 5.5)  # 診療科：… lines under the name
NO_IMAGE_FONT = FontRange(9, 7)  # 画像なし in the empty portrait box
SECTION_FONT = FontRange(10.0, 5.0)  # the six sections' bodies
PAGE_TITLE_FONT = FontRange(16, 10)
SUBTITLE_FONT = FontRange(9, 6)  # right of the page title
CHART_NOTE_FONT = FontRange(9, 6)  # in place of a chart without data
PANEL_TITLE_FONT = FontRange(9.5, 6)  # the data summary's title bar
ANALYSIS_FONT = FontRange(9.0, 4.5)  # the timeline analysis blocks

PORTRAIT = Box(MARGIN, MARGIN, 46.0, 46.0)
# (left column width, section columns), tried in order: many or long extra fields widen the left column.
PAGE1_LAYOUTS = ((92.0, 3), (120.0, 3), (140.0, 2), (165.0, 2))
PAGE1_READABLE_PT = 7.0
CHART_WIDTHS = (172.0, 150.0, 130.0, 110.0, 90.0, 70.0)  # the timeline chart's widths, widest first
ANALYSIS_READABLE_PT = 7.5


def persona_page(fm: FontMetrics, doc: dict, portrait: tuple[bytes, int, int] | None) -> Page:
    page = Page()
    ops = page.ops
    left_w = PAGE1_LAYOUTS[0][0]  # the name block keeps the narrow width whatever the columns below
    # Portrait and name block.
    pw = PORTRAIT.w
    if portrait is not None:
        data, iw, ih = portrait
        ops.append(rect(PORTRAIT, fill=PLACEHOLDER))
        ops.append(image(contain(iw, ih, PORTRAIT), data))
    else:
        ops.append(rect(PORTRAIT, fill=PLACEHOLDER, border=BORDER))
        ops.append(shrink_to_content(text_op(fm, "画像なし", Box(MARGIN, MARGIN + pw / 2 - 3, pw, 6), NO_IMAGE_FONT,
                                             color=MUTED, align="center")))
    nx = MARGIN + pw + 4
    nw = left_w - pw - 4
    ops.append(shrink_to_content(text_op(fm, doc.get("title") or "患者ペルソナ", Box(nx, MARGIN, nw, 5),
                                         DOC_LABEL_FONT, color=ACCENT)))
    name = text_op(fm, doc.get("name") or "（名前なし）", Box(nx, MARGIN + 5.5, nw, 16), NAME_FONT)
    ops.append(shrink_to_content(name))
    meta_y = name.y + name.h + 2
    meta_text = "\n".join(f"{k}：{v}" for k, v in doc.get("meta", []) if v)
    if meta_text:
        ops.append(shrink_to_content(text_op(fm, meta_text, Box(nx, meta_y, nw, MARGIN + pw - meta_y), META_FONT,
                                             color=MUTED)))
    # 基本情報 and その他の特徴 in the left column, the six sections right of it. Many or long extra fields
    # widen the left column (and the sections go from 3 x 2 to 2 x 3) rather than shrinking the text away.
    iy = MARGIN + pw + 4
    panels = [("基本情報", doc.get("basic", [])), ("その他の特徴", doc.get("extras", []))]
    sections = doc.get("sections", [])[:6]
    candidates = []
    for left_w, cols in PAGE1_LAYOUTS:
        isize = info_size(fm, panels, left_w, PAGE_H - MARGIN - iy)
        blocks = _section_blocks(sections, left_w, cols)
        ssize = common_size(fm, block_bodies(fm, blocks), SECTION_FONT)
        candidates.append((left_w, isize, ssize, blocks))
        if isize is not None and min(isize, ssize) >= PAGE1_READABLE_PT:
            break
    fitting = [(w, isize, ssize, b) for w, isize, ssize, b in candidates if isize is not None]
    if not fitting:  # more extra fields than a page holds: the widest column, rows dropped with a note
        left_w, _, _, blocks = candidates[-1]
    else:  # the narrowest layout unless a wider one reads clearly better
        best = fitting[0]
        for c in fitting[1:]:
            if min(c[1], c[2]) > min(best[1], best[2]) + 0.5:
                best = c
        left_w, _, _, blocks = best
    ops.extend(info_panels(fm, panels, Box(MARGIN, iy, left_w, PAGE_H - MARGIN - iy)))
    ops.extend(titled_blocks(fm, blocks, SECTION_FONT))
    return page


def _section_blocks(sections, left_w: float, cols: int) -> list[Block]:
    sx = MARGIN + left_w + 5
    sw = PAGE_W - MARGIN - sx
    gap = 4.0
    rows = -(-max(len(sections), 1) // cols)
    cw = (sw - (cols - 1) * gap) / cols
    rh = (PAGE_H - 2 * MARGIN - (rows - 1) * gap) / rows
    return [Block(label, text, Box(sx + (i % cols) * (cw + gap), MARGIN + (i // cols) * (rh + gap), cw, rh))
            for i, (label, text) in enumerate(sections)]


def timeline_page(fm: FontMetrics, doc: dict, chart_fn=None) -> Page:
    """``chart_fn(w_mm, h_mm)`` -> (data, px_w, px_h[, "svg"]) | None draws the chart for the box left to it."""
    page = Page()
    ops = page.ops
    timeline = doc["timeline"]
    title = text_op(fm, "タイムライン分析", Box(MARGIN, MARGIN, 120, 9), PAGE_TITLE_FONT, color=ACCENT)
    ops.append(shrink_to_content(title))
    subtitle = timeline.get("subtitle") or ""
    if subtitle:
        ops.append(shrink_to_content(text_op(fm, subtitle, Box(MARGIN + 125, MARGIN + 2, PAGE_W - 2 * MARGIN - 125, 6),
                                             SUBTITLE_FONT, color=MUTED, align="right")))
    ops.append(rect(Box(MARGIN, MARGIN + 10, PAGE_W - 2 * MARGIN, 0.6), fill=ACCENT))
    top = MARGIN + 14
    analysis = timeline.get("analysis") or []
    if not analysis:
        analysis = [("分析", "タイムライン分析の結果はまだありません。結果画面の「タイムライン分析」から実行できます。")]
    # The chart gives up width when the analysis is long (up to 3 x 2,000 characters): the widest chart whose
    # analysis column still reads at >= 7.5 pt, else the layout with the largest analysis text.
    best: tuple[float, float, list[Block]] | None = None
    for chart_w in CHART_WIDTHS:
        blocks = _analysis_blocks(fm, analysis, MARGIN + chart_w + 5, top)
        size = common_size(fm, block_bodies(fm, blocks), ANALYSIS_FONT)
        if best is None or size > best[1]:
            best = (chart_w, size, blocks)
        if size >= ANALYSIS_READABLE_PT:
            best = (chart_w, size, blocks)
            break
    assert best is not None  # CHART_WIDTHS is not empty
    chart_w, _size, blocks = best
    summary = [(fm.clean(k), fm.clean(v)) for k, v in timeline.get("summary", [])]
    cols = 2 if chart_w >= 120 else 1
    per_col = -(-len(summary) // cols)
    summary_h = min(12 + 4.6 * per_col, 70) if summary else 0.0
    chart_h = PAGE_H - MARGIN - top - (summary_h + 4 if summary else 0)
    chart_box = Box(MARGIN, top, chart_w, chart_h)
    chart = chart_fn(chart_w, chart_h) if chart_fn is not None else None
    if chart is not None:
        data, iw, ih = chart[:3]
        fmt = "svg" if chart[3:] == ("svg",) else "raster"
        ops.append(rect(chart_box, fill=WHITE, border=BORDER))
        ops.append(image(contain(iw, ih, chart_box), data, fmt))
    else:
        ops.append(rect(chart_box, fill=PLACEHOLDER, border=BORDER))
        ops.append(shrink_to_content(text_op(fm, "この条件に該当するキーワードデータがありません",
                                             Box(MARGIN + 2, top + chart_h / 2 - 3, chart_w - 4, 6), CHART_NOTE_FONT,
                                             color=MUTED, align="center")))
    if summary:
        sy = top + chart_h + 4
        title_h = 6.5
        ops.append(rect(Box(MARGIN, sy, chart_w, title_h), fill=ACCENT))
        ops.append(text_op(fm, "データの概要", Box(MARGIN + 2, sy + 1.2, chart_w - 4, title_h - 1.4), PANEL_TITLE_FONT,
                           color=WHITE))
        col_w = chart_w / cols
        for c in range(cols):
            rows = summary[c * per_col:(c + 1) * per_col]
            if rows:
                ops.extend(info_panels(fm, [(None, rows)], Box(MARGIN + c * col_w, sy + title_h, col_w,
                                                               summary_h - title_h)))
    ops.extend(titled_blocks(fm, blocks, ANALYSIS_FONT))
    return page


def _analysis_blocks(fm: FontMetrics, analysis, ax: float, top: float) -> list[Block]:
    """The analysis blocks stacked in the column right of the chart, heights in proportion to their text."""
    aw = PAGE_W - MARGIN - ax
    gap = 3.0
    total_h = PAGE_H - MARGIN - top - gap * (len(analysis) - 1)
    min_h = 24.0
    weights = [max(len(fm.clean(t)), 40) for _, t in analysis]
    flex = total_h - min_h * len(analysis)
    heights = [min_h + flex * w / sum(weights) for w in weights]
    blocks: list[Block] = []
    y = top
    for (heading, text), h in zip(analysis, heights, strict=True):
        blocks.append(Block(heading, text, Box(ax, y, aw, h)))
        y += h + gap
    return blocks


def build_pages(fm: FontMetrics, doc: dict, portrait, chart_fn=None) -> list[Page]:
    pages = [persona_page(fm, doc, portrait)]
    if doc.get("timeline"):
        pages.append(timeline_page(fm, doc, chart_fn))
    return pages
