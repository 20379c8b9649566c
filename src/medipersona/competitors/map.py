"""The competitor map, drawn by our own code: no tiles, no API key, no external reference of any kind.

The clinic sits at the centre; rings mark 1 / 3 / 5 km (those within the analysis radius, the radius ring
emphasised); each competitor is a numbered dot placed by its bearing and great-circle distance from the clinic
(number = its rank in the distance-sorted table); a scale bar, a north arrow and a legend complete it.

``build_map_layout`` computes the geometry once (plain dataclasses); ``render_svg`` draws it for the page and the
PDF (presentation attributes only: the page CSP forbids style attributes), ``render_png`` for the PPTX (Pillow,
imported lazily: call it in the export pool). Every text is escaped; names also go into ``<title>`` tooltips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from medipersona.competitors.geo import bearing_deg, haversine_m

FONT_FAMILY = "IPAexGothic, 'Hiragino Sans', 'Noto Sans JP', 'Yu Gothic', Meiryo, sans-serif"
RING_KM = (1, 3, 5)  # the radius choices of the feature; rings up to the analysis radius are drawn
CLINIC_COLOR = "#c62828"
DOT_COLOR = "#1f6f8b"
RING_COLOR = "#94a3b8"
RADIUS_COLOR = "#1f4e79"
TEXT_COLOR = "#0f172a"
MUTED_COLOR = "#475569"
BACKGROUND = "#f8fafc"
SCALE_STEPS_M = (100, 200, 250, 500, 1000, 2000, 2500, 5000)
MAP_TITLE = "競合マップ"
LEGEND_CLINIC = "自院"
LEGEND_COMPETITOR = "競合（番号は一覧の順位）"
LEGEND_RADIUS = "分析範囲 半径{km}km"


@dataclass
class Ring:
    km: float
    r: float
    label: str
    emphasised: bool


@dataclass
class Dot:
    number: int
    x: float
    y: float
    name: str
    distance_m: float


@dataclass
class MapLayout:
    width: int
    height: int
    cx: float
    cy: float
    radius_px: float
    radius_km: float
    clinic_name: str
    rings: list[Ring] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    scale_m: int = 1000
    scale_px: float = 0.0
    scale_label: str = ""
    font_size: float = 12.0
    dot_r: float = 9.0
    legend: list[tuple[str, str]] = field(default_factory=list)  # (kind, text): clinic | competitor | radius
    empty_message: str = ""


# --- geometry -----------------------------------------------------------------------------------------------

def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _scale_step(radius_m: float) -> int:
    """A round scale-bar length of about a third of the radius."""
    target = radius_m / 3
    return min(SCALE_STEPS_M, key=lambda s: abs(s - target))


def _distance_label(metres: float) -> str:
    return f"{metres / 1000:g}km" if metres >= 1000 else f"{metres:.0f}m"


def build_map_layout(analysis: dict[str, Any], width: int = 640, height: int = 640) -> MapLayout:
    """The map geometry for an analysis shaped like ``GET /api/competitors/{id}`` (clinic, radius_km,
    competitors with lat/lng/name and optionally distance_m)."""
    clinic = analysis.get("clinic") or {}
    radius_km = _num(analysis.get("radius_km")) or 1.0
    radius_m = radius_km * 1000
    font = max(10.0, round(min(width, height) / 48, 1))
    legend_h = font * 2.6
    top_pad = font * 2.2
    plot_h = height - legend_h - top_pad
    cx = width / 2
    cy = top_pad + plot_h / 2
    radius_px = max(10.0, min(width / 2, plot_h / 2) - font * 1.2)
    layout = MapLayout(width, height, cx, cy, radius_px, radius_km, str(clinic.get("name") or ""),
                       font_size=font, dot_r=max(7.0, font * 0.8))
    px_per_m = radius_px / radius_m
    for km in RING_KM:
        if km <= radius_km:
            layout.rings.append(Ring(km, km * 1000 * px_per_m, f"{km}km", km == radius_km))
    if not any(r.emphasised for r in layout.rings):  # a radius that is not one of the ring values
        layout.rings.append(Ring(radius_km, radius_px, f"{radius_km:g}km", True))
    layout.scale_m = _scale_step(radius_m)
    layout.scale_px = layout.scale_m * px_per_m
    layout.scale_label = _distance_label(layout.scale_m)
    layout.legend = [("clinic", LEGEND_CLINIC), ("competitor", LEGEND_COMPETITOR),
                     ("radius", LEGEND_RADIUS.format(km=f"{radius_km:g}"))]

    lat0, lng0 = _num(clinic.get("lat")), _num(clinic.get("lng"))
    if lat0 is None or lng0 is None:
        layout.empty_message = "自院の位置（緯度・経度）がないため地図を表示できません。"
        return layout
    placed = []
    for comp in analysis.get("competitors") or []:
        if not isinstance(comp, dict):
            continue
        lat, lng = _num(comp.get("lat")), _num(comp.get("lng"))
        if lat is None or lng is None:
            continue
        dist = _num(comp.get("distance_m"))
        if dist is None:
            dist = haversine_m(lat0, lng0, lat, lng)
        placed.append((dist, lat, lng, str(comp.get("name") or "")))
    placed.sort(key=lambda p: p[0])  # the table's order (sorted by distance)
    for number, (dist, lat, lng, name) in enumerate(placed, start=1):
        if dist > radius_m + 0.5:  # never drawn outside the analysed circle (the service filters these out)
            continue
        b = math.radians(bearing_deg(lat0, lng0, lat, lng))
        r = dist * px_per_m
        layout.dots.append(Dot(number, cx + r * math.sin(b), cy - r * math.cos(b), name, dist))
    if not placed:
        layout.empty_message = "範囲内に競合医療機関は見つかりませんでした。"
    return layout


# --- SVG ------------------------------------------------------------------------------------------------------


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _north_arrow(L: MapLayout) -> tuple[float, float, float]:
    """(x, y top, size) of the north arrow, top right."""
    size = L.font_size * 2.2
    return L.width - size - L.font_size * 0.6, L.font_size * 0.5, size


def render_svg(L: MapLayout, *, font_family: str = FONT_FAMILY) -> str:
    fs = L.font_size
    title = f"{MAP_TITLE}（{L.clinic_name}・半径{L.radius_km:g}km）" if L.clinic_name else MAP_TITLE
    out = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {L.width} {L.height}" width="{L.width}" '
         f'height="{L.height}" role="img" aria-label="{_attr(title)}" font-family="{_attr(font_family)}" '
         f'class="competitor-map">'),
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{L.width}" height="{L.height}" fill="{BACKGROUND}"/>',
    ]
    for ring in sorted(L.rings, key=lambda r: -r.r):
        stroke = RADIUS_COLOR if ring.emphasised else RING_COLOR
        width = "2" if ring.emphasised else "1"
        dash = "" if ring.emphasised else ' stroke-dasharray="5 4"'
        fill = "#ffffff" if ring.emphasised else "none"
        out.append(f'<circle cx="{_f(L.cx)}" cy="{_f(L.cy)}" r="{_f(ring.r)}" fill="{fill}" stroke="{stroke}" '
                   f'stroke-width="{width}"{dash}/>')
    for ring in L.rings:  # ring labels just above each ring's top, right of the axis
        out.append(f'<text x="{_f(L.cx + 4)}" y="{_f(L.cy - ring.r - 3)}" font-size="{_f(fs * 0.85)}" '
                   f'fill="{MUTED_COLOR}">{escape(ring.label)}</text>')
    # Crosshair through the clinic.
    out.append(f'<line x1="{_f(L.cx - L.radius_px)}" y1="{_f(L.cy)}" x2="{_f(L.cx + L.radius_px)}" '
               f'y2="{_f(L.cy)}" stroke="{RING_COLOR}" stroke-width="0.6"/>')
    out.append(f'<line x1="{_f(L.cx)}" y1="{_f(L.cy - L.radius_px)}" x2="{_f(L.cx)}" '
               f'y2="{_f(L.cy + L.radius_px)}" stroke="{RING_COLOR}" stroke-width="0.6"/>')
    if L.empty_message:
        out.append(f'<text x="{_f(L.cx)}" y="{_f(L.cy + L.radius_px / 2)}" text-anchor="middle" '
                   f'font-size="{_f(fs)}" fill="{MUTED_COLOR}">{escape(L.empty_message)}</text>')
    out.append('<g class="competitor-map__dots">')
    for d in reversed(L.dots):  # the nearest (lowest number) drawn last, on top
        label = f"{d.number}. {d.name}（{_distance_label(d.distance_m)}）"
        out.append(f'<g><title>{escape(label)}</title>'
                   f'<circle cx="{_f(d.x)}" cy="{_f(d.y)}" r="{_f(L.dot_r)}" fill="{DOT_COLOR}" '
                   f'fill-opacity="0.9" stroke="#ffffff" stroke-width="1.2"/>'
                   f'<text x="{_f(d.x)}" y="{_f(d.y + fs * 0.35)}" text-anchor="middle" '
                   f'font-size="{_f(fs * 0.8)}" fill="#ffffff">{d.number}</text></g>')
    out.append("</g>")
    # The clinic: a star-like marker (square rotated) with its name.
    r = L.dot_r * 1.1
    out.append(f'<g><title>{escape(LEGEND_CLINIC + "：" + L.clinic_name)}</title>'
               f'<polygon points="{_f(L.cx)},{_f(L.cy - r)} {_f(L.cx + r)},{_f(L.cy)} {_f(L.cx)},{_f(L.cy + r)} '
               f'{_f(L.cx - r)},{_f(L.cy)}" fill="{CLINIC_COLOR}" stroke="#ffffff" stroke-width="1.2"/></g>')
    # North arrow.
    nx, ny, size = _north_arrow(L)
    mid = nx + size / 2
    out.append(f'<polygon points="{_f(mid)},{_f(ny + fs * 1.2)} {_f(mid + size * 0.28)},{_f(ny + size + fs)} '
               f'{_f(mid)},{_f(ny + size * 0.75 + fs)} {_f(mid - size * 0.28)},{_f(ny + size + fs)}" '
               f'fill="{TEXT_COLOR}"/>')
    out.append(f'<text x="{_f(mid)}" y="{_f(ny + fs)}" text-anchor="middle" font-size="{_f(fs)}" '
               f'fill="{TEXT_COLOR}">N</text>')
    # Title (top left).
    out.append(f'<text x="{_f(fs * 0.6)}" y="{_f(fs * 1.4)}" font-size="{_f(fs * 1.1)}" '
               f'fill="{TEXT_COLOR}">{escape(MAP_TITLE)}</text>')
    # Scale bar (bottom left, above the legend).
    sx, sy = fs * 0.8, L.height - fs * 3.4
    out.append(f'<rect x="{_f(sx)}" y="{_f(sy)}" width="{_f(L.scale_px)}" height="{_f(fs * 0.35)}" '
               f'fill="{TEXT_COLOR}"/>')
    for x in (sx, sx + L.scale_px):
        out.append(f'<line x1="{_f(x)}" y1="{_f(sy - fs * 0.4)}" x2="{_f(x)}" y2="{_f(sy + fs * 0.35)}" '
                   f'stroke="{TEXT_COLOR}" stroke-width="1"/>')
    out.append(f'<text x="{_f(sx + L.scale_px + fs * 0.4)}" y="{_f(sy + fs * 0.4)}" font-size="{_f(fs * 0.9)}" '
               f'fill="{TEXT_COLOR}">{escape(L.scale_label)}</text>')
    # Legend (bottom row).
    ly = L.height - fs * 1.0
    x = fs * 0.8
    for kind, text in L.legend:
        if kind == "clinic":
            k = fs * 0.5
            out.append(f'<polygon points="{_f(x + k)},{_f(ly - fs * 0.85)} {_f(x + 2 * k)},{_f(ly - fs * 0.35)} '
                       f'{_f(x + k)},{_f(ly + fs * 0.15)} {_f(x)},{_f(ly - fs * 0.35)}" fill="{CLINIC_COLOR}"/>')
        elif kind == "competitor":
            out.append(f'<circle cx="{_f(x + fs * 0.5)}" cy="{_f(ly - fs * 0.35)}" r="{_f(fs * 0.5)}" '
                       f'fill="{DOT_COLOR}"/>')
        else:
            out.append(f'<circle cx="{_f(x + fs * 0.5)}" cy="{_f(ly - fs * 0.35)}" r="{_f(fs * 0.45)}" '
                       f'fill="none" stroke="{RADIUS_COLOR}" stroke-width="2"/>')
        out.append(f'<text x="{_f(x + fs * 1.4)}" y="{_f(ly)}" font-size="{_f(fs * 0.9)}" '
                   f'fill="{TEXT_COLOR}">{escape(text)}</text>')
        x += fs * 1.4 + text_width(text, fs * 0.9) + fs * 1.2
    out.append("</svg>")
    return "".join(out)


def text_width(text: str, size: float) -> float:
    """Approximate advance width: full-width characters 1 em, others 0.55 em."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.55 for ch in text)


