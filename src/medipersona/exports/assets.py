"""Images of an export, made inside the export process: the stored portrait and the timeline chart.

Only stored data is used: the portrait's bytes (read from shared storage by the web worker and handed over with
the document) and the timeline series computed from the keyword store. Nothing is fetched from a URL.
"""

from __future__ import annotations

import logging
import re
from io import BytesIO

log = logging.getLogger("medipersona.exports")

PORTRAIT_MAX_PX = 640  # 46 mm at ~350 dpi
CHART_DPI = 220


def created_at(doc: dict):
    """The persona's creation time: the files' own dates, so the same persona gives the same PDF."""
    from datetime import UTC, datetime

    try:
        created = datetime.fromisoformat(doc["created"]) if doc.get("created") else None
    except ValueError:
        return None
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created


def load_portrait(data: bytes | None) -> tuple[bytes, int, int] | None:
    """The portrait (stored PNG/JPEG/WebP bytes) as JPEG bytes with its size, or None when missing or unreadable
    (the page shows 画像なし)."""
    if not data:
        return None
    from PIL import Image, ImageOps

    try:
        with Image.open(BytesIO(data)) as opened:
            img: Image.Image = ImageOps.exif_transpose(opened)
            img.thumbnail((PORTRAIT_MAX_PX, PORTRAIT_MAX_PX))
            if img.mode in ("RGBA", "LA", "P"):
                rgba = img.convert("RGBA")
                img = Image.new("RGB", rgba.size, (255, 255, 255))
                img.paste(rgba, mask=rgba.split()[-1])
            else:
                img = img.convert("RGB")
            out = BytesIO()
            img.save(out, format="JPEG", quality=88, optimize=False)
            return out.getvalue(), img.width, img.height
    except (OSError, ValueError, SyntaxError) as exc:
        log.warning("portrait unreadable, exporting without it: %s", type(exc).__name__)
        return None


CHART_WIDTH_PX = 860


def _chart_size(w_mm: float, h_mm: float) -> tuple[int, int]:
    return CHART_WIDTH_PX, max(200, int(CHART_WIDTH_PX * h_mm / w_mm))


def chart_svg(series, w_mm: float, h_mm: float, font_key: str) -> tuple[bytes, int, int, str] | None:
    """The timeline chart as SVG for the PDF (vector, drawn by fpdf2 with the document's own font): no raster
    encode/decode, crisp at any zoom, keywords searchable. Falls back to PNG without the keyword chart module."""
    if not series:
        return None
    try:
        from medipersona.keywords.chart import build_chart_layout, render_svg
    except ImportError:
        png = chart_png(series, w_mm, h_mm)
        return None if png is None else (*png, "png")
    width, height = _chart_size(w_mm, h_mm)
    svg = render_svg(build_chart_layout(series, width, height))
    # fpdf2 resolves font-family against the document's fonts: use ours; it has no bold face and no <title>.
    svg = re.sub(r'font-family="[^"]*"', f'font-family="{font_key}"', svg)
    svg = re.sub(r'\sfont-weight="[^"]*"', "", svg)
    svg = re.sub(r"<title>.*?</title>", "", svg, flags=re.DOTALL)
    return svg.encode(), width, height, "svg"


def chart_png(series, w_mm: float, h_mm: float) -> tuple[bytes, int, int] | None:
    """The timeline chart as PNG sized for a w_mm x h_mm box, drawn by the one chart code path (keywords.chart)."""
    if not series:
        return None
    width, height = _chart_size(w_mm, h_mm)
    scale = max(1, round((w_mm / 25.4 * CHART_DPI) / width))  # integer pixel scale of keywords.chart
    try:
        from medipersona.keywords.chart import build_chart_layout, render_png
    except ImportError:  # keyword chart not available in this build: a minimal scatter of the same data
        data = _fallback_chart(series, width * scale, height * scale)
    else:
        data = render_png(build_chart_layout(series, width, height), scale)
    from PIL import Image

    with Image.open(BytesIO(data)) as img:
        return data, img.width, img.height


def _points(series) -> list[tuple[str, float, float]]:
    rows = series.get("series", series.get("points")) if isinstance(series, dict) else series
    points = []
    for row in rows or []:
        if not isinstance(row, dict):
            continue
        days = row.get("days", row.get("x"))
        volume = row.get("overlap", row.get("volume", row.get("y")))
        if days is None or volume is None:
            continue
        points.append((str(row.get("keyword", "")), float(days), float(volume)))
    return points


def _fallback_chart(series, width: int, height: int) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    from medipersona.exports.fonts import font_path

    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(font_path()), max(12, width // 70))
    points = _points(series)
    left, right, top, bottom = width * 0.09, width * 0.97, height * 0.06, height * 0.88
    draw.line([(left, bottom), (right, bottom)], fill=(120, 120, 120), width=2)
    draw.line([(left, top), (left, bottom)], fill=(120, 120, 120), width=2)
    draw.text(((left + right) / 2, height * 0.97), "検索時間差（日）", fill=(60, 60, 60), font=font, anchor="mb")
    draw.text((width * 0.01, top - 4), "重複ボリューム", fill=(60, 60, 60), font=font, anchor="ls")
    if points:
        xs = [p[1] for p in points]
        ys = [p[2] for p in points]
        x0, x1 = min(xs + [0]), max(xs + [0])
        y1 = max(ys) or 1
        span = (x1 - x0) or 1

        def px(x: float, y: float) -> tuple[float, float]:
            return left + (x - x0) / span * (right - left), bottom - y / y1 * (bottom - top)

        zx = px(0, 0)[0]
        draw.line([(zx, top), (zx, bottom)], fill=(190, 190, 190), width=1)
        r = max(4, width // 200)
        for _keyword, x, y in sorted(points, key=lambda p: -p[2])[:200]:
            cx, cy = px(x, y)
            color = (31, 119, 180) if x < 0 else (214, 39, 40)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        taken: list[tuple[float, float, float, float]] = []
        for keyword, x, y in sorted(points, key=lambda p: -p[2])[:30]:
            cx, cy = px(x, y)
            box = draw.textbbox((cx + r + 2, cy), keyword, font=font, anchor="lm")
            if box[2] > width or any(not (box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3])
                                     for b in taken):
                continue
            taken.append(box)
            draw.text((cx + r + 2, cy), keyword, fill=(40, 40, 40), font=font, anchor="lm")
    out = BytesIO()
    img.save(out, format="PNG", optimize=False, compress_level=3)
    return out.getvalue()
