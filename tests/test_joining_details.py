"""Online courses: joining details on the session, shown on Manage your booking only to the session's booked clients
and only inside the organisation's window; a change tells the booked clients. What to bring; identity checked on
the register; the did-not-attend email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from booking_data import add_offers, add_session, make_catalogue
from conftest import all_rows, set_columns
from test_reminders import book

from atlas_app.models import (
    Booking,
    BookingTerms,
    Client,
    CourseSession,
    CourseType,
    EmailMessage,
    Offer,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import catalogue, registers, self_service
from atlas_app.services.platform.errors import ValidationFailed

LINK = "https://meet.example.org/j/777"


@pytest.fixture
def cat(org):
    return make_catalogue(org.id)


def online_session(cat, starts_in: timedelta) -> int:
    session_id = add_session(cat, starts_in=starts_in)
    set_columns(CourseSession, CourseSession.id == session_id, delivery_mode="online", venue_id=None,
                online_link=LINK, meeting_id="777 000", meeting_passcode="drive")
    return session_id


def client_view(reference: str) -> self_service.ClientBooking:
    b = all_rows(Booking, Booking.reference == reference)[0]
    return self_service.client_booking(b.organisation_id, b.offer_id, reference)


def reference_of(booking_id: int) -> str:
    return all_rows(Booking, Booking.id == booking_id)[0].reference


def test_joining_details_shown_only_in_the_window(cat):
    session_id = online_session(cat, timedelta(hours=30))
    ref = reference_of(book(cat, add_offers(cat, 1), session_id)[0])
    early = client_view(ref)
    assert early.joining is None and "will be shown here from" in early.joining_note
    set_columns(BookingTerms, BookingTerms.organisation_id == cat.organisation_id, joining_details_hours=48)
    inside = client_view(ref)
    assert (inside.joining.link, inside.joining.meeting_id, inside.joining.passcode) == (LINK, "777 000", "drive")


def test_not_shown_to_a_cancelled_or_moved_booking_or_a_classroom_one(cat):
    session_id = online_session(cat, timedelta(hours=3))
    offers = add_offers(cat, 2)
    cancelled = reference_of(book(cat, offers[:1], session_id, status="cancelled")[0])
    assert client_view(cancelled).joining is None
    classroom = add_session(cat, starts_in=timedelta(hours=3))
    assert client_view(reference_of(book(cat, offers[1:], classroom)[0])).joining is None


def test_a_change_of_link_tells_the_booked_clients(cat, actor):
    session_id = online_session(cat, timedelta(days=5))
    offers = add_offers(cat, 3)
    book(cat, offers[:2], session_id)
    book(cat, offers[2:], session_id, status="cancelled")
    s = all_rows(CourseSession, CourseSession.id == session_id)[0]
    data = {"course_type_id": s.course_type_id, "delivery_mode": "online", "starts_at": s.starts_at,
            "ends_at": s.ends_at, "capacity": s.capacity, "status": "scheduled", "online_link": LINK,
            "meeting_id": "777 000", "meeting_passcode": "drive", "notes": "x"}
    catalogue.save_session(actor, session_id, data)
    assert all_rows(EmailMessage) == []  # only the notes changed
    catalogue.save_session(actor, session_id, {**data, "online_link": "https://meet.example.org/j/888"})
    sent = all_rows(EmailMessage)
    assert len(sent) == 2 and all(m.kind == "joining_changed" for m in sent)
    assert "Video link: https://meet.example.org/j/888" in sent[0].body_text
    with pytest.raises(ValidationFailed):
        catalogue.save_session(actor, session_id, {**data, "online_link": "javascript:alert(1)"})


def test_what_to_bring_on_the_confirmation_and_register(cat, actor):
    set_columns(CourseType, CourseType.id == cat.course_type_id, what_to_bring="Photocard driving licence")
    session_id = add_session(cat, starts_in=timedelta(days=5))
    offer_id = add_offers(cat, 1)[0]
    booking_service.book(actor, offer_id, session_id, channel="telephone")
    confirmation = next(m for m in all_rows(EmailMessage) if m.kind == "booking_confirmation")
    assert "Please bring: Photocard driving licence" in confirmation.body_text
    assert registers.session_detail(actor, session_id).what_to_bring == "Photocard driving licence"


def test_identity_checked_and_did_not_attend_email(cat, actor):
    session_id = add_session(cat, starts_in=timedelta(hours=1))
    offers = add_offers(cat, 2)
    refs = [reference_of(b) for b in book(cat, offers, session_id)]
    booking_service.set_identity_checked(actor, refs[0], True)
    booking_service.record_attendance(actor, refs[0], "attended", override_unpaid=True)
    entries = {e.reference: e for e in registers.session_detail(actor, session_id).entries}
    assert entries[refs[0]].identity_checked and not entries[refs[1]].identity_checked
    booking_service.record_attendance(actor, refs[1], "did_not_attend")
    dna = [m for m in all_rows(EmailMessage) if m.kind == "did_not_attend"]
    assert len(dna) == 1 and "did not attend" in dna[0].body_text and dna[0].related_id == refs[1]
    # Marking again sends nothing more.
    booking_service.record_attendance(actor, refs[1], "did_not_attend")
    assert len([m for m in all_rows(EmailMessage) if m.kind == "did_not_attend"]) == 1


def test_no_did_not_attend_email_without_email_consent(cat, actor):
    session_id = add_session(cat, starts_in=timedelta(hours=1))
    offer_id = add_offers(cat, 1)[0]
    ref = reference_of(book(cat, [offer_id], session_id)[0])
    client_id = all_rows(Offer, Offer.id == offer_id)[0].client_id
    set_columns(Client, Client.id == client_id, email_consent=False)
    booking_service.record_attendance(actor, ref, "did_not_attend")
    assert [m for m in all_rows(EmailMessage) if m.kind == "did_not_attend"] == []
