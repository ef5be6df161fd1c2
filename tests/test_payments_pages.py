"""The payment pages' states, driven directly as a browser could: the demo payment page, the return page and the
staff payments page; and the paid flag component."""

from __future__ import annotations

from datetime import timedelta

import pytest
import reflex as rx

from atlas_app.db import utcnow
from atlas_app.services.payments import checkout
from atlas_app.services import payments
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.timeutil import london_date
from atlas_app.ui.components.paid_flag import PAID_FLAGS, paid_flag
from atlas_app.ui.staff.payments import payments as bookings_payments
from atlas_app.ui.staff.payments.payments import BookingPaymentsState
from atlas_app.ui.public.pay_demo import PayDemoState
from atlas_app.ui.public.pay_return import PayReturnState
from conftest import actor_for
from state_support import at, drain, redirect_path, signed_in, substate
from payments_support import *  # noqa: F403


# --- the paid flag ------------------------------------------------------------------------------------------------


def test_paid_flag_has_a_word_and_a_colour_for_every_state():
    assert set(PAID_FLAGS) == set(payments.PAYMENT_STATES)
    rendered = str(paid_flag(rx.Var.create("overdue")).render())
    for words, colour, _icon in PAID_FLAGS.values():
        assert words in rendered and colour in rendered
    assert "Part-paid" in str(paid_flag("part_paid").render())


# --- the demo payment page -------------------------------------------------------------------------------------------


@pytest.fixture
def demo_start(world, no_stripe):
    b = awaiting_booking(world)
    return b, checkout.start_checkout(world.org_id, booking_row(b.reference).offer_id, b.reference)


def test_demo_page_shows_the_payment_and_keeps_the_token_server_side(demo_start):
    b, start = demo_start
    page = at(substate(PayDemoState), "http://atlas.test" + start.url)
    drain(page.load())
    assert (page.status, page.amount_text, page.reference) == ("open", "£95.00", b.reference)
    delta = str(page.get_delta())
    assert start.session_id not in delta and "_token" not in delta


def test_demo_page_decline_then_success(demo_start):
    b, start = demo_start
    page = at(substate(PayDemoState), "http://atlas.test" + start.url)
    drain(page.load())
    drain(page.pay({"card_number": "4000 0000 0000 0002", "expiry": "12/40", "cvc": "123"}))
    assert "declined" in page.problem and page.status == "open"
    assert booking_row(b.reference).status == "awaiting_payment"
    drain(page.pay({"card_number": "1234", "expiry": "", "cvc": "1"}))
    assert set(page.errors) == {"card_number", "expiry", "cvc"}
    assert [f["href"] for f in page.error_fields] == ["#pay-card-number", "#pay-expiry", "#pay-cvc"]
    events = drain(page.pay({"card_number": "4242 4242 4242 4242", "expiry": "12 / 40", "cvc": "123"}))
    assert redirect_path(events) == f"/pay/return?session_id={start.session_id}"
    assert booking_row(b.reference).status == "confirmed"


def test_demo_page_with_a_made_up_token_shows_nothing(world, no_stripe):
    page = at(substate(PayDemoState), "http://atlas.test/pay/demo?attempt=demo_cs_madeup")
    drain(page.load())
    assert page.status == "missing" and page.amount_text == ""
    # a handler called anyway does nothing
    drain(page.pay({"card_number": "4242424242424242", "expiry": "12/40", "cvc": "123"}))
    assert page.status == "missing"


def test_return_page_shows_the_confirmation(demo_start):
    b, start = demo_start
    checkout.demo_pay(start.session_id, "4242424242424242", "12/40", "123")
    page = at(substate(PayReturnState), f"http://atlas.test/pay/return?session_id={start.session_id}")
    drain(page.load())
    assert (page.outcome, page.reference, page.payment_state, page.is_demo) == ("paid", b.reference, "paid", True)
    missing = at(substate(PayReturnState), "http://atlas.test/pay/return?session_id=cs_test_nope")
    drain(missing.load())
    assert missing.outcome == "missing"


# --- the staff payments page -----------------------------------------------------------------------------------------


