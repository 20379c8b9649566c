"""The timeline chart drawn from its layout (``keywords.chart``): SVG (web page, PDF) or PNG (exports).

    svg = render_svg(layout)                              # str, presentation attributes only (CSP: no style=)
    png = render_png(layout, font_file, scale=2)          # bytes (Pillow, imported lazily; the exports' font)

Both draw the same ``ChartLayout``, so the page and the exports show the same chart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from medipersona.keywords.chart import AFTER_COLOR, BEFORE_COLOR, ChartLayout

AXIS_COLOR = "#334155"
GRID_COLOR = "#e2e8f0"
TEXT_COLOR = "#0f172a"
MUTED_COLOR = "#64748b"
FONT_FAMILY = "IPAexGothic, 'Hiragino Sans', 'Noto Sans JP', 'Yu Gothic', Meiryo, sans-serif"


# --------------------------------------------------------------------------------------------------------------
# SVG


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def render_svg(layout: ChartLayout, *, title: str | None = None) -> str:
    """Standalone SVG (presentation attributes only — the page CSP forbids style attributes)."""
    L = layout
    title_text = escape(title or L.title)
    out: list[str] = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {L.width} {L.height}" width="{L.width}" '
         f'height="{L.height}" role="img" aria-label="{escape(title or L.title, {chr(34): "&quot;"})}" '
         f'font-family="{escape(FONT_FAMILY, {chr(34): "&quot;"})}" class="timeline-chart">'),
        f"<title>{title_text}</title>",
        f'<rect x="0" y="0" width="{L.width}" height="{L.height}" fill="#ffffff"/>',
        (f'<text x="{_f(L.left)}" y="22" font-size="{_f(L.font_size + 3)}" font-weight="bold" '
         f'fill="{TEXT_COLOR}">{title_text}</text>'),
    ]
    if L.empty_message:
        out.append(f'<rect x="{_f(L.left)}" y="{_f(L.top)}" width="{_f(L.right - L.left)}" '
                   f'height="{_f(L.bottom - L.top)}" fill="none" stroke="{AXIS_COLOR}"/>')
        out.append(f'<text x="{_f((L.left + L.right) / 2)}" y="{_f((L.top + L.bottom) / 2)}" '
                   f'text-anchor="middle" font-size="{_f(L.font_size + 2)}" fill="{MUTED_COLOR}">'
                   f"{escape(L.empty_message)}</text></svg>")
        return "".join(out)
    for t in L.y_ticks:
        out.append(f'<line x1="{_f(L.left)}" y1="{_f(t.pos)}" x2="{_f(L.right)}" y2="{_f(t.pos)}" '
                   f'stroke="{GRID_COLOR}"/>')
        out.append(f'<text x="{_f(L.left - 6)}" y="{_f(t.pos + 4)}" text-anchor="end" '
                   f'font-size="{_f(L.font_size)}" fill="{MUTED_COLOR}">{escape(t.label)}</text>')
    for t in L.x_ticks:
        out.append(f'<line x1="{_f(t.pos)}" y1="{_f(L.top)}" x2="{_f(t.pos)}" y2="{_f(L.bottom)}" '
                   f'stroke="{GRID_COLOR}"/>')
        out.append(f'<text x="{_f(t.pos)}" y="{_f(L.bottom + 16)}" text-anchor="middle" '
                   f'font-size="{_f(L.font_size)}" fill="{MUTED_COLOR}">{escape(t.label)}</text>')
    out.append(f'<rect x="{_f(L.left)}" y="{_f(L.top)}" width="{_f(L.right - L.left)}" '
               f'height="{_f(L.bottom - L.top)}" fill="none" stroke="{AXIS_COLOR}"/>')
    if L.zero_x is not None:
        out.append(f'<line x1="{_f(L.zero_x)}" y1="{_f(L.top)}" x2="{_f(L.zero_x)}" y2="{_f(L.bottom)}" '
                   f'stroke="{AXIS_COLOR}" stroke-dasharray="4 3"/>')
    out.append('<g class="timeline-chart__points">')
    for p in L.points:
        out.append(f'<circle cx="{_f(p.x)}" cy="{_f(p.y)}" r="{_f(p.r)}" fill="{p.color}" fill-opacity="0.55" '
                   f'stroke="{p.color}" stroke-width="0.8"><title>{escape(p.keyword)}（{p.days:+.1f}日・'
                   f'{p.overlap:,}人）</title></circle>')
    out.append("</g><g class=\"timeline-chart__labels\">")
    for b in L.labels:
        color = BEFORE_COLOR if b.phase == "before" else AFTER_COLOR
        if b.leader:
            ex, ey = b.leader_end()
            out.append(f'<line x1="{_f(b.anchor_x)}" y1="{_f(b.anchor_y)}" x2="{_f(ex)}" y2="{_f(ey)}" '
                       f'stroke="{color}" stroke-width="0.8" stroke-opacity="0.8"/>')
        out.append(f'<rect x="{_f(b.x)}" y="{_f(b.y)}" width="{_f(b.width)}" height="{_f(b.height)}" '
                   f'fill="#ffffff" fill-opacity="0.85" rx="2"/>')
        out.append(f'<text x="{_f(b.text_x)}" y="{_f(b.text_y)}" font-size="{_f(b.font_size)}" '
                   f'fill="{TEXT_COLOR}">{escape(b.text)}</text>')
    out.append("</g>")
    # Legend (top right) and axis titles.
    lx = L.right - 150
    for i, (name, color) in enumerate(L.legend):
        x = lx + i * 75
        out.append(f'<circle cx="{_f(x)}" cy="18" r="5" fill="{color}" fill-opacity="0.7"/>')
        out.append(f'<text x="{_f(x + 9)}" y="22" font-size="{_f(L.font_size)}" fill="{TEXT_COLOR}">'
                   f"{escape(name)}</text>")
    out.append(f'<text x="{_f((L.left + L.right) / 2)}" y="{_f(L.height - 10)}" text-anchor="middle" '
               f'font-size="{_f(L.font_size)}" fill="{TEXT_COLOR}">{escape(L.x_title)}</text>')
    cy = (L.top + L.bottom) / 2
    out.append(f'<text x="14" y="{_f(cy)}" text-anchor="middle" font-size="{_f(L.font_size)}" '
               f'fill="{TEXT_COLOR}" transform="rotate(-90 14 {_f(cy)})">{escape(L.y_title)}</text>')
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------------------------------------------
# PNG


@lru_cache(maxsize=16)
def _font(font_file: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(font_file, size)


def _hex(color: str, alpha: int = 255) -> tuple[int, int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16), alpha


def render_png(layout: ChartLayout, font_file: Path | str, scale: int = 2, *, title: str | None = None) -> bytes:
    """The same layout as a PNG, its text in ``font_file`` (the exports' font, passed by the caller: the one font
    finder is ``exports.fonts.font_path``) (CPU work: call it in a worker thread or the export pool)."""
    import io

    from PIL import Image, ImageDraw

    L = layout
    s = scale
    image = Image.new("RGBA", (L.width * s, L.height * s), (255, 255, 255, 255))
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    odraw = ImageDraw.Draw(overlay)
    font = _font(str(font_file), round(L.font_size * s))
    title_font = _font(str(font_file), round((L.font_size + 3) * s))

    def S(v: float) -> float:
        return v * s

    draw.text((S(L.left), S(22)), title or L.title, font=title_font, fill=_hex(TEXT_COLOR), anchor="ls")
    if L.empty_message:
        draw.rectangle([S(L.left), S(L.top), S(L.right), S(L.bottom)], outline=_hex(AXIS_COLOR), width=s)
        draw.text((S((L.left + L.right) / 2), S((L.top + L.bottom) / 2)), L.empty_message, font=font,
                  fill=_hex(MUTED_COLOR), anchor="mm")
    else:
        for t in L.y_ticks:
            draw.line([S(L.left), S(t.pos), S(L.right), S(t.pos)], fill=_hex(GRID_COLOR), width=max(1, s // 2))
            draw.text((S(L.left - 6), S(t.pos)), t.label, font=font, fill=_hex(MUTED_COLOR), anchor="rm")
        for t in L.x_ticks:
            draw.line([S(t.pos), S(L.top), S(t.pos), S(L.bottom)], fill=_hex(GRID_COLOR), width=max(1, s // 2))
            draw.text((S(t.pos), S(L.bottom + 16)), t.label, font=font, fill=_hex(MUTED_COLOR), anchor="ms")
        draw.rectangle([S(L.left), S(L.top), S(L.right), S(L.bottom)], outline=_hex(AXIS_COLOR), width=s)
        if L.zero_x is not None:
            y = L.top
            while y < L.bottom:
                draw.line([S(L.zero_x), S(y), S(L.zero_x), S(min(y + 4, L.bottom))], fill=_hex(AXIS_COLOR), width=s)
                y += 7
        for p in L.points:
            box = [S(p.x - p.r), S(p.y - p.r), S(p.x + p.r), S(p.y + p.r)]
            odraw.ellipse(box, fill=_hex(p.color, 140), outline=_hex(p.color, 230), width=max(1, s // 2))
        image = Image.alpha_composite(image, overlay)
        draw = ImageDraw.Draw(image)
        for b in L.labels:
            color = BEFORE_COLOR if b.phase == "before" else AFTER_COLOR
            if b.leader:
                ex, ey = b.leader_end()
                draw.line([S(b.anchor_x), S(b.anchor_y), S(ex), S(ey)], fill=_hex(color, 220), width=max(1, s // 2))
            draw.rounded_rectangle([S(b.x), S(b.y), S(b.x + b.width), S(b.y + b.height)], radius=2 * s,
                                   fill=(255, 255, 255, 225))
            draw.text((S(b.text_x), S(b.text_y)), b.text, font=_font(str(font_file), round(b.font_size * s)),
                      fill=_hex(TEXT_COLOR), anchor="ls")
    lx = L.right - 150
    for i, (name, color) in enumerate(L.legend):
        x = lx + i * 75
        draw.ellipse([S(x - 5), S(13), S(x + 5), S(23)], fill=_hex(color, 200))
        draw.text((S(x + 9), S(22)), name, font=font, fill=_hex(TEXT_COLOR), anchor="ls")
    draw.text((S((L.left + L.right) / 2), S(L.height - 10)), L.x_title, font=font, fill=_hex(TEXT_COLOR),
              anchor="ms")
    # Rotated Y title.
    tw = int(font.getlength(L.y_title)) + 4
    title_img = Image.new("RGBA", (tw, int(L.font_size * s * 1.6)), (255, 255, 255, 0))
    ImageDraw.Draw(title_img).text((2, 0), L.y_title, font=font, fill=_hex(TEXT_COLOR))
    rotated = title_img.rotate(90, expand=True)
    cy = S((L.top + L.bottom) / 2)
    image.alpha_composite(rotated, (int(S(6)), int(cy - rotated.height / 2)))
    buf = io.BytesIO()
    # compress_level 3: ~10x faster than optimize=True for a few % more bytes (exports render this per call).
    image.convert("RGB").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()
