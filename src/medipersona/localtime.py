"""Local time for everything a person reads: pages, PDF/PPTX, usage per day, monitoring.

Times are stored in UTC; clinics are in Japan, so dates are shown, grouped by day and filtered by day in the
configured zone (``MEDIPERSONA_TIMEZONE``, default Asia/Tokyo). This module is the one place that does it:
``create_app`` and the CLI call ``configure(settings.timezone)`` once per process.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Tokyo"

_zone = ZoneInfo(DEFAULT_TIMEZONE)


def parse_zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (IANA, e.g. Asia/Tokyo); ValueError with a readable message otherwise."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Asia/Tokyo)") from exc


def configure(name: str) -> None:
    global _zone
    _zone = parse_zone(name or DEFAULT_TIMEZONE)


def zone() -> ZoneInfo:
    return _zone


def to_local(value: datetime | str | float | None) -> datetime | None:
    """A stored time (aware or naive UTC datetime, ISO string, or Unix timestamp) in the local zone."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the database hands back naive UTC on SQLite
    return moment.astimezone(_zone)


def format_datetime(value: datetime | str | float | None, *, seconds: bool = False) -> str:
    """``2026-12-02 06:38`` in local time; empty for no value."""
    local = to_local(value)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") if local else ""


def format_date(value: datetime | str | float | None) -> str:
    local = to_local(value)
    return local.strftime("%Y-%m-%d") if local else ""


def local_date(value: datetime | str | float | None) -> date | None:
    local = to_local(value)
    return local.date() if local else None


def today() -> date:
    return datetime.now(_zone).date()


def seconds_until_tomorrow(now: datetime | None = None) -> int:
    """Seconds until the next local midnight (Retry-After of a daily limit), at least 1."""
    moment = now or datetime.now(UTC)
    return max(1, int((day_end_utc(moment.astimezone(_zone).date()) - moment).total_seconds()))


def day_start_utc(day: date) -> datetime:
    """The UTC instant at which the local ``day`` begins (for ``created_at >= ...`` filters); days at the ends
    of the calendar clamp to the earliest/latest instant instead of overflowing."""
    try:
        return datetime.combine(day, time.min, _zone).astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC) if day.year == 1 else datetime.max.replace(tzinfo=UTC)


def day_end_utc(day: date) -> datetime:
    """The UTC instant at which the local ``day`` ends (exclusive bound)."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return day_start_utc(day + timedelta(days=1))


def zone_label() -> str:
    """How pages name the zone: 日本時間 for Asia/Tokyo, else the IANA name."""
    return "日本時間" if _zone.key == DEFAULT_TIMEZONE else _zone.key
