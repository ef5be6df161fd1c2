"""Payments for bookings: the payment state of a booking, staff-recorded payments (card by telephone, cheque, cash,
bank transfer, waivers), refunds, payment plans, overdue bookings, payments needing attention, and reconciliation.

* A booking's payment state is computed from data, never stored: :func:`payment_state` decides it from the facts,
  :func:`payment_summaries` gathers the facts for many bookings in one query. Payments made for a booking before
  it was transferred count for the booking it became.
* Money that arrives is never lost. A payment landing after the booking's seat was let go takes the seat back when
  one is free; otherwise it is recorded and flagged for staff ("needs attention") to rebook or refund.
* When a booking becomes fully paid it moves from awaiting payment to confirmed, with an audit entry, a 'paid'
  event on the client's timeline and a receipt by email.
* :func:`process_overdue` is the housekeeping job for bookings whose payment deadline has passed: released or
  chased, as the organisation's booking terms say.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import Booking, Client, ClientEvent, CourseSession, Offer
from atlas_app.models.payments import (
    PAYMENT_METHODS,
    CheckoutAttempt,
    Payment,
    PaymentPlan,
    PlanInstalment,
    Refund,
)
from atlas_app.services.platform import audit, outbox
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import AtlasError, Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.services.payments.stripe_gateway import DEMO_LABEL, PaymentsUnavailable, stripe_client, stripe_error_text
from atlas_app.timeutil import london_date, london_midnight, london_text

PAYMENT_STATES = ("paid", "awaiting_payment", "part_paid", "overdue", "refunded", "waived")
PAYMENT_STATE_LABELS = {
    "paid": "Paid",
    "awaiting_payment": "Awaiting payment",
    "part_paid": "Part-paid",
    "overdue": "Overdue",
    "refunded": "Refunded",
    "waived": "Waived",
}
METHOD_LABELS = {
    "card_online": "Card online",
    "card_telephone": "Card by telephone",
    "cheque": "Cheque",
    "cash": "Cash",
    "bank_transfer": "Bank transfer",
    "waiver": "Fee waived",
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
SEAT_STATUSES = booking_service.SEAT_STATUSES
REMINDER_INTERVAL = timedelta(hours=24)
MAX_BACKDATE = timedelta(days=90)


# --- the payment state ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentFacts:
    """What decides a booking's payment state."""

    fee_pence: int
    paid_pence: int = 0  # succeeded payments of money (not waivers), before refunds
    refunded_pence: int = 0  # refunded from those payments
    waived_pence: int = 0  # waivers (net of any reversal)
    payment_due_at: datetime | None = None
    booking_status: str = "awaiting_payment"
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
            return "waived"
        return "paid"
    if facts.refunded_pence > 0:
        return "refunded"
    if facts.booking_status in SEAT_STATUSES:
        if facts.plan_active:
            required_now = facts.fee_pence - facts.plan_total_pence + facts.plan_due_pence
            if settled < required_now:
                return "overdue"
        elif facts.payment_due_at is not None and facts.payment_due_at <= now:
            return "overdue"
    return "part_paid" if net > 0 else "awaiting_payment"


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


def _lineage_cte(booking_ids: list[int]):
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
    lineage = _lineage_cte(ids)
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
        .where(Payment.status == "succeeded")
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
        .join(PaymentPlan, and_(PaymentPlan.booking_id == lineage.c.ancestor_id, PaymentPlan.status == "active"))
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
            needs_attention=bool(attention), facts=facts,
        )
    return out


def payment_summary(s: Session, booking_id: int, now: datetime | None = None) -> PaymentSummary:
    summary = payment_summaries(s, [booking_id], now).get(booking_id)
    if summary is None:
        raise NotFound("No such booking.")
    return summary


def booking_payment_states(organisation_id: int, booking_ids: list[int]) -> dict[int, str]:
    """The payment state of each of an organisation's bookings (for lists: one query)."""
    with read_session() as s:
        own = s.exec(select(Booking.id).where(Booking.id.in_([int(i) for i in booking_ids]),
                                              Booking.organisation_id == organisation_id)).all()
        return {bid: summary.state for bid, summary in payment_summaries(s, list(own)).items()}


# --- shared helpers --------------------------------------------------------------------------------------------


def _booking_by_reference(s: Session, organisation_id: int, reference: str) -> Booking:
    """Locks the booking's offer, then the booking (the order the booking service locks them in)."""
    ref = str(reference or "").strip().upper()
    if not ref:
        raise ValidationFailed("Enter a booking reference.", {"reference": "required"})
    found = s.exec(select(Booking.id, Booking.offer_id).where(Booking.reference == ref,
                                                              Booking.organisation_id == organisation_id)).first()
    if found is None:
        raise NotFound("No booking with that reference in your organisation.")
    return _lock_booking(s, found[0], found[1])


def _lock_booking(s: Session, booking_id: int, offer_id: int) -> Booking:
    s.exec(select(Offer.id).where(Offer.id == offer_id).with_for_update()
        .execution_options(populate_existing=True)).first()
    booking = s.exec(select(Booking).where(Booking.id == booking_id).with_for_update()
        .execution_options(populate_existing=True)).first()
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def _current(s: Session, booking: Booking) -> Booking:
    """The booking this one became through transfers (itself if never transferred)."""
    for _ in range(50):
        newer = s.exec(select(Booking).where(Booking.transferred_from_id == booking.id)).first()
        if newer is None:
            return booking
        booking = newer
    return booking


def _offer(s: Session, booking: Booking) -> Offer:
    return s.get(Offer, booking.offer_id)


def _pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


def _parse_pence(value: Any, name: str = "amount") -> int:
    """An amount in pounds ('45', '45.50', '£1,045.5') or an int of pence, as pence."""
    if isinstance(value, int) and not isinstance(value, bool):
        pence = value
    else:
        text = str(value or "").strip().replace("£", "").replace(",", "")
        if not text:
            raise ValidationFailed("Enter an amount.", {name: "required"})
        try:
            whole, _, frac = text.partition(".")
            if not whole.isdigit() and whole != "" or (frac and (not frac.isdigit() or len(frac) > 2)):
                raise ValueError
            pence = int(whole or "0") * 100 + int((frac + "00")[:2] if frac else "0")
        except ValueError:
            raise ValidationFailed("Enter an amount in pounds, for example 95 or 95.50.", {name: "invalid"}) from None
    if pence <= 0:
        raise ValidationFailed("The amount must be more than £0.", {name: "invalid"})
    if pence > 10_000_000:
        raise ValidationFailed("That amount is too large.", {name: "invalid"})
    return pence


def parse_pence(value: Any, name: str = "amount") -> int:
    return _parse_pence(value, name)


def _payment_snapshot(p: Payment) -> dict[str, Any]:
    return {"booking_id": p.booking_id, "amount_pence": p.amount_pence, "method": p.method, "provider": p.provider,
            "provider_ref": p.provider_ref, "status": p.status, "refunded_pence": p.refunded_pence,
            "fee_pence": p.fee_pence, "received_at": p.received_at, "note": p.note,
            "needs_attention": p.needs_attention}


def _flag(s: Session, payment: Payment, reason: str, actor: Actor | None = None) -> None:
    payment.needs_attention = True
    payment.attention_reason = reason[:500]
    payment.attention_resolved_at = None
    payment.attention_resolved_by = ""
    payment.updated_at = utcnow()
    s.add(payment)
    s.flush()
    booking = s.get(Booking, payment.booking_id)
    offer = _offer(s, booking)
    booking_service.timeline(s, offer, "payment_needs_attention", reason, booking.id,
                             actor.username if actor else "")
    audit.record(s, actor, "payment", payment.id, "needs_attention", after={"reason": reason[:500]},
                 organisation_id=payment.organisation_id)


