"""Reconciliation: payments and refunds by method and day for a period, with CSV export."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import select

from atlas_app.db import read_session
from atlas_app.domain.money import pence_decimal
from atlas_app.domain.statuses import PaymentStatus, RefundStatus
from atlas_app.models import Booking
from atlas_app.models.payments import (
    Payment,
    Refund,
)
from atlas_app.services.payments.state import GROUP_LABELS, METHOD_GROUPS, METHOD_LABELS
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date, london_midnight, london_text


@dataclass(frozen=True)
class ReconLine:
    kind: str  # payment, refund
    at: datetime
    day: date
    group: str
    method: str
    provider: str
    booking_reference: str
    amount_pence: int  # payments positive, refunds negative
    fee_pence: int | None
    reference: str
    by: str
    note: str
    is_demo: bool


@dataclass(frozen=True)
class ReconRow:
    day: date
    group: str
    label: str
    payments: int
    gross_pence: int
    fees_pence: int
    fees_unknown: int
    refunds_pence: int
    net_pence: int  # gross less refunds
    after_fees_pence: int  # net less known fees


@dataclass(frozen=True)
class ReconciliationReport:
    date_from: date
    date_to: date
    rows: list[ReconRow]
    totals: dict[str, ReconRow]  # per group, and "all"
    lines: list[ReconLine]
    booking_totals: dict[str, int]  # booking reference -> net pence in the period
    includes_demo: bool


def _day_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    if date_to < date_from:
        raise ValidationFailed("The end date is before the start date.", {"date_to": "before start"})
    if (date_to - date_from).days > 366:
        raise ValidationFailed("Choose a period of at most a year.", {"date_to": "too long"})
    return london_midnight(date_from), london_midnight(date_to + timedelta(days=1))


def reconciliation(actor: Actor, date_from: date, date_to: date) -> ReconciliationReport:
    """Money in and out per day (London) and per method: card online, card by telephone, offline (and fees waived,
    which are not money), with Stripe's fees where known and refunds on the day they were made."""
    actor.require(Perm.REPORTS_VIEW)
    org_id = actor.require_org()
    start, end = _day_bounds(date_from, date_to)
    with read_session() as s:
        pays = s.exec(
            select(Payment, Booking.reference).join(Booking, Booking.id == Payment.booking_id)
            .where(Payment.organisation_id == org_id, Payment.status == PaymentStatus.SUCCEEDED,
                   Payment.received_at >= start,
                   Payment.received_at < end).order_by(Payment.received_at, Payment.id)
        ).all()
        refunds = s.exec(
            select(Refund, Payment, Booking.reference).join(Payment, Payment.id == Refund.payment_id)
            .join(Booking, Booking.id == Payment.booking_id)
            .where(Refund.organisation_id == org_id, Refund.status.in_(RefundStatus.COUNTS), Refund.at >= start,
                   Refund.at < end).order_by(Refund.at, Refund.id)
        ).all()
    lines: list[ReconLine] = []
    for p, ref in pays:
        lines.append(ReconLine("payment", p.received_at, london_date(p.received_at), METHOD_GROUPS[p.method],
                               p.method, p.provider, ref, p.amount_pence, p.fee_pence, p.provider_ref,
                               p.recorded_by, p.note, p.provider == "demo"))
    for r, p, ref in refunds:
        lines.append(ReconLine("refund", r.at, london_date(r.at), METHOD_GROUPS[p.method], p.method, p.provider, ref,
                               -r.amount_pence, None, r.provider_ref or "", r.by_username, r.reason,
                               p.provider == "demo"))
    lines.sort(key=lambda x: (x.at, x.kind))
    acc: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    booking_totals: dict[str, int] = defaultdict(int)
    for line in lines:
        a = acc[(line.day, line.group)]
        if line.kind == "payment":
            a["payments"] += 1
            a["gross"] += line.amount_pence
            if line.fee_pence is None:
                a["fees_unknown"] += 1 if line.group in ("card_online", "card_telephone") else 0
            else:
                a["fees"] += line.fee_pence
        else:
            a["refunds"] += -line.amount_pence
        if line.group != "waiver":
            booking_totals[line.booking_reference] += line.amount_pence

    def row(day, group, a) -> ReconRow:
        net = a["gross"] - a["refunds"]
        return ReconRow(day, group, GROUP_LABELS[group], a["payments"], a["gross"], a["fees"], a["fees_unknown"],
                        a["refunds"], net, net - a["fees"])

    order = list(GROUP_LABELS)
    rows = [row(day, group, a) for (day, group), a in sorted(acc.items(), key=lambda kv: (kv[0][0],
                                                                                        order.index(kv[0][1])))]
    totals: dict[str, ReconRow] = {}
    for group in GROUP_LABELS:
        a: dict[str, int] = defaultdict(int)
        for (day, g), values in acc.items():
            if g == group:
                for k, v in values.items():
                    a[k] += v
        totals[group] = row(date_to, group, a)
    money = [totals[g] for g in ("card_online", "card_telephone", "offline")]
    totals["all"] = ReconRow(date_to, "all", "All money", sum(t.payments for t in money),
                             sum(t.gross_pence for t in money), sum(t.fees_pence for t in money),
                             sum(t.fees_unknown for t in money), sum(t.refunds_pence for t in money),
                             sum(t.net_pence for t in money), sum(t.after_fees_pence for t in money))
    return ReconciliationReport(date_from, date_to, rows, totals, lines, dict(booking_totals),
                                any(line.is_demo for line in lines))


def _csv_text(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _money(pence: int | None) -> str:
    return "" if pence is None else pence_decimal(pence)


def reconciliation_csv(actor: Actor, date_from: date, date_to: date, kind: str = "lines") -> str:
    """The reconciliation as CSV: ``lines`` (every payment and refund) or ``summary`` (per day and method)."""
    report = reconciliation(actor, date_from, date_to)
    out = io.StringIO()
    w = csv.writer(out)
    if kind == "summary":
        w.writerow(["date", "method", "payments", "gross", "stripe_fees", "fees_unknown", "refunds", "net",
                    "net_after_fees"])
        for r in report.rows:
            w.writerow([r.day.isoformat(), r.label, r.payments, _money(r.gross_pence), _money(r.fees_pence),
                        r.fees_unknown, _money(r.refunds_pence), _money(r.net_pence), _money(r.after_fees_pence)])
        for key in ("card_online", "card_telephone", "offline", "waiver", "all"):
            t = report.totals[key]
            w.writerow(["total", t.label, t.payments, _money(t.gross_pence), _money(t.fees_pence), t.fees_unknown,
                        _money(t.refunds_pence), _money(t.net_pence), _money(t.after_fees_pence)])
    else:
        w.writerow(["date", "time", "type", "method", "provider", "booking_reference", "amount", "stripe_fee",
                    "reference", "by", "note", "demo"])
        for line in report.lines:
            w.writerow([line.day.isoformat(), london_text(line.at)[-5:], line.kind,
                        METHOD_LABELS.get(line.method, line.method), line.provider, _csv_text(line.booking_reference),
                        _money(line.amount_pence), _money(line.fee_pence), _csv_text(line.reference),
                        _csv_text(line.by), _csv_text(line.note), "DEMO - no real money" if line.is_demo else ""])
    return out.getvalue()

