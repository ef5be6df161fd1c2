"""Course booking as staff use it: telephone bookings, transfers, cancellations, the register, calls and
special-circumstance requests, session lists, and the completions export for the police. Every id from another
organisation is NotFound."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta

import pytest

from atlas_app.db import utcnow, write_session
from atlas_app.models import AuditEntry, Booking, ClientEvent, CourseSession, EmailMessage, Offer, SpecialRequest
from atlas_app.models import Client as ClientRow
from atlas_app.services.booking import bookings as booking, catalogue, completions, offers, registers
from atlas_app.services.booking.bookings import SessionFull
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from atlas_app.timeutil import london_date
from conftest import actor_for, all_rows

# --- set-up helpers ------------------------------------------------------------------------------------------


def make_catalogue(actor, code: str = "NSAC", capacity: int = 24):
    """A course type, a classroom venue and an online venue of the actor's organisation."""
    ct = catalogue.save_course_type(actor, None, {
        "code": code, "name": f"{code} course", "is_ndors": True, "duration_minutes": 165, "fee": "95.00",
        "delivery_modes": ["classroom", "online"], "default_capacity": capacity,
        "instructor_roles": [{"role": "classroom", "clients_per_instructor": 12, "minimum": 1}],
    })
    venue = catalogue.save_venue(actor, None, {
        "name": f"{code} Civic Centre", "address_line1": "Victoria Road", "town": "Hartlepool",
        "postcode": "ts24 8ay", "accessibility_notes": "Step-free access.",
    })
    online = catalogue.save_venue(actor, None, {"name": f"{code} Online", "is_online": True})
    return ct, venue, online


def make_session(actor, ct: int, venue: int | None, *, hours_ahead: float = 72, capacity: int | None = None,
                 mode: str = "classroom") -> int:
    data = {"course_type_id": ct, "venue_id": venue, "delivery_mode": mode,
            "starts_at": utcnow().replace(microsecond=0) + timedelta(hours=hours_ahead)}
    if capacity:
        data["capacity"] = capacity
    return catalogue.save_session(actor, None, data)


def make_offer(org_id: int, ct: int, ref: str, *, first: str = "Sam", last: str = "Demo", days_left: int = 60,
               dob: date = date(1985, 3, 14), postcode: str = "TS24 7QS") -> tuple[int, int]:
    today = london_date(utcnow())
    with write_session() as s:
        client = ClientRow(organisation_id=org_id, first_name=first, last_name=last, date_of_birth=dob,
                           postcode=postcode, email=f"{first.lower()}@example.com")
        s.add(client)
        s.flush()
        offer = Offer(organisation_id=org_id, offer_reference=ref, client_id=client.id, course_type_id=ct,
                      offence_date=today - timedelta(days=30), critical_date=today + timedelta(days=days_left),
                      police_force="Cleveland Police")
        s.add(offer)
        s.flush()
        s.add(ClientEvent(organisation_id=org_id, client_id=client.id, offer_id=offer.id, kind="referred",
                          detail=f"Offer {ref}"))
        return client.id, offer.id


def seats(session_id: int) -> int:
    return all_rows(CourseSession, CourseSession.id == session_id)[0].seats_taken


def offer_status(offer_id: int) -> str:
    return all_rows(Offer, Offer.id == offer_id)[0].status


@pytest.fixture
def contact(org, make_user):
    user = make_user("hbc.contact", roles=("Contact centre",))
    return user, actor_for(user)


@pytest.fixture
def setup(org, actor):
    ct, venue, online = make_catalogue(actor)
    s1 = make_session(actor, ct, venue)
    s2 = make_session(actor, ct, venue, hours_ahead=96)
    client_id, offer_id = make_offer(org.id, ct, "CLE-260005")
    return {"ct": ct, "venue": venue, "online": online, "s1": s1, "s2": s2, "client": client_id,
            "offer": offer_id}


