"""The payment state of a booking: the one rule (:func:`payment_state`) and the facts it is decided from, gathered
for many bookings in one query (:func:`payment_summaries`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Integer, and_, case, cast, func, literal
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow
from atlas_app.domain.money import format_pence
from atlas_app.domain.statuses import PAY_STATE_LABELS, BookingStatus, PaymentStatus, PayState, PlanStatus
from atlas_app.models import Booking
from atlas_app.models.payments import (
    Payment,
    PaymentPlan,
    PlanInstalment,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.platform.errors import NotFound
from atlas_app.services.platform.i18n import N_
from atlas_app.timeutil import LONDON, london_date

PAYMENT_STATES = tuple(PayState)
PAYMENT_STATE_LABELS = PAY_STATE_LABELS
METHOD_LABELS = {  # N_: in the catalogue, for the receipts written in Welsh
    "card_online": N_("Card online"),
    "card_telephone": N_("Card by telephone"),
    "cheque": N_("Cheque"),
    "cash": N_("Cash"),
    "bank_transfer": N_("Bank transfer"),
    "waiver": N_("Fee waived"),
}
# What staff may record here (card online payments come only from the card provider).
STAFF_METHODS = ("card_telephone", "cheque", "cash", "bank_transfer", "waiver")
# Methods needing a reference (terminal authorisation code, cheque number, bank reference).
REFERENCE_REQUIRED = {"card_telephone": "the card terminal's authorisation code", "cheque": "the cheque number",
                      "bank_transfer": "the bank transfer reference"}
# Reconciliation groups.
METHOD_GROUPS = {"card_online": "card_online", "card_telephone": "card_telephone", "cheque": "offline",
                 "cash": "offline", "bank_transfer": "offline", "waiver": "waiver"}
GROUP_LABELS = {"card_online": "Card online", "card_telephone": "Card by telephone", "offline": "Offline",
                "waiver": "Fees waived"}
# Labels for the client timeline events this module writes (for pages that show the timeline).
TIMELINE_LABELS = {
    "payment_received": "Payment received",
    "paid": "Paid in full",
    "payment_failed": "Card payment failed",
    "payment_needs_attention": "Payment needs attention",
    "refunded": "Refunded",
    "fee_waived": "Fee waived",
    "payment_plan": "Payment plan agreed",
    "confirmed_on_plan": "Confirmed on a payment plan",
    "payment_plan_complete": "Payment plan complete",
    "payment_plan_cancelled": "Payment plan ended",
    "payment_reminder": "Payment reminder sent",
    "released_unpaid": "Released: not paid in time",
    "seat_retaken": "Seat taken again after a late payment",
    "payment_moved": "Payment moved to another booking",
}
SEAT_STATUSES = BookingStatus.HOLDS_SEAT
REMINDER_INTERVAL = timedelta(hours=24)
MAX_BACKDATE = timedelta(days=90)




@dataclass(frozen=True)
class PaymentFacts:
    """What decides a booking's payment state."""

    fee_pence: int
    paid_pence: int = 0  # succeeded payments of money (not waivers), before refunds
    refunded_pence: int = 0  # refunded from those payments
    waived_pence: int = 0  # waivers (net of any reversal)
    payment_due_at: datetime | None = None
    booking_status: str = BookingStatus.AWAITING_PAYMENT
    plan_active: bool = False
    plan_total_pence: int = 0  # the sum of the active plan's instalments
    plan_due_pence: int = 0  # the part of it due before today


