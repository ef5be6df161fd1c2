"""The certificate regime's date rules, free of any framework: adding calendar months, and the due date a check
sets.

* ``add_months``: the same day ``n`` months on, or the last day of that month when it is shorter (31 January plus
  one month is 28 February, or 29 February in a leap year; 29 February plus twelve months is 28 February).
* ``next_due``: a check within the early window before the due date (``window`` months before it, up to and
  including the due date) keeps the old anniversary: the next check is due ``interval`` months after the old due
  date. Any other check (late, too early, or the first) starts a new anniversary: ``interval`` months after the
  check. This is the gas safety rule (a check up to two months early keeps the anniversary).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (negative goes back), clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def window_opens(due: date, window_months: int) -> date:
    """The first day a check keeps the anniversary of ``due``."""
    return add_months(due, -window_months)


@dataclass(frozen=True)
class NextDue:
    due_on: date
    kept_anniversary: bool


def next_due(checked_on: date, previous_due: date | None, interval_months: int, window_months: int) -> NextDue:
    """The due date of the next check after a check on ``checked_on``, given the due date it answered."""
    if interval_months <= 0:
        raise ValueError("the interval must be at least one month")
    if not 0 <= window_months < interval_months:
        raise ValueError("the early window must be shorter than the interval")
    if previous_due is not None and window_opens(previous_due, window_months) <= checked_on <= previous_due:
        return NextDue(add_months(previous_due, interval_months), True)
    return NextDue(add_months(checked_on, interval_months), False)


def days_overdue(due_on: date | None, today: date) -> int:
    """Whole days past the due date (0 when in date or with no due date)."""
    if due_on is None:
        return 0
    return max(0, (today - due_on).days)
