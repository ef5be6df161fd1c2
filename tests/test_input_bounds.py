"""Out-of-range numbers and dates, from an attacker's side: ids past the database's INTEGER range, JSON numbers that
are not finite, dates in year 9999. Each is refused at the edge with a clear error naming the field (a 422 in the
API's error shape), never a server error, and nothing is written."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import utcnow
from atlas_app.models import Booking, Offer, User
from atlas_app.services.booking import bookings as booking, referrals
from atlas_app.services.insight import letters, reports
from atlas_app.services.platform import api_tokens, bounds
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.timeutil import london_date
from booking_data import add_offers, add_session, make_catalogue, seats_taken
from conftest import all_rows, create_user
from state_support import run, signed_in, substate
from test_api_v1 import assert_error, referral
from test_reports import cookie_for
from test_referrals_import import csv_bytes, future, past, row

HUGE = 2**63
TOO_BIG = bounds.MAX_ID + 1


@pytest.fixture
def client():
    with TestClient(build_api(), raise_server_exceptions=False, base_url="http://atlas.test") as c:
        yield c


@pytest.fixture
def cat(org):
    return make_catalogue(org.id)


@pytest.fixture
def auth(actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_tokens.create(actor, 'Police back office').token}"}


# --- the rules ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [HUGE, TOO_BIG, 0, -1, float("inf"), float("nan"), 1.5, True, "12abc", "1e3",
                                   "9" * 40, "١٢", None, "", [], {}])
def test_values_that_are_not_ids_are_refused_with_the_field_named(value):
    assert bounds.id_or_none(value) is None
    with pytest.raises(ValidationFailed) as caught:
        bounds.parse_id(value, "session_id")
    assert set(caught.value.errors) == {"session_id"}


@pytest.mark.parametrize("value, expected", [(1, 1), ("42", 42), (" 7 ", 7), (3.0, 3), (bounds.MAX_ID, 2**31 - 1)])
def test_ids_in_range_are_taken(value, expected):
    assert bounds.parse_id(value, "x") == expected


def test_a_lookup_by_an_out_of_range_id_finds_nothing():
    assert bounds.query_id(HUGE) == 0 and bounds.query_id(-5) == 0 and bounds.query_id("17") == 17
    with pytest.raises(ValueError):
        bounds.query_id(float("inf"))
    with pytest.raises(ValueError):
        bounds.query_id("abc")


# --- the REST API -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw_id", [str(HUGE), str(TOO_BIG), "Infinity", "-Infinity", "NaN", "1e400", "-1e400"])
def test_a_booking_with_an_out_of_range_or_non_finite_session_id_gets_422(client, auth, cat, raw_id):
    add_session(cat, capacity=5)
    add_offers(cat, 1)
    body = '{"offer_reference": "CLE-T-00001", "session_id": %s}' % raw_id
    response = client.post("/api/v1/bookings", content=body, headers={**auth, "content-type": "application/json"})
    assert_error(response, 422, "session_id")
    assert all_rows(Booking) == []


@pytest.mark.parametrize("raw_id", [str(HUGE), "Infinity", "NaN", "1e400"])
def test_a_transfer_to_an_out_of_range_or_non_finite_session_id_gets_422(client, auth, cat, raw_id):
    a = add_session(cat, capacity=2)
    add_offers(cat, 1)
    ref = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": a},
                      headers=auth).json()["reference"]
    response = client.post(f"/api/v1/bookings/{ref}/transfer", content='{"session_id": %s}' % raw_id,
                           headers={**auth, "content-type": "application/json"})
    assert_error(response, 422, "session_id")
    assert seats_taken(a) == 1
    assert client.get(f"/api/v1/bookings/{ref}", headers=auth).json()["status"] == "awaiting_payment"


def test_a_non_finite_number_anywhere_in_a_body_gets_422(client, auth, cat):
    add_offers(cat, 1)
    body = '{"offer_reference": "CLE-T-00001", "session_id": 1, "needs": {"interpreter": NaN}}'
    response = client.post("/api/v1/bookings", content=body, headers={**auth, "content-type": "application/json"})
    assert_error(response, 422, "needs")
    response = client.post("/api/v1/referrals", content='{"offer_reference": Infinity}',
                           headers={**auth, "content-type": "application/json"})
    assert_error(response, 422, "offer_reference")
    assert len(all_rows(Offer)) == 1 and all_rows(Booking) == []


def test_a_body_nested_too_deep_gets_422(client, auth, cat):
    response = client.post("/api/v1/bookings", content="[" * 30000 + "]" * 30000,
                           headers={**auth, "content-type": "application/json"})
    assert_error(response, 422, "body")


@pytest.mark.parametrize("params, field", [({"date_to": "9999-12-31"}, "date_to"),
                                           ({"date_from": "9999-12-30", "date_to": "9999-12-31"}, "date_from"),
                                           ({"date_from": "0001-01-01"}, "date_from"),
                                           ({"date_to": "2101-01-01"}, "date_to")])
def test_session_filters_far_outside_the_calendar_get_422(client, auth, cat, params, field):
    assert_error(client.get("/api/v1/sessions", params=params, headers=auth), 422, field)


def test_session_filters_at_the_edges_of_the_range_are_taken(client, auth, cat):
    response = client.get("/api/v1/sessions", params={"date_from": "2000-01-01", "date_to": "2100-12-31"},
                          headers=auth)
    assert response.status_code == 200, response.text


def test_the_openapi_document_states_the_id_range(client):
    doc = client.get("/api/openapi.json").json()
    session_id = doc["components"]["schemas"]["BookingRequest"]["properties"]["session_id"]
    assert (session_id["minimum"], session_id["maximum"]) == (1, 2**31 - 1)


# --- referral dates (API and CSV import) --------------------------------------------------------------------------


def test_a_referral_critical_date_in_year_9999_is_refused(client, auth, cat):
    response = client.post("/api/v1/referrals", json=referral(critical_date="9999-12-31"), headers=auth)
    assert_error(response, 422, "critical_date")
    assert "two years" in response.json()["error"]
    assert all_rows(Offer) == []


@pytest.mark.parametrize("overrides, field", [
    ({"critical_date": (date.today() + timedelta(days=800)).isoformat()}, "critical_date"),
    ({"offence_date": (date.today() - timedelta(days=800)).isoformat()}, "offence_date"),
    ({"offence_date": (date.today() + timedelta(days=3)).isoformat()}, "offence_date"),
    ({"critical_date": (date.today() - timedelta(days=20)).isoformat()}, "critical_date"),  # before the offence
])
def test_referral_dates_outside_their_bounds_are_refused(client, auth, cat, overrides, field):
    assert_error(client.post("/api/v1/referrals", json=referral(**overrides), headers=auth), 422, field)
    assert all_rows(Offer) == []


def test_referral_dates_just_inside_their_bounds_are_taken(client, auth, cat):
    today = london_date(utcnow())
    body = referral(offence_date=(today - timedelta(days=bounds.OFFENCE_MAX_AGE_DAYS)).isoformat(),
                    critical_date=(today + timedelta(days=bounds.CRITICAL_MAX_AHEAD_DAYS)).isoformat())
    assert client.post("/api/v1/referrals", json=body, headers=auth).status_code == 201


def test_a_csv_row_with_a_year_9999_critical_date_is_a_bad_row(actor, cat):
    result = referrals.import_csv(actor, csv_bytes(row("CLE-1"), row("CLE-2", critical="31/12/9999"),
                                                   row("CLE-3", offence=past(1000))), "late.csv")
    assert not result.ok
    assert sorted((e.line, sorted(e.fields)) for e in result.errors) == [(3, ["critical_date"]),
                                                                         (4, ["offence_date"])]
    assert all_rows(Offer) == []
    assert referrals.import_csv(actor, csv_bytes(row("CLE-1", critical=future(700))), "ok.csv").ok


# --- exports and report filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("query, field", [(f"session_id={HUGE}", "session_id"),
                                          (f"course_type_id={TOO_BIG}", "course_type_id"),
                                          ("venue_id=Infinity", "venue_id"),
                                          ("date_to=9999-12-31", "date_to"),
                                          ("date_from=9999-12-30&date_to=9999-12-31", "date_from")])
def test_export_filters_out_of_range_get_422_naming_the_field(client, admin, cat, query, field):
    for report in ("pre_attendance", "courses"):
        response = client.get(f"/api/reports/{report}.csv?{query}", headers=cookie_for(admin))
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] and field in body["fields"]


def test_report_and_letter_filters_refuse_out_of_range_values(actor):
    with pytest.raises(ValidationFailed) as caught:
        reports.parse_filters({"date_to": "2101-01-01"})
    assert "date_to" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        reports.parse_filters({"region_id": str(HUGE)})
    assert "region_id" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        letters.parse_filter({"venue_id": str(HUGE)})
    assert "venue_id" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        letters.parse_filter({"session_to": "9999-12-31"})
    assert "session_to" in caught.value.errors


# --- services and state handlers given ids from a browser ---------------------------------------------------------


def test_services_answer_an_out_of_range_id_as_not_found(actor, cat, org):
    from atlas_app.services.instructors import assignments
    from atlas_app.services.platform import users as users_service

    with pytest.raises(NotFound):
        users_service.set_active(actor, HUGE, False)
    with pytest.raises(NotFound):
        assignments.unassign(actor, HUGE)
    with pytest.raises(ValidationFailed):
        booking.book(actor, add_offers(cat, 1)[0], HUGE)
    with pytest.raises(NotFound):
        booking.book(actor, HUGE, add_session(cat, capacity=2))


def test_a_staff_handler_given_an_id_of_2_63_answers_a_clear_error(monkeypatch, actor, org):
    from atlas_app.ui.staff.admin import users as users_page

    target = create_user(org, "hbc.target")
    signed_in(monkeypatch, actor, users_page)
    page = substate(users_page.UsersState)
    run(page.load())
    toast = run(page.disable(str(HUGE)))
    assert toast is not None and "No such user" in repr(toast)
    (user,) = all_rows(User, User.id == target.id)
    assert user.is_active


def test_a_staff_date_form_given_year_9999_says_so(monkeypatch, actor, org):
    from atlas_app.ui.staff.payments import payments as payments_page
    from state_support import at, drain

    signed_in(monkeypatch, actor, payments_page)
    page = at(substate(payments_page.BookingPaymentsState), "http://atlas.test/bookings/payments")
    drain(page.run_report({"date_from": "9999-12-30", "date_to": "9999-12-31"}))
    assert "between 01/01/2000 and 31/12/2100" in page.recon_error and not page.recon_ran
