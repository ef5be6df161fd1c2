"""Payments staff record by telephone and offline (card by telephone, cheque, cash, bank transfer, waiver), and what
a booking's payments look like on the staff screens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, PaymentStatus
from atlas_app.models import Booking
from atlas_app.models.payments import (
    Payment,
    PaymentPlan,
    PlanInstalment,
    Refund,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments.ledger import (
    about_booking,
    booking_by_reference,
    offer_of,
    parse_pence,
    payment_snapshot,
    pounds_text,
    settle,
)
from atlas_app.services.payments.state import (
    MAX_BACKDATE,
    METHOD_LABELS,
    REFERENCE_REQUIRED,
    STAFF_METHODS,
    PaymentSummary,
    lineage_cte,
    payment_summary,
)
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.services.platform.permissions import Perm


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


def payment_row(p: Payment, ref: str) -> PaymentRow:
    return PaymentRow(
        id=p.id, booking_reference=ref, amount_pence=p.amount_pence, method=p.method,
        method_label=METHOD_LABELS.get(p.method, p.method), provider=p.provider, provider_ref=p.provider_ref,
        status=p.status, fee_pence=p.fee_pence, refunded_pence=p.refunded_pence,
        refundable_pence=(p.amount_pence - p.refunded_pence)
        if p.status == PaymentStatus.SUCCEEDED and p.method != "waiver"
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
        lineage = s.exec(select(lineage_cte([booking.id]).c.ancestor_id)).all()
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
            payments=[payment_row(p, refs.get(p.booking_id, "")) for p in payments],
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
    amount_pence = parse_pence(amount)
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
        booking = booking_by_reference(s, org_id, booking_reference)
        if booking.status not in BookingStatus.HOLDS_SEAT:
            raise ValidationFailed(
                f"Booking {booking.reference} is {booking.status.replace('_', ' ')}, so it cannot take a payment. "
                "Book the client again first.", {"reference": booking.status})
        summary = payment_summary(s, booking.id, now)
        if summary.outstanding_pence <= 0:
            raise Conflict(f"Booking {booking.reference} has nothing left to pay.")
        if amount_pence > summary.outstanding_pence:
            raise ValidationFailed(f"That is more than the {pounds_text(summary.outstanding_pence)} still owed.",
                                   {"amount": "too much"})
        payment = Payment(
            organisation_id=org_id, booking_id=booking.id, amount_pence=amount_pence, method=method,
            provider="offline", provider_ref=reference, status=PaymentStatus.SUCCEEDED,
            recorded_by_user_id=actor.user_id,
            recorded_by=actor.username, received_at=received_at, note=note, created_at=now, updated_at=now,
        )
        s.add(payment)
        s.flush()
        audit.record(s, actor, "payment", payment.id, "waived" if method == "waiver" else "recorded",
                     after={**payment_snapshot(payment), "booking": booking.reference},
                     subject=about_booking(s, booking))
        offer = offer_of(s, booking)
        booking_service.timeline(
            s, offer, "fee_waived" if method == "waiver" else "payment_received",
            (f"Fee of {pounds_text(amount_pence)} waived: {note}" if method == "waiver" else
             f"{pounds_text(amount_pence)} received ({METHOD_LABELS[method].lower()})"), booking.id, actor.username)
        settle(s, booking, payment, actor, now)
        return payment_row(payment, booking.reference)
