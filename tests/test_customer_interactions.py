"""Customer Interactions: one contact recorded in one call (found or new person, place, demand type and class,
resolved or handed on), adding to the person's open case, feeding the demand dashboards; and the contact screen's
state driven as a browser would, including another organisation's ids."""

from __future__ import annotations

import pytest
from conftest import actor_for, all_rows
from rent_support import home, seed
from state_support import run, signed_in, substate

from atlas_app.db import write_session
from atlas_app.models.casework import Activity, Case, CaseLookup, CaseTeam, Demand, Intention, Person
from atlas_app.services.casework import people
from atlas_app.services.insight import dashboards
from atlas_app.services.modules import customer_interactions as ci
from atlas_app.services.platform import previews
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.ui.staff.modules.customer_interactions import contact as page_module
from atlas_app.ui.staff.modules.customer_interactions.contact import ContactState


@pytest.fixture
def worker(org, make_user, actor):
    """A case worker of Hartlepool, whose administrator switched the screen (a feature in preview) on."""
    seed(org.id)
    previews.set_enabled(actor, previews.CUSTOMER_INTERACTIONS.code, True)
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


@pytest.fixture
def essex(other_org, make_user, other_actor):
    seed(other_org.id)
    previews.set_enabled(other_actor, previews.CUSTOMER_INTERACTIONS.code, True)
    return actor_for(make_user("tom.reid", roles=("Case worker",), org_info=other_org))


def type_id(actor, name):
    return next(o.id for o in ci.options(actor).demand_types if o.name == name)


def team(org_id: int, name: str = "Contact centre team") -> int:
    with write_session() as s:
        tt = CaseLookup(organisation_id=org_id, kind="team_type", name="Contact centre")
        s.add(tt)
        s.flush()
        t = CaseTeam(organisation_id=org_id, name=name, team_type_id=tt.id)
        s.add(t)
        s.flush()
        return t.id


def test_a_resolved_contact_for_a_new_person_opens_a_case_and_feeds_the_dashboards(worker, actor, org):
    home(org.id, 5001)
    result = ci.record_contact(worker, {"given_name": "Amy", "family_name": "Caller", "uprn": "5001",
                                        "demand_type_id": type_id(worker, "Ask for information"),
                                        "what_matters": "Wants to know when the bins are collected",
                                        "outcome": "resolved"})
    assert not result.added_to_existing and result.person_name == "Amy Caller"
    (demand,) = all_rows(Demand)
    assert demand.demand_class == "value" and demand.one_stop and demand.need_met_at is not None
    case = all_rows(Case)[0]
    assert case.module_id == ci.options(worker).module_id and "Ask for information" in case.title
    measures = dashboards.demand_measures(actor, dashboards.parse_filters({}))
    assert measures.value_total == 1 and measures.failure_total == 0 and sum(measures.one_stop) == 1
    # The same person chasing: failure demand by its type, changed by the officer to value, added to the case.
    person = all_rows(Person)[0].id
    again = ci.record_contact(worker, {"person_id": str(person), "demand_type_id": type_id(worker,
                                                                                           "Chasing progress"),
                                       "what_matters": "Still waiting", "outcome": "resolved"})
    assert again.added_to_existing and again.case_id == result.case_id
    third = ci.record_contact(worker, {"person_id": str(person), "demand_type_id": type_id(worker,
                                                                                          "Chasing progress"),
                                       "demand_class": "value", "what_matters": "Asked about a new bin",
                                       "outcome": "resolved"})
    assert third.case_id == result.case_id
    assert [d.demand_class for d in all_rows(Demand, order_by=Demand.id)] == ["value", "failure", "value"]
    measures = dashboards.demand_measures(actor, dashboards.parse_filters({}))
    assert measures.failure_total == 1 and measures.value_total == 2


def test_handed_to_a_team_and_a_module(worker, org):
    home(org.id, 5001)
    person = people.create_person(worker, {"given_name": "Bo", "family_name": "Caller"})
    team_id = team(org.id)
    rent = next(o for o in ci.options(worker).modules if o.name == "Rent Arrears Monitoring")
    result = ci.record_contact(worker, {"person_id": person, "uprn": "5001",
                                        "demand_type_id": type_id(worker, "Report a problem"),
                                        "what_matters": "Cannot pay the rent this month", "outcome": "handed_on",
                                        "team_id": str(team_id), "handoff_module_id": rent.id})
    assert result.handed_case_ref
    demand = all_rows(Demand)[0]
    assert not demand.one_stop and demand.need_met_at is None
    (intention,) = all_rows(Intention)
    assert intention.team_id == team_id and intention.case_id == result.case_id
    handed = [c for c in all_rows(Case) if c.id != result.case_id]
    assert len(handed) == 1 and handed[0].module_id == int(rent.id)
    assert any("Handed on from Customer Interactions" in a.note for a in all_rows(Activity))
    with pytest.raises(ValidationFailed, match="team or module"):
        ci.record_contact(worker, {"person_id": person, "demand_type_id": type_id(worker, "Report a problem"),
                                   "what_matters": "x", "outcome": "handed_on"})


