"""A finished competitor analysis stored straight into the database (pages and exports tests, no job needed)."""

from __future__ import annotations

import math

LAT0, LNG0 = 35.681236, 139.767125
XSS = '<script>alert("x")</script>'


def offset(north_m: float, east_m: float) -> tuple[float, float]:
    return (LAT0 + north_m / 111_195.0, LNG0 + east_m / (111_195.0 * math.cos(math.radians(LAT0))))


def competitor(name: str, north_m: float, east_m: float, **extra) -> dict:
    lat, lng = offset(north_m, east_m)
    return {"name": name, "lat": lat, "lng": lng, "distance_m": round(math.hypot(north_m, east_m), 1), **extra}


def analysis_values(owner_id: int, **overrides) -> dict:
    values = {
        "owner_id": owner_id,
        "status": "done",
        "clinic": {"name": "さくら内科クリニック", "postal_code": "100-0005", "address": "東京都千代田区丸の内1-9-1",
                   "lat": LAT0, "lng": LNG0, "departments": ["internal_medicine"], "strengths": "土曜午後も診療",
                   "target": "近隣の会社員", "area_type": "urban"},
        "radius_km": 3,
        "source": "list",
        # Stored out of order on purpose: the page sorts by distance.
        "competitors": [
            competitor("みどり医院", 0, 2100, rating=3.9, reviews=42, hours="月〜金 9:00〜18:00", phone="03-1234-5678",
                       departments=["内科"]),
            competitor("あおば内科", 600, 0, rating=4.4, reviews=120, website="https://aoba.example.jp/"),
            competitor(XSS, -1200, -300, rating=3.1, reviews=5, website="javascript:alert(1)"),
        ],
        "market": {"count": 3, "per_km2": 0.11, "avg_rating": 3.8, "avg_reviews": 55.7, "website_share": 0.33,
                   "bands": [{"label": "1km以内", "count": 1}, {"label": "1〜2km", "count": 1},
                             {"label": "2〜3km", "count": 1}]},
        "population": {},
        "demand": {},
        "swot": {"strengths": [{"text": "土曜午後の診療は周辺で少ない。", "evidence": None},
                               {"text": "駅から近い。", "evidence": "競合No.1"}],
                 "weaknesses": [{"text": "口コミ数が少ない。", "evidence": "競合の平均口コミ数 56件"}],
                 "opportunities": [{"text": "昼間人口が多い。", "evidence": XSS}],
                 "threats": [{"text": "駅前に評価の高い内科がある。", "evidence": "競合No.1"}],
                 "differentiation": [{"text": "問診の説明を丁寧にする。", "priority": "低"},
                                     {"text": "平日夜と土曜午後の受診しやすさを打ち出す。", "priority": "高"}],
                 "marketing": [{"text": "会社員向けにWeb予約と待ち時間の案内を整える。", "priority": "中"}],
                 "operations": "問診票のWeb化で待ち時間を短くする。"},  # an older analysis: plain text
        "text_provider": "offline",
    }
    values.update(overrides)
    return values


async def insert_analysis(app, owner_id: int, **overrides):
    from medipersona.competitors.models import CompetitorAnalysis

    async with app.state.db.sessionmaker() as session:
        analysis = CompetitorAnalysis(**analysis_values(owner_id, **overrides))
        session.add(analysis)
        await session.commit()
        return analysis
