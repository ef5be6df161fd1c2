"""The casework settings page's state, driven directly: an administrator starts a new departmental module with no
code change, edits and retires it; nobody else can."""

from __future__ import annotations

import pytest
from conftest import actor_for
from state_support import run, signed_in, substate
from test_casework_services import seed

from atlas_app.services.casework import cases
from atlas_app.services.casework import config
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.staff.casework import settings as page_module
from atlas_app.ui.staff.casework.settings import CaseSettingsState


def _open(monkeypatch, actor) -> CaseSettingsState:
    signed_in(monkeypatch, actor, page_module)
    state = substate(CaseSettingsState)
    run(state.load())
    return state


def test_an_administrator_starts_a_new_module_and_it_is_usable_at_once(monkeypatch, org, actor, make_user):
    seed(org.id)
    state = _open(monkeypatch, actor)
    before = len(state.module_rows)
    run(state.add_module({"name": "  Housing Repairs ", "description": "Responsive repairs to council homes"}))
    assert state.error == "" and "Housing Repairs" in state.notice
    assert len(state.module_rows) == before + 1
    module = next(m for m in state.module_rows if m["name"] == "Housing Repairs")
    assert module["state"] == "active" and module["use"] == "Records casework"

    # Its lists are added on the same page, and a case can be opened in it straight away.
    run(state.choose({"kind": "task_category", "module_id": module["id"]}))
    run(state.add({"name": "Inspect damp"}))
    assert [r["name"] for r in state.rows] == ["Inspect damp"]
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    case_id = cases.create_case(worker, module_id=int(module["id"]), title="Damp in back bedroom")
    assert cases.get_case(worker, case_id).title == "Damp in back bedroom"

    # A duplicate name is refused with the reason, and nothing is added.
    run(state.add_module({"name": "housing repairs"}))
    assert "already a module called" in state.error
    assert len(state.module_rows) == before + 1


def test_editing_and_retiring_a_module(monkeypatch, org, actor):
    seed(org.id)
    state = _open(monkeypatch, actor)
    run(state.add_module({"name": "Pest Control"}))
    module_id = next(m["id"] for m in state.module_rows if m["name"] == "Pest Control")
    run(state.start_module_edit(module_id))
    run(state.save_module({"name": "Pest Control Service", "description": "Rats, wasps, mice", "read_only": "on"}))
    row = next(m for m in state.module_rows if m["id"] == module_id)
    assert (row["name"], row["description"], row["use"]) == ("Pest Control Service", "Rats, wasps, mice",
                                                             "Read-only consumer")
    assert state.editing_module == ""

    run(state.set_module_active(module_id, False))
    assert next(m for m in state.module_rows if m["id"] == module_id)["state"] == "retired"
    assert "Pest Control Service" not in [m.name for m in config.list_modules(actor)]
    run(state.set_module_active(module_id, True))
    assert "Pest Control Service" in [m.name for m in config.list_modules(actor)]


def test_only_administrators_manage_modules(monkeypatch, org, make_user):
    seed(org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    signed_in(monkeypatch, worker, page_module)
    state = substate(CaseSettingsState)
    with pytest.raises(PermissionDenied):
        run(state.load())
    with pytest.raises(PermissionDenied):
        run(state.add_module({"name": "Sneaky"}))
    assert "Sneaky" not in [m.name for m in config.list_modules(worker, include_inactive=True)]
