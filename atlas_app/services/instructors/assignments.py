"""Instructors, their assignments to sessions, the planning calendar's data, confirmations and the workload report.

Double booking is impossible: an assignment blocks the session's time plus the organisation's travel buffer. On
PostgreSQL the exclusion constraint ``ex_assignment_instructor_overlap`` rejects an overlapping active assignment
whatever the concurrency; on SQLite the overlap check runs inside the same ``BEGIN IMMEDIATE`` transaction as the
insert, and SQLite lets one writer in at a time. Either way the refusal names the assignment that clashes.

Training cars follow the same rule (``ex_assignment_vehicle_overlap``; the same checked transaction on SQLite), and
an instructor's daily limit is a database trigger (``tr_assignment_daily_limit``) whose refusal reads the same as
the service's own check. Vehicle records live in ``services/vehicles.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import CourseSession, CourseType, Region, User, Venue
from atlas_app.models.instructors import (
    INSTRUCTOR_ROLES,
    VEHICLE_TYPES,
    Instructor,
    InstructorLeave,
    InstructorSettings,
    SCHOOL_CAR_TYPES,
    SessionAssignment,
    TrainingVehicle,
)
from atlas_app.services.platform import audit, bounds, outbox, resources
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.owned import owned_row, save_owned
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings
from atlas_app.timeutil import LONDON, london_date

EXCLUSION_CONSTRAINT = "ex_assignment_instructor_overlap"
VEHICLE_CONSTRAINT = "ex_assignment_vehicle_overlap"
DAILY_LIMIT_TRIGGER = "tr_assignment_daily_limit"
# The text both databases' daily-limit triggers raise.
DAILY_LIMIT_MESSAGE = "instructor_daily_limit"
ROLE_LABELS = {"classroom": "Classroom trainer", "practical": "Practical instructor"}
VEHICLE_LABELS = {"manual": "Manual car", "automatic": "Automatic car", "client_own": "Client's own car", "": ""}
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class AssignmentClash(Conflict):
    """Refused because the instructor already holds an overlapping assignment; ``clash_id`` names it."""

    def __init__(self, message: str, clash_id: int | None = None) -> None:
        super().__init__(message)
        self.clash_id = clash_id


def _org(actor: Actor) -> int:
    return actor.require_org()


def _when(start: datetime, end: datetime) -> str:
    a, b = start.astimezone(LONDON), end.astimezone(LONDON)
    return f"{a:%a %d %b %Y} {a:%H:%M}–{b:%H:%M}"


# --- settings and instructor records ---------------------------------------------------------------------------


def travel_buffer(s: Session, org_id: int) -> timedelta:
    row = s.exec(select(InstructorSettings).where(InstructorSettings.organisation_id == org_id)).first()
    return timedelta(minutes=row.travel_buffer_minutes if row else 0)


def get_travel_buffer_minutes(actor: Actor) -> int:
    actor.require(Perm.INSTRUCTORS_MANAGE)
    with read_session() as s:
        return int(travel_buffer(s, _org(actor)).total_seconds() // 60)


def set_travel_buffer(actor: Actor, minutes: Any) -> None:
    """Set the organisation's travel buffer. Existing assignments keep their times until their session moves."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    try:
        value = int(str(minutes).strip())
    except (TypeError, ValueError):
        raise ValidationFailed("Give the travel buffer in whole minutes.", {"travel_buffer_minutes": "invalid"}) from None
    if not 0 <= value <= 480:
        raise ValidationFailed("The travel buffer must be between 0 and 480 minutes.",
                               {"travel_buffer_minutes": "range"})
    with write_session() as s:
        row = s.exec(select(InstructorSettings).where(InstructorSettings.organisation_id == org_id)).first()
        before = row.travel_buffer_minutes if row else 0
        if row is None:
            row = InstructorSettings(organisation_id=org_id)
        row.travel_buffer_minutes = value
        s.add(row)
        s.flush()
        audit.record(s, actor, "instructor_settings", row.id, "updated", before={"travel_buffer_minutes": before},
                     after={"travel_buffer_minutes": value})


@dataclass(frozen=True)
class InstructorView:
    id: int
    full_name: str
    email: str
    phone: str
    course_type_ids: list[int]
    course_codes: list[str]
    roles: list[str]
    vehicle_types: list[str]
    home_region_id: int | None
    home_region: str
    working_days: list[int]
    max_sessions_per_day: int
    is_active: bool
    user_id: int | None
    username: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _id_list(value: Any, name: str) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    try:
        return sorted({int(v) for v in value})
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(f"Unknown {name}.", {name: "invalid"}) from None


