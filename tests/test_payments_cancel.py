"""Cancelling a booking that was paid for: what was paid less the organisation's cancellation fee is refunded to the
card at once (through the Stripe-compatible fake, or the demo provider), money taken offline is flagged for staff,
a refusing or unreachable Stripe leaves the cancellation standing with the payment flagged, and refunds at the same
time never give back more than was paid. Also the API answer and the two pages' states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import write_session
from atlas_app.models import AuditEntry, BookingTerms, ClientEvent, EmailMessage, Offer
from atlas_app.models.payments import Refund
from atlas_app.services.platform import api_tokens
from atlas_app.services.payments import checkout
from atlas_app.services import payments
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking.bookings import ClientProof
from atlas_app.services.platform.errors import AtlasError, Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.ui.staff.booking import clients as bookings_clients
from atlas_app.ui.public.booking_manage import ManageBookingState
from atlas_app.ui.staff.booking.clients import CancelDialogState, ClientState
from conftest import actor_for, all_rows, create_user, run_threads
from payments_support import *  # noqa: F403
from state_support import at, drain, redirect_path, signed_in, substate, substates

CANCEL_FEE = 2500


def set_cancel_fee(world, pence: int = CANCEL_FEE) -> None:
    with write_session() as s:
        terms = s.exec(select(BookingTerms).where(BookingTerms.organisation_id == world.org_id)).one()
        terms.cancel_fee_pence = pence
        s.add(terms)


def pay_online(world, reference: str, *, demo: bool = False, fake=None):
    start = checkout.start_checkout(world.org_id, booking_row(reference).offer_id, reference)
    if demo:
        assert checkout.demo_pay(start.session_id, "4242 4242 4242 4242", "12/40", "123").outcome == "paid"
    else:
        fake.pay(start.session_id)
        checkout.complete_checkout(start.session_id)
    return payments_for(reference)[-1]


def client_cancels(world, reference: str) -> payments.CancelOutcome:
    proof = ClientProof(world.org_id, booking_row(reference).offer_id)
    return payments.cancel_booking(world.org_id, reference, client=proof, reason="Cancelled by the client online.")


def client_email(reference: str) -> EmailMessage:
    return next(m for m in all_rows(EmailMessage, order_by=EmailMessage.id) if "is cancelled" in m.subject
                and reference in m.subject)


def test_client_cancel_refunds_paid_less_fee_through_stripe(world, stripe_fake, actor):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, fake=stripe_fake)
    assert booking_row(b.reference).status == "confirmed"
    preview = payments.cancel_preview(world.org_id, b.reference, actor=actor)
    assert (preview.paid_pence, preview.fee_pence, preview.refund_pence, preview.card_pence) == (9500, 2500, 7000,
                                                                                               7000)
    outcome = client_cancels(world, b.reference)
    assert outcome.money == preview and outcome.refunded_pence == 7000 and outcome.attention_pence == 0
    assert booking_row(b.reference).status == "cancelled" and session_row(world.session_id).seats_taken == 0
    [sent] = stripe_fake.requests_to("POST", "/v1/refunds")
    [refund] = refunds_for(p.id)
    assert (sent["params"]["amount"], sent["params"]["payment_intent"]) == ("7000", p.provider_ref)
    assert sent["headers"]["idempotency-key"] == f"atlas-refund-{refund.id}"
    assert (refund.amount_pence, refund.status, refund.source) == (7000, "succeeded", "cancellation")
    assert refund.reason == "Booking cancelled (cancellation fee £25.00 kept)"
    client_id = all_rows(Offer, Offer.id == booking_row(b.reference).offer_id)[0].client_id
    assert refund.by_username == f"client:{client_id}"
    assert payments_for(b.reference)[0].refunded_pence == 7000
    assert stripe_fake.charge_for(checkout_session_of(b.reference))["amount_refunded"] == 7000
    body = client_email(b.reference).body_text
    assert "A cancellation fee of £25.00 is kept" in body and "£70.00 is being refunded to the card" in body
    cancelled = [e for e in all_rows(ClientEvent) if e.kind == "cancelled"]
    assert "£70.00 is being refunded" in cancelled[0].detail
    audited = [a for a in all_rows(AuditEntry) if a.entity == "refund"]
    assert [(a.action, a.username) for a in audited] == [("refunded", f"client:{client_id}")]


def checkout_session_of(reference: str) -> str:
    from atlas_app.models.payments import CheckoutAttempt

    return all_rows(CheckoutAttempt, CheckoutAttempt.booking_id == booking_row(reference).id)[0].provider_session_id


def test_demo_card_payment_is_refunded_by_the_demo_provider(world, no_stripe, actor):
    set_cancel_fee(world, 1000)
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, demo=True)
    outcome = payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Client moved abroad")
    [refund] = refunds_for(p.id)
    assert (refund.amount_pence, refund.status, refund.by_username) == (8500, "succeeded", actor.username)
    assert refund.provider_ref.startswith("demo_re_")
    assert outcome.refunded_pence == 8500 and "Refunded £85.00 to the card" in outcome.summary
    assert payments.booking_payments(actor, b.reference).summary.paid_pence == 1000


def test_fee_larger_than_paid_refunds_nothing(world, stripe_fake):
    set_cancel_fee(world, 12000)
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, fake=stripe_fake)
    outcome = client_cancels(world, b.reference)
    assert (outcome.money.fee_pence, outcome.money.refund_pence, outcome.refunded_pence) == (9500, 0, 0)
    assert stripe_fake.requests_to("POST", "/v1/refunds") == [] and refunds_for(p.id) == []
    assert "nothing to refund" in client_email(b.reference).body_text
    assert booking_row(b.reference).status == "cancelled"


def test_unpaid_booking_has_nothing_to_refund(world, actor):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    preview = payments.cancel_preview(world.org_id, b.reference, actor=actor)
    assert preview.staff_text.startswith("Nothing has been paid")
    outcome = payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Changed mind")
    assert outcome.money == payments.NO_MONEY and outcome.refunds == []
    assert "refund" not in client_email(b.reference).body_text.lower()


def test_cash_payment_is_flagged_for_staff_to_refund(world, actor):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    row = payments.record_payment(actor, b.reference, "95", "cash")
    outcome = payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Client asked")
    assert (outcome.refunded_pence, outcome.attention_pence) == (0, 7000)
    assert refunds_for(row.id) == []
    [flagged] = payments.attention_list(actor)
    assert flagged.payment_id == row.id
    assert flagged.reason.startswith("Refund due: £70.00 after booking") and "cash" in flagged.reason
    assert "will be refunded to you by us" in client_email(b.reference).body_text


def test_several_payments_are_refunded_newest_first(world, stripe_fake, actor):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    cash = payments.record_payment(actor, b.reference, "40", "cash")
    card = pay_online(world, b.reference, fake=stripe_fake)
    assert card.amount_pence == 5500
    outcome = client_cancels(world, b.reference)
    # the card (newest) gives back all £55; the remaining £15 of the £70 is due from the cash
    assert [x.amount_pence for x in refunds_for(card.id)] == [5500]
    assert outcome.money.parts == ((card.id, 5500, True), (cash.id, 1500, False))
    [flagged] = payments.attention_list(actor)
    assert flagged.payment_id == cash.id and flagged.reason.startswith("Refund due: £15.00")


def test_stripe_down_cancellation_stands_and_payment_is_flagged(world, stripe_fake, actor):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, fake=stripe_fake)
    stripe_fake.fail_next = [(500, "api_error", "Something went wrong")] * 3
    outcome = client_cancels(world, b.reference)
    assert booking_row(b.reference).status == "cancelled" and session_row(world.session_id).seats_taken == 0
    assert outcome.refunded_pence == 0 and outcome.attention_pence == 7000
    assert [(r.status, r.amount_pence) for r in refunds_for(p.id)] == [("failed", 7000)]
    assert all(r.status != "pending" for r in all_rows(Refund))
    assert payments_for(b.reference)[0].refunded_pence == 0
    [flagged] = payments.attention_list(actor)
    assert flagged.reason.startswith("Refund due: £70.00 after booking") and "Stripe did not make the refund" \
        in flagged.reason and "Something went wrong" in flagged.reason
    # staff can then refund it from the payments page: the amount is still refundable, once
    payments.refund_payment(actor, p.id, "70", "Refund after cancellation")
    assert payments_for(b.reference)[0].refunded_pence == 7000
    with pytest.raises(ValidationFailed):
        payments.refund_payment(actor, p.id, "70", "Again")


def test_stripe_refusal_is_flagged_with_its_message(world, stripe_fake, actor):
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, fake=stripe_fake)
    stripe_fake.fail_next = [(402, "card_error", "The refund could not be made.")]
    outcome = payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Client asked")
    assert outcome.refunds[0].status == "failed" and outcome.attention_pence == 9500
    assert "The refund could not be made" in payments.attention_list(actor)[0].reason
    after = payments_for(b.reference)[0]
    assert (after.id, after.refunded_pence, after.needs_attention) == (p.id, 0, True)
    assert booking_row(b.reference).status == "cancelled"


def test_cancel_and_staff_refund_at_once_never_refund_more_than_paid(world, stripe_fake, actor):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, fake=stripe_fake)

    def act(i):
        if i == 0:
            return client_cancels(world, b.reference)
        return payments.refund_payment(actor, p.id, "95", "Full refund")

    results = run_threads(2, act)
    assert not isinstance(results[0], BaseException), results
    refunded = sum(r.amount_pence for r in refunds_for(p.id) if r.status == "succeeded")
    assert refunded <= 9500 and payments_for(b.reference)[0].refunded_pence == refunded
    assert stripe_fake.charge_for(checkout_session_of(b.reference))["amount_refunded"] == refunded
    assert refunded in (7000, 9500)  # whichever came first; the other found nothing (or the rest) to refund


def test_two_cancellations_at_once_refund_once(world, stripe_fake, actor):
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, fake=stripe_fake)
    results = run_threads(3, lambda i: payments.cancel_booking(world.org_id, b.reference, actor=actor,
                                                               reason=f"Cancel {i}"))
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 1 and all(isinstance(r, (ValidationFailed, Conflict)) for r in results if r not in done)
    assert [r.amount_pence for r in refunds_for(p.id)] == [9500]
    assert len(stripe_fake.requests_to("POST", "/v1/refunds")) == 1


def test_the_refund_preview_is_for_staff_who_manage_bookings_or_the_client_themselves(world, org, other_org):
    b = awaiting_booking(world)
    offer_id = booking_row(b.reference).offer_id
    assert payments.cancel_preview(world.org_id, b.reference, ClientProof(world.org_id, offer_id)).paid_pence == 0
    with pytest.raises(NotFound):
        payments.cancel_preview(world.org_id, b.reference, ClientProof(world.org_id, offer_id + 1))
    with pytest.raises(PermissionDenied):
        payments.cancel_preview(world.org_id, b.reference, ClientProof(other_org.id, offer_id))
    with pytest.raises(PermissionDenied):
        payments.cancel_preview(world.org_id, b.reference)
    readonly = actor_for(create_user(org, "hbc.readonly.preview", roles=("Read-only",)))
    with pytest.raises(PermissionDenied):
        payments.cancel_preview(world.org_id, b.reference, actor=readonly)
    essex = actor_for(create_user(other_org, "ecc.admin.preview", roles=("Administrator",)))
    with pytest.raises(PermissionDenied):
        payments.cancel_preview(world.org_id, b.reference, actor=essex)


def test_transfers_cancellations_and_refunds_of_one_booking_at_once_never_deadlock(world, no_stripe, actor):
    """Every writer locks the booking's offer before the booking, so none of them waits on another in a circle
    (PostgreSQL would abort one of them with a deadlock error); each either succeeds or refuses clearly."""
    other_id = another_session(world, days_later=1)
    for _ in range(8):
        b = awaiting_booking(world)
        p = pay_online(world, b.reference, demo=True)
        ops = [lambda: booking_service.transfer(world.org_id, b.reference, other_id, actor=actor),
               lambda: payments.refund_payment(actor, p.id, "10", "Goodwill"),
               lambda: payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Cancel")]
        results = run_threads(3, lambda i: ops[i]())
        assert [r for r in results if isinstance(r, BaseException) and not isinstance(r, AtlasError)] == []
        assert any(not isinstance(r, BaseException) for r in results)


# --- the API -------------------------------------------------------------------------------------------------------


def test_api_cancel_answers_with_the_refund(world, no_stripe, actor):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    pay_online(world, b.reference, demo=True)
    token = api_tokens.create(actor, "Cancel test").token
    with TestClient(build_api()) as client:
        r = client.post(f"/api/v1/bookings/{b.reference}/cancel", json={"reason": "Client asked"},
                        headers={"Authorization": f"Bearer {token}"})
        doc = client.get("/api/openapi.json").json()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled"
    assert body["refund"] == {"paid_pence": 9500, "cancellation_fee_pence": 2500, "refund_pence": 7000,
                              "refunded_to_card_pence": 7000, "to_refund_by_staff_pence": 0}
    schemas = doc["components"]["schemas"]
    assert set(body) == set(schemas["CancelledBooking"]["properties"])
    assert set(body["refund"]) == set(schemas["CancelRefund"]["properties"])


# --- the pages ------------------------------------------------------------------------------------------------------


def test_client_cancel_page_says_what_will_be_refunded(world, no_stripe):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    pay_online(world, b.reference, demo=True)
    manage = substate(ManageBookingState)
    form = {"reference": b.reference, "dob_day": "1", "dob_month": "1", "dob_year": "1980", "postcode": "TS24 7QS"}
    assert redirect_path(drain(manage.find(form))) == "/booking/manage/view"
    drain(manage.load_cancel())
    assert manage.cancel_money_text == ("You paid £95.00. A cancellation fee of £25.00 is kept, as our booking terms "
                                        "say. £70.00 is being refunded to the card you paid with; card refunds usually "
                                        "reach your account within 5 to 10 working days.")
    assert redirect_path(drain(manage.cancel())) == "/booking/manage/view"
    assert "£70.00 is being refunded to the card" in manage.notice and b.reference in manage.notice
    assert booking_row(b.reference).status == "cancelled"


def test_staff_cancel_dialog_says_what_will_be_refunded(world, no_stripe, actor, monkeypatch):
    set_cancel_fee(world)
    b = awaiting_booking(world)
    pay_online(world, b.reference, demo=True)
    signed_in(monkeypatch, actor, bookings_clients)
    client_id = all_rows(Offer, Offer.id == booking_row(b.reference).offer_id)[0].client_id
    page, dialog = substates(ClientState, CancelDialogState)
    drain(at(page, f"http://atlas.test/bookings/client/{client_id}").load())
    drain(dialog.show(b.reference))
    assert dialog.is_open
    assert dialog.money == ("Paid £95.00. £70.00 will be refunded (cancellation fee £25.00 kept). £70.00 goes "
                            "back to the card at once.")
    drain(dialog.cancel({"reason": "Client asked"}))
    assert not dialog.is_open and dialog.error == ""
    assert "Refunded £70.00 to the card, cancellation fee £25.00 kept" in page.notice
    assert booking_row(b.reference).status == "cancelled"


def test_a_refund_stripe_never_answered_is_sent_again_once(world, stripe_fake, actor, monkeypatch):
    from atlas_app.db import utcnow

    b = awaiting_booking(world)
    p = pay_online(world, b.reference, fake=stripe_fake)
    # the worker stops after recording the refund, before Stripe's answer is recorded
    with monkeypatch.context() as m:
        m.setattr(payments.cancellation, "send_card_refund", lambda pending, actor, attention="": pending.row)
        outcome = payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Client asked")
    assert [r.status for r in refunds_for(p.id)] == ["pending"] and outcome.refunds[0].status == "pending"
    assert payments.process_overdue(utcnow()).refunds_retried == 0  # too recent: may still be on its way
    later = utcnow() + timedelta(minutes=11)
    assert payments.process_overdue(later).refunds_retried == 1
    [refund] = refunds_for(p.id)
    assert refund.status == "succeeded" and refund.provider_ref.startswith("re_")
    assert payments.process_overdue(later).refunds_retried == 0
    sent = stripe_fake.requests_to("POST", "/v1/refunds")
    assert [x["headers"]["idempotency-key"] for x in sent] == [f"atlas-refund-{refund.id}"]
    assert payments_for(b.reference)[0].refunded_pence == 9500


def test_money_paid_before_a_transfer_is_refunded_when_the_new_booking_is_cancelled(world, no_stripe, actor):
    from atlas_app.services.booking import bookings as booking_service

    set_cancel_fee(world)
    b = awaiting_booking(world)
    p = pay_online(world, b.reference, demo=True)
    later_id = another_session(world, days_later=7)
    moved = booking_service.transfer(world.org_id, b.reference, later_id, actor=actor)
    assert payments.cancel_preview(world.org_id, moved.reference, actor=actor).refund_pence == 7000
    # the old reference sees it too
    assert payments.cancel_preview(world.org_id, b.reference, actor=actor).paid_pence == 9500
    with pytest.raises(ValidationFailed):  # but only the current booking can be cancelled
        payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Old reference")
    outcome = payments.cancel_booking(world.org_id, moved.reference, actor=actor, reason="Client asked")
    assert outcome.refunded_pence == 7000
    assert [(r.amount_pence, r.status) for r in refunds_for(p.id)] == [(7000, "succeeded")]
    assert session_row(later_id).seats_taken == 0