# --- telephone booking ---------------------------------------------------------------------------------------


def test_telephone_booking_records_channel_and_who_made_it(setup, contact):
    user, agent = contact
    view = booking.book(agent, setup["offer"], setup["s1"], {"interpreter": True, "interpreter_language": "Polish"},
                        channel="telephone")
    row = all_rows(Booking, Booking.reference == view.reference)[0]
    assert row.channel == "telephone"
    assert row.made_by_user_id == user.id
    assert row.status == "awaiting_payment"
    assert row.needs == {"interpreter": True, "interpreter_language": "Polish"}
    assert seats(setup["s1"]) == 1
    assert offer_status(setup["offer"]) == "booked"
    record = offers.client_record(agent, setup["client"])
    assert record.bookings[0].reference == view.reference and record.bookings[0].channel == "telephone"
    booked = [e for e in record.timeline if e.kind == "booked"]
    assert booked and "by telephone" in booked[0].detail and booked[0].username == "hbc.contact"
    # The offer's active booking is shown with the offer, and a second booking is refused.
    assert record.offers[0].active_booking_reference == view.reference
    with pytest.raises(booking.AlreadyBooked):
        booking.book(agent, setup["offer"], setup["s2"])


def test_booking_by_telephone_lets_go_of_the_clients_held_seat(setup, org, contact):
    _user, agent = contact
    held = booking.hold_seat(org.id, setup["offer"], setup["s1"])
    assert seats(setup["s1"]) == 1

    view = booking.book(agent, setup["offer"], setup["s2"])

    assert (seats(setup["s1"]), seats(setup["s2"])) == (0, 1)
    statuses = {b.reference: b.status for b in all_rows(Booking)}
    assert statuses == {held.reference: "expired", view.reference: "awaiting_payment"}
    assert view.venue_name == "NSAC Civic Centre" and "Victoria Road" in view.venue_address
    assert view.client_name == "Sam Demo" and view.fee_pence == 9500 and view.course_code == "NSAC"
    email = [m for m in all_rows(EmailMessage) if m.related_id == view.reference]
    assert len(email) == 1 and email[0].to_address == "sam@example.com" and "NSAC course" in email[0].body_text


def test_an_online_session_booking_has_no_venue_address(setup, contact, actor):
    _user, agent = contact
    online = make_session(actor, setup["ct"], setup["online"], mode="online")
    view = booking.book(agent, setup["offer"], online)
    assert (view.venue_address, view.delivery_mode) == ("Online", "online")
    assert view.session_text.endswith("online")


def test_a_booking_reference_already_in_use_is_drawn_again(setup, org, contact, monkeypatch):
    _user, agent = contact
    first = booking.book(agent, setup["offer"], setup["s1"])
    _client, second_offer = make_offer(org.id, setup["ct"], "CLE-260006", first="Alex")
    drawn = iter([first.reference, "HAR-FRESH22"])
    monkeypatch.setattr(booking, "_random_reference", lambda prefix: next(drawn))

    second = booking.book(agent, second_offer, setup["s1"])

    assert second.reference == "HAR-FRESH22"
    assert seats(setup["s1"]) == 2 and len(all_rows(Booking)) == 2


def test_session_choices_for_an_offer_filter_by_mode_and_venue(setup, actor, org):
    online_session = make_session(actor, setup["ct"], setup["online"], mode="online", capacity=8)
    every = offers.session_choices(org.id, setup["offer"], "", None)
    assert {r.id for r in every} == {setup["s1"], setup["s2"], online_session}
    assert {r.id for r in offers.session_choices(org.id, setup["offer"], "online", None)} == {online_session}
    assert {r.id for r in offers.session_choices(org.id, setup["offer"], "classroom", setup["venue"])} == {
        setup["s1"], setup["s2"]}
    # Sessions after the critical date are not offered.
    late = make_session(actor, setup["ct"], setup["venue"], hours_ahead=24 * 90)
    assert late not in {r.id for r in offers.session_choices(org.id, setup["offer"], "", None)}


