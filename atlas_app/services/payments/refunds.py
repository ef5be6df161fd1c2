"""Refunds: reserved inside the locked transaction, sent to the card provider after commit with an idempotency key,
recorded or undone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import PaymentStatus, RefundStatus
from atlas_app.models import Booking, Client
from atlas_app.models.payments import (
    Payment,
    Refund,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments.ledger import (
    about_booking,
    flag_payment,
    lock_booking,
    offer_of,
    parse_pence,
    pounds_text,
)
from atlas_app.services.payments.staff import RefundRow
from atlas_app.services.payments.stripe_gateway import (
    PaymentsUnavailable,
    stripe_client,
    stripe_error_text,
)
from atlas_app.services.booking import emails
from atlas_app.services.platform import audit, bounds, locks
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm


def refund_payment(actor: Actor, payment_id: int, amount: Any, reason: str) -> RefundRow:
    """Refund all or part of a payment, with a reason. Card payments taken through Stripe are refunded through
    Stripe; others are recorded as refunded by the organisation (for example by cheque or bank transfer)."""
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    reason = str(reason or "").strip()[:500]
    if not reason:
        raise ValidationFailed("Give the reason for the refund.", {"reason": "required"})
    amount_pence = parse_pence(amount)
    now = utcnow()
    pid = bounds.id_or_none(payment_id)
    if pid is None:
        raise NotFound("No such payment.")
    with write_session() as s:
        found = s.exec(select(Payment.id, Booking.id, Booking.offer_id).join(Booking, Booking.id == Payment.booking_id)
                       .where(Payment.id == pid, Payment.organisation_id == org_id)).first()
        if found is None:
            raise NotFound("No such payment in your organisation.")
        booking = lock_booking(s, found[1], found[2])
        payment = lock_payment(s, pid)
        pending = reserve_refund(s, booking, payment, amount_pence, reason, "atlas", actor, now)
        if pending.status != RefundStatus.PENDING:
            return pending.row
    row = send_card_refund(pending, actor)
    if row.status == RefundStatus.FAILED:
        raise Conflict("Stripe did not make the refund, so nothing was refunded. "
                       f"{'Stripe said: ' + row.error if row.error else ''}".strip())
    return row


@dataclass(frozen=True)
class ReservedRefund:
    row: RefundRow
    payment_intent: str
    booking_reference: str
    provider: str = "stripe"  # the card provider asked by send_card_refund: stripe or govuk_pay

    @property
    def status(self) -> str:
        return self.row.status


def lock_payment(s: Session, payment_id: int) -> Payment:
    """Lock the payment (after its booking and offer, when the caller holds them: see locks)."""
    return locks.lock_one(s, locks.payment(payment_id))


def reserve_refund(s: Session, booking: Booking, payment: Payment, amount_pence: int, reason: str, source: str,
                    actor: Actor | None, now: datetime) -> ReservedRefund:
    """The first half of every refund Atlas makes, inside the caller's transaction (which holds the booking's and
    the payment's locks): check, reserve the amount on the payment, and record the refund. A refund through Stripe
    is left ``pending`` for :func:`send_card_refund` to make after the transaction commits; any other refund
    (the demo provider's, or money the organisation gives back itself) is done at once."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise ValidationFailed("Only a successful payment can be refunded.", {"payment": payment.status})
    if payment.method == "waiver":
        raise ValidationFailed("A waiver is not money and cannot be refunded.", {"payment": "waiver"})
    left = payment.amount_pence - payment.refunded_pence
    if amount_pence > left:
        raise ValidationFailed(f"At most {pounds_text(left)} of this payment can be refunded.", {"amount": "too much"})
    through_stripe = payment.provider in PROVIDER_REFUNDS  # the card provider is asked after the commit
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
        status=RefundStatus.PENDING if through_stripe else RefundStatus.SUCCEEDED, source=source,
        by_user_id=actor.user_id if actor else None, by_username=(actor.username if actor else source)[:80], at=now,
        provider_ref=("demo_re_" + secrets.token_hex(12)) if payment.provider == "demo" else None,
    )
    s.add(refund)
    s.flush()
    if not through_stripe:
        _after_refund(s, actor, booking, payment, refund, now)
    return ReservedRefund(refund_row(refund), payment.provider_ref, booking.reference, payment.provider)


def send_card_refund(pending: ReservedRefund, actor: Actor | None, attention: str = "") -> RefundRow:
    """The second half of a refund through Stripe, outside any transaction: ask Stripe (the idempotency key makes
    a retried call refund once), then record the outcome. A refusal or an unreachable Stripe undoes the
    reservation and marks the refund failed; with ``attention`` the payment is also flagged for staff with that
    text and Stripe's error."""
    amount_pence, refund_id = pending.row.amount_pence, pending.row.id
    if pending.provider == "govuk_pay":
        result, error = _govuk_refund(pending)
        return _record_card_refund(pending, actor, attention, result, error, "GOV.UK Pay")
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
    return _record_card_refund(pending, actor, attention, result, error, "Stripe")


