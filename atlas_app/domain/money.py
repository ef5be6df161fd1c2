"""Money in pence: one rule for reading an amount typed in pounds, one for showing it.

Accepted: digits with an optional ``£`` in front, commas only between groups of three digits (``1,200``), and at
most two decimal places (``12.5`` is £12.50); surrounding spaces are ignored; an ``int`` is taken as pence.
Refused, each with its own message: nothing, a minus sign, letters, misplaced commas (``1,20``), a third decimal
place (``12.345``), and anything above :data:`MAX_PENCE` (or the caller's lower maximum).
"""

from __future__ import annotations

import re
from typing import Any

MAX_PENCE = 10_000_000  # £100,000.00

_AMOUNT = re.compile(r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d*))?")


class AmountError(ValueError):
    """A typed amount that is not one: ``message`` says why in words for the person who typed it, ``code`` in one
    word for the field's error."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def parse_pence(value: Any, *, allow_zero: bool = False, maximum: int = MAX_PENCE, what: str = "the amount") -> int:
    """An amount in pounds (``"£1,045.5"``, ``"95"``) or an ``int`` of pence, as pence. ``what`` names the field in
    the messages ("the fee"); zero is refused unless ``allow_zero``."""
    if isinstance(value, bool):
        raise AmountError(f"Enter {what} in pounds, for example 95 or 95.50.")
    if isinstance(value, int):
        pence = value
    else:
        text = "" if value is None else str(value).strip()
        if text.startswith("£"):
            text = text[1:].strip()
        if not text:
            raise AmountError(f"Enter {what}.", "required")
        if text.startswith("-"):
            raise AmountError(f"{_cap(what)} cannot be negative.")
        match = _AMOUNT.fullmatch(text)
        if match is None or not (match["whole"] or match["frac"]):
            if re.fullmatch(r"[\d,]+(\.\d*)?", text):
                raise AmountError("Put commas only between groups of three digits, as in 1,200.")
            raise AmountError(f"Enter {what} in pounds, for example 95 or 95.50.")
        frac = match["frac"] or ""
        if len(frac) > 2:
            raise AmountError(f"{_cap(what)} can have at most two decimal places (pence).")
        whole = (match["whole"] or "0").replace(",", "")
        if len(whole) > 12:
            raise AmountError(f"{_cap(what)} can be at most {format_pence(maximum)}.", "too large")
        pence = int(whole) * 100 + int((frac + "00")[:2])
    if pence < 0:
        raise AmountError(f"{_cap(what)} cannot be negative.")
    if pence == 0 and not allow_zero:
        raise AmountError(f"{_cap(what)} must be more than £0.")
    if pence > maximum:
        raise AmountError(f"{_cap(what)} can be at most {format_pence(maximum)}.", "too large")
    return pence


def format_pence(pence: int) -> str:
    """``123450`` -> ``"£1,234.50"``; ``-300`` -> ``"-£3.00"``."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(int(pence)), 100)
    return f"{sign}£{whole:,}.{part:02d}"


def pence_decimal(pence: int) -> str:
    """The plain number of pounds, for a form field or a CSV cell: ``123450`` -> ``"1234.50"``, ``-300`` ->
    ``"-3.00"``."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(int(pence)), 100)
    return f"{sign}{whole}.{part:02d}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


__all__ = ["MAX_PENCE", "AmountError", "format_pence", "parse_pence", "pence_decimal"]