def test_read_only_user_cannot_book(setup, make_user):
    reader = actor_for(make_user("hbc.readonly", roles=("Read-only",)))
    with pytest.raises(PermissionDenied):
        booking.book(reader, setup["offer"], setup["s1"])
    assert seats(setup["s1"]) == 0


# --- transfer and cancel -------------------------------------------------------------------------------------


def test_transfer_moves_the_seat(setup, org, contact):
    _, agent = contact
    first = booking.book(agent, setup["offer"], setup["s1"])
    moved = booking.transfer(org.id, first.reference, setup["s2"], actor=agent)
    assert seats(setup["s1"]) == 0 and seats(setup["s2"]) == 1
    old, new = (all_rows(Booking, Booking.reference == r)[0] for r in (first.reference, moved.reference))
    assert old.status == "transferred"
    assert new.status == "awaiting_payment" and new.channel == "telephone" and new.transferred_from_id == old.id
    assert offer_status(setup["offer"]) == "booked"
    with pytest.raises(ValidationFailed):
        booking.transfer(org.id, moved.reference, setup["s2"], actor=agent)


def test_cancel_frees_the_seat_and_the_offer_can_be_booked_again(setup, org, contact):
    _, agent = contact
    view = booking.book(agent, setup["offer"], setup["s1"])
    booking.cancel(org.id, view.reference, actor=agent, reason="Client is in hospital")
    assert seats(setup["s1"]) == 0
    assert all_rows(Booking, Booking.reference == view.reference)[0].status == "cancelled"
    assert offer_status(setup["offer"]) == "referred"
    events = all_rows(ClientEvent, ClientEvent.kind == "cancelled")
    assert events[0].detail == "Client is in hospital" and events[0].username == "hbc.contact"
    again = booking.book(agent, setup["offer"], setup["s2"])
    assert again.status == "awaiting_payment" and seats(setup["s2"]) == 1


def test_return_to_police_needs_the_booking_cancelled_first(setup, org, contact):
    _, agent = contact
    view = booking.book(agent, setup["offer"], setup["s1"])
    with pytest.raises(Exception, match="Cancel the offer's booking"):
        booking.return_to_police(agent, setup["offer"], "Client disputes the offence")
    booking.cancel(org.id, view.reference, actor=agent, reason="Disputes offence")
    with pytest.raises(ValidationFailed):
        booking.return_to_police(agent, setup["offer"], "  ")
    booking.return_to_police(agent, setup["offer"], "Client disputes the offence")
    assert offer_status(setup["offer"]) == "returned"
    with pytest.raises(ValidationFailed):
        booking.book(agent, setup["offer"], setup["s2"])


# --- a full session ------------------------------------------------------------------------------------------


def test_a_session_that_fills_is_full_everywhere(setup, org, actor, contact):
    _, agent = contact
    small = make_session(actor, setup["ct"], setup["venue"], hours_ahead=120, capacity=1)
    _, other_offer = make_offer(org.id, setup["ct"], "CLE-260006", first="Jo", last="Example")
    booking.book(agent, setup["offer"], small)
    row = next(r for r in catalogue.list_sessions(agent, course_type_id=setup["ct"]) if r.id == small)
    assert row.seats_taken == row.capacity == 1 and row.free == 0
    assert small not in {r.id for r in offers.session_choices(org.id, other_offer, "", None)}
    with pytest.raises(SessionFull):
        booking.book(agent, other_offer, small)
    assert registers.session_detail(agent, small).is_full


# --- the register --------------------------------------------------------------------------------------------


