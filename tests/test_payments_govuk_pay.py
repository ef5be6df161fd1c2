"""Card payments through GOV.UK Pay for an organisation that chose it instead of Stripe, against a local stand-in
speaking GOV.UK Pay's documented API (tests/govuk_pay_fake.py): creating the payment, the return, signed webhooks
(forged, replayed and out of order), the 90-minute expiry, a payment landing after the seat was lost, refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import all_rows
from govuk_pay_fake import FakeGovukPay
from payments_support import *
from sqlalchemy import update
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import write_session
from atlas_app.models import Booking, Client, Organisation
from atlas_app.models.payments import ProcessedWebhookEvent
from atlas_app.services import payments
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments import checkout, govuk_pay
from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable

WEBHOOK = "/api/govuk-pay/webhook"


@pytest.fixture
def pay(set_env):
    fake = FakeGovukPay().start()
    set_env(GOVUK_PAY_API_KEY=fake.api_key, GOVUK_PAY_WEBHOOK_SECRET=fake.webhook_secret, GOVUK_PAY_API_BASE=fake.url,
            GOVUK_PAY_LEDGER_CODE="RS-4410", BASE_URL="http://atlas.test")
    yield fake
    fake.stop()


@pytest.fixture
def gov_world(org):
    world = make_world(org.id, payments_demo=False)
    with write_session() as s:
        s.get(Organisation, org.id).card_provider = "govuk_pay"
    return world


@pytest.fixture
def api():
    with TestClient(build_api()) as client:
        yield client


def start_for(world, reference: str) -> checkout.CheckoutStart:
    return checkout.start_checkout(world.org_id, booking_row(reference).offer_id, reference)


def payment_id_of(start: checkout.CheckoutStart) -> str:
    return attempt_row(start.session_id).payment_intent_id


def deliver(api, fake, payment_id: str, event_type: str = "card_payment_succeeded", message_id: str | None = None,
            signature: str | None = None):
    body = fake.message(payment_id, event_type, message_id)
    return api.post(WEBHOOK, content=body, headers={"Pay-Signature": signature or fake.sign(body),
                                                    "Content-Type": "application/json"})


def test_the_payment_is_created_in_govuk_pays_format_and_the_client_sent_to_next_url(gov_world, pay):
    b = awaiting_booking(gov_world, email="pat@example.com")
    assert checkout.provider_for(gov_world.org_id) == "govuk_pay"
    start = start_for(gov_world, b.reference)
    [sent] = pay.requests_to("POST", "/v1/payments")
    body = sent["body"]
    assert body["amount"] == FEE and body["reference"] == b.reference and body["language"] == "en"
    assert body["return_url"] == f"http://atlas.test/pay/return?session_id={start.session_id}"
    assert body["metadata"]["ledger_code"] == "RS-4410" and body["metadata"]["booking_reference"] == b.reference
    assert body["email"] == "pat@example.com" and b.reference in body["description"]
    assert sent["headers"]["authorization"] == f"Bearer {pay.api_key}"
    attempt = attempt_row(start.session_id)
    assert sent["headers"]["idempotency-key"] == attempt.idempotency_key
    assert start.provider == "govuk_pay" and start.url == pay.payments[attempt.payment_intent_id]["_links"][
        "next_url"]["href"]
    # The attempt lives as long as GOV.UK Pay's payment (90 minutes); asking again reuses it.
    assert timedelta(minutes=89) < attempt.expires_at - attempt.created_at <= timedelta(minutes=90)
    assert start_for(gov_world, b.reference).session_id == start.session_id
    assert len(pay.requests_to("POST", "/v1/payments")) == 1


def test_a_client_who_chose_welsh_gets_the_welsh_payment_pages(gov_world, pay):
    from conftest import set_columns

    b = awaiting_booking(gov_world)
    set_columns(Client, Client.id > 0, language="cy")  # the test's one client chose Welsh
    start_for(gov_world, b.reference)
    assert pay.requests_to("POST", "/v1/payments")[0]["body"]["language"] == "cy"


def test_the_return_confirms_from_govuk_pays_state_once(gov_world, pay):
    b = awaiting_booking(gov_world)
    start = start_for(gov_world, b.reference)
    assert checkout.complete_checkout(start.session_id).outcome == "open"  # not paid yet: nothing recorded
    pay.pay(payment_id_of(start))
    first = checkout.complete_checkout(start.session_id)
    again = checkout.complete_checkout(start.session_id)
    assert first.outcome == again.outcome == "paid"
    [p] = payments_for(b.reference)
    assert (p.provider, p.provider_ref, p.amount_pence) == ("govuk_pay", payment_id_of(start), FEE)
    assert booking_row(b.reference).status == "confirmed"
    assert len(pay.requests_to("GET", "/v1/payments/")) >= 3


def test_signed_webhooks_apply_once_in_any_order_and_forgeries_change_nothing(gov_world, pay, api):
    b = awaiting_booking(gov_world)
    start = start_for(gov_world, b.reference)
    pid = payment_id_of(start)
    pay.pay(pid)
    forged = deliver(api, pay, pid, signature="0" * 64)
    assert forged.status_code == 400 and payments_for(b.reference) == []
    other_secret = deliver(api, pay, pid, signature=pay.sign(pay.message(pid), "not-the-secret"))
    assert other_secret.status_code == 400
    # The capture arrives before the success message; each is applied once, one payment in all.
    captured = deliver(api, pay, pid, "card_payment_captured", message_id="m-captured")
    succeeded = deliver(api, pay, pid, "card_payment_succeeded", message_id="m-succeeded")
    replay = deliver(api, pay, pid, "card_payment_succeeded", message_id="m-succeeded")
    assert [r.json()["outcome"] for r in (captured, succeeded, replay)] == ["paid", "already paid", "duplicate"]
    assert len(payments_for(b.reference)) == 1 and booking_row(b.reference).status == "confirmed"
    assert checkout.complete_checkout(start.session_id).outcome == "paid"
    assert len(payments_for(b.reference)) == 1
    events = all_rows(ProcessedWebhookEvent, ProcessedWebhookEvent.provider == "govuk_pay")
    assert sorted(e.event_id for e in events) == ["govukpay:m-captured", "govukpay:m-succeeded"]


def test_a_payment_not_finished_in_90_minutes_expires_and_the_booking_stays_unpaid(gov_world, pay, api):
    b = awaiting_booking(gov_world)
    start = start_for(gov_world, b.reference)
    pay.expire(payment_id_of(start))
    result = checkout.complete_checkout(start.session_id)
    assert result.outcome == "expired" and attempt_row(start.session_id).status == "expired"
    assert booking_row(b.reference).status == "awaiting_payment" and payments_for(b.reference) == []
    # A new attempt makes a new payment at GOV.UK Pay.
    again = start_for(gov_world, b.reference)
    assert again.session_id != start.session_id and len(pay.requests_to("POST", "/v1/payments")) == 2


def test_an_open_govuk_payment_keeps_the_booking_from_being_released_as_unpaid(gov_world, pay):
    b = awaiting_booking(gov_world)
    start_for(gov_world, b.reference)
    with write_session() as s:
        s.exec(update(Booking).where(Booking.reference == b.reference)
               .values(payment_due_at=booking_service.utcnow() - timedelta(minutes=1)))
    payments.process_overdue()
    assert booking_row(b.reference).status == "awaiting_payment"  # the client may still be paying


def test_a_payment_landing_after_the_seat_was_lost_is_flagged_for_refund(org, pay, api, actor):
    world = make_world(org.id, capacity=1, payments_demo=False)
    with write_session() as s:
        s.get(Organisation, org.id).card_provider = "govuk_pay"
    offer_id = make_offer(world)
    held = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    start = checkout.start_checkout(world.org_id, offer_id, held.reference)
    with write_session() as s:
        s.exec(update(Booking).where(Booking.reference == held.reference)
               .values(hold_expires_at=booking_service.utcnow()))
    booking_service.release_expired_holds()
    other = awaiting_booking(world)
    pay.pay(payment_id_of(start))
    assert deliver(api, pay, payment_id_of(start)).json()["outcome"] == "paid"
    [p] = payments_for(held.reference)
    assert p.status == "succeeded" and p.needs_attention and "the session is now full" in p.attention_reason
    assert booking_row(other.reference).status == "awaiting_payment"
    assert session_row(world.session_id).seats_taken == 1
    assert checkout.complete_checkout(start.session_id).outcome == "attention"


def test_cancelling_refunds_through_govuk_pays_api(gov_world, pay, actor):
    b = awaiting_booking(gov_world)
    start = start_for(gov_world, b.reference)
    pay.pay(payment_id_of(start))
    checkout.complete_checkout(start.session_id)
    outcome = payments.cancel_booking(gov_world.org_id, b.reference, actor=actor, reason="Changed plans")
    assert outcome.refunded_pence == FEE
    [sent] = pay.requests_to("POST", f"/v1/payments/{payment_id_of(start)}/refunds")
    assert sent["body"] == {"amount": FEE, "refund_amount_available": FEE}
    [p] = payments_for(b.reference)
    [r] = refunds_for(p.id)
    assert r.provider_ref and r.status == "pending" and p.refunded_pence == FEE  # submitted, not yet settled


def test_a_refund_govuk_pay_refuses_is_undone_and_flagged(gov_world, pay, actor):
    b = awaiting_booking(gov_world)
    start = start_for(gov_world, b.reference)
    pay.pay(payment_id_of(start))
    checkout.complete_checkout(start.session_id)
    pay.payments[payment_id_of(start)]["refund_summary"]["amount_available"] = 0  # refunded elsewhere meanwhile
    outcome = payments.cancel_booking(gov_world.org_id, b.reference, actor=actor, reason="Changed plans")
    assert outcome.refunded_pence == 0
    [p] = payments_for(b.reference)
    [r] = refunds_for(p.id)
    assert r.status == "failed" and "P0604" in r.error and p.refunded_pence == 0 and p.needs_attention


def test_govuk_pay_unreachable_at_the_start_leaves_the_booking_recoverable(gov_world, pay):
    b = awaiting_booking(gov_world)
    pay.down = True
    with pytest.raises(PaymentsUnavailable):
        start_for(gov_world, b.reference)
    assert booking_row(b.reference).status == "awaiting_payment"


def test_the_client_validates_like_govuk_pay():
    with pytest.raises(ValueError):
        govuk_pay.create_payment(amount_pence=10_000_001, reference="R", description="D", return_url="https://x")
    assert govuk_pay.signature_ok(b"{}", govuk_pay.signature(b"{}", "s"), "s")
    assert not govuk_pay.signature_ok(b"{}", govuk_pay.signature(b"{ }", "s"), "s")
    assert not govuk_pay.signature_ok(b"{}", "", "s") and not govuk_pay.signature_ok(b"{}", "x", None)


def test_staff_take_a_telephone_moto_payment_where_the_account_allows(gov_world, pay, actor):
    from atlas_app.services.payments import govuk_pay_accounts

    govuk_pay_accounts.save_settings(actor, provider="govuk_pay", moto_allowed=True)
    b = awaiting_booking(gov_world)
    start = checkout.start_moto_payment(actor, b.reference)
    [sent] = pay.requests_to("POST", "/v1/payments")
    assert sent["body"]["moto"] is True and start.provider == "govuk_pay"
    pay.pay(payment_id_of(start))
    assert checkout.complete_checkout(start.session_id).outcome == "paid"
    # An account without MOTO: GOV.UK Pay refuses (P0196) and staff are told in plain words.
    other = awaiting_booking(gov_world)
    pay.moto_enabled = False
    from atlas_app.services.platform.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="does not allow telephone"):
        checkout.start_moto_payment(actor, other.reference)
    assert booking_row(other.reference).status == "awaiting_payment"


def test_an_organisation_chooses_its_card_provider_from_the_command_line(org, pay, capsys):
    from atlas_app.cli import main
    from atlas_app.models import AuditEntry

    assert main(["card-provider", "--org", org.slug, "govuk_pay"]) == 0
    assert "govuk_pay" in capsys.readouterr().out
    assert checkout.provider_for(org.id) == "govuk_pay"
    assert any(e.action == "card_provider_changed" for e in all_rows(AuditEntry))
    assert main(["card-provider", "--org", "nowhere", "stripe"]) == 2
