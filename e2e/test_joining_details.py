"""An online course's joining details on Manage your booking, in a real browser: hidden before the organisation's
window opens (the page says when they will appear), shown inside it, and never to a client booked on another
session."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlmodel import Session, select
from support import wait_hydrated

from atlas_app.db import utcnow
from atlas_app.models import (
    Booking,
    BookingTerms,
    Client,
    CourseSession,
    CourseType,
    Offer,
    Organisation,
    Venue,
)
from atlas_app.timeutil import london_date

PHONE = {"width": 390, "height": 844}
LINK = "https://meet.example.org/j/e2e-joining"


def _org_with_online_sessions(writer, hours_ahead: tuple[float, float]) -> tuple[int, list[tuple[str, date]]]:
    """An organisation of its own with two online sessions and a confirmed booking on each; returns the
    organisation id and each booking's (reference, client's date of birth)."""
    tag = secrets.token_hex(3)
    now = utcnow().replace(microsecond=0)
    today = london_date(now)
    out = []
    with Session(writer, expire_on_commit=False) as s:
        org = Organisation(slug=f"e2e-join-{tag}", name=f"Joining Council {tag}")
        s.add(org)
        s.flush()
        s.add(BookingTerms(organisation_id=org.id, joining_details_hours=24))
        ct = CourseType(organisation_id=org.id, code="NSAC", name="National Speed Awareness Course", fee_pence=0,
                        delivery_modes=["online"], default_capacity=8, what_to_bring="Your photocard licence")
        venue = Venue(organisation_id=org.id, name="Online (video call)", is_online=True)
        s.add_all([ct, venue])
        s.flush()
        for i, hours in enumerate(hours_ahead):
            start = now + timedelta(hours=hours)
            session = CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venue.id,
                                    delivery_mode="online", starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=8, seats_taken=1, online_link=LINK if i == 0 else "",
                                    meeting_id="123 456" if i == 0 else "", meeting_passcode="safe" if i == 0 else "")
            s.add(session)
            s.flush()
            dob = date(1970 + i, 5, 17)
            client = Client(organisation_id=org.id, first_name="Join", last_name=f"Client{i} {tag}",
                            date_of_birth=dob, postcode="TS24 7QS", email=f"join-{tag}-{i}@example.com")
            s.add(client)
            s.flush()
            offer = Offer(organisation_id=org.id, offer_reference=f"JOIN-{tag}-{i}".upper(), client_id=client.id,
                          course_type_id=ct.id, offence_date=today - timedelta(days=30),
                          critical_date=today + timedelta(days=60), police_force="Test Police", status="booked")
            s.add(offer)
            s.flush()
            reference = f"J{tag}{i}".upper()
            s.add(Booking(organisation_id=org.id, reference=reference, offer_id=offer.id, session_id=session.id,
                          status="confirmed", channel="online", fee_pence=0))
            out.append((reference, dob))
        s.commit()
        return org.id, out


def _find(page: Page, reference: str, dob: date) -> None:
    page.goto("/booking/manage")
    wait_hydrated(page)
    page.fill("#f-reference", reference)
    page.fill("#f-dob-day", str(dob.day))
    page.fill("#f-dob-month", str(dob.month))
    page.fill("#f-dob-year", str(dob.year))
    page.fill("#f-postcode", "TS24 7QS")
    page.click("#find-booking")
    expect(page).to_have_url(re.compile(r"/booking/manage/view/?$"))
    wait_hydrated(page)


def test_joining_link_only_inside_the_window(new_context, writer):
    org_id, bookings = _org_with_online_sessions(writer, (30, 5))
    (reference, dob), (other_reference, other_dob) = bookings
    page = new_context(viewport=PHONE).new_page()

    # 30 hours before the start, with a 24-hour window: not yet; the page says from when.
    _find(page, reference, dob)
    expect(page.locator("#booking-reference")).to_have_text(reference)
    expect(page.locator("#joining-note")).to_contain_text("will be shown here from")
    expect(page.locator("#joining-link")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(LINK)
    expect(page.locator("#booking-bring")).to_have_text("Your photocard licence")

    # The organisation widens its window to 48 hours: now the details show.
    with Session(writer) as s:
        terms = s.exec(select(BookingTerms).where(BookingTerms.organisation_id == org_id)).one()
        terms.joining_details_hours = 48
        s.add(terms)
        s.commit()
    _find(page, reference, dob)
    expect(page.locator("#joining-link")).to_have_text(LINK)
    expect(page.locator("#joining-link")).to_have_attribute("href", LINK)
    expect(page.locator("#booking-meeting-id")).to_have_text("123 456")
    expect(page.locator("#booking-passcode")).to_have_text("safe")

    # A client of the other session, inside its window, never sees this session's link.
    other = new_context(viewport=PHONE).new_page()
    _find(other, other_reference, other_dob)
    expect(other.locator("#booking-reference")).to_have_text(other_reference)
    expect(other.locator("#joining-link")).to_have_count(0)
    expect(other.locator("main")).not_to_contain_text(LINK)
    expect(other.locator("#joining-note")).to_contain_text("when the organiser adds them")