def test_attendance_moves_the_offer_status(org, actor, contact):
    _, agent = contact
    ct, venue, _ = make_catalogue(actor)
    soon = make_session(actor, ct, venue, hours_ahead=2)
    outcomes = {"attended": "completed", "did_not_attend": "did_not_attend", "turned_away": "did_not_attend"}
    refs = {}
    for i, outcome in enumerate(outcomes):
        _, offer_id = make_offer(org.id, ct, f"CLE-27000{i}", first=f"Client{i}")
        refs[outcome] = (booking.book(agent, offer_id, soon).reference, offer_id)
    detail = registers.session_detail(agent, soon)
    assert detail.register_open and len(detail.entries) == 3
    for outcome, (ref, offer_id) in refs.items():
        # Nobody has paid: "attended" is refused until staff confirm they let the client in unpaid.
        if outcome == "attended":
            with pytest.raises(booking.UnpaidAttendance, match="not paid"):
                booking.record_attendance(agent, ref, outcome)
            assert offer_status(offer_id) == "booked"
        view = booking.record_attendance(agent, ref, outcome, override_unpaid=outcome == "attended")
        assert view.status == outcome
        assert offer_status(offer_id) == outcomes[outcome]
    with pytest.raises(ValidationFailed):
        booking.record_attendance(agent, refs["attended"][0], "asleep")
    # The seat is still counted: marked bookings stay on the register.
    assert seats(soon) == 3
    assert {e.status for e in registers.session_detail(agent, soon).entries} == set(outcomes)


def test_register_is_closed_until_the_day(setup, contact):
    _, agent = contact
    view = booking.book(agent, setup["offer"], setup["s1"], {"accessibility": "Wheelchair user"})
    detail = registers.session_detail(agent, setup["s1"])
    assert not detail.register_open
    assert detail.entries[0].needs_text == "Access: Wheelchair user"
    assert detail.entries[0].offer_reference == "CLE-260005" and detail.entries[0].client_name == "Sam Demo"
    with pytest.raises(ValidationFailed, match="register opens"):
        booking.record_attendance(agent, view.reference, "attended")


def test_needs_text():
    assert registers.needs_text({}) == ""
    assert registers.needs_text({"interpreter": True}) == "Interpreter"
    assert registers.needs_text({"interpreter": True, "interpreter_language": "Urdu", "other": "Hearing loop"}) \
        == "Interpreter (Urdu); Other: Hearing loop"


# --- calls and special-circumstance requests -----------------------------------------------------------------


def test_call_log_and_special_request(setup, contact, actor):
    _, agent = contact
    offers.log_call(agent, client_id=setup["client"], offer_id=setup["offer"], call_type="booking",
                    outcome="booked", notes="Booked by phone")
    with pytest.raises(ValidationFailed):
        offers.log_call(agent, client_id=setup["client"], offer_id=None, call_type="special_circumstances",
                        outcome="referred")
    offers.log_call(agent, client_id=setup["client"], offer_id=setup["offer"], call_type="special_circumstances",
                    outcome="referred", request_kind="part_payment", request_details="Asks to pay in two parts")
    record = offers.client_record(agent, setup["client"])
    assert sorted(c.call_type for c in record.calls) == ["booking", "special_circumstances"]
    assert all(c.username == "hbc.contact" for c in record.calls)
    assert len(record.requests) == 1
    request = record.requests[0]
    assert (request.kind, request.status, request.details) == ("part_payment", "open", "Asks to pay in two parts")
    offers.decide_request(actor, request.id, True, "Two payments agreed")
    decided = all_rows(SpecialRequest, SpecialRequest.id == request.id)[0]
    assert decided.status == "approved" and decided.decision_note == "Two payments agreed"
    with pytest.raises(ValidationFailed):
        offers.decide_request(actor, request.id, False)
    kinds = [e.kind for e in offers.client_record(agent, setup["client"]).timeline]
    assert kinds.count("special_request") == 2


