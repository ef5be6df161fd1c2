"""The waiting list: joining with choices, a freed seat held for the first client whose choices match and passed on
when unanswered, the link to confirm it, and races of threads and processes freeing seats at once (on SQLite and
PostgreSQL). The invariant checked throughout: a session's ``seats_taken`` equals its active bookings, no seat is
held for two people, and two seats freed at once go to two different clients."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta

import pytest
from booking_data import (
    active_bookings,
    add_offers,
    add_session,
    booking_row,
    make_catalogue,
    seats_taken,
    set_hold_expiry,
)
from conftest import all_rows, run_threads, sql
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, WaitingStatus
from atlas_app.models import Booking, CourseSession, EmailMessage, Venue
from atlas_app.models.waiting_list import WaitingEntry
from atlas_app.services.booking import bookings, catalogue, waiting_list
from atlas_app.services.booking.bookings import ClientProof
from atlas_app.services.platform import outbox
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import (
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.timeutil import london_date


@pytest.fixture
def cat(org):
    return make_catalogue(org.id)


@pytest.fixture
def staff(org) -> Actor:
    return Actor(user_id=None, username="api:waiting", organisation_id=org.id,
                 permissions=frozenset({"bookings.view", "bookings.manage", "catalogue.manage"}))


def proof(cat, offer_id: int) -> ClientProof:
    return ClientProof(cat.organisation_id, offer_id)


def full_session(cat, staff, capacity: int, **kw) -> tuple[int, list[str]]:
    """A session whose every seat is booked; returns it and the bookings' references."""
    session_id = add_session(cat, capacity=capacity, **kw)
    refs = [bookings.book(staff, o, session_id, channel="api").reference
            for o in add_offers(cat, capacity, prefix=f"FULL{session_id}")]
    return session_id, refs


def entry_of(offer_id: int) -> WaitingEntry:
    with read_session() as s:
        return s.exec(select(WaitingEntry).where(WaitingEntry.offer_id == offer_id)
                      .order_by(WaitingEntry.id.desc())).first()


def consistent(session_id: int) -> None:
    assert seats_taken(session_id) == active_bookings(session_id=session_id)
    with read_session() as s:
        cs = s.get(CourseSession, session_id)
        assert cs.seats_taken <= cs.capacity
        offered = s.exec(select(WaitingEntry).where(WaitingEntry.status == WaitingStatus.OFFERED)).all()
        held = [s.get(Booking, e.booking_id) for e in offered]
        assert all(b is not None and b.status == BookingStatus.HELD and b.offer_id == e.offer_id
                   for b, e in zip(held, offered))
        assert len({b.id for b in held}) == len(held)  # no booking held for two entries


def link_of(entry_id: int) -> str:
    """What the outbox puts in the email when it is sent (a fresh single-use link)."""
    with write_session() as s:
        return outbox.LINK_RENDERERS["waiting"](s, entry_id)


# --- joining ---------------------------------------------------------------------------------------------------


def test_join_defaults_to_today_until_the_critical_date_and_shows_the_place(cat):
    a, b = add_offers(cat, 2, days_left=40)
    first = waiting_list.join(cat.organisation_id, a, client=proof(cat, a))
    second = waiting_list.join(cat.organisation_id, b, client=proof(cat, b), venue_ids=[cat.venue_id],
                               channel="email")
    today = london_date(utcnow())
    assert first.date_from == today and first.date_to == today + timedelta(days=40)
    assert (first.position, second.position) == (1, 2)
    assert second.venue_names and second.status == "waiting"
    # Joining again changes the choices and keeps the place.
    again = waiting_list.join(cat.organisation_id, a, client=proof(cat, a), date_to=today + timedelta(days=20))
    assert again.id == first.id and again.position == 1 and again.date_to == today + timedelta(days=20)


