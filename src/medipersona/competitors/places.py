"""Google Places API (New) client: the clinics of the clinic's own specialties within the radius
(``places:searchText`` per search term, ``places:searchNearby`` for a type) and the clinic's position from its
address (``places:searchText``).

Specialty search: every selected department contributes its search terms (catalog ``search_terms``, e.g. 眼科 →
眼科, 眼科クリニック, 眼科医院). Each term is one Text Search restricted to the rectangle around the radius circle,
ranked by distance, followed through ``nextPageToken`` up to 3 pages (the API's 60 results per query). Dental
departments search among dentists only (``includedType`` dentist, strict); general dentistry also takes every
dentist nearby by type (Nearby Search). Results are merged by place id across terms and departments, places
that are not clinics (pharmacies, shops) are dropped, and what is left is cut to the true radius by great-circle
distance. The search reports how many places each term found.

One request per page (no per-place detail calls): the field mask asks for exactly the fields we show (plus
``types``, which tells a clinic from a pharmacy, and ``nextPageToken``). The key is sent only from the server
(``X-Goog-Api-Key``), never to a browser, and never logged. 429 and 5xx are retried with backoff (Retry-After
honoured, bounded); 400/403 fail at once with a Japanese message saying what to check.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from medipersona.competitors.geo import bearing_deg, bounding_box, haversine_m
from medipersona.retry import Backoff, retry_after_from_headers, retry_delay
from medipersona.settings import Settings

log = logging.getLogger("medipersona.competitors")

PLACE_FIELDS = ("places.id", "places.displayName", "places.formattedAddress", "places.location",
                "places.rating", "places.userRatingCount", "places.regularOpeningHours.weekdayDescriptions",
                "places.websiteUri", "places.nationalPhoneNumber", "places.types")
TEXT_FIELD_MASK = ",".join(PLACE_FIELDS + ("nextPageToken",))
NEARBY_FIELD_MASK = ",".join(PLACE_FIELDS)
GEOCODE_FIELD_MASK = "places.location,places.formattedAddress"
PAGE_SIZE = 20  # the API's maximum per page (Text Search) and per request (Nearby Search)
MAX_PAGES = 3  # Text Search returns at most 60 results per query
MAX_SEARCHES = 12  # searches per analysis (cost bound): departments × terms beyond this are not searched
SEARCH_CONCURRENCY = 3
MAX_ATTEMPTS = 3
_sleep = asyncio.sleep  # the backoff wait (tests record it without touching asyncio.sleep itself)
BACKOFF = Backoff(base=0.5, cap=2.0)
MAX_RETRY_AFTER_SECONDS = 10.0  # Places asking for a longer pause is waited 10 s at most, then retried
SELF_MATCH_METRES = 30.0

# Places (New) Table A types. Dental departments search among dentists only; general dentistry competes with
# every dentist, so it also takes the dentists nearby by type.
SECTION_TEXT_TYPE: dict[str, str] = {"dental": "dentist"}
DEPARTMENT_TYPE_SEARCH: dict[str, tuple[str, ...]] = {"general_dentistry": ("dentist", "dental_clinic")}
TYPE_SEARCH_LABELS: dict[str, str] = {"dentist": "歯科医院（種別検索）"}
# A result typed as one of these is a clinic whatever else it is; one typed as a shop (and none of these) is not.
CLINIC_TYPES = frozenset({"doctor", "hospital", "dentist", "dental_clinic", "physiotherapist", "medical_clinic",
                          "medical_center", "general_hospital", "skin_care_clinic"})
NOT_CLINIC_TYPES = frozenset({"pharmacy", "drugstore", "store", "optician", "health_food_store",
                              "beauty_salon", "spa", "gym"})


class PlacesError(Exception):
    """A Places call that failed, with a Japanese message for the user."""

    def __init__(self, message: str, *, code: str = "places_failed", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


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


class CallCounter:
    """Places requests answered with 200 (the billed ones) during one analysis."""

    def __init__(self) -> None:
        self.calls = 0


async def _post(settings: Settings, path: str, body: dict[str, Any], field_mask: str,
                counter: CallCounter | None = None) -> dict[str, Any]:
    import httpx

    from medipersona.competitors.http import http_client

    if not settings.places_configured:
        raise PlacesError("Google Places APIが設定されていません。", code="places_not_configured")
    url = settings.google_places_base_url.rstrip("/") + path
    assert settings.google_places_api_key is not None  # places_configured
    headers = {"X-Goog-Api-Key": settings.google_places_api_key.get_secret_value().strip(),
               "X-Goog-FieldMask": field_mask, "Content-Type": "application/json"}
    client = http_client()
    attempt = 0
    while True:
        attempt += 1
        retry_after: float | None = None
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
                if counter is not None:
                    counter.calls += 1
                if not isinstance(data, dict):
                    raise PlacesError("Google Places APIの応答を読み取れませんでした。", code="places_bad_response")
                return data
            error = _error_for(response.status_code, data)
            log.warning("places %s answered %s", path, response.status_code)
            if response.status_code != 429 and response.status_code < 500:
                raise error
            # A malformed header ("soon") is no hint: the backoff applies; a longer pause than we wait is capped.
            retry_after = retry_after_from_headers(response.headers)
            if retry_after is not None:
                retry_after = min(retry_after, MAX_RETRY_AFTER_SECONDS)
        delay = retry_delay(BACKOFF, attempt, retryable=True, retry_after=retry_after, max_attempts=MAX_ATTEMPTS)
        if delay is None:
            raise error
        await _sleep(delay)


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
    return out


def is_clinic(place: dict[str, Any]) -> bool:
    """False for a pharmacy, a shop or the like that a text search returned next to the clinics."""
    types = {t for t in place.get("types") or [] if isinstance(t, str)}
    return bool(types & CLINIC_TYPES) or not (types & NOT_CLINIC_TYPES)


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
class Search:
    """One query of the plan: a search term (Text Search) or a place type (Nearby Search)."""

    kind: str  # "text" | "type"
    query: str  # the term, or the first type
    label: str
    department_ids: list[str]
    included_types: tuple[str, ...] = ()


def _join(plan: dict[tuple, Search], search: Search, dep_id: str) -> None:
    """Add ``search`` to the plan, or the department to the same search already planned."""
    planned = plan.setdefault((search.kind, search.query, search.included_types), search)
    if dep_id not in planned.department_ids:
        planned.department_ids.append(dep_id)


def search_plan(department_ids: list[str]) -> tuple[list[Search], int]:
    """The searches for the departments, in order, one per distinct (term, type); and how many were left out
    over ``MAX_SEARCHES``."""
    from medipersona.catalog.service import get_catalog

    catalog = get_catalog()
    plan: dict[tuple[str, str, tuple[str, ...]], Search] = {}
    for dep_id in department_ids:
        dep = catalog.department(dep_id)
        if dep is None:
            continue
        text_type = SECTION_TEXT_TYPE.get(dep.section)
        for term in dep.search_terms or (dep.name,):
            term = term.strip()
            if not term:
                continue
            types = (text_type,) if text_type else ()
            _join(plan, Search("text", term, term, [], types), dep_id)
        if type_search := DEPARTMENT_TYPE_SEARCH.get(dep_id):
            _join(plan, Search("type", type_search[0], TYPE_SEARCH_LABELS.get(type_search[0], type_search[0]), [],
                               type_search), dep_id)
    searches = list(plan.values())
    return searches[:MAX_SEARCHES], max(0, len(searches) - MAX_SEARCHES)


@dataclass
class SearchOutcome:
    search: Search
    places: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    more_available: bool = False  # the API had more than it may return (60 per term, 20 per type search)


def rectangle(lat: float, lng: float, radius_m: float) -> dict[str, Any]:
    """The Text Search ``locationRestriction``: the rectangle that just contains the radius circle."""
    low_lat, low_lng, high_lat, high_lng = bounding_box(lat, lng, radius_m)
    return {"rectangle": {"low": {"latitude": low_lat, "longitude": low_lng},
                          "high": {"latitude": high_lat, "longitude": high_lng}}}


async def _text_search(settings: Settings, search: Search, lat: float, lng: float, radius_m: float,
                       counter: CallCounter) -> SearchOutcome:
    body: dict[str, Any] = {"textQuery": search.query, "pageSize": PAGE_SIZE, "languageCode": "ja",
                            "regionCode": "JP", "rankPreference": "DISTANCE",
                            "locationRestriction": rectangle(lat, lng, radius_m)}
    if search.included_types:
        body.update(includedType=search.included_types[0], strictTypeFiltering=True)
    outcome = SearchOutcome(search)
    token = ""
    while outcome.pages < MAX_PAGES:
        # Every page repeats the first request's parameters, with the token of the page before.
        data = await _post(settings, "/v1/places:searchText", {**body, "pageToken": token} if token else body,
                           TEXT_FIELD_MASK, counter)
        outcome.pages += 1
        outcome.places.extend(_places_of(data))
        token = str(data.get("nextPageToken") or "")
        if not token:
            break
    # 60 answers is all the API gives for one query: the area may hold more.
    outcome.more_available = bool(token) or len(outcome.places) >= MAX_PAGES * PAGE_SIZE
    return outcome


async def _type_search(settings: Settings, search: Search, lat: float, lng: float, radius_m: float,
                       counter: CallCounter) -> SearchOutcome:
    body = {"includedTypes": list(search.included_types), "maxResultCount": PAGE_SIZE,
            "locationRestriction": {"circle": {"center": {"latitude": lat, "longitude": lng}, "radius": radius_m}},
            "languageCode": "ja", "regionCode": "JP", "rankPreference": "DISTANCE"}
    data = await _post(settings, "/v1/places:searchNearby", body, NEARBY_FIELD_MASK, counter)
    places = _places_of(data)
    return SearchOutcome(search, places, pages=1, more_available=len(places) >= PAGE_SIZE)


def _places_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    places = data.get("places") or []
    if not isinstance(places, list):
        raise PlacesError("Google Places APIの応答を読み取れませんでした。", code="places_bad_response")
    return [p for p in places if isinstance(p, dict)]


@dataclass
class SpecialtyResult:
    competitors: list[dict[str, Any]]
    terms: list[dict[str, Any]]  # per search: label, departments, found, in radius, new, pages, capped
    returned: int  # distinct places the searches returned
    outside_radius: int
    not_clinics: int
    capped: bool  # some search had more results than the API returns
    searches_left_out: int
    calls: int


async def search_specialties(settings: Settings, lat: float, lng: float, radius_km: int, department_ids: list[str],
                             clinic_name: str = "", counter: CallCounter | None = None) -> SpecialtyResult:
    """The clinics of the departments' specialties within ``radius_km`` of (lat, lng), nearest first."""
    from medipersona.catalog.service import get_catalog

    counter = counter or CallCounter()
    radius_m = float(radius_km) * 1000.0
    plan, left_out = search_plan(department_ids)
    gate = asyncio.Semaphore(SEARCH_CONCURRENCY)

    async def run(search: Search) -> SearchOutcome:
        async with gate:
            runner = _text_search if search.kind == "text" else _type_search
            return await runner(settings, search, lat, lng, radius_m, counter)

    try:  # a failed search (403, key) cancels the others: the job fails once, nothing keeps calling
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(run(s)) for s in plan]
    except* PlacesError as failed:
        raise failed.exceptions[0] from None
    outcomes = [task.result() for task in tasks]
    catalog = get_catalog()
    merged: dict[str, dict[str, Any]] = {}
    terms, not_clinics = [], set()
    for outcome in outcomes:
        found, in_radius, new = set(), 0, 0
        for place in outcome.places:
            item = place_to_competitor(place)
            if item is None:
                continue
            key = item.get("place_id") or f"{item['name']}@{item['lat']:.5f},{item['lng']:.5f}"
            if key in found:
                continue
            found.add(key)
            if not is_clinic(place):
                not_clinics.add(key)
                continue
            inside = haversine_m(lat, lng, item["lat"], item["lng"]) <= radius_m
            in_radius += inside
            entry = merged.get(key)
            if entry is None:
                new += inside
                entry = merged[key] = {**item, "departments": [], "matched_terms": []}  # catalog ids, as imported
            for dep_id in outcome.search.department_ids:
                if dep_id not in entry["departments"]:
                    entry["departments"].append(dep_id)
            if outcome.search.label not in entry["matched_terms"]:
                entry["matched_terms"].append(outcome.search.label)
        names = [d.name for d in (catalog.department(i) for i in outcome.search.department_ids) if d is not None]
        terms.append({"term": outcome.search.label, "kind": outcome.search.kind, "departments": names,
                      "found": len(found), "in_radius": in_radius, "new": new, "pages": outcome.pages,
                      "capped": outcome.more_available})
    kept, outside = locate(lat, lng, list(merged.values()), radius_m, clinic_name)
    return SpecialtyResult(kept, terms, len(merged) + len(not_clinics), outside, len(not_clinics),
                           any(o.more_available for o in outcomes), left_out, counter.calls)


async def geocode(settings: Settings, address: str, counter: CallCounter | None = None) -> dict[str, Any]:
    """{"lat", "lng", "formatted_address"} of an address (the first Text Search hit)."""
    body = {"textQuery": address, "languageCode": "ja", "regionCode": "JP", "pageSize": 1}
    data = await _post(settings, "/v1/places:searchText", body, GEOCODE_FIELD_MASK, counter)
    for place in data.get("places") or []:
        location = (place or {}).get("location") or {}
        lat, lng = location.get("latitude"), location.get("longitude")
        if isinstance(lat, (int, float)) and isinstance(lng, (int, float)):
            return {"lat": float(lat), "lng": float(lng), "formatted_address": place.get("formattedAddress")}
    raise PlacesError("住所から位置を特定できませんでした。住所を確認するか、地図をクリックして位置を指定してください。",
                      code="geocode_not_found")
