"""Training cars as bookable resources and the instructor's daily limit kept by the database: the fleet's records,
picking a free car of the right type, car clashes refused naming the clash (threads and processes racing on SQLite
and PostgreSQL: exactly one wins), moves re-checking cars, the car on confirmations and schedules, and the daily
limit holding for writers that skip the service and under races (exactly the limit wins)."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy.exc import IntegrityError

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import CourseSession, EmailAttachment, EmailMessage, Region
from atlas_app.models.instructors import SessionAssignment, TrainingVehicle
from atlas_app.services.instructors import assignments as instructors, vehicles
from atlas_app.services.platform.audit import verify_trail
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.timeutil import at_london, london_date
from conftest import actor_for, all_rows, create_user, run_threads
from instructor_data import (
    active_for,
    add_session,
    instructor_catalogue,
    make_car,
    make_instructor,
    make_practical,
    next_weekday,
)
from resource_race_worker import run_race

THREADS = 16


@pytest.fixture
def cat(org):
    return instructor_catalogue(org)


def car_assignments(car_id: int) -> list[SessionAssignment]:
    return all_rows(SessionAssignment, SessionAssignment.vehicle_id == car_id, SessionAssignment.status == "active")


# --- the fleet ---------------------------------------------------------------------------------------------------


def test_fleet_records_are_validated_normalised_and_kept_per_organisation(actor, other_actor, cat):
    car = make_car(actor, "manual", " ab12   cde ", notes="Dual controls fitted")
    [view] = vehicles.list_vehicles(actor)
    assert (view.registration, view.vehicle_label, view.notes, view.is_active) == (
        "AB12 CDE", "Manual car", "Dual controls fitted", True)
    with pytest.raises(ValidationFailed, match="already in the fleet"):
        make_car(actor, "automatic", "ab12 cde")
    with pytest.raises(ValidationFailed, match="registration"):
        make_car(actor, "manual", "<script>")
    with pytest.raises(ValidationFailed, match="manual or automatic"):
        make_car(actor, "client_own")
    # Another organisation's ids are refused, whichever way they come in.
    with write_session() as s:
        other_region = Region(organisation_id=other_actor.organisation_id, name="Elsewhere")
        s.add(other_region)
        s.flush()
        other_region_id = other_region.id
    with pytest.raises(ValidationFailed, match="your regions"):
        make_car(actor, "manual", home_region_id=other_region_id)
    with pytest.raises(NotFound):
        vehicles.save_vehicle(other_actor, car, {"registration": "ZZ99 ZZZ", "vehicle_type": "manual"})
    with pytest.raises(NotFound):
        vehicles.set_vehicle_active(other_actor, car, False)
    assert vehicles.list_vehicles(other_actor) == []
    # Essex may use the same registration in its own fleet.
    make_car(other_actor, "manual", "AB12 CDE")


def test_only_free_cars_of_the_right_type_are_offered_and_needed(actor, cat):
    day = next_weekday()
    s1, s2 = add_session(cat, day, 9, 30), add_session(cat, day, 10, 0)
    manual, booked, automatic = make_car(actor, "manual", "MAN 1"), make_car(actor, "manual", "MAN 2"), \
        make_car(actor, "automatic", "AUTO 1")
    retired = make_car(actor, "manual", "OLD 1")
    vehicles.set_vehicle_active(actor, retired, False)
    p, q = make_practical(actor, cat, "Pat Practical"), make_practical(actor, cat, "Quinn Practical")
    instructors.assign(actor, s1, p, "practical", "manual", booked)
    offered = [c["registration"] for c in vehicles.eligible_vehicles(actor, s2, "manual")]
    assert offered == ["MAN 1"]
    assert [c["registration"] for c in vehicles.eligible_vehicles(actor, s2, "automatic")] == ["AUTO 1"]
    assert vehicles.eligible_vehicles(actor, s2, "client_own") == []
    with pytest.raises(ValidationFailed, match="training car"):
        instructors.assign(actor, s2, q, "practical", "manual")
    with pytest.raises(ValidationFailed, match="automatic car, not a manual car"):
        instructors.assign(actor, s2, q, "practical", "manual", automatic)
    with pytest.raises(Conflict, match="retired"):
        instructors.assign(actor, s2, q, "practical", "manual", retired)
    with pytest.raises(ValidationFailed, match="Only practical work"):
        instructors.assign(actor, s2, q, "practical", "client_own", manual)
    with pytest.raises(ValidationFailed, match="Only practical work"):
        instructors.assign(actor, s2, make_instructor(actor, cat), "classroom", "", manual)
    aid = instructors.assign(actor, s2, q, "practical", "manual", manual)
    staffing = instructors.session_staffing(actor, s2)
    assert [(a["instructor"], a["vehicle"]) for a in staffing["assignments"]] == [("Quinn Practical", "MAN 1")]
    assert all_rows(SessionAssignment, SessionAssignment.id == aid)[0].vehicle_id == manual
    # A client's own car needs no school car.
    instructors.assign(actor, s2, make_practical(actor, cat, "Rae Own", ("client_own",)), "practical", "client_own")


def test_a_car_in_use_is_refused_naming_the_clash_including_travel_buffer(actor, cat):
    day = next_weekday()
    first = add_session(cat, day, 9, 0, minutes=120)        # ends 11:00
    after = add_session(cat, day, 11, 20, minutes=60)       # 20 minutes later
    car = make_car(actor, "manual", "AB12 CDE")
    p, q = make_practical(actor, cat, "Pat Practical"), make_practical(actor, cat, "Quinn Practical")
    aid = instructors.assign(actor, first, p, "practical", "manual", car)
    with pytest.raises(instructors.AssignmentClash) as err:
        instructors.assign(actor, first, q, "practical", "manual", car)  # same session, same car
    assert err.value.clash_id == aid and "Car AB12 CDE is already booked with Pat Practical" in str(err.value)
    instructors.assign(actor, after, q, "practical", "manual", car)  # no buffer: 20 minutes apart is fine
    instructors.unassign(actor, active_for(q)[0].id)
    instructors.unassign(actor, aid)
    instructors.set_travel_buffer(actor, 30)
    aid = instructors.assign(actor, first, p, "practical", "manual", car)
    with pytest.raises(instructors.AssignmentClash, match="30 minutes' travel") as err:
        instructors.assign(actor, after, q, "practical", "manual", car)
    assert f"assignment #{aid}, session #{first}" in str(err.value)
    assert [r.id for r in car_assignments(car)] == [aid]


def test_database_itself_refuses_an_overlapping_car_on_postgresql(actor, cat, dialect):
    if dialect != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite relies on the service's checked transaction")
    day = next_weekday()
    s1, s2 = add_session(cat, day, 9, 30), add_session(cat, day, 10, 0)
    car = make_car(actor)
    instructors.assign(actor, s1, make_practical(actor, cat, "Pat Practical"), "practical", "manual", car)
    other = make_practical(actor, cat, "Quinn Practical")
    with read_session() as s:
        cs = s.get(CourseSession, s2)
    with pytest.raises(IntegrityError, match="ex_assignment_vehicle_overlap"):
        with write_session() as s:
            s.add(SessionAssignment(organisation_id=cat.organisation_id, session_id=s2, instructor_id=other,
                                    role="practical", vehicle_type="manual", vehicle_id=car,
                                    session_day=london_date(cs.starts_at), block_start=cs.starts_at,
                                    block_end=cs.ends_at))


def test_moving_a_session_rechecks_its_cars_and_reassigning_keeps_the_car(actor, cat):
    day = next_weekday()
    s1, s2 = add_session(cat, day, 9, 30), add_session(cat, day, 14, 0)
    car = make_car(actor, "manual", "AB12 CDE")
    p, q, r = (make_practical(actor, cat, n) for n in ("Pat Practical", "Quinn Practical", "Rae Practical"))
    on_s1 = instructors.assign(actor, s1, p, "practical", "manual", car)
    on_s2 = instructors.assign(actor, s2, q, "practical", "manual", car)
    with pytest.raises(instructors.AssignmentClash) as err:
        instructors.move_session(actor, s1, at_london(day, time(13, 0)))
    assert err.value.clash_id == on_s2 and "Car AB12 CDE" in str(err.value) and "not moved" in str(err.value)
    with read_session() as s:
        assert s.get(CourseSession, s1).starts_at == at_london(day, time(9, 30))
    moved = instructors.reassign(actor, on_s1, r)
    assert all_rows(SessionAssignment, SessionAssignment.id == moved)[0].vehicle_id == car
    with pytest.raises(Conflict, match="Not retired: car AB12 CDE is already booked"):
        vehicles.set_vehicle_active(actor, car, False)


def test_the_car_is_on_the_confirmation_ics_calendar_and_own_schedule(actor, cat, org):
    day = next_weekday()
    sid = add_session(cat, day)
    user = create_user(org, "hbc.driver", roles=("Instructor",))
    p = make_practical(actor, cat, "Pat Practical", email="pat@example.org", user_id=user.id)
    car = make_car(actor, "automatic", "AU70 MAT")
    aid = instructors.assign(actor, sid, p, "practical", "automatic", car)
    instructors.send_confirmation(actor, aid)
    [mail] = all_rows(EmailMessage, EmailMessage.to_address == "pat@example.org")
    assert "Vehicle: Automatic car AU70 MAT" in mail.body_text
    [att] = all_rows(EmailAttachment, EmailAttachment.email_id == mail.id)
    [ev] = Calendar.from_ical(att.content).walk("VEVENT")
    assert "Automatic car AU70 MAT" in str(ev["DESCRIPTION"])
    start = at_london(day, time(0, 0))
    data = instructors.calendar_data(actor, start, start + timedelta(days=1))
    assert [a["vehicle"] for a in data["assignments"]] == ["AU70 MAT"]
    rows = instructors.my_schedule(actor_for(user), utcnow(), utcnow() + timedelta(days=30))["rows"]
    assert [r["vehicle"] for r in rows] == ["Automatic car AU70 MAT"]


def test_without_the_permission_the_fleet_cannot_be_changed(cat, org, actor):
    car = make_car(actor)
    viewer = actor_for(create_user(org, "hbc.viewer", roles=("Instructor",)))
    with pytest.raises(PermissionDenied):
        vehicles.save_vehicle(viewer, None, {"registration": "AB12 CDE", "vehicle_type": "manual"})
    with pytest.raises(PermissionDenied):
        vehicles.set_vehicle_active(viewer, car, False)
    with pytest.raises(PermissionDenied):
        vehicles.list_vehicles(viewer)


# --- car races ---------------------------------------------------------------------------------------------------


def _car_race_setup(actor, cat, n: int):
    day = next_weekday()
    sessions = [add_session(cat, day, 9, (i % 6) * 10) for i in range(n)]
    people = [make_practical(actor, cat, f"Racer {i}", email=f"racer{i}@example.org") for i in range(n)]
    return sessions, people, make_car(actor, "manual", "RA11 CER")


def test_threads_assigning_one_car_to_overlapping_sessions_exactly_one_wins(actor, cat):
    sessions, people, car = _car_race_setup(actor, cat, THREADS)
    results = run_threads(THREADS, lambda i: instructors.assign(actor, sessions[i], people[i], "practical", "manual",
                                                                car))
    wins = [r for r in results if isinstance(r, int)]
    clashes = [r for r in results if isinstance(r, instructors.AssignmentClash)]
    assert len(wins) == 1 and len(clashes) == THREADS - 1, results
    assert {c.clash_id for c in clashes} == {wins[0]} and all("RA11 CER" in str(c) for c in clashes)
    assert [r.id for r in car_assignments(car)] == wins
    with read_session() as s:
        assert verify_trail(s).ok


def test_processes_assigning_one_car_to_overlapping_sessions_exactly_one_wins(actor, cat, org):
    processes, per = 4, 3
    sessions, people, car = _car_race_setup(actor, cat, processes * per)
    jobs = [{"session_id": sid, "instructor_id": iid, "role": "practical", "vehicle_type": "manual",
             "vehicle_id": car} for sid, iid in zip(sessions, people)]
    kinds, flat = run_race("instructor", org.id, jobs, processes)
    assert kinds == Counter({"ok": 1, "clash": processes * per - 1}), flat
    assert len(car_assignments(car)) == 1


# --- the daily limit, kept by the database ----------------------------------------------------------------------


def _same_day_sessions(cat, n: int) -> list[int]:
    """``n`` sessions on one day, an hour long and an hour apart (no overlaps, even with a buffer of 0)."""
    day = next_weekday()
    return [add_session(cat, day, 7 + i, 0, minutes=40) for i in range(n)]


def _raw_assignment(cat, session_id: int, instructor_id: int) -> SessionAssignment:
    with read_session() as s:
        cs = s.get(CourseSession, session_id)
    return SessionAssignment(organisation_id=cat.organisation_id, session_id=session_id, instructor_id=instructor_id,
                             role="classroom", session_day=london_date(cs.starts_at), block_start=cs.starts_at,
                             block_end=cs.ends_at)


def _raw_insert(cat, session_id: int, instructor_id: int) -> int:
    with write_session() as s:
        row = _raw_assignment(cat, session_id, instructor_id)
        s.add(row)
        s.flush()
        return row.id


def test_database_refuses_more_than_the_daily_limit_even_skipping_the_service(actor, cat):
    s1, s2, s3 = _same_day_sessions(cat, 3)
    a = make_instructor(actor, cat, max_sessions_per_day=2)
    _raw_insert(cat, s1, a)
    second = _raw_insert(cat, s2, a)
    with pytest.raises(IntegrityError, match="instructor_daily_limit"):
        _raw_insert(cat, s3, a)
    # Cancelling one frees the place; bringing it back when the day is full is refused again.
    with write_session() as s:
        s.get(SessionAssignment, second).status = "cancelled"
    third = _raw_insert(cat, s3, a)
    with pytest.raises(IntegrityError, match="instructor_daily_limit"):
        with write_session() as s:
            s.get(SessionAssignment, second).status = "active"
    # Through the service the refusal reads as the service's own check does.
    b = make_instructor(actor, cat, "Bea Busy", max_sessions_per_day=1)
    instructors.assign(actor, s1, b, "classroom")
    with pytest.raises(Conflict, match=r"Bea Busy already has 1 session that day \(their most\)"):
        instructors.assign(actor, s2, b, "classroom")
    assert len(active_for(b)) == 1


def test_moving_a_session_onto_a_full_day_is_refused_by_the_daily_limit(actor, cat):
    day = next_weekday()
    a = make_instructor(actor, cat, max_sessions_per_day=1)
    monday, tuesday = add_session(cat, day, 9, 0), add_session(cat, day + timedelta(days=1), 9, 0)
    instructors.assign(actor, monday, a, "classroom")
    instructors.assign(actor, tuesday, a, "classroom")
    with pytest.raises(Conflict, match="their most.*not moved"):
        instructors.move_session(actor, tuesday, at_london(day, time(15, 0)))
    assert {r.session_day for r in active_for(a)} == {day, day + timedelta(days=1)}


def test_threads_beyond_the_daily_limit_exactly_the_limit_wins(actor, cat):
    limit, n = 2, 6
    sessions = _same_day_sessions(cat, n)
    a = make_instructor(actor, cat, max_sessions_per_day=limit)
    results = run_threads(n, lambda i: instructors.assign(actor, sessions[i], a, "classroom"))
    wins = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, Conflict) and "their most" in str(r)]
    assert len(wins) == limit and len(refused) == n - limit, results
    assert len(active_for(a)) == limit


def test_raw_writers_racing_beyond_the_daily_limit_exactly_the_limit_wins(actor, cat):
    """No service check at all: only the database's trigger stands between the writers and the limit."""
    limit, n = 3, 10
    sessions = _same_day_sessions(cat, n)
    a = make_instructor(actor, cat, max_sessions_per_day=limit)
    results = run_threads(n, lambda i: _raw_insert(cat, sessions[i], a))
    wins = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, IntegrityError) and "instructor_daily_limit" in str(r)]
    assert len(wins) == limit and len(refused) == n - limit, results
    assert len(active_for(a)) == limit


def test_processes_beyond_the_daily_limit_exactly_the_limit_wins(actor, cat, org):
    limit, processes = 2, 4
    sessions = _same_day_sessions(cat, processes * 2)
    a = make_instructor(actor, cat, max_sessions_per_day=limit)
    kinds, flat = run_race("instructor", org.id, [{"session_id": sid, "instructor_id": a, "role": "classroom"}
                                    for sid in sessions], processes)
    assert kinds == Counter({"ok": limit, "refused": processes * 2 - limit}), flat
    assert all("their most" in o for o in flat if o.startswith("refused"))
    assert len(active_for(a)) == limit


def test_session_day_follows_the_london_date(actor, cat):
    day = next_weekday()
    late = add_session(cat, day, 23, 30, minutes=20)  # 23:30 London is still that day
    a = make_instructor(actor, cat)
    aid = instructors.assign(actor, late, a, "classroom")
    assert all_rows(SessionAssignment, SessionAssignment.id == aid)[0].session_day == day
    assert all_rows(TrainingVehicle) == []