def test_join_never_runs_past_the_critical_date_and_checks_its_choices(cat, org):
    (a,) = add_offers(cat, 1, days_left=30)
    today = london_date(utcnow())
    with pytest.raises(ValidationFailed, match="critical date"):
        waiting_list.join(org.id, a, client=proof(cat, a), date_to=today + timedelta(days=31))
    with pytest.raises(ValidationFailed, match="on or after"):
        waiting_list.join(org.id, a, client=proof(cat, a), date_from=today + timedelta(days=10),
                          date_to=today + timedelta(days=5))
    with pytest.raises(ValidationFailed, match="venues"):
        waiting_list.join(org.id, a, client=proof(cat, a), venue_ids=[999999])
    with pytest.raises(ValidationFailed, match="email or text"):
        waiting_list.join(org.id, a, client=proof(cat, a), channel="pigeon")
    with pytest.raises(ValidationFailed, match="mobile"):
        waiting_list.join(org.id, a, client=proof(cat, a), channel="sms")  # no phone number held
    with pytest.raises(NotFound):
        waiting_list.join(org.id, a, client=proof(cat, a + 1))  # a proof for another offer
    with pytest.raises(PermissionDenied):
        waiting_list.join(org.id + 1, a, client=proof(cat, a))
    assert all_rows(WaitingEntry) == []


def test_a_booked_offer_cannot_join(cat, staff):
    (a,) = add_offers(cat, 1)
    bookings.book(staff, a, add_session(cat, capacity=3), channel="api")
    with pytest.raises(ValidationFailed, match="already booked"):
        waiting_list.join(cat.organisation_id, a, actor=staff)


def test_another_organisations_venue_is_refused(cat, org):
    from conftest import create_org

    other = create_org("essex", "Essex County Council")
    other_cat = make_catalogue(other.id, code="ESX")
    (a,) = add_offers(cat, 1)
    with pytest.raises(ValidationFailed):
        waiting_list.join(org.id, a, client=proof(cat, a), venue_ids=[other_cat.venue_id])


# --- a freed seat ----------------------------------------------------------------------------------------------


def test_a_cancellation_holds_the_seat_for_the_first_matching_waiter_and_emails_a_link(cat, staff):
    session_id, refs = full_session(cat, staff, capacity=2)
    elsewhere = Venue(organisation_id=cat.organisation_id, name="Elsewhere Hall", town="Stockton")
    with write_session() as s:
        s.add(elsewhere)
        s.flush()
        elsewhere_id = elsewhere.id
    wrong_venue, too_late, first, second = add_offers(cat, 4, prefix="WAIT")
    today = london_date(utcnow())
    waiting_list.join(cat.organisation_id, wrong_venue, actor=staff, venue_ids=[elsewhere_id])
    waiting_list.join(cat.organisation_id, too_late, actor=staff, date_to=today + timedelta(days=3))
    waiting_list.join(cat.organisation_id, first, actor=staff, venue_ids=[cat.venue_id, elsewhere_id])
    waiting_list.join(cat.organisation_id, second, actor=staff)
    assert all(entry_of(o).status == "waiting" for o in (wrong_venue, too_late, first, second))

    bookings.cancel(cat.organisation_id, refs[0], actor=staff, reason="Cannot come")

    entry = entry_of(first)
    assert entry.status == WaitingStatus.OFFERED and entry.booking_id is not None
    held = all_rows(Booking, Booking.id == entry.booking_id)[0]
    assert held.status == BookingStatus.HELD and held.session_id == session_id and held.offer_id == first
    # Held for the organisation's waiting-list time (a day by default).
    assert timedelta(hours=23, minutes=59) < held.hold_expires_at - utcnow() <= timedelta(hours=24)
    assert [entry_of(o).status for o in (wrong_venue, too_late, second)] == ["waiting"] * 3
    assert seats_taken(session_id) == 2
    consistent(session_id)
    mail = all_rows(EmailMessage, EmailMessage.secret_kind == "waiting")
    assert len(mail) == 1 and mail[0].to_address.startswith("client") and mail[0].secret_id == entry.id
    assert outbox.LINK_PLACEHOLDER in mail[0].body_text and "is held for you" in mail[0].subject