def payment_state(facts: PaymentFacts, now: datetime | None = None) -> str:
    """The one rule for a booking's payment state: paid, waived, refunded, overdue, part_paid or awaiting_payment.

    * settled (money kept plus waivers) covers the fee: ``waived`` when waivers alone cover it, else ``paid``;
    * otherwise, once anything was refunded: ``refunded``;
    * otherwise, for a booking still holding its seat, ``overdue`` when its deadline has passed (or, on a payment
      plan, when an instalment due before today is not covered);
    * otherwise ``part_paid`` if some money was received, else ``awaiting_payment``.
    """
    now = now or utcnow()
    net = facts.paid_pence - facts.refunded_pence
    settled = net + facts.waived_pence
    if settled >= facts.fee_pence:
        if facts.waived_pence > 0 and net <= 0 and facts.fee_pence > 0:
            return PayState.WAIVED
        return PayState.PAID
    if facts.refunded_pence > 0:
        return PayState.REFUNDED
    if facts.booking_status in SEAT_STATUSES:
        if facts.plan_active:
            required_now = facts.fee_pence - facts.plan_total_pence + facts.plan_due_pence
            if settled < required_now:
                return PayState.OVERDUE
        elif facts.payment_due_at is not None and facts.payment_due_at <= now:
            return PayState.OVERDUE
    return PayState.PART_PAID if net > 0 else PayState.AWAITING_PAYMENT


@dataclass(frozen=True)
class PaymentSummary:
    booking_id: int
    reference: str
    booking_status: str
    state: str
    label: str
    fee_pence: int
    paid_pence: int  # money kept: received less refunded
    refunded_pence: int
    waived_pence: int
    outstanding_pence: int
    payment_due_at: datetime | None
    plan_active: bool
    plan_allows_attendance: bool
    needs_attention: bool
    facts: PaymentFacts
    # What a page shows with the flag, decided here so the flag, the amount and the due text always agree.
    amount_label: str = ""  # "Still to pay", "Paid", "Refunded", "Waived"
    amount_pence: int = 0
    due_text: str = ""  # "Payment due by 5 January 2027", "Next instalment £33 due 5 January 2027" or ""
    next_instalment_pence: int = 0
    next_instalment_on: date | None = None

    @property
    def amount_text(self) -> str:
        return f"{self.amount_label} {format_pence(self.amount_pence)}"

    @property
    def attendance_needs_override(self) -> bool:
        """Marking this booking attended needs staff to confirm they are letting an unpaid client in (a payment plan
        allowing attendance counts as paid for the register)."""
        if self.state in PayState.SETTLED:
            return False
        return not (self.plan_active and self.plan_allows_attendance and self.state != PayState.OVERDUE)

    def flag(self) -> dict[str, str]:
        """The paid flag as a page row carries it (strings only)."""
        return {"pay_state": self.state, "pay_label": self.label, "pay_amount": self.amount_text,
                "pay_due": self.due_text}


def _day_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def display_fields(state: str, facts: PaymentFacts, next_instalment: tuple[date, int] | None) -> dict:
    """The amount and due text shown beside a flag: one rule, so a page never shows "Still to pay" under a
    "Refunded" flag or "Payment due by" next to a payment plan."""
    net = facts.paid_pence - facts.refunded_pence
    owed = max(0, facts.fee_pence - net - facts.waived_pence)
    out = {"next_instalment_pence": 0, "next_instalment_on": None, "due_text": ""}
    if state == PayState.WAIVED:
        out.update(amount_label="Waived", amount_pence=facts.waived_pence)
    elif state == PayState.PAID:
        out.update(amount_label="Paid", amount_pence=net + facts.waived_pence)
    elif state == PayState.REFUNDED:
        # Money went back to the client: the flag and the amount both say what was refunded.
        out.update(amount_label="Refunded", amount_pence=facts.refunded_pence)
    else:
        out.update(amount_label="Still to pay", amount_pence=owed)
        if facts.plan_active and next_instalment is not None:
            on, amount = next_instalment
            out.update(next_instalment_pence=amount, next_instalment_on=on,
                       due_text=f"Next instalment {format_pence(amount)} due {_day_text(on)}")
        elif not facts.plan_active and facts.payment_due_at is not None:
            out["due_text"] = f"Payment due by {_day_text(facts.payment_due_at.astimezone(LONDON).date())}"
    return out