def render_map(analysis: dict[str, Any], width: int = 640, height: int = 640, *,
               font_family: str = FONT_FAMILY) -> str:
    """The map of an analysis (the dict of ``GET /api/competitors/{id}``) as a standalone SVG document."""
    return render_svg(build_map_layout(analysis, width, height), font_family=font_family)


# --- PNG (PPTX) ------------------------------------------------------------------------------------------------


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def render_png(L: MapLayout, font_file: Path, scale: int = 3) -> bytes:
    """The same layout as PNG for the PPTX, its text in ``font_file`` (the exports' font, passed by the caller)
    (CPU work: export pool only; Pillow imported here)."""
    from io import BytesIO

    from PIL import Image, ImageDraw, ImageFont

    s = scale
    fs = L.font_size

    def S(v: float) -> float:
        return v * s

    def font(size: float):
        return ImageFont.truetype(str(font_file), max(6, round(size * s)))

    img = Image.new("RGB", (L.width * s, L.height * s), _rgb(BACKGROUND))
    draw = ImageDraw.Draw(img)
    for ring in sorted(L.rings, key=lambda r: -r.r):
        box = [S(L.cx - ring.r), S(L.cy - ring.r), S(L.cx + ring.r), S(L.cy + ring.r)]
        if ring.emphasised:
            draw.ellipse(box, fill=(255, 255, 255), outline=_rgb(RADIUS_COLOR), width=2 * s)
        else:
            draw.ellipse(box, outline=_rgb(RING_COLOR), width=s)
    for ring in L.rings:
        draw.text((S(L.cx + 4), S(L.cy - ring.r - 3)), ring.label, font=font(fs * 0.85), fill=_rgb(MUTED_COLOR),
                  anchor="ls")
    draw.line([S(L.cx - L.radius_px), S(L.cy), S(L.cx + L.radius_px), S(L.cy)], fill=_rgb(RING_COLOR), width=1)
    draw.line([S(L.cx), S(L.cy - L.radius_px), S(L.cx), S(L.cy + L.radius_px)], fill=_rgb(RING_COLOR), width=1)
    if L.empty_message:
        draw.text((S(L.cx), S(L.cy + L.radius_px / 2)), L.empty_message, font=font(fs), fill=_rgb(MUTED_COLOR),
                  anchor="ms")
    for d in reversed(L.dots):  # the nearest (lowest number) drawn last, on top
        draw.ellipse([S(d.x - L.dot_r), S(d.y - L.dot_r), S(d.x + L.dot_r), S(d.y + L.dot_r)],
                     fill=_rgb(DOT_COLOR), outline=(255, 255, 255), width=s)
        draw.text((S(d.x), S(d.y)), str(d.number), font=font(fs * 0.8), fill=(255, 255, 255), anchor="mm")
    r = L.dot_r * 1.1
    draw.polygon([(S(L.cx), S(L.cy - r)), (S(L.cx + r), S(L.cy)), (S(L.cx), S(L.cy + r)), (S(L.cx - r), S(L.cy))],
                 fill=_rgb(CLINIC_COLOR), outline=(255, 255, 255))
    nx, ny, size = _north_arrow(L)
    mid = nx + size / 2
    draw.polygon([(S(mid), S(ny + fs * 1.2)), (S(mid + size * 0.28), S(ny + size + fs)),
                  (S(mid), S(ny + size * 0.75 + fs)), (S(mid - size * 0.28), S(ny + size + fs))],
                 fill=_rgb(TEXT_COLOR))
    draw.text((S(mid), S(ny + fs)), "N", font=font(fs), fill=_rgb(TEXT_COLOR), anchor="ms")
    draw.text((S(fs * 0.6), S(fs * 1.4)), MAP_TITLE, font=font(fs * 1.1), fill=_rgb(TEXT_COLOR), anchor="ls")
    sx, sy = fs * 0.8, L.height - fs * 3.4
    draw.rectangle([S(sx), S(sy), S(sx + L.scale_px), S(sy + fs * 0.35)], fill=_rgb(TEXT_COLOR))
    draw.text((S(sx + L.scale_px + fs * 0.4), S(sy + fs * 0.4)), L.scale_label, font=font(fs * 0.9),
              fill=_rgb(TEXT_COLOR), anchor="ls")
    ly = L.height - fs * 1.0
    x = fs * 0.8
    for kind, text in L.legend:
        cy = ly - fs * 0.35
        if kind == "clinic":
            k = fs * 0.5
            draw.polygon([(S(x + k), S(cy - k)), (S(x + 2 * k), S(cy)), (S(x + k), S(cy + k)), (S(x), S(cy))],
                         fill=_rgb(CLINIC_COLOR))
        elif kind == "competitor":
            draw.ellipse([S(x), S(cy - fs * 0.5), S(x + fs), S(cy + fs * 0.5)], fill=_rgb(DOT_COLOR))
        else:
            draw.ellipse([S(x + fs * 0.05), S(cy - fs * 0.45), S(x + fs * 0.95), S(cy + fs * 0.45)],
                         outline=_rgb(RADIUS_COLOR), width=2 * s)
        draw.text((S(x + fs * 1.4), S(ly)), text, font=font(fs * 0.9), fill=_rgb(TEXT_COLOR), anchor="ls")
        x += fs * 1.4 + text_width(text, fs * 0.9) + fs * 1.2
    out = BytesIO()
    img.save(out, format="PNG", optimize=False, compress_level=3)
    return out.getvalue()