def test_the_link_confirms_the_seat_which_then_awaits_payment(cat, staff):
    session_id, refs = full_session(cat, staff, capacity=1)
    (waiter,) = add_offers(cat, 1, prefix="WAIT")
    waiting_list.join(cat.organisation_id, waiter, client=proof(cat, waiter))
    bookings.cancel(cat.organisation_id, refs[0], actor=staff)
    entry = entry_of(waiter)
    link = link_of(entry.id)
    token = link.split("token=")[1]
    seat = waiting_list.held_seat(token)
    assert seat.live and seat.offer_id == waiter and seat.client_first_name == "Client"
    view, client_proof = waiting_list.confirm_seat(token)
    assert view.status == BookingStatus.AWAITING_PAYMENT and client_proof == proof(cat, waiter)
    assert entry_of(waiter).status == WaitingStatus.BOOKED
    with pytest.raises(ValidationFailed, match="already confirmed"):
        waiting_list.confirm_seat(token)
    # A newer link replaces the older one; an unknown token finds nothing.
    with pytest.raises(NotFound):
        waiting_list.held_seat("not-a-token")
    consistent(session_id)


def test_an_unanswered_hold_passes_to_the_next_waiter(cat, staff):
    session_id, refs = full_session(cat, staff, capacity=1)
    first, second = add_offers(cat, 2, prefix="WAIT")
    waiting_list.join(cat.organisation_id, first, actor=staff)
    waiting_list.join(cat.organisation_id, second, actor=staff)
    bookings.cancel(cat.organisation_id, refs[0], actor=staff)
    held = all_rows(Booking, Booking.id == entry_of(first).booking_id)[0]
    token = link_of(entry_of(first).id).split("token=")[1]

    set_hold_expiry(held.reference, utcnow() - timedelta(seconds=1))
    assert bookings.release_expired_holds() == 1

    assert entry_of(first).status == WaitingStatus.LAPSED
    assert entry_of(second).status == WaitingStatus.OFFERED
    assert booking_row(held.reference).status == BookingStatus.EXPIRED
    assert seats_taken(session_id) == 1
    consistent(session_id)
    with pytest.raises(ValidationFailed, match="run out"):
        waiting_list.confirm_seat(token)
    # The link rendered for the lapsed entry is no longer wanted: the outbox does not send it.
    assert link_of(entry_of(first).id) is None


def test_raised_capacity_and_a_new_session_offer_their_seats(cat, staff, org):
    session_id, _ = full_session(cat, staff, capacity=1)
    a, b = add_offers(cat, 2, prefix="WAIT")
    waiting_list.join(org.id, a, actor=staff)
    waiting_list.join(org.id, b, actor=staff)
    with read_session() as s:
        cs = s.get(CourseSession, session_id)
        data = {"course_type_id": cs.course_type_id, "venue_id": cs.venue_id, "delivery_mode": cs.delivery_mode,
                "starts_at": cs.starts_at, "ends_at": cs.ends_at, "capacity": 2, "status": cs.status}
    catalogue.save_session(staff, session_id, data)
    assert entry_of(a).status == WaitingStatus.OFFERED and entry_of(b).status == WaitingStatus.WAITING
    consistent(session_id)
    new_id = catalogue.save_session(staff, None, {**data, "starts_at": data["starts_at"] + timedelta(days=1),
                                                  "ends_at": data["ends_at"] + timedelta(days=1), "capacity": 5})
    held = all_rows(Booking, Booking.id == entry_of(b).booking_id)[0]
    assert held.session_id == new_id and entry_of(b).status == WaitingStatus.OFFERED
    consistent(new_id)


