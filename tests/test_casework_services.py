"""Casework services: configuration lists, people (search, duplicates, merge), cases, my work, and tenancy seen
from the attacker's side."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import PROJECT_ROOT, actor_for, all_rows

from atlas_app.db import write_session
from atlas_app.models import AuditEntry
from atlas_app.models.casework import CaseLookup, Person, PersonAddress
from atlas_app.services.casework import cases
from atlas_app.services.casework import config
from atlas_app.services.casework import people
from atlas_app.services.casework import gazetteer
from atlas_app.services.casework.search import similarity, soundex
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

SAMPLE = PROJECT_ROOT / "assets" / "samples" / "gazetteer-abp-plus.csv"


def seed(org_id: int) -> None:
    with write_session() as s:
        config.seed_configuration(s, org_id)


@pytest.fixture
def worker(org, make_user):
    seed(org.id)
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


@pytest.fixture
def essex(other_org, make_user):
    seed(other_org.id)
    return actor_for(make_user("tom.reid", roles=("Case worker",), org_info=other_org))


def lookup(actor, kind, name, module_id=None):
    return next(v.id for v in config.options(actor, kind, module_id) if v.name == name)


def module_id(actor, name="Customer Interactions"):
    return next(m.id for m in config.list_modules(actor) if m.name == name)


# --- configuration ---------------------------------------------------------------------------------------------


def test_seed_creates_five_modules_with_their_lists(worker):
    modules = config.list_modules(worker)
    assert [m.name for m in modules] == [
        "Customer Interactions", "Strategic Measures Dashboard", "Gas and Electric Utilities Servicing",
        "Rent Arrears Monitoring", "Environmental Services Ticketing"]
    assert [m.is_read_only for m in modules] == [False, True, False, False, False]
    gas = module_id(worker, "Gas and Electric Utilities Servicing")
    types = config.options(worker, "demand_type", gas)
    assert {t.demand_class for t in types} == {"value", "failure"}
    assert all(t.module_id == gas for t in types)
    rel = next(v for v in config.options(worker, "relationship_type") if v.name == "Parent of")
    assert rel.reverse_name == "Child of"


def test_admin_adds_renames_reorders_and_retires_values(actor, org, worker):
    mid = module_id(actor)
    new = config.add_lookup(actor, "task_category", "Home visit", module_id=mid)
    names = [v.name for v in config.options(worker, "task_category", mid)]
    assert names[-1] == "Home visit"
    config.move_lookup(actor, new, -1)
    assert [v.name for v in config.options(worker, "task_category", mid)][-2] == "Home visit"
    config.rename_lookup(actor, new, "Home visit (assessment)")
    config.set_lookup_active(actor, new, False)
    assert "Home visit (assessment)" not in [v.name for v in config.options(worker, "task_category", mid)]
    assert any(v.id == new and not v.is_active for v in config.list_lookups(actor, "task_category"))
    with pytest.raises(Conflict):
        config.add_lookup(actor, "task_category", "call back", module_id=mid)
    with pytest.raises(ValidationFailed):
        config.add_lookup(actor, "demand_type", "Ask again", module_id=mid)  # value or failure is required
    with pytest.raises(ValidationFailed):
        config.add_lookup(actor, "relationship_type", "Guardian of")  # the other direction is required
    assert config.add_lookup(actor, "relationship_type", "Guardian of", reverse_name="Ward of")
    with pytest.raises(PermissionDenied):
        config.add_lookup(worker, "task_category", "Sneaky", module_id=mid)
    actions = {e.action for e in all_rows(AuditEntry, AuditEntry.entity == "case_lookup")}
    assert {"created", "moved", "renamed", "retired"} <= actions


def test_retired_value_stays_on_old_records_but_is_not_offered(actor, worker):
    mid = module_id(worker)
    case_id = cases.create_case(worker, module_id=mid, title="Bin not emptied")
    dtype = lookup(worker, "demand_type", "Chasing progress", mid)
    cases.add_demand(worker, case_id, {"demand_type_id": dtype, "received_at": "2024-05-01T09:00"})
    config.set_lookup_active(actor, dtype, False)
    assert cases.get_case(worker, case_id).demands[0].demand_type == "Chasing progress"
    with pytest.raises(ValidationFailed, match="retired"):
        cases.add_demand(worker, case_id, {"demand_type_id": dtype})


def test_teams_belong_to_a_team_type_and_hold_users(actor, worker):
    ttype = lookup(worker, "team_type", "Contact centre", module_id(worker))
    team = config.save_team(actor, None, name="Customer Services", team_type_id=ttype)
    config.set_team_members(actor, team, [worker.user_id])
    [row] = config.list_teams(worker)
    assert row.team_type == "Contact centre" and row.module_name == "Customer Interactions"
    assert row.member_ids == [worker.user_id]


# --- people ----------------------------------------------------------------------------------------------------


def test_soundex_and_similarity():
    assert soundex("Robert") == soundex("Rupert") == "R163"
    assert soundex("Smith") == soundex("Smyth") == "S530"
    assert soundex("Ashcraft") == "A261"
    assert similarity("jonathan smith", "jonathon smyth") > 0.3


def test_search_tolerates_spelling_partial_input_and_order(worker):
    jon = people.create_person(worker, {"given_name": "Jonathan", "family_name": "Smith",
                                        "date_of_birth": "1980-02-03"})
    people.create_person(worker, {"given_name": "Mary", "family_name": "O'Brien"})
    for query in ("jonathan smith", "Jonathon Smyth", "smith jon", "smi", "JON", "Smiht"):
        assert [p.id for p in people.search_people(worker, name=query)] == [jon], query
    assert [p.name for p in people.search_people(worker, name="obrien")] == ["Mary O'Brien"]
    assert [p.id for p in people.search_people(worker, date_of_birth="1980-02-03")] == [jon]
    assert people.search_people(worker, name="smith", date_of_birth="1980-02-04") == []


def test_search_by_reference_postcode_and_address(worker):
    gazetteer.import_gazetteer(worker, SAMPLE, "abp-plus")
    pid = people.create_person(worker, {"given_name": "Asha", "family_name": "Patel", "uprn": "100110001005",
                                        "from_date": "2020-01-01"})
    nino = lookup(worker, "reference_type", "National Insurance number")
    people.add_reference(worker, pid, nino, "ab 12 34 56 c")
    assert [p.id for p in people.search_people(worker, reference="AB123456C")] == [pid]
    assert [p.id for p in people.search_people(worker, postcode="ts26 9de")] == [pid]
    assert [p.id for p in people.search_people(worker, postcode="TS26")] == [pid]
    assert [p.id for p in people.search_people(worker, address="victoria flat 1")] == [pid]
    [row] = people.search_people(worker, address="york road")
    assert row.address.startswith("Flat 1, Victoria House") and row.postcode == "TS26 9DE"
    with pytest.raises(ValidationFailed):
        people.add_reference(worker, pid, nino, "12345")


def test_possible_duplicates_flagged_on_create(worker):
    first = people.create_person(worker, {"given_name": "Katherine", "family_name": "Jones",
                                          "date_of_birth": "1975-06-01"})
    with pytest.raises(people.PossibleDuplicates) as exc:
        people.create_person(worker, {"given_name": "Kathryn", "family_name": "Jonés",
                                      "date_of_birth": "1975-06-01"})
    assert [c.id for c in exc.value.candidates] == [first]
    # A different date of birth is a different person; creating anyway is allowed and audited.
    people.create_person(worker, {"given_name": "Katherine", "family_name": "Jones", "date_of_birth": "1990-01-01"})
    second = people.create_person(worker, {"given_name": "Kathryn", "family_name": "Jones",
                                           "date_of_birth": "1975-06-01"}, allow_duplicate=True)
    entry = all_rows(AuditEntry, AuditEntry.entity == "person", AuditEntry.entity_id == str(second))[0]
    assert entry.after["created_despite_possible_duplicate"] is True


def test_relationships_read_both_ways_and_address_history(worker):
    gazetteer.import_gazetteer(worker, SAMPLE, "abp-plus")
    mum = people.create_person(worker, {"given_name": "Sarah", "family_name": "Hall", "uprn": "100110001001",
                                        "from_date": "2010-01-01"})
    son = people.create_person(worker, {"given_name": "Liam", "family_name": "Hall"})
    people.add_relationship(worker, mum, son, lookup(worker, "relationship_type", "Parent of"))
    assert [(r.label, r.value) for r in people.get_person(worker, mum).relationships] == [("Parent of", "Liam Hall")]
    assert [(r.label, r.value) for r in people.get_person(worker, son).relationships] == [("Child of", "Sarah Hall")]
    people.add_address(worker, mum, "100110001003", "2023-04-01")
    detail = people.get_person(worker, mum)
    assert [(a.value, a.extra) for a in detail.addresses] == [
        ("100110001003", "2023-04-01 to now"), ("100110001001", "2010-01-01 to 2023-04-01")]
    with pytest.raises(ValidationFailed):
        people.add_relationship(worker, mum, mum, lookup(worker, "relationship_type", "Parent of"))
    with pytest.raises(ValidationFailed, match="not in the gazetteer"):
        people.add_address(worker, mum, "999999")


def test_merge_moves_everything_and_is_audited(worker):
    gazetteer.import_gazetteer(worker, SAMPLE, "abp-plus")
    keep = people.create_person(worker, {"given_name": "Dave", "family_name": "Brown"})
    gone = people.create_person(worker, {"given_name": "David", "family_name": "Browne",
                                         "date_of_birth": "1966-09-09", "uprn": "100110001002"},
                                allow_duplicate=True)
    other = people.create_person(worker, {"given_name": "Ann", "family_name": "Brown"}, allow_duplicate=True)
    mobile = lookup(worker, "contact_type", "Mobile phone")
    people.add_contact(worker, gone, mobile, "07700 900123")
    people.add_relationship(worker, other, gone, lookup(worker, "relationship_type", "Partner of"))
    case_id = cases.create_case(worker, module_id=module_id(worker), title="Help", person_id=gone)
    cases.log_activity(worker, case_id, tasks=[{"task_category_id": lookup(worker, "task_category", "Call back",
                                                                           module_id(worker)),
                                                "person_id": gone, "minutes": 5}])
    people.merge_people(worker, keep, gone)
    detail = people.get_person(worker, keep)
    assert detail.date_of_birth == date(1966, 9, 9)
    assert [c.value for c in detail.contacts] == ["07700 900123"]
    assert [a.value for a in detail.addresses] == ["100110001002"]
    assert [r.value for r in detail.relationships] == ["Ann Brown"]
    assert [c.label for c in detail.cases] == ["Help"]
    assert cases.get_case(worker, case_id).activities[0].tasks[0].person == "Dave Brown"
    assert people.get_person(worker, gone).merged_into_ref == people.person_ref(keep)
    assert [p.id for p in people.search_people(worker, name="brown dav")] == [keep]
    actions = [e.action for e in all_rows(AuditEntry, AuditEntry.entity == "person", order_by=AuditEntry.id)]
    assert actions[-2:] == ["merged_in", "merged_into"]
    with pytest.raises(Conflict):
        people.merge_people(worker, keep, gone)


# --- cases -----------------------------------------------------------------------------------------------------


def test_case_with_demands_activity_intentions_and_system_conditions(worker):
    gazetteer.import_gazetteer(worker, SAMPLE, "abp-plus")
    mid = module_id(worker)
    pid = people.create_person(worker, {"given_name": "Lucy", "family_name": "Grey", "uprn": "100110001001"})
    case_id = cases.create_case(worker, module_id=mid, title="Council tax bill query", person_id=pid,
                                role_id=lookup(worker, "case_role", "Customer"), uprn="100110001001")
    value = cases.add_demand(worker, case_id, {
        "demand_type_id": lookup(worker, "demand_type", "Ask for information", mid),
        "category_id": lookup(worker, "demand_category", "Council tax", mid),
        "channel_id": lookup(worker, "channel", "Telephone"), "received_at": "2024-05-01T09:00",
        "one_stop": True, "need_met_at": "2024-05-01T09:20"})
    failure = cases.add_demand(worker, case_id, {
        "demand_type_id": lookup(worker, "demand_type", "Chasing progress", mid),
        "received_at": "2024-05-03T10:00"})
    cases.set_need_met(worker, failure, "2024-05-05T12:30")
    cases.log_activity(worker, case_id, note="Called back", tasks=[
        {"task_category_id": lookup(worker, "task_category", "Give information", mid), "person_id": pid,
         "minutes": 10},
        {"task_category_id": lookup(worker, "task_category", "Call back", mid), "minutes": "15"}])
    tomorrow = date.today() + timedelta(days=1)
    cases.add_intention(worker, case_id, intention_type_id=lookup(worker, "intention_type", "Call back", mid),
                        due_on=tomorrow.isoformat())
    cases.add_system_condition(worker, case_id, category_id=lookup(worker, "system_condition", "IT system", mid),
                               note="Billing screen down", minutes_lost=20, demand_id=failure)
    detail = cases.get_case(worker, case_id)
    assert [(d.demand_class, d.end_to_end, d.one_stop) for d in detail.demands] == [
        ("value", "20 min", True), ("failure", "2 d 2 h", False)]
    assert detail.demands[0].category == "Council tax" and detail.demands[0].channel == "Telephone"
    assert detail.people[0].role == "Customer" and detail.places[0].ref == "100110001001"
    [activity] = detail.activities
    assert activity.minutes == 25 and [t.person for t in activity.tasks] == ["Lucy Grey", ""]
    assert detail.intentions[0].due_on == tomorrow and not detail.intentions[0].overdue
    assert detail.conditions[0].demand == "Chasing progress" and detail.conditions[0].minutes_lost == 20
    assert value
    with pytest.raises(ValidationFailed, match="value or failure|Choose"):
        cases.add_demand(worker, case_id, {"demand_type_id": lookup(worker, "demand_type", "Arrangement to pay",
                                                                    module_id(worker, "Rent Arrears Monitoring"))})
    with pytest.raises(ValidationFailed):
        cases.log_activity(worker, case_id, tasks=[])
    with pytest.raises(ValidationFailed):
        cases.create_case(worker, module_id=module_id(worker, "Strategic Measures Dashboard"), title="No")


def test_my_work_lists_own_and_team_intentions_with_overdue(actor, worker, make_user):
    mid = module_id(worker)
    colleague = actor_for(make_user("sam.lee", roles=("Case worker",)))
    team = config.save_team(actor, None, name="Contact Centre", team_type_id=lookup(worker, "team_type",
                                                                                     "Contact centre", mid))
    config.set_team_members(actor, team, [worker.user_id])
    case_id = cases.create_case(colleague, module_id=mid, title="Missed bin")
    itype = lookup(worker, "intention_type", "Call back", mid)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    cases.add_intention(colleague, case_id, intention_type_id=itype, due_on=yesterday, owner_user_id=worker.user_id)
    cases.add_intention(colleague, case_id, intention_type_id=itype, due_on=date.today().isoformat(), team_id=team)
    cases.add_intention(colleague, case_id, intention_type_id=itype, due_on=yesterday)  # colleague's own
    work = cases.my_work(worker)
    assert [(w.overdue, w.due_today, w.owner) for w in work] == [
        (True, False, "Kate Morris"), (False, True, "Team: Contact Centre")]
    cases.complete_intention(worker, work[0].id, "Spoke to the customer")
    assert len(cases.my_work(worker)) == 1
    with pytest.raises(Conflict):
        cases.complete_intention(worker, work[0].id, "again")


def test_read_only_users_cannot_change_casework(worker, make_user):
    reader = actor_for(make_user("rita.shaw", roles=("Read-only",)))
    case_id = cases.create_case(worker, module_id=module_id(worker), title="A case")
    assert cases.get_case(reader, case_id).title == "A case"
    with pytest.raises(PermissionDenied):
        cases.create_case(reader, module_id=module_id(worker), title="No")
    with pytest.raises(PermissionDenied):
        people.create_person(reader, {"given_name": "A", "family_name": "B"})
    clerk = actor_for(make_user("ben.hughes", roles=("Booking staff",)))
    with pytest.raises(PermissionDenied):
        cases.get_case(clerk, case_id)


# --- tenancy, from the attacker's side --------------------------------------------------------------------------


def test_another_organisations_ids_are_not_found(worker, essex):
    gazetteer.import_gazetteer(worker, SAMPLE, "abp-plus")
    mid = module_id(worker)
    pid = people.create_person(worker, {"given_name": "Hidden", "family_name": "Person", "uprn": "100110001001"})
    other_pid = people.create_person(essex, {"given_name": "Essex", "family_name": "Person"})
    case_id = cases.create_case(worker, module_id=mid, title="Private", person_id=pid)
    demand = cases.add_demand(worker, case_id, {"demand_type_id": lookup(worker, "demand_type",
                                                                         "Report a problem", mid)})
    intention = cases.add_intention(worker, case_id, intention_type_id=lookup(worker, "intention_type",
                                                                               "Call back", mid),
                                    due_on=date.today().isoformat())
    hbc_value = lookup(worker, "task_category", "Call back", mid)
    essex_case = cases.create_case(essex, module_id=module_id(essex), title="Mine")
    essex_admin_like = essex  # a case worker of Essex trying Hartlepool's ids
    for call in (
        lambda: people.get_person(essex_admin_like, pid),
        lambda: people.add_contact(essex, pid, lookup(essex, "contact_type", "Email"), "a@b.example"),
        lambda: people.add_relationship(essex, other_pid, pid, lookup(essex, "relationship_type", "Parent of")),
        lambda: people.merge_people(essex, other_pid, pid),
        lambda: cases.get_case(essex, case_id),
        lambda: cases.link_person(essex, case_id, other_pid),
        lambda: cases.link_person(essex, essex_case, pid),
        lambda: cases.add_demand(essex, case_id, {}),
        lambda: cases.set_need_met(essex, demand),
        lambda: cases.complete_intention(essex, intention, "done"),
        lambda: cases.log_activity(essex, case_id, tasks=[{"task_category_id": hbc_value}]),
    ):
        with pytest.raises(NotFound):
            call()
    # Hartlepool's lookup values, places and people are not usable in Essex's records.
    with pytest.raises(ValidationFailed):
        cases.log_activity(essex, essex_case, tasks=[{"task_category_id": hbc_value}])
    with pytest.raises(ValidationFailed):
        cases.link_place(essex, essex_case, "100110001001")
    with pytest.raises(NotFound):
        config.rename_lookup(actor_for_admin_of(essex), hbc_value, "Hacked")
    assert people.search_people(essex, name="hidden") == []
    assert cases.list_cases(essex, search="Private") == []
    assert cases.my_work(essex) == []
    assert all(v.organisation_id == worker.organisation_id
               for v in all_rows(CaseLookup, CaseLookup.id == hbc_value))
    assert all_rows(Person, Person.id == pid)[0].merged_into_id is None
    assert len(all_rows(PersonAddress, PersonAddress.person_id == pid)) == 1


def actor_for_admin_of(actor):
    from dataclasses import replace

    from atlas_app.services.platform.permissions import ALL_PERMISSIONS

    return replace(actor, permissions=frozenset(ALL_PERMISSIONS))
