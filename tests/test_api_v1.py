"""REST API v1 over HTTP (Starlette's TestClient against build_api()): token auth, JSON errors, sessions, referrals,
bookings, cancel and transfer, other organisations' data answering 404, and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from sqlalchemy import update

from atlas_app.db import utcnow, write_session
from atlas_app.models import AuditEntry, Booking, CourseSession, Offer
from atlas_app.services.booking.bookings import hold_seat
from atlas_app.services.platform import api_tokens
from atlas_app.timeutil import london_date
from booking_data import active_bookings, add_offers, add_session, make_catalogue, seats_taken
from conftest import all_rows, run_threads


@pytest.fixture
def client():
    with TestClient(build_api(), raise_server_exceptions=True) as c:
        yield c


@pytest.fixture
def cat(org):
    return make_catalogue(org.id)


@pytest.fixture
def token(actor) -> str:
    return api_tokens.create(actor, "Police back office").token


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def other(other_actor, other_org):
    """Essex: its own token, catalogue, session and offer."""
    cat = make_catalogue(other_org.id, code="NSAC")
    session_id = add_session(cat, capacity=5)
    (offer_id,) = add_offers(cat, 1, prefix="ESX")
    token = api_tokens.create(other_actor, "Essex system").token
    return {"cat": cat, "session_id": session_id, "offer_ref": "ESX-00001", "offer_id": offer_id,
            "auth": {"Authorization": f"Bearer {token}"}}


def assert_error(response, status: int, *fields: str):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "fields"} and body["error"]
    for f in fields:
        assert f in body["fields"], body


# --- authentication ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer atl_wrong"}, {"Authorization": "atl_x"}])
def test_requests_without_a_valid_token_get_401(client, token, headers):
    for method, path in (("GET", "/api/v1/sessions"), ("POST", "/api/v1/bookings"),
                         ("GET", "/api/v1/bookings/HAR-AAAAAAA"), ("POST", "/api/v1/referrals")):
        response = client.request(method, path, headers=headers, json={})
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_revoked_token_gets_401(client, actor, token, auth):
    assert client.get("/api/v1/sessions", headers=auth).status_code == 200
    api_tokens.revoke(actor, api_tokens.list_tokens(actor)[0].id)
    assert_error(client.get("/api/v1/sessions", headers=auth), 401)


def test_unknown_endpoints_and_methods_answer_json(client, auth):
    assert_error(client.get("/api/v1/nothing", headers=auth), 404)
    response = client.get("/api/v1/bookings", headers=auth)
    assert_error(response, 405)
    assert response.headers["allow"] == "OPTIONS, POST"


@pytest.mark.parametrize("path, allow", [("/api/v1/bookings", "OPTIONS, POST"),
                                         ("/api/v1/sessions", "GET, HEAD, OPTIONS"),
                                         ("/api/v1/bookings/HAR-AAAAAAA", "GET, HEAD, OPTIONS"),
                                         ("/api/v1/bookings/HAR-AAAAAAA/cancel", "OPTIONS, POST")])
def test_options_names_every_method_of_the_path(client, path, allow):
    """OPTIONS answers which methods the path has (it used to be a 405 whose Allow left them out)."""
    response = client.options(path)
    assert response.status_code == 204 and response.headers["allow"] == allow
    for method in ("PUT", "PATCH", "DELETE"):
        refused = client.request(method, path)
        assert_error(refused, 405)
        assert refused.headers["allow"] == allow


@pytest.mark.parametrize("path", ["/api/v1/bookings/", "/api/v1/bookings/HAR-AAAAAAA/", "/api/v1/bookings/%2F",
                                  "/api/v1/bookings/a%2Fb", "/api/v1/bookings/" + "X" * 30])
def test_unknown_booking_references_answer_the_json_error(client, auth, path):
    response = client.get(path, headers=auth, follow_redirects=False)
    assert response.headers["content-type"].startswith("application/json"), (path, response.text)
    assert_error(response, response.status_code)
    assert response.status_code in (401, 404)


# --- sessions --------------------------------------------------------------------------------------------------


def test_sessions_are_listed_with_free_seats_and_filters(client, auth, cat, org, booker_actor):
    soon = add_session(cat, capacity=2, starts_in=timedelta(days=2))
    later = add_session(cat, capacity=3, starts_in=timedelta(days=20))
    other_course = add_session(cat, capacity=4, starts_in=timedelta(days=3), course_type_id=cat.other_course_type_id)
    add_session(cat, capacity=4, starts_in=timedelta(days=-2))  # in the past: never listed
    offers = add_offers(cat, 2)
    from atlas_app.services.booking import bookings as booking

    for o in offers:
        booking.book(booker_actor, o, soon)

    body = client.get("/api/v1/sessions", headers=auth).json()
    assert [s["id"] for s in body["sessions"]] == [soon, other_course, later] and body["count"] == 3
    first = body["sessions"][0]
    assert (first["capacity"], first["seats_taken"], first["free_seats"], first["course_type"]) == (2, 2, 0, "NSAC")
    assert first["starts_at"].endswith("+00:00") and first["status"] == "scheduled"

    free = client.get("/api/v1/sessions?free_only=true", headers=auth).json()["sessions"]
    assert [s["id"] for s in free] == [other_course, later]
    nsac = client.get("/api/v1/sessions", params={"course_type": "nsac"}, headers=auth).json()["sessions"]
    assert [s["id"] for s in nsac] == [soon, later]
    today = london_date(utcnow())
    window = client.get("/api/v1/sessions", headers=auth,
                        params={"date_from": (today + timedelta(days=10)).isoformat(),
                                "date_to": (today + timedelta(days=25)).isoformat()}).json()["sessions"]
    assert [s["id"] for s in window] == [later]


@pytest.mark.parametrize("params, field", [({"date_from": "tomorrow"}, "date_from"), ({"date_to": "2026-13-01"},
                                           "date_to"), ({"course_type": "NOPE"}, "course_type"),
                                          ({"free_only": "perhaps"}, "free_only"),
                                          ({"date_from": "2027-02-02", "date_to": "2027-02-01"}, "date_to")])
def test_bad_session_filters_get_422(client, auth, cat, params, field):
    assert_error(client.get("/api/v1/sessions", params=params, headers=auth), 422, field)


def test_sessions_of_another_organisation_are_never_listed(client, auth, cat, other):
    mine = add_session(cat, capacity=2)
    ids = [s["id"] for s in client.get("/api/v1/sessions", headers=auth).json()["sessions"]]
    assert ids == [mine]
    theirs = [s["id"] for s in client.get("/api/v1/sessions", headers=other["auth"]).json()["sessions"]]
    assert theirs == [other["session_id"]]


# --- referrals -------------------------------------------------------------------------------------------------


def referral(**overrides):
    today = london_date(utcnow())
    body = {"offer_reference": "CLE-API-1", "course_type": "NSAC", "first_name": "Pat", "last_name": "Lee",
            "date_of_birth": "1980-02-02", "postcode": "TS24 7QS", "email": "pat@example.com",
            "offence_date": (today - timedelta(days=10)).isoformat(),
            "critical_date": (today + timedelta(days=60)).isoformat(), "police_force": "Cleveland Police"}
    body.update(overrides)
    return body


def test_a_referral_is_created_then_recognised(client, auth, cat, org):
    first = client.post("/api/v1/referrals", json=referral(), headers=auth)
    assert first.status_code == 201, first.text
    assert first.json() == {"result": "created", "offer_reference": "CLE-API-1", "status": "referred",
                            "changed": []}
    again = client.post("/api/v1/referrals", json=referral(), headers=auth)
    assert again.status_code == 200 and again.json()["result"] == "unchanged"
    moved = client.post("/api/v1/referrals", json=referral(police_force="Durham Constabulary"), headers=auth)
    assert moved.status_code == 200 and moved.json()["changed"] == ["police force"]
    (offer,) = all_rows(Offer)
    assert (offer.organisation_id, offer.source, offer.police_force) == (org.id, "api", "Durham Constabulary")
    audit_entries = all_rows(AuditEntry, AuditEntry.entity == "offer", order_by=AuditEntry.id)
    assert [e.action for e in audit_entries] == ["referred", "updated"]
    assert {e.username for e in audit_entries} == {"api:Police back office"}


def test_a_bad_referral_gets_422_with_every_field(client, auth, cat):
    response = client.post("/api/v1/referrals", json=referral(date_of_birth="31/31/1990", postcode="nowhere",
                                                               email="x"), headers=auth)
    assert_error(response, 422, "date_of_birth", "postcode", "email")
    assert_error(client.post("/api/v1/referrals", json=referral(course_type="XYZ"), headers=auth), 422,
                 "course_type")
    assert_error(client.post("/api/v1/referrals", content=b"not json", headers=auth), 422, "body")
    assert_error(client.post("/api/v1/referrals", json=[1, 2], headers=auth), 422, "body")
    assert_error(client.post("/api/v1/referrals", json=referral(first_name={"x": 1}), headers=auth), 422,
                 "first_name")
    assert all_rows(Offer) == []


# --- bookings --------------------------------------------------------------------------------------------------


@pytest.fixture
def booker_actor(org):
    from atlas_app.services.platform.actor import Actor

    return Actor(user_id=None, username="staff", organisation_id=org.id,
                 permissions=frozenset({"bookings.view", "bookings.manage"}))


def test_booking_through_the_api(client, auth, cat):
    session_id = add_session(cat, capacity=5)
    add_offers(cat, 1)

    response = client.post("/api/v1/bookings", json={"offer_reference": "cle-t-00001", "session_id": session_id,
                                                      "needs": {"interpreter": True,
                                                                "interpreter_language": "Polish"}}, headers=auth)

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/bookings/{body['reference']}"
    assert (body["status"], body["channel"], body["offer_reference"], body["session_id"]) == \
        ("awaiting_payment", "api", "CLE-T-00001", session_id)
    assert body["fee_pence"] == 9500 and body["course_type"] == "NSAC" and body["payment_due_at"]
    assert body["needs"] == {"interpreter": True, "interpreter_language": "Polish"}
    assert seats_taken(session_id) == 1
    got = client.get(f"/api/v1/bookings/{body['reference'].lower()}", headers=auth)
    assert got.status_code == 200 and got.json() == body
    entry = all_rows(AuditEntry, AuditEntry.entity == "booking")[0]
    assert entry.username == "api:Police back office" and entry.user_id is None


def test_an_api_booking_is_one_transaction_of_few_statements(client, auth, cat):
    """A glance (token, offer and session, no write) and then one write transaction; the hot path stays lean."""
    from sqlalchemy import event

    from atlas_app.db import get_engine

    session_id = add_session(cat, capacity=5)
    add_offers(cat, 2)
    warm = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": session_id},
                       headers=auth)  # the token's first use also stamps last_used_at
    assert warm.status_code == 201
    engine = get_engine()
    begins, statements = [], []

    def on_begin(conn):
        if conn.get_execution_options().get("atlas_write"):
            begins.append(conn)

    def on_statement(conn, cursor, statement, params, context, executemany):
        if not statement.lstrip().upper().startswith("BEGIN"):
            statements.append(statement)

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        response = client.post("/api/v1/bookings", headers=auth,
                               json={"offer_reference": "CLE-T-00002", "session_id": session_id})
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_statement)
    assert response.status_code == 201, response.text
    assert len(begins) == 1
    # the glance at token, offer and session, offer + its active booking (locked), session, seat, booking, offer
    # status, timeline, email, and the audit entry (one statement on PostgreSQL; lock the chain's head, insert, move
    # the head on SQLite).
    assert len(statements) <= (9 if engine.dialect.name == "postgresql" else 11), statements


def _count_work(engine):
    """(write transactions begun, statements sent) while the block runs."""
    from sqlalchemy import event

    seen = {"writes": 0, "statements": []}

    def on_begin(conn):
        if conn.get_execution_options().get("atlas_write"):
            seen["writes"] += 1

    def on_statement(conn, cursor, statement, params, context, executemany):
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen["statements"].append(statement)

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_statement)
    return seen, lambda: (event.remove(engine, "begin", on_begin),
                          event.remove(engine, "before_cursor_execute", on_statement))


def test_a_refusal_of_a_full_session_takes_no_lock_and_one_read(client, auth, cat):
    """In a rush for the last seats most attempts miss out: each is refused by one statement (the token, the offer
    and the session together), with no transaction and no lock."""
    from atlas_app.db import get_engine

    session_id = add_session(cat, capacity=1)
    add_offers(cat, 3)
    assert client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": session_id},
                       headers=auth).status_code == 201
    seen, stop = _count_work(get_engine())
    try:
        refused = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00002", "session_id": session_id},
                              headers=auth)
    finally:
        stop()
    assert_error(refused, 409)
    assert "full" in refused.json()["error"]
    assert seen["writes"] == 0
    assert len(seen["statements"]) == 1, seen["statements"]  # the token, the offer and the session
    assert not any("FOR UPDATE" in st.upper() or "UPDATE " in st.upper() for st in seen["statements"])
    # A reference in another spelling is found the usual way, and refused the same.
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": "cle-t-00003", "session_id": session_id},
                             headers=auth), 409)
    assert seats_taken(session_id) == 1 and active_bookings(session_id) == 1


def test_a_bad_token_on_a_full_session_is_a_401_not_a_409(client, actor, auth, cat, other):
    """The token is checked in the same statement as the seats, and still answers first: a revoked token, an
    unknown one, or another organisation's token asking for this organisation's full session learns nothing."""
    session_id = add_session(cat, capacity=1)
    add_offers(cat, 2)
    assert client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": session_id},
                       headers=auth).status_code == 201
    body = {"offer_reference": "CLE-T-00002", "session_id": session_id}
    assert_error(client.post("/api/v1/bookings", json=body, headers={"Authorization": "Bearer atl_unknown"}), 401)
    # Essex's token: Cleveland's offer and session are not there for it (404, as any other's), never "full".
    assert_error(client.post("/api/v1/bookings", json=body, headers=other["auth"]), 404)
    api_tokens.revoke(actor, api_tokens.list_tokens(actor)[0].id)
    assert_error(client.post("/api/v1/bookings", json=body, headers=auth), 401)
    assert seats_taken(session_id) == 1 == active_bookings(session_id=session_id)


def test_api_attempts_racing_with_cancellations_never_oversell(client, auth, cat):
    """Many threads through the API while seats come free: each keeps trying until the seats have all been given
    back, so the lock-free refusal is tried against every state of the session. It never refuses a seat that was
    free when it looked, never lets one through that was not (the guarded UPDATE decides), and the count stays
    exact: the freed seats are sold exactly once."""
    import threading

    capacity, threads = 3, 40
    session_id = add_session(cat, capacity=capacity)
    add_offers(cat, threads + 1)
    refs = [client.post("/api/v1/bookings", headers=auth,
                        json={"offer_reference": f"CLE-T-{i + 1:05d}", "session_id": session_id}).json()["reference"]
            for i in range(capacity)]
    assert seats_taken(session_id) == capacity
    lock, cancelled = threading.Lock(), [0]

    def attempt(i):
        if i < capacity:  # these threads give the seats back while the others try to take them
            code = client.post(f"/api/v1/bookings/{refs[i]}/cancel", headers=auth, json={"reason": "Race"}).status_code
            with lock:
                cancelled[0] += 1
            return code
        for _ in range(2000):
            with lock:
                all_back = cancelled[0] == capacity  # read before the attempt: then every seat was given back
            code = client.post("/api/v1/bookings", headers=auth,
                               json={"offer_reference": f"CLE-T-{i + 1:05d}", "session_id": session_id}).status_code
            if code != 409 or all_back:
                return code
        return "gave up"

    codes = run_threads(threads, attempt)
    assert codes[:capacity] == [200] * capacity, codes
    assert sorted(codes[capacity:]) == [201] * capacity + [409] * (threads - 2 * capacity), codes
    assert seats_taken(session_id) == capacity == active_bookings(session_id=session_id)
    assert_error(client.post("/api/v1/bookings", headers=auth,
                             json={"offer_reference": f"CLE-T-{threads + 1:05d}", "session_id": session_id}), 409)


def test_a_full_session_still_answers_the_earlier_rules_first(client, auth, cat):
    """The quick refusal never overtakes the answers ``book`` gives before "full": an offer already booked, an
    offer whose critical date is before the session, a session for another course."""
    full = add_session(cat, capacity=1)
    late = add_session(cat, capacity=1, starts_in=timedelta(days=20))
    other_course = add_session(cat, capacity=1, course_type_id=cat.other_course_type_id)
    add_offers(cat, 3)
    add_offers(cat, 2, prefix="CLE-S", days_left=10)
    for sid, ref in ((full, "CLE-T-00001"), (late, "CLE-T-00002")):
        assert client.post("/api/v1/bookings", json={"offer_reference": ref, "session_id": sid},
                           headers=auth).status_code == 201
    booked_twice = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": full},
                               headers=auth)
    assert_error(booked_twice, 409)
    assert "already booked" in booked_twice.json()["error"]
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": "CLE-S-00001", "session_id": late},
                             headers=auth), 422, "session")
    with write_session() as s:
        s.exec(update(CourseSession).where(CourseSession.id == other_course).values(seats_taken=1))
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00003", "session_id": other_course},
                             headers=auth), 422, "session")


def test_a_lapsed_hold_on_a_full_session_frees_its_seat_for_an_api_booking(client, auth, cat):
    session_id = add_session(cat, capacity=1)
    offers = add_offers(cat, 2)
    hold_seat(cat.organisation_id, offers[0], session_id)
    with write_session() as s:
        s.exec(update(Booking).where(Booking.offer_id == offers[0])
               .values(hold_expires_at=utcnow() - timedelta(minutes=1)))
    response = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00002", "session_id": session_id},
                           headers=auth)
    assert response.status_code == 201, response.text
    assert seats_taken(session_id) == 1 and active_bookings(session_id) == 1


def test_a_full_session_or_a_booked_offer_gets_409(client, auth, cat):
    session_id = add_session(cat, capacity=1)
    add_offers(cat, 2)
    ok = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": session_id},
                     headers=auth)
    assert ok.status_code == 201
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00002", "session_id": session_id},
                             headers=auth), 409)
    other_session = add_session(cat, capacity=3, starts_in=timedelta(days=8))
    twice = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": other_session},
                        headers=auth)
    assert_error(twice, 409)
    assert ok.json()["reference"] in twice.json()["error"]


@pytest.mark.parametrize("body, fields", [
    ({}, ("offer_reference", "session_id")),
    ({"offer_reference": "CLE-T-00001", "session_id": "abc"}, ("session_id",)),
    ({"offer_reference": "CLE-T-00001", "session_id": 1.5}, ("session_id",)),
    ({"offer_reference": "CLE-T-00001", "session_id": True}, ("session_id",)),
    ({"offer_reference": 12, "session_id": 1}, ("offer_reference",)),
    ({"offer_reference": "CLE-T-00001", "session_id": 1, "channel": "fax"}, ("channel",)),
    ({"offer_reference": "CLE-T-00001", "session_id": 1, "needs": "lots"}, ("needs",)),
])
def test_invalid_booking_requests_get_422(client, auth, cat, body, fields):
    add_offers(cat, 1)
    assert_error(client.post("/api/v1/bookings", json=body, headers=auth), 422, *fields)
    assert all_rows(Booking) == []


def test_booking_rules_answer_422(client, auth, cat):
    too_late = add_session(cat, capacity=5, starts_in=timedelta(days=30))
    add_offers(cat, 1, days_left=10)
    response = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": too_late},
                           headers=auth)
    assert_error(response, 422, "session")
    assert "critical date" in response.json()["error"]


def test_unknown_offers_sessions_and_bookings_get_404(client, auth, cat):
    session_id = add_session(cat, capacity=5)
    add_offers(cat, 1)
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": "NOPE", "session_id": session_id},
                             headers=auth), 404)
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": 999999},
                             headers=auth), 404)
    assert_error(client.get("/api/v1/bookings/HAR-NOPE123", headers=auth), 404)
    assert_error(client.post("/api/v1/bookings/HAR-NOPE123/cancel", headers=auth), 404)
    assert_error(client.post("/api/v1/bookings/HAR-NOPE123/transfer", json={"session_id": session_id},
                             headers=auth), 404)


def test_another_organisations_offers_sessions_and_bookings_are_404(client, auth, cat, other):
    mine = add_session(cat, capacity=5)
    add_offers(cat, 1)
    # Their offer into my session, my offer into their session: neither exists for me.
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": other["offer_ref"], "session_id": mine},
                             headers=auth), 404)
    assert_error(client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001",
                                                       "session_id": other["session_id"]}, headers=auth), 404)
    theirs = client.post("/api/v1/bookings", json={"offer_reference": other["offer_ref"],
                                                   "session_id": other["session_id"]}, headers=other["auth"])
    assert theirs.status_code == 201
    ref = theirs.json()["reference"]
    assert_error(client.get(f"/api/v1/bookings/{ref}", headers=auth), 404)
    assert_error(client.post(f"/api/v1/bookings/{ref}/cancel", headers=auth), 404)
    assert_error(client.post(f"/api/v1/bookings/{ref}/transfer", json={"session_id": mine}, headers=auth), 404)
    assert client.get(f"/api/v1/bookings/{ref}", headers=other["auth"]).json()["status"] == "awaiting_payment"
    assert seats_taken(other["session_id"]) == 1 and seats_taken(mine) == 0


def test_cancel_and_transfer(client, auth, cat):
    a = add_session(cat, capacity=2)
    b = add_session(cat, capacity=2, starts_in=timedelta(days=9))
    full = add_session(cat, capacity=1, starts_in=timedelta(days=10))
    add_offers(cat, 2)
    ref = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": a},
                      headers=auth).json()["reference"]
    client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00002", "session_id": full}, headers=auth)

    assert_error(client.post(f"/api/v1/bookings/{ref}/transfer", json={"session_id": full}, headers=auth), 409)
    assert_error(client.post(f"/api/v1/bookings/{ref}/transfer", json={}, headers=auth), 422, "session_id")
    assert_error(client.post(f"/api/v1/bookings/{ref}/transfer", json={"session_id": a}, headers=auth), 422)
    moved = client.post(f"/api/v1/bookings/{ref}/transfer", json={"session_id": b}, headers=auth)
    assert moved.status_code == 200, moved.text
    new_ref = moved.json()["reference"]
    assert new_ref != ref and moved.json()["session_id"] == b
    assert moved.json()["channel"] == "api"  # a transfer through the API is recorded as such, not as a call
    assert client.get(f"/api/v1/bookings/{ref}", headers=auth).json()["status"] == "transferred"
    assert (seats_taken(a), seats_taken(b)) == (0, 1)

    cancelled = client.post(f"/api/v1/bookings/{new_ref}/cancel", json={"reason": "Moved away"}, headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert seats_taken(b) == 0
    assert_error(client.post(f"/api/v1/bookings/{new_ref}/cancel", headers=auth), 422)


def test_api_bookings_racing_for_the_last_seats(client, auth, cat):
    session_id = add_session(cat, capacity=4)
    add_offers(cat, 30)

    def attempt(i):
        return client.post("/api/v1/bookings", headers=auth,
                           json={"offer_reference": f"CLE-T-{i + 1:05d}", "session_id": session_id}).status_code

    codes = run_threads(30, attempt)
    assert sorted(codes) == [201] * 4 + [409] * 26
    assert seats_taken(session_id) == 4 == active_bookings(session_id=session_id)


def test_a_busy_database_answers_503(client, auth, cat, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from atlas_app.services.booking import bookings as booking

    def locked(*args, **kwargs):
        raise OperationalError("UPDATE course_session", {}, Exception("database is locked"))

    monkeypatch.setattr(booking, "book", locked)
    session_id = add_session(cat, capacity=2)
    add_offers(cat, 1)
    response = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": session_id},
                           headers=auth)
    assert_error(response, 503)
    assert response.headers["retry-after"] == "1"


def test_an_unexpected_error_is_a_plain_500(auth, cat, monkeypatch):
    from atlas_app.services.booking import bookings as booking

    monkeypatch.setattr(booking, "get_booking", lambda *a, **k: 1 / 0)
    with TestClient(build_api(), raise_server_exceptions=False) as c:
        response = c.get("/api/v1/bookings/HAR-AAAAAAA", headers=auth)
    assert_error(response, 500)
    assert "ZeroDivision" not in response.text


# --- the OpenAPI document ----------------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_route(client):
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    from atlas_app.api.v1 import OPERATIONS, routes

    served = {(op.path, op.method) for op in OPERATIONS}
    assert described == served
    assert {op.path for op in OPERATIONS} <= {r.path for r in routes}
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    # Every $ref points at a schema that exists.
    import json
    import re

    for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(doc)):
        assert ref in doc["components"]["schemas"]


def test_responses_carry_the_properties_the_document_promises(client, auth, cat):
    doc = client.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    session_id = add_session(cat, capacity=2)
    add_offers(cat, 1)
    booking_body = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": session_id},
                               headers=auth).json()
    session_body = client.get("/api/v1/sessions", headers=auth).json()["sessions"][0]
    error_body = client.get("/api/v1/bookings/NOPE", headers=auth).json()
    cancel_body = client.post(f"/api/v1/bookings/{booking_body['reference']}/cancel", headers=auth).json()
    for body, name in ((booking_body, "Booking"), (session_body, "Session"), (error_body, "Error"),
                       (cancel_body, "CancelledBooking"), (cancel_body["refund"], "CancelRefund")):
        assert set(body) == set(schemas[name]["properties"]), name
        assert set(schemas[name]["required"]) <= set(body)
    assert cancel_body["refund"]["refund_pence"] == 0  # nothing was paid
    cancel_doc = doc["paths"]["/api/v1/bookings/{reference}/cancel"]["post"]["responses"]["200"]
    assert cancel_doc["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CancelledBooking"}


def test_a_booking_takes_a_bounded_number_of_statements(client, auth, cat):
    """The booking path is the hot path of a rush: the token check and offer lookup share one read, and the
    booking's related rows come with the locked offer, so it stays at a fixed, small number of statements."""
    from sqlalchemy import event

    from atlas_app.db import get_engine

    sessions = [add_session(cat, capacity=5, starts_in=timedelta(days=3 + i)) for i in range(2)]
    add_offers(cat, 2)
    client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": sessions[0]},
                headers=auth)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00002",
                                                         "session_id": sessions[1]}, headers=auth)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 201
    assert len(statements) <= 15, "\n".join(s.split("\n")[0][:100] for s in statements)


