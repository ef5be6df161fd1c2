"""Demo instructors for both demo organisations, with assignments over the coming weeks.

Deterministic and idempotent: run again, nothing is added twice. Assignments go through the same overlap check
as the app's (``find_clash``, for instructors and for training cars), so the demo data never double-books anyone
or any car. Each organisation gets a few training cars; practical work in a school car takes a free one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.models import CourseSession, CourseType, Region, User, Venue
from atlas_app.models.instructors import (
    SCHOOL_CAR_TYPES,
    Instructor,
    InstructorSettings,
    SessionAssignment,
    TrainingVehicle,
)
from atlas_app.services.instructors.assignments import find_clash, roles_needed
from atlas_app.timeutil import london_date
from atlas_app.services.platform import organisations

# name, email local part, roles, vehicles, course codes, working days, linked username
PEOPLE = {
    "hartlepool": [
        ("Ian Walsh", "ian.walsh", ["classroom"], [], ["NSAC", "NMAC", "WDU"], [0, 1, 2, 3, 4], "hbc.instructor"),
        ("Gemma Rowe", "gemma.rowe", ["classroom"], [], ["NSAC", "NMAC", "RIDE"], [0, 1, 2, 3, 4, 5], None),
        ("Dev Patel", "dev.patel", ["classroom", "practical"], ["manual", "automatic"], ["NSAC", "SCD", "ODA"],
         [1, 2, 3, 4], None),
        ("Nora Flynn", "nora.flynn", ["practical"], ["manual", "client_own"], ["SCD", "ODA"], [0, 1, 3, 4], None),
        ("Owen Price", "owen.price", ["classroom"], [], ["NSAC", "WDU"], [0, 2, 4, 5], None),
    ],
    "essex": [
        ("Laura Bennett", "laura.bennett", ["classroom"], [], ["NSAC", "NMAC", "WDU"], [0, 1, 2, 3, 4], None),
        ("Femi Adeyemi", "femi.adeyemi", ["classroom"], [], ["NSAC", "RIDE"], [0, 1, 2, 3, 4], None),
        ("Ruth Carter", "ruth.carter", ["classroom", "practical"], ["automatic"], ["NSAC", "SCD"], [1, 2, 3, 4, 5],
         None),
        ("Sam O'Brien", "sam.obrien", ["practical"], ["manual", "automatic"], ["SCD", "ODA"], [0, 1, 2, 3, 4], None),
    ],
}
PEOPLE["demo"] = [
    ("Dana Teach", "dana.teach", ["classroom"], [], ["NSAC", "NMAC", "WDU"], [0, 1, 2, 3, 4], "demo.instructor"),
    ("Morgan Drive", "morgan.drive", ["classroom", "practical"], ["manual", "automatic"], ["NSAC", "SCD", "ODA"],
     [0, 1, 2, 3, 4, 5], None),
    ("Alex Rivers", "alex.rivers", ["classroom"], [], ["NSAC", "WDU", "RIDE"], [0, 1, 2, 3, 4], None),
]
BUFFER_MINUTES = {"hartlepool": 30, "essex": 45, "demo": 30}
# registration, gearbox, notes (each based at the organisation's venues in turn)
CARS = {
    "hartlepool": [("HB71 RSC", "manual", "Dual controls"), ("HB72 RSC", "manual", "Dual controls"),
                   ("HB21 AUT", "automatic", "Dual controls; hand controls on request")],
    "essex": [("EX70 DRV", "manual", "Dual controls"), ("EX22 AUT", "automatic", "Dual controls"),
              ("EX23 AUT", "automatic", "Dual controls")],
    "demo": [("DE71 MAN", "manual", "Dual controls"), ("DE72 MAN", "manual", "Dual controls"),
             ("DE22 AUT", "automatic", "Dual controls")],
}


def _seed_cars(s, org_id: int, slug: str) -> list[TrainingVehicle]:
    cars = list(s.exec(select(TrainingVehicle).where(TrainingVehicle.organisation_id == org_id)
                       .order_by(TrainingVehicle.registration)).all())
    if cars:
        return cars
    venues = s.exec(select(Venue).where(Venue.organisation_id == org_id).order_by(Venue.id)).all()
    for i, (registration, gearbox, notes) in enumerate(CARS[slug]):
        venue = venues[i % len(venues)] if venues else None
        cars.append(TrainingVehicle(organisation_id=org_id, registration=registration, vehicle_type=gearbox,
                                    notes=notes, home_venue_id=venue.id if venue else None,
                                    home_region_id=venue.region_id if venue else None))
    s.add_all(cars)
    s.flush()
    return cars


def _free_car(s, cars: list[TrainingVehicle], gearbox: str, cs: CourseSession, buffer: timedelta) -> int | None:
    for car in cars:
        if car.vehicle_type == gearbox and not find_clash(s, None, cs.starts_at, cs.ends_at + buffer,
                                                           vehicle_id=car.id):
            return car.id
    return None


def seed(slugs: tuple[str, ...] | None = None) -> None:
    """``slugs``: only these organisations."""
    now = utcnow()
    with write_session() as s:
        for slug, people in PEOPLE.items():
            if slugs is not None and slug not in slugs:
                continue
            org = organisations.by_slug(s, slug)
            if org is None:
                continue
            cars = _seed_cars(s, org.id, slug)
            if s.exec(select(Instructor.id).where(Instructor.organisation_id == org.id)).first():
                continue
            s.add(InstructorSettings(organisation_id=org.id, travel_buffer_minutes=BUFFER_MINUTES[slug]))
            codes = dict(s.exec(select(CourseType.code, CourseType.id).where(CourseType.organisation_id == org.id)).all())
            region = s.exec(select(Region.id).where(Region.organisation_id == org.id).order_by(Region.sort_order)
                            ).first()
            made = []
            for name, local, roles, vehicles, course_codes, days, username in people:
                user_id = None
                if username:
                    user_id = s.exec(select(User.id).where(User.username == username)).first()
                inst = Instructor(organisation_id=org.id, user_id=user_id, full_name=name,
                                  email=f"{local}@{slug}.example.gov.uk", phone="07700 900123",
                                  course_type_ids=[codes[c] for c in course_codes if c in codes], roles=roles,
                                  vehicle_types=vehicles, home_region_id=region, working_days=days,
                                  max_sessions_per_day=2)
                s.add(inst)
                made.append(inst)
            s.flush()
            buffer = timedelta(minutes=BUFFER_MINUTES[slug])
            sessions = s.exec(select(CourseSession, CourseType)
                              .join(CourseType, CourseType.id == CourseSession.course_type_id)
                              .where(CourseSession.organisation_id == org.id, CourseSession.status == "scheduled",
                                     CourseSession.starts_at > now, CourseSession.starts_at < now + timedelta(days=21))
                              .order_by(CourseSession.starts_at)).all()
            per_day: dict[tuple[int, object], int] = {}
            for i, (cs, ct) in enumerate(sessions):
                if i % 3 == 2:  # leave some sessions unstaffed, to plan in the demo
                    continue
                need = roles_needed(ct, cs.capacity)
                for role, count in need.items():
                    count = min(count, 2 if role == "classroom" else 1)
                    for inst in made:
                        if count <= 0:
                            break
                        day = london_date(cs.starts_at)
                        if (role not in inst.roles or ct.id not in inst.course_type_ids
                                or day.weekday() not in inst.working_days
                                or per_day.get((inst.id, day), 0) >= inst.max_sessions_per_day):
                            continue
                        if find_clash(s, inst.id, cs.starts_at, cs.ends_at + buffer):
                            continue
                        vehicle = inst.vehicle_types[0] if role == "practical" else ""
                        car = _free_car(s, cars, vehicle, cs, buffer) if vehicle in SCHOOL_CAR_TYPES else None
                        if vehicle in SCHOOL_CAR_TYPES and car is None:
                            continue
                        s.add(SessionAssignment(organisation_id=org.id, session_id=cs.id, instructor_id=inst.id,
                                                role=role, vehicle_type=vehicle, vehicle_id=car, session_day=day,
                                                block_start=cs.starts_at, block_end=cs.ends_at + buffer,
                                                assigned_by="seed-demo"))
                        s.flush()
                        inst.last_assigned_at = now - timedelta(minutes=len(made) - made.index(inst))
                        per_day[(inst.id, day)] = per_day.get((inst.id, day), 0) + 1
                        count -= 1
