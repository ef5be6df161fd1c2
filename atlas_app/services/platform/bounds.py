"""The ranges input must fall in before it reaches the database, in one place for the REST API, the CSV import, the
staff forms, the report exports and the Reflex handlers that take ids from a browser.

* Ids: every primary key is an ``INTEGER`` column, so an id is a whole number from 1 to 2**31 - 1. Anything else
  (2**63, ``Infinity``, ``1e400``, ``NaN``, ``true``, ``"12abc"``) is refused with a message naming the field
  rather than reaching the driver, which would fail with an overflow.
* Dates of a referral: the offence no more than ``OFFENCE_MAX_AGE_DAYS`` ago and not in the future; the critical
  date not before the offence and not more than ``CRITICAL_MAX_AHEAD_DAYS`` from today.
* Dates that filter a list, a report or an export: between ``FILTER_EARLIEST`` and ``FILTER_LATEST``.

Every refusal is a ``ValidationFailed`` whose ``errors`` name the field (a 422 in the API's error shape).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from atlas_app.services.platform.errors import ValidationFailed

MIN_ID = 1
MAX_ID = 2**31 - 1  # PostgreSQL INTEGER; SQLite would take more, but the schema is the same on both
MAX_ID_DIGITS = 10

OFFENCE_MAX_AGE_DAYS = 2 * 365 + 1
CRITICAL_MAX_AHEAD_DAYS = 2 * 365 + 1

FILTER_EARLIEST = date(2000, 1, 1)
FILTER_LATEST = date(2100, 12, 31)


def _label(field: str) -> str:
    return field.replace("_", " ")


def whole_number(value: Any, field: str, minimum: int = 0, maximum: int = 10_000_000,
                 blank: int | None = None) -> int:
    """A count or amount typed into a form: a whole number from ``minimum`` to ``maximum`` (an empty field counts
    as ``blank`` where one is given)."""
    name = _label(field).capitalize()
    typed = str(value).strip() if value is not None else ""
    if not typed and blank is not None:
        typed = str(blank)
    try:
        out = int(typed)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must be a whole number.", {field: "not a number"}) from None
    if not minimum <= out <= maximum:
        raise ValidationFailed(f"{name} must be between {minimum} and {maximum}.", {field: "out of range"})
    return out


def id_or_none(value: Any) -> int | None:
    """``value`` as an id in range, or None when it is not one (not a whole number, out of range, not finite)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        out = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        out = int(value)
    else:
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
            return None
        out = int(text)
    return out if MIN_ID <= out <= MAX_ID else None


def parse_id(value: Any, field: str) -> int:
    """``value`` as an id in range; otherwise ``ValidationFailed`` naming ``field``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(f"{_label(field).capitalize()} is required.", {field: "required"})
    out = id_or_none(value)
    if out is None:
        raise ValidationFailed(f"{_label(field).capitalize()} must be a whole number from {MIN_ID} to {MAX_ID}.",
                               {field: "not a valid id"})
    return out


def query_id(value: Any) -> int:
    """``int(value)`` for a lookup by id, with a whole number outside the id range turned into 0, an id no row has:
    the lookup finds nothing and answers its own "No such ..." instead of the database driver overflowing. Text
    that is not a number raises ValueError, as ``int`` does."""
    try:
        out = int(value)
    except OverflowError:  # float infinity
        raise ValueError(f"{value!r} is not an id") from None
    return out if MIN_ID <= out <= MAX_ID else 0


def first_non_finite(value: Any, path: str = "") -> str | None:
    """The path (``field`` or ``field.key``) of the first number in parsed JSON that is not finite (Python's parser
    takes ``Infinity``, ``NaN`` and turns ``1e400`` into infinity), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "body"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = first_non_finite(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def storable_text(text: str) -> bool:
    """Text a database column can hold: no NUL character (PostgreSQL refuses it) and valid Unicode (JSON's
    ``\\ud800`` escapes give lone surrogates, which cannot be written as UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def first_unstorable_text(value: Any, path: str = "") -> str | None:
    """The path of the first key or string in parsed JSON that is not ``storable_text``, or None."""
    if isinstance(value, str):
        return None if storable_text(value) else (path or "body")
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not storable_text(str(key)):
                return path or "body"
            found = first_unstorable_text(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = first_unstorable_text(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def check_date_range(value: date, field: str, earliest: date, latest: date) -> date:
    if not earliest <= value <= latest:
        raise ValidationFailed(f"{_label(field).capitalize()} must be between {earliest:%d/%m/%Y} and "
                               f"{latest:%d/%m/%Y}.", {field: "out of range"})
    return value


def filter_date(value: date, field: str) -> date:
    return check_date_range(value, field, FILTER_EARLIEST, FILTER_LATEST)


def offence_date_problem(offence: date, today: date) -> str | None:
    """Why ``offence`` is not a believable offence date today, or None."""
    if offence > today:
        return f"offence date {offence:%d/%m/%Y} is in the future"
    if offence < today - timedelta(days=OFFENCE_MAX_AGE_DAYS):
        return f"offence date {offence:%d/%m/%Y} is more than two years ago"
    return None


def critical_date_problem(critical: date, offence: date | None, today: date) -> str | None:
    """Why ``critical`` is not a believable critical date for an offence on ``offence``, or None."""
    if offence is not None and critical < offence:
        return f"critical date {critical:%d/%m/%Y} is before the offence date"
    if critical > today + timedelta(days=CRITICAL_MAX_AHEAD_DAYS):
        return f"critical date {critical:%d/%m/%Y} is more than two years ahead"
    return None