def test_refusals(worker, essex, org, other_org):
    person = people.create_person(worker, {"given_name": "Cy", "family_name": "Caller"})
    good = {"person_id": person, "demand_type_id": type_id(worker, "Report a problem"), "what_matters": "x",
            "outcome": "resolved"}
    with pytest.raises(ValidationFailed):
        ci.record_contact(worker, {**good, "what_matters": " "})
    with pytest.raises(ValidationFailed):
        ci.record_contact(worker, {**good, "outcome": "shrug"})
    with pytest.raises(ValidationFailed):
        ci.record_contact(worker, {**good, "person_id": ""})
    # Another organisation's person, demand type, team and module are refused; nothing is written.
    with pytest.raises(NotFound):
        ci.record_contact(essex, {**good, "demand_type_id": type_id(essex, "Report a problem")})
    with pytest.raises(ValidationFailed):
        ci.record_contact(worker, {**good, "demand_type_id": type_id(essex, "Report a problem")})
    with pytest.raises(ValidationFailed):
        ci.record_contact(worker, {**good, "outcome": "handed_on", "team_id": str(team(other_org.id))})
    essex_module = next(o for o in ci.options(essex).modules)
    with pytest.raises(ValidationFailed):
        ci.record_contact(worker, {**good, "outcome": "handed_on", "handoff_module_id": essex_module.id})
    with pytest.raises(Conflict):
        ci.record_contact(worker, {**good, "case_id": "C999999"})
    assert all_rows(Demand) == []
    # A new person's names that match someone are refused unless confirmed.
    with pytest.raises(people.PossibleDuplicates):
        ci.record_contact(worker, {**good, "person_id": "", "given_name": "Cy", "family_name": "Caller"})
    ci.record_contact(worker, {**good, "person_id": "", "given_name": "Cy", "family_name": "Caller",
                               "allow_duplicate": True})
    assert len(all_rows(Person, Person.organisation_id == org.id)) == 2


# --- the screen's state ---------------------------------------------------------------------------------------


def test_the_screen_finds_records_and_resets_for_the_next_contact(monkeypatch, worker, org):
    home(org.id, 5001, "1 High Street")
    person = people.create_person(worker, {"given_name": "Dee", "family_name": "Speaker"})
    signed_in(monkeypatch, worker, page_module)
    state = substate(ContactState)
    run(state.load())
    assert state.error == "" and state.demand_types
    run(state.find_person({"who": "dee speaker"}))
    assert state.person_id == str(person) and state.people[0]["name"].startswith("Dee Speaker")
    run(state.find_place({"where": "TS24 7AA"}))
    assert state.uprn == "5001"
    chasing = type_id(worker, "Chasing progress")
    state.choose_type(chasing)
    assert state.demand_class == "failure"  # follows the type
    state.choose_class("value")
    assert state.demand_class == "value"  # editable
    state.choose_class("nonsense")
    assert state.demand_class == "value"
    events = run(state.record({"what_matters": "Wants the repair date", "channel_id": ""}))
    assert state.error == "" and "Contact recorded for Dee Speaker" in state.notice
    assert state.person_id == "" and state.uprn == "" and state.demand_type_id == ""
    assert events  # clears the fields and puts the focus back on "who"
    (demand,) = all_rows(Demand)
    assert demand.demand_class == "value" and demand.description == "Wants the repair date"


def test_the_screen_refuses_other_organisations_ids_and_read_only_users(monkeypatch, worker, essex, org,
                                                                        make_user):
    theirs = people.create_person(essex, {"given_name": "Eve", "family_name": "Elsewhere"})
    signed_in(monkeypatch, worker, page_module)
    state = substate(ContactState)
    run(state.load())
    state.person_id = str(theirs)  # as a browser could send
    state.choose_type(type_id(worker, "Report a problem"))
    run(state.record({"what_matters": "x"}))
    assert state.error == "No such person." and all_rows(Demand) == []
    reader = actor_for(make_user("rita.reader", roles=("Read-only",)))
    signed_in(monkeypatch, reader, page_module)
    other = substate(ContactState)
    with pytest.raises(PermissionDenied):
        run(other.record({"what_matters": "x"}))
