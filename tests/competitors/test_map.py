"""The SVG competitor map: placement by bearing and distance, rings, numbering, escaping, no outside references."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from medipersona.competitors.map import build_map_layout, render_map, render_png
from medipersona.exports.fonts import font_path

SVG = "{http://www.w3.org/2000/svg}"
LAT0, LNG0 = 35.681236, 139.767125  # Tokyo Station
M_PER_DEG_LAT = 111_195.0


def north(metres: float) -> tuple[float, float]:
    return LAT0 + metres / M_PER_DEG_LAT, LNG0


def east(metres: float) -> tuple[float, float]:
    return LAT0, LNG0 + metres / (M_PER_DEG_LAT * math.cos(math.radians(LAT0)))


def analysis(competitors, radius_km=3, name="テスト内科クリニック"):
    return {"clinic": {"name": name, "lat": LAT0, "lng": LNG0}, "radius_km": radius_km,
            "competitors": [{"name": n, "lat": p[0], "lng": p[1]} for n, p in competitors]}


def test_dots_are_placed_by_bearing_and_distance_and_numbered_by_distance():
    data = analysis([("東の医院", east(2000)), ("北の医院", north(1000))], radius_km=3)
    layout = build_map_layout(data, 600, 600)
    by_name = {d.name: d for d in layout.dots}
    px_per_m = layout.radius_px / 3000
    n, e = by_name["北の医院"], by_name["東の医院"]
    # Nearest first: the number is the rank in the distance-sorted table.
    assert (n.number, e.number) == (1, 2)
    assert abs(n.x - layout.cx) < 0.5 and abs((layout.cy - n.y) - 1000 * px_per_m) < 1.0
    assert abs(e.y - layout.cy) < 0.5 and abs((e.x - layout.cx) - 2000 * px_per_m) < 1.5
    assert abs(n.distance_m - 1000) < 5 and abs(e.distance_m - 2000) < 5


def test_rings_follow_the_radius_and_the_radius_ring_is_emphasised():
    assert [(r.km, r.emphasised) for r in build_map_layout(analysis([], radius_km=1)).rings] == [(1, True)]
    assert [(r.km, r.emphasised) for r in build_map_layout(analysis([], radius_km=5)).rings] == [
        (1, False), (3, False), (5, True)]
    layout = build_map_layout(analysis([], radius_km=3), 600, 600)
    assert [r.km for r in layout.rings] == [1, 3]
    assert abs(layout.rings[-1].r - layout.radius_px) < 1e-6
    assert abs(layout.rings[0].r * 3 - layout.radius_px) < 0.01


def test_competitor_beyond_the_radius_is_not_drawn_but_keeps_numbering():
    data = analysis([("遠い医院", north(1500)), ("近い医院", north(400))], radius_km=1)
    layout = build_map_layout(data)
    assert [(d.number, d.name) for d in layout.dots] == [(1, "近い医院")]
    svg = render_map(data)
    assert "遠い医院" not in svg


def test_given_distance_is_used_for_placement():
    data = analysis([("医院", north(1000))])
    data["competitors"][0]["distance_m"] = 1500
    layout = build_map_layout(data, 600, 600)
    assert abs((layout.cy - layout.dots[0].y) - 1500 * layout.radius_px / 3000) < 1.0


def test_svg_is_valid_escaped_and_self_contained():
    evil = '<script>alert("x")</script> & "引用" \'s'
    data = analysis([(evil, north(300)), ("普通の医院", east(800))], name='<b onload="x">自院</b>')
    svg = render_map(data)
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == SVG + "svg"
    assert "<script" not in svg and "<b " not in svg
    texts = "".join(root.itertext())
    assert evil in texts  # the text survives escaping intact (tooltip)
    assert '<b onload="x">自院</b>' in texts
    # Nothing outside: no links, images, external fonts or style attributes (CSP).
    assert not re.search(r"href|<image|@import|url\(|style=", svg)
    assert re.findall(r"https?://[^\"']+", svg) == ["http://www.w3.org/2000/svg"]
    # Numbered dots, scale bar, north arrow, legend.
    circles_with_numbers = [t.text for t in root.iter(SVG + "text") if (t.text or "").isdigit()]
    assert sorted(circles_with_numbers) == ["1", "2"]
    assert "N" in [t.text for t in root.iter(SVG + "text")]
    assert "1km" in texts  # the 3 km map's scale bar is 1 km, its rings 1km and 3km
    assert "自院" in texts and "競合（番号は一覧の順位）" in texts and "分析範囲 半径3km" in texts


def test_scale_bar_length_matches_its_label():
    for radius in (1, 3, 5):
        layout = build_map_layout(analysis([], radius_km=radius), 640, 640)
        metres = float(layout.scale_label.removesuffix("km")) * 1000 if layout.scale_label.endswith("km") \
            else float(layout.scale_label.removesuffix("m"))
        assert abs(layout.scale_px - metres * layout.radius_px / (radius * 1000)) < 0.01
        assert radius * 1000 / 6 <= metres <= radius * 1000 / 1.5


def test_without_clinic_position_the_map_says_so_instead_of_guessing():
    data = {"clinic": {"name": "位置なし"}, "radius_km": 3, "competitors": [{"name": "A", "lat": 35, "lng": 139}]}
    layout = build_map_layout(data)
    assert layout.dots == [] and "緯度・経度" in layout.empty_message
    assert "緯度・経度" in render_map(data)


def test_empty_area_message():
    svg = render_map(analysis([]))
    assert "範囲内に競合医療機関は見つかりませんでした。" in svg


def test_png_for_the_slides():
    data = render_png(build_map_layout(analysis([("医院", north(500))])), font_path(), scale=1)
    assert data.startswith(b"\x89PNG")
