"""Instructors and the planning calendar in a real browser: staff assign two instructors to a session; a clashing
assignment made from a second screen is refused naming the clash; a session dragged to another day is saved (and
the confirmed instructor gets an update); a drag that would double-book springs back with the reason; the one-click
confirmation with its .ics reaches the SMTP server; an instructor sees only their own schedule; a practical session
is given a training car, and the same car for an overlapping session is refused naming the clash.

Data: a venue, a practical course type, four instructors, a training car and five sessions of this test's own,
written through the services into the server's database by a subprocess (``_setup``), some weeks ahead on a Monday.
"""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from playwright.sync_api import Page, expect

from support import login, wait_hydrated

ROOT = Path(__file__).resolve().parent.parent
DESKTOP = {"width": 1400, "height": 1000}

SETUP = r"""
import json, secrets
from datetime import time, timedelta
from sqlmodel import select
from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import CourseType, Organisation, User
from atlas_app.services.booking import catalogue
from atlas_app.services.instructors import assignments as instructors, vehicles
from atlas_app.services.platform.actor import system_actor
from atlas_app.timeutil import at_london, london_date

tag = secrets.token_hex(3)
with read_session() as s:
    org = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
    nsac = s.exec(select(CourseType).where(CourseType.organisation_id == org.id, CourseType.code == "NSAC")).one()
actor = system_actor(org.id, "e2e-setup")
venue = catalogue.save_venue(actor, None, {"name": f"E2E Planning Room {tag}", "address_line1": "1 Test Street",
                                           "town": "Hartlepool", "postcode": "TS24 8AY"})
monday = london_date(utcnow()) + timedelta(days=35)
while monday.weekday() != 0:
    monday += timedelta(days=1)
def session(day, hh, mm):
    return catalogue.save_session(actor, None, {"course_type_id": nsac.id, "venue_id": venue,
                                                "delivery_mode": "classroom", "starts_at": at_london(day, time(hh, mm)),
                                                "capacity": 24})
s1 = session(monday, 9, 30)
s2 = session(monday, 10, 0)
s3 = session(monday + timedelta(days=2), 9, 30)
people = []
for first in ("Avery", "Blake"):
    name = f"{first} Planner {tag}"
    mail = f"{first.lower()}.{tag}@e2e.example.org"
    iid = instructors.save_instructor(actor, None, {"full_name": name, "email": mail, "roles": ["classroom"],
                                                    "course_type_ids": [nsac.id], "working_days": [0, 1, 2, 3, 4],
                                                    "max_sessions_per_day": 2})
    people.append({"id": iid, "name": name, "email": mail})
a3 = instructors.assign(actor, s3, people[0]["id"], "classroom")
practical = catalogue.save_course_type(actor, None, {
    "code": f"P{tag}", "name": f"E2E practical {tag}", "delivery_modes": ["practical"], "default_capacity": 2,
    "fee_pence": 0, "instructor_roles": [{"role": "practical", "clients_per_instructor": 2, "minimum": 1}]})
def practical_session(hh, mm):
    return catalogue.save_session(actor, None, {"course_type_id": practical, "venue_id": venue,
                                                "delivery_mode": "practical", "capacity": 2,
                                                "starts_at": at_london(monday + timedelta(days=1), time(hh, mm))})
p1, p2 = practical_session(9, 30), practical_session(10, 0)
drivers = []
for first in ("Casey", "Drew"):
    name = f"{first} Driver {tag}"
    iid = instructors.save_instructor(actor, None, {"full_name": name, "email": f"{first.lower()}.{tag}@e2e.example.org",
                                                    "roles": ["practical"], "vehicle_types": ["manual"],
                                                    "course_type_ids": [practical], "working_days": [0, 1, 2, 3, 4],
                                                    "max_sessions_per_day": 2})
    drivers.append({"id": iid, "name": name})
car = f"E2E {tag[:4].upper()}"
vehicles.save_vehicle(actor, None, {"registration": car, "vehicle_type": "manual", "home_venue_id": venue})
print(json.dumps({"venue": venue, "monday": monday.isoformat(), "s1": s1, "s2": s2, "s3": s3, "a3": a3,
                  "people": people, "p1": p1, "p2": p2, "drivers": drivers, "car": car}))
"""


@pytest.fixture(scope="module")
def plan(atlas) -> dict:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "ATLAS_DATA_DIR": str(atlas.data_dir),
           "DATABASE_URL": atlas.database_url, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def open_calendar(page: Page, plan: dict, session_id: int | None = None, day: str | None = None) -> None:
    query = f"?venue={plan['venue']}&day={day or plan['monday']}"
    if session_id:
        query += f"&session={session_id}"
    page.goto(f"/instructors/calendar{query}")
    wait_hydrated(page)
    expect(page.locator(".rbc-time-view")).to_be_visible(timeout=30_000)


def assign(page: Page, name: str) -> None:
    select = page.locator("#assign-instructor")
    expect(select.locator("option", has_text=name)).to_have_count(1)
    value = select.locator("option", has_text=name).get_attribute("value")
    select.select_option(value)
    page.locator("#assign-submit").click()


