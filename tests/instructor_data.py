"""Shared set-up for the instructor and training-car tests: a catalogue whose course needs classroom and practical
staff, sessions on a coming weekday, instructors and cars."""

from __future__ import annotations

from datetime import date, time, timedelta

from atlas_app.db import utcnow, write_session
from atlas_app.models import CourseSession, CourseType
from atlas_app.models.instructors import SessionAssignment
from atlas_app.services.instructors import assignments as instructors, vehicles
from atlas_app.timeutil import at_london, london_date
from booking_data import make_catalogue
from conftest import all_rows, set_columns


def instructor_catalogue(org):
    c = make_catalogue(org.id)
    set_columns(CourseType, CourseType.id == c.course_type_id,
                instructor_roles=[{"role": "classroom", "clients_per_instructor": 12, "minimum": 1},
                                  {"role": "practical", "clients_per_instructor": 2, "minimum": 0}])
    return c


def next_weekday(days_ahead: int = 7) -> date:
    d = london_date(utcnow()) + timedelta(days=days_ahead)
    while d.weekday() != 0:  # a Monday, so the next days are weekdays too
        d += timedelta(days=1)
    return d


def add_session(cat, day: date, hour: int = 9, minute: int = 30, minutes: int = 165, capacity: int = 24) -> int:
    start = at_london(day, time(hour, minute))
    with write_session() as s:
        row = CourseSession(organisation_id=cat.organisation_id, course_type_id=cat.course_type_id,
                            venue_id=cat.venue_id, delivery_mode="classroom", starts_at=start,
                            ends_at=start + timedelta(minutes=minutes), capacity=capacity)
        s.add(row)
        s.flush()
        return row.id


def make_instructor(actor, cat, name="Ian Walsh", email=None, **kw) -> int:
    data = {"full_name": name, "email": email or f"{name.split()[0].lower()}@example.org", "roles": ["classroom"],
            "course_type_ids": [cat.course_type_id], "working_days": [0, 1, 2, 3, 4], "max_sessions_per_day": 3}
    data.update(kw)
    return instructors.save_instructor(actor, None, data)


def make_practical(actor, cat, name: str, vehicle_types=("manual", "automatic"), **kw) -> int:
    return make_instructor(actor, cat, name, roles=["practical"], vehicle_types=list(vehicle_types), **kw)


_cars = iter(range(10, 100_000))


def make_car(actor, vehicle_type: str = "manual", registration: str | None = None, **kw) -> int:
    return vehicles.save_vehicle(actor, None, {"registration": registration or f"TC{next(_cars)} CAR",
                                               "vehicle_type": vehicle_type, **kw})


def active_for(instructor_id: int) -> list[SessionAssignment]:
    return all_rows(SessionAssignment, SessionAssignment.instructor_id == instructor_id,
                    SessionAssignment.status == "active")
