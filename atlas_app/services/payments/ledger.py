"""Shared pieces of the payment services: finding and locking a booking, amounts in pence, flags for staff, settling
a booking when money arrives, and payments reported by a card provider.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from atlas_app.db import utcnow
from atlas_app.domain.money import format_pence
from atlas_app.domain.statuses import BookingStatus, CheckoutStatus, OfferStatus, PaymentStatus, PayState, PlanStatus
from atlas_app.models import Booking, Client, CourseSession, Offer
from atlas_app.models.payments import (
    CheckoutAttempt,
    Payment,
    PaymentPlan,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments.state import METHOD_LABELS, payment_summary
from atlas_app.services.payments.stripe_gateway import DEMO_LABEL
from atlas_app.services.booking import emails, lineage
from atlas_app.services.platform import audit, i18n, locks
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import AtlasError, NotFound, ValidationFailed, amount_field


def booking_by_reference(s: Session, organisation_id: int, reference: str) -> Booking:
    """The booking of that reference in the organisation, locked with its offer."""
    ref = str(reference or "").strip().upper()
    if not ref:
        raise ValidationFailed("Enter a booking reference.", {"reference": "required"})
    found = s.exec(select(Booking.id, Booking.offer_id).where(Booking.reference == ref,
                                                              Booking.organisation_id == organisation_id)).first()
    if found is None:
        raise NotFound("No booking with that reference in your organisation.")
    return lock_booking(s, found[0], found[1])


def lock_booking(s: Session, booking_id: int, offer_id: int) -> Booking:
    """Lock the booking and its offer (in the lock order, the offer first) and return the booking."""
    booking = locks.lock(s, locks.offer(offer_id), locks.booking(booking_id)).get(locks.booking(booking_id))
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def offer_of(s: Session, booking: Booking) -> Offer:
    return s.get(Offer, booking.offer_id)


def about_booking(s: Session, booking: Booking | int) -> tuple[str, int]:
    """The audit subject of an entry about a booking, or its payment, refund or plan: the offer's client."""
    if not isinstance(booking, Booking):
        booking = s.get(Booking, booking)
    return audit.about_client(offer_of(s, booking).client_id)


def pounds_text(pence: int) -> str:
    return format_pence(pence)


def parse_pence(value: Any, name: str = "amount") -> int:
    """An amount of money received or refunded, in pounds ('45', '45.50', '£1,045.5') or an int of pence: more than
    £0 and at most £100,000."""
    return amount_field(value, name)


def payment_snapshot(p: Payment) -> dict[str, Any]:
    return {"booking_id": p.booking_id, "amount_pence": p.amount_pence, "method": p.method, "provider": p.provider,
            "provider_ref": p.provider_ref, "status": p.status, "refunded_pence": p.refunded_pence,
            "fee_pence": p.fee_pence, "received_at": p.received_at, "note": p.note,
            "needs_attention": p.needs_attention}


def flag_payment(s: Session, payment: Payment, reason: str, actor: Actor | None = None) -> None:
    payment.needs_attention = True
    payment.attention_reason = reason[:500]
    payment.attention_resolved_at = None
    payment.attention_resolved_by = ""
    payment.updated_at = utcnow()
    s.add(payment)
    s.flush()
    booking = s.get(Booking, payment.booking_id)
    offer = offer_of(s, booking)
    booking_service.timeline(s, offer, "payment_needs_attention", reason, booking.id,
                             actor.username if actor else "")
    audit.record(s, actor, "payment", payment.id, "needs_attention", after={"reason": reason[:500]},
                 organisation_id=payment.organisation_id, subject=about_booking(s, booking))


def _revive(s: Session, booking: Booking, now: datetime) -> str | None:
    """A payment arrived for a booking whose seat was let go: take a seat again if the rules and the session allow.
    Returns None on success, else why not."""
    offer = offer_of(s, booking)
    session = s.get(CourseSession, booking.session_id)
    other = booking_service.active_booking(s, offer.id)
    if other is not None:
        return f"the offer already has another booking ({other.reference})"
    try:
        booking_service.check_bookable(s, offer, session, now)
        with s.begin_nested():
            booking_service.take_seat(s, session.id, booking.organisation_id)
            booking.status = BookingStatus.AWAITING_PAYMENT
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
    if offer.status == OfferStatus.REFERRED:
        offer.status = OfferStatus.BOOKED
        s.add(offer)
    booking_service.timeline(s, offer, "seat_retaken", "The payment arrived after the seat was freed; a seat was "
                             "free, so the booking was reinstated.", booking.id)
    return None


