"""The money side of cancelling a booking that was paid for: refund = net paid less the cancellation fee, card
payments refunded at once, offline money flagged for staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from atlas_app.services.platform.i18n import _
from atlas_app.db import read_session, utcnow
from atlas_app.domain.statuses import BookingStatus, PaymentStatus, RefundStatus
from atlas_app.models import Booking
from atlas_app.models.payments import (
    Payment,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking.bookings import ClientProof
from atlas_app.services.payments.ledger import flag_payment, offer_of, pounds_text
from atlas_app.services.payments.refunds import (
    ReservedRefund,
    reserve_refund,
    send_card_refund,
)
from atlas_app.services.payments.staff import RefundRow
from atlas_app.services.payments.state import METHOD_LABELS, lineage_cte
from atlas_app.services.platform import locks
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound

REFUNDED_AUTOMATICALLY = ("stripe", "govuk_pay", "demo")  # providers whose card payments Atlas refunds itself


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
        return (f"Booking cancelled (cancellation fee {pounds_text(self.fee_pence)} kept)" if self.fee_pence
                else "Booking cancelled")

    def lines(self) -> list[str]:
        """For the client, in the second person: what is refunded and what fee is kept."""
        if self.paid_pence <= 0:
            return []
        # In the client's language (the current one: see services/platform/i18n.py).
        if self.refund_pence <= 0:
            return [_("The cancellation fee of {fee} is kept from the {paid} you paid, so there is nothing to "
                      "refund.").format(fee=pounds_text(self.fee_pence), paid=pounds_text(self.paid_pence))]
        out = [_("You paid {paid}.").format(paid=pounds_text(self.paid_pence))
               + (_(" A cancellation fee of {fee} is kept, as our booking terms say.").format(
                   fee=pounds_text(self.fee_pence)) if self.fee_pence else "")]
        if self.card_pence:
            out.append(_("{amount} is being refunded to the card you paid with; card refunds usually reach your "
                         "account within 5 to 10 working days.").format(amount=pounds_text(self.card_pence)))
        if self.offline_pence:
            out.append(_("{amount} you paid by cash, cheque or bank transfer will be refunded to you by us; we will "
                         "contact you about it.").format(amount=pounds_text(self.offline_pence)))
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
            return (f"Paid {pounds_text(self.paid_pence)}. The cancellation fee of {pounds_text(self.fee_pence)} is kept, "
                    "so nothing is refunded.")
        parts = [f"Paid {pounds_text(self.paid_pence)}. {pounds_text(self.refund_pence)} will be refunded"
                 + (f" (cancellation fee {pounds_text(self.fee_pence)} kept)" if self.fee_pence else "") + "."]
        if self.card_pence:
            parts.append(f"{pounds_text(self.card_pence)} goes back to the card at once.")
        if self.offline_pence:
            parts.append(f"{pounds_text(self.offline_pence)} was taken offline: it will be listed under payments "
                         "needing attention for you to refund.")
        return " ".join(parts)


NO_MONEY = CancelMoney(0, 0, 0, 0, 0)


def _cancel_money(s: Session, booking: Booking, status: str) -> CancelMoney:
    """The one rule for money when a booking (in ``status``) is cancelled: the net paid less the organisation's
    cancellation fee (no fee for a seat hold), never below zero, taken from the newest payments first."""
    lineage = s.exec(select(lineage_cte([booking.id]).c.ancestor_id)).all()
    pays = s.exec(select(Payment).where(Payment.booking_id.in_(lineage), Payment.status == PaymentStatus.SUCCEEDED,
                                        Payment.method != "waiver")
                  .order_by(Payment.received_at.desc(), Payment.id.desc())).all()
    paid = sum(p.amount_pence - p.refunded_pence for p in pays)
    if paid <= 0:
        return NO_MONEY
    fee = 0 if status == BookingStatus.HELD else booking_service.get_terms(s, booking.organisation_id).cancel_fee_pence
    fee = min(max(fee, 0), paid)
    remaining, parts = paid - fee, []
    for p in pays:
        take = min(p.amount_pence - p.refunded_pence, remaining)
        if take > 0:
            parts.append((p.id, take, p.provider in REFUNDED_AUTOMATICALLY))
            remaining -= take
    card = sum(pence for _, pence, auto in parts if auto)
    return CancelMoney(paid, fee, paid - fee, card, paid - fee - card, tuple(parts))


def cancel_preview(organisation_id: int, reference: str, client: ClientProof | None = None, *,
                   actor: Actor | None = None) -> CancelMoney:
    """What cancelling the booking now would refund and keep (for the confirmation before cancelling): for staff
    (``actor``, who may manage the organisation's bookings) or the client (``client``) whose offer it is."""
    booking_service.check_caller(organisation_id, actor, client)
    with read_session() as s:
        booking = s.exec(select(Booking).where(Booking.reference == str(reference or "").strip().upper(),
                                               Booking.organisation_id == organisation_id)).first()
        if booking is None:
            raise NotFound("No such booking.")
        booking_service.check_clients_booking(booking, actor, client)
        return _cancel_money(s, booking, booking.status)


@dataclass(frozen=True)
class CancelOutcome:
    booking: Any  # booking_service.BookingView
    money: CancelMoney
    refunds: list[RefundRow]  # refunds made (or pending at Stripe) to cards
    attention_pence: int  # left for staff to refund: money taken offline, or a card refund Stripe did not make

    @property
    def refunded_pence(self) -> int:
        return sum(r.amount_pence for r in self.refunds if r.status in RefundStatus.COUNTS)

    @property
    def summary(self) -> str:
        """For staff."""
        parts = [f"Cancelled {self.booking.reference}; the seat is free again."]
        if self.money.paid_pence:
            parts.append(f"Refunded {pounds_text(self.refunded_pence)} to the card"
                         + (f", cancellation fee {pounds_text(self.money.fee_pence)} kept" if self.money.fee_pence
                            else "") + ".")
        if self.attention_pence:
            parts.append(f"{pounds_text(self.attention_pence)} still to refund: see Payments needing attention.")
        return " ".join(parts)


def cancel_booking(organisation_id: int, reference: str, *, actor: Actor | None = None,
                   client: ClientProof | None = None, reason: str = "") -> CancelOutcome:
    """Cancel a booking (``booking.cancel``: staff with ``actor``, or the client with ``client``)
    and deal with the money paid for it as :func:`_cancel_money` says. Inside the cancelling transaction card
    refunds are reserved and money taken offline is flagged for staff ("Refund due"); after it commits the refunds
    are made through Stripe. If Stripe refuses or cannot be reached the cancellation stands and the payment is
    flagged with Stripe's error."""
    who = actor
    reserved: list[ReservedRefund] = []
    planned: list[CancelMoney] = []

    def money(s: Session, booking: Booking, status: str) -> list[str]:
        nonlocal who
        now = utcnow()
        plan = _cancel_money(s, booking, status)
        planned[:], reserved[:] = [plan], []
        if who is None:
            offer = offer_of(s, booking)
            who = Actor(user_id=None, username=f"client:{offer.client_id}", organisation_id=organisation_id)
        payments = locks.lock(s, *(locks.payment(payment_id) for payment_id, _, _ in plan.parts))
        for payment_id, pence, automatic in plan.parts:
            payment = payments[locks.payment(payment_id)]
            if automatic:
                reserved.append(reserve_refund(s, booking, payment, pence, plan.reason, "cancellation", who, now))
            else:
                flag_payment(s, payment, f"Refund due: {pounds_text(pence)} after booking {booking.reference} was cancelled "
                                  f"(cancellation fee {pounds_text(plan.fee_pence)} kept). The money was taken "
                                  f"{METHOD_LABELS.get(payment.method, payment.method).lower()}: refund it to the "
                                  "client and record the refund here.", who)
        return plan.lines()

    view = booking_service.cancel(organisation_id, reference, actor=actor, client=client, reason=reason,
                                  money=money)
    plan = planned[0] if planned else NO_MONEY
    rows = []
    for pending in reserved:
        if pending.status == RefundStatus.PENDING:
            rows.append(send_card_refund(
                pending, who, attention=f"Refund due: {pounds_text(pending.row.amount_pence)} after booking "
                                        f"{pending.booking_reference} was cancelled."))
        else:
            rows.append(pending.row)
    failed = sum(r.amount_pence for r in rows if r.status == RefundStatus.FAILED)
    return CancelOutcome(view, plan, rows, plan.offline_pence + failed)