@pytest.mark.parametrize("raw, field", [(b'{"offer_reference": "CLE\\u0000", "session_id": 1}', "offer_reference"),
                                        (b'{"offer_reference": "\\udb54", "session_id": 1}', "offer_reference"),
                                        (b'{"offer_reference": "CLE-1", "session_id": 1, "needs": {"other": "a\\u0000"}}',
                                         "needs")])
def test_text_a_database_cannot_hold_is_refused_not_a_server_error(client, auth, cat, raw, field):
    """A NUL (PostgreSQL refuses it in text) or a lone surrogate (not UTF-8) is a 422, never a 500."""
    response = client.post("/api/v1/bookings", content=raw, headers={**auth, "Content-Type": "application/json"})
    assert_error(response, 422, field)
    assert all_rows(Booking) == []


def test_an_unknown_or_empty_session_filter_is_refused_as_the_document_says(client, auth, cat):
    assert_error(client.get("/api/v1/sessions?date_form=2027-01-01", headers=auth), 422, "date_form")
    assert_error(client.get("/api/v1/sessions?date_to=", headers=auth), 422, "date_to")
    assert client.get("/api/v1/sessions?course_type=", headers=auth).status_code == 200


def test_an_offer_holding_the_last_seat_books_it_through_the_api(client, auth, cat):
    """The session is full with this offer's own hold: the hold becomes the booking, not a refusal."""
    session_id = add_session(cat, capacity=1)
    offers = add_offers(cat, 1)
    hold_seat(cat.organisation_id, offers[0], session_id)
    response = client.post("/api/v1/bookings", json={"offer_reference": "CLE-T-00001", "session_id": session_id},
                           headers=auth)
    assert response.status_code == 201, response.text
    assert seats_taken(session_id) == 1 and active_bookings(session_id) == 1