def _govuk_refund(pending: ReservedRefund):
    """Ask GOV.UK Pay for the refund. What it should think is still refundable is the payment less the refunds
    made before this one (this one is reserved already), so a repeat of a refund it made is refused (P0604)."""
    from atlas_app.services.payments import govuk_pay, govuk_pay_accounts

    with read_session() as s:
        payment = s.get(Payment, s.get(Refund, pending.row.id).payment_id)
        available = payment.amount_pence - payment.refunded_pence + pending.row.amount_pence
        org_id = payment.organisation_id
    account = govuk_pay_accounts.account_for(org_id)
    if account is None:
        return None, "GOV.UK Pay is not configured for this organisation."
    try:
        return govuk_pay.refund(pending.payment_intent, pending.row.amount_pence, available,
                                api_key=account.api_key), ""
    except govuk_pay.GovukPayError as exc:
        return None, str(exc)
    except PaymentsUnavailable as exc:
        return None, str(exc)


def _record_card_refund(pending: ReservedRefund, actor: Actor | None, attention: str, result, error: str,
                        provider_name: str) -> RefundRow:
    refund_id = pending.row.id
    with write_session() as s:
        refund = s.get(Refund, refund_id)
        payment = s.get(Payment, refund.payment_id)
        offer_id = s.get(Booking, payment.booking_id).offer_id
        held = locks.lock(s, locks.offer(offer_id), locks.booking(payment.booking_id), locks.payment(payment.id),
                          locks.refund(refund_id))
        booking, payment = held[locks.booking(payment.booking_id)], held[locks.payment(payment.id)]
        refund = held[locks.refund(refund_id)]
        if refund.provider_ref or refund.status == RefundStatus.FAILED:  # recorded already, by another call
            return refund_row(refund)
        if result is None or getattr(result, "status", "") in ("failed", "canceled"):
            refund.status = RefundStatus.FAILED
            refund.error = (error or f"{provider_name} refund {getattr(result, 'status', '')}")[:500]
            s.add(refund)
            s.exec(update(Payment).where(Payment.id == payment.id)
                   .values(refunded_pence=Payment.refunded_pence - refund.amount_pence, updated_at=utcnow()))
            if attention:
                s.refresh(payment)
                flag_payment(s, payment, f"{attention} {provider_name} did not make the refund: {refund.error}", actor)
            audit.record(s, actor, "refund", refund.id, "failed",
                         after={"payment_id": payment.id, "amount_pence": refund.amount_pence,
                                "error": refund.error}, organisation_id=payment.organisation_id,
                                subject=about_booking(s, booking))
        else:
            refund.provider_ref = result.id
            refund.status = RefundStatus.SUCCEEDED if result.status == "succeeded" else RefundStatus.PENDING
            s.add(refund)
            s.refresh(payment)
            _after_refund(s, actor, booking, payment, refund, utcnow())
        return refund_row(refund)


PROVIDER_REFUNDS = ("stripe", "govuk_pay")  # card providers Atlas asks to refund, after the change commits

FAILURE_REASONS = {
    "charge_for_pending_refund_disputed": "the payment was disputed",
    "declined": "the card's bank declined it",
    "expired_or_canceled_card": "the card has expired or was cancelled",
    "insufficient_funds": "the account had too little money to make it",
    "lost_or_stolen_card": "the card was reported lost or stolen",
    "merchant_request": "it was cancelled",
    "unknown": "the bank gave no reason",
}


