"""Seats and offers under concurrency: many threads, and many processes, racing for the same seats and the same
offer, on SQLite and on PostgreSQL. Also the seat accounting of holds that expire, transfers and cancellations, and
the critical-date rules every way of booking shares.

The invariant checked throughout: a session's ``seats_taken`` never exceeds its capacity and always equals the
number of its active bookings (held, awaiting payment, confirmed).
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from atlas_app.db import read_session, utcnow
from atlas_app.models import Booking, ClientEvent, Offer
from atlas_app.services.booking import bookings as booking
from atlas_app.services.platform.audit import verify_trail
from atlas_app.services.platform.actor import Actor
from atlas_app.services.booking.bookings import AlreadyBooked, SessionFull
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.timeutil import london_date
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

THREADS = 40


@pytest.fixture
def cat(org):
    return make_catalogue(org.id)


@pytest.fixture
def booker(org) -> Actor:
    """Someone allowed to book (as an API token or the contact centre would be)."""
    return Actor(user_id=None, username="api:race", organisation_id=org.id,
                 permissions=frozenset({"bookings.view", "bookings.manage"}))


def assert_consistent(session_id: int, capacity: int | None = None) -> None:
    taken = seats_taken(session_id)
    assert taken == active_bookings(session_id=session_id)
    if capacity is not None:
        assert taken <= capacity


def outcome_counts(results) -> Counter:
    def kind(r):
        if isinstance(r, booking.BookingView):
            return "ok"
        if isinstance(r, SessionFull):
            return "full"
        if isinstance(r, AlreadyBooked):
            return "already"
        return f"other:{type(r).__name__}:{r}"

    return Counter(kind(r) for r in results)


# --- threads racing for the last seats -----------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [1, 5])
def test_threads_booking_the_last_seats_take_exactly_capacity(cat, booker, capacity):
    session_id = add_session(cat, capacity=capacity)
    offers = add_offers(cat, THREADS)

    results = run_threads(THREADS, lambda i: booking.book(booker, offers[i], session_id, channel="api"))

    counts = outcome_counts(results)
    assert counts == Counter({"ok": capacity, "full": THREADS - capacity}), counts
    assert seats_taken(session_id) == capacity
    assert active_bookings(session_id=session_id) == capacity
    assert len({r.reference for r in results if isinstance(r, booking.BookingView)}) == capacity
    assert_audit_chain_intact(capacity)


def assert_audit_chain_intact(at_least: int) -> None:
    """Every booking's audit entry is on the one hash chain, unbroken, however the writers interleaved."""
    with read_session() as s:
        report = verify_trail(s)
    assert report.ok, report
    assert report.entries_checked >= at_least


def test_threads_holding_the_last_seats_take_exactly_capacity(cat, org):
    session_id = add_session(cat, capacity=3)
    offers = add_offers(cat, THREADS)

    results = run_threads(THREADS, lambda i: booking.hold_seat(org.id, offers[i], session_id))

    assert outcome_counts(results) == Counter({"ok": 3, "full": THREADS - 3})
    assert seats_taken(session_id) == 3 == active_bookings(session_id=session_id)
    assert_audit_chain_intact(3)


def test_a_session_partly_filled_beforehand_sells_only_what_is_left(cat, booker, org):
    session_id = add_session(cat, capacity=24)
    offers = add_offers(cat, 20 + THREADS)
    for offer_id in offers[:20]:
        booking.book(booker, offer_id, session_id)
    assert seats_taken(session_id) == 20

    def attempt(i):
        offer_id = offers[20 + i]
        if i % 2:
            return booking.hold_seat(org.id, offer_id, session_id)
        return booking.book(booker, offer_id, session_id)

    results = run_threads(THREADS, attempt)
    assert outcome_counts(results)["ok"] == 4
    assert seats_taken(session_id) == 24 == active_bookings(session_id=session_id)


# --- threads racing to book one offer ------------------------------------------------------------------------


