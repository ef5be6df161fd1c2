"""The demo card provider runs only where someone said this is a demo: the organisation's ``payments_demo`` flag
(set by the platform administrator, audited) or the deployment's ``ATLAS_DEMO_PAYMENTS=1``. From an attacker's
side: with no Stripe key, an anonymous client of a real organisation cannot get a booking confirmed with the test
card 4242 4242 4242 4242, whether through the service, the demo page's handlers, or a demo checkout left open from
before the organisation's flag was switched off."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from atlas_app.models import AuditEntry, Organisation
from atlas_app.services.payments import checkout, stripe_gateway
from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable
from atlas_app.services.platform import organisations
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.settings import PROJECT_ROOT
from atlas_app.ui.public.pay_demo import PayDemoState
from atlas_app.ui.staff.admin import organisations as organisations_page
from conftest import actor_for, all_rows, create_user, set_columns
from payments_support import awaiting_booking, booking_row, make_world, no_stripe, payments_for  # noqa: F401
from state_support import at, drain, run, signed_in, substate

CARD = ("4242 4242 4242 4242", "12 / 40", "123")


@pytest.fixture
def real_world(org, no_stripe):
    """A real council: no Stripe key, no demo flag, and a deployment that is not a demo."""
    return make_world(org.id, payments_demo=False)


@pytest.fixture
def platform_admin(org):
    return actor_for(create_user(org, "platform.admin", is_platform_admin=True))


def _offer_id(reference: str) -> int:
    return booking_row(reference).offer_id


def test_without_the_flag_checkout_is_refused_and_says_how_else_to_pay(real_world):
    b = awaiting_booking(real_world)
    assert checkout.provider_for(real_world.org_id) == "none"
    with pytest.raises(PaymentsUnavailable) as caught:
        checkout.start_checkout(real_world.org_id, _offer_id(b.reference), b.reference)
    assert "not available" in str(caught.value) and "telephone" in str(caught.value)
    assert booking_row(b.reference).status == "awaiting_payment" and payments_for(b.reference) == []


def test_a_demo_checkout_left_open_cannot_pay_once_the_flag_is_off(org, no_stripe):
    world = make_world(org.id, payments_demo=True)
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, _offer_id(b.reference), b.reference)
    set_columns(Organisation, Organisation.id == org.id, payments_demo=False)

    with pytest.raises(PaymentsUnavailable):
        checkout.demo_pay(start.session_id, *CARD)
    with pytest.raises(PaymentsUnavailable):
        checkout.demo_checkout(start.session_id)
    assert booking_row(b.reference).status == "awaiting_payment" and payments_for(b.reference) == []


def test_the_demo_page_handlers_refuse_an_organisation_without_the_flag(org, no_stripe):
    world = make_world(org.id, payments_demo=True)
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, _offer_id(b.reference), b.reference)
    page = at(substate(PayDemoState), "http://atlas.test" + start.url)
    drain(page.load())
    assert page.status == "open"
    set_columns(Organisation, Organisation.id == org.id, payments_demo=False)

    drain(page.pay({"card_number": CARD[0], "expiry": CARD[1], "cvc": CARD[2]}))
    assert "not available" in page.problem and "telephone" in page.problem
    assert booking_row(b.reference).status == "awaiting_payment" and payments_for(b.reference) == []
    again = at(substate(PayDemoState), "http://atlas.test" + start.url)
    drain(again.load())
    assert again.status == "unavailable" and "telephone" in again.problem


def test_with_the_flag_the_demo_card_pays(org, no_stripe):
    world = make_world(org.id, payments_demo=True)
    b = awaiting_booking(world)
    assert checkout.provider_for(world.org_id) == "demo"
    start = checkout.start_checkout(world.org_id, _offer_id(b.reference), b.reference)
    page = at(substate(PayDemoState), "http://atlas.test" + start.url)
    drain(page.load())
    drain(page.pay({"card_number": CARD[0], "expiry": CARD[1], "cvc": CARD[2]}))
    assert booking_row(b.reference).status == "confirmed"
    assert [p.provider for p in payments_for(b.reference)] == ["demo"]


def test_a_demo_deployment_lets_every_organisation_pay_by_demo_card(real_world, set_env):
    set_env(ATLAS_DEMO_PAYMENTS="1")
    b = awaiting_booking(real_world)
    start = checkout.start_checkout(real_world.org_id, _offer_id(b.reference), b.reference)
    assert checkout.demo_pay(start.session_id, *CARD).outcome == "paid"
    assert booking_row(b.reference).status == "confirmed"


def test_a_live_key_switches_the_demo_off_even_for_a_demo_organisation(org, no_stripe, set_env):
    world = make_world(org.id, payments_demo=True)
    b = awaiting_booking(world)
    start = checkout.start_checkout(world.org_id, _offer_id(b.reference), b.reference)
    set_env(STRIPE_SECRET_KEY="sk_live_x", ATLAS_DEMO_PAYMENTS="1")
    with pytest.raises(PaymentsUnavailable):
        checkout.demo_pay(start.session_id, *CARD)
    assert payments_for(b.reference) == []


# --- who may set the flag -----------------------------------------------------------------------------------------


def test_only_the_platform_administrator_sets_the_flag_and_it_is_audited(org, actor, platform_admin):
    with pytest.raises(PermissionDenied):
        organisations.set_payments_demo(actor, org.id, True)  # the organisation's own administrator
    with pytest.raises(PermissionDenied):
        organisations.list_organisations(actor)
    assert not all_rows(Organisation, Organisation.id == org.id)[0].payments_demo

    assert organisations.set_payments_demo(platform_admin, org.id, True) is True
    assert organisations.set_payments_demo(platform_admin, org.id, True) is False  # nothing changed, no entry
    (entry,) = all_rows(AuditEntry, AuditEntry.entity == "organisation", AuditEntry.action == "updated")
    assert (entry.before, entry.after, entry.username) == ({"payments_demo": False}, {"payments_demo": True},
                                                           "platform.admin")
    assert all_rows(Organisation, Organisation.id == org.id)[0].payments_demo


def test_the_organisations_page_refuses_anyone_but_the_platform_administrator(monkeypatch, org, actor,
                                                                              platform_admin):
    signed_in(monkeypatch, actor, organisations_page)
    page = substate(organisations_page.OrganisationsState)
    run(page.load())
    assert page.rows == [] and page.error
    run(page.set_demo(str(org.id), True))
    assert page.error and not all_rows(Organisation, Organisation.id == org.id)[0].payments_demo

    signed_in(monkeypatch, platform_admin, organisations_page)
    run(page.load())
    assert [r["demo"] for r in page.rows] == ["off"]
    run(page.set_demo(str(org.id), True))
    assert [r["demo"] for r in page.rows] == ["on"] and not page.error
    run(page.set_demo(str(2**63), False))
    assert "No such organisation" in page.error


# --- the production start -----------------------------------------------------------------------------------------


def test_a_production_start_without_a_provider_warns(no_stripe, set_env, caplog):
    logger = logging.getLogger("atlas.test")
    with caplog.at_level(logging.WARNING, logger="atlas.test"):
        assert stripe_gateway.warn_at_start(True, logger)
    assert "NO ONLINE PAYMENT PROVIDER" in caplog.text
    caplog.clear()
    assert not stripe_gateway.warn_at_start(False, logger)  # a development start
    set_env(ATLAS_DEMO_PAYMENTS="1")
    assert not stripe_gateway.warn_at_start(True, logger)
    set_env(ATLAS_DEMO_PAYMENTS=None, STRIPE_SECRET_KEY="sk_test_x")
    assert not stripe_gateway.warn_at_start(True, logger)
    assert caplog.text == ""


def test_the_app_warns_when_it_starts_in_production_without_a_provider(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("STRIPE_SECRET_KEY", "ATLAS_DEMO_PAYMENTS")}
    env.update(REFLEX_ENV_MODE="prod", ATLAS_DATA_DIR=str(tmp_path), REFLEX_TELEMETRY_ENABLED="false")
    started = subprocess.run([sys.executable, "-c", "import atlas_app.atlas_app"], cwd=PROJECT_ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr[-2000:]
    assert "NO ONLINE PAYMENT PROVIDER" in started.stderr
