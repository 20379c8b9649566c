"""The timeline chart's layout: ONE geometry for both renderers (``keywords.chart_render``: SVG and PNG).

    layout = build_chart_layout(series, width, height)   # pure geometry, no I/O

X = 検索時間差 (days; a symmetric-log scale so the crowd around day 0 and the long tails are both readable),
Y = 重複ボリューム (log scale). Points before the search (< 0) are blue, after (>= 0) red. Up to ``max_labels``
keyword labels are placed greedily (largest overlap first) on rings around their point, with a leader line when
moved away; a label that finds no free place inside the plot is left out. No two label boxes overlap.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field

BEFORE_COLOR = "#2563eb"
AFTER_COLOR = "#dc2626"
DAY_TICKS = (-365, -180, -90, -30, -7, -1, 0, 1, 7, 30, 90, 180, 365)
MAX_LABEL_CHARS = 18


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class ChartPoint:
    x: float
    y: float
    r: float
    phase: str  # before | after
    keyword: str
    days: float
    overlap: int

    @property
    def color(self) -> str:
        return BEFORE_COLOR if self.phase == "before" else AFTER_COLOR


@dataclass
class LabelBox:
    text: str
    x: float  # top-left of the box
    y: float
    width: float
    height: float
    anchor_x: float  # the point it labels
    anchor_y: float
    leader: bool
    phase: str
    font_size: float

    @property
    def text_x(self) -> float:
        return self.x + 2

    @property
    def text_y(self) -> float:  # baseline
        return self.y + self.height - 3

    def overlaps(self, other: LabelBox, pad: float = 0.0) -> bool:
        return not (
            self.x + self.width + pad <= other.x or other.x + other.width + pad <= self.x
            or self.y + self.height + pad <= other.y or other.y + other.height + pad <= self.y
        )

    def leader_end(self) -> tuple[float, float]:
        """The point of the box edge closest to the anchor (where the leader line ends)."""
        return (min(max(self.anchor_x, self.x), self.x + self.width),
                min(max(self.anchor_y, self.y), self.y + self.height))


@dataclass
class ChartLayout:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    zero_x: float | None
    points: list[ChartPoint]
    labels: list[LabelBox]
    font_size: float
    title: str = "検索タイムライン（主訴の検索を0日として前後の関連検索）"
    x_title: str = "検索時間差（日）  ← 検索前 ｜ 検索後 →"
    y_title: str = "重複ボリューム（人）"
    legend: list[tuple[str, str]] = field(default_factory=lambda: [("検索前", BEFORE_COLOR), ("検索後", AFTER_COLOR)])
    empty_message: str | None = None


def text_width(text: str, font_size: float) -> float:
    """A generous width estimate (full-width 1 em, wide Latin 0.9 em, other half-width 0.62 em)."""
    width = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            width += 1.0
        elif ch in "MWmw@%&":
            width += 0.9
        elif ch.isupper() or ch.isdigit():
            width += 0.68
        else:
            width += 0.62
    return width * font_size


def shorten(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _symlog(days: float) -> float:
    return math.copysign(math.log10(1 + abs(days)), days)


def _day_label(day: int) -> str:
    return "0日" if day == 0 else f"{day:+d}日"


def _nice_log_ticks(low: float, high: float) -> list[float]:
    lo_exp = math.floor(math.log10(max(low, 1)))
    hi_exp = math.ceil(math.log10(max(high, 10)))
    if hi_exp == lo_exp:
        hi_exp += 1
    ticks = [10.0 ** e for e in range(lo_exp, hi_exp + 1)]
    if hi_exp - lo_exp <= 2:  # few decades: add 2 and 5
        ticks = sorted({t * m for t in ticks for m in (1, 2, 5) if t * m <= 10.0 ** hi_exp})
    return ticks


def _format_count(value: float) -> str:
    if value >= 10000:
        return f"{value / 10000:g}万"
    return f"{value:,.0f}"


def build_chart_layout(series: list[dict], width: int = 960, height: int = 540, *, max_labels: int = 30,
                       font_size: float = 11.0) -> ChartLayout:
    """Pure geometry for the scatter of a timeline series (dicts with keyword, days, overlap[, phase])."""
    left, top, right, bottom = 64.0, 40.0, width - 16.0, height - 52.0
    points_in = [p for p in series if p.get("overlap") is not None and p.get("days") is not None]
    if not points_in:
        return ChartLayout(width, height, left, top, right, bottom, [], [], None, [], [], font_size,
                           empty_message="条件に合うキーワードがありません")
    days = [float(p["days"]) for p in points_in]
    overlaps = [max(1.0, float(p["overlap"])) for p in points_in]

    # X: symmetric log of days, padded, always including 0.
    sx = [_symlog(d) for d in days]
    x_lo, x_hi = min(min(sx), -_symlog(7)), max(max(sx), _symlog(7))
    pad = (x_hi - x_lo) * 0.04
    x_lo, x_hi = x_lo - pad, x_hi + pad

    def px(v: float) -> float:
        return left + (v - x_lo) / (x_hi - x_lo) * (right - left)

    # Y: log10 of overlap.
    y_ticks_values = _nice_log_ticks(min(overlaps), max(overlaps))
    y_lo, y_hi = math.log10(y_ticks_values[0]), math.log10(y_ticks_values[-1])

    def py(v: float) -> float:
        return bottom - (math.log10(v) - y_lo) / (y_hi - y_lo) * (bottom - top)

    x_ticks = [Tick(px(_symlog(d)), _day_label(d)) for d in DAY_TICKS if x_lo <= _symlog(d) <= x_hi]
    y_ticks = [Tick(py(v), _format_count(v)) for v in y_ticks_values]

    max_overlap = max(overlaps)
    points = [
        ChartPoint(
            x=round(px(s), 2), y=round(py(o), 2),
            r=round(2.5 + 4.5 * math.sqrt(o / max_overlap), 2),
            phase=p.get("phase") or ("before" if d < 0 else "after"),
            keyword=str(p.get("keyword", "")), days=d, overlap=int(o),
        )
        for p, s, o, d in zip(points_in, sx, overlaps, days)
    ]
    labels = place_labels(points, (left, top, right, bottom), max_labels=max_labels, font_size=font_size)
    return ChartLayout(width, height, left, top, right, bottom, x_ticks, y_ticks, px(0.0), points, labels, font_size)


def place_labels(points: list[ChartPoint], plot: tuple[float, float, float, float], *, max_labels: int = 30,
                 font_size: float = 11.0) -> list[LabelBox]:
    """Greedy collision-free placement, largest overlap first; labels that do not fit are dropped."""
    left, top, right, bottom = plot
    height = font_size + 5
    chosen: list[ChartPoint] = []
    seen: set[str] = set()
    for p in sorted(points, key=lambda q: (-q.overlap, abs(q.days))):
        if p.keyword and p.keyword not in seen:
            seen.add(p.keyword)
            chosen.append(p)
        if len(chosen) >= max_labels:
            break
    labelled = chosen
    placed: list[LabelBox] = []
    # Ring distances (px from the marker edge) and directions (unit vectors), tried in order.
    rings = (3.0, 12.0, 24.0, 40.0, 60.0, 85.0, 115.0)
    directions = [(math.cos(a), math.sin(a)) for a in
                  [math.radians(d) for d in (0, 180, -45, 45, -135, 135, -90, 90, -20, 20, -160, 160, -67, 67,
                                              -113, 113)]]
    for p in labelled:
        text = shorten(p.keyword)
        w = text_width(text, font_size) + 4
        best: LabelBox | None = None
        best_cost = math.inf
        for ring_index, dist in enumerate(rings):
            for dx, dy in directions:
                reach = p.r + dist
                cx, cy = p.x + dx * reach, p.y + dy * reach
                # Attach the box by the side facing the point.
                bx = cx if dx > 0.3 else (cx - w if dx < -0.3 else cx - w / 2)
                by = cy - height / 2 if abs(dy) <= 0.5 else (cy if dy > 0 else cy - height)
                box = LabelBox(text, round(bx, 2), round(by, 2), round(w, 2), height, p.x, p.y,
                               leader=ring_index > 0, phase=p.phase, font_size=font_size)
                if box.x < left + 1 or box.x + box.width > right - 1 or box.y < top + 1 \
                        or box.y + box.height > bottom - 1:
                    continue
                if any(box.overlaps(other, pad=2.0) for other in placed):
                    continue
                # Never cover a labelled marker (its own or another's).
                if any(_box_hits_circle(box, q.x, q.y, q.r + 1.5) for q in labelled):
                    continue
                cost = ring_index * 10 + sum(1 for q in points if _box_hits_circle(box, q.x, q.y, q.r)) \
                    if ring_index < 3 else ring_index * 10
                if cost < best_cost:
                    best, best_cost = box, cost
            if best is not None and best_cost <= ring_index * 10 + 2:
                break
        if best is not None:
            placed.append(best)
    return placed


def _box_hits_circle(box: LabelBox, cx: float, cy: float, r: float) -> bool:
    nx = min(max(cx, box.x), box.x + box.width)
    ny = min(max(cy, box.y), box.y + box.height)
    return (nx - cx) ** 2 + (ny - cy) ** 2 < r * r