def test_one_offer_booked_into_many_sessions_at_once_gets_one_booking(cat, booker):
    sessions = [add_session(cat, capacity=5, starts_in=timedelta(days=3, hours=i)) for i in range(20)]
    (offer_id,) = add_offers(cat, 1)

    results = run_threads(len(sessions), lambda i: booking.book(booker, offer_id, sessions[i]))

    counts = outcome_counts(results)
    assert counts == Counter({"ok": 1, "already": len(sessions) - 1}), counts
    assert active_bookings(offer_id=offer_id) == 1
    assert sum(seats_taken(s) for s in sessions) == 1
    for s in sessions:
        assert_consistent(s)


def test_one_offer_held_in_many_sessions_at_once_keeps_one_hold(cat, org):
    sessions = [add_session(cat, capacity=2, starts_in=timedelta(days=3, hours=i)) for i in range(15)]
    (offer_id,) = add_offers(cat, 1)

    results = run_threads(len(sessions), lambda i: booking.hold_seat(org.id, offer_id, sessions[i]))

    # Each hold lets the offer's previous hold go, so every call succeeds in turn, but one hold is left.
    assert outcome_counts(results) == Counter({"ok": len(sessions)})
    assert active_bookings(offer_id=offer_id) == 1
    assert sum(seats_taken(s) for s in sessions) == 1
    for s in sessions:
        assert_consistent(s)


def test_booking_and_holding_one_offer_at_once_never_leaves_two(cat, booker, org):
    sessions = [add_session(cat, capacity=4, starts_in=timedelta(days=2, hours=i)) for i in range(10)]
    offers = add_offers(cat, 5)

    def attempt(i):
        offer_id = offers[i % len(offers)]
        session_id = sessions[i % len(sessions)]
        if i % 3 == 0:
            return booking.hold_seat(org.id, offer_id, session_id)
        return booking.book(booker, offer_id, session_id)

    results = run_threads(THREADS, attempt)
    assert not [r for r in results if not isinstance(r, (booking.BookingView, SessionFull, AlreadyBooked))], results
    for offer_id in offers:
        assert active_bookings(offer_id=offer_id) == 1
    assert sum(seats_taken(s) for s in sessions) == len(offers)
    for s in sessions:
        assert_consistent(s, 4)


# --- processes racing ------------------------------------------------------------------------------------------


def test_processes_racing_for_the_last_seats_take_exactly_capacity(cat, org):
    """Six separate processes (their own engines and connections) against the same database file or server."""
    from booking_race_worker import race

    processes, per_process, capacity = 6, 8, 10
    session_id = add_session(cat, capacity=capacity)
    offers = add_offers(cat, processes * per_process)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=race, args=(w, org.id, session_id, offers[w::processes], barrier, results))
             for w in range(processes)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    flat = [o for _, worker_outcomes in outcomes for o in worker_outcomes]
    assert not [o for o in flat if not (o.startswith("ok:") or o == "full")], flat
    assert len(flat) == processes * per_process
    assert sum(o.startswith("ok:") for o in flat) == capacity
    assert seats_taken(session_id) == capacity == active_bookings(session_id=session_id)
    assert_audit_chain_intact(capacity)


# --- holds that run out ----------------------------------------------------------------------------------------


def test_expired_holds_are_released_by_the_sweep(cat, org):
    session_id = add_session(cat, capacity=3)
    offers = add_offers(cat, 3)
    views = [booking.hold_seat(org.id, o, session_id) for o in offers]
    assert seats_taken(session_id) == 3
    for v in views[:2]:
        set_hold_expiry(v.reference, utcnow() - timedelta(minutes=1))

    assert booking.release_expired_holds() == 2

    assert seats_taken(session_id) == 1 == active_bookings(session_id=session_id)
    assert [booking_row(v.reference).status for v in views] == ["expired", "expired", "held"]
    events = all_rows(ClientEvent, ClientEvent.kind == "hold_expired")
    assert sorted(e.offer_id for e in events) == sorted(offers[:2])
    assert booking.release_expired_holds() == 0


