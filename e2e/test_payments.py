"""Paying in a real browser with the demo card provider (the e2e server has no Stripe key): the DEMO label, a
declined card that leaves the booking payable, a good card that confirms it, the return page, accessible errors; a
client cancelling the paid booking and told the refund (paid less the cancellation fee) before and after; and a
telephone payment recorded on the staff payments page.

Each test makes its own booking awaiting payment, and its demo checkout, straight in the server's database.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlmodel import Session, select

from atlas_app.db import utcnow
from atlas_app.models import Booking, BookingTerms, Client, CourseSession, CourseType, Offer, Organisation
from atlas_app.models.payments import CheckoutAttempt, Payment, Refund
from atlas_app.timeutil import london_date
from support import login, scan, wait_hydrated
from test_booking_wizard import OfferDetails, fill_find_form

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass(frozen=True)
class Payable:
    reference: str
    token: str
    booking_id: int


@pytest.fixture
def payable(writer, base_url):
    """``payable()``: a Hartlepool NSAC booking awaiting payment, with an open demo checkout for it."""

    def make(min_days: int = 3) -> Payable:
        tag = secrets.token_hex(3).upper()
        now = utcnow()
        with Session(writer, expire_on_commit=False) as s:
            org = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
            ct = s.exec(select(CourseType).where(CourseType.organisation_id == org.id,
                                                 CourseType.code == "NSAC")).one()
            session = s.exec(select(CourseSession).where(
                CourseSession.organisation_id == org.id, CourseSession.course_type_id == ct.id,
                CourseSession.status == "scheduled", CourseSession.starts_at > now + timedelta(days=min_days),
                CourseSession.seats_taken < CourseSession.capacity).order_by(CourseSession.starts_at)).first()
            client = Client(organisation_id=org.id, first_name="Pay", last_name=f"Tester {tag}",
                            date_of_birth=date(1980, 5, 5), postcode="TS24 7QS",
                            email=f"e2e-pay-{tag.lower()}@example.com")
            s.add(client)
            s.flush()
            offer = Offer(organisation_id=org.id, offer_reference=f"HAR-PAY-{tag}", client_id=client.id,
                          course_type_id=ct.id, offence_date=london_date(now) - timedelta(days=20),
                          critical_date=london_date(now) + timedelta(days=90), police_force="Cleveland Police",
                          status="booked")
            s.add(offer)
            s.flush()
            s.exec(update(CourseSession).where(CourseSession.id == session.id)
                   .values(seats_taken=CourseSession.seats_taken + 1))
            booking = Booking(organisation_id=org.id, reference=f"HAR-P{tag}", offer_id=offer.id,
                              session_id=session.id, status="awaiting_payment", channel="online",
                              payment_due_at=now + timedelta(days=2), fee_pence=ct.fee_pence)
            s.add(booking)
            s.flush()
            token = "demo_cs_" + secrets.token_urlsafe(24)
            s.add(CheckoutAttempt(organisation_id=org.id, booking_id=booking.id, provider="demo",
                                  provider_session_id=token, amount_pence=ct.fee_pence,
                                  idempotency_key="e2e-" + secrets.token_hex(8), url=f"/pay/demo?attempt={token}",
                                  success_url=f"{base_url}/pay/return?session_id={{CHECKOUT_SESSION_ID}}",
                                  cancel_url=f"{base_url}/booking/manage", expires_at=now + timedelta(minutes=30)))
            s.commit()
            return Payable(booking.reference, token, booking.id)

    return make


def booking_status(writer, booking_id: int) -> str:
    with Session(writer) as s:
        return s.get(Booking, booking_id).status


def payment_statuses(writer, booking_id: int) -> list[str]:
    with Session(writer) as s:
        return [p.status for p in s.exec(select(Payment).where(Payment.booking_id == booking_id)
                                         .order_by(Payment.id)).all()]


def open_demo(new_context, viewport: dict, token: str) -> Page:
    page = new_context(viewport=viewport).new_page()
    page.goto(f"/pay/demo?attempt={token}")
    wait_hydrated(page)
    expect(page.locator("#pay-amount")).to_have_text("£95.00")
    return page


def pay_with(page: Page, number: str, expiry: str = "12 / 40", cvc: str = "123") -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry date").fill(expiry)
    page.get_by_label("Security code (CVC)").fill(cvc)
    page.click("#pay-submit")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_declined_then_paid_with_the_demo_card(new_context, payable, writer, viewport):
    booking = payable()
    page = open_demo(new_context, viewport, booking.token)
    expect(page.locator(".demo-banner")).to_contain_text("DEMO — no real money")
    expect(page).to_have_title(re.compile("DEMO — no real money"))
    expect(page.locator("#pay-reference")).to_have_text(booking.reference)

    pay_with(page, "4000 0000 0000 0002")
    expect(page.locator("#pay-problem")).to_contain_text("Your card was declined")
    expect(page.locator("#pay-problem")).to_be_focused()
    assert booking_status(writer, booking.booking_id) == "awaiting_payment"
    assert payment_statuses(writer, booking.booking_id) == ["failed"]

    pay_with(page, "4242 4242 4242 4242")
    expect(page).to_have_url(re.compile(r"/pay/return/?\?session_id=" + re.escape(booking.token)))
    wait_hydrated(page)
    expect(page.locator("#return-paid")).to_contain_text("your payment is received")
    expect(page.locator("#return-reference")).to_have_text(booking.reference)
    expect(page.locator("#return-paid-flag")).to_have_text("Paid")
    expect(page.locator(".demo-banner")).to_be_visible()
    assert booking_status(writer, booking.booking_id) == "confirmed"
    assert payment_statuses(writer, booking.booking_id) == ["failed", "succeeded"]


def test_client_cancels_a_paid_booking_and_sees_the_refund(new_context, payable, writer):
    booking = payable(min_days=10)
    page = open_demo(new_context, PHONE, booking.token)
    pay_with(page, "4242 4242 4242 4242")
    expect(page.locator("#return-paid-flag")).to_have_text("Paid")
    with Session(writer) as s:
        org_id = s.get(Booking, booking.booking_id).organisation_id
        terms = s.exec(select(BookingTerms).where(BookingTerms.organisation_id == org_id)).first()
        fee = min(terms.cancel_fee_pence if terms else 0, 9500)
    refund = 9500 - fee
    refund_text = f"£{refund // 100}.{refund % 100:02d}"

    page.goto("/booking/manage")
    wait_hydrated(page)
    fill_find_form(page, OfferDetails(booking.reference, 5, 5, 1980, "TS24 7QS", ""))
    page.click("#find-booking")
    expect(page).to_have_url(re.compile(r"/booking/manage/view/?$"))
    page.click("#cancel-booking")
    expect(page).to_have_url(re.compile(r"/booking/manage/cancel/?$"))
    wait_hydrated(page)
    money = page.locator("#cancel-money")
    expect(money).to_contain_text("You paid £95.00.")
    expect(money).to_contain_text(f"{refund_text} is being refunded to the card you paid with")
    page.click("#confirm-cancel")
    expect(page).to_have_url(re.compile(r"/booking/manage/view/?$"))
    expect(page.locator("#manage-notice")).to_contain_text(f"{refund_text} is being refunded to the card")
    assert booking_status(writer, booking.booking_id) == "cancelled"
    with Session(writer) as s:
        refunds = s.exec(select(Refund).join(Payment, Payment.id == Refund.payment_id)
                         .where(Payment.booking_id == booking.booking_id)).all()
        assert [(r.amount_pence, r.status, r.source) for r in refunds] == [(refund, "succeeded", "cancellation")]


def test_card_form_errors_are_tied_to_their_fields(new_context, payable):
    booking = payable()
    page = open_demo(new_context, DESKTOP, booking.token)
    pay_with(page, "1234 5678", expiry="13/99", cvc="1")
    summary = page.locator("#pay-problem")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(3)
    card = page.get_by_label("Card number")
    expect(card).to_have_attribute("aria-invalid", "true")
    expect(card).to_have_attribute("aria-describedby", "pay-card-number-hint pay-card-number-error")
    expect(page.locator("#pay-card-number-error")).to_contain_text("valid card number")
    summary.get_by_role("link").first.click()
    expect(card).to_be_focused()


def test_made_up_payment_page_shows_nothing(new_context):
    page = new_context().new_page()
    page.goto("/pay/demo?attempt=demo_cs_not-a-real-token")
    wait_hydrated(page)
    expect(page.locator("#pay-missing")).to_contain_text("does not exist")
    expect(page.locator("#pay-submit")).to_have_count(0)


def test_payment_pages_pass_axe(new_context, payable):
    booking = payable()
    page = open_demo(new_context, PHONE, booking.token)
    found: dict[str, list[str]] = {}
    scan(page, "demo page", found)
    pay_with(page, "1", expiry="", cvc="")
    expect(page.locator("#pay-problem")).to_be_visible()
    scan(page, "demo page with errors", found)
    pay_with(page, "4242424242424242")
    expect(page.locator("#return-paid")).to_be_visible()
    scan(page, "return page", found)
    assert found == {name: [] for name in found}


def test_staff_record_a_telephone_payment(new_context, payable, writer):
    booking = payable()
    page = new_context(viewport=DESKTOP).new_page()
    login(page, "hbc.booking", "booking123")
    page.goto("/bookings/payments")
    wait_hydrated(page)
    page.fill("#pay-find-reference", booking.reference)
    page.click("#pay-find")
    expect(page.locator("#booking-paid-flag")).to_have_text("Awaiting payment")
    expect(page.locator("#booking-outstanding")).to_have_text("£95.00")
    page.select_option("#pay-method", "card_telephone")
    page.fill("#pay-reference-input", "AUTH-E2E1")
    page.click("#pay-record")
    expect(page.locator("#booking-paid-flag")).to_have_text("Paid")
    expect(page.get_by_role("status").filter(has_text="recorded")).to_contain_text("£95.00 recorded")
    assert booking_status(writer, booking.booking_id) == "confirmed"
    page.click("#recon-run")
    expect(page.get_by_role("region", name="Reconciliation totals")).to_contain_text("Card by telephone")
    found: dict[str, list[str]] = {}
    scan(page, "staff payments page", found)
    assert found == {"staff payments page": []}
