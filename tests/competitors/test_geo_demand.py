"""Great-circle geometry, market stats and the demand estimate (pure functions)."""

from __future__ import annotations

import math

import pytest

from medipersona.competitors import geo
from medipersona.competitors.demand import estimate, groups_for, rate_table
from medipersona.competitors.market import market_stats

from .fakes import LAT0, LNG0, offset


def test_haversine_known_distances():
    # One degree of latitude on the mean sphere: 2πR/360.
    assert geo.haversine_m(35.0, 139.0, 36.0, 139.0) == pytest.approx(2 * math.pi * geo.EARTH_RADIUS_M / 360, rel=1e-9)
    # Tokyo Station → Shinjuku Station is about 6.1 km.
    assert geo.haversine_m(35.681236, 139.767125, 35.690921, 139.700258) == pytest.approx(6_120, abs=60)
    assert geo.haversine_m(LAT0, LNG0, LAT0, LNG0) == 0


@pytest.mark.parametrize(("north", "east", "bearing"), [(1000, 0, 0), (0, 1000, 90), (-1000, 0, 180), (0, -1000, 270),
                                                        (1000, 1000, 45)])
def test_bearing(north, east, bearing):
    lat, lng = offset(north, east)
    assert geo.bearing_deg(LAT0, LNG0, lat, lng) == pytest.approx(bearing, abs=0.2)


def test_within_radius_edges():
    inside = offset(2990, 0)
    outside = offset(3010, 0)
    assert geo.within_radius(LAT0, LNG0, *inside, 3000)
    assert not geo.within_radius(LAT0, LNG0, *outside, 3000)


def test_circle_area_and_bands():
    assert geo.circle_area_km2(3) == pytest.approx(28.274, abs=0.001)
    assert [b["label"] for b in geo.band_counts([], 1)] == ["0.5km以内", "0.5〜1km"]
    bands = geo.band_counts([100, 500, 501, 1500, 2999], 3)
    assert [(b["label"], b["count"]) for b in bands] == [("0.5km以内", 2), ("0.5〜1km", 1), ("1〜2km", 1), ("2〜3km", 1)]
    assert [b["max_km"] for b in geo.band_counts([], 5)] == [0.5, 1.0, 2.0, 3.0, 5.0]


def test_market_stats():
    comps = [{"name": "A", "distance_m": 200.0, "rating": 4.0, "reviews": 10, "website": "https://a.example"},
             {"name": "B", "distance_m": 800.0, "rating": 3.0, "reviews": 30},
             {"name": "C", "distance_m": 2500.0}]
    m = market_stats(comps, 3)
    assert m["count"] == 3
    assert m["per_km2"] == round(3 / (math.pi * 9), 2)
    assert m["avg_rating"] == 3.5 and m["rated_count"] == 2
    assert m["avg_reviews"] == 20.0
    assert m["website_share"] == round(1 / 3, 3)
    assert m["nearest"] == {"name": "A", "distance_m": 200.0}
    assert sum(b["count"] for b in m["bands"]) == 3
    empty = market_stats([], 1)
    assert empty["count"] == 0 and empty["avg_rating"] is None and empty["website_share"] is None


BANDS = {"0-14": 10_000, "15-64": 60_000, "65-74": 15_000, "75+": 15_000}


def test_demand_estimate_formula_and_numbers():
    result = estimate({"area_name": "千代田区", "age_bands": BANDS}, ["internal_medicine"], "urban")
    rates = rate_table()["groups"]["internal"]["rates"]
    expected = sum(BANDS[b] * rates[b] / 100_000 for b in BANDS) * 1.1
    assert result["available"] is True
    assert result["daily_patients"] == round(expected, 1)
    assert result["monthly_patients"] == round(expected * 20)
    assert result["area_type_label"] == "都市部" and result["factor"] == 1.1 and not result["area_type_assumed"]
    assert "受療率" in result["formula"] and "地域係数" in result["formula"]
    assert "サンプル" in result["note"]
    assert [r["band"] for r in result["rows"]] == list(BANDS)


def test_demand_groups_counted_once_and_area_default():
    assert groups_for(["internal_medicine", "cardiology", "pediatrics"]) == ["internal", "pediatrics"]
    assert groups_for(["general_dentistry", "orthodontics"]) == ["dental"]
    one = estimate({"age_bands": BANDS}, ["internal_medicine"], None)
    two = estimate({"age_bands": BANDS}, ["internal_medicine", "cardiology"], None)
    assert one["daily_patients"] == two["daily_patients"]
    assert one["area_type"] == "suburban" and one["area_type_assumed"] and "郊外" in one["method"]
    rural = estimate({"age_bands": BANDS}, ["internal_medicine"], "rural")
    assert rural["daily_patients"] < one["daily_patients"]


@pytest.mark.parametrize("population", [None, {}, {"status": "unavailable", "message": "x"},
                                        {"age_bands": {"0-14": 1}}])
def test_demand_not_available_without_age_bands(population):
    result = estimate(population, ["internal_medicine"], "urban")
    assert result["available"] is False
    assert "人口" in result["message"]
    assert "daily_patients" not in result