def _choice_list(value: Any, allowed: tuple[str, ...], name: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    out = sorted({str(v) for v in value})
    bad = [v for v in out if v not in allowed]
    if bad:
        raise ValidationFailed(f"Unknown {name}: {', '.join(bad)}.", {name: "invalid"})
    return out


def save_instructor(actor: Actor, instructor_id: int | None, data: dict[str, Any]) -> int:
    """Create or change an instructor record. Every id given is checked against the actor's organisation."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    full_name = str(data.get("full_name") or "").strip()
    if not full_name or len(full_name) > 150:
        raise ValidationFailed("Give the instructor's name (up to 150 characters).", {"full_name": "required"})
    email = str(data.get("email") or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ValidationFailed("Give a valid email address for confirmations.", {"email": "invalid"})
    phone = str(data.get("phone") or "").strip()[:30]
    roles = _choice_list(data.get("roles"), INSTRUCTOR_ROLES, "roles")
    if not roles:
        raise ValidationFailed("Choose at least one role.", {"roles": "required"})
    vehicles = _choice_list(data.get("vehicle_types"), VEHICLE_TYPES, "vehicle_types")
    if "practical" not in roles:
        vehicles = []
    days = _id_list(data.get("working_days", [0, 1, 2, 3, 4]), "working_days")
    if any(d < 0 or d > 6 for d in days) or not days:
        raise ValidationFailed("Choose the days the instructor works.", {"working_days": "invalid"})
    try:
        max_per_day = int(data.get("max_sessions_per_day") or 2)
    except (TypeError, ValueError):
        raise ValidationFailed("Give the most sessions a day as a number.", {"max_sessions_per_day": "invalid"}) from None
    if not 1 <= max_per_day <= 6:
        raise ValidationFailed("The most sessions a day must be between 1 and 6.", {"max_sessions_per_day": "range"})
    course_ids = sorted({bounds.query_id(i) for i in _id_list(data.get("course_type_ids"), "course_type_ids")})
    with write_session() as s:
        if course_ids:
            known = set(s.exec(select(CourseType.id).where(CourseType.organisation_id == org_id,
                                                           CourseType.id.in_(course_ids))).all())
            if known != set(course_ids):
                raise ValidationFailed("Choose course types of your own organisation.", {"course_type_ids": "unknown"})
        region_id = data.get("home_region_id")
        region_id = int(region_id) if str(region_id or "").isdigit() and int(region_id) else None
        if region_id and s.exec(select(Region.id).where(Region.id == region_id,
                                                        Region.organisation_id == org_id)).first() is None:
            raise ValidationFailed("Choose one of your regions.", {"home_region_id": "unknown"})
        user_id = data.get("user_id")
        user_id = int(user_id) if str(user_id or "").isdigit() and int(user_id) else None
        if user_id and s.exec(select(User.id).where(User.id == user_id, User.organisation_id == org_id)).first() is None:
            raise ValidationFailed("Link a user of your own organisation.", {"user_id": "unknown"})
        values = dict(full_name=full_name, email=email, phone=phone, roles=roles, vehicle_types=vehicles,
                      working_days=days, max_sessions_per_day=max_per_day, course_type_ids=course_ids,
                      home_region_id=region_id, user_id=user_id, is_active=bool(data.get("is_active", True)))
        clash = s.exec(select(Instructor.id).where(Instructor.organisation_id == org_id, Instructor.email == email,
                                                   Instructor.id != (instructor_id or 0))).first()
        if clash:
            raise ValidationFailed("Another instructor already has that email address.", {"email": "taken"})
        return save_owned(s, actor, Instructor, org_id, instructor_id, values, entity="instructor",
                          what="instructor")


def list_instructors(actor: Actor, include_inactive: bool = True) -> list[InstructorView]:
    if not (actor.can(Perm.INSTRUCTORS_MANAGE) or actor.can(Perm.BOOKINGS_VIEW) or actor.can(Perm.REPORTS_VIEW)):
        raise PermissionDenied()
    org_id = _org(actor)
    with read_session() as s:
        query = (select(Instructor, Region.name, User.username)
                 .outerjoin(Region, Region.id == Instructor.home_region_id)
                 .outerjoin(User, User.id == Instructor.user_id)
                 .where(Instructor.organisation_id == org_id))
        if not include_inactive:
            query = query.where(Instructor.is_active == True)  # noqa: E712
        rows = s.exec(query.order_by(Instructor.full_name)).all()
        codes = dict(s.exec(select(CourseType.id, CourseType.code).where(CourseType.organisation_id == org_id)).all())
        return [
            InstructorView(
                id=i.id, full_name=i.full_name, email=i.email, phone=i.phone, course_type_ids=list(i.course_type_ids),
                course_codes=[codes[c] for c in i.course_type_ids if c in codes], roles=list(i.roles),
                vehicle_types=list(i.vehicle_types), home_region_id=i.home_region_id, home_region=region or "",
                working_days=list(i.working_days), max_sessions_per_day=i.max_sessions_per_day,
                is_active=i.is_active, user_id=i.user_id, username=username or "",
            )
            for i, region, username in rows
        ]


def add_leave(actor: Actor, instructor_id: int, starts_at: datetime, ends_at: datetime, reason: str = "") -> int:
    """Record leave. Refused if the instructor is assigned to a session in that time (reassign it first)."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    if not isinstance(starts_at, datetime) or not isinstance(ends_at, datetime) or ends_at <= starts_at:
        raise ValidationFailed("The leave must end after it starts.", {"ends_at": "before start"})
    with write_session() as s:
        inst = _instructor_for(s, org_id, instructor_id)
        busy = s.exec(select(SessionAssignment, CourseSession)
                      .join(CourseSession, CourseSession.id == SessionAssignment.session_id)
                      .where(SessionAssignment.instructor_id == inst.id, SessionAssignment.status == "active",
                             CourseSession.starts_at < ends_at, CourseSession.ends_at > starts_at)).first()
        if busy:
            raise Conflict(f"{inst.full_name} is assigned to a session on {_when(busy[1].starts_at, busy[1].ends_at)}"
                           f" (assignment #{busy[0].id}); reassign it before recording leave.")
        row = InstructorLeave(organisation_id=org_id, instructor_id=inst.id, starts_at=starts_at, ends_at=ends_at,
                              reason=str(reason or "")[:200])
        s.add(row)
        s.flush()
        audit.record(s, actor, "instructor_leave", row.id, "created",
                     after={"instructor_id": inst.id, "starts_at": starts_at, "ends_at": ends_at})
        return row.id


# --- what a session needs ----------------------------------------------------------------------------------------


def roles_needed(course_type: CourseType, capacity: int) -> dict[str, int]:
    """How many of each role a session needs: at least the minimum, and one per ``clients_per_instructor`` seats."""
    need: dict[str, int] = {}
    for spec in course_type.instructor_roles or []:
        role = str(spec.get("role") or "")
        if role not in INSTRUCTOR_ROLES:
            continue
        per = int(spec.get("clients_per_instructor") or 0)
        count = max(int(spec.get("minimum") or 0), math.ceil(capacity / per) if per > 0 else 0)
        need[role] = need.get(role, 0) + count
    return need


def _active_counts(s: Session, session_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    if not session_ids:
        return out
    rows = s.exec(select(SessionAssignment.session_id, SessionAssignment.role, func.count())
                  .where(SessionAssignment.session_id.in_(session_ids), SessionAssignment.status == "active")
                  .group_by(SessionAssignment.session_id, SessionAssignment.role)).all()
    for sid, role, n in rows:
        out.setdefault(sid, {})[role] = int(n)
    return out


def unfilled(need: dict[str, int], have: dict[str, int]) -> dict[str, int]:
    return {r: n - have.get(r, 0) for r, n in need.items() if n - have.get(r, 0) > 0}


def unfilled_text(gaps: dict[str, int]) -> str:
    if not gaps:
        return "All roles filled"
    return ", ".join(f"{n} {r}" for r, n in sorted(gaps.items())) + " unfilled"


def session_for(s: Session, org_id: int, session_id: Any, lock: bool = False) -> CourseSession:
    sid = bounds.id_or_none(session_id)
    if sid is None:
        raise NotFound("No such session.")
    query = select(CourseSession).where(CourseSession.id == sid, CourseSession.organisation_id == org_id)
    if lock:
        query = query.with_for_update()
    row = s.exec(query).first()
    if row is None:
        raise NotFound("No such session.")
    return row


def _with_session_details(query):
    """``query`` over assignments, joined to each one's session, course type, venue (none when online) and training
    car (none when no school car is used)."""
    return (query.join(CourseSession, CourseSession.id == SessionAssignment.session_id)
            .join(CourseType, CourseType.id == CourseSession.course_type_id)
            .outerjoin(Venue, Venue.id == CourseSession.venue_id)
            .outerjoin(TrainingVehicle, TrainingVehicle.id == SessionAssignment.vehicle_id))


def describe_assignment(s: Session, assignment_id: int, by_vehicle: bool = False) -> str:
    row = s.exec(_with_session_details(select(SessionAssignment, CourseSession, CourseType.code, Venue.name,
                                              Instructor.full_name, TrainingVehicle.registration))
                 .join(Instructor, Instructor.id == SessionAssignment.instructor_id)
                 .where(SessionAssignment.id == assignment_id)).first()
    if row is None:
        return "another assignment"
    a, cs, code, venue, name, registration = row
    where = f"{code} at {venue or 'Online'} on {_when(cs.starts_at, cs.ends_at)} (assignment #{a.id}, session #{cs.id})"
    if by_vehicle:
        return f"car {registration} is already booked with {name} for {where}"
    return f"{name} is already teaching {where}"


ASSIGNMENT_BOOKINGS = resources.BookingSpec(
    model=SessionAssignment,
    overlaps=(resources.OverlapGuard("instructor_id", EXCLUSION_CONSTRAINT),
              resources.OverlapGuard("vehicle_id", VEHICLE_CONSTRAINT)),
    daily_limit=resources.DailyLimit(DAILY_LIMIT_TRIGGER, DAILY_LIMIT_MESSAGE, "instructor_id", "session_day",
                                     "instructor", "max_sessions_per_day"),
)


def find_clash(s: Session, instructor_id: int | None, block_start: datetime, block_end: datetime,
                exclude: tuple[int, ...] = (), *, vehicle_id: int | None = None) -> int | None:
    """The first active assignment overlapping the block, of the instructor or (given ``vehicle_id``) the car."""
    if vehicle_id is not None:
        return resources.find_overlap(s, SessionAssignment, "vehicle_id", vehicle_id, block_start, block_end, exclude)
    return resources.find_overlap(s, SessionAssignment, "instructor_id", instructor_id, block_start, block_end,
                                  exclude)


def _clash_error(s: Session, clash_id: int | None, buffer: timedelta, suffix: str = "",
                 by_vehicle: bool = False) -> AssignmentClash:
    if clash_id:
        text = describe_assignment(s, clash_id, by_vehicle)
    else:
        text = "the car is already booked then" if by_vehicle else "the instructor already has an overlapping assignment"
    if buffer:
        text += f", allowing {int(buffer.total_seconds() // 60)} minutes' travel"
    return AssignmentClash(f"Clash: {text[0].upper()}{text[1:]}.{suffix}", clash_id)


def _violated(exc: IntegrityError) -> str:
    """Which of the database's assignment guards refused a write ("" if none of them)."""
    return resources.violated(ASSIGNMENT_BOOKINGS, exc)


def _daily_limit_text(inst: Instructor) -> str:
    most = inst.max_sessions_per_day
    return f"{inst.full_name} already has {most} session{'' if most == 1 else 's'} that day (their most)."


def _availability_problem(s: Session, inst: Instructor, cs: CourseSession, exclude: tuple[int, ...] = ()) -> str:
    """Why the instructor cannot take this session apart from clashes (leave, working pattern, daily limit)."""
    if not inst.is_active:
        return f"{inst.full_name} is no longer active."
    day = london_date(cs.starts_at)
    if day.weekday() not in (inst.working_days or []):
        return f"{inst.full_name} does not work on {DAY_NAMES[day.weekday()]}s."
    leave = s.exec(select(InstructorLeave).where(InstructorLeave.instructor_id == inst.id,
                                                 InstructorLeave.starts_at < cs.ends_at,
                                                 InstructorLeave.ends_at > cs.starts_at)).first()
    if leave is not None:
        return f"{inst.full_name} is on leave then ({leave.reason or 'unavailable'})."
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=LONDON)
    query = (select(func.count()).select_from(SessionAssignment)
             .join(CourseSession, CourseSession.id == SessionAssignment.session_id)
             .where(SessionAssignment.instructor_id == inst.id, SessionAssignment.status == "active",
                    SessionAssignment.session_id != cs.id,
                    CourseSession.starts_at >= day_start, CourseSession.starts_at < day_start + timedelta(days=1)))
    if exclude:
        query = query.where(SessionAssignment.id.not_in(exclude))
    if int(s.exec(query).one()) >= inst.max_sessions_per_day:
        return _daily_limit_text(inst)
    return ""


def _qualification_problem(inst: Instructor, ct: CourseType, role: str, vehicle_type: str) -> str:
    if ct.id not in (inst.course_type_ids or []):
        return f"{inst.full_name} is not qualified to deliver {ct.code}."
    if role not in (inst.roles or []):
        return f"{inst.full_name} does not work as a {ROLE_LABELS.get(role, role).lower()}."
    if role == "practical" and vehicle_type and vehicle_type not in (inst.vehicle_types or []):
        return f"{inst.full_name} does not teach in a {VEHICLE_LABELS.get(vehicle_type, vehicle_type).lower()}."
    return ""


# --- session detail and eligible instructors ---------------------------------------------------------------------


def session_staffing(actor: Actor, session_id: int) -> dict[str, Any]:
    """One session with its assignments and what is still unfilled."""
    if not (actor.can(Perm.INSTRUCTORS_MANAGE) or actor.can(Perm.BOOKINGS_VIEW)):
        raise PermissionDenied()
    org_id = _org(actor)
    with read_session() as s:
        cs = session_for(s, org_id, session_id)
        ct = s.get(CourseType, cs.course_type_id)
        venue = s.get(Venue, cs.venue_id) if cs.venue_id else None
        rows = s.exec(select(SessionAssignment, Instructor.full_name, Instructor.email, TrainingVehicle.registration)
                      .join(Instructor, Instructor.id == SessionAssignment.instructor_id)
                      .outerjoin(TrainingVehicle, TrainingVehicle.id == SessionAssignment.vehicle_id)
                      .where(SessionAssignment.session_id == cs.id, SessionAssignment.status == "active")
                      .order_by(SessionAssignment.role, Instructor.full_name)).all()
        need = roles_needed(ct, cs.capacity)
        have: dict[str, int] = {}
        for a, _, _, _ in rows:
            have[a.role] = have.get(a.role, 0) + 1
        gaps = unfilled(need, have)
        return {
            "id": cs.id,
            "course": f"{ct.code}: {ct.name}",
            "course_code": ct.code,
            "venue": venue.name if venue else "Online",
            "when": _when(cs.starts_at, cs.ends_at),
            "starts_at": cs.starts_at,
            "ends_at": cs.ends_at,
            "status": cs.status,
            "seats": f"{cs.seats_taken} of {cs.capacity}",
            "needs": need,
            "unfilled": gaps,
            "unfilled_text": unfilled_text(gaps),
            "roles": sorted(need) or list(INSTRUCTOR_ROLES),
            "practical": "practical" in need,
            "assignments": [
                {"id": a.id, "instructor_id": a.instructor_id, "instructor": name, "email": email, "role": a.role,
                 "vehicle_type": a.vehicle_type, "vehicle_id": a.vehicle_id, "vehicle": registration or "",
                 "confirmation_sent_at": a.confirmation_sent_at, "confirmations_sent": a.confirmations_sent,
                 "sequence": a.sequence}
                for a, name, email, registration in rows
            ],
        }


def eligible_instructors(actor: Actor, session_id: int, role: str, vehicle_type: str = "") -> list[dict[str, Any]]:
    """Qualified, available instructors for a role on a session, the least recently assigned first."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    with read_session() as s:
        cs = session_for(s, org_id, session_id)
        ct = s.get(CourseType, cs.course_type_id)
        buffer = travel_buffer(s, org_id)
        already = set(s.exec(select(SessionAssignment.instructor_id).where(
            SessionAssignment.session_id == cs.id, SessionAssignment.status == "active")).all())
        candidates = s.exec(select(Instructor).where(Instructor.organisation_id == org_id,
                                                     Instructor.is_active == True)).all()  # noqa: E712
        out = []
        for inst in candidates:
            if inst.id in already or _qualification_problem(inst, ct, role, vehicle_type):
                continue
            if _availability_problem(s, inst, cs):
                continue
            if find_clash(s, inst.id, cs.starts_at, cs.ends_at + buffer):
                continue
            out.append({"id": inst.id, "name": inst.full_name, "last_assigned_at": inst.last_assigned_at})
        epoch = datetime.min.replace(tzinfo=LONDON)
        out.sort(key=lambda r: (r["last_assigned_at"] or epoch, r["name"]))
        return out


# --- assignment ----------------------------------------------------------------------------------------------------


def _write_assignment(s: Session, row: SessionAssignment, buffer: timedelta, suffix: str = "",
                      **changes: Any) -> None:
    """Insert an active assignment, or write its changed times, so that the database's guards decide: overlaps of
    the instructor or the car, and the instructor's daily limit (the shared engine, ``platform/resources.py``).
    A refusal names the clash. ``changes`` are new values for an existing row, applied inside the guarded write."""
    inst = s.get(Instructor, row.instructor_id)
    limit_text = _daily_limit_text(inst) + suffix
    resources.guarded_write(
        s, ASSIGNMENT_BOOKINGS, row,
        clash_error=lambda guard, clash: _clash_error(s, clash, buffer, suffix,
                                                      by_vehicle=guard.column == "vehicle_id"),
        limit_error=lambda: Conflict(limit_text), **changes)


def _vehicle_choice(role: str, vehicle_type: str, vehicle_id: Any) -> int | None:
    """The training car asked for: required for practical work in a manual or automatic car, refused otherwise."""
    value = str(vehicle_id or "").strip()
    if value and not (value.isdigit() and len(value) <= 12):
        raise ValidationFailed("Choose one of the training cars offered.", {"vehicle_id": "invalid"})
    chosen = int(value) if value else None
    if role == "practical" and vehicle_type in SCHOOL_CAR_TYPES:
        if chosen is None:
            raise ValidationFailed("Choose the training car for this practical session.", {"vehicle_id": "required"})
    elif chosen is not None:
        raise ValidationFailed("Only practical work in a manual or automatic school car takes a training car.",
                               {"vehicle_id": "unneeded"})
    return chosen


def _vehicle_for(s: Session, org_id: int, vehicle_id: int, vehicle_type: str) -> TrainingVehicle:
    """One of the organisation's active cars of the right type (checked in the SQL against the organisation)."""
    car = s.exec(select(TrainingVehicle).where(TrainingVehicle.id == vehicle_id,
                                               TrainingVehicle.organisation_id == org_id)).first()
    if car is None:
        raise NotFound("No such training car.")
    if not car.is_active:
        raise Conflict(f"Car {car.registration} is retired.")
    if car.vehicle_type != vehicle_type:
        raise ValidationFailed(f"Car {car.registration} is a {VEHICLE_LABELS[car.vehicle_type].lower()}, not a "
                               f"{VEHICLE_LABELS[vehicle_type].lower()}.", {"vehicle_id": "wrong type"})
    return car


def assign(actor: Actor, session_id: int, instructor_id: int, role: str, vehicle_type: str = "",
           vehicle_id: int | None = None) -> int:
    """Assign an instructor to a session in a role (and, for practical work, a vehicle type; in a manual or
    automatic school car, the training car too)."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    role = str(role or "")
    vehicle_type = str(vehicle_type or "")
    if role not in INSTRUCTOR_ROLES:
        raise ValidationFailed("Choose a role.", {"role": "invalid"})
    if vehicle_type not in VEHICLE_TYPES and vehicle_type != "":
        raise ValidationFailed("Choose a vehicle type.", {"vehicle_type": "invalid"})
    if role != "practical":
        vehicle_type = ""
    elif not vehicle_type:
        raise ValidationFailed("Choose the vehicle type for practical work.", {"vehicle_type": "required"})
    car_id = _vehicle_choice(role, vehicle_type, vehicle_id)
    with write_session() as s:
        cs = session_for(s, org_id, session_id)
        if cs.status != "scheduled":
            raise Conflict(f"The session is {cs.status}; only scheduled sessions take instructors.")
        inst = _instructor_for(s, org_id, instructor_id)
        ct = s.get(CourseType, cs.course_type_id)
        problem = _qualification_problem(inst, ct, role, vehicle_type)
        if problem:
            raise ValidationFailed(problem, {"instructor_id": "not qualified"})
        need = roles_needed(ct, cs.capacity)
        if role not in need:
            raise ValidationFailed(f"{ct.code} sessions do not need a {ROLE_LABELS[role].lower()}.", {"role": "unneeded"})
        have = _active_counts(s, [cs.id]).get(cs.id, {})
        if have.get(role, 0) >= need[role]:
            raise Conflict(f"All {need[role]} {role} places on this session are filled.")
        if car_id is not None:
            _vehicle_for(s, org_id, car_id, vehicle_type)
        row = _new_assignment(s, actor, cs, inst, role, vehicle_type, car_id)
        problem = _availability_problem(s, inst, cs, exclude=(row.id,))
        if problem:
            raise Conflict(problem)
        audit.record(s, actor, "session_assignment", row.id, "created",
                     after={"session_id": cs.id, "instructor_id": inst.id, "role": role, "vehicle_type": vehicle_type,
                            "vehicle_id": car_id})
        return row.id


def _instructor_for(s: Session, org_id: int, instructor_id: Any) -> Instructor:
    return owned_row(s, Instructor, org_id, instructor_id, "instructor")


def _new_assignment(s: Session, actor: Actor, cs: CourseSession, inst: Instructor, role: str,
                    vehicle_type: str, vehicle_id: int | None = None) -> SessionAssignment:
    """Write an active assignment blocking the session's time plus the travel buffer (the guards run in
    ``_write_assignment``) and mark the instructor as just assigned."""
    buffer = travel_buffer(s, cs.organisation_id)
    row = SessionAssignment(organisation_id=cs.organisation_id, session_id=cs.id, instructor_id=inst.id, role=role,
                            vehicle_type=vehicle_type, vehicle_id=vehicle_id, session_day=london_date(cs.starts_at),
                            block_start=cs.starts_at, block_end=cs.ends_at + buffer, assigned_by=actor.username)
    _write_assignment(s, row, buffer)
    s.exec(update(Instructor).where(Instructor.id == inst.id).values(last_assigned_at=utcnow()))
    return row


def _cancel(s: Session, a: SessionAssignment) -> None:
    """Cancel an assignment inside the caller's transaction; an instructor who had a confirmation is told."""
    a.status = "cancelled"
    a.cancelled_at = utcnow()
    s.add(a)
    s.flush()
    if a.confirmation_sent_at is not None:
        _send(s, a, "CANCEL")


