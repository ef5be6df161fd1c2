"""The instructor pages' states, driven as a browser would drive them (any handler, any arguments): a drop the
server refuses changes nothing and springs back with the reason; another organisation's ids are refused; only the
permitted may load the calendar; the instructor's own schedule and the workload report."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from atlas_app.db import read_session
from atlas_app.models import CourseSession
from atlas_app.models.instructors import SessionAssignment
from atlas_app.services.instructors import assignments as instructors
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.timeutil import at_london
from atlas_app.ui.staff.instructors import calendar as instructors_calendar, workload as instructors_reports
from atlas_app.ui.staff.instructors.calendar import PlanningState
from atlas_app.ui.staff.instructors.workload import MyScheduleState, WorkloadState
from booking_data import make_catalogue
from conftest import actor_for, all_rows, create_user
from state_support import at, drain, signed_in, substate
from instructor_data import add_session, make_car, make_instructor, make_practical, next_weekday
from test_instructors import cat  # noqa: F401  (a fixture)


def starts(session_id):
    with read_session() as s:
        return s.get(CourseSession, session_id).starts_at


@pytest.fixture
def planned(actor, cat):
    day = next_weekday()
    s1, s2 = add_session(cat, day, 9, 30), add_session(cat, day + timedelta(days=2), 9, 30)
    a = make_instructor(actor, cat, "Ann Able")
    instructors.assign(actor, s1, a, "classroom")
    instructors.assign(actor, s2, a, "classroom")
    return {"day": day, "s1": s1, "s2": s2, "a": a}


def calendar(monkeypatch, actor, day):
    signed_in(monkeypatch, actor, instructors_calendar)
    page = at(substate(PlanningState), f"http://atlas.test/instructors/calendar?day={day.isoformat()}")
    drain(page.load())
    return page


def test_a_clashing_drop_is_refused_with_the_reason_and_springs_back(monkeypatch, actor, planned):
    page = calendar(monkeypatch, actor, planned["day"])
    before_events = list(page.events)
    revision = page.revision
    target = at_london(planned["day"], time(10, 0)).isoformat()
    drain(page.drop({"id": f"s{planned['s2']}", "start": target, "end": target, "resourceId": ""}))
    assert page.error.startswith("Not moved.") and f"session #{planned['s1']}" in page.error
    assert page.revision == revision + 1  # the calendar redraws from the server's events
    assert page.events == before_events
    assert starts(planned["s2"]) == at_london(planned["day"] + timedelta(days=2), time(9, 30))


def test_a_drop_the_server_accepts_is_saved(monkeypatch, actor, planned):
    page = calendar(monkeypatch, actor, planned["day"])
    target = at_london(planned["day"] + timedelta(days=3), time(9, 30))
    drain(page.drop({"id": f"s{planned['s2']}", "start": target.isoformat(), "end": "", "resourceId": ""}))
    assert page.error == "" and f"Session #{planned['s2']} moved" in page.notice
    assert starts(planned["s2"]) == target
    moved = next(e for e in page.events if e["id"] == f"s{planned['s2']}")
    assert moved["start"] == target.isoformat()


def test_another_organisations_ids_are_refused(monkeypatch, actor, other_actor, other_org, planned):
    page = calendar(monkeypatch, other_actor, planned["day"])
    assert page.events == []
    target = (at_london(planned["day"] + timedelta(days=3), time(9, 30))).isoformat()
    drain(page.drop({"id": f"s{planned['s2']}", "start": target, "end": "", "resourceId": ""}))
    assert "No such session" in page.error
    drain(page.select_event(f"s{planned['s1']}"))
    assert page.detail == {} and "No such session" in page.panel_error
    # Their own session, our instructor: refused, nothing assigned.
    other_cat = make_catalogue(other_org.id, code="ESX")
    other_sid = add_session(other_cat, planned["day"] + timedelta(days=1))
    page.session_id = other_sid
    drain(page.assign({"instructor_id": str(planned["a"]), "role": "classroom"}))
    assert "No such instructor" in page.panel_error
    assert all_rows(SessionAssignment, SessionAssignment.session_id == other_sid) == []
    drain(page.confirm(str(all_rows(SessionAssignment)[0].id)))
    assert "No such assignment" in page.panel_error


def test_without_the_permission_the_calendar_does_not_load(monkeypatch, org, planned):
    teacher = actor_for(create_user(org, "hbc.teacher", roles=("Instructor",)))
    signed_in(monkeypatch, teacher, instructors_calendar)
    page = at(substate(PlanningState), "http://atlas.test/instructors/calendar")
    with pytest.raises(PermissionDenied):
        drain(page.load())
    with pytest.raises(PermissionDenied):
        drain(page.drop({"id": f"s{planned['s1']}", "start": "2030-01-01T09:00:00+00:00"}))
    assert page.events == []


def test_instructor_schedule_and_workload_pages(monkeypatch, actor, org, cat, planned):
    user = create_user(org, "hbc.teacher", roles=("Instructor",))
    instructors.save_instructor(actor, planned["a"], {"full_name": "Ann Able", "email": "ann@example.org",
                                                      "roles": ["classroom"], "course_type_ids": [cat.course_type_id],
                                                      "user_id": user.id, "max_sessions_per_day": 3})
    signed_in(monkeypatch, actor_for(user), instructors_reports)
    mine = at(substate(MyScheduleState), "http://atlas.test/my-schedule")
    drain(mine.load())
    assert mine.instructor == "Ann Able" and len(mine.rows) == 2

    signed_in(monkeypatch, actor, instructors_reports)
    report = at(substate(WorkloadState), "http://atlas.test/instructors/workload")
    drain(report.load())
    day = planned["day"]
    drain(report.apply({"date_from": day.isoformat(), "date_to": (day + timedelta(days=6)).isoformat()}))
    assert report.error == ""
    assert report.rows == [{"id": str(planned["a"]), "instructor": "Ann Able", "role": "classroom",
                            "sessions": "2", "hours": "5.5"}]


def test_instructors_as_columns_drag_to_another_column_reassigns(monkeypatch, actor, cat, planned):
    b = make_instructor(actor, cat, "Bob Baker")
    unqualified = make_instructor(actor, cat, "Cat Other", course_type_ids=[cat.other_course_type_id])
    page = calendar(monkeypatch, actor, planned["day"])
    drain(page.apply_filters({"layout": "instructors", "view": "week", "day": planned["day"].isoformat()}))
    assert {r["title"] for r in page.resources} >= {"Ann Able", "Bob Baker"}
    event = next(e for e in page.events if e["resourceId"] == planned["a"])
    assignment_id = int(event["id"][1:])
    # To someone not qualified: refused, springs back, Ann keeps it.
    drain(page.drop({"id": event["id"], "start": event["start"], "end": event["end"],
                     "resourceId": str(unqualified)}))
    assert page.error.startswith("Not moved.") and "not qualified" in page.error
    assert all_rows(SessionAssignment, SessionAssignment.id == assignment_id)[0].status == "active"
    # To Bob: reassigned.
    drain(page.drop({"id": event["id"], "start": event["start"], "end": event["end"], "resourceId": str(b)}))
    assert page.error == "" and "reassigned" in page.notice
    assert all_rows(SessionAssignment, SessionAssignment.id == assignment_id)[0].status == "cancelled"
    assert any(e["resourceId"] == b for e in page.events)


def test_instructor_form_saves_checkboxes_and_refuses_another_organisations_course(monkeypatch, actor, other_actor,
                                                                                   cat):
    from atlas_app.ui.staff.instructors import people as instructors_people
    from atlas_app.ui.staff.instructors.people import InstructorsState

    signed_in(monkeypatch, actor, instructors_people)
    page = at(substate(InstructorsState), "http://atlas.test/instructors")
    drain(page.load())
    drain(page.save({"full_name": "Pat Practical", "email": "pat@example.org", "max_sessions_per_day": "3",
                     "is_active": "on", "role_practical": "on", "vehicle_manual": "on", "vehicle_automatic": "on",
                     f"ct_{cat.course_type_id}": "on", "day_1": "on", "day_3": "on"}))
    assert page.error == "" and page.notice == "Pat Practical saved."
    [view] = instructors.list_instructors(actor)
    assert (view.roles, view.vehicle_types, view.course_type_ids, view.working_days, view.max_sessions_per_day) == (
        ["practical"], ["automatic", "manual"], [cat.course_type_id], [1, 3], 3)
    assert page.rows[0]["name"] == "Pat Practical"

    signed_in(monkeypatch, other_actor, instructors_people)
    theirs = at(substate(InstructorsState), "http://atlas.test/instructors")
    drain(theirs.load())
    assert theirs.rows == []
    drain(theirs.edit(str(view.id)))
    assert theirs.editing["id"] == ""
    drain(theirs.save({"full_name": "Sneaky", "email": "s@example.org", "role_classroom": "on",
                       f"ct_{cat.course_type_id}": "on", "day_0": "on"}))
    assert "your own organisation" in theirs.error


def test_planning_panel_offers_free_cars_and_a_car_clash_is_refused(monkeypatch, actor, cat, planned):
    p, q = make_practical(actor, cat, "Pat Practical"), make_practical(actor, cat, "Quinn Practical")
    car, other_car = make_car(actor, "manual", "AB12 CDE"), make_car(actor, "manual", "XY34 ZZZ")
    make_car(actor, "automatic", "AU70 MAT")
    overlapping = add_session(cat, planned["day"], 10, 0)
    page = calendar(monkeypatch, actor, planned["day"])
    drain(page.select_event(f"s{planned['s1']}"))
    drain(page.set_assign_role("practical"))
    drain(page.set_assign_vehicle("manual"))
    assert [c["label"] for c in page.cars] == ["AB12 CDE", "XY34 ZZZ"]
    drain(page.assign({"instructor_id": str(p), "role": "practical", "vehicle_type": "manual",
                       "vehicle_id": str(car)}))
    assert page.panel_error == "" and any(a["vehicle"] == "Manual car AB12 CDE" for a in page.assignments)
    # The overlapping session: the car in use is no longer offered, and forcing it is refused naming the clash.
    drain(page.select_event(f"s{overlapping}"))
    drain(page.set_assign_role("practical"))
    assert [c["label"] for c in page.cars] == ["XY34 ZZZ"]
    drain(page.assign({"instructor_id": str(q), "role": "practical", "vehicle_type": "manual",
                       "vehicle_id": str(car)}))
    assert page.panel_error.startswith("Not assigned. Clash: Car AB12 CDE is already booked with Pat Practical")
    drain(page.assign({"instructor_id": str(q), "role": "practical", "vehicle_type": "manual",
                       "vehicle_id": str(other_car)}))
    assert page.panel_error == "" and [a["vehicle"] for a in page.assignments] == ["Manual car XY34 ZZZ"]


def test_cars_page_adds_changes_and_retires_a_car_for_its_own_organisation(monkeypatch, actor, other_actor, cat):
    from atlas_app.services.instructors import vehicles
    from atlas_app.ui.staff.instructors import cars as instructors_cars
    from atlas_app.ui.staff.instructors.cars import CarsState

    signed_in(monkeypatch, actor, instructors_cars)
    page = at(substate(CarsState), "http://atlas.test/instructors/cars")
    drain(page.load())
    drain(page.save({"registration": "ab12cde", "vehicle_type": "automatic", "home_venue_id": str(cat.venue_id),
                     "notes": "Dual controls"}))
    assert page.error == "" and page.notice == "Car AB12CDE saved."
    [row] = page.rows
    assert (row["type"], row["status"], row["notes"]) == ("Automatic car", "Active", "Dual controls")
    drain(page.edit(row["id"]))
    drain(page.save({"registration": "AB12 CDE", "vehicle_type": "manual", "notes": ""}))
    assert [(r["registration"], r["type"]) for r in page.rows] == [("AB12 CDE", "Manual car")]
    drain(page.set_active(row["id"], False))
    assert page.rows[0]["status"] == "Retired" and vehicles.list_vehicles(actor, include_retired=False) == []
    drain(page.save({"registration": "", "vehicle_type": "manual"}))
    assert "registration" in page.error

    signed_in(monkeypatch, other_actor, instructors_cars)
    theirs = at(substate(CarsState), "http://atlas.test/instructors/cars")
    drain(theirs.load())
    assert theirs.rows == []
    drain(theirs.set_active(row["id"], True))  # not one of theirs: nothing happens
    assert vehicles.list_vehicles(actor)[0].is_active is False
    theirs.editing = {**theirs.editing, "id": row["id"]}
    drain(theirs.save({"registration": "ZZ99 ZZZ", "vehicle_type": "manual"}))
    assert "No such training car" in theirs.error
