"""A local stand-in of Google Places API (New) that answers from a set of places, in the API's HTTP shapes:

- ``POST /v1/places:searchText``: ``textQuery``, ``pageSize`` (1–20), ``pageToken`` (the other parameters must
  equal the first page's, else 400 INVALID_ARGUMENT), ``locationRestriction.rectangle`` {low, high} (a circle is
  refused there, as by the API), ``includedType`` + ``strictTypeFiltering``, ``rankPreference`` DISTANCE; at most
  60 results per query over pages of ``pageSize``; ``nextPageToken`` returned only when the field mask asks
  for it.
- ``POST /v1/places:searchNearby``: ``includedTypes``, ``maxResultCount`` (1–20), ``locationRestriction.circle``,
  ``rankPreference`` DISTANCE; no pages.
- Both require ``X-Goog-Api-Key`` and ``X-Goog-FieldMask`` and return only the fields the mask names.

A place matches a text query when the query appears in its name or one of its categories appears in the query
(眼科 finds "眼科クリニック" searches too), the way a clinic is found by its specialty's words.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from .fakes import Recorded, Reply, offset

MAX_TEXT_RESULTS = 60
EARTH_RADIUS_M = 6_371_008.8


def _distance_m(lat1, lng1, lat2, lng2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class StandInPlace:
    id: str
    name: str
    lat: float
    lng: float
    categories: tuple[str, ...] = ()  # specialties (眼科, 内科 ...) the place is known for
    types: tuple[str, ...] = ("doctor", "health", "point_of_interest", "establishment")
    phone: str | None = None
    rating: float | None = None
    reviews: int | None = None
    website: str | None = None
    hours: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "displayName": {"text": self.name, "languageCode": "ja"},
            "formattedAddress": f"日本、〒100-0005 東京都千代田区 {self.name}",
            "location": {"latitude": self.lat, "longitude": self.lng}, "types": list(self.types),
            "primaryType": self.types[0], "businessStatus": "OPERATIONAL", "googleMapsUri": "https://maps.example/x",
        }
        if self.phone:
            data["nationalPhoneNumber"] = self.phone
            data["internationalPhoneNumber"] = "+81 " + self.phone[1:]
        if self.rating is not None:
            data["rating"] = self.rating
        if self.reviews is not None:
            data["userRatingCount"] = self.reviews
        if self.website:
            data["websiteUri"] = self.website
        if self.hours:
            data["regularOpeningHours"] = {"weekdayDescriptions": list(self.hours), "openNow": True}
        return {**data, **self.extra}


def at(pid: str, name: str, north_m: float, east_m: float, **kw) -> StandInPlace:
    lat, lng = offset(north_m, east_m)
    return StandInPlace(pid, name, lat, lng, **kw)


def _project(resource: dict[str, Any], mask_fields: list[str]) -> dict[str, Any]:
    """The resource cut to the field mask's ``places.*`` paths (nested paths included)."""
    out: dict[str, Any] = {}
    for path in mask_fields:
        if not path.startswith("places."):
            continue
        parts = path.split(".")[1:]
        src, dst = resource, out
        for i, part in enumerate(parts):
            if not isinstance(src, dict) or part not in src:
                break
            if i == len(parts) - 1:
                dst[part] = src[part]
            else:
                src = src[part]
                dst = dst.setdefault(part, {})
    return out


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": code}})