def test_a_client_who_books_elsewhere_comes_off_the_list(cat, staff):
    session_id, _ = full_session(cat, staff, capacity=1)
    other = add_session(cat, capacity=5, starts_in=timedelta(days=9))
    a, b = add_offers(cat, 2, prefix="WAIT")
    waiting_list.join(cat.organisation_id, a, actor=staff, date_to=london_date(utcnow()) + timedelta(days=8))
    waiting_list.join(cat.organisation_id, b, actor=staff, date_to=london_date(utcnow()) + timedelta(days=8))
    bookings.book(staff, a, other, channel="telephone")
    assert entry_of(a).status == WaitingStatus.REMOVED and entry_of(a).ended_reason == "Booked another session"
    hold = bookings.hold_seat(cat.organisation_id, b, other)
    assert entry_of(b).status == WaitingStatus.WAITING  # a hold in the wizard is not yet a booking
    bookings.confirm_hold(cat.organisation_id, b, hold.reference)
    assert entry_of(b).status == WaitingStatus.REMOVED
    consistent(session_id)


def test_leaving_with_a_seat_held_passes_it_on(cat, staff):
    session_id, refs = full_session(cat, staff, capacity=1)
    a, b = add_offers(cat, 2, prefix="WAIT")
    waiting_list.join(cat.organisation_id, a, client=proof(cat, a))
    waiting_list.join(cat.organisation_id, b, client=proof(cat, b))
    bookings.cancel(cat.organisation_id, refs[0], actor=staff)
    assert entry_of(a).status == WaitingStatus.OFFERED
    gone = waiting_list.leave(cat.organisation_id, a, client=proof(cat, a))
    assert gone.status == WaitingStatus.LEFT
    assert entry_of(b).status == WaitingStatus.OFFERED
    consistent(session_id)
    removed = waiting_list.leave(cat.organisation_id, b, actor=staff, reason="Asked by phone")
    assert removed.status == WaitingStatus.REMOVED and removed.ended_reason == "Asked by phone"
    assert seats_taken(session_id) == 0
    with pytest.raises(NotFound):
        waiting_list.leave(cat.organisation_id, b, actor=staff)


def test_staff_lists_by_session_and_course_type(cat, staff, org):
    session_id, refs = full_session(cat, staff, capacity=1)
    offers = add_offers(cat, 3, prefix="WAIT")
    for o in offers:
        waiting_list.join(org.id, o, actor=staff)
    bookings.cancel(org.id, refs[0], actor=staff)
    by_session = waiting_list.list_for_session(staff, session_id)
    assert [v.status for v in by_session] == ["offered", "waiting", "waiting"]
    assert [v.position for v in by_session] == [None, 1, 2]
    by_type = waiting_list.list_for_course_type(staff, cat.course_type_id)
    assert [v.offer_id for v in by_type] == offers
    assert waiting_list.counts_by_session(staff, [session_id]) == {session_id: 2}
    reader = Actor(user_id=None, username="nobody", organisation_id=org.id, permissions=frozenset())
    with pytest.raises(PermissionDenied):
        waiting_list.list_for_session(reader, session_id)
    with pytest.raises(NotFound):
        waiting_list.list_for_course_type(Actor(user_id=None, username="x", organisation_id=org.id + 99,
                                                permissions=frozenset({"bookings.view"})), cat.course_type_id)


def test_the_sweep_expires_entries_past_their_last_day_and_offers_free_seats(cat, staff, org):
    (a, b) = add_offers(cat, 2, prefix="WAIT")
    waiting_list.join(org.id, a, actor=staff)
    waiting_list.join(org.id, b, actor=staff)
    sql("UPDATE waiting_entry SET date_from = :d, date_to = :d WHERE offer_id = :o",
        d=london_date(utcnow()) - timedelta(days=1), o=a)
    session_id = add_session(cat, capacity=1)  # written straight to the database: nobody was told
    assert waiting_list.sweep() == 1
    assert entry_of(a).status == WaitingStatus.EXPIRED and entry_of(b).status == WaitingStatus.OFFERED
    consistent(session_id)


# --- races -----------------------------------------------------------------------------------------------------


