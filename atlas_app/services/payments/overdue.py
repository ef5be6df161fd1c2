"""The overdue run: bookings past their payment deadline are released or chased as the booking terms say; unanswered
card refunds are sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, CheckoutStatus, OfferStatus, PayState, PlanStatus, RefundStatus
from atlas_app.models import Booking, Client, ClientEvent
from atlas_app.models.payments import (
    CheckoutAttempt,
    Payment,
    PaymentPlan,
    PlanInstalment,
    Refund,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments.ledger import about_booking, lock_booking, offer_of, pounds_text
from atlas_app.services.payments.refunds import (
    ReservedRefund,
    refund_row,
    send_card_refund,
)
from atlas_app.services.payments.state import (
    REMINDER_INTERVAL,
    PaymentSummary,
    payment_summary,
)
from atlas_app.services.booking import emails
from atlas_app.services.platform import audit
from atlas_app.timeutil import london_date, london_text


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
                         .where(CheckoutAttempt.status == CheckoutStatus.OPEN, CheckoutAttempt.expires_at <= now)
                         .values(status=CheckoutStatus.EXPIRED)).rowcount
    with read_session() as s:
        candidates = s.exec(
            select(Booking.id, Booking.offer_id).where(Booking.status == BookingStatus.AWAITING_PAYMENT,
                                                       Booking.payment_due_at <= now)
            .order_by(Booking.payment_due_at).limit(limit)
        ).all()
        on_plan = s.exec(
            select(Booking.id, Booking.offer_id).join(PaymentPlan, PaymentPlan.booking_id == Booking.id)
            .join(PlanInstalment, PlanInstalment.plan_id == PaymentPlan.id)
            .where(PaymentPlan.status == PlanStatus.ACTIVE, PlanInstalment.due_on < london_date(now),
                   Booking.status.in_(BookingStatus.HOLDS_SEAT)).distinct().limit(limit)
        ).all()
    seen: set[int] = set()
    freed: set[tuple[int, int]] = set()
    for booking_id, offer_id in [*candidates, *on_plan]:
        if booking_id in seen:
            continue
        seen.add(booking_id)
        with write_session() as s:
            booking = lock_booking(s, booking_id, offer_id)
            summary = payment_summary(s, booking.id, now)
            if summary.state != PayState.OVERDUE:
                continue
            if summary.plan_active:
                if _chase(s, booking, summary, now, plan=True):
                    plan_chased += 1
                continue
            if booking.status != BookingStatus.AWAITING_PAYMENT:
                continue
            paying_now = s.exec(select(CheckoutAttempt.id).where(CheckoutAttempt.booking_id == booking.id,
                                                                 CheckoutAttempt.status == CheckoutStatus.OPEN,
                                                                 CheckoutAttempt.expires_at > now)).first()
            if paying_now is not None:
                continue
            terms = booking_service.get_terms(s, booking.organisation_id)
            if terms.unpaid_action == "release" and summary.paid_pence <= 0 and summary.waived_pence <= 0:
                if _release(s, booking, summary, now):
                    released += 1
                    freed.add((booking.organisation_id, booking.session_id))
            elif _chase(s, booking, summary, now, plan=False):
                chased += 1
    for org_id, session_id in sorted(freed):  # the released seats go to the waiting list
        booking_service._tell_waiting_list(org_id, session_id)
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
                      .where(Refund.status == RefundStatus.PENDING, Refund.provider_ref.is_(None),
                             Payment.provider == "stripe",
                             Refund.at <= now - UNSENT_REFUND_AGE).order_by(Refund.id).limit(limit)).all()
    for refund, intent, booking_ref in rows:
        send_card_refund(ReservedRefund(refund_row(refund), intent, booking_ref), None,
                            attention=f"Refund due: {pounds_text(refund.amount_pence)} ({refund.reason}).")
    return len(rows)


def _release(s: Session, booking: Booking, summary: PaymentSummary, now: datetime) -> bool:
    changed = s.exec(update(Booking).where(Booking.id == booking.id, Booking.status == BookingStatus.AWAITING_PAYMENT)
                     .values(status=BookingStatus.EXPIRED, updated_at=now)).rowcount
    if changed != 1:
        return False
    booking_service.give_back_seat(s, booking.session_id)
    offer = offer_of(s, booking)
    if offer.status == OfferStatus.BOOKED:
        offer.status = OfferStatus.REFERRED
        s.add(offer)
    booking_service.timeline(s, offer, "released_unpaid",
                             f"Not paid by {london_text(booking.payment_due_at)}: the booking was released and the "
                             "seat freed.", booking.id)
    audit.record(s, None, "booking", booking.reference, "released_unpaid",
                 before={"status": BookingStatus.AWAITING_PAYMENT},
                 after={"status": BookingStatus.EXPIRED, "payment_due_at": booking.payment_due_at},
                 organisation_id=booking.organisation_id, subject=about_booking(s, booking))
    client = s.get(Client, offer.client_id)
    if client and client.email:
        emails.send(s, "booking_released", view=booking_service.booking_view(s, booking), offer=offer,
                    client=client)
    return True


def _chase(s: Session, booking: Booking, summary: PaymentSummary, now: datetime, plan: bool) -> bool:
    last = s.exec(select(func.max(ClientEvent.at)).where(ClientEvent.booking_id == booking.id,
                                                         ClientEvent.kind == "payment_reminder")).one()
    if last is not None and last > now - REMINDER_INTERVAL:
        return False
    offer = offer_of(s, booking)
    what = "An instalment of your payment plan is overdue" if plan else "Your course fee is overdue"
    s.add(ClientEvent(organisation_id=offer.organisation_id, client_id=offer.client_id, offer_id=offer.id,
                      booking_id=booking.id, at=now, kind="payment_reminder",
                      detail=f"{what}: {pounds_text(summary.outstanding_pence)} still to pay."))
    client = s.get(Client, offer.client_id)
    if client and client.email:
        emails.send(s, "payment_reminder", view=booking_service.booking_view(s, booking), offer=offer,
                    client=client, extra={"reminder": {"outstanding": pounds_text(summary.outstanding_pence),
                                                       "on_plan": plan}})
    return True
