"""Great-circle geometry on a spherical Earth: distances (m), bearings, radius checks, areas, distance bands."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
# Distance bands for the market stats (upper bounds in km; a band is (lower, upper]).
BAND_EDGES_KM = (0.5, 1.0, 2.0, 3.0, 5.0)


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(low_lat, low_lng, high_lat, high_lng) of the smallest latitude/longitude box holding the circle of
    ``radius_m`` around (lat, lng) on the sphere (the longitude span is widest at the circle's tangent points,
    not on the centre's parallel)."""
    angular = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angular)
    ratio = math.sin(angular) / math.cos(math.radians(lat))
    dlng = 180.0 if ratio >= 1 else math.degrees(math.asin(ratio))
    return (max(-90.0, lat - dlat), lng - dlng, min(90.0, lat + dlat), lng + dlng)


def within_radius(center_lat: float, center_lng: float, lat: float, lng: float, radius_m: float) -> bool:
    return haversine_m(center_lat, center_lng, lat, lng) <= radius_m


def circle_area_km2(radius_km: float) -> float:
    return math.pi * radius_km * radius_km


def band_label(lower_km: float, upper_km: float) -> str:
    def fmt(v: float) -> str:
        return f"{v:g}"

    return f"{fmt(upper_km)}km以内" if lower_km == 0 else f"{fmt(lower_km)}〜{fmt(upper_km)}km"


def bands_for(radius_km: float) -> list[tuple[float, float]]:
    """The bands up to ``radius_km``: e.g. 3 km → (0,0.5], (0.5,1], (1,2], (2,3]."""
    edges = [e for e in BAND_EDGES_KM if e < radius_km] + [float(radius_km)]
    out, lower = [], 0.0
    for upper in edges:
        out.append((lower, upper))
        lower = upper
    return out


def band_counts(distances_m: list[float], radius_km: float) -> list[dict]:
    """[{"label", "min_km", "max_km", "count"}] for the bands up to ``radius_km``."""
    result = []
    for lower, upper in bands_for(radius_km):
        count = sum(1 for d in distances_m if lower * 1000 < d <= upper * 1000 or (lower == 0 and d == 0))
        result.append({"label": band_label(lower, upper), "min_km": lower, "max_km": upper, "count": count})
    return result
