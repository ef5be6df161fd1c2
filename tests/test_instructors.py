"""Instructors and assignments: qualifications, availability, double booking made impossible (threads and
processes racing on SQLite and PostgreSQL), moving sessions, confirmations with .ics, own schedule, the workload
report, and tenancy/permission checks from the attacker's side."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy.exc import IntegrityError

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import CourseSession, EmailAttachment, EmailMessage
from atlas_app.models.instructors import SessionAssignment
from atlas_app.services.booking import catalogue
from atlas_app.services.instructors import assignments as instructors
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.audit import verify_trail
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.timeutil import at_london, london_date
from booking_data import make_catalogue
from conftest import actor_for, all_rows, create_user, run_threads
from instructor_data import active_for, add_session, instructor_catalogue, make_car, make_instructor, next_weekday

THREADS = 24


@pytest.fixture
def cat(org):
    return instructor_catalogue(org)


# --- the basics --------------------------------------------------------------------------------------------------


def test_session_needs_two_classroom_trainers_for_24_seats_and_shows_what_is_unfilled(actor, cat):
    sid = add_session(cat, next_weekday())
    a = make_instructor(actor, cat, "Ann Able")
    detail = instructors.session_staffing(actor, sid)
    assert detail["needs"] == {"classroom": 2, "practical": 12}
    instructors.assign(actor, sid, a, "classroom")
    detail = instructors.session_staffing(actor, sid)
    assert detail["unfilled"]["classroom"] == 1
    assert "1 classroom" in detail["unfilled_text"]
    assert [x["instructor"] for x in detail["assignments"]] == ["Ann Able"]


def test_only_qualified_available_instructors_are_offered_least_recently_assigned_first(actor, cat):
    day = next_weekday()
    sid, other = add_session(cat, day, 9), add_session(cat, day + timedelta(days=7), 9)
    a = make_instructor(actor, cat, "Ann Able")
    b = make_instructor(actor, cat, "Bob Baker")
    unqualified = make_instructor(actor, cat, "Cat Unqualified", course_type_ids=[cat.other_course_type_id])
    make_instructor(actor, cat, "Dan Practical", roles=["practical"], vehicle_types=["manual"])
    make_instructor(actor, cat, "Eve Weekend", working_days=[5, 6])
    on_leave = make_instructor(actor, cat, "Fay Leave")
    instructors.add_leave(actor, on_leave, at_london(day, __import__("datetime").time(0, 0)),
                          at_london(day + timedelta(days=1), __import__("datetime").time(0, 0)), "Holiday")
    names = [r["name"] for r in instructors.eligible_instructors(actor, sid, "classroom")]
    assert names == ["Ann Able", "Bob Baker"]
    instructors.assign(actor, other, a, "classroom")  # Ann was assigned most recently now
    names = [r["name"] for r in instructors.eligible_instructors(actor, sid, "classroom")]
    assert names == ["Bob Baker", "Ann Able"]
    assert [r["name"] for r in instructors.eligible_instructors(actor, sid, "practical", "manual")] == ["Dan Practical"]
    assert instructors.eligible_instructors(actor, sid, "practical", "automatic") == []
    with pytest.raises(ValidationFailed, match="not qualified"):
        instructors.assign(actor, sid, unqualified, "classroom")
    with pytest.raises(Conflict, match="on leave"):
        instructors.assign(actor, sid, on_leave, "classroom")
    instructors.assign(actor, sid, b, "classroom")


def test_practical_needs_a_vehicle_type_the_instructor_teaches_in(actor, cat):
    sid = add_session(cat, next_weekday())
    p = make_instructor(actor, cat, "Pat Practical", roles=["practical"], vehicle_types=["automatic"])
    with pytest.raises(ValidationFailed, match="vehicle type"):
        instructors.assign(actor, sid, p, "practical")
    with pytest.raises(ValidationFailed, match="manual car"):
        instructors.assign(actor, sid, p, "practical", "manual", make_car(actor, "manual"))
    aid = instructors.assign(actor, sid, p, "practical", "automatic", make_car(actor, "automatic"))
    assert all_rows(SessionAssignment, SessionAssignment.id == aid)[0].vehicle_type == "automatic"


def test_overlapping_assignment_is_refused_naming_the_clash(actor, cat):
    day = next_weekday()
    first = add_session(cat, day, 9, 30)
    overlapping = add_session(cat, day, 11, 0)
    a = make_instructor(actor, cat)
    aid = instructors.assign(actor, first, a, "classroom")
    with pytest.raises(instructors.AssignmentClash) as err:
        instructors.assign(actor, overlapping, a, "classroom")
    assert err.value.clash_id == aid
    assert f"assignment #{aid}" in str(err.value) and f"session #{first}" in str(err.value)
    assert len(active_for(a)) == 1


def test_travel_buffer_counts_as_busy(actor, cat):
    day = next_weekday()
    first = add_session(cat, day, 9, 0, minutes=120)  # ends 11:00
    after = add_session(cat, day, 11, 20, minutes=60)  # 20 minutes later
    a = make_instructor(actor, cat)
    instructors.set_travel_buffer(actor, 30)
    instructors.assign(actor, first, a, "classroom")
    with pytest.raises(instructors.AssignmentClash, match="30 minutes' travel"):
        instructors.assign(actor, after, a, "classroom")
    instructors.set_travel_buffer(actor, 15)
    b = make_instructor(actor, cat, "Bob Baker")
    instructors.assign(actor, first, b, "classroom")
    instructors.assign(actor, after, b, "classroom")  # 20 minutes is enough for a 15-minute buffer


def test_database_itself_refuses_overlap_on_postgresql(actor, cat, dialect):
    """The exclusion constraint holds even for a writer that skips the service."""
    if dialect != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite relies on the service's checked transaction")
    day = next_weekday()
    s1, s2 = add_session(cat, day, 9, 30), add_session(cat, day, 10, 0)
    a = make_instructor(actor, cat)
    instructors.assign(actor, s1, a, "classroom")
    with read_session() as s:
        cs = s.get(CourseSession, s2)
    with pytest.raises(IntegrityError, match="ex_assignment_instructor_overlap"):
        with write_session() as s:
            s.add(SessionAssignment(organisation_id=cat.organisation_id, session_id=s2, instructor_id=a,
                                    role="classroom", session_day=london_date(cs.starts_at),
                                    block_start=cs.starts_at, block_end=cs.ends_at))


def test_daily_limit_and_role_capacity(actor, cat):
    day = next_weekday()
    s1, s2 = add_session(cat, day, 8, 0, minutes=60), add_session(cat, day, 12, 0, minutes=60)
    a = make_instructor(actor, cat, max_sessions_per_day=1)
    instructors.assign(actor, s1, a, "classroom")
    with pytest.raises(Conflict, match="most"):
        instructors.assign(actor, s2, a, "classroom")
    b, c, d = (make_instructor(actor, cat, n) for n in ("Bob B", "Cal C", "Dee D"))
    instructors.assign(actor, s1, b, "classroom")
    with pytest.raises(Conflict, match="filled"):
        instructors.assign(actor, s1, c, "classroom")
    assert instructors.session_staffing(actor, s1)["unfilled"].get("classroom") is None
    del d


# --- races -------------------------------------------------------------------------------------------------------


def test_threads_assigning_one_instructor_to_overlapping_sessions_exactly_one_wins(actor, cat):
    day = next_weekday()
    sessions = [add_session(cat, day, 9, (i % 6) * 10) for i in range(THREADS)]
    a = make_instructor(actor, cat, max_sessions_per_day=6)
    results = run_threads(THREADS, lambda i: instructors.assign(actor, sessions[i], a, "classroom"))
    wins = [r for r in results if isinstance(r, int)]
    clashes = [r for r in results if isinstance(r, instructors.AssignmentClash)]
    assert len(wins) == 1, results
    assert len(clashes) == THREADS - 1, [r for r in results if not isinstance(r, (int, instructors.AssignmentClash))]
    assert {c.clash_id for c in clashes} == {wins[0]}
    assert [r.id for r in active_for(a)] == wins
    with read_session() as s:
        assert verify_trail(s).ok


def test_processes_assigning_one_instructor_to_overlapping_sessions_exactly_one_wins(actor, cat, org):
    from resource_race_worker import run_race

    processes, per = 5, 4
    day = next_weekday()
    sessions = [add_session(cat, day, 10, (i % 5) * 10) for i in range(processes * per)]
    a = make_instructor(actor, cat, max_sessions_per_day=6)
    kinds, flat = run_race("instructor", org.id, [{"session_id": sid, "instructor_id": a, "role": "classroom"} for sid in sessions],
                           processes)
    assert kinds == Counter({"ok": 1, "clash": processes * per - 1}), flat
    assert len(active_for(a)) == 1


# --- moving sessions ---------------------------------------------------------------------------------------------


def test_moving_a_session_rechecks_every_assignment(actor, cat):
    day = next_weekday()
    s1, s2 = add_session(cat, day, 9, 30), add_session(cat, day, 14, 0)
    a, b = make_instructor(actor, cat, "Ann Able"), make_instructor(actor, cat, "Bob Baker")
    instructors.assign(actor, s1, a, "classroom")
    instructors.assign(actor, s1, b, "classroom")
    clash = instructors.assign(actor, s2, b, "classroom")
    from datetime import time

    with pytest.raises(instructors.AssignmentClash) as err:
        instructors.move_session(actor, s1, at_london(day, time(13, 0)))
    assert err.value.clash_id == clash and "Bob Baker" in str(err.value) and "not moved" in str(err.value)
    with read_session() as s:
        assert s.get(CourseSession, s1).starts_at == at_london(day, time(9, 30))  # nothing changed
    moved = instructors.move_session(actor, s1, at_london(day + timedelta(days=1), time(9, 30)))
    assert moved["moved"]
    blocks = {r.instructor_id: r.block_start for r in all_rows(SessionAssignment, SessionAssignment.session_id == s1)}
    assert blocks == {a: at_london(day + timedelta(days=1), time(9, 30)), b: at_london(day + timedelta(days=1), time(9, 30))}


def test_catalogue_session_edit_also_rechecks_and_cancel_releases(actor, cat):
    from datetime import time

    day = next_weekday()
    s1, s2 = add_session(cat, day, 9, 30), add_session(cat, day, 14, 0)
    a = make_instructor(actor, cat)
    instructors.assign(actor, s1, a, "classroom")
    aid = instructors.assign(actor, s2, a, "classroom")
    instructors.send_confirmation(actor, aid)
    data = {"course_type_id": cat.course_type_id, "venue_id": cat.venue_id, "delivery_mode": "classroom",
            "starts_at": at_london(day, time(10, 0)), "capacity": 24}
    with pytest.raises(Conflict):
        catalogue.save_session(actor, s2, data)
    catalogue.save_session(actor, s2, {**data, "starts_at": at_london(day, time(14, 0)), "status": "cancelled"})
    row = all_rows(SessionAssignment, SessionAssignment.id == aid)[0]
    assert row.status == "cancelled"
    mails = all_rows(EmailMessage, EmailMessage.related_id == str(aid), order_by=EmailMessage.id)
    assert [m.subject.split(":")[0] for m in mails] == ["Confirmed", "Cancelled"]


# --- confirmations -----------------------------------------------------------------------------------------------


def _ics_of(message_id: int) -> Calendar:
    att = all_rows(EmailAttachment, EmailAttachment.email_id == message_id)
    assert len(att) == 1 and att[0].filename.endswith(".ics") and att[0].content_type == "text/calendar"
    return Calendar.from_ical(att[0].content)


def test_one_click_confirmation_sends_ics_and_records_it_then_updates_and_cancels(actor, cat):
    from datetime import time

    day = next_weekday()
    sid = add_session(cat, day, 9, 30)
    a = make_instructor(actor, cat, "Ann Able", email="ann@example.org")
    aid = instructors.assign(actor, sid, a, "classroom")
    sent = instructors.send_confirmation(actor, aid)
    assert sent["to"] == "ann@example.org"
    row = all_rows(SessionAssignment, SessionAssignment.id == aid)[0]
    assert row.confirmation_sent_at is not None and row.confirmations_sent == 1
    [mail] = all_rows(EmailMessage, EmailMessage.to_address == "ann@example.org")
    cal = _ics_of(mail.id)
    assert str(cal["METHOD"]) == "REQUEST"
    [ev] = cal.walk("VEVENT")
    assert int(ev["SEQUENCE"]) == 0 and ev.decoded("DTSTART") == at_london(day, time(9, 30))
    uid = str(ev["UID"])

    instructors.move_session(actor, sid, at_london(day, time(13, 0)))
    mails = all_rows(EmailMessage, EmailMessage.to_address == "ann@example.org", order_by=EmailMessage.id)
    assert mails[-1].subject.startswith("Changed")
    [ev] = _ics_of(mails[-1].id).walk("VEVENT")
    assert int(ev["SEQUENCE"]) == 1 and str(ev["UID"]) == uid and ev.decoded("DTSTART") == at_london(day, time(13, 0))

    instructors.unassign(actor, aid)
    mails = all_rows(EmailMessage, EmailMessage.to_address == "ann@example.org", order_by=EmailMessage.id)
    cal = _ics_of(mails[-1].id)
    assert str(cal["METHOD"]) == "CANCEL"
    [ev] = cal.walk("VEVENT")
    assert int(ev["SEQUENCE"]) == 2 and str(ev["UID"]) == uid and str(ev["STATUS"]) == "CANCELLED"


def test_unconfirmed_assignment_cancelled_sends_nothing(actor, cat):
    sid = add_session(cat, next_weekday())
    a = make_instructor(actor, cat, email="quiet@example.org")
    instructors.unassign(actor, instructors.assign(actor, sid, a, "classroom"))
    assert all_rows(EmailMessage, EmailMessage.to_address == "quiet@example.org") == []


# --- own schedule, workload --------------------------------------------------------------------------------------


def test_instructor_sees_only_their_own_schedule(actor, cat, org):
    day = next_weekday()
    sid = add_session(cat, day)
    user = create_user(org, "hbc.teacher", roles=("Instructor",))
    mine = make_instructor(actor, cat, "Ian Walsh", user_id=user.id)
    theirs = make_instructor(actor, cat, "Other Person")
    instructors.assign(actor, sid, mine, "classroom")
    instructors.assign(actor, sid, theirs, "classroom")
    teacher = actor_for(user)
    got = instructors.my_schedule(teacher, utcnow(), utcnow() + timedelta(days=30))
    assert got["instructor"] == "Ian Walsh" and len(got["rows"]) == 1
    assert "Other Person" not in repr(got)
    for call in (lambda: instructors.calendar_data(teacher, utcnow(), utcnow() + timedelta(days=7)),
                 lambda: instructors.session_staffing(teacher, sid),
                 lambda: instructors.assign(teacher, sid, mine, "classroom"),
                 lambda: instructors.workload_report(teacher, day, day + timedelta(days=1))):
        with pytest.raises(PermissionDenied):
            call()


def test_workload_report_counts_sessions_and_hours_by_role(actor, cat):
    day = next_weekday()
    s1 = add_session(cat, day, 9, 0, minutes=180)
    s2 = add_session(cat, day + timedelta(days=1), 9, 0, minutes=90)
    a = make_instructor(actor, cat, "Ann Able", roles=["classroom", "practical"], vehicle_types=["manual"])
    b = make_instructor(actor, cat, "Bob Baker")
    instructors.assign(actor, s1, a, "classroom")
    instructors.assign(actor, s2, a, "practical", "manual", make_car(actor))
    instructors.assign(actor, s2, b, "classroom")
    rows = instructors.workload_report(actor, day, day + timedelta(days=2))
    got = {(r.instructor, r.role): (r.sessions, r.hours) for r in rows}
    assert got == {("Ann Able", "classroom"): (1, 3.0), ("Ann Able", "practical"): (1, 1.5),
                   ("Bob Baker", "classroom"): (1, 1.5)}
    only_first_day = instructors.workload_report(actor, day, day + timedelta(days=1), include_idle=False)
    assert [(r.instructor, r.sessions) for r in only_first_day] == [("Ann Able", 1)]


def test_calendar_data_shows_unfilled_and_filters_by_instructor(actor, cat):
    day = next_weekday()
    s1, s2 = add_session(cat, day, 9), add_session(cat, day, 14)
    a = make_instructor(actor, cat)
    instructors.assign(actor, s1, a, "classroom")
    start = at_london(day, __import__("datetime").time(0, 0))
    data = instructors.calendar_data(actor, start, start + timedelta(days=1))
    by_id = {x["id"]: x for x in data["sessions"]}
    assert by_id[s1]["unfilled"]["classroom"] == 1 and by_id[s2]["unfilled"]["classroom"] == 2
    only = instructors.calendar_data(actor, start, start + timedelta(days=1), instructor_id=a)
    assert [x["id"] for x in only["sessions"]] == [s1] and only["assignments"][0]["instructor_id"] == a


# --- tenancy and permissions -----------------------------------------------------------------------------------


def test_another_organisation_cannot_touch_our_instructors_or_sessions(actor, other_actor, cat, other_org):
    sid = add_session(cat, next_weekday())
    a = make_instructor(actor, cat)
    aid = instructors.assign(actor, sid, a, "classroom")
    with pytest.raises(NotFound):
        instructors.session_staffing(other_actor, sid)
    with pytest.raises(NotFound):
        instructors.assign(other_actor, sid, a, "classroom")
    with pytest.raises(NotFound):
        instructors.send_confirmation(other_actor, aid)
    with pytest.raises(NotFound):
        instructors.unassign(other_actor, aid)
    with pytest.raises(NotFound):
        instructors.move_session(other_actor, sid, utcnow() + timedelta(days=20))
    with pytest.raises(NotFound):
        instructors.save_instructor(other_actor, a, {"full_name": "X", "email": "x@example.org",
                                                     "roles": ["classroom"]})
    # Their own session with our instructor's id: not theirs to use.
    other_cat = make_catalogue(other_org.id, code="ESX")
    other_sid = add_session(other_cat, next_weekday())
    with pytest.raises(NotFound):
        instructors.assign(other_actor, other_sid, a, "classroom")
    with pytest.raises(ValidationFailed):
        instructors.save_instructor(other_actor, None, {"full_name": "X", "email": "x@example.org",
                                                        "roles": ["classroom"],
                                                        "course_type_ids": [cat.course_type_id]})
    assert instructors.list_instructors(other_actor) == []
    assert instructors.workload_report(other_actor, date.today(), date.today() + timedelta(days=60)) == []


def test_without_the_permission_nothing_changes(cat, org):
    sid = add_session(cat, next_weekday())
    viewer = Actor(user_id=None, username="viewer", organisation_id=org.id, permissions=frozenset({"bookings.view"}))
    with pytest.raises(PermissionDenied):
        instructors.save_instructor(viewer, None, {"full_name": "X", "email": "x@example.org", "roles": ["classroom"]})
    with pytest.raises(PermissionDenied):
        instructors.assign(viewer, sid, 1, "classroom")
    with pytest.raises(PermissionDenied):
        instructors.move_session(viewer, sid, utcnow() + timedelta(days=20))
    assert instructors.session_staffing(viewer, sid)["id"] == sid  # may look