def _revive(s: Session, booking: Booking, now: datetime) -> str | None:
    """A payment arrived for a booking whose seat was let go: take a seat again if the rules and the session allow.
    Returns None on success, else why not."""
    offer = _offer(s, booking)
    session = s.get(CourseSession, booking.session_id)
    other = booking_service._active_booking(s, offer.id)
    if other is not None:
        return f"the offer already has another booking ({other.reference})"
    try:
        booking_service._check_bookable(s, offer, session, now)
        with s.begin_nested():
            booking_service._take_seat(s, session.id, booking.organisation_id)
            booking.status = "awaiting_payment"
            booking.hold_expires_at = None
            booking.updated_at = now
            s.add(booking)
            s.flush()
    except booking_service.SessionFull:
        return "the session is now full"
    except AtlasError as exc:
        return str(exc).rstrip(".")
    except IntegrityError:
        return "the offer already has another booking"
    if offer.status in ("referred",):
        offer.status = "booked"
        s.add(offer)
    booking_service.timeline(s, offer, "seat_retaken", "The payment arrived after the seat was freed; a seat was "
                             "free, so the booking was reinstated.", booking.id)
    return None


def _settle(s: Session, booking: Booking, payment: Payment | None, actor: Actor | None, now: datetime) -> str:
    """After money in or out: move the booking on if it is now fully paid, flag money that cannot be used, send the
    receipt. The caller holds the offer and booking locks. Returns the payment state."""
    if payment is not None and payment.status == "succeeded" and booking.status in ("expired", "cancelled"):
        why = _revive(s, booking, now)
        if why is not None:
            reason = (f"{_pounds(payment.amount_pence)} was paid after booking {booking.reference} was "
                      f"{booking.status} and {why}. Offer the client another session or refund the payment.")
            _flag(s, payment, reason, actor)
            _queue_receipt(s, booking, payment, "attention")
            return payment_summary(s, booking.id, now).state
    if booking.status == "transferred":
        booking = _current(s, booking)
    summary = payment_summary(s, booking.id, now)
    offer = _offer(s, booking)
    settled = summary.paid_pence + summary.waived_pence
    if summary.state in ("paid", "waived"):
        if booking.status in ("held", "awaiting_payment"):
            before = {"status": booking.status}
            changed = s.exec(
                update(Booking).where(Booking.id == booking.id, Booking.status.in_(("held", "awaiting_payment")))
                .values(status="confirmed", hold_expires_at=None, updated_at=now)
            ).rowcount
            if changed == 1:
                s.refresh(booking)
                if offer.status == "referred":
                    offer.status = "booked"
                    s.add(offer)
                detail = ("Fee waived" if summary.state == "waived" else
                          f"Paid in full ({_pounds(settled)}); the booking is confirmed.")
                booking_service.timeline(s, offer, "paid", detail, booking.id, actor.username if actor else "")
                audit.record(s, actor, "booking", booking.reference, "paid", before=before,
                             after={"status": "confirmed", "payment_state": summary.state},
                             organisation_id=booking.organisation_id)
        for plan in s.exec(select(PaymentPlan).where(PaymentPlan.booking_id == booking.id,
                                                     PaymentPlan.status == "active")).all():
            plan.status, plan.completed_at = "complete", now
            s.add(plan)
            booking_service.timeline(s, offer, "payment_plan_complete", "The payment plan is complete.", booking.id)
        if payment is not None and payment.status == "succeeded" and settled > summary.fee_pence \
                and payment.method != "waiver" and not payment.needs_attention:
            extra = min(payment.amount_pence, settled - summary.fee_pence)
            _flag(s, payment, f"Booking {booking.reference} has been paid {_pounds(extra)} more than its fee "
                              f"of {_pounds(summary.fee_pence)}. Refund the extra.", actor)
    if payment is not None and payment.status == "succeeded" and payment.method != "waiver":
        _queue_receipt(s, booking, payment, "receipt")
    return summary.state


def _queue_receipt(s: Session, booking: Booking, payment: Payment, kind: str) -> None:
    offer = _offer(s, booking)
    client = s.get(Client, offer.client_id)
    if not client or not client.email:
        return
    summary = payment_summary(s, booking.id)
    view = booking_service.booking_view(s, booking)
    demo = payment.provider == "demo"
    lines = [f"Dear {client.first_name} {client.last_name},", ""]
    if demo:
        lines += [f"{DEMO_LABEL}: this receipt is for a demonstration payment. No card was charged.", ""]
    if kind == "attention":
        lines += [f"Thank you: we have received your payment of {_pounds(payment.amount_pence)} for booking "
                  f"{booking.reference}.",
                  "Unfortunately the place you chose was no longer available when the payment arrived. Your money "
                  "is safe: we will contact you to offer another date or to refund you in full."]
        subject = f"Your payment for booking {booking.reference}"
    else:
        lines += [f"Thank you: we have received {_pounds(payment.amount_pence)} "
                  f"({METHOD_LABELS.get(payment.method, payment.method).lower()}) for booking {booking.reference}.",
                  f"Received: {london_text(payment.received_at)}"]
        if summary.state in ("paid", "waived"):
            lines += ["", "Your course fee is paid in full and your booking is confirmed."]
            subject = f"Payment received: booking {booking.reference} is confirmed"
        else:
            due = london_text(view.payment_due_at) if view.payment_due_at else "before the course"
            lines += ["", f"Still to pay: {_pounds(summary.outstanding_pence)}, by {due}."]
            subject = f"Payment received for booking {booking.reference}"
    lines += ["", f"Course: {view.course_name} ({view.course_code})", f"When: {london_text(view.starts_at)}",
              f"Where: {view.venue_name}", f"Payment reference: {payment.provider_ref or payment.id}"]
    outbox.queue(s, to=client.email, subject=("[DEMO] " if demo else "") + subject, body="\n".join(lines),
                 organisation_id=booking.organisation_id, related=("booking", booking.reference))


def record_provider_payment(s: Session, attempt: CheckoutAttempt, *, amount_pence: int, provider_ref: str,
                            fee_pence: int | None, now: datetime, note: str = "") -> tuple[Payment, bool]:
    """Record a successful card payment for a checkout attempt, once. The caller holds the attempt's row lock.
    Returns (payment, created)."""
    existing = s.exec(select(Payment).where(Payment.checkout_attempt_id == attempt.id)).first()
    if existing is not None:
        if existing.fee_pence is None and fee_pence is not None:
            existing.fee_pence = fee_pence
            s.add(existing)
        return existing, False
    booking0 = s.get(Booking, attempt.booking_id)
    booking = _lock_booking(s, booking0.id, booking0.offer_id)
    payment = Payment(
        organisation_id=attempt.organisation_id, booking_id=booking.id, amount_pence=amount_pence,
        method="card_online", provider=attempt.provider, provider_ref=provider_ref or "", status="succeeded",
        fee_pence=fee_pence, checkout_attempt_id=attempt.id, recorded_by=attempt.provider, received_at=now,
        note=note[:500], created_at=now, updated_at=now,
    )
    try:
        with s.begin_nested():
            s.add(payment)
            s.flush()
    except IntegrityError:
        existing = s.exec(select(Payment).where(Payment.checkout_attempt_id == attempt.id)).first()
        if existing is None:
            raise
        return existing, False
    attempt.status, attempt.completed_at = "complete", attempt.completed_at or now
    if provider_ref and not attempt.payment_intent_id:
        attempt.payment_intent_id = provider_ref
    s.add(attempt)
    audit.record(s, None, "payment", payment.id, "recorded", after=_payment_snapshot(payment),
                 organisation_id=payment.organisation_id)
    booking_service.timeline(s, _offer(s, booking), "payment_received",
                             f"{_pounds(amount_pence)} paid by card online"
                             + (f" ({DEMO_LABEL})" if attempt.provider == "demo" else ""), booking.id)
    if amount_pence != attempt.amount_pence:
        _flag(s, payment, f"The card payment was {_pounds(amount_pence)} but {_pounds(attempt.amount_pence)} was "
                          "asked for. Check the booking's balance.")
    _settle(s, booking, payment, None, now)
    return payment, True


