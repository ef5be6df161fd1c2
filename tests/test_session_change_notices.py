"""Booked clients are told when their session moves (date, time or venue) or is cancelled: an email through the
outbox that really arrives at an SMTP server, with the new details, and an entry on their timeline. Clients whose
booking is no longer active, changes that do not affect them and refused moves send nothing."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from atlas_app.db import read_session, write_session
from atlas_app.models import ClientEvent, CourseSession, CourseType, Venue
from atlas_app.services.booking import bookings as booking, catalogue
from atlas_app.services.instructors import assignments as instructors
from atlas_app.services.platform import outbox
from atlas_app.timeutil import LONDON, at_london, london_date
from booking_data import add_offers, add_session, make_catalogue
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from conftest import actor_for, all_rows, set_columns
from instructor_data import make_instructor

CHANGED = "Your course has changed"
CANCELLED = "Your course has been cancelled"


@pytest.fixture
def booked(org, actor):
    """A session seven days ahead with two active bookings and one cancelled."""
    cat = make_catalogue(org.id)
    sid = add_session(cat, starts_in=timedelta(days=7))
    offers = add_offers(cat, 3)
    refs = [booking.book(actor, o, sid).reference for o in offers]
    booking.cancel(org.id, refs[2], actor=actor)
    return cat, sid, refs


def delivered(smtp, subject_start: str) -> dict[str, str]:
    """Deliver what is due; the messages whose subject starts so, by recipient, as text."""
    outbox.deliver_due()
    return {m["To"]: m.get_body(("plain",)).get_content() for m in smtp.messages
            if m["Subject"].startswith(subject_start)}


def timeline_kinds(kind: str) -> list[ClientEvent]:
    return all_rows(ClientEvent, ClientEvent.kind == kind, order_by=ClientEvent.id)


def session_form(cat, cs: CourseSession, **changes) -> dict:
    data = {"course_type_id": cat.course_type_id, "venue_id": cs.venue_id, "delivery_mode": cs.delivery_mode,
            "starts_at": cs.starts_at, "capacity": cs.capacity, "status": cs.status}
    data.update(changes)
    return data


def get_session(sid: int) -> CourseSession:
    with read_session() as s:
        return s.get(CourseSession, sid)


def test_moving_a_session_emails_each_booked_client_the_new_time_and_notes_it(smtp, actor, booked):
    cat, sid, refs = booked
    old = get_session(sid).starts_at
    new_start = at_london(london_date(old) + timedelta(days=1), time(13, 15))
    instructors.move_session(actor, sid, new_start)
    got = delivered(smtp, CHANGED)
    assert sorted(got) == ["client0@example.com", "client1@example.com"]  # not the cancelled booking's client
    body = got["client0@example.com"]
    assert refs[0] in body and f"{new_start:%a %d %b %Y} 13:15" in body
    assert f"Previously: NSAC course, {old.astimezone(LONDON):%a %d %b %Y %H:%M}" in body
    events = timeline_kinds("session_moved")
    assert len(events) == 2 and all("13:15" in e.detail and e.username == actor.username for e in events)


def test_a_new_venue_is_news_but_a_new_capacity_is_not(smtp, actor, booked, org):
    cat, sid, _ = booked
    with write_session() as s:
        hall = Venue(organisation_id=org.id, name="Borough Hall", address_line1="1 Church Street",
                     town="Hartlepool", postcode="TS24 7DS")
        s.add(hall)
        s.flush()
        hall_id = hall.id
    cs = get_session(sid)
    catalogue.save_session(actor, sid, session_form(cat, cs, capacity=30))
    assert delivered(smtp, CHANGED) == {}
    catalogue.save_session(actor, sid, session_form(cat, cs, capacity=30, venue_id=hall_id))
    got = delivered(smtp, CHANGED)
    assert len(got) == 2 and all("Where: Borough Hall, 1 Church Street" in b for b in got.values())
    assert all("Previously: NSAC course, " in b and "Civic Centre" in b for b in got.values())


def test_cancelling_a_session_tells_booked_clients(smtp, actor, booked):
    cat, sid, refs = booked
    catalogue.save_session(actor, sid, session_form(cat, get_session(sid), status="cancelled"), confirm_booked=True)
    got = delivered(smtp, CANCELLED)
    assert sorted(got) == ["client0@example.com", "client1@example.com"]
    assert all("has been cancelled" in b and "choose another date" in b for b in got.values())
    assert len(timeline_kinds("session_cancelled")) == 2


def test_a_refused_move_tells_nobody(smtp, actor, booked):
    cat, sid, _ = booked
    set_columns(CourseType, CourseType.id == cat.course_type_id,
                instructor_roles=[{"role": "classroom", "clients_per_instructor": 12, "minimum": 1}])
    cs = get_session(sid)
    a = make_instructor(actor, cat, working_days=[0, 1, 2, 3, 4, 5, 6])
    instructors.assign(actor, sid, a, "classroom")
    other = add_session(cat, starts_in=timedelta(days=8))
    instructors.assign(actor, other, a, "classroom")
    with pytest.raises(instructors.AssignmentClash):
        instructors.move_session(actor, sid, get_session(other).starts_at)
    assert get_session(sid).starts_at == cs.starts_at
    assert delivered(smtp, CHANGED) == {} and timeline_kinds("session_moved") == []


def test_cancelling_a_session_with_clients_booked_needs_confirming_first(smtp, actor, booked):
    """The rule, once, in the service: staff may cancel a session people are booked on, but only once they have
    seen what it does (``session_cancel_effect``) and confirmed; until then nothing changes and nobody is told."""
    cat, sid, _ = booked
    effect = catalogue.session_cancel_effect(actor, sid)
    assert effect.booked == 2 and effect.needs_confirmation  # the cancelled booking is not counted
    assert effect.text.startswith("2 clients are booked on this session. Cancelling it emails each of them")
    with pytest.raises(ValidationFailed) as refused:
        catalogue.save_session(actor, sid, session_form(cat, get_session(sid), status="cancelled"))
    assert refused.value.errors == {"confirm_booked": "required"} and effect.text in str(refused.value)
    assert get_session(sid).status == "scheduled"
    assert delivered(smtp, CANCELLED) == {} and timeline_kinds("session_cancelled") == []
    catalogue.save_session(actor, sid, session_form(cat, get_session(sid), status="cancelled"), confirm_booked=True)
    assert get_session(sid).status == "cancelled"
    assert sorted(delivered(smtp, CANCELLED)) == ["client0@example.com", "client1@example.com"]


def test_an_empty_session_cancels_without_confirming_and_others_may_not_cancel(org, actor, make_user):
    cat = make_catalogue(org.id)
    sid = add_session(cat)
    assert not catalogue.session_cancel_effect(actor, sid).needs_confirmation
    clerk = actor_for(make_user("hbc.contact.cancel", roles=("Contact centre",)))
    assert not clerk.can(Perm.CATALOGUE_MANAGE)
    with pytest.raises(PermissionDenied):
        catalogue.session_cancel_effect(clerk, sid)
    with pytest.raises(PermissionDenied):
        catalogue.save_session(clerk, sid, session_form(cat, get_session(sid), status="cancelled"),
                               confirm_booked=True)
    catalogue.save_session(actor, sid, session_form(cat, get_session(sid), status="cancelled"))
    assert get_session(sid).status == "cancelled"


def test_the_session_page_shows_what_a_cancel_does_and_sends_the_confirmation(smtp, actor, booked, monkeypatch):
    """The staff page asks the service: it shows the effect, and cancels only with the box ticked."""
    from atlas_app.ui.staff.booking import sessions as sessions_page
    from state_support import at, drain, signed_in, substate

    cat, sid, _ = booked
    signed_in(monkeypatch, actor, sessions_page)
    page = at(substate(sessions_page.SessionState), f"http://atlas.test/bookings/session/{sid}")
    drain(page.load())
    drain(page.open_edit())
    assert page.edit_open and page.cancel_needs_confirm
    assert page.cancel_effect == catalogue.session_cancel_effect(actor, sid).text
    form = {**page.edit_form, "status": "cancelled"}
    drain(page.save_edit(form))
    assert "Confirm that you want to cancel it" in page.edit_error and get_session(sid).status == "scheduled"
    drain(page.save_edit({**form, "confirm_booked": "on"}))
    assert page.edit_error == "" and get_session(sid).status == "cancelled"
    assert "each booked client is being emailed" in page.notice
    assert len(delivered(smtp, CANCELLED)) == 2
