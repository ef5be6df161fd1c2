"""Time helpers: everything is stored in UTC and shown in Europe/London."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def utcnow() -> datetime:
    return datetime.now(UTC)


def london_date(dt: datetime) -> date:
    """The calendar date in London at that instant."""
    return dt.astimezone(LONDON).date()


def london_text(dt: datetime | None, with_seconds: bool = False) -> str:
    if dt is None:
        return ""
    return dt.astimezone(LONDON).strftime("%d %b %Y %H:%M:%S" if with_seconds else "%a %d %b %Y %H:%M")


def london_midnight(day: date) -> datetime:
    """The instant a London calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=LONDON)


def at_london(day: date, hhmm: time) -> datetime:
    return datetime.combine(day, hhmm, tzinfo=LONDON)