def record_failed_card_payment(s: Session, attempt: CheckoutAttempt, *, provider_ref: str, message: str,
                               now: datetime) -> None:
    """A declined or failed card try: kept for staff, the client's timeline says so, the booking stays payable."""
    booking = s.get(Booking, attempt.booking_id)
    s.add(Payment(
        organisation_id=attempt.organisation_id, booking_id=booking.id, amount_pence=attempt.amount_pence,
        method="card_online", provider=attempt.provider, provider_ref=provider_ref or "", status="failed",
        recorded_by=attempt.provider, received_at=now, note=message[:500], created_at=now, updated_at=now,
    ))
    attempt.last_error = message[:500]
    s.add(attempt)
    booking_service.timeline(s, _offer(s, booking), "payment_failed",
                             f"A card payment of {_pounds(attempt.amount_pence)} failed: {message}"[:500], booking.id)


# --- staff: payments by telephone and offline -----------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRow:
    id: int
    booking_reference: str
    amount_pence: int
    method: str
    method_label: str
    provider: str
    provider_ref: str
    status: str
    fee_pence: int | None
    refunded_pence: int
    refundable_pence: int
    recorded_by: str
    received_at: datetime
    note: str
    needs_attention: bool
    attention_reason: str
    is_demo: bool


@dataclass(frozen=True)
class RefundRow:
    id: int
    payment_id: int
    amount_pence: int
    reason: str
    provider_ref: str
    status: str
    source: str
    by_username: str
    at: datetime
    error: str


@dataclass(frozen=True)
class PlanView:
    id: int
    status: str
    total_pence: int
    allow_attend_on_plan: bool
    reason: str
    approved_by: str
    approved_at: datetime
    instalments: list[tuple[date, int]]


@dataclass(frozen=True)
class BookingPayments:
    booking: Any  # booking_service.BookingView
    summary: PaymentSummary
    payments: list[PaymentRow]
    refunds: list[RefundRow]
    plans: list[PlanView] = field(default_factory=list)


def _payment_row(p: Payment, ref: str) -> PaymentRow:
    return PaymentRow(
        id=p.id, booking_reference=ref, amount_pence=p.amount_pence, method=p.method,
        method_label=METHOD_LABELS.get(p.method, p.method), provider=p.provider, provider_ref=p.provider_ref,
        status=p.status, fee_pence=p.fee_pence, refunded_pence=p.refunded_pence,
        refundable_pence=(p.amount_pence - p.refunded_pence) if p.status == "succeeded" and p.method != "waiver"
        else 0,
        recorded_by=p.recorded_by, received_at=p.received_at, note=p.note,
        needs_attention=p.needs_attention and p.attention_resolved_at is None, attention_reason=p.attention_reason,
        is_demo=p.provider == "demo",
    )


def booking_payments(actor: Actor, reference: str) -> BookingPayments:
    """A booking's payments, refunds, plans and payment state, for staff."""
    if not (actor.can(Perm.PAYMENTS_TAKE) or actor.can(Perm.PAYMENTS_REFUND) or actor.can(Perm.BOOKINGS_VIEW)):
        raise PermissionDenied()
    org_id = actor.require_org()
    ref = str(reference or "").strip().upper()
    if not ref:
        raise ValidationFailed("Enter a booking reference.", {"reference": "required"})
    with read_session() as s:
        booking = s.exec(select(Booking).where(Booking.reference == ref, Booking.organisation_id == org_id)).first()
        if booking is None:
            raise NotFound("No booking with that reference in your organisation.")
        lineage = s.exec(select(_lineage_cte([booking.id]).c.ancestor_id)).all()
        refs = dict(s.exec(select(Booking.id, Booking.reference).where(Booking.id.in_(lineage))).all())
        payments = s.exec(select(Payment).where(Payment.booking_id.in_(lineage))
                          .order_by(Payment.received_at, Payment.id)).all()
        refunds = s.exec(select(Refund).where(Refund.payment_id.in_([p.id for p in payments] or [0]))
                         .order_by(Refund.at, Refund.id)).all()
        plans = s.exec(select(PaymentPlan).where(PaymentPlan.booking_id.in_(lineage))
                       .order_by(PaymentPlan.id.desc())).all()
        plan_views = []
        for plan in plans:
            inst = s.exec(select(PlanInstalment).where(PlanInstalment.plan_id == plan.id)
                          .order_by(PlanInstalment.seq)).all()
            plan_views.append(PlanView(plan.id, plan.status, plan.total_pence, plan.allow_attend_on_plan,
                                       plan.reason, plan.approved_by, plan.approved_at,
                                       [(i.due_on, i.amount_pence) for i in inst]))
        return BookingPayments(
            booking=booking_service.booking_view(s, booking),
            summary=payment_summary(s, booking.id),
            payments=[_payment_row(p, refs.get(p.booking_id, "")) for p in payments],
            refunds=[RefundRow(r.id, r.payment_id, r.amount_pence, r.reason, r.provider_ref or "", r.status,
                               r.source, r.by_username, r.at, r.error) for r in refunds],
            plans=plan_views,
        )


def record_payment(actor: Actor, booking_reference: str, amount: Any, method: str, *, reference: str = "",
                   note: str = "", received_at: datetime | None = None) -> PaymentRow:
    """Staff record money taken by telephone (card terminal, MOTO) or received offline, or waive the fee.
    Who recorded it and when are kept; waivers need the refund permission and a reason."""
    if method not in STAFF_METHODS:
        raise ValidationFailed("Choose how the payment was made.", {"method": "invalid"})
    actor.require(Perm.PAYMENTS_REFUND if method == "waiver" else Perm.PAYMENTS_TAKE)
    org_id = actor.require_org()
    amount_pence = _parse_pence(amount)
    reference = str(reference or "").strip()[:100]
    note = str(note or "").strip()[:500]
    if method in REFERENCE_REQUIRED and not reference:
        raise ValidationFailed(f"Enter {REFERENCE_REQUIRED[method]}.", {"reference": "required"})
    if method == "waiver" and not note:
        raise ValidationFailed("Give the reason for waiving the fee.", {"note": "required"})
    now = utcnow()
    if received_at is None:
        received_at = now
    elif received_at.tzinfo is None:
        raise ValidationFailed("The date received must include a time zone.", {"received_at": "invalid"})
    if received_at > now + timedelta(minutes=5):
        raise ValidationFailed("The date received cannot be in the future.", {"received_at": "future"})
    if received_at < now - MAX_BACKDATE:
        raise ValidationFailed("The date received is too long ago to record here.", {"received_at": "too old"})
    with write_session() as s:
        booking = _booking_by_reference(s, org_id, booking_reference)
        if booking.status not in SEAT_STATUSES:
            raise ValidationFailed(
                f"Booking {booking.reference} is {booking.status.replace('_', ' ')}, so it cannot take a payment. "
                "Book the client again first.", {"reference": booking.status})
        summary = payment_summary(s, booking.id, now)
        if summary.outstanding_pence <= 0:
            raise Conflict(f"Booking {booking.reference} has nothing left to pay.")
        if amount_pence > summary.outstanding_pence:
            raise ValidationFailed(f"That is more than the {_pounds(summary.outstanding_pence)} still owed.",
                                   {"amount": "too much"})
        payment = Payment(
            organisation_id=org_id, booking_id=booking.id, amount_pence=amount_pence, method=method,
            provider="offline", provider_ref=reference, status="succeeded", recorded_by_user_id=actor.user_id,
            recorded_by=actor.username, received_at=received_at, note=note, created_at=now, updated_at=now,
        )
        s.add(payment)
        s.flush()
        audit.record(s, actor, "payment", payment.id, "waived" if method == "waiver" else "recorded",
                     after={**_payment_snapshot(payment), "booking": booking.reference})
        offer = _offer(s, booking)
        booking_service.timeline(
            s, offer, "fee_waived" if method == "waiver" else "payment_received",
            (f"Fee of {_pounds(amount_pence)} waived: {note}" if method == "waiver" else
             f"{_pounds(amount_pence)} received ({METHOD_LABELS[method].lower()})"), booking.id, actor.username)
        _settle(s, booking, payment, actor, now)
        return _payment_row(payment, booking.reference)