def test_sweeps_running_at_once_release_each_hold_once(cat, org, booker):
    session_id = add_session(cat, capacity=30)
    offers = add_offers(cat, 25)
    for o in offers[:5]:
        booking.book(booker, o, session_id)
    held = [booking.hold_seat(org.id, o, session_id) for o in offers[5:]]
    for v in held:
        set_hold_expiry(v.reference, utcnow() - timedelta(seconds=5))

    released = run_threads(8, lambda i: booking.release_expired_holds())

    assert sum(released) == len(held)
    assert seats_taken(session_id) == 5 == active_bookings(session_id=session_id)
    assert len(all_rows(ClientEvent, ClientEvent.kind == "hold_expired")) == len(held)


def test_a_full_looking_session_frees_expired_holds_when_someone_books(cat, org, booker):
    session_id = add_session(cat, capacity=1)
    first, second = add_offers(cat, 2)
    hold = booking.hold_seat(org.id, first, session_id)
    with pytest.raises(SessionFull):
        booking.book(booker, second, session_id)
    set_hold_expiry(hold.reference, utcnow() - timedelta(seconds=1))

    view = booking.book(booker, second, session_id)  # no sweep has run: the booking frees the stale hold itself

    assert view.status == "awaiting_payment"
    assert booking_row(hold.reference).status == "expired"
    assert seats_taken(session_id) == 1 == active_bookings(session_id=session_id)


def test_confirming_after_the_hold_ran_out_retakes_a_free_seat(cat, org):
    session_id = add_session(cat, capacity=2)
    (offer_id,) = add_offers(cat, 1)
    hold = booking.hold_seat(org.id, offer_id, session_id)
    set_hold_expiry(hold.reference, utcnow() - timedelta(minutes=2))
    booking.release_expired_holds()
    assert seats_taken(session_id) == 0

    view = booking.confirm_hold(org.id, offer_id, hold.reference)

    assert view.status == "awaiting_payment"
    assert seats_taken(session_id) == 1 == active_bookings(session_id=session_id)


def test_confirming_after_the_hold_ran_out_before_the_sweep_keeps_one_seat(cat, org):
    session_id = add_session(cat, capacity=2)
    (offer_id,) = add_offers(cat, 1)
    hold = booking.hold_seat(org.id, offer_id, session_id)
    set_hold_expiry(hold.reference, utcnow() - timedelta(minutes=2))

    view = booking.confirm_hold(org.id, offer_id, hold.reference)

    assert view.status == "awaiting_payment"
    assert seats_taken(session_id) == 1 == active_bookings(session_id=session_id)


def test_confirming_after_the_hold_ran_out_says_full_when_the_seat_went(cat, org, booker):
    session_id = add_session(cat, capacity=1)
    late, quick = add_offers(cat, 2)
    hold = booking.hold_seat(org.id, late, session_id)
    set_hold_expiry(hold.reference, utcnow() - timedelta(minutes=1))
    booking.release_expired_holds()
    booking.book(booker, quick, session_id)

    with pytest.raises(SessionFull):
        booking.confirm_hold(org.id, late, hold.reference)

    assert booking_row(hold.reference).status == "expired"
    assert seats_taken(session_id) == 1 == active_bookings(session_id=session_id)


def test_confirms_racing_for_the_seat_their_expired_holds_gave_up(cat, org):
    session_id = add_session(cat, capacity=3)
    offers = add_offers(cat, 10)
    holds = []
    for chunk in (offers[:3], offers[3:6], offers[6:9]):
        for o in chunk:
            holds.append((o, booking.hold_seat(org.id, o, session_id)))
        for _, h in holds[-3:]:
            set_hold_expiry(h.reference, utcnow() - timedelta(seconds=1))
        booking.release_expired_holds()
    assert seats_taken(session_id) == 0

    results = run_threads(len(holds), lambda i: booking.confirm_hold(org.id, holds[i][0], holds[i][1].reference))

    assert outcome_counts(results) == Counter({"ok": 3, "full": len(holds) - 3})
    assert seats_taken(session_id) == 3 == active_bookings(session_id=session_id)


