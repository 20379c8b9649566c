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
    encode/decode, crisp at any zoom, keywords searchable."""
    if not series:
        return None
    from medipersona.keywords.chart import build_chart_layout
    from medipersona.keywords.chart_render import render_svg

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
    scale = max(1, round((w_mm / 25.4 * CHART_DPI) / width))  # integer pixel scale of keywords.chart_render
    from medipersona.exports.fonts import font_path
    from medipersona.keywords.chart import build_chart_layout
    from medipersona.keywords.chart_render import render_png

    data = render_png(build_chart_layout(series, width, height), font_path(), scale)
    from PIL import Image

    with Image.open(BytesIO(data)) as img:
        return data, img.width, img.height