# --- refunds -----------------------------------------------------------------------------------------------------


def refund_payment(actor: Actor, payment_id: int, amount: Any, reason: str) -> RefundRow:
    """Refund all or part of a payment, with a reason. Card payments taken through Stripe are refunded through
    Stripe; others are recorded as refunded by the organisation (for example by cheque or bank transfer)."""
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    reason = str(reason or "").strip()[:500]
    if not reason:
        raise ValidationFailed("Give the reason for the refund.", {"reason": "required"})
    amount_pence = _parse_pence(amount)
    now = utcnow()
    try:
        pid = int(payment_id)
    except (TypeError, ValueError):
        raise NotFound("No such payment.") from None
    with write_session() as s:
        found = s.exec(select(Payment.id, Booking.id, Booking.offer_id).join(Booking, Booking.id == Payment.booking_id)
                       .where(Payment.id == pid, Payment.organisation_id == org_id)).first()
        if found is None:
            raise NotFound("No such payment in your organisation.")
        booking = _lock_booking(s, found[1], found[2])
        payment = _lock_payment(s, pid)
        pending = _reserve_refund(s, booking, payment, amount_pence, reason, "atlas", actor, now)
        if pending.status != "pending":
            return pending.row
    row = _send_stripe_refund(pending, actor)
    if row.status == "failed":
        raise Conflict("Stripe did not make the refund, so nothing was refunded. "
                       f"{'Stripe said: ' + row.error if row.error else ''}".strip())
    return row


@dataclass(frozen=True)
class _ReservedRefund:
    row: RefundRow
    payment_intent: str
    booking_reference: str

    @property
    def status(self) -> str:
        return self.row.status


def _lock_payment(s: Session, payment_id: int) -> Payment:
    return s.exec(select(Payment).where(Payment.id == payment_id).with_for_update()
                  .execution_options(populate_existing=True)).first()


def _reserve_refund(s: Session, booking: Booking, payment: Payment, amount_pence: int, reason: str, source: str,
                    actor: Actor | None, now: datetime) -> _ReservedRefund:
    """The first half of every refund Atlas makes, inside the caller's transaction (which holds the booking's and
    the payment's locks): check, reserve the amount on the payment, and record the refund. A refund through Stripe
    is left ``pending`` for :func:`_send_stripe_refund` to make after the transaction commits; any other refund
    (the demo provider's, or money the organisation gives back itself) is done at once."""
    if payment.status != "succeeded":
        raise ValidationFailed("Only a successful payment can be refunded.", {"payment": payment.status})
    if payment.method == "waiver":
        raise ValidationFailed("A waiver is not money and cannot be refunded.", {"payment": "waiver"})
    left = payment.amount_pence - payment.refunded_pence
    if amount_pence > left:
        raise ValidationFailed(f"At most {_pounds(left)} of this payment can be refunded.", {"amount": "too much"})
    through_stripe = payment.provider == "stripe"
    # Reserve the amount first, so two refunds at once can never refund more than was paid.
    changed = s.exec(
        update(Payment).where(Payment.id == payment.id,
                              Payment.refunded_pence + amount_pence <= Payment.amount_pence)
        .values(refunded_pence=Payment.refunded_pence + amount_pence, updated_at=now)
    ).rowcount
    if changed != 1:
        raise Conflict("The payment changed while you were refunding it. Look again and retry.")
    refund = Refund(
        organisation_id=payment.organisation_id, payment_id=payment.id, amount_pence=amount_pence, reason=reason,
        status="pending" if through_stripe else "succeeded", source=source,
        by_user_id=actor.user_id if actor else None, by_username=(actor.username if actor else source)[:80], at=now,
        provider_ref=("demo_re_" + secrets.token_hex(12)) if payment.provider == "demo" else None,
    )
    s.add(refund)
    s.flush()
    if not through_stripe:
        _after_refund(s, actor, booking, payment, refund, now)
    return _ReservedRefund(_refund_row(refund), payment.provider_ref, booking.reference)


def _send_stripe_refund(pending: _ReservedRefund, actor: Actor | None, attention: str = "") -> RefundRow:
    """The second half of a refund through Stripe, outside any transaction: ask Stripe (the idempotency key makes
    a retried call refund once), then record the outcome. A refusal or an unreachable Stripe undoes the
    reservation and marks the refund failed; with ``attention`` the payment is also flagged for staff with that
    text and Stripe's error."""
    amount_pence, refund_id = pending.row.amount_pence, pending.row.id
    try:
        result = stripe_client().v1.refunds.create(
            params={"payment_intent": pending.payment_intent, "amount": amount_pence,
                    "reason": "requested_by_customer",
                    "metadata": {"booking_reference": pending.booking_reference, "atlas_refund_id": str(refund_id)}},
            options={"idempotency_key": f"atlas-refund-{refund_id}"},
        )
        error = ""
    except PaymentsUnavailable as exc:
        result, error = None, str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure from Stripe undoes the reservation below
        import stripe

        result = None
        error = stripe_error_text(exc) if isinstance(exc, stripe.StripeError) else f"{type(exc).__name__}: {exc}"
    with write_session() as s:
        refund = s.get(Refund, refund_id)
        payment = s.get(Payment, refund.payment_id)
        booking = _lock_booking(s, payment.booking_id, s.get(Booking, payment.booking_id).offer_id)
        refund = s.exec(select(Refund).where(Refund.id == refund_id).with_for_update()
                        .execution_options(populate_existing=True)).first()
        if refund.provider_ref or refund.status == "failed":  # recorded already, by another call
            return _refund_row(refund)
        if result is None or getattr(result, "status", "") in ("failed", "canceled"):
            refund.status, refund.error = "failed", (error or f"Stripe refund {getattr(result, 'status', '')}")[:500]
            s.add(refund)
            s.exec(update(Payment).where(Payment.id == payment.id)
                   .values(refunded_pence=Payment.refunded_pence - refund.amount_pence, updated_at=utcnow()))
            if attention:
                s.refresh(payment)
                _flag(s, payment, f"{attention} Stripe did not make the refund: {refund.error}", actor)
            audit.record(s, actor, "refund", refund.id, "failed",
                         after={"payment_id": payment.id, "amount_pence": refund.amount_pence,
                                "error": refund.error}, organisation_id=payment.organisation_id)
        else:
            refund.provider_ref = result.id
            refund.status = "succeeded" if result.status == "succeeded" else "pending"
            s.add(refund)
            s.refresh(payment)
            _after_refund(s, actor, booking, payment, refund, utcnow())
        return _refund_row(refund)