def _assignment_for(s: Session, org_id: int, assignment_id: Any) -> SessionAssignment:
    return owned_row(s, SessionAssignment, org_id, assignment_id, "assignment")


def unassign(actor: Actor, assignment_id: int) -> None:
    """Cancel an assignment; if a confirmation was sent, the instructor gets a cancellation (METHOD:CANCEL)."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    with write_session() as s:
        a = _assignment_for(s, org_id, assignment_id)
        if a.status != "active":
            raise Conflict("That assignment is already cancelled.")
        _cancel(s, a)
        audit.record(s, actor, "session_assignment", a.id, "cancelled", before={"status": "active"},
                     after={"status": "cancelled"})


def reassign(actor: Actor, assignment_id: int, instructor_id: int) -> int:
    """Give an assignment to another instructor (a drag between instructor columns): the old one is cancelled and
    a new one made, with the same checks as a fresh assignment, in one transaction."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    with write_session() as s:
        a = _assignment_for(s, org_id, assignment_id)
        if a.status != "active":
            raise Conflict("That assignment is cancelled.")
        inst = _instructor_for(s, org_id, instructor_id)
        if a.instructor_id == inst.id:
            return a.id
        cs = session_for(s, org_id, a.session_id)
        ct = s.get(CourseType, cs.course_type_id)
        problem = _qualification_problem(inst, ct, a.role, a.vehicle_type) or _availability_problem(s, inst, cs)
        if problem:
            raise ValidationFailed(problem, {"instructor_id": "unavailable"})
        _cancel(s, a)
        row = _new_assignment(s, actor, cs, inst, a.role, a.vehicle_type, a.vehicle_id)
        audit.record(s, actor, "session_assignment", row.id, "reassigned",
                     before={"assignment_id": a.id, "instructor_id": a.instructor_id},
                     after={"instructor_id": inst.id})
        return row.id


