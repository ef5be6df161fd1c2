"""Formatting for display: times in Europe/London, money in pounds."""

from __future__ import annotations

from datetime import datetime

from atlas_app.timeutil import LONDON

__all__ = ["LONDON", "london", "pounds"]


def london(dt: datetime | None, with_seconds: bool = False) -> str:
    if dt is None:
        return ""
    return dt.astimezone(LONDON).strftime("%d %b %Y %H:%M:%S" if with_seconds else "%d %b %Y %H:%M")


def pounds(pence: int | None) -> str:
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"
