"""The client record page: one record state and one small state per dialog, driven as a browser could drive them
(including with forged ids and without a session). Each dialog acts only on what the record last loaded for this
tab allows, and every handler re-checks the session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_app.models import Booking, CallLog, Offer
from atlas_app.services.platform.errors import NotAuthenticated, PermissionDenied
from atlas_app.ui.staff.booking import clients as page
from atlas_app.ui.staff.booking.clients import (
    DIALOGS,
    ClientState,
)
from booking_data import add_offers, add_session, make_catalogue
from conftest import actor_for, all_rows
from state_support import at, drain, signed_in, substates


@pytest.fixture
def world(org, other_org):
    cat = make_catalogue(org.id)
    sessions = [add_session(cat), add_session(cat, starts_in=timedelta(days=9))]
    mine, second = add_offers(cat, 2, prefix="CLE-R")
    theirs = add_offers(make_catalogue(other_org.id, code="ESX"), 1, prefix="ESX-R")[0]
    client_of = {o.id: o.client_id for o in all_rows(Offer)}
    return {"sessions": sessions, "offer": mine, "second": second, "theirs": theirs, "client_of": client_of}


@pytest.fixture
def tab(world, actor, monkeypatch):
    """The record and its dialogs in one browser tab, signed in as the organisation's administrator, showing the
    client of the first offer."""
    signed_in(monkeypatch, actor, page)
    states = substates(ClientState, *DIALOGS)
    record = states[0]
    show(record, world["client_of"][world["offer"]])
    return dict(zip(["record", "book", "transfer", "cancel", "ret", "call", "decide"], states))


def show(record, client_id: int) -> None:
    drain(at(record, f"http://atlas.test/bookings/client/{client_id}").load())


def book(tab, world, session_index: int = 0) -> str:
    drain(tab["book"].show(str(world["offer"])))
    drain(tab["book"].book({"session_id": str(world["sessions"][session_index])}))
    return all_rows(Booking, Booking.offer_id == world["offer"])[-1].reference


def test_a_telephone_booking_opens_the_call_dialog_filled_in_for_it(tab, world):
    record, dialog, call = tab["record"], tab["book"], tab["call"]
    drain(dialog.show(str(world["offer"])))
    assert dialog.is_open and dialog.offer_label.startswith("CLE-R-00001")
    assert {c["id"] for c in dialog.choices} == {str(s) for s in world["sessions"]}
    drain(dialog.book({"session_id": str(world["sessions"][0]), "interpreter": "on"}))
    assert not dialog.is_open and dialog.error == ""
    assert record.notice.startswith("Booked by telephone") and record.bookings[0]["status"] == "awaiting_payment"
    assert call.is_open and (call.call_type, call.outcome, call.offer_id) == ("booking", "booked", str(world["offer"]))
    drain(call.log_call({"call_type": "booking", "outcome": "booked", "offer_id": str(world["offer"]),
                         "notes": "Booked by phone"}))
    assert not call.is_open and "Call logged." in record.notice and not record.suggest_call
    assert [c.notes for c in all_rows(CallLog)] == ["Booked by phone"]


def test_transfer_and_cancel_suggest_a_call_and_refresh_the_record(tab, world):
    record, transfer, cancel, call = tab["record"], tab["transfer"], tab["cancel"], tab["call"]
    first = book(tab, world)
    drain(call.set_open(False))
    drain(transfer.show(first))
    assert transfer.is_open and [c["id"] for c in transfer.choices] == [str(world["sessions"][1])]
    drain(transfer.transfer({"session_id": str(world["sessions"][1])}))
    assert not transfer.is_open and record.notice.startswith(f"Moved {first}")
    assert record.suggest_call and not call.is_open and call.call_type == "transfer"
    second = all_rows(Booking, Booking.offer_id == world["offer"], Booking.status == "awaiting_payment")[0].reference
    drain(cancel.show(second))
    drain(cancel.cancel({"reason": ""}))
    assert cancel.is_open and cancel.error == "Give the reason for cancelling."
    drain(cancel.cancel({"reason": "Client moving abroad"}))
    assert not cancel.is_open and "can be booked again" in record.notice and call.call_type == "cancellation"
    drain(call.show_suggested())
    assert call.is_open and call.outcome == "cancelled"


def test_forged_ids_are_refused_and_change_nothing(tab, world):
    book_dialog, transfer, cancel, ret, call, decide = (tab[k] for k in ("book", "transfer", "cancel", "ret", "call",
                                                                          "decide"))
    drain(book_dialog.show(str(world["theirs"])))           # another organisation's offer
    drain(transfer.show("HBC-NOT-MINE"))
    drain(cancel.show("HBC-NOT-MINE"))
    drain(ret.show(str(world["theirs"])))
    drain(decide.show("999999", True))
    assert not any(d.is_open for d in (book_dialog, transfer, cancel, ret, decide))
    drain(book_dialog.show(str(world["offer"])))
    drain(book_dialog.book({"session_id": "999999"}))         # a session the dialog did not offer
    assert book_dialog.error == "Choose a session from the list."
    book_dialog.offer_id = str(world["theirs"])                # a browser cannot set it, but if it could
    drain(book_dialog.book({"session_id": str(world["sessions"][0])}))
    assert book_dialog.error == "Choose a session from the list."
    drain(call.log_call({"call_type": "enquiry", "outcome": "resolved", "offer_id": str(world["theirs"])}))
    assert call.error == "Choose one of this client's offers."
    assert all_rows(Booking) == [] and all_rows(CallLog) == []


def test_another_clients_record_closes_the_dialogs_and_voids_what_they_held(tab, world):
    record, cancel = tab["record"], tab["cancel"]
    reference = book(tab, world)
    drain(cancel.show(reference))
    assert cancel.is_open
    show(record, world["client_of"][world["second"]])
    assert not any(tab[k].is_open for k in ("book", "transfer", "cancel", "ret", "call", "decide"))
    drain(cancel.cancel({"reason": "Not this client's booking"}))
    assert cancel.error == "This booking is not current."
    assert all_rows(Booking, Booking.reference == reference)[0].status == "awaiting_payment"


def test_every_dialog_handler_rechecks_the_session(tab, world, monkeypatch):
    async def nobody(_state, permission=None):
        raise NotAuthenticated()

    monkeypatch.setattr(page, "require", nobody)
    calls = [
        tab["book"].show(str(world["offer"])), tab["book"].set_mode("online"), tab["book"].set_venue("1"),
        tab["book"].book({"session_id": str(world["sessions"][0])}), tab["transfer"].show("X"),
        tab["transfer"].transfer({"session_id": "1"}), tab["cancel"].show("X"), tab["cancel"].cancel({"reason": "r"}),
        tab["ret"].show(str(world["offer"])), tab["ret"].return_to_police({"reason": "r"}), tab["call"].show(""),
        tab["call"].show_suggested(), tab["call"].log_call({}), tab["decide"].show("1", True),
        tab["decide"].decide({}), tab["record"].load(),
    ]
    for handler_call in calls:
        with pytest.raises(NotAuthenticated):
            drain(handler_call)
    assert all_rows(Booking) == []


def test_a_read_only_user_can_look_but_not_open_a_changing_dialog(tab, world, make_user, monkeypatch):
    reader = actor_for(make_user("hbc.reader", roles=("Read-only",)))
    signed_in(monkeypatch, reader, page)
    show(tab["record"], world["client_of"][world["offer"]])
    assert tab["record"].offers[0]["reference"] == "CLE-R-00001"
    for handler_call in (tab["book"].show(str(world["offer"])), tab["cancel"].show("X"), tab["call"].show("")):
        with pytest.raises(PermissionDenied):
            drain(handler_call)


def test_what_a_tab_may_act_on_stays_on_the_server(tab, world):
    """The ids a tab may act on live in backend vars: set on the server, never in what is sent to the browser."""
    reference = book(tab, world)
    drain(tab["transfer"].show(reference))
    record = tab["record"]
    assert record._offer_ids == {world["offer"]} and record._bookable_offer_ids == set()
    assert record._active_refs == {reference: world["offer"]} and record._transferable_refs == {reference}
    assert tab["transfer"]._choice_ids == {world["sessions"][1]}
    for state in (tab["record"], *(tab[k] for k in ("book", "transfer", "cancel", "ret", "call", "decide"))):
        sent = state.dict()[state.get_full_name()]
        assert not [name for name in sent if name.startswith("_")], state
        assert len(sent) <= 12  # its own few vars, not one state for all six dialogs


def test_calls_logged_one_after_another_say_so_once(tab, world):
    record, call = tab["record"], tab["call"]
    for notes in ("First call", "Second call"):
        drain(call.show(str(world["offer"])))
        drain(call.log_call({"call_type": "enquiry", "outcome": "resolved", "offer_id": str(world["offer"]),
                             "notes": notes}))
        assert record.notice == "Call logged."
    assert [c.notes for c in all_rows(CallLog)] == ["First call", "Second call"]


def test_a_notice_is_gone_when_the_record_is_opened_again(tab, world):
    record = tab["record"]
    book(tab, world)
    assert record.notice.startswith("Booked by telephone")
    show(record, world["client_of"][world["offer"]])  # back to the same client later in the same tab
    assert record.notice == "" and not record.suggest_call
