"""The message test's chart, drawn by our own code as SVG (no chart library, nothing fetched): how many personas
gave each score (5 to 1, bars), the average, and how many would book. The same SVG is shown on the page and
embedded in the PDF (drawn there with the document's font)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

PAGE_FONT = '"Hiragino Kaku Gothic ProN","Hiragino Sans","Yu Gothic UI",Meiryo,"Noto Sans JP",sans-serif'
BAR = "#1f6f8b"
BOOK = "#1e7a46"
GRID = "#d5dbe2"
TEXT = "#1d2733"
MUTED = "#5a6675"


def score_chart_svg(stats: dict[str, Any], width: int = 640, height: int = 300, *, font_family: str = PAGE_FONT,
                    title: bool = True) -> str:
    count = int(stats.get("count") or 0)
    dist = stats.get("distribution") or {}
    values = [int(dist.get(str(score), 0)) for score in range(5, 0, -1)]
    top = max(values + [1])
    left, right, head, foot = 110, 60, 40, 56
    plot_w, plot_h = width - left - right, height - head - foot
    row_h = plot_h / 5
    font = escape(font_family, {'"': "&quot;"})
    svg_open = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" font-family="{font}" role="img" aria-labelledby="chart-title">')
    parts = [svg_open]
    summary = f"スコアの分布（{count}人、平均{stats.get('average', 0)}）"
    if title:
        parts.append(f'<title id="chart-title">{escape(summary)}</title>')
    parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>')
    parts.append(f'<text x="{left}" y="24" font-size="16" fill="{TEXT}">{escape(summary)}</text>')
    for i, (score, value) in enumerate(zip(range(5, 0, -1), values, strict=True)):
        y = head + i * row_h
        bar_w = plot_w * value / top if value else 0
        parts.append(f'<text x="{left - 10}" y="{y + row_h / 2 + 5:.1f}" font-size="14" text-anchor="end" '
                     f'fill="{TEXT}">{score}点</text>')
        parts.append(f'<rect x="{left}" y="{y + 4:.1f}" width="{plot_w}" height="{row_h - 8:.1f}" fill="#eef2f5"/>')
        if bar_w:
            parts.append(f'<rect x="{left}" y="{y + 4:.1f}" width="{bar_w:.1f}" height="{row_h - 8:.1f}" fill="{BAR}"/>')
        parts.append(f'<text x="{left + bar_w + 6:.1f}" y="{y + row_h / 2 + 5:.1f}" font-size="14" '
                     f'fill="{TEXT}">{value}人</text>')
    book = int(stats.get("would_book") or 0)
    y = height - foot + 18
    parts.append(f'<line x1="{left}" y1="{height - foot + 4}" x2="{left + plot_w}" y2="{height - foot + 4}" '
                 f'stroke="{GRID}"/>')
    parts.append(f'<text x="{left - 10}" y="{y + 13}" font-size="14" text-anchor="end" fill="{TEXT}">予約する</text>')
    parts.append(f'<rect x="{left}" y="{y}" width="{plot_w}" height="18" fill="#eef2f5"/>')
    if count and book:
        parts.append(f'<rect x="{left}" y="{y}" width="{plot_w * book / count:.1f}" height="18" fill="{BOOK}"/>')
    parts.append(f'<text x="{left + plot_w + 6}" y="{y + 14}" font-size="14" fill="{MUTED}">{book}/{count}人</text>')
    parts.append("</svg>")
    return "".join(parts)
