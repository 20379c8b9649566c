"""The timeline chart: one layout, no overlapping label boxes, SVG without style attributes, PNG."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

from medipersona.exports.fonts import font_path
from medipersona.keywords.chart import build_chart_layout, text_width
from medipersona.keywords.chart_render import render_png, render_svg


def series_from(points: list[tuple[str, float, int]]) -> list[dict]:
    return [{"keyword": k, "days": d, "overlap": o, "phase": "before" if d < 0 else "after"} for k, d, o in points]


def assert_layout_ok(layout, max_labels: int = 30) -> None:
    assert len(layout.labels) <= max_labels
    for a, b in combinations(layout.labels, 2):
        assert not a.overlaps(b), (a, b)
    for box in layout.labels:
        assert layout.left <= box.x and box.x + box.width <= layout.right
        assert layout.top <= box.y and box.y + box.height <= layout.bottom
        assert box.width >= text_width(box.text, box.font_size)


def test_real_like_series():
    rng = random.Random(1)
    pts = [(f"キーワード{i} 症状", rng.uniform(-200, 200), int(rng.lognormvariate(5, 1.2)) + 20) for i in range(300)]
    layout = build_chart_layout(series_from(pts), 960, 540)
    assert len(layout.points) == 300
    assert len(layout.labels) >= 20
    assert_layout_ok(layout)
    assert {p.color for p in layout.points} == {"#2563eb", "#dc2626"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_many_close_points_never_overlap(seed):
    rng = random.Random(seed)
    # 400 points crowded around day 0 with similar volumes: the hardest case.
    pts = [(f"とても長いキーワード名 {i} 治し方 市販薬", rng.gauss(0, 0.05), int(rng.uniform(900, 1100)))
           for i in range(400)]
    layout = build_chart_layout(series_from(pts), 800, 450)
    assert_layout_ok(layout)
    assert layout.labels  # some labels still fit, with leader lines
    assert any(b.leader for b in layout.labels)


def test_identical_points_and_tiny_chart():
    pts = [(f"同じ点{i}", 0.0, 100) for i in range(60)]
    layout = build_chart_layout(series_from(pts), 320, 240)
    assert_layout_ok(layout)


def test_empty_series():
    layout = build_chart_layout([], 600, 400)
    assert layout.empty_message and not layout.points
    svg = render_svg(layout)
    assert "条件に合うキーワードがありません" in svg
    assert render_png(layout, font_path(), scale=1).startswith(b"\x89PNG")


def test_svg_escapes_and_has_no_style_attribute():
    pts = [("<script>alert(1)</script>", -3, 500), ('a"b&c', 2, 300), ("普通の語", 10, 100)]
    svg = render_svg(build_chart_layout(series_from(pts), 960, 540), title='タイトル<&>"')
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg
    assert 'b&amp;c' in svg and 'b&c' not in svg
    assert svg.count("<circle") >= 3
    root = ET.fromstring(svg)  # well-formed
    assert root.tag.endswith("svg")


def test_png_and_font():
    assert font_path().name == "ipaexg.ttf" and font_path().is_file()
    pts = [(f"語{i}", i - 10, 100 + i * 10) for i in range(20)]
    png = render_png(build_chart_layout(series_from(pts), 480, 300), font_path(), scale=2)
    assert png.startswith(b"\x89PNG")
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (960, 600)
