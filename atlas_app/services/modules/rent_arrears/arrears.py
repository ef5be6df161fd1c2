"""The arithmetic of a rent account, with no database and no framework: balance, arrears in weeks of rent, trend,
the recovery stage a tenancy should be at, and whether a payment arrangement is kept or broken.

Conventions (the same as the ``rent_transaction`` table): amounts are pence, signed from the landlord's side, so a
charge is positive and a payment negative; the balance is their sum, and arrears are a positive balance.

* **Arrears in weeks** = balance ÷ weekly rent, held in hundredths of a week (``arrears_weeks_x100``) and rounded
  down, so "more than one week" means ``> 100``. A tenancy with no weekly rent has no weeks of arrears.
* **Trend over N weeks** = the balance at ``as_of`` minus the balance at ``as_of − 7·N days`` (transactions posted on
  or before each day): positive means the arrears grew.
* **Stage entry rules**: stages are taken in order; a tenancy moves at most one stage forward per recompute, into the
  next stage when its arrears are above that stage's threshold and it has been at its present stage for at least
  the next stage's ``min_days_in_previous`` days (the first stage needs no time at any). While an arrangement is
  being kept the tenancy does not move past its present stage. When the arrears fall to or below the first stage's
  threshold the tenancy leaves the stages (its case stays, with its history).
* **Arrangements**: instalments of ``amount`` fall due on ``start``, then every week, fortnight, four weeks or
  calendar month (a start on the 31st falls due on the last day of shorter months). The arrangement is broken on
  the first due date, plus ``grace_days``, by which the tenant's payments since ``start`` (payments and direct
  benefit payments, not adjustments) add up to less than the instalments due so far.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

PAYMENT_KINDS = ("payment", "housing_benefit", "universal_credit")
FREQUENCIES: dict[str, str] = {"weekly": "Every week", "fortnightly": "Every two weeks",
                               "four_weekly": "Every four weeks", "monthly": "Every month"}
GRACE_DAYS = 3


@dataclass(frozen=True)
class Txn:
    posted_on: date
    kind: str
    amount_pence: int


@dataclass(frozen=True)
class StageRule:
    id: int
    code: str
    min_arrears_weeks_x100: int
    min_days_in_previous: int = 0


@dataclass(frozen=True)
class Figures:
    balance_pence: int
    arrears_weeks_x100: int
    trend_4w_pence: int
    trend_13w_pence: int
    last_payment_on: date | None


def balance(txns: Iterable[Txn], on: date | None = None) -> int:
    """The balance at the end of ``on`` (all transactions when None)."""
    return sum(t.amount_pence for t in txns if on is None or t.posted_on <= on)


def arrears_weeks_x100(balance_pence: int, weekly_rent_pence: int) -> int:
    """Arrears in hundredths of a week's rent, rounded down; 0 when in credit or with no weekly rent."""
    if balance_pence <= 0 or weekly_rent_pence <= 0:
        return 0
    return balance_pence * 100 // weekly_rent_pence


def trend(txns: Sequence[Txn], as_of: date, weeks: int) -> int:
    """How much the balance grew over the ``weeks`` weeks up to ``as_of`` (negative: it fell)."""
    return balance(txns, as_of) - balance(txns, as_of - timedelta(days=7 * weeks))


def figures(txns: Sequence[Txn], weekly_rent_pence: int, as_of: date) -> Figures:
    now = balance(txns, as_of)
    paid = [t.posted_on for t in txns if t.kind in PAYMENT_KINDS and t.amount_pence < 0 and t.posted_on <= as_of]
    return Figures(now, arrears_weeks_x100(now, weekly_rent_pence), trend(txns, as_of, 4), trend(txns, as_of, 13),
                   max(paid) if paid else None)


def next_stage(rules: Sequence[StageRule], current_id: int | None, arrears_x100: int, days_at_current: int,
               arrangement_kept: bool = False) -> int | None:
    """The stage id a tenancy should be at after this recompute (see the module notes); ``rules`` in order."""
    if not rules:
        return current_id
    if arrears_x100 <= rules[0].min_arrears_weeks_x100:
        return None
    index = next((i for i, r in enumerate(rules) if r.id == current_id), -1)
    if index + 1 >= len(rules) or (arrangement_kept and index >= 0):
        return current_id
    candidate = rules[index + 1]
    if arrears_x100 <= candidate.min_arrears_weeks_x100:
        return current_id
    if index >= 0 and days_at_current < candidate.min_days_in_previous:
        return current_id
    return candidate.id


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(start: date, frequency: str, until: date) -> list[date]:
    """The instalment dates from ``start`` up to and including ``until``."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {frequency!r}")
    out: list[date] = []
    n = 0
    while True:
        if frequency == "monthly":
            day = add_months(start, n)
        else:
            day = start + timedelta(days={"weekly": 7, "fortnightly": 14, "four_weekly": 28}[frequency] * n)
        if day > until:
            return out
        out.append(day)
        n += 1


@dataclass(frozen=True)
class ArrangementCheck:
    kept: bool
    broken_on: date | None
    due_pence: int
    paid_pence: int


def check_arrangement(amount_pence: int, frequency: str, start: date, txns: Sequence[Txn], as_of: date,
                      grace_days: int = GRACE_DAYS) -> ArrangementCheck:
    """Kept or broken as of ``as_of``: each instalment is judged ``grace_days`` after it fell due."""
    payments = sorted((t.posted_on, -t.amount_pence) for t in txns
                      if t.kind in PAYMENT_KINDS and t.posted_on >= start and t.amount_pence < 0)
    due = 0
    for n, day in enumerate(due_dates(start, frequency, as_of - timedelta(days=grace_days)), start=1):
        due = amount_pence * n
        judged = day + timedelta(days=grace_days)
        paid = sum(amount for posted, amount in payments if posted <= judged)
        if paid < due:
            return ArrangementCheck(False, judged, due, paid)
    paid_now = sum(amount for posted, amount in payments if posted <= as_of)
    return ArrangementCheck(True, None, due, paid_now)
