"""Fixtures and helpers for the payment tests: a course to book, offers, bookings, and a fake Stripe on loopback.

Import the fixtures into a test module with ``from payments_support import *``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import Booking, BookingTerms, Client, CourseSession, CourseType, Offer, Organisation, Venue
from atlas_app.models.payments import CheckoutAttempt, Payment, Refund
from atlas_app.services.booking import bookings as booking_service
from atlas_app.timeutil import london_date
from stripe_fake import FakeStripe

FEE = 9500
_counter = itertools.count(1)


@dataclass(frozen=True)
class World:
    org_id: int
    course_type_id: int
    venue_id: int
    session_id: int


def make_world(org_id: int, *, fee: int = FEE, capacity: int = 10, days_ahead: int = 10,
               unpaid_action: str = "release", payment_due_hours: int = 72, payments_demo: bool = True) -> World:
    """A course to book in organisation ``org_id``, which takes demo card payments unless ``payments_demo`` is
    False (no Stripe key is set in the tests, nor ATLAS_DEMO_PAYMENTS)."""
    now = utcnow()
    with write_session() as s:
        org = s.get(Organisation, org_id)
        org.payments_demo = payments_demo
        s.add(org)
        ct = CourseType(organisation_id=org_id, code="NSAC", name="National Speed Awareness Course", fee_pence=fee,
                        delivery_modes=["classroom"], default_capacity=capacity)
        venue = Venue(organisation_id=org_id, name="Civic Centre", town="Hartlepool", postcode="TS24 8AY")
        s.add(ct)
        s.add(venue)
        s.add(BookingTerms(organisation_id=org_id, hold_minutes=15, payment_due_hours=payment_due_hours,
                           unpaid_action=unpaid_action))
        s.flush()
        session = CourseSession(organisation_id=org_id, course_type_id=ct.id, venue_id=venue.id,
                                delivery_mode="classroom", starts_at=now + timedelta(days=days_ahead),
                                ends_at=now + timedelta(days=days_ahead, hours=3), capacity=capacity)
        s.add(session)
        s.flush()
        return World(org_id, ct.id, venue.id, session.id)


def another_session(world: World, days_later: int = 2, capacity: int = 10) -> int:
    """One more session of the world's course at its venue, ``days_later`` days after the first; its id."""
    with write_session() as s:
        first = s.get(CourseSession, world.session_id)
        other = CourseSession(organisation_id=world.org_id, course_type_id=world.course_type_id,
                              venue_id=world.venue_id, delivery_mode="classroom",
                              starts_at=first.starts_at + timedelta(days=days_later),
                              ends_at=first.ends_at + timedelta(days=days_later), capacity=capacity)
        s.add(other)
        s.flush()
        return other.id


def make_offer(world: World, email: str | None = None) -> int:
    n = next(_counter)
    with write_session() as s:
        client = Client(organisation_id=world.org_id, first_name="Sam", last_name=f"Driver{n}",
                        date_of_birth=date(1980, 1, 1), postcode="TS24 7QS",
                        email=f"sam{n}@example.com" if email is None else email)
        s.add(client)
        s.flush()
        offer = Offer(organisation_id=world.org_id, offer_reference=f"CLE-{n:06d}", client_id=client.id,
                      course_type_id=world.course_type_id, offence_date=london_date(utcnow()) - timedelta(days=10),
                      critical_date=london_date(utcnow()) + timedelta(days=60), police_force="Cleveland Police")
        s.add(offer)
        s.flush()
        return offer.id


def awaiting_booking(world: World, session_id: int | None = None, email: str | None = None):
    """An online booking awaiting payment (held, then confirmed by the client)."""
    offer_id = make_offer(world, email)
    held = booking_service.hold_seat(world.org_id, offer_id, session_id or world.session_id)
    return booking_service.confirm_hold(world.org_id, offer_id, held.reference)


def booking_row(reference: str) -> Booking:
    with read_session() as s:
        return s.exec(select(Booking).where(Booking.reference == reference)).one()


def session_row(session_id: int) -> CourseSession:
    with read_session() as s:
        return s.get(CourseSession, session_id)


def payments_for(reference: str) -> list[Payment]:
    with read_session() as s:
        b = s.exec(select(Booking).where(Booking.reference == reference)).one()
        return list(s.exec(select(Payment).where(Payment.booking_id == b.id).order_by(Payment.id)).all())


def refunds_for(payment_id: int) -> list[Refund]:
    with read_session() as s:
        return list(s.exec(select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)).all())


def attempt_row(session_id: str) -> CheckoutAttempt:
    with read_session() as s:
        return s.exec(select(CheckoutAttempt).where(CheckoutAttempt.provider_session_id == session_id)).one()


@pytest.fixture
def world(org) -> World:
    return make_world(org.id)


@pytest.fixture
def stripe_fake(set_env):
    fake = FakeStripe().start()
    set_env(STRIPE_SECRET_KEY=fake.secret_key, STRIPE_WEBHOOK_SECRET=fake.webhook_secret, STRIPE_API_BASE=fake.url)
    yield fake
    fake.stop()


@pytest.fixture
def no_stripe(set_env):
    set_env(STRIPE_SECRET_KEY=None, STRIPE_WEBHOOK_SECRET=None, STRIPE_API_BASE=None, ATLAS_DEMO_PAYMENTS=None)


__all__ = ["FEE", "World", "another_session", "attempt_row", "awaiting_booking", "booking_row", "make_offer",
           "make_world", "no_stripe", "payments_for", "refunds_for", "session_row", "stripe_fake", "world"]