def test_invalid_call_type_and_outcome(setup, contact):
    _, agent = contact
    with pytest.raises(ValidationFailed):
        offers.log_call(agent, client_id=setup["client"], offer_id=None, call_type="gossip", outcome="resolved")
    with pytest.raises(ValidationFailed):
        offers.log_call(agent, client_id=setup["client"], offer_id=None, call_type="enquiry", outcome="maybe")


# --- search ------------------------------------------------------------------------------------------------


def test_search_clients_by_reference_name_dob_and_postcode(setup, org, actor):
    make_offer(org.id, setup["ct"], "CLE-260099", first="Joanne", last="Smith", dob=date(1970, 1, 2),
               postcode="TS25 2AB")
    assert [h.offer_reference for h in offers.search_clients(actor, query="cle-260005")] == ["CLE-260005"]
    assert [h.name for h in offers.search_clients(actor, query="jo smi")] == ["Joanne Smith"]
    assert [h.name for h in offers.search_clients(actor, date_of_birth=date(1970, 1, 2))] == ["Joanne Smith"]
    assert [h.name for h in offers.search_clients(actor, postcode="ts252ab")] == ["Joanne Smith"]
    with pytest.raises(ValidationFailed):
        offers.search_clients(actor)


def test_search_clients_tolerates_spelling_as_the_person_search_does(setup, org, actor):
    """ "Rhianon" finds Rhiannon and "Shiobhan O'Sulivan" finds Siobhan O'Sullivan (by sound); the closest
    spelling comes first; a misspelt name of someone else's organisation is still not found."""
    make_offer(org.id, setup["ct"], "CLE-260101", first="Rhiannon", last="Pritchard", dob=date(1985, 4, 2))
    make_offer(org.id, setup["ct"], "CLE-260102", first="Siobhan", last="O'Sullivan", dob=date(1979, 8, 9))
    make_offer(org.id, setup["ct"], "CLE-260103", first="Rhianon", last="Price", dob=date(1990, 1, 1))
    assert [h.name for h in offers.search_clients(actor, query="Rhianon")] == ["Rhianon Price", "Rhiannon Pritchard"]
    assert [h.name for h in offers.search_clients(actor, query="Shiobhan O'Sulivan")] == ["Siobhan O'Sullivan"]
    assert [h.name for h in offers.search_clients(actor, query="rhianon pritchard")] == ["Rhiannon Pritchard"]
    assert offers.search_clients(actor, query="Zebedee") == []


def test_a_renamed_client_is_found_by_the_new_names_sound(setup, org, actor):
    from atlas_app.models import Client

    with write_session() as s:
        client = s.get(Client, setup["client"])
        client.first_name, client.last_name = "Gwenllian", "Thomas"
        s.add(client)
    assert "Gwenllian Thomas" in [h.name for h in offers.search_clients(actor, query="Gwenlian Tomas")]


# --- tenancy -----------------------------------------------------------------------------------------------