def _after_refund(s: Session, actor: Actor | None, booking: Booking, payment: Payment, refund: Refund,
                  now: datetime) -> None:
    audit.record(s, actor, "refund", refund.id, "refunded",
                 after={"payment_id": payment.id, "amount_pence": refund.amount_pence, "reason": refund.reason,
                        "provider_ref": refund.provider_ref, "source": refund.source, "booking": booking.reference},
                 organisation_id=payment.organisation_id)
    offer = _offer(s, booking)
    booking_service.timeline(s, offer, "refunded", f"{_pounds(refund.amount_pence)} refunded: {refund.reason}",
                             booking.id, actor.username if actor else "")
    s.refresh(payment)
    if payment.needs_attention and payment.attention_resolved_at is None and \
            payment.refunded_pence >= payment.amount_pence:
        payment.attention_resolved_at = now
        payment.attention_resolved_by = actor.username if actor else refund.source
        s.add(payment)
    client = s.get(Client, offer.client_id)
    if client and client.email:
        demo = payment.provider == "demo"
        outbox.queue(
            s, to=client.email, subject=("[DEMO] " if demo else "") + f"Refund for booking {booking.reference}",
            body="\n".join([f"Dear {client.first_name} {client.last_name},", "",
                            *([f"{DEMO_LABEL}: no real money was paid or refunded.", ""] if demo else []),
                            f"We have refunded {_pounds(refund.amount_pence)} of your payment for booking "
                            f"{booking.reference}.", f"Reason: {refund.reason}", "",
                            "Card refunds usually reach your account within 5 to 10 working days."]),
            organisation_id=booking.organisation_id, related=("booking", booking.reference))


def _refund_row(r: Refund) -> RefundRow:
    return RefundRow(r.id, r.payment_id, r.amount_pence, r.reason, r.provider_ref or "", r.status, r.source,
                     r.by_username, r.at, r.error)


def apply_provider_refund_total(s: Session, payment: Payment, amount_refunded: int, now: datetime) -> int:
    """A card provider says ``amount_refunded`` has been refunded from this payment in all (Stripe's
    charge.refunded). Refunds made outside Atlas (in Stripe's dashboard) are recorded for the difference; pending
    Atlas refunds are marked done. Idempotent: the total only ever moves up. Returns the pence newly recorded."""
    known = s.exec(select(func.coalesce(func.sum(Refund.amount_pence), 0))
                   .where(Refund.payment_id == payment.id, Refund.status.in_(("pending", "succeeded")))).one()
    amount_refunded = min(int(amount_refunded), payment.amount_pence)
    if amount_refunded >= known:
        for pending in s.exec(select(Refund).where(Refund.payment_id == payment.id,
                                                   Refund.status == "pending")).all():
            pending.status = "succeeded"
            s.add(pending)
    extra = amount_refunded - int(known)
    if extra <= 0:
        return 0
    booking0 = s.get(Booking, payment.booking_id)
    booking = _lock_booking(s, booking0.id, booking0.offer_id)
    changed = s.exec(update(Payment).where(Payment.id == payment.id,
                                           Payment.refunded_pence + extra <= Payment.amount_pence)
                     .values(refunded_pence=Payment.refunded_pence + extra, updated_at=now)).rowcount
    if changed != 1:
        return 0
    refund = Refund(organisation_id=payment.organisation_id, payment_id=payment.id, amount_pence=extra,
                    reason="Refunded in the Stripe dashboard", status="succeeded", source="stripe",
                    by_username="stripe", at=now)
    s.add(refund)
    s.flush()
    _after_refund(s, None, booking, payment, refund, now)
    return extra


# --- cancelling a booking that was paid for ----------------------------------------------------------------------

REFUNDED_AUTOMATICALLY = ("stripe", "demo")  # providers whose card payments Atlas refunds itself


@dataclass(frozen=True)
class CancelMoney:
    """What happens to the money paid for a booking if it is cancelled, under the organisation's terms."""

    paid_pence: int  # money paid and not refunded (succeeded payments, not waivers, less refunds)
    fee_pence: int  # the cancellation fee kept (never more than was paid; none for a seat hold)
    refund_pence: int  # what is given back
    card_pence: int  # of which refunded at once to the card it was paid with
    offline_pence: int  # of which the organisation gives back itself (money taken offline)
    # (payment id, pence, refunded automatically) for each payment touched, newest first
    parts: tuple[tuple[int, int, bool], ...] = ()

    @property
    def reason(self) -> str:
        return (f"Booking cancelled (cancellation fee {_pounds(self.fee_pence)} kept)" if self.fee_pence
                else "Booking cancelled")

    def lines(self) -> list[str]:
        """For the client, in the second person: what is refunded and what fee is kept."""
        if self.paid_pence <= 0:
            return []
        if self.refund_pence <= 0:
            return [f"The cancellation fee of {_pounds(self.fee_pence)} is kept from the {_pounds(self.paid_pence)} "
                    "you paid, so there is nothing to refund."]
        out = [f"You paid {_pounds(self.paid_pence)}."
               + (f" A cancellation fee of {_pounds(self.fee_pence)} is kept, as our booking terms say."
                  if self.fee_pence else "")]
        if self.card_pence:
            out.append(f"{_pounds(self.card_pence)} is being refunded to the card you paid with; card refunds usually "
                       "reach your account within 5 to 10 working days.")
        if self.offline_pence:
            out.append(f"{_pounds(self.offline_pence)} you paid by cash, cheque or bank transfer will be refunded to "
                       "you by us; we will contact you about it.")
        return out

    @property
    def text(self) -> str:
        return " ".join(self.lines())

    @property
    def staff_text(self) -> str:
        """For staff, before they cancel."""
        if self.paid_pence <= 0:
            return "Nothing has been paid for this booking, so there is nothing to refund."
        if self.refund_pence <= 0:
            return (f"Paid {_pounds(self.paid_pence)}. The cancellation fee of {_pounds(self.fee_pence)} is kept, "
                    "so nothing is refunded.")
        parts = [f"Paid {_pounds(self.paid_pence)}. {_pounds(self.refund_pence)} will be refunded"
                 + (f" (cancellation fee {_pounds(self.fee_pence)} kept)" if self.fee_pence else "") + "."]
        if self.card_pence:
            parts.append(f"{_pounds(self.card_pence)} goes back to the card at once.")
        if self.offline_pence:
            parts.append(f"{_pounds(self.offline_pence)} was taken offline: it will be listed under payments "
                         "needing attention for you to refund.")
        return " ".join(parts)


NO_MONEY = CancelMoney(0, 0, 0, 0, 0)


def _cancel_money(s: Session, booking: Booking, status: str) -> CancelMoney:
    """The one rule for money when a booking (in ``status``) is cancelled: the net paid less the organisation's
    cancellation fee (no fee for a seat hold), never below zero, taken from the newest payments first."""
    lineage = s.exec(select(_lineage_cte([booking.id]).c.ancestor_id)).all()
    pays = s.exec(select(Payment).where(Payment.booking_id.in_(lineage), Payment.status == "succeeded",
                                        Payment.method != "waiver")
                  .order_by(Payment.received_at.desc(), Payment.id.desc())).all()
    paid = sum(p.amount_pence - p.refunded_pence for p in pays)
    if paid <= 0:
        return NO_MONEY
    fee = 0 if status == "held" else booking_service.get_terms(s, booking.organisation_id).cancel_fee_pence
    fee = min(max(fee, 0), paid)
    remaining, parts = paid - fee, []
    for p in pays:
        take = min(p.amount_pence - p.refunded_pence, remaining)
        if take > 0:
            parts.append((p.id, take, p.provider in REFUNDED_AUTOMATICALLY))
            remaining -= take
    card = sum(pence for _, pence, auto in parts if auto)
    return CancelMoney(paid, fee, paid - fee, card, paid - fee - card, tuple(parts))


