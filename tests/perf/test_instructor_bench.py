"""Instructor assignment and planning-calendar benchmark (``make bench``).

Builds a month of sessions (``BENCH_SESSIONS``, default 1,200) and 60 instructors, then measures:
* assignments per second through the service (each one checked for qualification, availability and clashes, with
  the database's overlap guard), and
* how long the planning calendar's data for a busy month takes to assemble (sessions with unfilled roles plus
  assignments), the query behind every calendar view.

Correctness is asserted (no instructor double-booked); the figures are printed for the README.
"""

from __future__ import annotations

import os
import time as clock
from datetime import time, timedelta

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import CourseSession, CourseType
from atlas_app.models.instructors import SessionAssignment
from atlas_app.services.instructors import assignments as instructors
from atlas_app.timeutil import at_london, london_date
from booking_data import make_catalogue
from conftest import DIALECT, actor_for
from sqlmodel import select

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "1200"))
INSTRUCTORS = 60


def test_assignments_and_calendar_month(org, admin):
    actor = actor_for(admin)
    cat = make_catalogue(org.id)
    with write_session() as s:
        ct = s.get(CourseType, cat.course_type_id)
        ct.instructor_roles = [{"role": "classroom", "clients_per_instructor": 12, "minimum": 1}]
        s.add(ct)
    first = london_date(utcnow()) + timedelta(days=7)
    slots = [time(8, 0), time(11, 0), time(14, 0), time(17, 0)]
    with write_session() as s:
        for i in range(SESSIONS):
            day = first + timedelta(days=(i // 40) % 30)
            start = at_london(day, slots[i % 4])
            s.add(CourseSession(organisation_id=org.id, course_type_id=cat.course_type_id, venue_id=cat.venue_id,
                                delivery_mode="classroom", starts_at=start, ends_at=start + timedelta(minutes=165),
                                capacity=24))
    people = [instructors.save_instructor(actor, None, {
        "full_name": f"Instructor {n:03d}", "email": f"i{n}@bench.example.org", "roles": ["classroom"],
        "course_type_ids": [cat.course_type_id], "working_days": [0, 1, 2, 3, 4, 5, 6], "max_sessions_per_day": 4,
    }) for n in range(INSTRUCTORS)]
    with read_session() as s:
        sessions = s.exec(select(CourseSession.id).where(CourseSession.organisation_id == org.id)
                          .order_by(CourseSession.starts_at)).all()

    attempts = ok = refused = 0
    started = clock.perf_counter()
    for i, sid in enumerate(sessions):
        for k in range(2):
            attempts += 1
            try:
                instructors.assign(actor, sid, people[(i * 2 + k) % INSTRUCTORS], "classroom")
                ok += 1
            except instructors.AssignmentClash:
                refused += 1
            except Exception:  # noqa: BLE001 - daily limit and the like; counted, not timed separately
                refused += 1
    elapsed = clock.perf_counter() - started
    print(f"\n[{DIALECT}] {attempts} assignment attempts ({ok} made, {refused} refused) in {elapsed:.1f} s: "
          f"{attempts / elapsed:.0f}/s")

    month_start = at_london(first, time(0, 0))
    started = clock.perf_counter()
    runs = 10
    for _ in range(runs):
        data = instructors.calendar_data(actor, month_start, month_start + timedelta(days=31))
    per = (clock.perf_counter() - started) / runs
    print(f"[{DIALECT}] calendar data for a month: {len(data['sessions'])} sessions, {len(data['assignments'])} "
          f"assignments in {per * 1000:.0f} ms")

    with read_session() as s:
        rows = s.exec(select(SessionAssignment.instructor_id, SessionAssignment.block_start,
                             SessionAssignment.block_end).where(SessionAssignment.status == "active")).all()
    by_instructor: dict[int, list] = {}
    for iid, a, b in rows:
        by_instructor.setdefault(iid, []).append((a, b))
    for spans in by_instructor.values():
        spans.sort()
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), "an instructor is double-booked"
    assert ok > 0 and len(rows) == ok