def provider_refund_update(s: Session, provider_ref: str, status: str, failure_reason: str,
                           now: datetime) -> tuple[str, int | None] | None:
    """The card provider's later word on a refund it accepted (Stripe's ``refund.updated``,
    ``charge.refund.updated``): ``succeeded`` completes a pending refund; ``failed`` or ``canceled`` means the
    money never reached the client, so the refund is marked failed, its amount is no longer counted as refunded,
    and the payment goes on the attention list for staff to refund another way. Idempotent. None when Atlas has
    no refund with that provider reference."""
    found = s.exec(select(Refund.id, Refund.payment_id).where(Refund.provider_ref == provider_ref)).first()
    if found is None:
        return None
    refund_id, payment_id = found
    booking_id = s.get(Payment, payment_id).booking_id
    held = locks.lock(s, locks.offer(s.get(Booking, booking_id).offer_id), locks.booking(booking_id),
                      locks.payment(payment_id), locks.refund(refund_id))
    payment, refund = held[locks.payment(payment_id)], held[locks.refund(refund_id)]
    if status == "succeeded":
        if refund.status != RefundStatus.PENDING:
            return f"refund already {refund.status}", payment.organisation_id
        refund.status = RefundStatus.SUCCEEDED
        s.add(refund)
        return "refund confirmed", payment.organisation_id
    if status not in ("failed", "canceled"):
        return f"refund {status or 'update'}: nothing to change", payment.organisation_id
    if refund.status == RefundStatus.FAILED:
        return "refund failure already recorded", payment.organisation_id
    counted = refund.status in RefundStatus.COUNTS
    why = FAILURE_REASONS.get(failure_reason, FAILURE_REASONS["unknown"]) if status == "failed" else "it was cancelled"
    refund.status = RefundStatus.FAILED
    refund.error = f"Stripe could not make the refund after accepting it: {why} ({failure_reason or status})."[:500]
    s.add(refund)
    if counted:
        s.exec(update(Payment).where(Payment.id == payment.id, Payment.refunded_pence >= refund.amount_pence)
               .values(refunded_pence=Payment.refunded_pence - refund.amount_pence, updated_at=now))
        s.refresh(payment)
    audit.record(s, None, "refund", refund.id, "failed",
                 after={"payment_id": payment.id, "amount_pence": refund.amount_pence, "error": refund.error,
                        "reported_by": "stripe"}, organisation_id=payment.organisation_id,
                        subject=about_booking(s, payment.booking_id))
    flag_payment(s, payment, f"The card refund of {pounds_text(refund.amount_pence)} failed: {why}. The money is "
                             "not back with the client; refund them another way.")
    return "refund failure recorded", payment.organisation_id


def _after_refund(s: Session, actor: Actor | None, booking: Booking, payment: Payment, refund: Refund,
                  now: datetime) -> None:
    audit.record(s, actor, "refund", refund.id, "refunded",
                 after={"payment_id": payment.id, "amount_pence": refund.amount_pence, "reason": refund.reason,
                        "provider_ref": refund.provider_ref, "source": refund.source, "booking": booking.reference},
                 organisation_id=payment.organisation_id, subject=about_booking(s, booking))
    offer = offer_of(s, booking)
    booking_service.timeline(s, offer, "refunded", f"{pounds_text(refund.amount_pence)} refunded: {refund.reason}",
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
        emails.send(s, "refund", view=booking_service.booking_view(s, booking), offer=offer, client=client,
                    extra={"refund": {"amount": pounds_text(refund.amount_pence), "reason": refund.reason,
                                      "demo": demo}}, demo=demo)


def refund_row(r: Refund) -> RefundRow:
    return RefundRow(r.id, r.payment_id, r.amount_pence, r.reason, r.provider_ref or "", r.status, r.source,
                     r.by_username, r.at, r.error)


def apply_provider_refund_total(s: Session, payment: Payment, amount_refunded: int, now: datetime) -> int:
    """A card provider says ``amount_refunded`` has been refunded from this payment in all (Stripe's
    charge.refunded). Refunds made outside Atlas (in Stripe's dashboard) are recorded for the difference; pending
    Atlas refunds are marked done. Idempotent: the total only ever moves up. Returns the pence newly recorded."""
    known = s.exec(select(func.coalesce(func.sum(Refund.amount_pence), 0))
                   .where(Refund.payment_id == payment.id, Refund.status.in_(RefundStatus.COUNTS))).one()
    amount_refunded = min(int(amount_refunded), payment.amount_pence)
    if amount_refunded >= known:
        for pending in s.exec(select(Refund).where(Refund.payment_id == payment.id,
                                                   Refund.status == RefundStatus.PENDING)).all():
            pending.status = RefundStatus.SUCCEEDED
            s.add(pending)
    extra = amount_refunded - int(known)
    if extra <= 0:
        return 0
    booking0 = s.get(Booking, payment.booking_id)
    booking = lock_booking(s, booking0.id, booking0.offer_id)
    changed = s.exec(update(Payment).where(Payment.id == payment.id,
                                           Payment.refunded_pence + extra <= Payment.amount_pence)
                     .values(refunded_pence=Payment.refunded_pence + extra, updated_at=now)).rowcount
    if changed != 1:
        return 0
    refund = Refund(organisation_id=payment.organisation_id, payment_id=payment.id, amount_pence=extra,
                    reason="Refunded in the Stripe dashboard", status=RefundStatus.SUCCEEDED, source="stripe",
                    by_username="stripe", at=now)
    s.add(refund)
    s.flush()
    _after_refund(s, None, booking, payment, refund, now)
    return extra