def move_session(actor: Actor, session_id: int, new_start: datetime) -> dict[str, Any]:
    """Move a session in time (same length). Every assignment on it is re-checked — clashes (the database decides),
    leave, working pattern and daily limit — and the move is refused, changing nothing, if any fails. Instructors
    who had a confirmation get an update."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    actor.require(Perm.CATALOGUE_MANAGE)
    org_id = _org(actor)
    if not isinstance(new_start, datetime) or new_start.tzinfo is None:
        raise ValidationFailed("Give the new start time.", {"starts_at": "invalid"})
    new_start = new_start.replace(second=0, microsecond=0)
    if new_start < utcnow():
        raise ValidationFailed("A session cannot be moved into the past.", {"starts_at": "past"})
    with write_session() as s:
        cs = session_for(s, org_id, session_id, lock=True)
        if cs.status != "scheduled":
            raise Conflict(f"The session is {cs.status} and cannot be moved.")
        length = cs.ends_at - cs.starts_at
        before = {"starts_at": cs.starts_at, "ends_at": cs.ends_at}
        if new_start == cs.starts_at:
            return {"id": cs.id, "moved": False}
        from atlas_app.services.booking import bookings as booking_service

        previously = booking_service.session_texts(s, cs)
        cs.starts_at, cs.ends_at = new_start, new_start + length
        s.add(cs)
        s.flush()
        recheck_assignments(s, org_id, cs)
        told = booking_service.tell_booked_clients(s, cs, "session_moved", previously, actor=actor)
        audit.record(s, actor, "course_session", cs.id, "moved", before=before,
                     after={"starts_at": cs.starts_at, "ends_at": cs.ends_at, "clients_told": told})
        return {"id": cs.id, "moved": True, "when": _when(cs.starts_at, cs.ends_at)}


def recheck_assignments(s: Session, org_id: int, cs: CourseSession) -> None:
    """After a session's times change (inside the caller's transaction): move every active assignment's block and
    re-check it; raise (so the caller's transaction rolls back) on the first problem; send updates."""
    buffer = travel_buffer(s, org_id)
    rows = s.exec(select(SessionAssignment, Instructor)
                  .join(Instructor, Instructor.id == SessionAssignment.instructor_id)
                  .where(SessionAssignment.session_id == cs.id, SessionAssignment.status == "active")).all()
    for a, inst in rows:
        problem = _availability_problem(s, inst, cs, exclude=(a.id,))
        if problem:
            raise Conflict(f"{problem} The session was not moved.")
        _write_assignment(s, a, buffer, " The session was not moved.", block_start=cs.starts_at,
                          block_end=cs.ends_at + buffer, session_day=london_date(cs.starts_at))
    for a, _inst in rows:
        if a.confirmation_sent_at is not None:
            _send(s, a, "REQUEST")


def cancel_session_assignments(s: Session, cs: CourseSession) -> int:
    """When a session is cancelled (inside the caller's transaction): cancel its assignments, telling instructors
    who had a confirmation."""
    rows = s.exec(select(SessionAssignment).where(SessionAssignment.session_id == cs.id,
                                                  SessionAssignment.status == "active")).all()
    for a in rows:
        _cancel(s, a)
    return len(rows)


# --- confirmations -----------------------------------------------------------------------------------------------


def _ics(s: Session, a: SessionAssignment, method: str) -> tuple[bytes, str, str]:
    cs = s.get(CourseSession, a.session_id)
    ct = s.get(CourseType, cs.course_type_id)
    venue = s.get(Venue, cs.venue_id) if cs.venue_id else None
    inst = s.get(Instructor, a.instructor_id)
    host = get_settings().base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "atlas"
    cal = Calendar()
    cal.add("prodid", "-//Atlas//Instructor assignments//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    ev = Event()
    ev.add("uid", f"assignment-{a.id}@{host}")
    ev.add("sequence", a.sequence)
    ev.add("dtstamp", utcnow())
    ev.add("dtstart", cs.starts_at)
    ev.add("dtend", cs.ends_at)
    role = ROLE_LABELS.get(a.role, a.role)
    summary = f"{ct.code} {ct.name}: {role.lower()}"
    ev.add("summary", summary)
    location = ", ".join(p for p in [venue.name, venue.address_line1, venue.town, venue.postcode] if p) if venue \
        else (cs.online_link or "Online")
    ev.add("location", location)
    ev.add("description", f"{role}{_vehicle_text(s, a, ' (', ')')} for session #{cs.id}, {cs.seats_taken} of "
                          f"{cs.capacity} seats taken.")
    ev.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    attendee = vCalAddress(f"mailto:{inst.email}")
    attendee.params["cn"] = vText(inst.full_name)
    ev.add("attendee", attendee, encode=0)
    cal.add_component(ev)
    return cal.to_ical(), summary, location


def _vehicle_text(s: Session, a: SessionAssignment, before: str = "", after: str = "") -> str:
    """The vehicle of an assignment in words ("Manual car AB12 CDE"), or "" if it has none."""
    if not a.vehicle_type:
        return ""
    car = s.get(TrainingVehicle, a.vehicle_id) if a.vehicle_id else None
    return f"{before}{VEHICLE_LABELS[a.vehicle_type]}{' ' + car.registration if car else ''}{after}"


def _send(s: Session, a: SessionAssignment, method: str) -> None:
    """Queue a confirmation, update (raised SEQUENCE) or cancellation for one assignment."""
    first = a.confirmation_sent_at is None
    if not first:
        a.sequence += 1
    ics, summary, location = _ics(s, a, method)
    cs = s.get(CourseSession, a.session_id)
    inst = s.get(Instructor, a.instructor_id)
    when = _when(cs.starts_at, cs.ends_at)
    if method == "CANCEL":
        subject = f"Cancelled: {summary}, {when}"
        lead = "You are no longer needed for this session:"
    elif first:
        subject = f"Confirmed: {summary}, {when}"
        lead = "Please confirm you will teach this session:"
    else:
        subject = f"Changed: {summary}, {when}"
        lead = "This session has changed. The new details:"
    vehicle = _vehicle_text(s, a, "Vehicle: ", "\n")
    body = (f"Dear {inst.full_name},\n\n{lead}\n\n{summary}\n{when} (UK time)\n{location}\n{vehicle}\n"
            "The calendar attachment adds it to (or removes it from) your calendar.\n")
    outbox.queue(s, to=inst.email, subject=subject, body=body,
                 attachments=[("session.ics", "text/calendar", ics)], organisation_id=a.organisation_id,
                 related=("session_assignment", a.id))
    a.confirmation_sent_at = utcnow()
    a.confirmations_sent += 1
    s.add(a)
    s.flush()


def send_confirmation(actor: Actor, assignment_id: int) -> dict[str, Any]:
    """One click: email the instructor the assignment with an .ics attachment, and record that it was sent.
    Sent again, it goes out as an update with a higher SEQUENCE."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    with write_session() as s:
        a = _assignment_for(s, org_id, assignment_id)
        if a.status != "active":
            raise Conflict("That assignment is cancelled.")
        _send(s, a, "REQUEST")
        inst = s.get(Instructor, a.instructor_id)
        audit.record(s, actor, "session_assignment", a.id, "confirmation_sent",
                     after={"to": inst.email, "sequence": a.sequence})
        return {"to": inst.email, "sequence": a.sequence, "sent_at": a.confirmation_sent_at}


def send_session_confirmations(actor: Actor, session_id: int) -> int:
    """Confirm every assignment on a session that has not had a confirmation yet; returns how many were sent."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = _org(actor)
    with write_session() as s:
        cs = session_for(s, org_id, session_id)
        rows = s.exec(select(SessionAssignment).where(SessionAssignment.session_id == cs.id,
                                                      SessionAssignment.status == "active",
                                                      SessionAssignment.confirmation_sent_at.is_(None))).all()
        for a in rows:
            _send(s, a, "REQUEST")
        if rows:
            audit.record(s, actor, "course_session", cs.id, "confirmations_sent",
                         after={"assignments": [a.id for a in rows]})
        return len(rows)


# --- the calendar ----------------------------------------------------------------------------------------------


def calendar_data(actor: Actor, start: datetime, end: datetime, *, region_id: int | None = None,
                  venue_id: int | None = None, course_type_id: int | None = None, instructor_id: int | None = None,
                  limit: int = 1500) -> dict[str, Any]:
    """Sessions (with staffing) and assignments between two instants, for the planning calendar."""
    if not (actor.can(Perm.INSTRUCTORS_MANAGE) or actor.can(Perm.BOOKINGS_VIEW)):
        raise PermissionDenied()
    org_id = _org(actor)
    if end <= start or end - start > timedelta(days=62):
        raise ValidationFailed("Show at most two months at a time.")
    with read_session() as s:
        query = (select(CourseSession.id, CourseSession.course_type_id, CourseSession.starts_at, CourseSession.ends_at,
                        CourseSession.seats_taken, CourseSession.capacity, Venue.name)
                 .outerjoin(Venue, Venue.id == CourseSession.venue_id)
                 .where(CourseSession.organisation_id == org_id, CourseSession.starts_at < end,
                        CourseSession.ends_at > start, CourseSession.status != "cancelled"))
        if region_id:
            query = query.where(Venue.region_id == region_id)
        if venue_id:
            query = query.where(CourseSession.venue_id == venue_id)
        if course_type_id:
            query = query.where(CourseSession.course_type_id == course_type_id)
        if instructor_id:
            query = query.where(CourseSession.id.in_(
                select(SessionAssignment.session_id).where(SessionAssignment.instructor_id == instructor_id,
                                                           SessionAssignment.status == "active",
                                                           SessionAssignment.organisation_id == org_id)))
        rows = s.exec(query.order_by(CourseSession.starts_at, CourseSession.id).limit(limit)).all()
        ids = [r[0] for r in rows]
        counts = _active_counts(s, ids)
        types = {ct.id: ct for ct in s.exec(select(CourseType).where(CourseType.organisation_id == org_id)).all()}
        sessions = []
        for sid, ct_id, starts, ends, taken, capacity, venue in rows:
            ct = types[ct_id]
            gaps = unfilled(roles_needed(ct, capacity), counts.get(sid, {}))
            sessions.append({
                "id": sid, "course_code": ct.code, "venue": venue or "Online", "starts_at": starts,
                "ends_at": ends, "seats_taken": taken, "capacity": capacity,
                "unfilled": gaps, "unfilled_text": unfilled_text(gaps),
            })
        assignments = []
        if ids:
            aq = (select(SessionAssignment.id, SessionAssignment.session_id, SessionAssignment.instructor_id,
                         SessionAssignment.role, Instructor.full_name, TrainingVehicle.registration)
                  .join(Instructor, Instructor.id == SessionAssignment.instructor_id)
                  .outerjoin(TrainingVehicle, TrainingVehicle.id == SessionAssignment.vehicle_id)
                  .where(SessionAssignment.session_id.in_(ids), SessionAssignment.status == "active",
                         SessionAssignment.organisation_id == org_id))
            if instructor_id:
                aq = aq.where(SessionAssignment.instructor_id == instructor_id)
            assignments = [{"id": a, "session_id": sid, "instructor_id": iid, "role": role, "instructor": name,
                            "vehicle": registration or ""}
                           for a, sid, iid, role, name, registration in s.exec(aq).all()]
        return {"sessions": sessions, "assignments": assignments}


# --- an instructor's own schedule --------------------------------------------------------------------------------


def my_schedule(actor: Actor, start: datetime, end: datetime) -> dict[str, Any]:
    """The signed-in instructor's own assignments. Nothing of anyone else's is returned."""
    actor.require(Perm.OWN_SCHEDULE_VIEW)
    org_id = _org(actor)
    with read_session() as s:
        inst = s.exec(select(Instructor).where(Instructor.organisation_id == org_id,
                                               Instructor.user_id == actor.user_id)).first()
        if inst is None or actor.user_id is None:
            return {"instructor": "", "rows": []}
        rows = s.exec(_with_session_details(select(SessionAssignment, CourseSession, CourseType.code, CourseType.name,
                                                   Venue.name, TrainingVehicle.registration))
                      .where(SessionAssignment.instructor_id == inst.id, SessionAssignment.organisation_id == org_id,
                             SessionAssignment.status == "active", CourseSession.starts_at < end,
                             CourseSession.ends_at > start)
                      .order_by(CourseSession.starts_at)).all()
        return {
            "instructor": inst.full_name,
            "rows": [{"assignment_id": a.id, "session_id": cs.id, "when": _when(cs.starts_at, cs.ends_at),
                      "course": f"{code}: {name}", "venue": venue or "Online",
                      "role": ROLE_LABELS.get(a.role, a.role),
                      "vehicle": " ".join(p for p in (VEHICLE_LABELS.get(a.vehicle_type, ""), car or "") if p),
                      "confirmed": a.confirmation_sent_at is not None}
                     for a, cs, code, name, venue, car in rows],
        }


# --- workload report ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadRow:
    instructor_id: int
    instructor: str
    role: str
    sessions: int
    minutes: int

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hours"] = self.hours
        return out


def workload_report(actor: Actor, start: datetime | date, end: datetime | date, *, instructor_id: int | None = None,
                    role: str | None = None, include_idle: bool = True) -> list[WorkloadRow]:
    """Sessions and teaching hours per instructor and role for sessions starting in [start, end). Dates are taken
    as London days (``end`` exclusive). Instructors with no sessions appear with zeros when ``include_idle``."""
    if not (actor.can(Perm.REPORTS_VIEW) or actor.can(Perm.INSTRUCTORS_MANAGE)):
        raise PermissionDenied()
    org_id = _org(actor)
    if isinstance(start, date) and not isinstance(start, datetime):
        start = datetime.combine(start, datetime.min.time(), tzinfo=LONDON)
    if isinstance(end, date) and not isinstance(end, datetime):
        end = datetime.combine(end, datetime.min.time(), tzinfo=LONDON)
    if end <= start:
        raise ValidationFailed("The end of the period must be after its start.")
    with read_session() as s:
        query = (select(SessionAssignment.instructor_id, SessionAssignment.role, CourseSession.starts_at,
                        CourseSession.ends_at)
                 .join(CourseSession, CourseSession.id == SessionAssignment.session_id)
                 .where(SessionAssignment.organisation_id == org_id, SessionAssignment.status == "active",
                        CourseSession.status != "cancelled", CourseSession.starts_at >= start,
                        CourseSession.starts_at < end))
        if instructor_id:
            query = query.where(SessionAssignment.instructor_id == instructor_id)
        if role:
            query = query.where(SessionAssignment.role == role)
        totals: dict[tuple[int, str], list[int]] = {}
        for iid, r, a, b in s.exec(query).all():
            t = totals.setdefault((iid, r), [0, 0])
            t[0] += 1
            t[1] += int((b - a).total_seconds() // 60)
        iq = select(Instructor.id, Instructor.full_name, Instructor.roles).where(Instructor.organisation_id == org_id)
        if instructor_id:
            iq = iq.where(Instructor.id == instructor_id)
        names = {i: (n, r) for i, n, r in s.exec(iq).all()}
    rows = [WorkloadRow(iid, names.get(iid, ("?", []))[0], r, n, m) for (iid, r), (n, m) in totals.items()]
    if include_idle:
        seen = {iid for iid, _ in totals}
        for iid, (name, roles) in names.items():
            if iid not in seen:
                for r in roles or []:
                    if not role or r == role:
                        rows.append(WorkloadRow(iid, name, r, 0, 0))
    rows.sort(key=lambda w: (w.instructor, w.role))
    return rows