def test_another_organisations_ids_are_not_found(setup, org, other_org, other_actor, contact):
    _, agent = contact
    view = booking.book(agent, setup["offer"], setup["s1"])
    offers.log_call(agent, client_id=setup["client"], offer_id=setup["offer"], call_type="special_circumstances",
                    outcome="referred", request_details="Medical appointment")
    request_id = all_rows(SpecialRequest)[0].id
    with pytest.raises(NotFound):
        offers.client_record(other_actor, setup["client"])
    with pytest.raises(NotFound):
        booking.book(other_actor, setup["offer"], setup["s2"])
    with pytest.raises(NotFound):
        booking.transfer(other_org.id, view.reference, setup["s2"], actor=other_actor)
    with pytest.raises(PermissionDenied):
        booking.transfer(org.id, view.reference, setup["s2"], actor=other_actor)
    with pytest.raises(NotFound):
        booking.cancel(other_org.id, view.reference, actor=other_actor, reason="x")
    with pytest.raises(NotFound):
        booking.record_attendance(other_actor, view.reference, "attended")
    with pytest.raises(NotFound):
        booking.return_to_police(other_actor, setup["offer"], "x")
    with pytest.raises(NotFound):
        offers.log_call(other_actor, client_id=setup["client"], offer_id=None, call_type="enquiry",
                        outcome="resolved")
    with pytest.raises(NotFound):
        offers.decide_request(other_actor, request_id, True)
    with pytest.raises(NotFound):
        offers.session_choices(other_org.id, setup["offer"], "", None)
    with pytest.raises(NotFound):
        registers.session_detail(other_actor, setup["s1"])
    with pytest.raises(NotFound):
        completions.iter_completions(other_actor, date.today(), date.today(), session_id=setup["s1"])
    assert offers.search_clients(other_actor, query="CLE-260005") == []
    assert catalogue.list_sessions(other_actor) == []
    # Their own session cannot take this organisation's offer either.
    ct, venue, _ = make_catalogue(other_actor, "NSAC")
    theirs = make_session(other_actor, ct, venue)
    with pytest.raises(NotFound):
        booking.transfer(org.id, view.reference, theirs, actor=agent)
    assert seats(setup["s1"]) == 1 and seats(theirs) == 0


# --- catalogue: a new course type is bookable at once -------------------------------------------------------


def test_new_course_type_and_series_are_bookable_at_once(org, actor, contact):
    _, agent = contact
    ct = catalogue.save_course_type(actor, None, {
        "code": "ODA", "name": "Older Driver Assessment", "is_ndors": False, "duration_minutes": 90, "fee": "45",
        "delivery_modes": ["practical"], "default_capacity": 4,
        "instructor_roles": [{"role": "practical", "clients_per_instructor": 2, "minimum": 1,
                              "vehicle": "client_own"}],
    })
    venue = catalogue.save_venue(actor, None, {"name": "Test Centre", "address_line1": "1 Road", "town": "Town",
                                               "postcode": "TS1 2PA"})
    today = london_date(utcnow())
    ids = catalogue.create_series(actor, {"course_type_id": ct, "venue_id": venue, "delivery_mode": "practical"},
                                  today + timedelta(days=7), today + timedelta(days=20), [0, 2],
                                  [time(9, 30), time(13, 30)])
    assert len(ids) == 8
    _, offer_id = make_offer(org.id, ct, "CLE-ODA-1")
    choices = offers.session_choices(org.id, offer_id, "", None)
    assert {r.id for r in choices} == set(ids)
    assert all(r.capacity == 4 and r.course_code == "ODA" for r in choices)
    view = booking.book(agent, offer_id, choices[0].id)
    assert view.fee_pence == 4500 and view.course_code == "ODA"


def test_catalogue_needs_catalogue_permission(contact):
    _, agent = contact
    with pytest.raises(PermissionDenied):
        catalogue.save_region(agent, None, "North")


# --- completions export --------------------------------------------------------------------------------------


@pytest.fixture
def marked(org, actor, contact):
    """Three marked bookings on a session that has happened, one unmarked booking, and another session."""
    _, agent = contact
    ct, venue, _ = make_catalogue(actor)
    past = make_session(actor, ct, venue, hours_ahead=2)
    refs = {}
    for i, outcome in enumerate(("attended", "did_not_attend", "turned_away", None)):
        _, offer_id = make_offer(org.id, ct, f"CLE-30000{i}", first=f"Client{i}")
        ref = booking.book(agent, offer_id, past).reference
        if outcome:
            booking.record_attendance(agent, ref, outcome, override_unpaid=True)
        refs[f"CLE-30000{i}"] = ref
    # Move it into the past: a course that ran five days ago.
    with write_session() as s:
        row = s.get(CourseSession, past)
        row.starts_at -= timedelta(days=5, hours=3)
        row.ends_at -= timedelta(days=5, hours=3)
        s.add(row)
    when = london_date(all_rows(CourseSession, CourseSession.id == past)[0].starts_at)
    return {"session": past, "date": when, "refs": refs, "ct": ct, "venue": venue}