def event_box(page: Page, session_id: int):
    return page.locator(".rbc-event", has=page.locator(f'[data-event-id="s{session_id}"]'))


def day_columns(page: Page):
    return page.locator(".rbc-time-content > .rbc-day-slot")


def column_of(page: Page, session_id: int) -> int:
    box = event_box(page, session_id).bounding_box()
    centre = box["x"] + box["width"] / 2
    cols = day_columns(page)
    for i in range(cols.count()):
        c = cols.nth(i).bounding_box()
        if c["x"] <= centre <= c["x"] + c["width"]:
            return i
    raise AssertionError("event outside every day column")


def drag_to_column(page: Page, session_id: int, column: int) -> None:
    source = event_box(page, session_id)
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    target = day_columns(page).nth(column).bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + 8
    x1 = target["x"] + target["width"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 5, y0 + 2, steps=3)
    page.mouse.move(x1, y0, steps=15)
    page.mouse.up()


def starts_at(db, session_id: int) -> datetime:
    value = db.one("SELECT starts_at FROM course_session WHERE id = :i", i=session_id)["starts_at"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def ics_of(raw: bytes) -> Calendar:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.iter_attachments()]
    assert parts[0].get_filename().endswith(".ics")
    return Calendar.from_ical(parts[0].get_payload(decode=True))


def test_assign_two_then_a_clash_from_a_second_screen_is_refused(new_context, plan, db):
    avery, blake = plan["people"]
    context = new_context(viewport=DESKTOP)
    first, second = context.new_page(), context.new_page()
    login(first, "hbc.booking", "booking123")
    # The second screen opens the overlapping session while Avery is still free.
    open_calendar(second, plan, plan["s2"])
    expect(second.locator("#assign-instructor option", has_text=avery["name"])).to_have_count(1)

    open_calendar(first, plan, plan["s1"])
    expect(first.locator("#session-unfilled")).to_contain_text("2 classroom unfilled")
    assign(first, avery["name"])
    expect(first.locator("#assignments")).to_contain_text(avery["name"])
    assign(first, blake["name"])
    expect(first.locator("#assignments")).to_contain_text(blake["name"])
    expect(first.locator("#session-unfilled")).to_have_text("All roles filled")
    expect(event_box(first, plan["s1"])).to_contain_text("All roles filled")

    # Now the stale second screen tries to give Avery the overlapping session.
    assign(second, avery["name"])
    alert = second.get_by_role("alert").filter(has_text="Clash")
    expect(alert).to_contain_text(f"{avery['name']} is already teaching NSAC")
    expect(alert).to_contain_text(f"session #{plan['s1']}")
    rows = db.all("SELECT session_id FROM session_assignment WHERE instructor_id = :i AND status = 'active'",
                  i=avery["id"])
    assert sorted(r["session_id"] for r in rows) == sorted([plan["s1"], plan["s3"]])
    # And a fresh look no longer offers Avery for it.
    open_calendar(second, plan, plan["s2"])
    expect(second.locator("#assign-instructor option", has_text=avery["name"])).to_have_count(0)
    expect(second.locator("#assign-instructor option", has_text=blake["name"])).to_have_count(0)


def choose_car(page: Page, car: str) -> None:
    page.locator("#assign-role").select_option("practical")
    page.locator("#assign-vehicle").select_option("manual")
    option = page.locator("#assign-car option", has_text=car)
    expect(option).to_have_count(1)
    page.locator("#assign-car").select_option(option.get_attribute("value"))


def test_a_car_is_assigned_and_the_same_car_for_an_overlapping_session_is_refused(new_context, plan, db):
    casey, drew = plan["drivers"]
    car = plan["car"]
    context = new_context(viewport=DESKTOP)
    first, second = context.new_page(), context.new_page()
    login(first, "hbc.booking", "booking123")
    day = plan["monday"]
    # The second screen picks the car for the overlapping session while it is still free.
    open_calendar(second, plan, plan["p2"], day=day)
    choose_car(second, car)
    open_calendar(first, plan, plan["p1"], day=day)
    choose_car(first, car)
    assign(first, casey["name"])
    expect(first.locator("#assignments")).to_contain_text(f"{casey['name']}")
    expect(first.locator("#assignments")).to_contain_text(f"Manual car {car}")

    # The stale second screen still has the car chosen; the server refuses it.
    assign(second, drew["name"])
    alert = second.get_by_role("alert").filter(has_text="Clash")
    expect(alert).to_contain_text(f"Car {car} is already booked with {casey['name']}")
    expect(alert).to_contain_text(f"session #{plan['p1']}")
    rows = db.all("SELECT session_id FROM session_assignment a JOIN training_vehicle v ON v.id = a.vehicle_id "
                  "WHERE v.registration = :r AND a.status = 'active'", r=car)
    assert [r["session_id"] for r in rows] == [plan["p1"]]
    # A fresh look no longer offers the car for the overlapping session.
    open_calendar(second, plan, plan["p2"], day=day)
    second.locator("#assign-role").select_option("practical")
    expect(second.locator("#assign-car")).to_be_visible()
    expect(second.locator("#assign-car option", has_text=car)).to_have_count(0)


