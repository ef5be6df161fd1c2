"""Formatting for display: times in Europe/London, money in pounds."""

from __future__ import annotations

from datetime import datetime

from atlas_app.domain.money import format_pence
from atlas_app.timeutil import LONDON

__all__ = ["LONDON", "end_clock", "london", "pounds"]


def london(dt: datetime | None, with_seconds: bool = False) -> str:
    if dt is None:
        return ""
    return dt.astimezone(LONDON).strftime("%d %b %Y %H:%M:%S" if with_seconds else "%d %b %Y %H:%M")


def end_clock(starts_at: datetime, ends_at: datetime) -> str:
    """The end time of something that started at ``starts_at``, in London time: "midnight" for an end at 00:00 on
    the next day (not "00:00", which reads as the start of the same day), and "(next day)" after a later end."""
    start, end = starts_at.astimezone(LONDON), ends_at.astimezone(LONDON)
    if end.date() > start.date():
        if (end.hour, end.minute) == (0, 0) and (end.date() - start.date()).days == 1:
            return "midnight"
        return f"{end:%H:%M} (next day)"
    return f"{end:%H:%M}"


def pounds(pence: int | None) -> str:
    return "" if pence is None else format_pence(pence)