def test_completions_rows_in_range(marked, actor):
    rows = list(completions.iter_completions(actor, marked["date"], marked["date"]))
    assert [(r.offer_reference, r.outcome, r.completed) for r in rows] == [
        ("CLE-300000", "attended", "yes"), ("CLE-300001", "did_not_attend", "no"),
        ("CLE-300002", "turned_away", "no")]
    assert all(r.course_code == "NSAC" and r.session_date == marked["date"] for r in rows)
    assert rows[0].booking_reference == marked["refs"]["CLE-300000"]
    assert rows[0].police_force == "Cleveland Police"
    # Outside the range: nothing.
    day_after = marked["date"] + timedelta(days=1)
    assert list(completions.iter_completions(actor, day_after, day_after + timedelta(days=3))) == []
    # Small batches give the same rows.
    assert list(completions.iter_completions(actor, marked["date"], marked["date"], batch_size=1)) == rows


def test_completions_for_one_session(marked, actor):
    other = make_session(actor, marked["ct"], marked["venue"], hours_ahead=1)
    assert list(completions.iter_completions(actor, marked["date"], marked["date"], session_id=other)) == []
    assert len(list(completions.iter_completions(actor, marked["date"], marked["date"],
                                                 session_id=marked["session"]))) == 3


def test_completions_are_scoped_to_the_organisation(marked, other_org, other_actor, make_user):
    assert list(completions.iter_completions(other_actor, marked["date"], marked["date"])) == []
    with pytest.raises(NotFound):
        completions.export_csv(other_actor, marked["date"], marked["date"], session_id=marked["session"])


def test_completions_csv_and_audit(marked, actor):
    text = "".join(completions.export_csv(actor, marked["date"], marked["date"]))
    table = list(csv.reader(io.StringIO(text)))
    assert tuple(table[0]) == completions.CSV_HEADER
    assert table[0][:7] == ["offer_reference", "police_force", "course_code", "course_name", "session_date",
                            "session_start", "outcome"]
    assert [(r[0], r[4], r[6]) for r in table[1:]] == [
        ("CLE-300000", marked["date"].isoformat(), "attended"),
        ("CLE-300001", marked["date"].isoformat(), "did_not_attend"),
        ("CLE-300002", marked["date"].isoformat(), "turned_away")]
    entry = all_rows(AuditEntry, AuditEntry.entity == "completions")
    assert len(entry) == 1 and entry[0].action == "exported" and entry[0].username == "hbc.admin"
    assert completions.filename(marked["date"], marked["date"]).endswith(".csv")


def test_completions_csv_cells_cannot_run_as_formulas():
    row = completions.CompletionRow("=HYPERLINK(\"x\")", "+Force", "-C", "@name", date(2026, 1, 2), "09:30",
                                    "attended", "yes", "HAR-1", "")
    lines = list(completions.csv_lines(iter([row])))
    cells = next(csv.reader(io.StringIO(lines[1])))
    assert cells[:4] == ["'=HYPERLINK(\"x\")", "'+Force", "'-C", "'@name"]
    assert cells[4] == "2026-01-02"


def test_completions_permission_and_dates(marked, contact, actor):
    _, agent = contact  # contact centre: no reports permission
    with pytest.raises(PermissionDenied):
        completions.iter_completions(agent, marked["date"], marked["date"])
    with pytest.raises(ValidationFailed):
        completions.iter_completions(actor, marked["date"], marked["date"] - timedelta(days=1))
    with pytest.raises(ValidationFailed):
        completions.iter_completions(actor, marked["date"], marked["date"] + timedelta(days=800))
    with pytest.raises(ValidationFailed):
        completions.iter_completions(actor, None, marked["date"])
    assert all_rows(AuditEntry, AuditEntry.entity == "completions") == []
