"""The retention page's state, driven as a browser could: an administrator changes a period, runs a dry run, sets a
legal hold; anyone else, or another organisation's record, gets nowhere."""

from __future__ import annotations

import pytest
from conftest import actor_for, all_rows
from state_support import run, signed_in, substate

from atlas_app.models import Client, RetentionRule
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.staff.admin import retention as page
from atlas_app.ui.staff.admin.retention import RetentionState
from booking_data import add_offers, make_catalogue


def _open(monkeypatch, actor) -> RetentionState:
    signed_in(monkeypatch, actor, page)
    state = substate(RetentionState)
    run(state.load())
    return state


def test_an_administrator_changes_a_period_and_sees_a_dry_run(monkeypatch, org, actor):
    state = _open(monkeypatch, actor)
    assert {r["kind"]: r["months"] for r in state.rows} == {"client_completed": "42", "client_not_completed": "12",
                                                            "case_closed": "72"}
    run(state.save({"rule": "client_not_completed:", "months": "18"}))
    assert state.error == "" and state.notice == "Retention period saved."
    assert [(r.kind, r.months) for r in all_rows(RetentionRule)] == [("client_not_completed", 18)]
    run(state.save({"rule": "client_not_completed:", "months": "lots"}))
    assert "whole number" in state.error
    run(state.dry_run())
    assert state.due.startswith("A purge today would anonymise 0 records")


def test_a_legal_hold_on_this_organisations_record_only(monkeypatch, org, other_org, actor):
    add_offers(make_catalogue(org.id), 1)
    add_offers(make_catalogue(other_org.id, code="ESX"), 1, prefix="ESX")
    mine_client, theirs_client = (all_rows(Client, Client.organisation_id == o)[0].id for o in (org.id, other_org.id))
    state = _open(monkeypatch, actor)
    run(state.hold({"kind": "client", "record_id": str(mine_client), "action": "on"}))
    assert state.notice == "Legal hold set."
    run(state.hold({"kind": "client", "record_id": str(theirs_client), "action": "on"}))
    assert "No such client" in state.error
    assert {c.id: c.legal_hold for c in all_rows(Client)} == {mine_client: True, theirs_client: False}


def test_someone_without_the_permission_gets_nothing(monkeypatch, org, make_user):
    clerk = actor_for(make_user("clerk", roles=("Contact centre",)))
    signed_in(monkeypatch, clerk, page)
    state = substate(RetentionState)
    with pytest.raises(PermissionDenied):
        run(state.load())
    with pytest.raises(PermissionDenied):
        run(state.save({"rule": "client_completed:", "months": "1"}))
    assert all_rows(RetentionRule) == []
