"""Document pieces beyond the persona page (A4 landscape, same fonts and colours): a page header and a table that
continues over as many pages as its rows need. Used by the competitor, persona-set, interview and message-test
documents; runs in the export process pool (plain layout ops, no library imports).
"""

from __future__ import annotations

from medipersona.exports.fonts import PT_MM
from medipersona.exports.geometry import (
    ACCENT,
    ACCENT_LIGHT,
    BORDER,
    LINE_FACTOR,
    MARGIN,
    MUTED,
    PAGE_H,
    PAGE_W,
    Box,
    FontRange,
    Page,
    RectOp,
    TextOp,
)
from medipersona.exports.panels import Block, titled_blocks
from medipersona.exports.text_fit import shrink_to_content, text_height, text_op, truncate, wrap

CELL_PAD = 1.2
CONTINUED = "（続き）"
PAGE_TITLE_FONT = FontRange(16, 10)
SUBTITLE_FONT = FontRange(9, 6)


def page_header(fm, ops: list, title: str, subtitle: str) -> float:
    """Title left, subtitle right, a rule under both; returns the y where the page's content starts."""
    ops.append(shrink_to_content(text_op(fm, title, Box(MARGIN, MARGIN, 150, 9), PAGE_TITLE_FONT, color=ACCENT)))
    if subtitle:
        ops.append(shrink_to_content(text_op(fm, subtitle, Box(MARGIN + 155, MARGIN + 2, PAGE_W - 2 * MARGIN - 155, 6),
                                             SUBTITLE_FONT, color=MUTED, align="right")))
    ops.append(RectOp(MARGIN, MARGIN + 10, PAGE_W - 2 * MARGIN, 0.6, fill=ACCENT))
    return MARGIN + 14


def table_pages(fm, columns: list[tuple[str, float]], rows: list[list[str]], *, title: str, subtitle: str = "",
                size: float = 7.5, max_lines: int = 3, start: tuple[Page, float] | None = None,
                empty: str = "") -> list[Page]:
    """A table with a coloured head row repeated on every page; cells wrapped to their column and cut to
    ``max_lines`` lines (with …). ``columns``: (label, width in mm). ``start``: (page, y) to begin on an existing
    page below its content (the page is not returned again); otherwise the first page is new, with a header.
    Continuation pages are titled ``title（続き）``."""
    pages: list[Page] = []
    width = sum(w for _, w in columns)
    head_h = text_height(1, size) + 2 * CELL_PAD

    def head(page: Page, top: float) -> float:
        page.ops.append(RectOp(MARGIN, top, width, head_h, fill=ACCENT))
        x = MARGIN
        for label, w in columns:
            page.ops.append(TextOp(x + CELL_PAD, top + CELL_PAD, w - 2 * CELL_PAD, text_height(1, size), label,
                                   [label], size, color=(255, 255, 255)))
            x += w
        return top + head_h

    def new_page(continued: bool) -> tuple[Page, float]:
        page = Page()
        top = page_header(fm, page.ops, title + (CONTINUED if continued else ""), subtitle)
        pages.append(page)
        return page, head(page, top)

    if start is not None:
        page, y = start[0], head(*start)
    else:
        page, y = new_page(False)
    if not rows:
        if empty:
            page.ops.append(TextOp(MARGIN + CELL_PAD, y + 3, width, text_height(1, 9), empty, [empty], 9,
                                   color=MUTED))
        return pages
    line_h = size * LINE_FACTOR * PT_MM
    for i, row in enumerate(rows):
        cells = []
        for (_label, w), value in zip(columns, row, strict=True):
            value = fm.clean(str(value)) or "—"
            full = wrap(fm, value, w - 2 * CELL_PAD, size)
            lines = truncate(fm, full, max_lines, w - 2 * CELL_PAD, size)
            cells.append((value if len(lines) == len(full) else "\n".join(lines), lines))
        h = max(len(lines) for _, lines in cells) * line_h + 2 * CELL_PAD
        if y + h > PAGE_H - MARGIN:
            page, y = new_page(True)
        page.ops.append(RectOp(MARGIN, y, width, h, fill=ACCENT_LIGHT if i % 2 else (255, 255, 255), border=BORDER))
        x = MARGIN
        for (text, lines), (_label, w) in zip(cells, columns, strict=True):
            page.ops.append(TextOp(x + CELL_PAD, y + CELL_PAD, w - 2 * CELL_PAD, text_height(len(lines), size), text,
                                   lines, size))
            x += w
        y += h
    return pages


def block_grid_page(fm, title: str, subtitle: str, blocks: list[tuple[str, str]], *, font: FontRange,
                    gap: float = 4.0) -> Page:
    """A page of titled text blocks (title, text) two to a row, filling the page below the header."""
    page = Page()
    top = page_header(fm, page.ops, title, subtitle)
    rows = max(1, -(-len(blocks) // 2))
    w = (PAGE_W - 2 * MARGIN - gap) / 2
    h = (PAGE_H - MARGIN - top - gap * (rows - 1)) / rows
    page.ops.extend(titled_blocks(fm, [Block(label, text or "—", Box(MARGIN + (i % 2) * (w + gap),
                                                                      top + (i // 2) * (h + gap), w, h))
                                       for i, (label, text) in enumerate(blocks)], font))
    return page