def cancel_preview(organisation_id: int, reference: str, offer_id: int | None = None, *,
                   actor: Actor | None = None) -> CancelMoney:
    """What cancelling the booking now would refund and keep (for the confirmation before cancelling): for staff
    (``actor``, who may manage the organisation's bookings) or the client who proved ``offer_id`` is theirs."""
    if actor is not None:
        actor.require(Perm.BOOKINGS_MANAGE)
        if actor.organisation_id != organisation_id:
            raise PermissionDenied()
    elif offer_id is None:
        raise PermissionDenied()
    with read_session() as s:
        booking = s.exec(select(Booking).where(Booking.reference == str(reference or "").strip().upper(),
                                               Booking.organisation_id == organisation_id)).first()
        if booking is None or (offer_id is not None and booking.offer_id != offer_id):
            raise NotFound("No such booking.")
        return _cancel_money(s, booking, booking.status)


@dataclass(frozen=True)
class CancelOutcome:
    booking: Any  # booking_service.BookingView
    money: CancelMoney
    refunds: list[RefundRow]  # refunds made (or pending at Stripe) to cards
    attention_pence: int  # left for staff to refund: money taken offline, or a card refund Stripe did not make

    @property
    def refunded_pence(self) -> int:
        return sum(r.amount_pence for r in self.refunds if r.status in ("succeeded", "pending"))

    @property
    def summary(self) -> str:
        """For staff."""
        parts = [f"Cancelled {self.booking.reference}; the seat is free again."]
        if self.money.paid_pence:
            parts.append(f"Refunded {_pounds(self.refunded_pence)} to the card"
                         + (f", cancellation fee {_pounds(self.money.fee_pence)} kept" if self.money.fee_pence
                            else "") + ".")
        if self.attention_pence:
            parts.append(f"{_pounds(self.attention_pence)} still to refund: see Payments needing attention.")
        return " ".join(parts)


def cancel_booking(organisation_id: int, reference: str, *, actor: Actor | None = None,
                   offer_id: int | None = None, reason: str = "") -> CancelOutcome:
    """Cancel a booking (``booking.cancel``: staff with ``actor``, or the client who proved ``offer_id`` is theirs)
    and deal with the money paid for it as :func:`_cancel_money` says. Inside the cancelling transaction card
    refunds are reserved and money taken offline is flagged for staff ("Refund due"); after it commits the refunds
    are made through Stripe. If Stripe refuses or cannot be reached the cancellation stands and the payment is
    flagged with Stripe's error."""
    who = actor
    reserved: list[_ReservedRefund] = []
    planned: list[CancelMoney] = []

    def money(s: Session, booking: Booking, status: str) -> list[str]:
        nonlocal who
        now = utcnow()
        plan = _cancel_money(s, booking, status)
        planned[:], reserved[:] = [plan], []
        if who is None:
            offer = _offer(s, booking)
            who = Actor(user_id=None, username=f"client:{offer.client_id}", organisation_id=organisation_id)
        for payment_id, pence, automatic in plan.parts:
            payment = _lock_payment(s, payment_id)
            if automatic:
                reserved.append(_reserve_refund(s, booking, payment, pence, plan.reason, "cancellation", who, now))
            else:
                _flag(s, payment, f"Refund due: {_pounds(pence)} after booking {booking.reference} was cancelled "
                                  f"(cancellation fee {_pounds(plan.fee_pence)} kept). The money was taken "
                                  f"{METHOD_LABELS.get(payment.method, payment.method).lower()}: refund it to the "
                                  "client and record the refund here.", who)
        return plan.lines()

    view = booking_service.cancel(organisation_id, reference, actor=actor, offer_id=offer_id, reason=reason,
                                  money=money)
    plan = planned[0] if planned else NO_MONEY
    rows = []
    for pending in reserved:
        if pending.status == "pending":
            rows.append(_send_stripe_refund(
                pending, who, attention=f"Refund due: {_pounds(pending.row.amount_pence)} after booking "
                                        f"{pending.booking_reference} was cancelled."))
        else:
            rows.append(pending.row)
    failed = sum(r.amount_pence for r in rows if r.status == "failed")
    return CancelOutcome(view, plan, rows, plan.offline_pence + failed)


# --- payments needing attention ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionRow:
    payment_id: int
    booking_reference: str
    booking_status: str
    client_name: str
    offer_id: int
    amount_pence: int
    refundable_pence: int
    method_label: str
    received_at: datetime
    reason: str
    is_demo: bool


def attention_list(actor: Actor, limit: int = 200) -> list[AttentionRow]:
    """Payments staff must act on (money that arrived after the seat was lost, overpayments), oldest first."""
    if not (actor.can(Perm.PAYMENTS_TAKE) or actor.can(Perm.PAYMENTS_REFUND)):
        raise PermissionDenied()
    org_id = actor.require_org()
    with read_session() as s:
        rows = s.exec(
            select(Payment, Booking.reference, Booking.status, Booking.offer_id, Client.first_name, Client.last_name)
            .join(Booking, Booking.id == Payment.booking_id)
            .join(Offer, Offer.id == Booking.offer_id)
            .join(Client, Client.id == Offer.client_id)
            .where(Payment.organisation_id == org_id, Payment.needs_attention,
                   Payment.attention_resolved_at.is_(None))
            .order_by(Payment.received_at, Payment.id).limit(limit)
        ).all()
        return [AttentionRow(p.id, ref, status, f"{first} {last}", offer_id, p.amount_pence,
                             p.amount_pence - p.refunded_pence, METHOD_LABELS.get(p.method, p.method),
                             p.received_at, p.attention_reason, p.provider == "demo")
                for p, ref, status, offer_id, first, last in rows]


def resolve_attention(actor: Actor, payment_id: int, note: str) -> None:
    """Mark a flagged payment as dealt with (say how)."""
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    note = str(note or "").strip()[:300]
    if not note:
        raise ValidationFailed("Say how the payment was dealt with.", {"note": "required"})
    with write_session() as s:
        payment = s.exec(select(Payment).where(Payment.id == int(payment_id), Payment.organisation_id == org_id)
                         .with_for_update().execution_options(populate_existing=True)).first()
        if payment is None:
            raise NotFound("No such payment in your organisation.")
        if not payment.needs_attention or payment.attention_resolved_at is not None:
            raise Conflict("That payment does not need attention.")
        payment.attention_resolved_at, payment.attention_resolved_by = utcnow(), actor.username
        s.add(payment)
        audit.record(s, actor, "payment", payment.id, "attention_resolved", before={"reason": payment.attention_reason},
                     after={"note": note})


def move_payment(actor: Actor, payment_id: int, to_booking_reference: str, note: str = "") -> PaymentRow:
    """Put a payment towards another booking of the same offer (the client was rebooked on another session after
    their payment arrived too late for the first)."""
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    now = utcnow()
    with write_session() as s:
        found = s.exec(select(Payment.booking_id).where(Payment.id == int(payment_id),
                                                        Payment.organisation_id == org_id)).first()
        if found is None:
            raise NotFound("No such payment in your organisation.")
        target = _booking_by_reference(s, org_id, to_booking_reference)
        payment = s.exec(select(Payment).where(Payment.id == int(payment_id)).with_for_update()
            .execution_options(populate_existing=True)).first()
        old = s.get(Booking, payment.booking_id)
        if old.offer_id != target.offer_id:
            raise ValidationFailed("A payment can only be moved to another booking for the same offer.",
                                   {"reference": "other offer"})
        if target.id == old.id:
            raise ValidationFailed("The payment is already on that booking.", {"reference": "same"})
        if target.status not in ("held", "awaiting_payment", "confirmed"):
            raise ValidationFailed("Move the payment to a current booking.", {"reference": target.status})
        if payment.status != "succeeded":
            raise ValidationFailed("Only a successful payment can be moved.", {"payment": payment.status})
        payment.booking_id = target.id
        payment.needs_attention = False
        payment.attention_resolved_at, payment.attention_resolved_by = now, actor.username
        payment.updated_at = now
        s.add(payment)
        s.flush()
        audit.record(s, actor, "payment", payment.id, "moved", before={"booking": old.reference},
                     after={"booking": target.reference, "note": str(note or "")[:300]})
        booking_service.timeline(s, _offer(s, target), "payment_moved",
                                 f"{_pounds(payment.amount_pence)} moved from {old.reference} to {target.reference}",
                                 target.id, actor.username)
        _settle(s, target, None, actor, now)
        return _payment_row(payment, target.reference)


