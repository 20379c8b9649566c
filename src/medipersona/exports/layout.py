"""Page layout shared by the PDF and the PPTX: A4 landscape pages as lists of drawing operations in millimetres.

Every text is wrapped with the font's own advance widths (Japanese line-breaking rules: no line starts with 、。）
etc.) and shrunk until it fits its box, so neither renderer can overflow. Boxes that share a role (the six
sections, the info rows, the three analysis blocks) share one font size so the page looks even.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from medipersona.exports.fonts import PT_MM, FontMetrics

PAGE_W = 297.0
PAGE_H = 210.0
MARGIN = 10.0
LINE_FACTOR = 1.4  # line height / font size
WRAP_SAFETY = 0.985  # wrap a little inside the box: renderers (PowerPoint) may measure slightly wider

ACCENT = (31, 78, 121)
ACCENT_LIGHT = (234, 241, 248)
TEXT = (33, 33, 33)
MUTED = (96, 96, 96)
BORDER = (200, 208, 218)
PLACEHOLDER = (242, 242, 242)

NO_LINE_START = set("、。，．,.・：；:;？！?!ー－）)]｝}〕〉》」』】〙〗ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々ゝゞヽヾ…‥％%")
NO_LINE_END = set("（([｛{〔〈《「『【〘〖")
ELLIPSIS = "…"
MIN_INFO_PT = 5.5


@dataclass
class TextOp:
    x: float
    y: float
    w: float
    h: float
    text: str  # the text as given (paragraphs separated by \n)
    lines: list[str]  # the wrapped lines drawn in the PDF
    size: float  # pt
    color: tuple[int, int, int] = TEXT
    align: str = "left"  # left | center | right
    kind: str = "text"

    @property
    def line_h(self) -> float:
        return self.size * LINE_FACTOR * PT_MM


@dataclass
class RectOp:
    x: float
    y: float
    w: float
    h: float
    fill: tuple[int, int, int] | None = None
    border: tuple[int, int, int] | None = None
    kind: str = "rect"


@dataclass
class ImageOp:
    x: float
    y: float
    w: float
    h: float
    data: bytes
    fmt: str = "raster"  # raster (PNG/JPEG) | svg (PDF only)
    kind: str = "image"


@dataclass
class Page:
    ops: list = field(default_factory=list)


# --- wrapping and fitting ------------------------------------------------------------------------------------


def _tokens(paragraph: str) -> list[str]:
    """Latin words (letters, digits) stay together; every other character is its own token."""
    tokens: list[str] = []
    word = ""
    for ch in paragraph:
        if ch.isascii() and (ch.isalnum() or ch in "-_'/@#&+"):
            word += ch
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(ch)
    if word:
        tokens.append(word)
    return tokens


def wrap(fm: FontMetrics, text: str, width_mm: float, size_pt: float) -> list[str]:
    """Greedy line breaking with kinsoku (no 、。） at a line start, no （「 at a line end)."""
    limit = width_mm * WRAP_SAFETY / (size_pt * PT_MM)  # in em
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line: list[str] = []
        line_w = 0.0
        for token in _tokens(paragraph):
            tw = fm.width_em(token)
            if tw > limit:  # a word longer than the line: split it by character
                for ch in token:
                    cw = fm.em(ch)
                    if line and line_w + cw > limit:
                        lines.append("".join(line))
                        line, line_w = [], 0.0
                    line.append(ch)
                    line_w += cw
                continue
            if line and line_w + tw > limit:
                carry: list[str] = []
                if token in NO_LINE_START and len(line) > 1:
                    carry.append(line.pop())  # push the previous character down with it
                while len(line) > 1 and line[-1] in NO_LINE_END:
                    carry.insert(0, line.pop())
                while line and line[-1] == " ":
                    line.pop()
                lines.append("".join(line))
                line = carry
                line_w = fm.width_em("".join(line))
                if token == " ":
                    continue
            line.append(token)
            line_w += tw
        lines.append("".join(line).rstrip())
    return lines


def text_height(n_lines: int, size_pt: float) -> float:
    return n_lines * size_pt * LINE_FACTOR * PT_MM


def largest_size(fits, max_pt: float, min_pt: float, step: float = 0.25) -> float | None:
    """The largest size on the ``step`` grid in [min_pt, max_pt] for which ``fits(size)``; None if none does.

    Binary search (fitting is monotone in practice), then a check: if line breaking made the found size fail,
    scan downwards, so the result always fits.
    """
    grid = [max_pt - i * step for i in range(round((max_pt - min_pt) / step) + 1)]
    if fits(grid[0]):
        return grid[0]
    lo, hi = 0, len(grid)  # grid[lo] does not fit; answer in (lo, hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(grid[mid]):
            hi = mid
        else:
            lo = mid
    for size in grid[hi:]:
        if fits(size):
            return size
    return None


def fit(fm: FontMetrics, text: str, w: float, h: float, max_pt: float, min_pt: float) -> tuple[float, list[str]]:
    """The largest size (0.25 pt steps) at which ``text`` wrapped to ``w`` fits ``h``; at ``min_pt`` the text is
    cut with … as a last resort (never reached with the app's limits, but a box must never overflow)."""
    size = largest_size(lambda s: text_height(len(wrap(fm, text, w, s)), s) <= h, max_pt, min_pt)
    if size is not None:
        return size, wrap(fm, text, w, size)
    size = min_pt
    lines = wrap(fm, text, w, size)
    keep = max(1, int(h // (size * LINE_FACTOR * PT_MM)))
    return size, truncate(fm, lines, keep, w, size)


def truncate(fm: FontMetrics, lines: list[str], keep: int, w: float, size: float) -> list[str]:
    if len(lines) <= keep:
        return lines
    lines = lines[:keep]
    last = lines[-1]
    while last and fm.width_mm(last + ELLIPSIS, size) > w * WRAP_SAFETY:
        last = last[:-1]
    lines[-1] = last + ELLIPSIS
    return lines


def common_size(fm: FontMetrics, boxes: list[tuple[str, float, float]], max_pt: float, min_pt: float) -> float:
    """One size at which every (text, w, h) box fits (min_pt when none does)."""
    size = largest_size(lambda s: all(text_height(len(wrap(fm, t, w, s)), s) <= h for t, w, h in boxes),
                        max_pt, min_pt)
    return min_pt if size is None else size


def text_op(fm: FontMetrics, text: str, x: float, y: float, w: float, h: float, max_pt: float, min_pt: float,
            **style) -> TextOp:
    """A text fitted to the box (w, h); the op's height is that of its lines (boxes sized to their content)."""
    text = fm.clean(text)
    size, lines = fit(fm, text, w, h, max_pt, min_pt)
    op = TextOp(x, y, w, h, text if len(lines) == len(wrap(fm, text, w, size)) else "\n".join(lines),
                lines, size, **style)
    return shrink_to_content(op)


def shrink_to_content(op: TextOp) -> TextOp:
    """Box height = its lines (the PPTX text boxes are sized to their content)."""
    op.h = min(op.h, text_height(len(op.lines), op.size) + 0.01)
    return op


# --- info tables (基本情報 / その他の特徴) ------------------------------------------------------------------------


def _rows_height(fm: FontMetrics, rows: list[tuple[str, str]], label_w: float, value_w: float, size: float,
                 gap: float) -> float:
    total = 0.0
    for label, value in rows:
        n = max(len(wrap(fm, label, label_w, size)), len(wrap(fm, value or "—", value_w, size)))
        total += text_height(n, size) + gap
    return total


INFO_TITLE_H = 6.5
INFO_PANEL_GAP = 3.0
INFO_PAD = 1.5
INFO_MAX_PT = 8.5


INFO_TWO_COLUMNS_MIN_W = 130.0  # a wider info column lays its rows out in two columns
INFO_COLUMN_GAP = 4.0


def _info_geometry(w: float) -> tuple[int, float, float, float]:
    """(columns, column width, label width, value width) of the rows in a panel ``w`` wide."""
    cols = 2 if w >= INFO_TWO_COLUMNS_MIN_W else 1
    col_w = (w - 2 * INFO_PAD - (cols - 1) * INFO_COLUMN_GAP) / cols
    label_w = min(23.0, col_w * 0.4)
    return cols, col_w, label_w, col_w - label_w - 1.5


def _info_gap(size: float) -> float:
    return size * 0.18


def _split(rows: list, cols: int) -> list[list]:
    per = -(-len(rows) // cols) if rows else 0
    return [rows[c * per:(c + 1) * per] for c in range(cols)]


def _panel_height(fm: FontMetrics, rows, w: float, size: float) -> float:
    cols, _col_w, label_w, value_w = _info_geometry(w)
    return max((_rows_height(fm, part, label_w, value_w, size, _info_gap(size)) for part in _split(rows, cols)),
               default=0.0)


def _info_fits(fm: FontMetrics, panels, w: float, h: float):
    avail = h - sum((INFO_TITLE_H if t else 0) + 2 * INFO_PAD for t, _ in panels) - (len(panels) - 1) * INFO_PANEL_GAP

    def fits(size: float) -> bool:
        return sum(_panel_height(fm, rows, w, size) for _, rows in panels) <= avail

    return fits


def _clean_panels(fm: FontMetrics, panels) -> list:
    return [(title, [(fm.clean(lbl), fm.clean(val) or "—") for lbl, val in rows]) for title, rows in panels]


def info_size(fm: FontMetrics, panels, w: float, h: float) -> float | None:
    """The font size at which the panels fit (w, h), or None when they do not fit even at the minimum."""
    return largest_size(_info_fits(fm, _clean_panels(fm, panels), w, h), INFO_MAX_PT, MIN_INFO_PT)


def info_panels(fm: FontMetrics, panels: Sequence[tuple[str | None, Sequence[tuple[str, str]]]], x: float, y: float,
                w: float, h: float) -> list:
    """Stacked titled panels of label/value rows sharing one font size that makes all of them fit ``h``."""
    title_h, panel_gap, pad = INFO_TITLE_H, INFO_PANEL_GAP, INFO_PAD
    cols, col_w, label_w, value_w = _info_geometry(w)
    panels = _clean_panels(fm, panels)
    fits = _info_fits(fm, panels, w, h)
    gap = _info_gap
    size = largest_size(fits, INFO_MAX_PT, MIN_INFO_PT) or MIN_INFO_PT
    # Beyond capacity (more long free fields than a page holds): drop rows from the end and say so.
    dropped = 0
    while not fits(size) and len(panels[-1][1]) > 1:
        rows = [r for r in panels[-1][1] if r[0] != "…"]
        rows.pop()
        dropped += 1
        panels[-1] = (panels[-1][0], rows + [("…", f"ほか{dropped}項目は画面でご確認ください")])
    ops: list = []
    cy = y
    for title, rows in panels:
        th = title_h if title else 0.0
        body_h = _panel_height(fm, rows, w, size)
        remaining = y + h - cy - th - 2 * pad
        if body_h > remaining:  # only at the minimum size: cut rows that cannot fit
            body_h = max(remaining, 0)
        if title:
            ops.append(RectOp(x, cy, w, title_h, fill=ACCENT))
            ops.append(text_op(fm, title, x + 2, cy + 1.2, w - 4, title_h - 1.4, 9.5, 6, color=(255, 255, 255)))
        ops.append(RectOp(x, cy + th, w, body_h + 2 * pad, fill=(255, 255, 255), border=BORDER))
        bottom = cy + th + pad + body_h
        for c, part in enumerate(_split(rows, cols)):
            rx = x + pad + c * (col_w + INFO_COLUMN_GAP)
            ry = cy + th + pad
            for label, value in part:
                lab = wrap(fm, label, label_w, size)
                val = wrap(fm, value, value_w, size)
                rh = text_height(max(len(lab), len(val)), size)
                if ry + rh > bottom + 0.01:
                    room = int((bottom - ry) // (size * LINE_FACTOR * PT_MM))
                    if room <= 0:
                        break
                    lab, val = truncate(fm, lab, room, label_w, size), truncate(fm, val, room, value_w, size)
                    rh = text_height(room, size)
                ops.append(TextOp(rx, ry, label_w, text_height(len(lab), size), label, lab, size, color=MUTED))
                ops.append(TextOp(rx + label_w + 1.5, ry, value_w, text_height(len(val), size),
                                  value if len(val) == len(wrap(fm, value, value_w, size)) else "\n".join(val),
                                  val, size))
                ry += rh + gap(size)
        cy += th + body_h + 2 * pad + panel_gap
    return ops


# --- titled text blocks (sections, analysis) ---------------------------------------------------------------------


BLOCK_TITLE_H = 7.0
BLOCK_PAD = 2.0


def _block_bodies(fm: FontMetrics, blocks) -> list[tuple[str, float, float]]:
    return [(fm.clean(text) or "—", w - 2 * BLOCK_PAD, h - BLOCK_TITLE_H - 2 * BLOCK_PAD)
            for _, text, _, _, w, h in blocks]


def titled_blocks(fm: FontMetrics, blocks: list[tuple[str, str, float, float, float, float]], max_pt: float,
                  min_pt: float) -> list:
    """Blocks (title, text, x, y, w, h): a coloured title bar and a bordered body, one body size for all."""
    boxes = _block_bodies(fm, blocks)
    size = common_size(fm, boxes, max_pt, min_pt)
    title_h, pad = BLOCK_TITLE_H, BLOCK_PAD
    ops: list = []
    for (title, _text, x, y, w, h), (text, tw, th) in zip(blocks, boxes, strict=True):
        ops.append(RectOp(x, y, w, h, fill=(255, 255, 255), border=BORDER))
        ops.append(RectOp(x, y, w, title_h, fill=ACCENT_LIGHT))
        ops.append(RectOp(x, y, 1.2, title_h, fill=ACCENT))
        ops.append(text_op(fm, title, x + pad + 0.8, y + 1.2, w - 2 * pad - 0.8, title_h - 1.4, 10.5, 6,
                           color=ACCENT))
        body = text_op(fm, text, x + pad, y + title_h + pad, tw, th, size, min(size, min_pt))
        ops.append(shrink_to_content(body))
    return ops


# --- pages ---------------------------------------------------------------------------------------------------


def _contain(img_w: int, img_h: int, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    scale = min(w / img_w, h / img_h)
    dw, dh = img_w * scale, img_h * scale
    return x + (w - dw) / 2, y + (h - dh) / 2, dw, dh


def persona_page(fm: FontMetrics, doc: dict, portrait: tuple[bytes, int, int] | None) -> Page:
    page = Page()
    ops = page.ops
    left_w = PAGE1_LAYOUTS[0][0]  # the name block keeps the narrow width whatever the columns below
    # Portrait and name block.
    pw = 46.0
    if portrait is not None:
        data, iw, ih = portrait
        ix, iy, dw, dh = _contain(iw, ih, MARGIN, MARGIN, pw, pw)
        ops.append(RectOp(MARGIN, MARGIN, pw, pw, fill=PLACEHOLDER))
        ops.append(ImageOp(ix, iy, dw, dh, data))
    else:
        ops.append(RectOp(MARGIN, MARGIN, pw, pw, fill=PLACEHOLDER, border=BORDER))
        ops.append(shrink_to_content(text_op(fm, "画像なし", MARGIN, MARGIN + pw / 2 - 3, pw, 6, 9, 7,
                                             color=MUTED, align="center")))
    nx = MARGIN + pw + 4
    nw = left_w - pw - 4
    ops.append(shrink_to_content(text_op(fm, doc.get("title") or "患者ペルソナ", nx, MARGIN, nw, 5, 8, 6,
                                         color=ACCENT)))
    name = text_op(fm, doc.get("name") or "（名前なし）", nx, MARGIN + 5.5, nw, 16, 18, 8)
    ops.append(shrink_to_content(name))
    meta_y = name.y + name.h + 2
    meta_text = "\n".join(f"{k}：{v}" for k, v in doc.get("meta", []) if v)
    if meta_text:
        ops.append(shrink_to_content(text_op(fm, meta_text, nx, meta_y, nw, MARGIN + pw - meta_y, 8, 5.5,
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
        ssize = common_size(fm, _block_bodies(fm, blocks), SECTION_MAX_PT, SECTION_MIN_PT)
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
    ops.extend(info_panels(fm, panels, MARGIN, iy, left_w, PAGE_H - MARGIN - iy))
    ops.extend(titled_blocks(fm, blocks, SECTION_MAX_PT, SECTION_MIN_PT))
    return page


PAGE1_LAYOUTS = ((92.0, 3), (120.0, 3), (140.0, 2), (165.0, 2))  # (left column width, section columns)
PAGE1_READABLE_PT = 7.0
SECTION_MAX_PT = 10.0
SECTION_MIN_PT = 5.0


def _section_blocks(sections, left_w: float, cols: int) -> list:
    sx = MARGIN + left_w + 5
    sw = PAGE_W - MARGIN - sx
    gap = 4.0
    rows = -(-max(len(sections), 1) // cols)
    cw = (sw - (cols - 1) * gap) / cols
    rh = (PAGE_H - 2 * MARGIN - (rows - 1) * gap) / rows
    return [(label, text, sx + (i % cols) * (cw + gap), MARGIN + (i // cols) * (rh + gap), cw, rh)
            for i, (label, text) in enumerate(sections)]


def timeline_page(fm: FontMetrics, doc: dict, chart_fn=None) -> Page:
    """``chart_fn(w_mm, h_mm)`` -> (data, px_w, px_h[, "svg"]) | None draws the chart for the box left to it."""
    page = Page()
    ops = page.ops
    timeline = doc["timeline"]
    title = text_op(fm, "タイムライン分析", MARGIN, MARGIN, 120, 9, 16, 10, color=ACCENT)
    ops.append(shrink_to_content(title))
    subtitle = timeline.get("subtitle") or ""
    if subtitle:
        ops.append(shrink_to_content(text_op(fm, subtitle, MARGIN + 125, MARGIN + 2, PAGE_W - 2 * MARGIN - 125, 6,
                                             9, 6, color=MUTED, align="right")))
    ops.append(RectOp(MARGIN, MARGIN + 10, PAGE_W - 2 * MARGIN, 0.6, fill=ACCENT))
    top = MARGIN + 14
    analysis = timeline.get("analysis") or []
    if not analysis:
        analysis = [("分析", "タイムライン分析の結果はまだありません。結果画面の「タイムライン分析」から実行できます。")]
    # The chart gives up width when the analysis is long (up to 3 x 2,000 characters): the widest chart whose
    # analysis column still reads at >= 7.5 pt, else the layout with the largest analysis text.
    best: tuple[float, float, list] | None = None
    for chart_w in CHART_WIDTHS:
        blocks = _analysis_blocks(fm, analysis, MARGIN + chart_w + 5, top)
        size = common_size(fm, _block_bodies(fm, blocks), ANALYSIS_MAX_PT, ANALYSIS_MIN_PT)
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
    chart = chart_fn(chart_w, chart_h) if chart_fn is not None else None
    if chart is not None:
        data, iw, ih = chart[:3]
        fmt = "svg" if chart[3:] == ("svg",) else "raster"
        ix, iy, dw, dh = _contain(iw, ih, MARGIN, top, chart_w, chart_h)
        ops.append(RectOp(MARGIN, top, chart_w, chart_h, fill=(255, 255, 255), border=BORDER))
        ops.append(ImageOp(ix, iy, dw, dh, data, fmt))
    else:
        ops.append(RectOp(MARGIN, top, chart_w, chart_h, fill=PLACEHOLDER, border=BORDER))
        ops.append(shrink_to_content(text_op(fm, "この条件に該当するキーワードデータがありません", MARGIN + 2,
                                             top + chart_h / 2 - 3, chart_w - 4, 6, 9, 6, color=MUTED,
                                             align="center")))
    if summary:
        sy = top + chart_h + 4
        title_h = 6.5
        ops.append(RectOp(MARGIN, sy, chart_w, title_h, fill=ACCENT))
        ops.append(text_op(fm, "データの概要", MARGIN + 2, sy + 1.2, chart_w - 4, title_h - 1.4, 9.5, 6,
                           color=(255, 255, 255)))
        col_w = chart_w / cols
        for c in range(cols):
            rows = summary[c * per_col:(c + 1) * per_col]
            if rows:
                ops.extend(info_panels(fm, [(None, rows)], MARGIN + c * col_w, sy + title_h, col_w,
                                       summary_h - title_h))
    ops.extend(titled_blocks(fm, blocks, ANALYSIS_MAX_PT, ANALYSIS_MIN_PT))
    return page


CHART_WIDTHS = (172.0, 150.0, 130.0, 110.0, 90.0, 70.0)
ANALYSIS_MAX_PT = 9.0
ANALYSIS_READABLE_PT = 7.5
ANALYSIS_MIN_PT = 4.5


def _analysis_blocks(fm: FontMetrics, analysis, ax: float, top: float) -> list:
    """The analysis blocks stacked in the column right of the chart, heights in proportion to their text."""
    aw = PAGE_W - MARGIN - ax
    gap = 3.0
    total_h = PAGE_H - MARGIN - top - gap * (len(analysis) - 1)
    min_h = 24.0
    weights = [max(len(fm.clean(t)), 40) for _, t in analysis]
    flex = total_h - min_h * len(analysis)
    heights = [min_h + flex * w / sum(weights) for w in weights]
    blocks = []
    y = top
    for (heading, text), h in zip(analysis, heights, strict=True):
        blocks.append((heading, text, ax, y, aw, h))
        y += h + gap
    return blocks


def build_pages(fm: FontMetrics, doc: dict, portrait, chart_fn=None) -> list[Page]:
    pages = [persona_page(fm, doc, portrait)]
    if doc.get("timeline"):
        pages.append(timeline_page(fm, doc, chart_fn))
    return pages
