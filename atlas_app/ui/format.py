"""Formatting for display: times in Europe/London, money in pounds."""

from __future__ import annotations

from datetime import datetime

from atlas_app.domain.money import format_pence
from atlas_app.timeutil import LONDON

__all__ = ["LONDON", "london", "pounds"]


def london(dt: datetime | None, with_seconds: bool = False) -> str:
    if dt is None:
        return ""
    return dt.astimezone(LONDON).strftime("%d %b %Y %H:%M:%S" if with_seconds else "%d %b %Y %H:%M")


def pounds(pence: int | None) -> str:
    return "" if pence is None else format_pence(pence)
