"""Payments without Stripe: the payment state, telephone and offline payments, refunds, waivers, payment plans,
overdue bookings (release or chase), reconciliation, and the demo card provider."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, update
from sqlmodel import select

from atlas_app.db import get_engine, read_session, utcnow, write_session
from atlas_app.models import AuditEntry, Booking, ClientEvent, EmailMessage, Offer
from atlas_app.models.payments import CheckoutAttempt, Payment, PaymentPlan
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments import checkout
from atlas_app.services import payments
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.payments import PaymentFacts, payment_state
from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable
from atlas_app.timeutil import london_date
from conftest import actor_for, all_rows
from payments_support import *  # noqa: F403

NOW = utcnow()
PAST = NOW - timedelta(hours=1)
FUTURE = NOW + timedelta(days=2)


def set_due(reference: str, when) -> None:
    with write_session() as s:
        s.exec(update(Booking).where(Booking.reference == reference).values(payment_due_at=when))


def emails_to(address: str) -> list[EmailMessage]:
    return all_rows(EmailMessage, EmailMessage.to_address == address, order_by=EmailMessage.id)


def client_email(reference: str) -> str:
    from atlas_app.models import Client

    with read_session() as s:
        b = s.exec(select(Booking).where(Booking.reference == reference)).one()
        return s.get(Client, s.get(Offer, b.offer_id).client_id).email


def timeline_kinds(reference: str) -> list[str]:
    b = booking_row(reference)
    return [e.kind for e in all_rows(ClientEvent, ClientEvent.booking_id == b.id, order_by=ClientEvent.id)]


# --- the payment state ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("facts, expected", [
    (PaymentFacts(fee_pence=9500, paid_pence=9500, payment_due_at=PAST), "paid"),
    (PaymentFacts(fee_pence=9500, payment_due_at=FUTURE), "awaiting_payment"),
    (PaymentFacts(fee_pence=9500, paid_pence=4000, payment_due_at=FUTURE), "part_paid"),
    (PaymentFacts(fee_pence=9500, paid_pence=4000, payment_due_at=PAST), "overdue"),
    (PaymentFacts(fee_pence=9500, payment_due_at=PAST), "overdue"),
    (PaymentFacts(fee_pence=9500, paid_pence=9500, refunded_pence=9500, payment_due_at=PAST), "refunded"),
    (PaymentFacts(fee_pence=9500, paid_pence=9500, refunded_pence=2000, payment_due_at=FUTURE), "refunded"),
    (PaymentFacts(fee_pence=9500, waived_pence=9500, payment_due_at=PAST), "waived"),
    (PaymentFacts(fee_pence=9500, paid_pence=5000, waived_pence=4500, payment_due_at=PAST), "paid"),
    # a released (expired) booking is never "overdue"
    (PaymentFacts(fee_pence=9500, payment_due_at=PAST, booking_status="expired"), "awaiting_payment"),
    # a held booking has no deadline yet
    (PaymentFacts(fee_pence=9500, payment_due_at=None, booking_status="held"), "awaiting_payment"),
    # on a plan the instalments decide: £30 due so far, £30 paid -> part-paid, although the booking deadline passed
    (PaymentFacts(fee_pence=9000, paid_pence=3000, payment_due_at=PAST, plan_active=True, plan_total_pence=9000,
                  plan_due_pence=3000), "part_paid"),
    (PaymentFacts(fee_pence=9000, paid_pence=3000, payment_due_at=FUTURE, plan_active=True, plan_total_pence=9000,
                  plan_due_pence=6000), "overdue"),
])
def test_payment_state_rule(facts, expected):
    assert payment_state(facts, NOW) == expected


def test_payment_state_of_each_of_six_real_bookings_in_one_query(world, actor):
    paid, awaiting, part, overdue, refunded, waived = (awaiting_booking(world) for _ in range(6))
    payments.record_payment(actor, paid.reference, "95.00", "cash")
    payments.record_payment(actor, part.reference, "40", "cheque", reference="100234")
    set_due(overdue.reference, PAST)
    row = payments.record_payment(actor, refunded.reference, 9500, "card_telephone", reference="AUTH12")
    payments.refund_payment(actor, row.id, "95.00", "Client cancelled within the cooling-off period")
    payments.record_payment(actor, waived.reference, 9500, "waiver", note="Hardship: council tax support")
    ids = [booking_row(b.reference).id for b in (paid, awaiting, part, overdue, refunded, waived)]

    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(statement)

    engine = get_engine()
    with read_session() as s:
        event.listen(engine, "before_cursor_execute", count)
        try:
            summaries = payments.payment_summaries(s, ids)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert [summaries[i].state for i in ids] == ["paid", "awaiting_payment", "part_paid", "overdue", "refunded",
                                                 "waived"]
    assert summaries[ids[2]].outstanding_pence == 5500
    assert payments.booking_payment_states(world.org_id, ids) == {i: summaries[i].state for i in ids}


def test_payments_follow_a_transferred_booking(world, actor):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "95", "cash")
    assert booking_row(b.reference).status == "confirmed"
    with write_session() as s:
        other = booking_service.CourseSession(
            organisation_id=world.org_id, course_type_id=world.course_type_id, venue_id=world.venue_id,
            delivery_mode="classroom", starts_at=utcnow() + timedelta(days=12),
            ends_at=utcnow() + timedelta(days=12, hours=3), capacity=5)
        s.add(other)
        s.flush()
        other_id = other.id
    moved = booking_service.transfer(world.org_id, b.reference, other_id, actor=actor)
    assert moved.status == "confirmed"
    summary = payments.booking_payments(actor, moved.reference).summary
    assert (summary.state, summary.paid_pence) == ("paid", 9500)


# --- telephone and offline payments ----------------------------------------------------------------------------


def test_telephone_payment_confirms_the_booking_with_who_and_when(world, make_user):
    agent = actor_for(make_user("cc.agent", roles=("Contact centre",)))
    b = awaiting_booking(world)
    row = payments.record_payment(agent, b.reference, "95.00", "card_telephone", reference="AUTH-778812",
                                  note="Paid on the phone")
    assert (row.method, row.provider, row.recorded_by, row.status) == ("card_telephone", "offline", "cc.agent",
                                                                       "succeeded")
    p = payments_for(b.reference)[0]
    assert p.recorded_by_user_id == agent.user_id and p.received_at is not None
    assert booking_row(b.reference).status == "confirmed"
    assert "paid" in timeline_kinds(b.reference)
    receipt = emails_to(client_email(b.reference))[-1]
    assert "Payment received" in receipt.subject and "confirmed" in receipt.body_text
    actions = [(a.entity, a.action, a.username) for a in all_rows(AuditEntry, order_by=AuditEntry.id)]
    assert ("payment", "recorded", "cc.agent") in actions and ("booking", "paid", "cc.agent") in actions


def test_offline_part_payments_then_paid(world, actor):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "50", "cheque", reference="000123")
    assert booking_row(b.reference).status == "awaiting_payment"
    assert payments.booking_payments(actor, b.reference).summary.state == "part_paid"
    with pytest.raises(ValidationFailed, match="more than the £45.00 still owed"):
        payments.record_payment(actor, b.reference, "50", "cash")
    payments.record_payment(actor, b.reference, "45", "bank_transfer", reference="FP-99")
    assert booking_row(b.reference).status == "confirmed"
    with pytest.raises(Conflict, match="nothing left to pay"):
        payments.record_payment(actor, b.reference, "1", "cash")


def test_payment_input_is_checked(world, actor):
    b = awaiting_booking(world)
    with pytest.raises(ValidationFailed, match="authorisation code"):
        payments.record_payment(actor, b.reference, "95", "card_telephone")
    with pytest.raises(ValidationFailed, match="how the payment was made"):
        payments.record_payment(actor, b.reference, "95", "card_online")
    with pytest.raises(ValidationFailed):
        payments.record_payment(actor, b.reference, "-5", "cash")
    with pytest.raises(ValidationFailed):
        payments.record_payment(actor, b.reference, "9.999", "cash")
    with pytest.raises(ValidationFailed, match="future"):
        payments.record_payment(actor, b.reference, "95", "cash", received_at=utcnow() + timedelta(days=1))
    assert payments_for(b.reference) == []


def test_payment_permissions_and_tenancy(world, org, other_org, make_user, actor, other_actor):
    b = awaiting_booking(world)
    reader = actor_for(make_user("read.only", roles=("Read-only",)))
    agent = actor_for(make_user("cc.agent", roles=("Contact centre",)))
    with pytest.raises(PermissionDenied):
        payments.record_payment(reader, b.reference, "95", "cash")
    # another organisation's booking does not exist for Essex staff
    with pytest.raises(NotFound):
        payments.record_payment(other_actor, b.reference, "95", "cash")
    with pytest.raises(NotFound):
        payments.booking_payments(other_actor, b.reference)
    row = payments.record_payment(agent, b.reference, "95", "cash")
    # refunds need the refund permission, and another organisation cannot refund at all
    with pytest.raises(PermissionDenied):
        payments.refund_payment(agent, row.id, "95", "Asked for it back")
    with pytest.raises(NotFound):
        payments.refund_payment(other_actor, row.id, "95", "Asked for it back")
    # waivers are a concession: refund permission and a reason
    b2 = awaiting_booking(world)
    with pytest.raises(PermissionDenied):
        payments.record_payment(agent, b2.reference, "95", "waiver", note="Hardship")
    with pytest.raises(ValidationFailed, match="reason"):
        payments.record_payment(actor, b2.reference, "95", "waiver")
    assert payments_for(b.reference)[0].refunded_pence == 0


# --- refunds of offline payments -------------------------------------------------------------------------------


def test_offline_refunds_partial_then_full_with_reasons(world, actor):
    b = awaiting_booking(world)
    row = payments.record_payment(actor, b.reference, "95", "cash")
    with pytest.raises(ValidationFailed, match="reason"):
        payments.refund_payment(actor, row.id, "10", "  ")
    r1 = payments.refund_payment(actor, row.id, "10", "Goodwill: venue changed")
    assert (r1.amount_pence, r1.status, r1.by_username) == (1000, "succeeded", "hbc.admin")
    assert payments.booking_payments(actor, b.reference).summary.state == "refunded"
    with pytest.raises(ValidationFailed, match="At most £85.00"):
        payments.refund_payment(actor, row.id, "90", "Too much")
    payments.refund_payment(actor, row.id, "85", "Course cancelled by the council")
    p = payments_for(b.reference)[0]
    assert p.refunded_pence == 9500
    assert [r.amount_pence for r in refunds_for(p.id)] == [1000, 8500]
    assert "refunded" in timeline_kinds(b.reference)
    assert any("Refund for booking" in m.subject for m in emails_to(client_email(b.reference)))


# --- payment plans ---------------------------------------------------------------------------------------------


def test_payment_plan_counts_as_paid_only_when_complete(world, actor):
    b = awaiting_booking(world)
    today = london_date(utcnow())
    with pytest.raises(ValidationFailed, match="add up to"):
        payments.approve_plan(actor, b.reference, [(today, "40"), (today + timedelta(days=3), "40")],
                              reason="Universal credit")
    with pytest.raises(ValidationFailed, match="before the course"):
        payments.approve_plan(actor, b.reference, [(today, "45"), (today + timedelta(days=30), "50")],
                              reason="Universal credit")
    plan = payments.approve_plan(actor, b.reference, [(today, "45"), (today + timedelta(days=30), "50")],
                                 allow_attend_on_plan=True, reason="Universal credit")
    assert plan.total_pence == 9500
    # may attend on the plan: the seat is confirmed, but the booking is not paid
    assert booking_row(b.reference).status == "confirmed"
    assert payments.booking_payments(actor, b.reference).summary.state == "awaiting_payment"
    # the demo checkout asks for the next instalment, not the whole balance
    start = checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)
    assert start.amount_pence == 4500
    payments.record_payment(actor, b.reference, "45", "cash")
    s = payments.booking_payments(actor, b.reference).summary
    assert (s.state, s.plan_active) == ("part_paid", True)
    payments.record_payment(actor, b.reference, "50", "cash")
    bp = payments.booking_payments(actor, b.reference)
    assert bp.summary.state == "paid" and bp.plans[0].status == "complete"


def test_missed_instalment_is_overdue_and_chased(world, actor):
    b = awaiting_booking(world)
    today = london_date(utcnow())
    plan = payments.approve_plan(actor, b.reference, [(today, "45"), (today + timedelta(days=5), "50")],
                                 reason="Hardship")
    assert booking_row(b.reference).status == "awaiting_payment"
    # the booking's own deadline no longer applies while the plan runs
    set_due(b.reference, PAST)
    assert payments.booking_payments(actor, b.reference).summary.state == "awaiting_payment"
    report = payments.process_overdue()
    assert report.released == 0 and booking_row(b.reference).status == "awaiting_payment"
    # two days later the first instalment is missed
    later = utcnow() + timedelta(days=2)
    with read_session() as s:
        assert payments.payment_summary(s, booking_row(b.reference).id, later).state == "overdue"
    report = payments.process_overdue(now=later)
    assert report.instalments_chased == 1 and report.released == 0
    assert booking_row(b.reference).status == "awaiting_payment"
    assert "payment_reminder" in timeline_kinds(b.reference)
    with pytest.raises(Conflict):
        payments.approve_plan(actor, b.reference, [(today, "95")], reason="again")
    payments.cancel_plan(actor, plan.id, "Client asked to pay in full")
    assert all_rows(PaymentPlan)[0].status == "cancelled"


# --- overdue bookings: release or chase -----------------------------------------------------------------------


def test_overdue_unpaid_booking_is_released_and_its_seat_freed(world):
    b = awaiting_booking(world)
    fresh = awaiting_booking(world)
    assert session_row(world.session_id).seats_taken == 2
    set_due(b.reference, PAST)
    report = payments.process_overdue()
    assert (report.released, report.chased) == (1, 0)
    row = booking_row(b.reference)
    assert row.status == "expired"
    assert booking_row(fresh.reference).status == "awaiting_payment"
    assert session_row(world.session_id).seats_taken == 1
    with read_session() as s:
        assert s.get(Offer, row.offer_id).status == "referred"
    assert "released_unpaid" in timeline_kinds(b.reference)
    assert any("has been released" in m.subject for m in emails_to(client_email(b.reference)))
    # a second run changes nothing
    assert payments.process_overdue().released == 0
    assert session_row(world.session_id).seats_taken == 1


def test_overdue_booking_is_chased_once_a_day_when_terms_say_chase(org):
    world = make_world(org.id, unpaid_action="chase")
    b = awaiting_booking(world)
    set_due(b.reference, PAST)
    assert payments.process_overdue().chased == 1
    assert payments.process_overdue().chased == 0
    assert payments.process_overdue(now=utcnow() + timedelta(hours=25)).chased == 1
    assert booking_row(b.reference).status == "awaiting_payment"
    reminders = [m for m in emails_to(client_email(b.reference)) if m.subject.startswith("Reminder")]
    assert len(reminders) == 2 and "£95.00" in reminders[0].body_text


def test_part_paid_overdue_booking_is_chased_not_released(world, actor):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "20", "cash")
    set_due(b.reference, PAST)
    report = payments.process_overdue()
    assert (report.released, report.chased) == (0, 1)
    assert booking_row(b.reference).status == "awaiting_payment"


def test_booking_being_paid_for_now_is_not_released(world, no_stripe):
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)
    set_due(b.reference, PAST)
    assert payments.process_overdue().released == 0
    # ... and once the checkout has gone stale, it is
    report = payments.process_overdue(now=utcnow() + timedelta(minutes=31))
    assert report.checkouts_expired == 1 and report.released == 1
    assert attempt_row(start.session_id).status == "expired"


# --- reconciliation ---------------------------------------------------------------------------------------------


def test_reconciliation_per_day_and_method_matches_the_bookings(world, actor, make_user):
    staff = actor_for(make_user("booking.staff", roles=("Booking staff",)))
    agent = actor_for(make_user("cc.agent", roles=("Contact centre",)))
    today = london_date(utcnow())
    yesterday_noon = utcnow() - timedelta(days=1)
    b1, b2, b3, b4 = (awaiting_booking(world) for _ in range(4))
    # card online, with Stripe's fee known (written as the card provider would)
    with write_session() as s:
        attempt = CheckoutAttempt(organisation_id=world.org_id, booking_id=booking_row(b1.reference).id,
                                  provider="stripe", provider_session_id="cs_test_recon", amount_pence=9500,
                                  idempotency_key="k-recon")
        s.add(attempt)
        s.flush()
        payments.record_provider_payment(s, attempt, amount_pence=9500, provider_ref="pi_test_recon",
                                         fee_pence=163, now=utcnow())
    p2 = payments.record_payment(agent, b2.reference, "95", "card_telephone", reference="AUTH1")
    payments.record_payment(staff, b3.reference, "50", "cheque", reference="000777", received_at=yesterday_noon)
    payments.record_payment(staff, b3.reference, "45", "cash")
    payments.record_payment(actor, b4.reference, "95", "waiver", note="Hardship")
    payments.refund_payment(actor, p2.id, "20", "Goodwill")

    with pytest.raises(PermissionDenied):
        payments.reconciliation(agent, today - timedelta(days=1), today)
    report = payments.reconciliation(staff, today - timedelta(days=1), today)
    rows = {(r.day, r.group): r for r in report.rows}
    assert rows[(today - timedelta(days=1), "offline")].gross_pence == 5000
    assert rows[(today, "offline")].gross_pence == 4500
    card = rows[(today, "card_online")]
    assert (card.payments, card.gross_pence, card.fees_pence, card.after_fees_pence) == (1, 9500, 163, 9337)
    phone = rows[(today, "card_telephone")]
    assert (phone.gross_pence, phone.refunds_pence, phone.net_pence, phone.fees_unknown) == (9500, 2000, 7500, 1)
    assert rows[(today, "waiver")].gross_pence == 9500
    total = report.totals["all"]
    assert (total.payments, total.gross_pence, total.refunds_pence, total.net_pence, total.fees_pence) == \
        (4, 28500, 2000, 26500, 163)
    # the totals match the bookings: what each booking has kept, summed
    assert sum(report.booking_totals.values()) == total.net_pence
    with read_session() as s:
        kept = payments.payment_summaries(s, [booking_row(b.reference).id for b in (b1, b2, b3)])
    assert sum(x.paid_pence for x in kept.values()) == total.net_pence
    assert not report.includes_demo
    # only this day: yesterday's cheque is left out
    assert payments.reconciliation(staff, today, today).totals["all"].gross_pence == 23500

    lines = payments.reconciliation_csv(staff, today - timedelta(days=1), today)
    assert lines.splitlines()[0].startswith("date,time,type,method")
    assert b3.reference in lines and "-20.00" in lines and ",1.63," in lines
    summary = payments.reconciliation_csv(staff, today - timedelta(days=1), today, kind="summary")
    assert "total,All money,4,285.00,1.63,1,20.00,265.00,263.37" in summary


def test_reconciliation_of_another_organisation_is_empty(world, actor, other_actor):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "95", "cash")
    today = london_date(utcnow())
    assert payments.reconciliation(other_actor, today, today).totals["all"].gross_pence == 0


def test_csv_cells_cannot_become_formulas(world, actor):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "95", "cash", note="=HYPERLINK(\"http://evil\")")
    today = london_date(utcnow())
    assert "'=HYPERLINK" in payments.reconciliation_csv(actor, today, today)


# --- needs attention ------------------------------------------------------------------------------------------


def test_paying_twice_is_flagged_for_a_refund(world, actor, no_stripe):
    b = awaiting_booking(world)
    offer_id = booking_row(b.reference).offer_id
    first = checkout.start_checkout(world.org_id, offer_id, b.reference)
    # a second tab (different return address) reuses the open checkout rather than making another
    assert checkout.start_checkout(world.org_id, offer_id, b.reference, success_url="/pay/return").session_id == \
        first.session_id
    # the client pays by telephone meanwhile, then completes the online payment too
    payments.record_payment(actor, b.reference, "95", "card_telephone", reference="AUTH9")
    assert checkout.demo_pay(first.session_id, "4242 4242 4242 4242", "12/40", "123").outcome == "paid"
    rows = payments.attention_list(actor)
    assert len(rows) == 1 and "more than its fee" in rows[0].reason
    payments.refund_payment(actor, rows[0].payment_id, "95", "Paid twice")
    assert payments.attention_list(actor) == []


# --- the demo card provider -----------------------------------------------------------------------------------


def test_demo_provider_success(world, actor, no_stripe):
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)
    assert start.is_demo and start.provider == "demo"
    assert start.url.startswith("/pay/demo?attempt=demo_cs_") and len(start.session_id) > 30
    view = checkout.demo_checkout(start.session_id)
    assert (view.amount_pence, view.booking_reference, view.label) == (9500, b.reference, "DEMO — no real money")
    result = checkout.demo_pay(start.session_id, "4242 4242 4242 4242", "12 / 40", "123")
    assert result.outcome == "paid"
    assert result.redirect_url == f"http://atlas.test/pay/return?session_id={start.session_id}"
    done = checkout.complete_checkout(start.session_id)
    assert (done.outcome, done.is_demo, done.payment_state) == ("paid", True, "paid")
    assert booking_row(b.reference).status == "confirmed"
    p = payments_for(b.reference)[0]
    assert (p.provider, p.method, p.amount_pence) == ("demo", "card_online", 9500)
    assert "DEMO" in emails_to(client_email(b.reference))[-1].subject
    # paying again on the same page changes nothing
    assert checkout.demo_pay(start.session_id, "4242424242424242", "12/40", "123").outcome == "paid"
    assert len(payments_for(b.reference)) == 1
    today = london_date(utcnow())
    assert payments.reconciliation(actor, today, today).includes_demo


def test_demo_provider_decline_leaves_the_booking_payable(world, admin, no_stripe):
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)
    result = checkout.demo_pay(start.session_id, "4000 0000 0000 0002", "12/40", "123")
    assert result.outcome == "declined" and "declined" in result.message
    assert booking_row(b.reference).status == "awaiting_payment"
    assert [p.status for p in payments_for(b.reference)] == ["failed"]
    assert checkout.complete_checkout(start.session_id).outcome == "declined"
    assert "payment_failed" in timeline_kinds(b.reference)
    # then a good card works on the same page
    assert checkout.demo_pay(start.session_id, "4242424242424242", "1240", "1234").outcome == "paid"
    assert booking_row(b.reference).status == "confirmed"


def test_demo_card_form_is_validated(world, no_stripe):
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)
    result = checkout.demo_pay(start.session_id, "4242 4242 4242 4241", "13/30", "12")
    assert result.outcome == "invalid"
    assert set(result.errors) == {"card_number", "expiry", "cvc"}
    assert "past" in checkout.demo_pay(start.session_id, "4242424242424242", "01/20", "123").errors["expiry"]
    assert payments_for(b.reference) == []
    with pytest.raises(NotFound):
        checkout.demo_checkout("demo_cs_guessed")
    with pytest.raises(NotFound):
        checkout.demo_pay("cs_test_not_demo", "4242424242424242", "12/40", "123")


def test_demo_provider_refuses_to_run_beside_a_live_key(world, set_env):
    b = awaiting_booking(world)
    set_env(STRIPE_SECRET_KEY=None)
    start = checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)
    set_env(STRIPE_SECRET_KEY="sk_live_not_a_real_key")
    with pytest.raises(PaymentsUnavailable):
        checkout.demo_checkout(start.session_id)
    with pytest.raises(PaymentsUnavailable):
        checkout.demo_pay(start.session_id, "4242424242424242", "12/40", "123")
    assert payments_for(b.reference) == []


def test_checkout_only_for_the_clients_own_payable_booking(world, no_stripe, actor):
    b = awaiting_booking(world)
    other_offer = make_offer(world)
    with pytest.raises(NotFound):
        checkout.start_checkout(world.org_id, other_offer, b.reference)
    with pytest.raises(ValidationFailed, match="on this site"):
        checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference,
                                success_url="https://evil.example/steal")
    payments.record_payment(actor, b.reference, "95", "cash")
    with pytest.raises(Conflict, match="already paid"):
        checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)


def test_demo_payment_after_release_takes_a_free_seat_back(world, no_stripe):
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)
    # the deadline passes and a sweep (ignoring the open checkout) releases the booking
    with write_session() as s:
        s.exec(update(Booking).where(Booking.reference == b.reference).values(status="expired"))
        s.exec(update(booking_service.CourseSession).values(seats_taken=0))
    assert checkout.demo_pay(start.session_id, "4242424242424242", "12/40", "123").outcome == "paid"
    assert booking_row(b.reference).status == "confirmed"
    assert session_row(world.session_id).seats_taken == 1
    assert "seat_retaken" in timeline_kinds(b.reference)
    assert all_rows(Payment)[0].needs_attention is False