def next_instalments(s: Session, plan_booking_ids: list[int],
                     settled: dict[int, tuple[int, int]]) -> dict[int, tuple[date, int]]:
    """The next instalment (its day and what is left of it) of each booking on an active plan, in one query.
    ``settled`` gives each booking's (money kept plus waivers, fee less the plan's total)."""
    if not plan_booking_ids:
        return {}
    lineage = lineage_cte(plan_booking_ids)
    rows = s.exec(
        select(lineage.c.booking_id, PlanInstalment.due_on, PlanInstalment.amount_pence)
        .join(PaymentPlan, and_(PaymentPlan.booking_id == lineage.c.ancestor_id,
                                PaymentPlan.status == PlanStatus.ACTIVE))
        .join(PlanInstalment, PlanInstalment.plan_id == PaymentPlan.id)
        .order_by(lineage.c.booking_id, PlanInstalment.due_on, PlanInstalment.seq)
    ).all()
    out: dict[int, tuple[date, int]] = {}
    cumulative: dict[int, int] = {}
    for bid, due_on, amount in rows:
        if bid in out:
            continue
        have, before_plan = settled[bid]
        cumulative[bid] = cumulative.get(bid, 0) + amount
        required = before_plan + cumulative[bid]
        if have < required:
            out[bid] = (due_on, min(amount, required - have))
    return out


def lineage_cte(booking_ids: list[int]):
    """(booking_id, ancestor_id) for each booking and every booking it was transferred from."""
    base = select(
        Booking.id.label("booking_id"), Booking.id.label("ancestor_id"),
        Booking.transferred_from_id.label("parent_id"),
    ).where(Booking.id.in_(booking_ids))
    lineage = base.cte("lineage", recursive=True)
    parent = aliased(Booking)
    return lineage.union_all(
        select(lineage.c.booking_id, parent.id, parent.transferred_from_id)
        .join(parent, parent.id == lineage.c.parent_id)
    )


