"""The locks module: locks are taken in the one order whatever order they are asked in, a lock asked for after a
later one is refused, and on PostgreSQL a lock held by another writer past the timeout answers "busy"."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event

from atlas_app.db import get_engine, write_session
from atlas_app.services.booking import bookings as booking
from atlas_app.services.payments import staff as payments_staff
from atlas_app.services.platform import locks
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict
from booking_data import add_offers, add_session, booking_row, make_catalogue, seats_taken


@pytest.fixture
def booker(org) -> Actor:
    return Actor(user_id=None, username="api:locks", organisation_id=org.id,
                 permissions=frozenset({"bookings.view", "bookings.manage", "payments.take", "payments.refund"}))


@pytest.fixture
def booked(org, booker):
    """A booking with a payment on it: (offer id, booking id, session id, payment id, reference)."""
    cat = make_catalogue(org.id)
    sid = add_session(cat)
    offer_id = add_offers(cat, 1)[0]
    view = booking.book(booker, offer_id, sid)
    pay = payments_staff.record_payment(booker, view.reference, "10", "cash")
    return offer_id, view.id, sid, pay.id, view.reference


def _locked_tables(run) -> list[str]:
    """The tables of the FOR UPDATE statements ``run`` issues (SQLite drops FOR UPDATE, so there: every SELECT of
    a locked kind's table by id), in the order they reach the database."""
    seen: list[str] = []
    tables = ("checkout_attempt", "offer", "booking", "payment", "refund", "course_session")

    def listen(_conn, _cursor, statement, _params, _context, _many):
        text = " ".join(statement.split()).lower()
        if text.startswith("select") and ("for update" in text or "_lock_timeout" not in text):
            from_part = text.split(" from ", 1)[1].split(" ", 1)[0] if " from " in text else ""
            if from_part in tables:
                seen.append(from_part)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", listen)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def test_locks_asked_for_out_of_order_are_taken_in_order(booked):
    offer_id, booking_id, sid, payment_id, _ = booked
    got: dict = {}

    def run():
        with write_session() as s:
            got.update(locks.lock(s, locks.seats(sid), locks.payment(payment_id), locks.booking(booking_id),
                                  locks.offer(offer_id)))
            got["held"] = locks.held(s)

    assert _locked_tables(run) == ["offer", "booking", "payment", "course_session"]
    assert got[locks.booking(booking_id)].id == booking_id  # the rows come back, fresh
    assert got[locks.payment(payment_id)].amount_pence == 1000
    assert got["held"] == {locks.offer(offer_id), locks.booking(booking_id), locks.payment(payment_id),
                           locks.seats(sid)}


def test_a_lock_asked_for_after_a_later_one_is_refused(booked):
    offer_id, booking_id, _, payment_id, _ = booked
    with write_session() as s:
        locks.lock(s, locks.booking(booking_id))
        locks.lock(s, locks.booking(booking_id), locks.payment(payment_id))  # held already, then a later one: fine
        with pytest.raises(locks.LockOrderError):
            locks.lock(s, locks.offer(offer_id))
        with pytest.raises(locks.LockOrderError):
            locks.lock_where(s, "offer")
        with pytest.raises(locks.LockOrderError):
            locks.claim(s, locks.booking(booking_id + 1000))  # same kind, but after a payment
    with write_session() as s:  # a new transaction starts with nothing held
        assert locks.held(s) == frozenset()
        locks.lock(s, locks.offer(offer_id))


def test_two_transfers_in_opposite_directions_touch_the_sessions_in_order(org, booker):
    """Each transfer gives a seat back on one session and takes one on the other: the lower id first either way."""
    cat = make_catalogue(org.id)
    first, second = add_session(cat), add_session(cat)
    a, b = add_offers(cat, 2)
    ref_a = booking.book(booker, a, first).reference
    ref_b = booking.book(booker, b, second).reference
    order: list[list[str]] = []
    for ref, to in ((ref_a, second), (ref_b, first)):
        statements: list[str] = []

        def listen(_conn, _cursor, statement, _params, context, _many, into=statements):
            if statement.lstrip().lower().startswith("update course_session"):
                into.append(context.compiled_parameters[0]["sid"])

        engine = get_engine()
        event.listen(engine, "before_cursor_execute", listen)
        try:
            booking.transfer(org.id, ref, to, actor=booker)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        order.append(statements)
    # The first transfer gives back on ``first`` then takes on ``second``; the second takes on ``first`` before it
    # gives back on ``second``: the lower id first both times, so the two can never wait on each other.
    assert order == [[first, second], [first, second]], order
    assert seats_taken(first) == seats_taken(second) == 1
    assert booking_row(ref_a).status == booking_row(ref_b).status == "transferred"


def test_a_lock_held_past_the_timeout_answers_busy_on_postgresql(booked, booker, org, dialect, monkeypatch):
    if dialect != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: there is no row lock to wait on")
    offer_id, booking_id, _, _, reference = booked
    monkeypatch.setattr(locks, "LOCK_TIMEOUT_MS", 300)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with write_session() as s:
            locks.lock(s, locks.offer(offer_id))
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with pytest.raises(locks.Busy) as caught:
            booking.cancel(org.id, reference, actor=booker)  # locks the offer through the module
        assert isinstance(caught.value, Conflict)
        assert "try again" in str(caught.value)
        with pytest.raises(locks.Busy):
            booking.book(booker, offer_id, booking_row(reference).session_id)  # the one-query hot path
        assert time.monotonic() - started < 5  # two waits of 0.3 s, not the default's 5 s each
    finally:
        release.set()
        holder.join()
    assert booking_row(reference).status == "awaiting_payment"  # the busy change left nothing behind
    booking.cancel(org.id, reference, actor=booker)  # and goes through once the lock is free
    assert booking_row(reference).status == "cancelled"