# --- payment plans ---------------------------------------------------------------------------------------------


def parse_instalments(text: str) -> list[tuple[date, int]]:
    """Instalments typed one per line as a date and an amount: ``2026-12-01 45.00`` or ``01/12/2026 £45``."""
    out: list[tuple[date, int]] = []
    errors: list[str] = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) != 2:
            errors.append(f"line {n}: give a date and an amount")
            continue
        raw_date, raw_amount = parts
        try:
            if "/" in raw_date:
                d, m, y = (int(x) for x in raw_date.split("/"))
                due = date(y, m, d)
            else:
                due = date.fromisoformat(raw_date)
            out.append((due, _parse_pence(raw_amount)))
        except (ValueError, ValidationFailed):
            errors.append(f"line {n}: '{line.strip()[:40]}' is not a date and an amount")
    if errors:
        raise ValidationFailed("Check the instalments: " + "; ".join(errors[:5]) + ".", {"instalments": "invalid"})
    return out


def approve_plan(actor: Actor, booking_reference: str, instalments: list[tuple[date, Any]], *,
                 allow_attend_on_plan: bool = False, reason: str, special_request_id: int | None = None) -> PlanView:
    """Agree a payment plan for special circumstances. The instalments must add up to what is still owed, the first
    due no earlier than today; unless the client may attend on the plan, the last must fall before the course. With
    ``allow_attend_on_plan`` the booking is confirmed now (the seat is secure) while it stays part-paid until the
    plan is complete."""
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    reason = str(reason or "").strip()[:1000]
    if not reason:
        raise ValidationFailed("Give the special circumstances for the payment plan.", {"reason": "required"})
    if not instalments or len(instalments) > 24:
        raise ValidationFailed("A payment plan needs between 1 and 24 instalments.", {"instalments": "count"})
    parsed = []
    for i, (due_on, amount) in enumerate(instalments, start=1):
        if not isinstance(due_on, date):
            raise ValidationFailed(f"Instalment {i} needs a due date.", {"instalments": "date"})
        parsed.append((due_on, _parse_pence(amount, "instalments")))
    dates = [d for d, _ in parsed]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise ValidationFailed("Instalment dates must be in order, one per date.", {"instalments": "order"})
    now = utcnow()
    if dates[0] < london_date(now):
        raise ValidationFailed("The first instalment cannot be due in the past.", {"instalments": "past"})
    with write_session() as s:
        booking = _booking_by_reference(s, org_id, booking_reference)
        if booking.status not in ("awaiting_payment", "confirmed"):
            raise ValidationFailed("A payment plan needs a current booking.", {"reference": booking.status})
        if s.exec(select(PaymentPlan.id).where(PaymentPlan.booking_id == booking.id,
                                               PaymentPlan.status == "active")).first():
            raise Conflict("This booking already has an active payment plan.")
        summary = payment_summary(s, booking.id, now)
        total = sum(a for _, a in parsed)
        if summary.outstanding_pence <= 0:
            raise Conflict("This booking has nothing left to pay.")
        if total != summary.outstanding_pence:
            raise ValidationFailed(f"The instalments add up to {_pounds(total)}, but "
                                   f"{_pounds(summary.outstanding_pence)} is owed.", {"instalments": "total"})
        session = s.get(CourseSession, booking.session_id)
        if not allow_attend_on_plan and dates[-1] >= london_date(session.starts_at):
            raise ValidationFailed("The last instalment must be due before the course, unless the client may "
                                   "attend on the plan.", {"instalments": "too late"})
        plan = PaymentPlan(organisation_id=org_id, booking_id=booking.id, special_request_id=special_request_id,
                           total_pence=total, allow_attend_on_plan=bool(allow_attend_on_plan), reason=reason,
                           approved_by_user_id=actor.user_id, approved_by=actor.username, approved_at=now)
        s.add(plan)
        s.flush()
        for seq, (due_on, amount_pence) in enumerate(parsed, start=1):
            s.add(PlanInstalment(plan_id=plan.id, seq=seq, due_on=due_on, amount_pence=amount_pence))
        offer = _offer(s, booking)
        schedule = "; ".join(f"{_pounds(a)} by {d:%d %b %Y}" for d, a in parsed)
        booking_service.timeline(s, offer, "payment_plan", f"Payment plan agreed: {schedule}", booking.id,
                                 actor.username)
        audit.record(s, actor, "payment_plan", plan.id, "approved",
                     after={"booking": booking.reference, "total_pence": total,
                            "allow_attend": plan.allow_attend_on_plan,
                            "instalments": [[d.isoformat(), a] for d, a in parsed], "reason": reason})
        if allow_attend_on_plan and booking.status == "awaiting_payment":
            booking.status, booking.updated_at = "confirmed", now
            s.add(booking)
            booking_service.timeline(s, offer, "confirmed_on_plan",
                                     "Confirmed: the client may attend while paying by instalments.", booking.id,
                                     actor.username)
        client = s.get(Client, offer.client_id)
        if client and client.email:
            outbox.queue(s, to=client.email, subject=f"Your payment plan for booking {booking.reference}",
                         body="\n".join([f"Dear {client.first_name} {client.last_name},", "",
                                         "We have agreed that you may pay for your course in instalments:", "",
                                         *[f"  {_pounds(a)} by {d:%d %B %Y}" for d, a in parsed], "",
                                         f"Booking reference: {booking.reference}"]),
                         organisation_id=org_id, related=("booking", booking.reference))
        return PlanView(plan.id, plan.status, total, plan.allow_attend_on_plan, reason, actor.username, now, parsed)


def cancel_plan(actor: Actor, plan_id: int, reason: str) -> None:
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    reason = str(reason or "").strip()[:300]
    if not reason:
        raise ValidationFailed("Give the reason for ending the payment plan.", {"reason": "required"})
    with write_session() as s:
        plan = s.exec(select(PaymentPlan).where(PaymentPlan.id == int(plan_id), PaymentPlan.organisation_id == org_id)
                      .with_for_update().execution_options(populate_existing=True)).first()
        if plan is None:
            raise NotFound("No such payment plan.")
        if plan.status != "active":
            raise Conflict("That payment plan is not active.")
        plan.status, plan.cancelled_at = "cancelled", utcnow()
        s.add(plan)
        booking = s.get(Booking, plan.booking_id)
        booking_service.timeline(s, _offer(s, booking), "payment_plan_cancelled", reason, booking.id, actor.username)
        audit.record(s, actor, "payment_plan", plan.id, "cancelled", after={"reason": reason})


# --- overdue bookings --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueReport:
    released: int = 0
    chased: int = 0
    instalments_chased: int = 0
    checkouts_expired: int = 0
    refunds_retried: int = 0