def test_staff_take_a_telephone_payment_and_see_the_flag(monkeypatch, world, make_user):
    agent = actor_for(make_user("cc.agent", roles=("Contact centre",)))
    signed_in(monkeypatch, agent, bookings_payments)
    b = awaiting_booking(world)
    page = at(substate(BookingPaymentsState), "http://atlas.test/bookings/payments")
    drain(page.load())
    assert page.can_take and not page.can_refund and not page.can_report
    drain(page.find({"reference": b.reference.lower()}))
    assert page.booking["state"] == "awaiting_payment" and page.booking["outstanding"] == "£95.00"
    drain(page.take_payment({"method": "card_telephone", "amount": "95.00", "payment_reference": "AUTH1",
                             "note": ""}))
    assert page.take_error == "" and page.booking["state"] == "paid"
    assert page.payment_rows[0]["by"] == "cc.agent"
    # no refunds or waivers without the refund permission, whatever the browser sends
    with pytest.raises(PermissionDenied):
        drain(page.start_refund(page.payment_rows[0]["id"], "95.00", "£95.00"))
    with pytest.raises(PermissionDenied):
        drain(page.take_payment({"method": "waiver", "amount": "1", "note": "x"}))
    with pytest.raises(PermissionDenied):
        drain(page.run_report({"date_from": "2026-01-01", "date_to": "2026-01-02"}))


def test_staff_cannot_reach_another_organisations_booking(monkeypatch, world, other_actor):
    signed_in(monkeypatch, other_actor, bookings_payments)
    b = awaiting_booking(world)
    page = at(substate(BookingPaymentsState), "http://atlas.test/bookings/payments")
    drain(page.load())
    drain(page.find({"reference": b.reference}))
    assert page.booking == {} and "No booking" in page.find_error
    drain(page.take_payment({"method": "cash", "amount": "95"}))
    assert payments_for(b.reference) == []


def test_staff_refund_and_reconciliation_download(monkeypatch, world, actor):
    signed_in(monkeypatch, actor, bookings_payments)
    b = awaiting_booking(world)
    page = at(substate(BookingPaymentsState), f"http://atlas.test/bookings/payments?ref={b.reference}")
    drain(page.load())
    assert page.booking["reference"] == b.reference
    drain(page.take_payment({"method": "cash", "amount": "95"}))
    pid = page.payment_rows[0]["id"]
    drain(page.start_refund(pid, "95.00", "£95.00"))
    drain(page.refund({"amount": "95", "reason": ""}))
    assert "reason" in page.refund_error
    drain(page.refund({"amount": "95", "reason": "Course cancelled"}))
    assert page.refund_target == {} and page.booking["state"] == "refunded"
    drain(page.run_report({"date_from": page.recon_from, "date_to": page.recon_to}))
    assert page.recon_ran and any(t["method"] == "All money" and t["net"] == "£0.00" for t in page.recon_totals)
    [spec] = drain(page.download("lines"))
    args = {k._js_expr: str(v) for k, v in spec.args}
    assert spec.handler.fn.__qualname__ == "_download"
    assert args["url"].startswith('"data:text/csv;base64,') and args["filename"].startswith('"payments-lines-')


def test_staff_agree_a_payment_plan(monkeypatch, world, actor):
    signed_in(monkeypatch, actor, bookings_payments)
    b = awaiting_booking(world)
    page = at(substate(BookingPaymentsState), f"http://atlas.test/bookings/payments?ref={b.reference}")
    drain(page.load())
    drain(page.approve_plan({"instalments": "tomorrow 95", "reason": "Hardship"}))
    assert "line 1" in page.plan_error
    today = london_date(utcnow())
    lines = f"{today:%d/%m/%Y} 45.00\n\n{(today + timedelta(days=3)).isoformat()} £50"
    drain(page.approve_plan({"instalments": lines, "allow_attend": "on", "reason": "Universal credit"}))
    assert page.plan_error == "", page.plan_error
    assert "£45.00 by" in page.booking["plan"] and "may attend" in page.booking["plan"]
    assert booking_row(b.reference).status == "confirmed"