# --- transfers and cancellations -------------------------------------------------------------------------------


def test_transfer_moves_the_seat_and_cancel_gives_it_back(cat, booker, org):
    a = add_session(cat, capacity=2)
    b = add_session(cat, capacity=2, starts_in=timedelta(days=9))
    (offer_id,) = add_offers(cat, 1)
    first = booking.book(booker, offer_id, a)
    assert (seats_taken(a), seats_taken(b)) == (1, 0)

    moved = booking.transfer(org.id, first.reference, b, actor=booker)

    assert (seats_taken(a), seats_taken(b)) == (0, 1)
    assert booking_row(first.reference).status == "transferred"
    assert moved.status == "awaiting_payment" and moved.session_id == b

    booking.cancel(org.id, moved.reference, actor=booker, reason="Changed mind")
    assert (seats_taken(a), seats_taken(b)) == (0, 0)
    assert active_bookings(offer_id=offer_id) == 0
    assert all_rows(Offer, Offer.id == offer_id)[0].status == "referred"

    again = booking.book(booker, offer_id, a)  # a cancelled offer can be booked again
    assert again.status == "awaiting_payment"
    assert (seats_taken(a), seats_taken(b)) == (1, 0)


def test_transfer_into_a_full_session_changes_nothing(cat, booker):
    a = add_session(cat, capacity=2)
    b = add_session(cat, capacity=1, starts_in=timedelta(days=9))
    mine, theirs = add_offers(cat, 2)
    view = booking.book(booker, mine, a)
    booking.book(booker, theirs, b)

    with pytest.raises(SessionFull):
        booking.transfer(booker.organisation_id, view.reference, b, actor=booker)

    assert booking_row(view.reference).status == "awaiting_payment"
    assert (seats_taken(a), seats_taken(b)) == (1, 1)
    assert_consistent(a)
    assert_consistent(b)


def test_transfers_racing_into_a_small_session(cat, booker, org):
    a = add_session(cat, capacity=12)
    b = add_session(cat, capacity=3, starts_in=timedelta(days=9))
    offers = add_offers(cat, 12)
    views = [booking.book(booker, o, a) for o in offers]

    results = run_threads(len(views), lambda i: booking.transfer(org.id, views[i].reference, b, actor=booker))

    assert outcome_counts(results) == Counter({"ok": 3, "full": 9})
    assert (seats_taken(a), seats_taken(b)) == (9, 3)
    assert_consistent(a, 12)
    assert_consistent(b, 3)


def test_the_same_booking_cancelled_many_times_at_once_frees_one_seat(cat, booker, org):
    session_id = add_session(cat, capacity=5)
    offers = add_offers(cat, 3)
    views = [booking.book(booker, o, session_id) for o in offers]

    results = run_threads(12, lambda i: booking.cancel(org.id, views[0].reference, actor=booker))

    cancelled = [r for r in results if isinstance(r, booking.BookingView)]
    refused = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(cancelled) == 1 and len(refused) == 11, results
    assert seats_taken(session_id) == 2 == active_bookings(session_id=session_id)


def test_cancels_and_new_bookings_racing_keep_the_count(cat, booker, org):
    session_id = add_session(cat, capacity=6)
    offers = add_offers(cat, 6 + 20)
    views = [booking.book(booker, o, session_id) for o in offers[:6]]

    def attempt(i):
        if i < 6:
            return booking.cancel(org.id, views[i].reference, actor=booker)
        return booking.book(booker, offers[6 + i - 6], session_id)

    results = run_threads(26, attempt)

    assert not [r for r in results if not isinstance(r, (booking.BookingView, SessionFull))], results
    assert seats_taken(session_id) <= 6
    assert_consistent(session_id, 6)