def process_overdue(now: datetime | None = None, limit: int = 500) -> OverdueReport:
    """The housekeeping job for unpaid bookings whose payment deadline has passed. Per the organisation's booking
    terms (``unpaid_action``) each is either released (the booking expires, its seat is freed and the offer can be
    booked again) or chased (a reminder email, at most once a day). Bookings with some money paid are chased, never
    released; bookings whose client is paying at this moment (an open checkout) are left until it ends. Instalments
    of payment plans that fall due are chased. Stale checkouts are marked expired.

    Safe to run in several workers at once: each booking is locked and rechecked in its own transaction, and
    changes are conditional updates."""
    now = now or utcnow()
    released = chased = plan_chased = 0
    with write_session() as s:
        expired = s.exec(update(CheckoutAttempt)
                         .where(CheckoutAttempt.status == "open", CheckoutAttempt.expires_at <= now)
                         .values(status="expired")).rowcount
    with read_session() as s:
        candidates = s.exec(
            select(Booking.id, Booking.offer_id).where(Booking.status == "awaiting_payment",
                                                       Booking.payment_due_at <= now)
            .order_by(Booking.payment_due_at).limit(limit)
        ).all()
        on_plan = s.exec(
            select(Booking.id, Booking.offer_id).join(PaymentPlan, PaymentPlan.booking_id == Booking.id)
            .join(PlanInstalment, PlanInstalment.plan_id == PaymentPlan.id)
            .where(PaymentPlan.status == "active", PlanInstalment.due_on < london_date(now),
                   Booking.status.in_(SEAT_STATUSES)).distinct().limit(limit)
        ).all()
    seen: set[int] = set()
    for booking_id, offer_id in [*candidates, *on_plan]:
        if booking_id in seen:
            continue
        seen.add(booking_id)
        with write_session() as s:
            booking = _lock_booking(s, booking_id, offer_id)
            summary = payment_summary(s, booking.id, now)
            if summary.state != "overdue":
                continue
            if summary.plan_active:
                if _chase(s, booking, summary, now, plan=True):
                    plan_chased += 1
                continue
            if booking.status != "awaiting_payment":
                continue
            paying_now = s.exec(select(CheckoutAttempt.id).where(CheckoutAttempt.booking_id == booking.id,
                                                                 CheckoutAttempt.status == "open",
                                                                 CheckoutAttempt.expires_at > now)).first()
            if paying_now is not None:
                continue
            terms = booking_service.get_terms(s, booking.organisation_id)
            if terms.unpaid_action == "release" and summary.paid_pence <= 0 and summary.waived_pence <= 0:
                if _release(s, booking, summary, now):
                    released += 1
            elif _chase(s, booking, summary, now, plan=False):
                chased += 1
    return OverdueReport(released, chased, plan_chased, expired, retry_unsent_refunds(now))


UNSENT_REFUND_AGE = timedelta(minutes=10)


def retry_unsent_refunds(now: datetime | None = None, limit: int = 100) -> int:
    """Refunds through Stripe that were recorded but never got Stripe's answer (the worker stopped between the two
    halves of :func:`refund_payment` or :func:`cancel_booking`) are sent again with the same idempotency key, so
    Stripe refunds once; a failure flags the payment for staff. None is left pending for ever."""
    now = now or utcnow()
    with read_session() as s:
        rows = s.exec(select(Refund, Payment.provider_ref, Booking.reference)
                      .join(Payment, Payment.id == Refund.payment_id).join(Booking, Booking.id == Payment.booking_id)
                      .where(Refund.status == "pending", Refund.provider_ref.is_(None), Payment.provider == "stripe",
                             Refund.at <= now - UNSENT_REFUND_AGE).order_by(Refund.id).limit(limit)).all()
    for refund, intent, booking_ref in rows:
        _send_stripe_refund(_ReservedRefund(_refund_row(refund), intent, booking_ref), None,
                            attention=f"Refund due: {_pounds(refund.amount_pence)} ({refund.reason}).")
    return len(rows)


def _release(s: Session, booking: Booking, summary: PaymentSummary, now: datetime) -> bool:
    changed = s.exec(update(Booking).where(Booking.id == booking.id, Booking.status == "awaiting_payment")
                     .values(status="expired", updated_at=now)).rowcount
    if changed != 1:
        return False
    booking_service._give_back_seat(s, booking.session_id)
    offer = _offer(s, booking)
    if offer.status == "booked":
        offer.status = "referred"
        s.add(offer)
    booking_service.timeline(s, offer, "released_unpaid",
                             f"Not paid by {london_text(booking.payment_due_at)}: the booking was released and the "
                             "seat freed.", booking.id)
    audit.record(s, None, "booking", booking.reference, "released_unpaid", before={"status": "awaiting_payment"},
                 after={"status": "expired", "payment_due_at": booking.payment_due_at},
                 organisation_id=booking.organisation_id)
    client = s.get(Client, offer.client_id)
    if client and client.email:
        outbox.queue(s, to=client.email, subject=f"Your course booking {booking.reference} has been released",
                     body="\n".join([f"Dear {client.first_name} {client.last_name},", "",
                                     f"The fee for booking {booking.reference} was not paid by "
                                     f"{london_text(booking.payment_due_at)}, so the place has been released.",
                                     "", f"You can book again before your offer's critical date "
                                     f"({offer.critical_date:%d %B %Y}) using offer reference "
                                     f"{offer.offer_reference}."]),
                     organisation_id=booking.organisation_id, related=("booking", booking.reference))
    return True


def _chase(s: Session, booking: Booking, summary: PaymentSummary, now: datetime, plan: bool) -> bool:
    last = s.exec(select(func.max(ClientEvent.at)).where(ClientEvent.booking_id == booking.id,
                                                         ClientEvent.kind == "payment_reminder")).one()
    if last is not None and last > now - REMINDER_INTERVAL:
        return False
    offer = _offer(s, booking)
    what = "An instalment of your payment plan is overdue" if plan else "Your course fee is overdue"
    s.add(ClientEvent(organisation_id=offer.organisation_id, client_id=offer.client_id, offer_id=offer.id,
                      booking_id=booking.id, at=now, kind="payment_reminder",
                      detail=f"{what}: {_pounds(summary.outstanding_pence)} still to pay."))
    client = s.get(Client, offer.client_id)
    if client and client.email:
        outbox.queue(s, to=client.email, subject=f"Reminder: payment for course booking {booking.reference}",
                     body="\n".join([f"Dear {client.first_name} {client.last_name},", "",
                                     f"{what}. {_pounds(summary.outstanding_pence)} is still to pay for booking "
                                     f"{booking.reference}.", "",
                                     "Please pay online through the booking site or telephone us to pay by card."]),
                     organisation_id=booking.organisation_id, related=("booking", booking.reference))
    return True


# --- reconciliation ---------------------------------------------------------------------------------------------


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
            .where(Payment.organisation_id == org_id, Payment.status == "succeeded", Payment.received_at >= start,
                   Payment.received_at < end).order_by(Payment.received_at, Payment.id)
        ).all()
        refunds = s.exec(
            select(Refund, Payment, Booking.reference).join(Payment, Payment.id == Refund.payment_id)
            .join(Booking, Booking.id == Payment.booking_id)
            .where(Refund.organisation_id == org_id, Refund.status.in_(("succeeded", "pending")), Refund.at >= start,
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
    return "" if pence is None else f"{pence / 100:.2f}"


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


__all__ = [
    "PAYMENT_METHODS", "PAYMENT_STATES", "PAYMENT_STATE_LABELS", "TIMELINE_LABELS", "AttentionRow",
    "BookingPayments", "OverdueReport",
    "PaymentFacts", "PaymentRow", "PaymentSummary", "PlanView", "ReconciliationReport", "RefundRow", "approve_plan",
    "CancelMoney", "CancelOutcome", "attention_list", "booking_payment_states", "booking_payments",
    "cancel_booking", "cancel_plan", "cancel_preview", "move_payment",
    "parse_instalments", "payment_state",
    "payment_summaries", "payment_summary", "process_overdue", "reconciliation", "reconciliation_csv",
    "record_payment", "refund_payment", "resolve_attention",
]
