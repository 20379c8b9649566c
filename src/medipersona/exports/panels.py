"""The two boxed pieces every document page is made of: info panels (titled label/value rows, 基本情報 and the
like) and titled text blocks (the persona's sections, analyses, SWOT). Boxes that share a role share one font
size, so a page looks even."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from medipersona.exports.fonts import PT_MM, FontMetrics
from medipersona.exports.geometry import (
    ACCENT,
    ACCENT_LIGHT,
    BORDER,
    LINE_FACTOR,
    MUTED,
    WHITE,
    Box,
    FontRange,
    TextOp,
    rect,
)
from medipersona.exports.text_fit import (
    common_size,
    largest_size,
    shrink_to_content,
    text_height,
    text_op,
    truncate,
    wrap,
)

MIN_INFO_PT = 5.5


# --- info panels (基本情報 / その他の特徴) ------------------------------------------------------------------------


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
INFO_FONT = FontRange(8.5, MIN_INFO_PT)  # label/value rows; one size for every panel of a column
PANEL_TITLE_FONT = FontRange(9.5, 6)  # the white title on a panel's coloured bar
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
    return largest_size(_info_fits(fm, _clean_panels(fm, panels), w, h), INFO_FONT.max_pt, INFO_FONT.min_pt)


def info_panels(fm: FontMetrics, panels: Sequence[tuple[str | None, Sequence[tuple[str, str]]]], box: Box) -> list:
    """Stacked titled panels of label/value rows sharing one font size that makes all of them fit the box."""
    x, y, w, h = box.x, box.y, box.w, box.h
    title_h, panel_gap, pad = INFO_TITLE_H, INFO_PANEL_GAP, INFO_PAD
    cols, col_w, label_w, value_w = _info_geometry(w)
    panels = _clean_panels(fm, panels)
    fits = _info_fits(fm, panels, w, h)
    gap = _info_gap
    size = largest_size(fits, INFO_FONT.max_pt, INFO_FONT.min_pt) or INFO_FONT.min_pt
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
            ops.append(rect(Box(x, cy, w, title_h), fill=ACCENT))
            ops.append(text_op(fm, title, Box(x + 2, cy + 1.2, w - 4, title_h - 1.4), PANEL_TITLE_FONT, color=WHITE))
        ops.append(rect(Box(x, cy + th, w, body_h + 2 * pad), fill=WHITE, border=BORDER))
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


# --- titled text blocks (sections, analysis) -------------------------------------------------------------------


BLOCK_TITLE_H = 7.0
BLOCK_PAD = 2.0
BLOCK_TITLE_FONT = FontRange(10.5, 6)  # a block's title on its light bar


class Block(NamedTuple):
    """A titled text block: a coloured title bar over a bordered body, filling ``box``."""

    title: str
    text: str
    box: Box


def block_bodies(fm: FontMetrics, blocks: Sequence[Block]) -> list[tuple[str, float, float]]:
    """(text, w, h) of each block's body, as ``common_size`` takes them."""
    return [(fm.clean(b.text) or "—", b.box.w - 2 * BLOCK_PAD, b.box.h - BLOCK_TITLE_H - 2 * BLOCK_PAD)
            for b in blocks]


def titled_blocks(fm: FontMetrics, blocks: Sequence[Block], font: FontRange) -> list:
    """The blocks, one body size for all (the largest in ``font`` at which every body fits)."""
    boxes = block_bodies(fm, blocks)
    size = common_size(fm, boxes, font)
    title_h, pad = BLOCK_TITLE_H, BLOCK_PAD
    ops: list = []
    for block, (text, tw, th) in zip(blocks, boxes, strict=True):
        title, x, y, w = block.title, block.box.x, block.box.y, block.box.w
        ops.append(rect(block.box, fill=WHITE, border=BORDER))
        ops.append(rect(Box(x, y, w, title_h), fill=ACCENT_LIGHT))
        ops.append(rect(Box(x, y, 1.2, title_h), fill=ACCENT))
        ops.append(text_op(fm, title, Box(x + pad + 0.8, y + 1.2, w - 2 * pad - 0.8, title_h - 1.4), BLOCK_TITLE_FONT,
                           color=ACCENT))
        body = text_op(fm, text, Box(x + pad, y + title_h + pad, tw, th), FontRange(size, min(size, font.min_pt)))
        ops.append(shrink_to_content(body))
    return ops