class PlacesStandIn:
    def __init__(self, places: list[StandInPlace], key: str) -> None:
        self.places = places
        self.key = key
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple[str, int]] = {}  # token → (the first page's parameters, offset)

    # ------------------------------------------------------------------------------------------- common
    def _check(self, request: Recorded) -> tuple[list[str], Reply | None]:
        if request.headers.get("x-goog-api-key") != self.key:
            return [], _error(403, "PERMISSION_DENIED", "API key not valid.")
        mask = request.headers.get("x-goog-fieldmask", "")
        if not mask:
            return [], _error(400, "INVALID_ARGUMENT", "FieldMask is a required parameter.")
        if not isinstance(request.body, dict):
            return [], _error(400, "INVALID_ARGUMENT", "Invalid JSON payload.")
        return mask.split(","), None

    @staticmethod
    def _by_distance(places: list[StandInPlace], lat: float, lng: float) -> list[StandInPlace]:
        return sorted(places, key=lambda p: _distance_m(lat, lng, p.lat, p.lng))

    # ------------------------------------------------------------------------------------------- text search
    def _matches(self, place: StandInPlace, query: str) -> bool:
        return query in place.name or any(c in query for c in place.categories)

    def search_text(self, request: Recorded) -> Reply:
        mask, failure = self._check(request)
        if failure:
            return failure
        body = dict(request.body)
        token = body.pop("pageToken", None)
        page_size = body.get("pageSize", 20)
        if not isinstance(page_size, int) or not 1 <= page_size <= 20:
            return _error(400, "INVALID_ARGUMENT", "pageSize must be between 1 and 20.")
        restriction = body.get("locationRestriction") or {}
        if "circle" in restriction:
            return _error(400, "INVALID_ARGUMENT", "Unknown name \"circle\" at 'location_restriction'.")
        params = json.dumps(body, sort_keys=True, ensure_ascii=False)
        start = 0
        if token:
            with self.lock:
                saved = self.tokens.get(token)
            if saved is None or saved[0] != params:
                return _error(400, "INVALID_ARGUMENT", "The page token is invalid or the request changed.")
            start = saved[1]
        query = str(body.get("textQuery") or "")
        found = [p for p in self.places if self._matches(p, query)]
        if rect := restriction.get("rectangle"):
            low, high = rect["low"], rect["high"]
            found = [p for p in found if low["latitude"] <= p.lat <= high["latitude"]
                     and low["longitude"] <= p.lng <= high["longitude"]]
            center = ((low["latitude"] + high["latitude"]) / 2, (low["longitude"] + high["longitude"]) / 2)
        else:
            center = None
        if body.get("includedType") and body.get("strictTypeFiltering"):
            found = [p for p in found if body["includedType"] in p.types]
        if center and body.get("rankPreference") == "DISTANCE":
            found = self._by_distance(found, *center)
        found = found[:MAX_TEXT_RESULTS]
        page = found[start:start + page_size]
        answer: dict[str, Any] = {"places": [_project(p.resource(), mask) for p in page]}
        if start + page_size < len(found) and "nextPageToken" in mask:
            with self.lock:  # numbered under the lock: concurrent searches (one per term) get distinct tokens
                next_token = base64.urlsafe_b64encode(f"{len(self.tokens)}:{start + page_size}".encode()).decode()
                self.tokens[next_token] = (params, start + page_size)
            answer["nextPageToken"] = next_token
        if not answer["places"]:
            answer = {}  # the API omits empty fields
        return Reply(200, answer)

    # ------------------------------------------------------------------------------------------- nearby search
    def search_nearby(self, request: Recorded) -> Reply:
        mask, failure = self._check(request)
        if failure:
            return failure
        body = request.body
        count = body.get("maxResultCount", 20)
        if not isinstance(count, int) or not 1 <= count <= 20:
            return _error(400, "INVALID_ARGUMENT", "maxResultCount must be between 1 and 20.")
        circle = (body.get("locationRestriction") or {}).get("circle")
        if not circle:
            return _error(400, "INVALID_ARGUMENT", "locationRestriction.circle is required.")
        lat, lng = circle["center"]["latitude"], circle["center"]["longitude"]
        types = set(body.get("includedTypes") or [])
        found = [p for p in self.places if _distance_m(lat, lng, p.lat, p.lng) <= circle["radius"]
                 and (not types or types & set(p.types))]
        found = self._by_distance(found, lat, lng)[:count]
        return Reply(200, {"places": [_project(p.resource(), mask) for p in found]} if found else {})

    def install(self, fake) -> None:
        fake.on("/v1/places:searchText", self.search_text)
        fake.on("/v1/places:searchNearby", self.search_nearby)
