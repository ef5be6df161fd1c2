"""Clients managing their own booking: finding it by reference, date of birth and postcode, what it may move to,
and whether the organisation's terms still let them change it online."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from atlas_app.db import utcnow, write_session
from atlas_app.models import BookingTerms, Client, CourseSession, CourseType, Offer, Venue
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import self_service as svc
from atlas_app.services.booking.bookings import ClientProof
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.timeutil import london_date

DOB = date(1985, 3, 14)
POSTCODE = "TS24 7QS"


def _catalogue(org_id: int, *, critical_in_days: int = 60, transfer_cutoff_hours: int = 72, max_transfers: int = 2,
               cancel_cutoff_hours: int = 72):
    """A course type, two venues, an online venue, and sessions at known distances from now."""
    now = utcnow()
    with write_session() as s:
        s.add(BookingTerms(organisation_id=org_id, transfer_cutoff_hours=transfer_cutoff_hours,
                           max_transfers=max_transfers, cancel_cutoff_hours=cancel_cutoff_hours))
        ct = CourseType(organisation_id=org_id, code="NSAC", name="National Speed Awareness Course", fee_pence=9500,
                        delivery_modes=["classroom", "online"], default_capacity=10)
        other_ct = CourseType(organisation_id=org_id, code="WDU", name="What's Driving Us?", fee_pence=9900,
                              delivery_modes=["classroom"], default_capacity=10)
        s.add(ct)
        s.add(other_ct)
        s.flush()
        near = Venue(organisation_id=org_id, name="Civic Centre", address_line1="Victoria Road", town="Hartlepool",
                     postcode="TS24 8AY", accessibility_notes="Step-free access")
        far = Venue(organisation_id=org_id, name="Training Hub", address_line1="Albert Road", town="Middlesbrough",
                    postcode="TS1 2PA")
        online = Venue(organisation_id=org_id, name="Online", is_online=True)
        s.add_all([near, far, online])
        s.flush()

        def session(venue, days, *, mode="classroom", course=ct, capacity=10, hours=0):
            start = now + timedelta(days=days, hours=hours)
            row = CourseSession(organisation_id=org_id, course_type_id=course.id, venue_id=venue.id,
                                delivery_mode=mode, starts_at=start, ends_at=start + timedelta(hours=3),
                                capacity=capacity)
            s.add(row)
            s.flush()
            return row.id

        sessions = {
            "soon": session(near, 1),                        # inside the 72-hour cut-off
            "near_10": session(near, 10),
            "near_20": session(near, 20),
            "far_15": session(far, 15),
            "online_12": session(online, 12, mode="online"),
            "full": session(near, 25, capacity=1),
            "other_course": session(near, 11, course=other_ct),
            "too_late": session(near, critical_in_days + 5),  # after the critical date
        }
        return ct.id, sessions


def _offer(org_id: int, course_type_id: int, *, reference: str = "CLE-TEST-0001", dob: date = DOB,
           postcode: str = POSTCODE, critical_in_days: int = 60) -> int:
    with write_session() as s:
        client = Client(organisation_id=org_id, first_name="Sam", last_name="Demo", date_of_birth=dob,
                        postcode=postcode, email="sam.demo@example.com")
        s.add(client)
        s.flush()
        offer = Offer(organisation_id=org_id, offer_reference=reference, client_id=client.id,
                      course_type_id=course_type_id, offence_date=london_date(utcnow()) - timedelta(days=30),
                      critical_date=london_date(utcnow()) + timedelta(days=critical_in_days))
        s.add(offer)
        s.flush()
        return offer.id


def _book_online(org_id: int, offer_id: int, session_id: int, needs=None) -> str:
    held = booking_service.hold_seat(org_id, offer_id, session_id, needs)
    return booking_service.confirm_hold(org_id, offer_id, held.reference, needs).reference


@pytest.fixture
def setup(org):
    ct_id, sessions = _catalogue(org.id)
    offer_id = _offer(org.id, ct_id)
    return org, ct_id, sessions, offer_id


# --- find_booking ----------------------------------------------------------------------------------------------


def test_find_booking_with_matching_details(setup):
    org, _, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"], {"interpreter": True,
                                                                      "interpreter_language": "Polish"})
    found = svc.find_booking(reference, DOB, POSTCODE)
    assert found.organisation_id == org.id
    assert found.organisation_name == org.name
    assert found.offer_id == offer_id
    assert found.booking.reference == reference
    assert found.booking.status == "awaiting_payment"
    assert found.booking.session_id == sessions["near_10"]
    assert found.booking.needs == {"interpreter": True, "interpreter_language": "Polish"}
    assert found.can_transfer and found.can_cancel and found.change_note == ""
    assert found.transfers_used == 0
    assert found.terms.transfer_cutoff_hours == 72 and found.terms.max_transfers == 2


def test_reference_and_postcode_are_matched_loosely(setup):
    org, _, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    found = svc.find_booking(f"  {reference.lower()} ", DOB, "ts247qs")
    assert found.booking.reference == reference


def test_any_mismatch_gets_the_same_message(setup):
    org, ct_id, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    # Someone else's booking with a different date of birth and postcode.
    other_offer = _offer(org.id, ct_id, reference="CLE-TEST-0002", dob=date(1970, 1, 1), postcode="TS1 3BA")
    other_reference = _book_online(org.id, other_offer, sessions["near_20"])
    attempts = [
        (reference, date(1985, 3, 15), POSTCODE),          # wrong date of birth
        (reference, DOB, "TS24 7QT"),                      # wrong postcode
        ("HAR-NOTREAL", DOB, POSTCODE),                    # unknown reference
        (other_reference, DOB, POSTCODE),                  # another client's reference with my details
        (reference, date(1970, 1, 1), "TS1 3BA"),          # my reference with another client's details
        ("X" * 25, DOB, POSTCODE),                         # nonsense
    ]
    messages = set()
    for ref, dob, postcode in attempts:
        with pytest.raises(ValidationFailed) as info:
            svc.find_booking(ref, dob, postcode)
        messages.add(str(info.value))
        assert info.value.errors == {"booking": "not found"}
    assert messages == {svc.NOT_FOUND_MESSAGE}


def test_missing_details_are_asked_for(setup):
    for ref, dob, postcode in [("", DOB, POSTCODE), ("HAR-ABC", None, POSTCODE), ("HAR-ABC", DOB, "  ")]:
        with pytest.raises(ValidationFailed) as info:
            svc.find_booking(ref, dob, postcode)
        assert info.value.errors == {"booking": "incomplete"}


def test_an_old_reference_leads_to_the_booking_it_became(setup):
    org, _, sessions, offer_id = setup
    first = _book_online(org.id, offer_id, sessions["near_10"])
    proof = ClientProof(org.id, offer_id)
    second = booking_service.transfer(org.id, first, sessions["far_15"], client=proof).reference
    third = booking_service.transfer(org.id, second, sessions["near_20"], client=proof).reference
    found = svc.find_booking(first, DOB, POSTCODE)
    assert found.booking.reference == third
    assert found.booking.session_id == sessions["near_20"]
    assert found.transfers_used == 2
    # Two moves is the most this organisation allows online.
    assert not found.can_transfer and found.can_cancel
    assert "moved 2 times" in found.change_note


def test_inside_the_cut_off_nothing_can_be_changed_online(setup):
    org, _, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["soon"])
    found = svc.find_booking(reference, DOB, POSTCODE)
    assert not found.can_transfer and not found.can_cancel
    assert "72 hours" in found.change_note and "telephone" in found.change_note
    # The flags agree with the services, which enforce the rule themselves.
    with pytest.raises(ValidationFailed):
        booking_service.transfer(org.id, reference, sessions["near_10"], client=ClientProof(org.id, offer_id))
    with pytest.raises(ValidationFailed):
        booking_service.cancel(org.id, reference, client=ClientProof(org.id, offer_id))


def test_separate_cut_offs_are_reported_separately(other_org):
    ct_id, sessions = _catalogue(other_org.id, transfer_cutoff_hours=24 * 5, cancel_cutoff_hours=24)
    offer_id = _offer(other_org.id, ct_id)
    # The course is 10 days away: both allowed.
    reference = _book_online(other_org.id, offer_id, sessions["near_10"])
    assert svc.find_booking(reference, DOB, POSTCODE).can_transfer
    # Move it to a session 4 days away? Not on the list: use a new one inside the transfer cut-off.
    with write_session() as s:
        start = utcnow() + timedelta(days=4)
        row = CourseSession(organisation_id=other_org.id, course_type_id=ct_id,
                            venue_id=s.get(CourseSession, sessions["near_10"]).venue_id, delivery_mode="classroom",
                            starts_at=start, ends_at=start + timedelta(hours=3), capacity=5)
        s.add(row)
        s.flush()
        four_days = row.id
    moved = booking_service.transfer(other_org.id, reference, four_days, client=ClientProof(other_org.id, offer_id))
    found = svc.find_booking(moved.reference, DOB, POSTCODE)
    assert not found.can_transfer and found.can_cancel
    assert "moved online up to 120 hours" in found.change_note


def test_a_cancelled_booking_is_shown_but_cannot_be_changed(setup):
    org, _, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    booking_service.cancel(org.id, reference, client=ClientProof(org.id, offer_id))
    found = svc.find_booking(reference, DOB, POSTCODE)
    assert found.booking.status == "cancelled"
    assert not found.can_transfer and not found.can_cancel
    assert "no longer current" in found.change_note


def test_a_held_seat_is_not_changeable_here(setup):
    org, _, sessions, offer_id = setup
    held = booking_service.hold_seat(org.id, offer_id, sessions["near_10"])
    found = svc.find_booking(held.reference, DOB, POSTCODE)
    assert found.booking.status == "held"
    assert not found.can_transfer and not found.can_cancel


# --- client_booking -------------------------------------------------------------------------------------------


def test_client_booking_needs_the_proved_offer_and_organisation(setup, other_org):
    org, ct_id, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    assert svc.client_booking(org.id, offer_id, reference).booking.reference == reference
    other_offer = _offer(org.id, ct_id, reference="CLE-TEST-0009", dob=date(1970, 1, 1))
    with pytest.raises(NotFound):
        svc.client_booking(org.id, other_offer, reference)     # someone else's offer
    with pytest.raises(NotFound):
        svc.client_booking(other_org.id, offer_id, reference)  # the wrong organisation
    with pytest.raises(NotFound):
        svc.client_booking(org.id, offer_id, "HAR-NOTREAL")


def test_client_booking_follows_a_transfer(setup):
    org, _, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    moved = booking_service.transfer(org.id, reference, sessions["online_12"], client=ClientProof(org.id, offer_id))
    again = svc.client_booking(org.id, offer_id, reference)
    assert again.booking.reference == moved.reference
    assert again.booking.delivery_mode == "online"


# --- transfer_options -----------------------------------------------------------------------------------------


def test_transfer_options_are_bookable_sessions_except_the_current_one(setup):
    org, _, sessions, offer_id = setup
    # Fill the one-seat session with somebody else's booking.
    other = _offer(org.id, setup[1], reference="CLE-TEST-0003", dob=date(1990, 1, 1))
    _book_online(org.id, other, sessions["full"])
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    ids = {row.id for row in svc.transfer_options(org.id, offer_id, reference)}
    assert sessions["near_10"] not in ids           # already booked
    assert sessions["full"] not in ids              # no free seat
    assert sessions["other_course"] not in ids      # a different course
    assert sessions["too_late"] not in ids          # ends after the critical date
    assert {sessions["near_20"], sessions["far_15"], sessions["online_12"], sessions["soon"]} <= ids


def test_transfer_options_after_a_move_exclude_the_new_session(setup):
    org, _, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    booking_service.transfer(org.id, reference, sessions["far_15"], client=ClientProof(org.id, offer_id))
    ids = {row.id for row in svc.transfer_options(org.id, offer_id, reference)}
    assert sessions["far_15"] not in ids
    assert sessions["near_10"] in ids               # its seat was given back


def test_transfer_options_are_scoped_to_the_offer(setup, other_org):
    org, ct_id, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    other_offer = _offer(org.id, ct_id, reference="CLE-TEST-0004", dob=date(1970, 1, 1))
    with pytest.raises(NotFound):
        svc.transfer_options(org.id, other_offer, reference)
    with pytest.raises(NotFound):
        svc.transfer_options(other_org.id, offer_id, reference)


# --- client_terms ---------------------------------------------------------------------------------------------


def test_client_terms_are_the_organisations_or_the_defaults(org, other_org):
    _catalogue(org.id, transfer_cutoff_hours=48, max_transfers=1, cancel_cutoff_hours=24)
    terms = svc.client_terms(org.id)
    assert (terms.transfer_cutoff_hours, terms.cancel_cutoff_hours, terms.max_transfers) == (48, 24, 1)
    # An organisation that has not set its terms gets the defaults.
    defaults = svc.client_terms(other_org.id)
    assert (defaults.transfer_cutoff_hours, defaults.cancel_cutoff_hours, defaults.max_transfers) == (72, 72, 2)


# --- who may move or cancel a booking without a staff actor --------------------------------------------------------


def test_moving_or_cancelling_without_a_staff_actor_needs_the_clients_proof(setup, other_org):
    """An attacker who knows (or guesses) a booking reference but found no offer through the public lookup gets
    nowhere: no proof, a proof for another offer, a proof for another organisation, or a bare offer id."""
    from atlas_app.services import payments
    from atlas_app.services.platform.errors import PermissionDenied

    org, ct_id, sessions, offer_id = setup
    reference = _book_online(org.id, offer_id, sessions["near_10"])
    own_offer = _offer(org.id, ct_id, reference="CLE-TEST-0009", dob=date(1970, 1, 1), postcode="TS1 3BA")
    attempts = [
        ({}, PermissionDenied),                                              # neither actor nor proof
        ({"client": None}, PermissionDenied),
        ({"client": ClientProof(other_org.id, offer_id)}, PermissionDenied),  # a proof from another organisation
        ({"client": (org.id, offer_id)}, PermissionDenied),                  # not a proof, just the numbers
        ({"client": ClientProof(org.id, own_offer)}, NotFound),              # the attacker's own offer
    ]
    for kwargs, refused in attempts:
        with pytest.raises(refused):
            booking_service.transfer(org.id, reference, sessions["near_20"], **kwargs)
        with pytest.raises(refused):
            booking_service.cancel(org.id, reference, **kwargs)
        with pytest.raises(refused):
            payments.cancel_booking(org.id, reference, **kwargs)
    found = svc.find_booking(reference, DOB, POSTCODE)
    assert found.booking.status == "awaiting_payment" and found.booking.session_id == sessions["near_10"]
    # The client, with the proof the public lookup gave them, may.
    moved = booking_service.transfer(org.id, reference, sessions["near_20"], client=found.proof)
    assert booking_service.cancel(org.id, moved.reference, client=found.proof).status == "cancelled"
