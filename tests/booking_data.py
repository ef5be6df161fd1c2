"""Course-booking data for the API, import and concurrency tests: written straight to the database, so a test
can make hundreds of offers quickly. (Not a test module; imported by them and by the race worker processes.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    BookingTerms,
    Client,
    ClientEvent,
    CourseSession,
    CourseType,
    Offer,
    Venue,
)
from atlas_app.timeutil import london_date


@dataclass(frozen=True)
class Catalogue:
    organisation_id: int
    course_type_id: int
    code: str
    venue_id: int
    other_course_type_id: int


def make_catalogue(organisation_id: int, code: str = "NSAC", fee_pence: int = 9500) -> Catalogue:
    with write_session() as s:
        if s.exec(select(BookingTerms).where(BookingTerms.organisation_id == organisation_id)).first() is None:
            s.add(BookingTerms(organisation_id=organisation_id))
        ct = CourseType(organisation_id=organisation_id, code=code, name=f"{code} course", duration_minutes=165,
                        fee_pence=fee_pence, delivery_modes=["classroom", "online"], default_capacity=24)
        other = CourseType(organisation_id=organisation_id, code=f"{code}X", name=f"{code}X course",
                           duration_minutes=195, fee_pence=9900, delivery_modes=["classroom"], default_capacity=20)
        venue = Venue(organisation_id=organisation_id, name=f"{code} Civic Centre {organisation_id}",
                      address_line1="Victoria Road", town="Hartlepool", postcode="TS24 8AY")
        s.add_all([ct, other, venue])
        s.flush()
        return Catalogue(organisation_id, ct.id, code, venue.id, other.id)


def add_session(cat: Catalogue, capacity: int = 24, starts_in: timedelta = timedelta(days=7),
                course_type_id: int | None = None, status: str = "scheduled") -> int:
    start = utcnow().replace(microsecond=0) + starts_in
    with write_session() as s:
        row = CourseSession(organisation_id=cat.organisation_id, course_type_id=course_type_id or cat.course_type_id,
                            venue_id=cat.venue_id, delivery_mode="classroom", starts_at=start,
                            ends_at=start + timedelta(minutes=165), capacity=capacity, status=status)
        s.add(row)
        s.flush()
        return row.id


def add_offers(cat: Catalogue, n: int, prefix: str = "CLE-T", days_left: int = 60,
               dob: date = date(1985, 3, 14), email: bool = True) -> list[int]:
    """``n`` offers, each for its own client; returns their ids in order (references PREFIX-00001...)."""
    today = london_date(utcnow())
    with write_session() as s:
        clients = [Client(organisation_id=cat.organisation_id, first_name="Client", last_name=f"Number{i}",
                          date_of_birth=dob, postcode="TS24 7QS",
                          email=f"client{i}@example.com" if email else "") for i in range(n)]
        s.add_all(clients)
        s.flush()
        offers = [Offer(organisation_id=cat.organisation_id, offer_reference=f"{prefix}-{i + 1:05d}",
                        client_id=c.id, course_type_id=cat.course_type_id, offence_date=today - timedelta(days=30),
                        critical_date=today + timedelta(days=days_left), police_force="Cleveland Police")
                  for i, c in enumerate(clients)]
        s.add_all(offers)
        s.flush()
        s.add_all([ClientEvent(organisation_id=cat.organisation_id, client_id=o.client_id, offer_id=o.id,
                               kind="referred", detail=o.offer_reference) for o in offers])
        return [o.id for o in offers]


def seats_taken(session_id: int) -> int:
    with read_session() as s:
        return s.get(CourseSession, session_id).seats_taken


def active_bookings(session_id: int | None = None, offer_id: int | None = None) -> int:
    with read_session() as s:
        query = select(func.count()).select_from(Booking).where(Booking.status.in_(ACTIVE_BOOKING_STATUSES))
        if session_id is not None:
            query = query.where(Booking.session_id == session_id)
        if offer_id is not None:
            query = query.where(Booking.offer_id == offer_id)
        return s.exec(query).one()


def booking_row(reference: str) -> Booking:
    with read_session() as s:
        return s.exec(select(Booking).where(Booking.reference == reference)).one()


def set_hold_expiry(reference: str, when: datetime) -> None:
    with write_session() as s:
        row = s.exec(select(Booking).where(Booking.reference == reference)).one()
        row.hold_expires_at = when
        s.add(row)
