"""Market stats of the competitors within the radius (pure functions)."""

from __future__ import annotations

from typing import Any

from medipersona.competitors.geo import band_counts, circle_area_km2


def market_stats(competitors: list[dict[str, Any]], radius_km: int) -> dict[str, Any]:
    count = len(competitors)
    area = circle_area_km2(radius_km)
    ratings = [c["rating"] for c in competitors if isinstance(c.get("rating"), (int, float))]
    reviews = [c["reviews"] for c in competitors if isinstance(c.get("reviews"), int)]
    with_site = sum(1 for c in competitors if c.get("website"))
    nearest = competitors[0] if competitors else None
    return {
        "count": count,
        "radius_km": radius_km,
        "area_km2": round(area, 2),
        "per_km2": round(count / area, 2) if area else 0.0,
        "avg_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "rated_count": len(ratings),
        "avg_reviews": round(sum(reviews) / len(reviews), 1) if reviews else None,
        "total_reviews": sum(reviews) if reviews else None,
        "website_count": with_site,
        "website_share": round(with_site / count, 3) if count else None,
        "nearest": {"name": nearest["name"], "distance_m": nearest["distance_m"]} if nearest else None,
        "bands": band_counts([c["distance_m"] for c in competitors], radius_km),
    }
