"""Google Places API (New) client: competitors near a point (``places:searchNearby``) and the clinic's
position from its address (``places:searchText``).

One request per search (no per-place detail calls): the field mask asks for exactly the fields we show. The
key is sent only from the server (``X-Goog-Api-Key``), never to a browser, and never logged. Results are
filtered again by great-circle distance ≤ radius (the API can return edge cases) and the clinic itself is
dropped. 429 and 5xx are retried with backoff (Retry-After honoured, bounded); 400/403 fail at once with a
Japanese message saying what to check.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from medipersona.competitors.geo import bearing_deg, haversine_m
from medipersona.settings import Settings

log = logging.getLogger("medipersona.competitors")

NEARBY_FIELDS = ("places.id", "places.displayName", "places.formattedAddress", "places.location",
                 "places.rating", "places.userRatingCount", "places.regularOpeningHours.weekdayDescriptions",
                 "places.websiteUri", "places.nationalPhoneNumber", "places.primaryType", "places.types")
NEARBY_FIELD_MASK = ",".join(NEARBY_FIELDS)
GEOCODE_FIELD_MASK = "places.location,places.formattedAddress"
MAX_RESULTS = 20  # the API's maximum per searchNearby request
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = (0.5, 1.5)
SELF_MATCH_METRES = 30.0

# The one mapping from catalog sections/departments to Places (New) Table A types.
SECTION_PLACE_TYPES: dict[str, tuple[str, ...]] = {
    "dental": ("dentist", "dental_clinic"),
    "medical": ("doctor", "hospital"),
    "others": ("doctor", "hospital"),
}
DEPARTMENT_PLACE_TYPES: dict[str, tuple[str, ...]] = {
    "rehabilitation": ("physiotherapist",),
}


class PlacesError(Exception):
    """A Places call that failed, with a Japanese message for the user."""

    def __init__(self, message: str, *, code: str = "places_failed", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def included_types(department_ids: list[str]) -> list[str]:
    from medipersona.catalog.service import get_catalog

    catalog = get_catalog()
    types: list[str] = []
    for dep_id in department_ids:
        dep = catalog.department(dep_id)
        section = dep.section if dep is not None else "medical"
        for t in SECTION_PLACE_TYPES.get(section, SECTION_PLACE_TYPES["medical"]) + DEPARTMENT_PLACE_TYPES.get(dep_id, ()):
            if t not in types:
                types.append(t)
    return types or list(SECTION_PLACE_TYPES["medical"])


def _error_for(status: int, body: Any) -> PlacesError:
    reason = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        reason = str(body["error"].get("status") or "")
    if status == 400:
        if reason == "INVALID_ARGUMENT" and "key" in str(body).lower():
            return PlacesError("Google Places APIのAPIキーが無効です（400）。MEDIPERSONA_GOOGLE_PLACES_API_KEY を確認して"
                               "ください。", code="places_key_invalid", status=status)
        return PlacesError("Google Places APIがリクエストを受け付けませんでした（400）。APIキーと検索条件を確認してください。",
                           code="places_bad_request", status=status)
    if status in (401, 403):
        return PlacesError("Google Places APIを利用できません（403）。APIキーが有効か、Google Cloud で Places API (New) "
                           "が有効になっているか、キーの利用制限を確認してください。", code="places_forbidden",
                           status=status)
    if status == 429:
        return PlacesError("Google Places APIの利用上限に達しました（429）。しばらく待ってからもう一度お試しください。",
                           code="places_rate_limited", status=status)
    if status >= 500:
        return PlacesError(f"Google Places APIが一時的に応答しません（{status}）。しばらくしてからもう一度お試しください。",
                           code="places_unavailable", status=status)
    return PlacesError(f"Google Places APIから予期しない応答がありました（{status}）。", code="places_failed",
                       status=status)


async def _post(settings: Settings, path: str, body: dict[str, Any], field_mask: str) -> dict[str, Any]:
    import httpx

    from medipersona.competitors.http import http_client, retry_after_seconds

    if not settings.places_configured:
        raise PlacesError("Google Places APIが設定されていません。", code="places_not_configured")
    url = settings.google_places_base_url.rstrip("/") + path
    headers = {"X-Goog-Api-Key": settings.google_places_api_key.get_secret_value().strip(),
               "X-Goog-FieldMask": field_mask, "Content-Type": "application/json"}
    client = http_client()
    error: PlacesError | None = None
    for attempt in range(MAX_ATTEMPTS):
        wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
        try:
            response = await client.post(url, json=body, headers=headers,
                                         timeout=httpx.Timeout(settings.places_timeout_seconds))
        except httpx.TimeoutException:
            error = PlacesError("Google Places APIが時間内に応答しませんでした。しばらくしてからもう一度お試しください。",
                                code="places_timeout")
        except httpx.HTTPError:
            error = PlacesError("Google Places APIに接続できませんでした。ネットワークを確認してください。",
                                code="places_unreachable")
        else:
            try:
                data = response.json()
            except ValueError:
                data = None
            if response.status_code == 200:
                if not isinstance(data, dict):
                    raise PlacesError("Google Places APIの応答を読み取れませんでした。", code="places_bad_response")
                return data
            error = _error_for(response.status_code, data)
            log.warning("places %s answered %s", path, response.status_code)
            if response.status_code != 429 and response.status_code < 500:
                raise error
            wait = retry_after_seconds(response.headers.get("retry-after"), wait)
        if attempt + 1 < MAX_ATTEMPTS:
            await asyncio.sleep(wait)
    assert error is not None
    raise error


def _norm_name(text: str) -> str:
    return re.sub(r"[\s\u3000・\-()（）]", "", unicodedata.normalize("NFKC", text or "")).lower()


def place_to_competitor(place: dict[str, Any]) -> dict[str, Any] | None:
    """Our competitor dict from one Places (New) ``Place`` (None without a name or location)."""
    location = place.get("location") or {}
    lat, lng = location.get("latitude"), location.get("longitude")
    name = (place.get("displayName") or {}).get("text") if isinstance(place.get("displayName"), dict) else None
    if not name or not isinstance(lat, (int, float)) or not isinstance(lng, (int, float)):
        return None
    hours = (place.get("regularOpeningHours") or {}).get("weekdayDescriptions") or []
    out: dict[str, Any] = {"name": str(name)[:100], "lat": float(lat), "lng": float(lng), "place_id": place.get("id")}
    if place.get("formattedAddress"):
        out["address"] = str(place["formattedAddress"])[:200]
    if isinstance(place.get("rating"), (int, float)):
        out["rating"] = float(place["rating"])
    if isinstance(place.get("userRatingCount"), int):
        out["reviews"] = place["userRatingCount"]
    if hours:
        out["hours"] = " / ".join(str(h) for h in hours)[:1000]
    if place.get("websiteUri"):
        out["website"] = str(place["websiteUri"])[:500]
    if place.get("nationalPhoneNumber"):
        out["phone"] = str(place["nationalPhoneNumber"])[:30]
    if place.get("primaryType"):
        out["primary_type"] = place["primaryType"]
    return out


def locate(center_lat: float, center_lng: float, competitors: list[dict[str, Any]], radius_m: float,
           clinic_name: str = "") -> tuple[list[dict[str, Any]], int]:
    """Competitors with ``distance_m``/``bearing_deg``, within the radius, without the clinic itself, sorted by
    distance. Returns (kept, dropped outside the radius)."""
    own = _norm_name(clinic_name)
    kept, outside = [], 0
    for item in competitors:
        distance = haversine_m(center_lat, center_lng, item["lat"], item["lng"])
        if distance > radius_m:
            outside += 1
            continue
        if own and _norm_name(item.get("name", "")) == own and distance <= 1000:
            continue  # the clinic itself
        name = _norm_name(item.get("name", ""))
        if own and name and distance <= SELF_MATCH_METRES and (own in name or name in own):
            continue
        kept.append({**item, "distance_m": round(distance, 1),
                     "bearing_deg": round(bearing_deg(center_lat, center_lng, item["lat"], item["lng"]), 1)})
    kept.sort(key=lambda c: (c["distance_m"], c.get("name", "")))
    for number, item in enumerate(kept, start=1):
        item["number"] = number
    return kept, outside


@dataclass
class NearbyResult:
    competitors: list[dict[str, Any]]
    raw_count: int
    outside_radius: int
    included_types: list[str]


async def search_nearby(settings: Settings, lat: float, lng: float, radius_km: int, department_ids: list[str],
                        clinic_name: str = "") -> NearbyResult:
    radius_m = float(radius_km) * 1000.0
    types = included_types(department_ids)
    body = {
        "includedTypes": types,
        "maxResultCount": MAX_RESULTS,
        "locationRestriction": {"circle": {"center": {"latitude": lat, "longitude": lng}, "radius": radius_m}},
        "languageCode": "ja",
        "regionCode": "JP",
        "rankPreference": "DISTANCE",
    }
    data = await _post(settings, "/v1/places:searchNearby", body, NEARBY_FIELD_MASK)
    places = data.get("places") or []
    if not isinstance(places, list):
        raise PlacesError("Google Places APIの応答を読み取れませんでした。", code="places_bad_response")
    seen, items = set(), []
    for place in places:
        if not isinstance(place, dict):
            continue
        item = place_to_competitor(place)
        if item is None or (item.get("place_id") and item["place_id"] in seen):
            continue
        seen.add(item.get("place_id"))
        items.append(item)
    kept, outside = locate(lat, lng, items, radius_m, clinic_name)
    return NearbyResult(kept, len(places), outside, types)


async def geocode(settings: Settings, address: str) -> dict[str, Any]:
    """{"lat", "lng", "formatted_address"} of an address (the first Text Search hit)."""
    body = {"textQuery": address, "languageCode": "ja", "regionCode": "JP", "pageSize": 1}
    data = await _post(settings, "/v1/places:searchText", body, GEOCODE_FIELD_MASK)
    for place in data.get("places") or []:
        location = (place or {}).get("location") or {}
        lat, lng = location.get("latitude"), location.get("longitude")
        if isinstance(lat, (int, float)) and isinstance(lng, (int, float)):
            return {"lat": float(lat), "lng": float(lng), "formatted_address": place.get("formattedAddress")}
    raise PlacesError("住所から位置を特定できませんでした。住所を確認するか、緯度・経度を入力してください。",
                      code="geocode_not_found")
