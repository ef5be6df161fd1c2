"""Card payments through Stripe, against a Stripe-compatible server on loopback: Checkout Sessions, the return
page, the signed webhook (forged, stale, replayed and out-of-order events), late payments and refunds."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import write_session
from atlas_app.models import AuditEntry, Booking, ClientEvent, CourseSession, EmailMessage
from atlas_app.models.payments import CheckoutAttempt, Payment, ProcessedWebhookEvent, Refund
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments import checkout
from atlas_app.services import payments
from atlas_app.services.platform.errors import Conflict, ValidationFailed
from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable
from conftest import all_rows, run_threads
from payments_support import *  # noqa: F403

WEBHOOK = "/api/stripe/webhook"


@pytest.fixture
def api():
    with TestClient(build_api()) as client:
        yield client


def start_for(world, reference: str, **kw) -> checkout.CheckoutStart:
    return checkout.start_checkout(world.org_id, booking_row(reference).offer_id, reference, **kw)


def deliver(api, fake, type_: str, obj: dict, *, event_id: str | None = None, timestamp: int | None = None,
            secret: str | None = None, signature: str | None = None):
    payload = fake.event(type_, obj, event_id)
    header = signature if signature is not None else fake.sign(payload, timestamp, secret)
    return api.post(WEBHOOK, content=payload, headers={"Stripe-Signature": header,
                                                       "Content-Type": "application/json"})


def kinds(reference: str) -> list[str]:
    b = booking_row(reference)
    return [e.kind for e in all_rows(ClientEvent, ClientEvent.booking_id == b.id, order_by=ClientEvent.id)]


# --- Checkout Sessions -------------------------------------------------------------------------------------------


def test_checkout_session_is_created_with_stripes_request_format(world, stripe_fake):
    b = awaiting_booking(world, email="pat@example.com")
    start = start_for(world, b.reference)
    assert start.provider == "stripe" and not start.is_demo
    assert start.url == f"https://checkout.stripe.com/c/pay/{start.session_id}"
    [sent] = stripe_fake.requests_to("POST", "/v1/checkout/sessions")
    p = sent["params"]
    assert p["mode"] == "payment"
    item = p["line_items"][0]
    assert item["price_data"]["currency"] == "gbp"
    assert item["price_data"]["unit_amount"] == "9500" and item["quantity"] == "1"
    assert p["metadata"]["booking_reference"] == b.reference
    assert p["payment_intent_data"]["metadata"]["booking_reference"] == b.reference
    assert p["client_reference_id"] == b.reference and p["customer_email"] == "pat@example.com"
    assert p["success_url"] == "http://atlas.test/pay/return?session_id={CHECKOUT_SESSION_ID}"
    assert 1800 < int(p["expires_at"]) - time.time() <= 31 * 60
    attempt = attempt_row(start.session_id)
    assert sent["headers"]["idempotency-key"] == attempt.idempotency_key
    assert sent["headers"]["authorization"] == "Bearer " + stripe_fake.secret_key
    assert (attempt.status, attempt.amount_pence, attempt.provider) == ("open", 9500, "stripe")
    # asking again while it is open reuses it: no second session at Stripe
    assert start_for(world, b.reference).session_id == start.session_id
    assert len(stripe_fake.requests_to("POST", "/v1/checkout/sessions")) == 1


def test_each_attempt_has_its_own_idempotency_key(world, stripe_fake):
    b1, b2 = awaiting_booking(world), awaiting_booking(world)
    start_for(world, b1.reference)
    start_for(world, b2.reference)
    keys = [r["headers"]["idempotency-key"] for r in stripe_fake.requests_to("POST", "/v1/checkout/sessions")]
    assert len(set(keys)) == 2 and all(k.startswith("atlas-checkout-") for k in keys)


def test_stripe_down_means_no_checkout_and_a_clear_message(world, stripe_fake):
    b = awaiting_booking(world)
    stripe_fake.fail_next = [(400, "invalid_request_error", "Something is wrong")]
    with pytest.raises(PaymentsUnavailable, match="Nothing has been charged"):
        start_for(world, b.reference)
    assert [a.status for a in all_rows(CheckoutAttempt)] == ["failed"]
    assert booking_row(b.reference).status == "awaiting_payment"


def test_return_page_confirms_only_what_stripe_says(world, stripe_fake):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    # back before paying (the client pressed back): nothing changes
    assert checkout.complete_checkout(start.session_id).outcome == "open"
    assert booking_row(b.reference).status == "awaiting_payment"
    stripe_fake.pay(start.session_id, fee=163)
    result = checkout.complete_checkout(start.session_id)
    assert (result.outcome, result.payment_state, result.booking_reference) == ("paid", "paid", b.reference)
    assert booking_row(b.reference).status == "confirmed"
    [p] = payments_for(b.reference)
    assert (p.provider, p.method, p.amount_pence, p.fee_pence) == ("stripe", "card_online", 9500, 163)
    assert p.provider_ref == stripe_fake.sessions[start.session_id]["payment_intent"]
    assert "paid" in kinds(b.reference)
    assert any("is confirmed" in m.subject for m in all_rows(EmailMessage))
    assert ("booking", "paid") in [(a.entity, a.action) for a in all_rows(AuditEntry)]
    # reloading the page changes nothing
    assert checkout.complete_checkout(start.session_id).outcome == "paid"
    assert len(payments_for(b.reference)) == 1
    with pytest.raises(Conflict, match="already paid"):
        start_for(world, b.reference)


# --- the webhook ----------------------------------------------------------------------------------------------------


def test_completed_event_confirms_the_booking_once(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    session = stripe_fake.pay(start.session_id)
    r = deliver(api, stripe_fake, "checkout.session.completed", session, event_id="evt_test_completed_1")
    assert r.status_code == 200 and r.json()["outcome"] == "paid"
    assert booking_row(b.reference).status == "confirmed"
    # the same event again (Stripe retries): nothing more
    r = deliver(api, stripe_fake, "checkout.session.completed", session, event_id="evt_test_completed_1")
    assert r.status_code == 200 and r.json()["outcome"] == "duplicate"
    # a different event about the same session, and the client's return: still one payment
    r = deliver(api, stripe_fake, "checkout.session.async_payment_succeeded", session)
    assert r.json()["outcome"] == "already paid"
    checkout.complete_checkout(start.session_id)
    assert len(payments_for(b.reference)) == 1
    assert len(all_rows(ProcessedWebhookEvent)) == 2
    assert [k for k in kinds(b.reference) if k == "paid"] == ["paid"]


def test_forged_signature_is_refused_and_changes_nothing(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    session = stripe_fake.pay(start.session_id)
    assert deliver(api, stripe_fake, "checkout.session.completed", session,
                   secret="whsec_someone_else").status_code == 400
    assert deliver(api, stripe_fake, "checkout.session.completed", session, signature="").status_code == 400
    assert deliver(api, stripe_fake, "checkout.session.completed", session,
                   signature="t=123,v1=deadbeef").status_code == 400
    # a genuine signature over a different body
    payload = stripe_fake.event("checkout.session.completed", session)
    header = stripe_fake.sign(payload)
    tampered = payload.replace(b'"livemode": false', b'"livemode": true ')
    assert api.post(WEBHOOK, content=tampered, headers={"Stripe-Signature": header}).status_code == 400
    assert all_rows(ProcessedWebhookEvent) == [] and all_rows(Payment) == []
    assert booking_row(b.reference).status == "awaiting_payment"


def test_stale_or_future_timestamp_is_refused(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    session = stripe_fake.pay(start.session_id)
    old = int(time.time()) - 301
    assert deliver(api, stripe_fake, "checkout.session.completed", session, timestamp=old).status_code == 400
    future = int(time.time()) + 3600
    assert deliver(api, stripe_fake, "checkout.session.completed", session, timestamp=future).status_code == 400
    assert all_rows(Payment) == [] and all_rows(ProcessedWebhookEvent) == []
    assert booking_row(b.reference).status == "awaiting_payment"


def test_webhook_without_a_configured_secret_is_unavailable(world, stripe_fake, api, set_env):
    set_env(STRIPE_WEBHOOK_SECRET=None)
    r = deliver(api, stripe_fake, "checkout.session.completed", {"id": "cs_x"})
    assert r.status_code == 503


def test_bad_json_with_a_good_signature_is_refused(stripe_fake, api):
    payload = b"not json"
    r = api.post(WEBHOOK, content=payload, headers={"Stripe-Signature": stripe_fake.sign(payload)})
    assert r.status_code == 400


def test_expired_after_completed_keeps_the_payment(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    paid = stripe_fake.pay(start.session_id)
    assert deliver(api, stripe_fake, "checkout.session.completed", paid).status_code == 200
    stale = dict(paid, status="expired", payment_status="unpaid")
    r = deliver(api, stripe_fake, "checkout.session.expired", stale)
    assert r.status_code == 200 and r.json()["outcome"].startswith("expired ignored")
    assert attempt_row(start.session_id).status == "complete"
    assert booking_row(b.reference).status == "confirmed"
    # and a failure report for the PaymentIntent arriving late does not undo it either
    pi = {"id": paid["payment_intent"], "object": "payment_intent", "metadata": paid["metadata"],
          "last_payment_error": {"message": "Your card was declined."}}
    r = deliver(api, stripe_fake, "payment_intent.payment_failed", pi)
    assert r.json()["outcome"] == "failure after success ignored"
    assert [p.status for p in payments_for(b.reference)] == ["succeeded"]


def test_expired_session_leaves_the_booking_payable(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    expired = stripe_fake.expire(start.session_id)
    assert deliver(api, stripe_fake, "checkout.session.expired", expired).json()["outcome"] == "expired"
    assert attempt_row(start.session_id).status == "expired"
    assert booking_row(b.reference).status == "awaiting_payment"
    # a new attempt can start
    assert start_for(world, b.reference).session_id != start.session_id


def test_payment_failed_event_is_recorded_and_the_booking_stays_payable(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    meta = stripe_fake.sessions[start.session_id]["metadata"]
    pi = {"id": "pi_test_failed_1", "object": "payment_intent", "metadata": meta, "amount": 9500,
          "last_payment_error": {"message": "Your card has insufficient funds."}}
    r = deliver(api, stripe_fake, "payment_intent.payment_failed", pi)
    assert r.json()["outcome"] == "payment failed recorded"
    [p] = payments_for(b.reference)
    assert (p.status, p.provider_ref) == ("failed", "pi_test_failed_1")
    assert booking_row(b.reference).status == "awaiting_payment"
    assert "payment_failed" in kinds(b.reference)


def test_unknown_and_uninteresting_events_are_acknowledged(stripe_fake, api):
    r = deliver(api, stripe_fake, "customer.created", {"id": "cus_1", "object": "customer"})
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    r = deliver(api, stripe_fake, "checkout.session.completed",
                {"id": "cs_test_someone_elses", "status": "complete", "payment_status": "paid"})
    assert r.status_code == 200 and r.json()["outcome"] == "not ours"


# --- money arriving after the seat was lost ------------------------------------------------------------------------


def test_late_payment_after_hold_expired_and_session_filled_is_flagged_not_lost(org, stripe_fake, api, actor):
    world = make_world(org.id, capacity=1)
    offer_id = make_offer(world)
    held = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    start = checkout.start_checkout(world.org_id, offer_id, held.reference)
    # the hold runs out, the seat is freed and someone else books the last seat
    with write_session() as s:
        s.exec(update(Booking).where(Booking.reference == held.reference)
               .values(hold_expires_at=booking_service.utcnow()))
    booking_service.release_expired_holds()
    other = awaiting_booking(world)
    assert session_row(world.session_id).seats_taken == 1
    # ...and then the first client's card payment lands
    session = stripe_fake.pay(start.session_id)
    r = deliver(api, stripe_fake, "checkout.session.completed", session)
    assert r.status_code == 200 and r.json()["outcome"] == "paid"
    [p] = payments_for(held.reference)
    assert p.status == "succeeded" and p.needs_attention and "the session is now full" in p.attention_reason
    assert booking_row(held.reference).status == "expired"
    assert booking_row(other.reference).status == "awaiting_payment"
    assert session_row(world.session_id).seats_taken == 1
    assert "payment_needs_attention" in kinds(held.reference)
    assert checkout.complete_checkout(start.session_id).outcome == "attention"
    rows = payments.attention_list(actor)
    assert [(r.booking_reference, r.amount_pence) for r in rows] == [(held.reference, 9500)]
    # staff refund it in full through Stripe, which settles the flag
    payments.refund_payment(actor, rows[0].payment_id, "95", "Session full when the payment arrived")
    assert payments.attention_list(actor) == []
    [sent] = stripe_fake.requests_to("POST", "/v1/refunds")
    assert sent["params"]["payment_intent"] == p.provider_ref and sent["params"]["amount"] == "9500"


def test_late_payment_can_be_moved_to_a_new_booking(org, stripe_fake, api, actor):
    world = make_world(org.id, capacity=1)
    offer_id = make_offer(world)
    held = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    start = checkout.start_checkout(world.org_id, offer_id, held.reference)
    with write_session() as s:
        s.exec(update(Booking).where(Booking.reference == held.reference)
               .values(hold_expires_at=booking_service.utcnow()))
    booking_service.release_expired_holds()
    awaiting_booking(world)
    deliver(api, stripe_fake, "checkout.session.completed", stripe_fake.pay(start.session_id))
    [row] = payments.attention_list(actor)
    # staff offer the client another session and put the payment towards it
    with write_session() as s:
        later = CourseSession(organisation_id=world.org_id, course_type_id=world.course_type_id,
                              venue_id=world.venue_id, delivery_mode="classroom",
                              starts_at=booking_service.utcnow() + booking_service.timedelta(days=14),
                              ends_at=booking_service.utcnow() + booking_service.timedelta(days=14, hours=3),
                              capacity=5)
        s.add(later)
        s.flush()
        later_id = later.id
    rebooked = booking_service.book(actor, offer_id, later_id)
    payments.move_payment(actor, row.payment_id, rebooked.reference, "Client chose the later date")
    assert booking_row(rebooked.reference).status == "confirmed"
    assert payments.attention_list(actor) == []


def test_late_payment_with_a_seat_still_free_reinstates_the_booking(world, stripe_fake, api):
    offer_id = make_offer(world)
    held = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    start = checkout.start_checkout(world.org_id, offer_id, held.reference)
    with write_session() as s:
        s.exec(update(Booking).where(Booking.reference == held.reference)
               .values(hold_expires_at=booking_service.utcnow()))
    booking_service.release_expired_holds()
    assert session_row(world.session_id).seats_taken == 0
    deliver(api, stripe_fake, "checkout.session.completed", stripe_fake.pay(start.session_id))
    assert booking_row(held.reference).status == "confirmed"
    assert session_row(world.session_id).seats_taken == 1
    assert not payments_for(held.reference)[0].needs_attention


# --- refunds through Stripe -------------------------------------------------------------------------------------


def paid_by_card(world, fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    deliver(api, fake, "checkout.session.completed", fake.pay(start.session_id))
    return b, start, payments_for(b.reference)[0]


def test_partial_then_full_refund_through_stripe(world, stripe_fake, api, actor):
    b, start, p = paid_by_card(world, stripe_fake, api)
    r1 = payments.refund_payment(actor, p.id, "20.00", "Goodwill: course moved venue")
    assert r1.status == "succeeded" and r1.provider_ref.startswith("re_test_")
    r2 = payments.refund_payment(actor, p.id, "75.00", "Client cancelled")
    sent = stripe_fake.requests_to("POST", "/v1/refunds")
    assert [(x["params"]["payment_intent"], x["params"]["amount"]) for x in sent] == \
        [(p.provider_ref, "2000"), (p.provider_ref, "7500")]
    assert sent[0]["headers"]["idempotency-key"] == f"atlas-refund-{r1.id}"
    assert sent[0]["params"]["metadata"]["booking_reference"] == b.reference
    assert stripe_fake.charge_for(start.session_id)["amount_refunded"] == 9500
    assert payments_for(b.reference)[0].refunded_pence == 9500
    assert [(x.amount_pence, x.reason) for x in refunds_for(p.id)] == \
        [(2000, "Goodwill: course moved venue"), (7500, "Client cancelled")]
    assert payments.booking_payments(actor, b.reference).summary.state == "refunded"
    # Stripe then tells us about the refunds: already known, nothing doubles
    charge = stripe_fake.charge_for(start.session_id)
    assert deliver(api, stripe_fake, "charge.refunded", charge).json()["outcome"] == "refund already recorded"
    assert len(refunds_for(p.id)) == 2


def test_refund_refused_by_stripe_refunds_nothing(world, stripe_fake, api, actor):
    b, start, p = paid_by_card(world, stripe_fake, api)
    stripe_fake.fail_next = [(402, "card_error", "The refund could not be made.")]
    with pytest.raises(Conflict, match="nothing was refunded"):
        payments.refund_payment(actor, p.id, "95", "Client cancelled")
    assert payments_for(b.reference)[0].refunded_pence == 0
    assert [x.status for x in refunds_for(p.id)] == ["failed"]
    assert payments.booking_payments(actor, b.reference).summary.state == "paid"
    # and a retry afterwards works
    payments.refund_payment(actor, p.id, "95", "Client cancelled")
    assert payments_for(b.reference)[0].refunded_pence == 9500


def test_refund_made_in_the_stripe_dashboard_is_recorded_once(world, stripe_fake, api, actor):
    b, start, p = paid_by_card(world, stripe_fake, api)
    charge = stripe_fake.refund_in_dashboard(start.session_id, 3000)
    r = deliver(api, stripe_fake, "charge.refunded", charge, event_id="evt_test_refund_1")
    assert r.json()["outcome"] == "refund of 3000 recorded"
    deliver(api, stripe_fake, "charge.refunded", charge, event_id="evt_test_refund_1")
    # a later event for the same charge carrying the same total adds nothing either
    deliver(api, stripe_fake, "charge.refunded", charge)
    [refund] = refunds_for(p.id)
    assert (refund.amount_pence, refund.source, refund.status) == (3000, "stripe", "succeeded")
    assert payments_for(b.reference)[0].refunded_pence == 3000


def test_refund_event_before_the_payment_is_known_is_retried(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    stripe_fake.pay(start.session_id)
    charge = stripe_fake.refund_in_dashboard(start.session_id, 9500)
    # charge.refunded overtakes checkout.session.completed: Atlas asks Stripe to send it again later
    r = deliver(api, stripe_fake, "charge.refunded", charge, event_id="evt_test_early_refund")
    assert r.status_code == 503
    assert all_rows(ProcessedWebhookEvent) == []
    deliver(api, stripe_fake, "checkout.session.completed", stripe_fake.session(start.session_id))
    # the completion (re-fetched from Stripe) already carries the refund; the retried event adds nothing more
    r = deliver(api, stripe_fake, "charge.refunded", charge, event_id="evt_test_early_refund")
    assert r.status_code == 200 and r.json()["outcome"] == "refund already recorded"
    assert payments_for(b.reference)[0].refunded_pence == 9500
    assert all_rows(Refund)[0].amount_pence == 9500


def test_webhook_event_ids_are_stored_with_their_outcome(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    deliver(api, stripe_fake, "checkout.session.completed", stripe_fake.pay(start.session_id),
            event_id="evt_test_outcome")
    [row] = all_rows(ProcessedWebhookEvent)
    assert (row.event_id, row.event_type, row.outcome, row.organisation_id) == \
        ("evt_test_outcome", "checkout.session.completed", "paid", world.org_id)


# --- at the same time ------------------------------------------------------------------------------------------------


def test_webhook_deliveries_and_return_page_at_once_record_one_payment(world, stripe_fake):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    session = stripe_fake.pay(start.session_id)
    event = json.loads(stripe_fake.event("checkout.session.completed", session, "evt_test_race"))
    other = json.loads(stripe_fake.event("checkout.session.completed", session))

    def go(i: int):
        if i % 3 == 0:
            return checkout.complete_checkout(start.session_id).outcome
        return checkout.handle_stripe_event(event if i % 3 == 1 else other).outcome

    results = run_threads(6, go)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(payments_for(b.reference)) == 1
    assert booking_row(b.reference).status == "confirmed"
    assert {e.event_id for e in all_rows(ProcessedWebhookEvent)} == {"evt_test_race", other["id"]}
    assert [k for k in kinds(b.reference) if k == "paid"] == ["paid"]


def test_two_refunds_at_once_never_refund_more_than_was_paid(world, actor):
    b = awaiting_booking(world)
    row = payments.record_payment(actor, b.reference, "95", "cash")
    results = run_threads(4, lambda i: payments.refund_payment(actor, row.id, "60", f"Refund {i}"))
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 1, results
    assert all(isinstance(r, (Conflict, ValidationFailed)) for r in results if r not in done)
    assert payments_for(b.reference)[0].refunded_pence == 6000


def test_refund_made_before_the_payment_was_recorded_is_picked_up_on_return(world, stripe_fake):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    stripe_fake.pay(start.session_id)
    stripe_fake.refund_in_dashboard(start.session_id, 2500)
    assert checkout.complete_checkout(start.session_id).outcome == "paid"
    [p] = payments_for(b.reference)
    assert p.refunded_pence == 2500
    assert [(r.amount_pence, r.source) for r in refunds_for(p.id)] == [(2500, "stripe")]


def test_stripe_unreachable_on_return_says_so_but_the_webhook_still_confirms(world, stripe_fake, api):
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    session = stripe_fake.pay(start.session_id)
    stripe_fake.fail_next = [(500, "api_error", "Something went wrong")] * 3
    with pytest.raises(PaymentsUnavailable, match="confirmed automatically"):
        checkout.complete_checkout(start.session_id)
    assert booking_row(b.reference).status == "awaiting_payment"
    # the signed event carries the session, so it confirms even while Stripe's API cannot be reached
    stripe_fake.fail_next = [(500, "api_error", "Something went wrong")] * 3
    assert deliver(api, stripe_fake, "checkout.session.completed", session).json()["outcome"] == "paid"
    [p] = payments_for(b.reference)
    assert p.fee_pence is None and booking_row(b.reference).status == "confirmed"


# --- a refund that fails after Stripe accepted it ---------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["charge.refund.updated", "refund.updated"])
def test_a_refund_that_later_fails_is_undone_and_flagged_for_staff(world, stripe_fake, api, actor, event_type):
    b, start, p = paid_by_card(world, stripe_fake, api)
    made = payments.refund_payment(actor, p.id, "95", "Client cancelled")
    assert made.status == "succeeded" and payments_for(b.reference)[0].refunded_pence == 9500
    failed = stripe_fake.fail_refund(made.provider_ref, "expired_or_canceled_card")

    r = deliver(api, stripe_fake, event_type, failed, event_id="evt_test_refund_failed")
    assert r.status_code == 200 and r.json()["outcome"] == "refund failure recorded"
    [refund] = refunds_for(p.id)
    assert refund.status == "failed" and "expired or was cancelled" in refund.error
    paid = payments_for(b.reference)[0]
    assert paid.refunded_pence == 0  # the money is not counted as refunded any more
    assert paid.needs_attention and paid.attention_resolved_at is None
    assert "refund of £95.00 failed" in paid.attention_reason
    assert [row.payment_id for row in payments.attention_list(actor)] == [p.id]
    assert payments.booking_payments(actor, b.reference).summary.state != "refunded"
    assert ("refund", str(refund.id), "failed") in {(e.entity, e.entity_id, e.action) for e in all_rows(AuditEntry)}

    # The same event again, the other event type for the same failure, and Stripe's charge.refunded with the lower
    # total change nothing more.
    assert deliver(api, stripe_fake, event_type, failed, event_id="evt_test_refund_failed").json()["outcome"] == \
        "duplicate"
    other = "refund.updated" if event_type == "charge.refund.updated" else "charge.refund.updated"
    assert deliver(api, stripe_fake, other, failed).json()["outcome"] == "refund failure already recorded"
    deliver(api, stripe_fake, "charge.refunded", stripe_fake.charge_for(start.session_id))
    assert payments_for(b.reference)[0].refunded_pence == 0 and len(refunds_for(p.id)) == 1

    # Staff can then refund the client again.
    again = payments.refund_payment(actor, p.id, "95", "Client cancelled (card refund failed)")
    assert again.status == "succeeded" and payments_for(b.reference)[0].refunded_pence == 9500


def test_refund_updates_that_are_not_failures_change_nothing_and_strangers_are_not_ours(world, stripe_fake, api,
                                                                                      actor):
    b, start, p = paid_by_card(world, stripe_fake, api)
    made = payments.refund_payment(actor, p.id, "20", "Goodwill")
    refund = dict(stripe_fake.refunds[made.provider_ref])
    assert deliver(api, stripe_fake, "refund.updated", refund).json()["outcome"] == "refund already succeeded"
    stranger = {**refund, "id": "re_test_not_atlas", "status": "failed", "metadata": {}}
    assert deliver(api, stripe_fake, "refund.updated", stranger).json()["outcome"] == "not ours"
    ours_unrecorded = {**stranger, "id": "re_test_in_flight", "metadata": {"atlas_refund_id": "999"}}
    assert deliver(api, stripe_fake, "refund.updated", ours_unrecorded).status_code == 503  # Stripe sends it again
    assert [x.status for x in refunds_for(p.id)] == ["succeeded"]
    assert payments_for(b.reference)[0].refunded_pence == 2000
