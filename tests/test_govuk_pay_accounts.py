"""Each organisation's own GOV.UK Pay account (services/payments/govuk_pay_accounts.py): an administrator chooses
the card provider, enters the API key and webhook signing secret (sealed at rest, never shown back, audited without
them) and says whether the account takes telephone (MOTO) payments; payments, returns, webhooks and refunds then
use that organisation's key and secret, and fall back to the deployment's GOVUK_PAY_* settings. Against the local
stand-in speaking GOV.UK Pay's API (tests/govuk_pay_fake.py), which keeps each account's payments apart."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import actor_for, all_rows
from govuk_pay_fake import FakeGovukPay
from payments_support import FEE, attempt_row, awaiting_booking, booking_row, make_world, payments_for
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import read_session
from atlas_app.models import AuditEntry
from atlas_app.models.payments import GovukPayAccount
from atlas_app.services.payments import checkout, govuk_pay_accounts
from atlas_app.services.platform import secret_box
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


@pytest.fixture
def pay(set_env):
    fake = FakeGovukPay().start()
    set_env(GOVUK_PAY_API_KEY=None, GOVUK_PAY_WEBHOOK_SECRET=None, GOVUK_PAY_API_BASE=fake.url,
            BASE_URL="http://atlas.test")
    yield fake
    fake.stop()


@pytest.fixture
def api():
    with TestClient(build_api()) as client:
        yield client


def own_secret() -> str:
    return "webhook_test_" + "c" * 32


def org_account(actor, fake, moto: bool = False, account_moto: bool = False):
    key = fake.add_account(moto=account_moto)
    view = govuk_pay_accounts.save_settings(actor, provider="govuk_pay", api_key=key, webhook_secret=own_secret(),
                                            moto_allowed=moto)
    return key, view


def start_for(world, reference: str) -> checkout.CheckoutStart:
    return checkout.start_checkout(world.org_id, booking_row(reference).offer_id, reference)


def post_webhook(api, fake, path: str, payment_id: str, secret: str):
    body = fake.message(payment_id)
    return api.post(path, content=body, headers={"Pay-Signature": fake.sign(body, secret),
                                                  "Content-Type": "application/json"})


def test_the_organisations_own_key_is_sealed_never_shown_back_and_audited_without_it(org, pay, actor):
    world = make_world(org.id, payments_demo=False)
    key, view = org_account(actor, pay)
    with read_session() as s:
        row = s.exec(GovukPayAccount.__table__.select()).one()
    # At rest: neither secret appears in the row; both open under this deployment's key.
    assert key not in row.api_key_encrypted and own_secret() not in row.webhook_secret_encrypted
    assert secret_box.open_or_blank(row.api_key_encrypted, f"govuk_pay:{org.id}:api_key") == key
    assert secret_box.open_or_blank(row.webhook_secret_encrypted, f"govuk_pay:{org.id}:webhook_secret") == own_secret()
    # Shown back: that one is held and the key's last four characters, nothing more.
    shown = repr(dataclasses.asdict(view))
    assert key not in shown and own_secret() not in shown and key[-4:] in view.api_key_hint
    assert view.provider == "govuk_pay" and view.provider_in_use == "govuk_pay" and view.own_webhook_secret
    assert view.webhook_path == f"/api/govuk-pay/webhook/{org.slug}"
    [entry] = [e for e in all_rows(AuditEntry) if e.action == "payment_settings_changed"]
    logged = repr((entry.before, entry.after))
    assert key not in logged and own_secret() not in logged and key[:-4] not in logged
    assert entry.after["card_provider"] == "govuk_pay" and entry.after["webhook_secret"] == "held"
    # Its payments go through its own account, with its key.
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    [sent] = pay.requests_to("POST", "/v1/payments")
    assert sent["headers"]["authorization"] == f"Bearer {key}"
    assert pay.owner[attempt_row(start.session_id).payment_intent_id] == key


def test_a_blank_field_keeps_the_held_secret_and_remove_forgets_it(org, pay, actor, set_env):
    make_world(org.id, payments_demo=False)
    key, _ = org_account(actor, pay)
    view = govuk_pay_accounts.save_settings(actor, provider="govuk_pay", moto_allowed=True)
    assert view.own_api_key and view.own_webhook_secret and view.moto_allowed
    assert govuk_pay_accounts.account_for(org.id).api_key == key
    # Without its own key and with none in the deployment, GOV.UK Pay cannot stay chosen.
    with pytest.raises(ValidationFailed, match="Enter the GOV.UK Pay API key"):
        govuk_pay_accounts.save_settings(actor, provider="govuk_pay", remove_api_key=True)
    assert govuk_pay_accounts.account_for(org.id).api_key == key
    view = govuk_pay_accounts.save_settings(actor, provider="stripe", remove_api_key=True,
                                            remove_webhook_secret=True)
    assert not view.own_api_key and not view.own_webhook_secret and view.api_key_hint == ""
    assert govuk_pay_accounts.account_for(org.id) is None
    # Then the deployment's account is the fall-back.
    set_env(GOVUK_PAY_API_KEY=pay.api_key, GOVUK_PAY_WEBHOOK_SECRET=pay.webhook_secret)
    view = govuk_pay_accounts.save_settings(actor, provider="govuk_pay")
    account = govuk_pay_accounts.account_for(org.id)
    assert view.provider_in_use == "govuk_pay" and account.source == "environment"
    assert account.api_key == pay.api_key and account.webhook_secret == pay.webhook_secret


@pytest.mark.parametrize("field,value", [
    ("api_key", "sk_live_123456789012345678901234"),  # a Stripe key pasted in the wrong box
    ("api_key", "api_test_ 1234567890abcdef12345"),
    ("api_key", "api_test_short"),
    ("webhook_secret", "api_test_" + "a" * 32),
    ("provider", "paypal"),
])
def test_bad_input_is_refused_plainly_and_changes_nothing(org, pay, actor, field, value):
    key, _ = org_account(actor, pay)
    before = govuk_pay_accounts.account_for(org.id)
    args = {"provider": "govuk_pay", field: value}
    with pytest.raises(ValidationFailed) as err:
        govuk_pay_accounts.save_settings(actor, **args)
    assert field in err.value.errors
    assert govuk_pay_accounts.account_for(org.id) == before
    assert value not in str(err.value)


def test_only_an_administrator_of_the_organisation_sees_or_changes_it(org, other_org, pay, actor, make_user):
    org_account(actor, pay)
    clerk = actor_for(make_user("clerk", roles=("Contact centre",)))
    with pytest.raises(PermissionDenied):
        govuk_pay_accounts.settings_view(clerk)
    with pytest.raises(PermissionDenied):
        govuk_pay_accounts.save_settings(clerk, provider="stripe")
    # Another organisation's administrator changes only their own organisation.
    essex = actor_for(make_user("essex-admin", roles=("Administrator",), org_info=other_org))
    view = govuk_pay_accounts.save_settings(essex, provider="stripe")
    assert not view.own_api_key
    assert govuk_pay_accounts.account_for(org.id).source == "organisation"
    assert govuk_pay_accounts.account_for(other_org.id) is None


def test_a_sealed_key_that_no_longer_opens_reads_as_absent(org, pay, actor, set_env):
    org_account(actor, pay)
    set_env(SECRET_KEY="another-deployment-secret-" + "x" * 20)
    assert govuk_pay_accounts.account_for(org.id) is None
    assert checkout.provider_for(org.id) != "govuk_pay"


def test_webhooks_at_the_organisations_address_use_its_secret_and_touch_only_its_payments(
        org, other_org, pay, actor, api, make_user, set_env):
    world = make_world(org.id, payments_demo=False)
    key, _ = org_account(actor, pay)
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    payment_id = attempt_row(start.session_id).payment_intent_id
    pay.pay(payment_id)
    path = f"/api/govuk-pay/webhook/{org.slug}"
    # Signed with the deployment's secret, or another's, at this organisation's address: refused, nothing changes.
    set_env(GOVUK_PAY_WEBHOOK_SECRET=pay.webhook_secret)
    assert post_webhook(api, pay, path, payment_id, pay.webhook_secret).status_code == 400
    # The deployment's address does not apply payments of an organisation with its own account.
    answer = post_webhook(api, pay, "/api/govuk-pay/webhook", payment_id, pay.webhook_secret)
    assert answer.status_code == 200 and answer.json()["outcome"] == "not ours"
    # Essex's address, under Essex's own secret, cannot touch Hartlepool's payment.
    essex = actor_for(make_user("essex-admin", roles=("Administrator",), org_info=other_org))
    essex_secret = "webhook_live_" + "e" * 32
    govuk_pay_accounts.save_settings(essex, provider="govuk_pay", api_key=pay.add_account(),
                                     webhook_secret=essex_secret)
    answer = post_webhook(api, pay, f"/api/govuk-pay/webhook/{other_org.slug}", payment_id, essex_secret)
    assert answer.status_code == 200 and answer.json()["outcome"] == "not ours"
    assert booking_row(b.reference).status == "awaiting_payment"
    assert api.post("/api/govuk-pay/webhook/nowhere", content=b"{}").status_code == 404
    # Its own secret at its own address: applied, the payment fetched with its own key.
    answer = post_webhook(api, pay, path, payment_id, own_secret())
    assert answer.status_code == 200 and answer.json()["outcome"] == "paid"
    assert booking_row(b.reference).status == "confirmed"
    gets = pay.requests_to("GET", f"/v1/payments/{payment_id}")
    assert gets and all(r["headers"]["authorization"] == f"Bearer {key}" for r in gets)


def test_the_return_and_refunds_use_the_organisations_key(org, pay, actor):
    from atlas_app.services import payments

    world = make_world(org.id, payments_demo=False)
    key, _ = org_account(actor, pay)
    b = awaiting_booking(world)
    start = start_for(world, b.reference)
    payment_id = attempt_row(start.session_id).payment_intent_id
    pay.pay(payment_id)
    assert checkout.complete_checkout(start.session_id).outcome == "paid"
    outcome = payments.cancel_booking(world.org_id, b.reference, actor=actor, reason="Changed plans")
    assert outcome.refunded_pence == FEE
    [refund] = pay.requests_to("POST", f"/v1/payments/{payment_id}/refunds")
    assert refund["headers"]["authorization"] == f"Bearer {key}"
    assert all(r["headers"]["authorization"] == f"Bearer {key}" for r in pay.requests)


# --- telephone (MOTO) payments ---------------------------------------------------------------------------------


def test_moto_is_refused_before_govuk_pay_is_asked_unless_the_administrator_allowed_it(org, pay, actor):
    world = make_world(org.id, payments_demo=False)
    org_account(actor, pay, moto=False, account_moto=True)
    b = awaiting_booking(world)
    with pytest.raises(ValidationFailed, match="does not take telephone"):
        checkout.start_moto_payment(actor, b.reference)
    assert pay.requests_to("POST", "/v1/payments") == []
    assert booking_row(b.reference).status == "awaiting_payment"


def test_a_moto_payment_keys_the_card_on_govuk_pay_and_the_return_confirms_it(org, pay, actor, make_user):
    world = make_world(org.id, payments_demo=False)
    key, _ = org_account(actor, pay, moto=True, account_moto=True)
    clerk = actor_for(make_user("clerk", roles=("Contact centre",)))
    b = awaiting_booking(world)
    start = checkout.start_moto_payment(clerk, b.reference)
    [sent] = pay.requests_to("POST", "/v1/payments")
    assert sent["body"]["moto"] is True and sent["headers"]["authorization"] == f"Bearer {key}"
    payment_id = attempt_row(start.session_id).payment_intent_id
    assert pay.payments[payment_id]["moto"] is True and start.url.startswith(pay.url + "/secure/")
    pay.pay(payment_id)
    result = checkout.complete_checkout(start.session_id)
    assert result.outcome == "paid" and booking_row(b.reference).status == "confirmed"
    again = checkout.complete_checkout(start.session_id)
    assert again.outcome == result.outcome and len(payments_for(b.reference)) == 1
    with pytest.raises((Conflict, ValidationFailed)):
        checkout.start_moto_payment(clerk, b.reference)  # nothing left to pay
    assert len(pay.requests_to("POST", "/v1/payments")) == 1


def test_a_moto_payment_govuk_pay_refuses_leaves_the_booking_recoverable(org, pay, actor):
    world = make_world(org.id, payments_demo=False)
    org_account(actor, pay, moto=True, account_moto=False)
    b = awaiting_booking(world)
    with pytest.raises(ValidationFailed, match="does not allow telephone"):
        checkout.start_moto_payment(actor, b.reference)
    assert booking_row(b.reference).status == "awaiting_payment"
    # Online payment still works for the same booking.
    start = start_for(world, b.reference)
    assert pay.payments[attempt_row(start.session_id).payment_intent_id]["moto"] is False


def test_moto_needs_the_payments_permission_and_the_organisations_booking(org, other_org, pay, actor, make_user):
    world = make_world(org.id, payments_demo=False)
    org_account(actor, pay, moto=True, account_moto=True)
    b = awaiting_booking(world)
    instructor = actor_for(make_user("ins", roles=("Instructor",)))
    with pytest.raises(PermissionDenied):
        checkout.start_moto_payment(instructor, b.reference)
    essex = actor_for(make_user("essex-admin", roles=("Administrator",), org_info=other_org))
    with pytest.raises(ValidationFailed, match="need the organisation to use GOV.UK Pay"):
        checkout.start_moto_payment(essex, b.reference)  # Essex does not use GOV.UK Pay
    govuk_pay_accounts.save_settings(essex, provider="govuk_pay", api_key=pay.add_account(moto=True),
                                     moto_allowed=True)
    with pytest.raises(NotFound):
        checkout.start_moto_payment(essex, b.reference)  # Hartlepool's booking is not Essex's
    assert pay.requests_to("POST", "/v1/payments") == []


def test_the_stand_in_checks_moto_like_govuk_pay(pay):
    from atlas_app.services.payments import govuk_pay

    key = pay.add_account(moto=False)
    base = {"amount_pence": 100, "reference": "R1", "description": "D", "return_url": "https://x/r"}
    with pytest.raises(govuk_pay.GovukPayError) as err:
        govuk_pay.create_payment(**base, moto=True, api_key=key)
    assert err.value.code == "P0196" and err.value.status == 422
    created = govuk_pay.create_payment(**base, api_key=key)
    assert created["moto"] is False
    # Another account cannot read it.
    with pytest.raises(govuk_pay.GovukPayError) as err:
        govuk_pay.get_payment(created["payment_id"], api_key=pay.add_account())
    assert err.value.code == "P0200"