def test_threads_freeing_seats_at_once_give_each_seat_to_a_different_client(cat, staff):
    threads, freed = 24, 4
    session_id, refs = full_session(cat, staff, capacity=6)
    waiters = add_offers(cat, 10, prefix="WAIT")
    for o in waiters:
        waiting_list.join(cat.organisation_id, o, actor=staff)

    def work(i):
        if i < freed:
            return bookings.cancel(cat.organisation_id, refs[i], actor=staff, reason="race")
        return waiting_list.seats_freed(cat.organisation_id, [session_id])

    results = run_threads(threads, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    entries = all_rows(WaitingEntry, order_by=WaitingEntry.id)
    offered = [e for e in entries if e.status == WaitingStatus.OFFERED]
    # The first four to join, one seat each; the rest still waiting.
    assert sorted(e.offer_id for e in offered) == waiters[:freed]
    assert [e.status for e in entries[freed:]] == ["waiting"] * (len(waiters) - freed)
    assert seats_taken(session_id) == 6
    consistent(session_id)


def test_processes_freeing_seats_at_once_give_each_seat_to_a_different_client(cat, staff, org):
    from waiting_race_worker import race

    processes = 4
    session_id, refs = full_session(cat, staff, capacity=8)
    waiters = add_offers(cat, 12, prefix="WAIT")
    for o in waiters:
        waiting_list.join(org.id, o, actor=staff)
    # Processes 0-2 cancel two bookings each (six seats freed); process 3 only offers freed seats.
    shares = [refs[0:2], refs[2:4], refs[4:6], []]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=race, args=(w, org.id, session_id, shares[w], barrier, results))
             for w in range(processes)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    flat = [o for _, worker in outcomes for o in worker]
    assert not [o for o in flat if o.startswith("error")], flat
    assert sum(o.startswith("cancelled:") for o in flat) == 6
    # Each freed seat went to its own entry, the first six to join; nobody was offered two.
    entries = all_rows(WaitingEntry, order_by=WaitingEntry.id)
    assert sorted(e.offer_id for e in entries if e.status == WaitingStatus.OFFERED) == waiters[:6]
    assert Counter(e.status for e in entries) == {"offered": 6, "waiting": 6}
    assert seats_taken(session_id) == 8
    consistent(session_id)


# --- the REST API ----------------------------------------------------------------------------------------------


def test_the_api_joins_reads_lists_and_leaves(cat, staff, org, actor):
    from starlette.testclient import TestClient

    from atlas_app.api.app import build_api
    from atlas_app.services.platform import api_tokens

    auth = {"Authorization": f"Bearer {api_tokens.create(actor, 'waiting list').token}"}
    client = TestClient(build_api())
    session_id, refs = full_session(cat, staff, capacity=1)
    add_offers(cat, 1, prefix="API", days_left=30)
    today = london_date(utcnow())
    late = client.post("/api/v1/waiting-list", headers=auth,
                       json={"offer_reference": "API-00001", "date_to": (today + timedelta(days=31)).isoformat()})
    assert late.status_code == 422 and "critical date" in late.json()["error"]
    bad = client.post("/api/v1/waiting-list", headers=auth, json={"offer_reference": "API-00001",
                                                                    "venue_ids": "all"})
    assert bad.status_code == 422 and bad.json()["fields"] == {"venue_ids": "must be a list"}
    joined = client.post("/api/v1/waiting-list", headers=auth,
                         json={"offer_reference": "API-00001", "venue_ids": [cat.venue_id]})
    assert joined.status_code == 201, joined.text
    assert joined.json()["status"] == "waiting" and joined.json()["position"] == 1
    assert client.get("/api/v1/waiting-list/API-00001", headers=auth).json()["id"] == joined.json()["id"]
    bookings.cancel(org.id, refs[0], actor=staff)
    listed = client.get(f"/api/v1/sessions/{session_id}/waiting-list", headers=auth).json()
    assert listed["count"] == 1 and listed["entries"][0]["status"] == "offered"
    assert listed["entries"][0]["booking_reference"]
    left = client.delete("/api/v1/waiting-list/API-00001", headers=auth)
    assert left.status_code == 200 and left.json()["status"] == "removed"
    assert client.get("/api/v1/waiting-list/API-00001", headers=auth).status_code == 404
    assert client.get("/api/v1/waiting-list/API-00001").status_code == 401
    assert seats_taken(session_id) == 0
