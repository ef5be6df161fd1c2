"""The waiting list in a real browser: a client whose course has no free place before their critical date joins
the waiting list from the booking wizard; another client cancels their booking on *Manage your booking*; the freed
place is held for the waiting client, who receives the email at the test SMTP server, follows its link, confirms
the place and pays (demo payments)."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta

from playwright.sync_api import expect
from sqlmodel import Session, select

from atlas_app.db import utcnow
from atlas_app.models import Booking, Client, CourseSession, CourseType, Offer, Organisation, Venue
from atlas_app.models.waiting_list import WaitingEntry
from atlas_app.timeutil import london_date
from support import wait_hydrated
from test_booking_wizard import OfferDetails, fill_find_form
from test_payments import pay_with

PHONE = {"width": 390, "height": 844}


def _world(writer) -> dict:
    """A course type of its own with one full session: a booked client and a client with no place to book."""
    tag = secrets.token_hex(3).upper()
    now = utcnow().replace(microsecond=0)
    with Session(writer, expire_on_commit=False) as s:
        org = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
        ct = CourseType(organisation_id=org.id, code=f"W{tag}", name=f"Waiting list course {tag}", fee_pence=9500,
                        delivery_modes=["classroom"], default_capacity=1)
        venue = Venue(organisation_id=org.id, name=f"Waiting Hall {tag}", town="Hartlepool", postcode="TS24 8AY")
        s.add_all([ct, venue])
        s.flush()
        start = now + timedelta(days=10)
        session = CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venue.id,
                                delivery_mode="classroom", starts_at=start, ends_at=start + timedelta(hours=3),
                                capacity=1, seats_taken=1)
        people = [Client(organisation_id=org.id, first_name=first, last_name=f"Waiter {tag}",
                         date_of_birth=date(1981, 6, 7), postcode="TS24 7QS",
                         email=f"e2e-wl-{first.lower()}-{tag.lower()}@example.com") for first in ("Booked", "Wanda")]
        s.add(session)
        s.add_all(people)
        s.flush()
        offers = [Offer(organisation_id=org.id, offer_reference=f"HAR-WL{i}-{tag}", client_id=c.id,
                        course_type_id=ct.id, offence_date=london_date(now) - timedelta(days=20),
                        critical_date=london_date(now) + timedelta(days=30), police_force="Cleveland Police",
                        status="booked" if i == 0 else "referred") for i, c in enumerate(people)]
        s.add_all(offers)
        s.flush()
        booking = Booking(organisation_id=org.id, reference=f"HAR-W{tag}", offer_id=offers[0].id,
                          session_id=session.id, status="awaiting_payment", channel="online",
                          payment_due_at=now + timedelta(days=2), fee_pence=9500)
        s.add(booking)
        s.commit()
        return {"booked_ref": booking.reference, "waiter_ref": offers[1].offer_reference,
                "waiter_email": people[1].email, "waiter_offer": offers[1].id, "session_id": session.id}


def test_a_waiting_client_gets_the_freed_place_by_email_confirms_and_pays(new_context, writer, mailbox, base_url):
    w = _world(writer)
    waiter = new_context(viewport=PHONE).new_page()
    waiter.goto("/book")
    wait_hydrated(waiter)
    fill_find_form(waiter, OfferDetails(w["waiter_ref"], 7, 6, 1981, "TS24 7QS", ""))
    waiter.click("#find-offer")
    expect(waiter).to_have_url(re.compile(r"/book/waiting-list/?$"))
    wait_hydrated(waiter)
    expect(waiter.locator("#step-heading")).to_have_text("Join the waiting list")
    waiter.click("#join-waiting-list")
    expect(waiter.locator("#waiting-position")).to_have_text("You are number 1 on the waiting list.")

    # The booked client cancels on Manage your booking: the place frees.
    other = new_context(viewport=PHONE).new_page()
    other.goto("/booking/manage")
    wait_hydrated(other)
    fill_find_form(other, OfferDetails(w["booked_ref"], 7, 6, 1981, "TS24 7QS", ""))
    other.click("#find-booking")
    expect(other).to_have_url(re.compile(r"/booking/manage/view/?$"))
    other.click("#cancel-booking")
    expect(other).to_have_url(re.compile(r"/booking/manage/cancel/?$"))
    wait_hydrated(other)
    other.click("#confirm-cancel")
    expect(other).to_have_url(re.compile(r"/booking/manage/view/?$"))

    mail = mailbox.wait_for(w["waiter_email"], "is held for you")
    link = re.search(r"https?://\S+/waiting-list/seat\?token=\S+", mail.body).group(0)
    with Session(writer) as s:
        entry = s.exec(select(WaitingEntry).where(WaitingEntry.offer_id == w["waiter_offer"])).one()
        assert entry.status == "offered"
        held = s.get(Booking, entry.booking_id)
        assert held.status == "held" and held.session_id == w["session_id"]
        assert s.get(CourseSession, w["session_id"]).seats_taken == 1

    waiter.goto(link[link.index("/waiting-list"):])
    wait_hydrated(waiter)
    expect(waiter.locator("#step-heading")).to_have_text("A place is held for you")
    expect(waiter.locator(".demo-banner")).to_be_visible()
    waiter.click("#confirm-seat")
    expect(waiter).to_have_url(re.compile(r"/pay/demo"))
    wait_hydrated(waiter)
    pay_with(waiter, "4242 4242 4242 4242")
    expect(waiter.locator("#return-paid-flag")).to_have_text("Paid")
    with Session(writer) as s:
        assert s.get(Booking, held.id).status == "confirmed"
        entry = s.exec(select(WaitingEntry).where(WaitingEntry.offer_id == w["waiter_offer"])).one()
        assert entry.status == "booked"