# --- the database's own guard ------------------------------------------------------------------------------------


def test_the_database_refuses_more_seats_than_capacity(cat):
    session_id = add_session(cat, capacity=2)
    with pytest.raises(IntegrityError):
        sql("UPDATE course_session SET seats_taken = 3 WHERE id = :id", id=session_id)
    with pytest.raises(IntegrityError):
        sql("UPDATE course_session SET seats_taken = -1 WHERE id = :id", id=session_id)


def test_the_database_refuses_two_active_bookings_for_one_offer(cat, booker):
    a = add_session(cat, capacity=2)
    (offer_id,) = add_offers(cat, 1)
    view = booking.book(booker, offer_id, a)
    row = booking_row(view.reference)
    with pytest.raises(IntegrityError):
        sql("INSERT INTO booking (organisation_id, reference, offer_id, session_id, status, channel, fee_pence, "
            "needs, created_at, updated_at) VALUES (:org, 'DUP-0000001', :offer, :sess, 'confirmed', 'api', 0, "
            "'{}', :now, :now)", org=row.organisation_id, offer=offer_id, sess=a, now=utcnow().replace(tzinfo=None))


# --- critical dates ------------------------------------------------------------------------------------------------


def _session_ending_on(cat, day_offset: int) -> int:
    """A session on the London day ``today + day_offset``, at midday."""
    today = london_date(utcnow())
    from atlas_app.timeutil import at_london
    from datetime import time as dtime

    start = at_london(today + timedelta(days=day_offset), dtime(12, 0))
    return add_session(cat, capacity=5, starts_in=start - utcnow().replace(microsecond=0))


def test_a_session_ending_after_the_critical_date_is_refused_every_way(cat, booker, org):
    (offer_id,) = add_offers(cat, 1, days_left=10)
    too_late = _session_ending_on(cat, 11)
    on_the_day = _session_ending_on(cat, 10)

    for attempt in (lambda: booking.book(booker, offer_id, too_late),
                    lambda: booking.hold_seat(org.id, offer_id, too_late)):
        with pytest.raises(ValidationFailed, match="critical date"):
            attempt()
    assert seats_taken(too_late) == 0

    view = booking.book(booker, offer_id, on_the_day)  # ending on the critical date itself is allowed
    with pytest.raises(ValidationFailed, match="critical date"):
        booking.transfer(org.id, view.reference, too_late, actor=booker)
    assert (seats_taken(on_the_day), seats_taken(too_late)) == (1, 0)


def test_an_offer_past_its_critical_date_cannot_be_booked(cat, booker, org):
    session_id = add_session(cat, capacity=5, starts_in=timedelta(days=1))
    lapsed, expired = add_offers(cat, 2)
    yesterday = london_date(utcnow()) - timedelta(days=1)
    sql("UPDATE offer SET critical_date = :d WHERE id = :id", d=yesterday, id=lapsed)
    sql("UPDATE offer SET status = 'expired' WHERE id = :id", id=expired)

    for offer_id in (lapsed, expired):
        with pytest.raises(ValidationFailed, match="expired"):
            booking.book(booker, offer_id, session_id)
        with pytest.raises(ValidationFailed, match="expired"):
            booking.hold_seat(org.id, offer_id, session_id)
    assert seats_taken(session_id) == 0
    assert all_rows(Booking) == []


def test_a_started_or_wrong_course_session_is_refused(cat, booker):
    started = add_session(cat, capacity=5, starts_in=timedelta(minutes=-5))
    other_course = add_session(cat, capacity=5, course_type_id=cat.other_course_type_id)
    cancelled = add_session(cat, capacity=5, status="cancelled")
    (offer_id,) = add_offers(cat, 1)
    for session_id, words in ((started, "started"), (other_course, "different course"),
                              (cancelled, "not open")):
        with pytest.raises(ValidationFailed, match=words):
            booking.book(booker, offer_id, session_id)
        assert seats_taken(session_id) == 0
