"""The person page's state, driven directly: a case worker edits a person's details, the change is audited, bad
input loses nothing, and a read-only user or another organisation's id gets nowhere."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import actor_for, all_rows
from state_support import run, signed_in, substate
from test_casework_services import seed

from atlas_app.models import AuditEntry
from atlas_app.models.casework import Person
from atlas_app.services.casework import people
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.staff.casework import people as page_module
from atlas_app.ui.staff.casework.people import PersonState


def _open(monkeypatch, actor, person_id: int) -> PersonState:
    signed_in(monkeypatch, actor, page_module)
    state = substate(PersonState)
    state.router.page.params["id"] = str(person_id)  # as the route /casework/person/[id] would give it
    run(state.load())
    return state


def _person(actor) -> int:
    return people.create_person(actor, {"given_name": "Jon", "family_name": "Smyth", "date_of_birth": "1980-02-03",
                                        "preferred_language": "en"})


def test_a_case_worker_corrects_a_name_and_date_of_birth(monkeypatch, org, make_user):
    seed(org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    person_id = _person(worker)
    state = _open(monkeypatch, worker, person_id)
    assert state.found and state.edit == {"title": "", "given": "Jon", "family": "Smyth", "dob": "1980-02-03",
                                          "language": "en", "notes": ""}

    run(state.save_details({"title": "Mr", "given_name": "Jonathan", "family_name": "Smith",
                            "date_of_birth": "1980-03-02", "preferred_language": "pl", "notes": "Prefers calls"}))

    assert state.error == "" and state.notice == "Details saved."
    assert state.name == people.get_person(worker, person_id).name and "Jonathan Smith" in state.name
    assert state.edit["dob"] == "1980-03-02" and state.language == "Polish"
    (row,) = all_rows(Person)
    assert (row.given_name, row.family_name, row.date_of_birth, row.preferred_language) == \
        ("Jonathan", "Smith", date(1980, 3, 2), "pl")
    # The search keys follow the new name.
    assert [p.id for p in people.search_people(worker, name="jonathan smith")] == [person_id]
    updated = [e for e in all_rows(AuditEntry) if e.entity == "person" and e.action == "updated"]
    assert len(updated) == 1 and updated[0].after["family_name"] == "Smith" and \
        updated[0].before["family_name"] == "Smyth"


def test_bad_input_is_refused_and_changes_nothing(monkeypatch, org, make_user):
    seed(org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    person_id = _person(worker)
    state = _open(monkeypatch, worker, person_id)
    for form in ({"given_name": "", "family_name": "Smith"},
                 {"given_name": "Jon", "family_name": "Smith", "date_of_birth": "2999-01-01"},
                 {"given_name": "Jon", "family_name": "Smith", "preferred_language": "klingon"}):
        run(state.save_details(form))
        assert state.error and state.notice == ""
    (row,) = all_rows(Person)
    assert (row.given_name, row.family_name, row.preferred_language) == ("Jon", "Smyth", "en")


def test_read_only_users_cannot_edit_and_other_organisations_people_are_not_found(monkeypatch, org, other_org,
                                                                                  make_user):
    seed(org.id)
    seed(other_org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    reader = actor_for(make_user("rita.shaw", roles=("Read-only",)))
    essex = actor_for(make_user("tom.reid", roles=("Case worker",), org_info=other_org))
    person_id = _person(worker)

    state = _open(monkeypatch, reader, person_id)
    assert state.found and not state.can_manage
    with pytest.raises(PermissionDenied):
        run(state.save_details({"given_name": "Changed", "family_name": "Name"}))
    assert all_rows(Person)[0].given_name == "Jon"

    state = _open(monkeypatch, essex, person_id)
    assert not state.found
    run(state.save_details({"given_name": "Changed", "family_name": "Name"}))
    assert state.error
    assert all_rows(Person)[0].given_name == "Jon"


def test_finding_someone_to_relate_by_a_short_name_or_initials(monkeypatch, org, make_user):
    seed(org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    person_id = _person(worker)
    ng = people.create_person(worker, {"given_name": "Amelia", "family_name": "Ng"})
    state = _open(monkeypatch, worker, person_id)
    run(state.find_people({"name": "Ng"}))
    assert state.error == "" and [r["id"] for r in state.person_results] == [str(ng)]
    run(state.find_people({"name": "A"}))  # initials alone: a message, not an error page or everyone
    assert "at least two letters" in state.error and state.person_results == []


def test_history_is_shown_in_london_time(monkeypatch, org, make_user):
    """A change made at 12:30 UTC in British Summer Time reads 13:30, as every other time in the staff app."""
    from datetime import datetime, timezone

    from conftest import set_columns

    seed(org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    person_id = _person(worker)
    set_columns(AuditEntry, AuditEntry.organisation_id == org.id,
                at=datetime(2026, 7, 1, 12, 30, tzinfo=timezone.utc))
    state = _open(monkeypatch, worker, person_id)
    assert state.history and {h["at"] for h in state.history} == {"01 Jul 2026 13:30"}
