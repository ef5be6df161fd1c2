"""The waiting list on the booking site: the wizard sends a client with no bookable date to the join page, which
acts only for the offer the wizard verified; the emailed link's page confirms the held place and starts paying."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from booking_data import add_offers, add_session, make_catalogue
from conftest import all_rows
from state_support import at, drain, redirect_path, substates

from atlas_app.db import utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, WaitingStatus
from atlas_app.models import Booking, Organisation
from atlas_app.models.waiting_list import WaitingEntry
from atlas_app.services.booking import bookings, waiting_list
from atlas_app.services.platform import outbox
from atlas_app.services.platform.actor import Actor
from atlas_app.timeutil import london_date
from atlas_app.ui.public.booking_wizard import BookingWizardState
from atlas_app.ui.public.waiting_list import HeldSeatState, WaitingJoinState

DOB = date(1985, 3, 14)
FIND = {"reference": "WL-00001", "dob_day": "14", "dob_month": "3", "dob_year": "1985", "postcode": "TS24 7QS"}


@pytest.fixture
def cat(org):
    with write_session() as s:
        s.get(Organisation, org.id).payments_demo = True
    return make_catalogue(org.id)


@pytest.fixture
def staff(org) -> Actor:
    return Actor(user_id=None, username="api:wl", organisation_id=org.id,
                 permissions=frozenset({"bookings.view", "bookings.manage"}))


def test_no_bookable_date_sends_the_client_to_the_waiting_list_which_they_join(cat, staff):
    session_id = add_session(cat, capacity=1)
    (other,) = add_offers(cat, 1, prefix="FULL")
    bookings.book(staff, other, session_id, channel="api")
    (offer_id,) = add_offers(cat, 1, prefix="WL", days_left=30)
    wizard, join = substates(BookingWizardState, WaitingJoinState)
    assert redirect_path(drain(wizard.find(FIND))) == "/book/waiting-list"
    drain(join.load())
    assert join._offer_id == offer_id and join.venues == [{"id": str(cat.venue_id), "name": join.venues[0]["name"]}]
    assert join.critical_date_iso == (london_date(utcnow()) + timedelta(days=30)).isoformat()
    # A venue id the page did not offer is ignored; a last day after the critical date is refused, named.
    drain(join.join({"venue-999": "on", "date_to": (london_date(utcnow()) + timedelta(days=31)).isoformat()}))
    assert "critical date" in join.errors["date_to"] and not join.joined
    drain(join.join({f"venue-{cat.venue_id}": "on", "date_to": ""}))
    assert join.joined and join.position_text == "You are number 1 on the waiting list."
    entry = all_rows(WaitingEntry)[0]
    assert entry.offer_id == offer_id and entry.venue_ids == [cat.venue_id]
    drain(join.leave())
    assert all_rows(WaitingEntry)[0].status == WaitingStatus.LEFT


def test_the_join_page_without_a_verified_offer_goes_back_to_the_start(cat):
    (join,) = substates(WaitingJoinState)
    assert redirect_path(drain(join.load())) == "/book"
    assert redirect_path(drain(join.join({"date_to": ""}))) == "/book"
    assert all_rows(WaitingEntry) == []


def test_the_emailed_link_confirms_the_place_and_starts_paying(cat, staff, org):
    session_id = add_session(cat, capacity=1)
    (other,) = add_offers(cat, 1, prefix="FULL")
    ref = bookings.book(staff, other, session_id, channel="api").reference
    (offer_id,) = add_offers(cat, 1, prefix="WL")
    waiting_list.join(org.id, offer_id, actor=staff)
    bookings.cancel(org.id, ref, actor=staff)
    entry = all_rows(WaitingEntry)[0]
    with write_session() as s:
        link = outbox.LINK_RENDERERS["waiting"](s, entry.id)
    (page,) = substates(HeldSeatState)
    at(page, link[link.index("/waiting-list"):])
    drain(page.load())
    assert page.status == "open" and page.first_name == "Client" and page.demo_payments
    events = drain(page.confirm())
    assert (redirect_path(events) or "").startswith("/pay/demo?attempt=")
    held = all_rows(Booking, Booking.id == entry.booking_id)[0]
    assert held.status == BookingStatus.AWAITING_PAYMENT
    # The same link again: the place is no longer held.
    (again,) = substates(HeldSeatState)
    at(again, link[link.index("/waiting-list"):])
    drain(again.load())
    assert again.status == "gone"
    (bad,) = substates(HeldSeatState)
    at(bad, "/waiting-list/seat?token=nonsense")
    drain(bad.load())
    assert bad.status == "missing"
    assert drain(bad.confirm()) == [] or bad.status == "missing"


# --- staff ---------------------------------------------------------------------------------------------------


def test_staff_add_see_and_remove_waiting_clients(cat, staff, org, monkeypatch, actor):
    from state_support import signed_in

    from atlas_app.ui.staff.booking import waiting_list as page_module

    signed_in(monkeypatch, actor, page_module)
    session_id = add_session(cat, capacity=1)
    (other,) = add_offers(cat, 1, prefix="FULL")
    ref = bookings.book(staff, other, session_id, channel="api").reference
    add_offers(cat, 2, prefix="TEL")
    (page,) = substates(page_module.WaitingListState)
    at(page, "/bookings/waiting-list?offer=TEL-00001")
    drain(page.load())
    assert page.offer_reference == "TEL-00001" and page.course_type_id == str(cat.course_type_id)
    drain(page.add({"offer_reference": "TEL-00001", "channel": "email", f"venue-{cat.venue_id}": "on"}))
    drain(page.add({"offer_reference": "TEL-00002", "channel": "email"}))
    assert page.add_error == "" and [r["offer_reference"] for r in page.rows] == ["TEL-00001", "TEL-00002"]
    assert page.rows[0]["position"] == "1" and page.rows[0]["venues"] != "Any venue"
    bookings.cancel(org.id, ref, actor=staff)
    at(page, f"/bookings/waiting-list?session={session_id}")
    drain(page.load())
    assert [r["status"] for r in page.rows] == ["Seat held", "Waiting"]
    drain(page.remove("TEL-00001"))  # the held seat passes to the next
    assert [r["status"] for r in page.rows] == ["Seat held"] and page.rows[0]["offer_reference"] == "TEL-00002"
    drain(page.add({"offer_reference": "NOPE", "channel": "email"}))
    assert page.add_error
