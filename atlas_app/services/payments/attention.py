"""Payments needing attention: money that landed after its seat was lost, offline refunds due, card refunds the
provider did not make.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, PaymentStatus
from atlas_app.models import Booking, Client, Offer
from atlas_app.models.payments import (
    Payment,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments.ledger import (
    about_booking,
    booking_by_reference,
    offer_of,
    pounds_text,
    settle,
)
from atlas_app.services.payments.staff import PaymentRow, payment_row
from atlas_app.services.payments.state import METHOD_LABELS
from atlas_app.services.platform import audit, bounds, locks
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.services.platform.permissions import Perm


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
        payment = locks.lock_where(s, "payment", Payment.id == bounds.query_id(payment_id), Payment.organisation_id == org_id)
        if payment is None:
            raise NotFound("No such payment in your organisation.")
        if not payment.needs_attention or payment.attention_resolved_at is not None:
            raise Conflict("That payment does not need attention.")
        payment.attention_resolved_at, payment.attention_resolved_by = utcnow(), actor.username
        s.add(payment)
        audit.record(s, actor, "payment", payment.id, "attention_resolved", before={"reason": payment.attention_reason},
                     after={"note": note}, subject=about_booking(s, payment.booking_id))


def move_payment(actor: Actor, payment_id: int, to_booking_reference: str, note: str = "") -> PaymentRow:
    """Put a payment towards another booking of the same offer (the client was rebooked on another session after
    their payment arrived too late for the first)."""
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    now = utcnow()
    with write_session() as s:
        found = s.exec(select(Payment.booking_id).where(Payment.id == bounds.query_id(payment_id),
                                                        Payment.organisation_id == org_id)).first()
        if found is None:
            raise NotFound("No such payment in your organisation.")
        target = booking_by_reference(s, org_id, to_booking_reference)
        payment = locks.lock_one(s, locks.payment(bounds.query_id(payment_id)))
        old = s.get(Booking, payment.booking_id)
        if old.offer_id != target.offer_id:
            raise ValidationFailed("A payment can only be moved to another booking for the same offer.",
                                   {"reference": "other offer"})
        if target.id == old.id:
            raise ValidationFailed("The payment is already on that booking.", {"reference": "same"})
        if target.status not in BookingStatus.ACTIVE:
            raise ValidationFailed("Move the payment to a current booking.", {"reference": target.status})
        if payment.status != PaymentStatus.SUCCEEDED:
            raise ValidationFailed("Only a successful payment can be moved.", {"payment": payment.status})
        payment.booking_id = target.id
        payment.needs_attention = False
        payment.attention_resolved_at, payment.attention_resolved_by = now, actor.username
        payment.updated_at = now
        s.add(payment)
        s.flush()
        audit.record(s, actor, "payment", payment.id, "moved", before={"booking": old.reference},
                     after={"booking": target.reference, "note": str(note or "")[:300]},
                     subject=about_booking(s, target))
        booking_service.timeline(s, offer_of(s, target), "payment_moved",
                                 f"{pounds_text(payment.amount_pence)} moved from {old.reference} to {target.reference}",
                                 target.id, actor.username)
        settle(s, target, None, actor, now)
        return payment_row(payment, target.reference)
