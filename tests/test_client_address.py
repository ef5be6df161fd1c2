"""Whose address a request comes from, seen from the attacker's side: X-Forwarded-For is anyone's to write, so it is
believed only when the connection comes from one of TRUSTED_PROXIES, and then only the entries those proxies added.
The same rule serves the HTTP routes (sign-in) and the Reflex events (the public lookups' per-address throttle)."""

from __future__ import annotations

import pytest
from reflex.istate.data import RouterData
from reflex_base import constants
from sqlmodel import select
from starlette.testclient import TestClient
from test_client_self_service import DOB, POSTCODE, _catalogue, _offer

from atlas_app.api.app import build_api
from atlas_app.web_session import client_address
from atlas_app.db import read_session
from atlas_app.models import LoginAttempt, PublicLookupAttempt
from atlas_app.services.platform import throttles
from atlas_app.settings import parse_trusted_proxies
from atlas_app.ui.public.booking_manage import ManageBookingState
from atlas_app.ui.public.booking_wizard import BookingWizardState
from atlas_app.ui.session import client_ip
from state_support import run, substate

PROXY = "10.0.0.5"
WRONG = {"reference": "CLE-NOPE-0001", "dob_day": "1", "dob_month": "1", "dob_year": "1990", "postcode": "TS24 7QS"}


def routed(state, peer: str, forwarded_for: str | None = None):
    """What Reflex gives a state for a websocket from ``peer`` whose handshake carried ``forwarded_for``."""
    headers = {"host": "atlas.test"}
    if forwarded_for is not None:
        headers["x-forwarded-for"] = forwarded_for
    state.router = RouterData.from_router_data({constants.RouteVar.CLIENT_IP: peer,
                                                constants.RouteVar.HEADERS: headers})
    return state


def counted_ips() -> list[str]:
    with read_session() as s:
        return [row.ip for row in s.exec(select(PublicLookupAttempt).order_by(PublicLookupAttempt.id))]


# --- the rule ---------------------------------------------------------------------------------------------------


def test_without_trusted_proxies_a_forged_header_is_ignored():
    assert client_address("198.51.100.20", "203.0.113.1") == "198.51.100.20"
    assert client_address("198.51.100.20", None) == "198.51.100.20"


def test_a_forged_header_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(set_env):
    set_env(TRUSTED_PROXIES=PROXY)
    assert client_address("198.51.100.20", "203.0.113.1") == "198.51.100.20"
    assert client_address("10.0.0.6", "203.0.113.1") == "10.0.0.6"  # a neighbour of the proxy is not the proxy


def test_through_a_trusted_proxy_the_client_is_the_entry_the_proxy_added(set_env):
    set_env(TRUSTED_PROXIES=PROXY)
    assert client_address(PROXY, "203.0.113.7") == "203.0.113.7"
    # Whatever the client wrote itself sits to the left of what the proxy appended, and is not believed.
    assert client_address(PROXY, "1.2.3.4, 127.0.0.1, 203.0.113.7") == "203.0.113.7"
    # No header from the proxy: the proxy is all we know.
    assert client_address(PROXY, None) == PROXY