def payment_summaries(s: Session, booking_ids: list[int], now: datetime | None = None) -> dict[int, PaymentSummary]:
    """Payment summaries for many bookings in one query (bookings, their transfer history, payments and plans)."""
    now = now or utcnow()
    ids = sorted({int(i) for i in booking_ids})
    if not ids:
        return {}
    today = london_date(now)
    lineage = lineage_cte(ids)
    money = Payment.method != "waiver"
    pay = (
        select(
            lineage.c.booking_id.label("bid"),
            func.coalesce(func.sum(case((money, Payment.amount_pence), else_=0)), 0).label("paid"),
            func.coalesce(func.sum(case((money, Payment.refunded_pence), else_=0)), 0).label("refunded"),
            func.coalesce(func.sum(case((money, literal(0)), else_=Payment.amount_pence - Payment.refunded_pence)),
                          0).label("waived"),
            func.max(case((and_(Payment.needs_attention, Payment.attention_resolved_at.is_(None)), 1),
                          else_=0)).label("attention"),
        )
        .join(Payment, Payment.booking_id == lineage.c.ancestor_id)
        .where(Payment.status == PaymentStatus.SUCCEEDED)
        .group_by(lineage.c.booking_id)
        .subquery("pay")
    )
    plan = (
        select(
            lineage.c.booking_id.label("bid"),
            func.max(cast(PaymentPlan.allow_attend_on_plan, Integer)).label("allow"),
            func.coalesce(func.sum(PlanInstalment.amount_pence), 0).label("total"),
            func.coalesce(func.sum(case((PlanInstalment.due_on < today, PlanInstalment.amount_pence), else_=0)),
                          0).label("due"),
        )
        .join(PaymentPlan, and_(PaymentPlan.booking_id == lineage.c.ancestor_id,
                                PaymentPlan.status == PlanStatus.ACTIVE))
        .join(PlanInstalment, PlanInstalment.plan_id == PaymentPlan.id)
        .group_by(lineage.c.booking_id)
        .subquery("plan")
    )
    rows = s.exec(
        select(Booking.id, Booking.reference, Booking.status, Booking.fee_pence, Booking.payment_due_at,
               pay.c.paid, pay.c.refunded, pay.c.waived, pay.c.attention, plan.c.bid, plan.c.allow, plan.c.total,
               plan.c.due)
        .outerjoin(pay, pay.c.bid == Booking.id)
        .outerjoin(plan, plan.c.bid == Booking.id)
        .where(Booking.id.in_(ids))
    ).all()
    out: dict[int, PaymentSummary] = {}
    settled = {bid: (int(paid or 0) - int(refunded or 0) + int(waived or 0), (fee or 0) - int(total or 0))
               for bid, _r, _s, fee, _d, paid, refunded, waived, _a, plan_bid, _al, total, _pd in rows
               if plan_bid is not None}
    upcoming = next_instalments(s, list(settled), settled)
    for (bid, ref, status, fee, due_at, paid, refunded, waived, attention, plan_bid, allow, total,
         plan_due) in rows:
        facts = PaymentFacts(
            fee_pence=fee or 0, paid_pence=int(paid or 0), refunded_pence=int(refunded or 0),
            waived_pence=int(waived or 0), payment_due_at=due_at, booking_status=status,
            plan_active=plan_bid is not None, plan_total_pence=int(total or 0), plan_due_pence=int(plan_due or 0),
        )
        state = payment_state(facts, now)
        net = facts.paid_pence - facts.refunded_pence
        out[bid] = PaymentSummary(
            booking_id=bid, reference=ref, booking_status=status, state=state, label=PAYMENT_STATE_LABELS[state],
            fee_pence=facts.fee_pence, paid_pence=net, refunded_pence=facts.refunded_pence,
            waived_pence=facts.waived_pence,
            outstanding_pence=max(0, facts.fee_pence - net - facts.waived_pence),
            payment_due_at=due_at, plan_active=facts.plan_active, plan_allows_attendance=bool(allow),
            needs_attention=bool(attention), facts=facts, **display_fields(state, facts, upcoming.get(bid)),
        )
    return out


def payment_summary(s: Session, booking_id: int, now: datetime | None = None) -> PaymentSummary:
    summary = payment_summaries(s, [booking_id], now).get(booking_id)
    if summary is None:
        raise NotFound("No such booking.")
    return summary


def booking_paid_flags(s: Session, booking_ids: list[int], now: datetime | None = None) -> dict[int, dict[str, str]]:
    """The paid flag of each booking (state, words, amount and due text) for a list page, in one go."""
    return {bid: summary.flag() for bid, summary in payment_summaries(s, booking_ids, now).items()}


def booking_payment_states(organisation_id: int, booking_ids: list[int]) -> dict[int, str]:
    """The payment state of each of an organisation's bookings (for lists: one query)."""
    with read_session() as s:
        own = s.exec(select(Booking.id).where(Booking.id.in_([int(i) for i in booking_ids]),
                                              Booking.organisation_id == organisation_id)).all()
        return {bid: summary.state for bid, summary in payment_summaries(s, list(own)).items()}


def client_payment_summary(client: booking_service.ClientProof, reference: str) -> PaymentSummary:
    """The payment state of a booking of the client's own offer (for the public pages, which tell the client what
    staff pages show: a confirmed booking on a payment plan is part-paid, not paid)."""
    if not isinstance(client, booking_service.ClientProof):
        raise NotFound("No such booking.")
    with read_session() as s:
        booking_id = s.exec(select(Booking.id).where(
            Booking.reference == str(reference or "").strip().upper(),
            Booking.organisation_id == client.organisation_id, Booking.offer_id == client.offer_id)).first()
        if booking_id is None:
            raise NotFound("No such booking.")
        return payment_summary(s, booking_id)