def settle(s: Session, booking: Booking, payment: Payment | None, actor: Actor | None, now: datetime) -> str:
    """After money in or out: move the booking on if it is now fully paid, flag money that cannot be used, send the
    receipt. The caller holds the offer and booking locks. Returns the payment state."""
    if payment is not None and payment.status == PaymentStatus.SUCCEEDED and booking.status in BookingStatus.SEAT_LOST:
        why = _revive(s, booking, now)
        if why is not None:
            reason = (f"{pounds_text(payment.amount_pence)} was paid after booking {booking.reference} was "
                      f"{booking.status} and {why}. Offer the client another session or refund the payment.")
            flag_payment(s, payment, reason, actor)
            _queue_receipt(s, booking, payment, "attention")
            return payment_summary(s, booking.id, now).state
    if booking.status == BookingStatus.TRANSFERRED:
        booking = lineage.current(s, booking)
    summary = payment_summary(s, booking.id, now)
    offer = offer_of(s, booking)
    settled = summary.paid_pence + summary.waived_pence
    if summary.state in PayState.SETTLED:
        if booking.status in BookingStatus.UNCONFIRMED:
            before = {"status": booking.status}
            changed = s.exec(
                update(Booking).where(Booking.id == booking.id, Booking.status.in_(BookingStatus.UNCONFIRMED))
                .values(status=BookingStatus.CONFIRMED, hold_expires_at=None, updated_at=now)
            ).rowcount
            if changed == 1:
                s.refresh(booking)
                if offer.status == OfferStatus.REFERRED:
                    offer.status = OfferStatus.BOOKED
                    s.add(offer)
                detail = ("Fee waived" if summary.state == PayState.WAIVED else
                          f"Paid in full ({pounds_text(settled)}); the booking is confirmed.")
                booking_service.timeline(s, offer, "paid", detail, booking.id, actor.username if actor else "")
                audit.record(s, actor, "booking", booking.reference, "paid", before=before,
                             after={"status": BookingStatus.CONFIRMED, "payment_state": summary.state},
                             organisation_id=booking.organisation_id, subject=about_booking(s, booking))
        for plan in s.exec(select(PaymentPlan).where(PaymentPlan.booking_id == booking.id,
                                                     PaymentPlan.status == PlanStatus.ACTIVE)).all():
            plan.status, plan.completed_at = PlanStatus.COMPLETE, now
            s.add(plan)
            booking_service.timeline(s, offer, "payment_plan_complete", "The payment plan is complete.", booking.id)
        if payment is not None and payment.status == PaymentStatus.SUCCEEDED and settled > summary.fee_pence \
                and payment.method != "waiver" and not payment.needs_attention:
            extra = min(payment.amount_pence, settled - summary.fee_pence)
            flag_payment(s, payment, f"Booking {booking.reference} has been paid {pounds_text(extra)} more than its fee "
                              f"of {pounds_text(summary.fee_pence)}. Refund the extra.", actor)
    if payment is not None and payment.status == PaymentStatus.SUCCEEDED and payment.method != "waiver":
        _queue_receipt(s, booking, payment, "receipt")
    return summary.state


def _queue_receipt(s: Session, booking: Booking, payment: Payment, kind: str) -> None:
    offer = offer_of(s, booking)
    client = s.get(Client, offer.client_id)
    if not client or not client.email:
        return
    summary = payment_summary(s, booking.id)
    view = booking_service.booking_view(s, booking)

    def payment_fields() -> dict:  # in the client's language
        return {"payment": {
            "amount": i18n.money(payment.amount_pence),
            "method": i18n._(METHOD_LABELS.get(payment.method, payment.method)).lower(),
            "received": emails.moment(payment.received_at), "reference": str(payment.provider_ref or payment.id),
            "outstanding": i18n.money(summary.outstanding_pence), "paid_in_full": summary.state in PayState.SETTLED,
            "demo": payment.provider == "demo",
        }}

    emails.send(s, "payment_seat_lost" if kind == "attention" else "payment_receipt", view=view, offer=offer,
                client=client, extra=payment_fields, demo=payment.provider == "demo")


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
    booking = lock_booking(s, booking0.id, booking0.offer_id)
    payment = Payment(
        organisation_id=attempt.organisation_id, booking_id=booking.id, amount_pence=amount_pence,
        method="card_online", provider=attempt.provider, provider_ref=provider_ref or "",
        status=PaymentStatus.SUCCEEDED,
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
    attempt.status, attempt.completed_at = CheckoutStatus.COMPLETE, attempt.completed_at or now
    if provider_ref and not attempt.payment_intent_id:
        attempt.payment_intent_id = provider_ref
    s.add(attempt)
    audit.record(s, None, "payment", payment.id, "recorded", after=payment_snapshot(payment),
                 organisation_id=payment.organisation_id, subject=about_booking(s, booking))
    booking_service.timeline(s, offer_of(s, booking), "payment_received",
                             f"{pounds_text(amount_pence)} paid by card online"
                             + (f" ({DEMO_LABEL})" if attempt.provider == "demo" else ""), booking.id)
    if amount_pence != attempt.amount_pence:
        flag_payment(s, payment, f"The card payment was {pounds_text(amount_pence)} but {pounds_text(attempt.amount_pence)} was "
                          "asked for. Check the booking's balance.")
    settle(s, booking, payment, None, now)
    return payment, True


def record_failed_card_payment(s: Session, attempt: CheckoutAttempt, *, provider_ref: str, message: str,
                               now: datetime) -> None:
    """A declined or failed card try: kept for staff, the client's timeline says so, the booking stays payable."""
    booking = s.get(Booking, attempt.booking_id)
    s.add(Payment(
        organisation_id=attempt.organisation_id, booking_id=booking.id, amount_pence=attempt.amount_pence,
        method="card_online", provider=attempt.provider, provider_ref=provider_ref or "", status=PaymentStatus.FAILED,
        recorded_by=attempt.provider, received_at=now, note=message[:500], created_at=now, updated_at=now,
    ))
    attempt.last_error = message[:500]
    s.add(attempt)
    booking_service.timeline(s, offer_of(s, booking), "payment_failed",
                             f"A card payment of {pounds_text(attempt.amount_pence)} failed: {message}"[:500], booking.id)
