"""Shared helpers for the competitor API tests: request bodies, SSE parsing, waiting for the job."""

from __future__ import annotations

import asyncio

from tests.personas.helpers import parse_sse

from .fakes import LAT0, LNG0, offset


def competitor_row(name: str, north_m: float, east_m: float, **extra) -> dict:
    lat, lng = offset(north_m, east_m)
    return {"name": name, "lat": lat, "lng": lng, **extra}


COMPETITORS = [
    competitor_row("遠い医院", 2500, 0, rating=3.5, reviews=40),          # 2.5 km: outside 1 km, inside 3 km
    competitor_row("近い内科", 0, 400, rating=4.2, reviews=12, website="https://near.example", hours="9:00-18:00"),
    competitor_row("中間クリニック", -800, 0),
    competitor_row("圏外病院", 6000, 0),                                  # outside every radius
]


def body(**overrides) -> dict:
    data = {
        "clinic": {"name": "さくら内科クリニック", "postal_code": "100-0005", "address": "東京都千代田区丸の内1-9-1",
                   "lat": LAT0, "lng": LNG0, "departments": ["internal_medicine"], "strengths": "土曜午後も診療、駅から徒歩2分",
                   "target": "近隣の会社員"},
        "radius_km": 3,
        "source": "list",
        "competitors": COMPETITORS,
        "population": {"area_code": "13101", "area_name": "千代田区",
                       "age_bands": {"0-14": 7500, "15-64": 45000, "65-74": 7500, "75+": 6000}},
        "area_type": "urban",
    }
    data.update(overrides)
    return data


async def stream(client, analysis_id: str, timeout: float = 30.0) -> list[tuple[str, dict]]:
    async def run():
        response = await client.get(f"/api/competitors/{analysis_id}/events")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.content)

    return await asyncio.wait_for(run(), timeout)


async def wait_status(client, analysis_id: str, timeout: float = 30.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        data = (await client.get(f"/api/competitors/{analysis_id}")).json()
        if data["status"] in ("done", "failed"):
            return data
        assert loop.time() < deadline, f"analysis stayed {data['status']}"
        await asyncio.sleep(0.05)
