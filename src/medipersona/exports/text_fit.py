"""Japanese text wrapped and fitted to a box: line breaking with the font's own advance widths and kinsoku (no
line starts with 、。） etc.), and the largest size in a font range at which the text fits, so neither renderer
can overflow."""

from __future__ import annotations

from medipersona.exports.fonts import PT_MM, FontMetrics
from medipersona.exports.geometry import LINE_FACTOR, Box, FontRange, TextOp

WRAP_SAFETY = 0.985  # wrap a little inside the box: renderers (PowerPoint) may measure slightly wider
NO_LINE_START = set("、。，．,.・：；:;？！?!ー－）)]｝}〕〉》」』】〙〗ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々ゝゞヽヾ…‥％%")
NO_LINE_END = set("（([｛{〔〈《「『【〘〖")
ELLIPSIS = "…"


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


def fit(fm: FontMetrics, text: str, w: float, h: float, font: FontRange) -> tuple[float, list[str]]:
    """The largest size (0.25 pt steps) at which ``text`` wrapped to ``w`` fits ``h``; at ``font.min_pt`` the text
    is cut with … as a last resort (never reached with the app's limits, but a box must never overflow)."""
    size = largest_size(lambda s: text_height(len(wrap(fm, text, w, s)), s) <= h, font.max_pt, font.min_pt)
    if size is not None:
        return size, wrap(fm, text, w, size)
    size = font.min_pt
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


def common_size(fm: FontMetrics, boxes: list[tuple[str, float, float]], font: FontRange) -> float:
    """One size at which every (text, w, h) box fits (``font.min_pt`` when none does)."""
    size = largest_size(lambda s: all(text_height(len(wrap(fm, t, w, s)), s) <= h for t, w, h in boxes),
                        font.max_pt, font.min_pt)
    return font.min_pt if size is None else size


def text_op(fm: FontMetrics, text: str, box: Box, font: FontRange, **style) -> TextOp:
    """A text fitted to the box; the op's height is that of its lines (boxes sized to their content)."""
    text = fm.clean(text)
    size, lines = fit(fm, text, box.w, box.h, font)
    op = TextOp(box.x, box.y, box.w, box.h,
                text if len(lines) == len(wrap(fm, text, box.w, size)) else "\n".join(lines), lines, size, **style)
    return shrink_to_content(op)


def shrink_to_content(op: TextOp) -> TextOp:
    """Box height = its lines (the PPTX text boxes are sized to their content)."""
    op.h = min(op.h, text_height(len(op.lines), op.size) + 0.01)
    return op