def test_confirmation_email_with_ics_reaches_smtp(new_context, plan, db, mailbox):
    avery = plan["people"][0]
    page = new_context(viewport=DESKTOP).new_page()
    login(page, "hbc.booking", "booking123")
    open_calendar(page, plan, plan["s3"], day=plan["monday"])
    page.locator(f"#confirm-{plan['a3']}").click()
    expect(page.get_by_role("status").filter(has_text="Confirmation emailed")).to_contain_text(avery["email"])
    mail = mailbox.wait_for(avery["email"], "Confirmed")
    cal = ics_of(mail.raw)
    assert str(cal["METHOD"]) == "REQUEST"
    [event] = cal.walk("VEVENT")
    assert int(event["SEQUENCE"]) == 0 and "NSAC" in str(event["SUMMARY"])
    row = db.one("SELECT confirmation_sent_at, confirmations_sent FROM session_assignment WHERE id = :i",
                 i=plan["a3"])
    assert row["confirmation_sent_at"] is not None and row["confirmations_sent"] == 1
    expect(page.locator("#assignments")).to_contain_text("Sent")


def test_drag_saves_and_a_clashing_drag_springs_back(new_context, plan, db, mailbox):
    avery = plan["people"][0]
    page = new_context(viewport=DESKTOP).new_page()
    login(page, "hbc.booking", "booking123")
    open_calendar(page, plan)
    before = starts_at(db, plan["s3"])
    expect(event_box(page, plan["s3"])).to_be_visible()
    assert column_of(page, plan["s3"]) == 2  # Wednesday

    # Wednesday -> Thursday: nobody clashes, so it is saved.
    drag_to_column(page, plan["s3"], 3)
    expect(page.locator("#calendar-notice")).to_contain_text(f"Session #{plan['s3']} moved", timeout=15_000)
    moved = starts_at(db, plan["s3"])
    assert (moved - before).days == 1 and moved.time() == before.time()
    expect(event_box(page, plan["s3"]).locator("[data-pending='true']")).to_have_count(0)
    assert column_of(page, plan["s3"]) == 3
    # Avery had a confirmation for it, so the change goes out as an update.
    update = mailbox.wait_for(avery["email"], "Changed")
    [event] = ics_of(update.raw).walk("VEVENT")
    assert int(event["SEQUENCE"]) >= 1

    # Thursday -> Monday morning: Avery teaches the other session then, so the server refuses; it springs back.
    drag_to_column(page, plan["s3"], 0)
    alert = page.locator("#calendar-error")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("Not moved", timeout=15_000)
    expect(alert).to_contain_text(avery["name"])
    expect(alert).to_contain_text(f"session #{plan['s1']}")
    assert starts_at(db, plan["s3"]) == moved
    expect(event_box(page, plan["s3"]).locator("[data-pending='true']")).to_have_count(0)
    assert column_of(page, plan["s3"]) == 3


def test_instructor_sees_only_their_own_schedule(new_context, plan):
    page = new_context(viewport=DESKTOP).new_page()
    login(page, "hbc.instructor", "teach123")
    page.goto("/my-schedule")
    wait_hydrated(page)
    expect(page.locator("#schedule-for")).to_contain_text("Ian Walsh")
    expect(page.get_by_role("table")).not_to_contain_text(plan["people"][0]["name"])
    # The planning calendar is not theirs to open: the server refuses to load it.
    page.goto("/instructors/calendar")
    wait_hydrated(page)
    expect(page.get_by_text("You do not have permission")).to_be_visible()
    expect(page.locator(".rbc-event")).to_have_count(0)


# --- a phone, and axe-core ----------------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
AXE_OPTIONS = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                                     "best-practice"]}}


def serious(page: Page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_timeout(250)
    result = Axe().run(page, options=AXE_OPTIONS)
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:3]}"
            for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_instructor_pages_pass_axe_and_fit_a_phone(new_context, plan, viewport):
    page = new_context(viewport=viewport).new_page()
    found: dict[str, list[str]] = {}
    login(page, "hbc.booking", "booking123")
    open_calendar(page, plan, plan["s1"])
    expect(page.locator("#assign-submit")).to_be_visible()
    expect(event_box(page, plan["s1"])).to_be_attached()
    found["calendar week"] = serious(page)
    page.get_by_role("button", name="Month").click()
    expect(page.locator(".rbc-month-view")).to_be_visible()
    found["calendar month"] = serious(page)
    for path, ready in (("/instructors", "#i-save"), ("/instructors/cars", "#car-save"),
                        ("/instructors/workload", "#wl-total")):
        page.goto(path)
        wait_hydrated(page)
        expect(page.locator(ready)).to_be_visible()
        found[path] = serious(page)
        if viewport is PHONE:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, indent=1)