def test_a_chain_of_trusted_proxies_is_walked_from_the_right(set_env):
    set_env(TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.1")
    assert client_address("10.0.0.5", "6.6.6.6, 203.0.113.7, 192.168.1.1, 10.9.9.9") == "203.0.113.7"
    # Every entry is a proxy (an internal health check): the leftmost is the origin.
    assert client_address("10.0.0.5", "10.1.1.1, 10.2.2.2") == "10.1.1.1"
    # Something no proxy would write, left of the trusted hops: the last trusted hop is the nearest sure address.
    assert client_address("10.0.0.5", "203.0.113.7, not-an-address, 10.2.2.2") == "10.2.2.2"


def test_addresses_are_compared_as_addresses(set_env):
    set_env(TRUSTED_PROXIES="127.0.0.1, 2001:db8::/32")
    assert client_address("::ffff:127.0.0.1", "203.0.113.7") == "203.0.113.7"  # IPv4 peer in IPv6 form
    assert client_address("2001:db8::10", "2001:db8::20, 2a00:1450::1") == "2a00:1450::1"
    assert client_address("2001:db8::10", "[2a00:1450::1]:443") == "2a00:1450::1"
    assert client_address("127.0.0.1", "203.0.113.7:51234") == "203.0.113.7"


def test_a_bad_trusted_proxies_setting_is_refused_clearly():
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_trusted_proxies("10.0.0.1, 10.0.0.300")
    assert parse_trusted_proxies("") == ()
    assert [str(n) for n in parse_trusted_proxies(" 10.0.0.1 ,10.1.0.0/16,")] == ["10.0.0.1/32", "10.1.0.0/16"]


# --- Reflex events ----------------------------------------------------------------------------------------------


def test_reflex_events_use_the_same_rule(set_env):
    state = substate(BookingWizardState)
    assert client_ip(routed(state, "198.51.100.20", "203.0.113.1")) == "198.51.100.20"
    set_env(TRUSTED_PROXIES=PROXY)
    assert client_ip(routed(state, "198.51.100.20", "203.0.113.1")) == "198.51.100.20"
    assert client_ip(routed(state, PROXY, "203.0.113.1, 203.0.113.7")) == "203.0.113.7"


@pytest.fixture
def offer(org):
    ct_id, _ = _catalogue(org.id)
    _offer(org.id, ct_id, reference="CLE-PROXY-0001")


def test_the_lookup_throttle_counts_each_client_behind_the_proxy_not_the_proxy(set_env, offer, monkeypatch):
    """One person guessing through the proxy is refused; everyone else coming through the same proxy is not."""
    set_env(TRUSTED_PROXIES=PROXY)
    monkeypatch.setattr(throttles, "PER_IP", 3)
    wizard = substate(BookingWizardState)
    for n in range(3):
        run(routed(wizard, PROXY, f"192.0.2.{n}, 203.0.113.66").find({**WRONG, "reference": f"CLE-NOPE-{n}"}))
        assert "Too many" not in wizard.error
    assert counted_ips() == ["203.0.113.66"] * 3
    refused = substate(BookingWizardState)
    run(routed(refused, PROXY, "203.0.113.66").find({**WRONG, "reference": "CLE-PROXY-0001"}))
    assert "Too many attempts" in refused.error

    other = substate(BookingWizardState)
    run(routed(other, PROXY, "203.0.113.77").find({
        "reference": "CLE-PROXY-0001", "dob_day": str(DOB.day), "dob_month": str(DOB.month),
        "dob_year": str(DOB.year), "postcode": POSTCODE}))
    assert other.error == ""
    assert "Too many attempts" not in str(other.get_delta())


def test_a_forged_header_cannot_spread_guesses_over_made_up_addresses(set_env, offer, monkeypatch):
    """Without a trusted proxy in the way, changing X-Forwarded-For on every try does not reset the count."""
    set_env(TRUSTED_PROXIES=PROXY)
    monkeypatch.setattr(throttles, "PER_IP", 3)
    manage = substate(ManageBookingState)
    for n in range(3):
        run(routed(manage, "198.51.100.20", f"192.0.2.{n}").find({**WRONG, "reference": f"ATL-NOPE-{n}"}))
        assert "Too many" not in manage.error
    assert counted_ips() == ["198.51.100.20"] * 3
    run(routed(manage, "198.51.100.20", "192.0.2.200").find({**WRONG, "reference": "ATL-NOPE-9"}))
    assert "Too many attempts" in manage.error


# --- the sign-in route ------------------------------------------------------------------------------------------


def _sign_in_from(peer: str, headers: dict[str, str], make_user) -> str:
    user = make_user("proxy.user", roles=("Administrator",))
    api = TestClient(build_api(), base_url="http://atlas.test", follow_redirects=False, client=(peer, 50000))
    response = api.post("/api/auth/login", data={"username": user.username, "password": "wrong-password1"},
                        headers={"origin": "http://atlas.test", **headers})
    assert response.status_code == 303
    with read_session() as s:
        return s.exec(select(LoginAttempt.ip).order_by(LoginAttempt.id.desc())).first()


def test_the_sign_in_log_records_the_client_not_a_forged_address(set_env, make_user):
    set_env(TRUSTED_PROXIES=PROXY)
    assert _sign_in_from("198.51.100.20", {"x-forwarded-for": "203.0.113.1"}, make_user) == "198.51.100.20"


def test_the_sign_in_log_records_the_client_behind_the_proxy(set_env, make_user):
    set_env(TRUSTED_PROXIES=PROXY)
    assert _sign_in_from(PROXY, {"x-forwarded-for": "6.6.6.6, 203.0.113.7"}, make_user) == "203.0.113.7"
