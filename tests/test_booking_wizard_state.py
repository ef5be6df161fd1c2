"""The public booking wizard and manage-my-booking states, driven directly: any browser can call any handler with
any arguments, so a choice is accepted only from the options the server offered, and ids stay server-side."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import reflex as rx

from atlas_app.db import utcnow, write_session
from atlas_app.models import Booking, BookingTerms, CourseSession, Organisation, Venue
from atlas_app.services.platform.i18n import using
from atlas_app.ui.public.booking_manage import ManageBookingState
from atlas_app.ui.public.booking_wizard import BookingWizardState
from conftest import all_rows
from test_client_self_service import POSTCODE, _book_online, _catalogue, _offer

FIND_FORM = {"reference": "cle-test-0001", "dob_day": "14", "dob_month": "3", "dob_year": "1985",
             "postcode": "ts24 7qs"}


def run(coro_or_value):
    return asyncio.run(coro_or_value) if asyncio.iscoroutine(coro_or_value) else coro_or_value


def substate(root, cls):
    return root.get_substate(cls.get_full_name().split(".")[1:])


def redirect_path(spec) -> str | None:
    """The path of an ``rx.redirect`` event spec (None for anything else)."""
    specs = spec if isinstance(spec, list) else [spec]
    for item in specs:
        if getattr(getattr(item, "handler", None), "fn", None) is not None and \
                item.handler.fn.__qualname__ == "_redirect":
            args = {k._js_expr: getattr(v, "_var_value", v) for k, v in item.args}
            return args["path"]
    return None


def public_delta(state, name: str = "booking_wizard_state") -> dict:
    """What the browser would receive for this state, by var name."""
    delta = state.get_delta()
    mine = next(iter(v for k, v in delta.items() if k.endswith(name)), {})
    return {k.removesuffix("_rx_state_"): v for k, v in mine.items()}


@pytest.fixture
def data(org, other_org):
    ct_id, sessions = _catalogue(org.id)
    offer_id = _offer(org.id, ct_id)
    other_ct, other_sessions = _catalogue(other_org.id)
    return {"org": org, "sessions": sessions, "offer_id": offer_id, "other_sessions": other_sessions,
            "ct_id": ct_id}


@pytest.fixture
def wizard():
    return substate(rx.State(), BookingWizardState)


def venue_of(session_id: int) -> int:
    with write_session() as s:
        return s.get(CourseSession, session_id).venue_id


def test_the_whole_wizard_books_and_keeps_ids_server_side(data, wizard):
    sessions = data["sessions"]
    assert redirect_path(run(wizard.find(FIND_FORM))) == "/book/how"
    assert wizard._offer_id == data["offer_id"] and wizard._org_id == data["org"].id
    assert [m["value"] for m in wizard.modes] == ["classroom", "online"]
    assert redirect_path(run(wizard.choose_mode({"mode": "classroom"}))) == "/book/where"
    run(wizard.load_where())
    near = venue_of(sessions["near_10"])
    assert wizard.venues[0]["id"] == str(near)          # nearest first (TS24 client, TS24 venue)
    assert redirect_path(run(wizard.choose_venue({"venue": str(near)}))) == "/book/when"
    run(wizard.load_when())
    offered = [int(s["id"]) for s in wizard.sessions]
    assert sessions["near_10"] in offered and sessions["too_late"] not in offered
    assert redirect_path(run(wizard.choose_session({"session": str(sessions["near_10"])}))) == "/book/needs"
    held = all_rows(Booking)
    assert [(b.status, b.session_id) for b in held] == [("held", sessions["near_10"])]
    assert wizard.late_warning == "" and "up to 72 hours" in wizard.change_terms_text
    assert wizard.hold_expires_iso and not wizard.hold_expired
    assert redirect_path(run(wizard.save_needs({"interpreter": "yes", "interpreter_language": "Polish",
                                                "accessibility": "Hearing loop", "language": "English",
                                                "other": ""}))) == "/book/check"
    run(wizard.load_check())
    delta = public_delta(wizard)
    text = repr(delta)
    assert "course_text" in delta and not any(key.startswith("_") for key in delta)
    assert "_offer_id" not in text and "_org_id" not in text and "_hold_reference" not in text
    assert held[0].reference not in text                 # the hold's reference never reaches the browser
    assert redirect_path(run(wizard.book())) == "/book/done"
    booked = all_rows(Booking)
    assert [(b.status, b.needs) for b in booked] == [("awaiting_payment", {
        "interpreter": True, "interpreter_language": "Polish", "accessibility": "Hearing loop",
        "language": "English"})]
    assert wizard.done_reference == booked[0].reference
    assert wizard._offer_id == 0 and wizard._org_id == 0 and wizard._hold_reference == ""
    # The steps are closed now: a reload of a step goes back to the start.
    assert redirect_path(run(wizard.load_check())) == "/book"


def test_only_offered_choices_are_accepted(data, wizard):
    sessions, others = data["sessions"], data["other_sessions"]
    run(wizard.find(FIND_FORM))
    run(wizard.choose_mode({"mode": "practical"}))        # the course has no practical sessions
    assert wizard._mode == "" and "mode" in wizard.errors
    run(wizard.choose_mode({"mode": "classroom"}))
    run(wizard.load_where())
    for bad in (str(venue_of(others["near_10"])), "-1", "1 OR 1=1", None, ["1"]):
        run(wizard.choose_venue({"venue": bad}))
        assert wizard._venue_id == 0 and "venue" in wizard.errors
    run(wizard.choose_venue({"venue": str(venue_of(sessions["near_10"]))}))
    run(wizard.load_when())
    # Another organisation's session, another course's, one after the critical date, one at another venue.
    for bad in (others["near_10"], sessions["other_course"], sessions["too_late"], sessions["far_15"]):
        result = run(wizard.choose_session({"session": str(bad)}))
        assert redirect_path(result) is None
        assert "session" in wizard.errors
    run(wizard.choose_session("not a form"))
    assert all_rows(Booking) == []


def test_later_steps_without_an_offer_go_back_to_the_start(data, wizard):
    for handler in (wizard.load_how, wizard.load_where, wizard.load_when, wizard.load_needs, wizard.load_check,
                    wizard.load_done):
        assert redirect_path(run(handler())) == "/book"
    assert redirect_path(run(wizard.choose_session({"session": str(data["sessions"]["near_10"])}))) == "/book"
    assert redirect_path(run(wizard.book())) == "/book"
    assert all_rows(Booking) == []


def test_unknown_and_expired_offers_are_refused(data, wizard, org):
    run(wizard.find({**FIND_FORM, "postcode": "TS1 1AA"}))
    assert wizard._offer_id == 0 and "could not find an offer" in wizard.error
    _offer(org.id, data["ct_id"], reference="CLE-OLD-0001", critical_in_days=-3)
    run(wizard.find({**FIND_FORM, "reference": "CLE-OLD-0001"}))
    assert wizard._offer_id == 0 and "expired" in wizard.error


def test_form_fields_are_checked_one_by_one(data, wizard):
    run(wizard.find({"reference": "", "dob_day": "31", "dob_month": "2", "dob_year": "1985", "postcode": "nope"}))
    assert set(wizard.errors) == {"reference", "dob", "postcode"}
    assert [f["href"] for f in wizard.error_fields] == ["#f-reference", "#f-dob-day", "#f-postcode"]
    tomorrow = utcnow().date() + timedelta(days=2)
    run(wizard.find({**FIND_FORM, "dob_day": str(tomorrow.day), "dob_month": str(tomorrow.month),
                     "dob_year": str(tomorrow.year)}))
    assert wizard.errors == {"dob": "Date of birth must be in the past."}


def test_an_already_booked_offer_points_to_manage(data, wizard):
    reference = _book_online(data["org"].id, data["offer_id"], data["sessions"]["near_10"])
    assert redirect_path(run(wizard.find(FIND_FORM))) is None
    assert wizard.existing_reference == reference
    assert wizard._offer_id == 0


def test_starting_again_lets_the_held_seat_go(data, wizard):
    run(wizard.find(FIND_FORM))
    run(wizard.choose_mode({"mode": "online"}))
    run(wizard.load_when())
    run(wizard.choose_session({"session": wizard.sessions[0]["id"]}))
    assert [b.status for b in all_rows(Booking)] == ["held"]
    run(wizard.start())
    assert [b.status for b in all_rows(Booking)] == ["cancelled"]
    assert wizard._offer_id == 0 and wizard.hold_expires_iso == ""


def test_the_hold_running_out(data, wizard):
    run(wizard.find(FIND_FORM))
    run(wizard.choose_mode({"mode": "online"}))
    run(wizard.load_when())
    run(wizard.choose_session({"session": wizard.sessions[0]["id"]}))
    run(wizard.save_needs({"interpreter": "no", "language": "Welsh"}))
    # A browser claiming the hold ran out early is not believed.
    run(wizard.hold_ran_out())
    assert not wizard.hold_expired
    # Time passes on the server.
    wizard._hold_expires_at = utcnow() - timedelta(seconds=1)
    run(wizard.hold_ran_out())
    assert wizard.hold_expired
    run(wizard.book())
    assert "ran out" in wizard.error
    assert [b.status for b in all_rows(Booking)] == ["held"]   # not booked; the sweep frees the seat
    run(wizard.load_when())
    assert wizard._hold_reference == "" and "Choose a date again" in wizard.error


# --- manage my booking ------------------------------------------------------------------------------------------


@pytest.fixture
def manage():
    return substate(rx.State(), ManageBookingState)


def test_manage_moves_only_to_offered_sessions_and_cancels(data, manage):
    org, sessions = data["org"], data["sessions"]
    reference = _book_online(org.id, data["offer_id"], sessions["near_10"])
    form = {"reference": reference.lower(), "dob_day": "14", "dob_month": "03", "dob_year": "1985",
            "postcode": POSTCODE}
    assert redirect_path(run(manage.find(form))) == "/booking/manage/view"
    assert manage.reference == reference and manage.can_transfer and manage.can_cancel
    run(manage.load_move())
    offered = set(manage._session_options)
    assert sessions["near_10"] not in offered
    for bad in (data["other_sessions"]["near_10"], sessions["too_late"], sessions["other_course"], "abc"):
        run(manage.move({"session": str(bad)}))
        assert "session" in manage.errors
    # Choosing a place filters the list; unknown places are ignored.
    online = next(o["value"] for o in manage.filter_options if o["value"] == "online")
    run(manage.choose_place("v999999"))
    assert manage.place != "v999999"
    run(manage.choose_place(online))
    assert [int(s["id"]) for s in manage.sessions] == [sessions["online_12"]]
    assert redirect_path(run(manage.move({"session": str(sessions["online_12"])}))) == "/booking/manage/view"
    moved = [b for b in all_rows(Booking) if b.status == "awaiting_payment"]
    assert [b.session_id for b in moved] == [sessions["online_12"]]
    assert manage._reference == moved[0].reference and moved[0].reference in manage.notice
    assert redirect_path(run(manage.cancel())) == "/booking/manage/view"
    assert [b.status for b in all_rows(Booking, Booking.id == moved[0].id)] == ["cancelled"]
    run(manage.load_view())
    assert manage.status_text == "Cancelled" and not manage.can_cancel


def test_manage_without_finding_first_does_nothing(data, manage):
    reference = _book_online(data["org"].id, data["offer_id"], data["sessions"]["near_10"])
    assert redirect_path(run(manage.load_view())) == "/booking/manage"
    assert redirect_path(run(manage.cancel())) == "/booking/manage"
    assert redirect_path(run(manage.move({"session": str(data["sessions"]["near_20"])}))) == "/booking/manage"
    assert [b.status for b in all_rows(Booking)] == ["awaiting_payment"]
    run(manage.find({"reference": reference, "dob_day": "1", "dob_month": "1", "dob_year": "1970",
                     "postcode": POSTCODE}))
    assert manage._offer_id == 0 and "could not find a booking" in manage.error


def test_manage_state_keeps_ids_server_side(data, manage):
    reference = _book_online(data["org"].id, data["offer_id"], data["sessions"]["near_10"])
    run(manage.find({"reference": reference, "dob_day": "14", "dob_month": "3", "dob_year": "1985",
                     "postcode": POSTCODE}))
    run(manage.load_move())
    mine = public_delta(manage, "manage_booking_state")
    assert not any(key.startswith("_") for key in mine)
    assert mine["reference"] == reference


def test_venues_offered_belong_to_the_offer_organisation(data, wizard):
    run(wizard.find(FIND_FORM))
    run(wizard.choose_mode({"mode": "classroom"}))
    run(wizard.load_where())
    ids = {int(v["id"]) for v in wizard.venues}
    assert ids
    with write_session() as s:
        assert {s.get(Venue, i).organisation_id for i in ids} == {data["org"].id}


def test_a_course_inside_the_change_cut_off_is_flagged_before_booking(data, wizard):
    run(wizard.find(FIND_FORM))
    run(wizard.choose_mode({"mode": "classroom"}))
    run(wizard.load_where())
    run(wizard.choose_venue({"venue": str(venue_of(data["sessions"]["soon"]))}))
    run(wizard.load_when())
    run(wizard.choose_session({"session": str(data["sessions"]["soon"])}))
    assert "less than 72 hours" in wizard.late_warning


def test_public_pages_show_a_confirmed_booking_on_a_payment_plan_as_part_paid(data, manage, wizard, actor):
    """The public pages use the one payment rule (as staff pages do): a booking confirmed on a payment plan, with
    the client allowed to attend before it is complete, is part-paid, not paid."""
    from atlas_app.services import payments

    reference = _book_online(data["org"].id, data["offer_id"], data["sessions"]["near_10"])
    payments.record_payment(actor, reference, "30", "cash")
    today = utcnow().date()
    payments.approve_plan(actor, reference, [(today + timedelta(days=14), "35"), (today + timedelta(days=28), "30")],
                          allow_attend_on_plan=True, reason="Hardship")
    assert all_rows(Booking, Booking.reference == reference)[0].status == "confirmed"
    form = {"reference": reference, "dob_day": "14", "dob_month": "3", "dob_year": "1985", "postcode": POSTCODE}
    assert redirect_path(run(manage.find(form))) == "/booking/manage/view"
    # The status says the booking stands; the paid flag and the sentence say the money, with the next instalment.
    assert (manage.status_text, manage.pay_state) == ("Booked and confirmed", "part_paid")
    first = today + timedelta(days=14)
    assert manage.payment_text == ("Part-paid: £30.00 paid; £65.00 is still to pay on your payment plan. "
                                   f"Next instalment £35.00 due {first.day} {first:%B %Y}.")
    run(wizard.find(FIND_FORM))  # the wizard, told the offer is booked already, says the same
    assert wizard.existing_reference == reference and wizard.existing_status == "booked and part-paid"
    payments.record_payment(actor, reference, "65", "cash")  # the rest arrives
    run(manage.load_view())
    assert (manage.status_text, manage.payment_text, manage.pay_state) == ("Booked and confirmed", "Paid.", "paid")
    run(wizard.find(FIND_FORM))
    assert wizard.existing_status == "booked and paid"


def test_the_organisations_booking_terms_are_shown_in_the_pages_language(data, wizard):
    with write_session() as s:
        org = s.get(Organisation, data["org"].id)
        org.welsh_enabled = True
        s.add(org)
        terms = s.exec(BookingTerms.__table__.select().where(
            BookingTerms.organisation_id == data["org"].id)).first()
        if terms is None:
            s.add(BookingTerms(organisation_id=data["org"].id, conditions="Arrive early.",
                               conditions_cy="Dewch yn gynnar."))
        else:
            row = s.get(BookingTerms, terms.id)
            row.conditions, row.conditions_cy = "Arrive early.", "Dewch yn gynnar."
            s.add(row)
    run(wizard.find(FIND_FORM))
    assert wizard.conditions_text == "Arrive early."
    welsh_wizard = substate(rx.State(), BookingWizardState)
    with using("cy"):
        run(welsh_wizard.find(FIND_FORM))
    assert welsh_wizard.conditions_text == "Dewch yn gynnar."
