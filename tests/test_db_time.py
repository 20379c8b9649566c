"""The one UTC column type (``db.UTCDateTime``): stored in UTC, read back aware, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from medipersona.admin.models import AppSetting
from medipersona.db import UTCDateTime

JST = timezone(timedelta(hours=9))


def test_bind_and_result_conversion():
    column = UTCDateTime()
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert column.process_bind_param(naive, None) == naive.replace(tzinfo=UTC)
    assert column.process_bind_param(datetime(2026, 1, 2, 12, 4, 5, tzinfo=JST), None).tzinfo is UTC
    assert column.process_result_value(naive, None) == naive.replace(tzinfo=UTC)
    assert column.process_result_value(datetime(2026, 1, 2, 12, 0, tzinfo=JST), None).hour == 3
    assert column.process_bind_param(None, None) is None and column.process_result_value(None, None) is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_times_come_back_aware_utc(db):
    moment = datetime(2026, 3, 4, 21, 30, tzinfo=JST)  # 12:30 UTC
    async with db.sessionmaker() as session:
        session.add(AppSetting(key="tz-probe", value={}, updated_at=moment))
        await session.commit()
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(AppSetting.updated_at).where(AppSetting.key == "tz-probe"))
        latest = await session.scalar(select(AppSetting.updated_at).order_by(AppSetting.updated_at.desc()).limit(1))
    assert stored == moment and stored.tzinfo == UTC and stored.hour == 12
    assert latest is not None and latest.tzinfo == UTC


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_json_columns_round_trip_and_keep_japanese_readable(db):
    """JSON columns are written by ``db.json_text`` (orjson): values come back equal, int keys as strings, and
    the stored text keeps Japanese as UTF-8 rather than \\u escapes."""
    from sqlalchemy import text

    value = {"主訴": "白内障", "shares": {10: 0.25, 70: 0.75}, "list": [1, 2.5, None, True]}
    async with db.sessionmaker() as session:
        session.add(AppSetting(key="json-probe", value=value))
        await session.commit()
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(AppSetting.value).where(AppSetting.key == "json-probe"))
        raw = await session.scalar(text("SELECT CAST(value AS TEXT) FROM app_settings WHERE key = 'json-probe'"))
    assert stored == {"主訴": "白内障", "shares": {"10": 0.25, "70": 0.75}, "list": [1, 2.5, None, True]}
    assert "白内障" in raw and "\\u" not in raw
