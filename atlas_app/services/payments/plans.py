"""Part-payment plans: instalments staff approve for a booking, and cancelling a plan."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, PlanStatus
from atlas_app.models import Booking, Client, CourseSession
from atlas_app.models.payments import (
    PaymentPlan,
    PlanInstalment,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments.ledger import (
    about_booking,
    booking_by_reference,
    offer_of,
    parse_pence,
    pounds_text,
)
from atlas_app.services.payments.staff import PlanView
from atlas_app.services.payments.state import payment_summary
from atlas_app.services.booking import emails
from atlas_app.services.platform import audit, bounds, i18n
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date


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
            out.append((due, parse_pence(raw_amount)))
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
        parsed.append((due_on, parse_pence(amount, "instalments")))
    dates = [d for d, _ in parsed]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise ValidationFailed("Instalment dates must be in order, one per date.", {"instalments": "order"})
    now = utcnow()
    if dates[0] < london_date(now):
        raise ValidationFailed("The first instalment cannot be due in the past.", {"instalments": "past"})
    with write_session() as s:
        booking = booking_by_reference(s, org_id, booking_reference)
        if booking.status not in BookingStatus.BOOKED:
            raise ValidationFailed("A payment plan needs a current booking.", {"reference": booking.status})
        if s.exec(select(PaymentPlan.id).where(PaymentPlan.booking_id == booking.id,
                                               PaymentPlan.status == PlanStatus.ACTIVE)).first():
            raise Conflict("This booking already has an active payment plan.")
        summary = payment_summary(s, booking.id, now)
        total = sum(a for _, a in parsed)
        if summary.outstanding_pence <= 0:
            raise Conflict("This booking has nothing left to pay.")
        if total != summary.outstanding_pence:
            raise ValidationFailed(f"The instalments add up to {pounds_text(total)}, but "
                                   f"{pounds_text(summary.outstanding_pence)} is owed.", {"instalments": "total"})
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
        offer = offer_of(s, booking)
        schedule = "; ".join(f"{pounds_text(a)} by {d:%d %b %Y}" for d, a in parsed)
        booking_service.timeline(s, offer, "payment_plan", f"Payment plan agreed: {schedule}", booking.id,
                                 actor.username)
        audit.record(s, actor, "payment_plan", plan.id, "approved",
                     after={"booking": booking.reference, "total_pence": total,
                            "allow_attend": plan.allow_attend_on_plan,
                            "instalments": [[d.isoformat(), a] for d, a in parsed], "reason": reason},
                            subject=about_booking(s, booking))
        if allow_attend_on_plan and booking.status == BookingStatus.AWAITING_PAYMENT:
            booking.status, booking.updated_at = BookingStatus.CONFIRMED, now
            s.add(booking)
            booking_service.timeline(s, offer, "confirmed_on_plan",
                                     "Confirmed: the client may attend while paying by instalments.", booking.id,
                                     actor.username)
        client = s.get(Client, offer.client_id)
        if client and client.email:
            def instalments() -> dict:  # in the client's language
                return {"plan": {"instalments": "\n".join(
                    "  " + i18n._("{amount} by {date}").format(amount=i18n.money(a), date=i18n.day_month_year(d))
                    for d, a in parsed)}}

            emails.send(s, "payment_plan", view=booking_service.booking_view(s, booking), offer=offer,
                        client=client, extra=instalments)
        return PlanView(plan.id, plan.status, total, plan.allow_attend_on_plan, reason, actor.username, now, parsed)


def cancel_plan(actor: Actor, plan_id: int, reason: str) -> None:
    actor.require(Perm.PAYMENTS_REFUND)
    org_id = actor.require_org()
    reason = str(reason or "").strip()[:300]
    if not reason:
        raise ValidationFailed("Give the reason for ending the payment plan.", {"reason": "required"})
    with write_session() as s:
        plan = s.exec(select(PaymentPlan).where(PaymentPlan.id == bounds.query_id(plan_id),
                                                PaymentPlan.organisation_id == org_id)
                      .with_for_update().execution_options(populate_existing=True)).first()
        if plan is None:
            raise NotFound("No such payment plan.")
        if plan.status != PlanStatus.ACTIVE:
            raise Conflict("That payment plan is not active.")
        plan.status, plan.cancelled_at = PlanStatus.CANCELLED, utcnow()
        s.add(plan)
        booking = s.get(Booking, plan.booking_id)
        booking_service.timeline(s, offer_of(s, booking), "payment_plan_cancelled", reason, booking.id, actor.username)
        audit.record(s, actor, "payment_plan", plan.id, "cancelled", after={"reason": reason},
                     subject=about_booking(s, plan.booking_id))
