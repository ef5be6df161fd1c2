"""The payment settings page and the staff payments screen's telephone (MOTO) button, driven as a browser could:
an administrator chooses GOV.UK Pay and enters the key and secret, which never come back in the page's state; a
clerk takes a MOTO payment only where the account allows it; anyone else gets nowhere."""

from __future__ import annotations

import json

import pytest
from conftest import actor_for
from govuk_pay_fake import FakeGovukPay
from payments_support import attempt_row, awaiting_booking, make_world
from state_support import at, drain, redirect_path, run, signed_in, substate

from atlas_app.services.payments import govuk_pay_accounts
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.staff.admin import payment_settings as page
from atlas_app.ui.staff.admin.payment_settings import PaymentSettingsState
from atlas_app.ui.staff.payments import payments as bookings_payments
from atlas_app.ui.staff.payments.payments import BookingPaymentsState

SECRET = "webhook_test_" + "s" * 32


@pytest.fixture
def pay(set_env):
    fake = FakeGovukPay().start()
    set_env(GOVUK_PAY_API_KEY=None, GOVUK_PAY_WEBHOOK_SECRET=None, GOVUK_PAY_API_BASE=fake.url,
            BASE_URL="http://atlas.test")
    yield fake
    fake.stop()


def _settings(monkeypatch, actor) -> PaymentSettingsState:
    signed_in(monkeypatch, actor, page)
    state = substate(PaymentSettingsState)
    run(state.load())
    return state


def _state_text(state) -> str:
    return json.dumps(state.dict(), default=str)


def test_an_administrator_enters_the_account_and_its_secrets_never_reach_the_state(monkeypatch, org, pay, actor):
    state = _settings(monkeypatch, actor)
    assert state.provider == "stripe" and not state.key_held and state.webhook_url.endswith(
        f"/api/govuk-pay/webhook/{org.slug}")
    key = pay.add_account(moto=True)
    run(state.save({"provider": "govuk_pay", "api_key": key, "webhook_secret": SECRET, "moto_allowed": "on"}))
    assert state.error == "" and state.notice == "Payment settings saved."
    assert state.provider == "govuk_pay" and state.in_use == "GOV.UK Pay" and state.key_held and state.secret_held
    assert state.moto_allowed and state.key_hint.endswith(key[-4:])
    text = _state_text(state)
    assert key not in text and SECRET not in text and key[:-4] not in text
    # A blank key keeps the one held; unticking MOTO switches it off.
    run(state.save({"provider": "govuk_pay", "api_key": "", "webhook_secret": ""}))
    assert state.key_held and not state.moto_allowed
    assert govuk_pay_accounts.account_for(org.id).api_key == key


def test_a_mistyped_key_is_refused_and_not_echoed(monkeypatch, org, pay, actor):
    state = _settings(monkeypatch, actor)
    typo = "api_test_ with a space in it 1234567890"
    run(state.save({"provider": "govuk_pay", "api_key": typo}))
    assert "not a GOV.UK Pay API key" in state.error and state.notice == ""
    assert typo not in _state_text(state) and govuk_pay_accounts.account_for(org.id) is None


def test_someone_without_the_permission_gets_nothing(monkeypatch, org, pay, make_user):
    clerk = actor_for(make_user("clerk", roles=("Contact centre",)))
    signed_in(monkeypatch, clerk, page)
    state = substate(PaymentSettingsState)
    with pytest.raises(PermissionDenied):
        run(state.load())
    with pytest.raises(PermissionDenied):
        run(state.save({"provider": "govuk_pay", "api_key": pay.add_account()}))
    assert govuk_pay_accounts.account_for(org.id) is None


def _payments_page(monkeypatch, actor, reference: str) -> BookingPaymentsState:
    signed_in(monkeypatch, actor, bookings_payments)
    state = at(substate(BookingPaymentsState), f"http://atlas.test/bookings/payments?ref={reference}")
    drain(state.load())
    return state


def test_a_clerk_opens_govuk_pays_card_page_for_a_moto_payment(monkeypatch, org, pay, actor, make_user):
    world = make_world(org.id, payments_demo=False)
    govuk_pay_accounts.save_settings(actor, provider="govuk_pay", api_key=pay.add_account(moto=True),
                                     moto_allowed=True)
    clerk = actor_for(make_user("clerk", roles=("Contact centre",)))
    b = awaiting_booking(world)
    state = _payments_page(monkeypatch, clerk, b.reference)
    assert state.moto_available and state.booking["outstanding"] == "£95.00"
    events = drain(state.take_moto())
    target = redirect_path(events)
    assert state.moto_error == "" and target and target.startswith(pay.url + "/secure/")
    [sent] = pay.requests_to("POST", "/v1/payments")
    assert sent["body"]["moto"] is True and sent["body"]["amount"] == 9500
    assert attempt_row(sent["body"]["return_url"].split("session_id=")[1]).booking_id is not None


def test_no_moto_button_and_a_refusal_where_the_account_does_not_allow_it(monkeypatch, org, pay, actor, make_user):
    world = make_world(org.id, payments_demo=False)
    govuk_pay_accounts.save_settings(actor, provider="govuk_pay", api_key=pay.add_account(moto=True))
    clerk = actor_for(make_user("clerk", roles=("Contact centre",)))
    b = awaiting_booking(world)
    state = _payments_page(monkeypatch, clerk, b.reference)
    assert not state.moto_available
    events = drain(state.take_moto())  # sent by a browser anyway
    assert redirect_path(events) is None and "does not take telephone" in state.moto_error
    assert pay.requests_to("POST", "/v1/payments") == []
