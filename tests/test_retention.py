"""Retention and purge: what is due is anonymised (and only that), a legal hold stops it, a dry run changes nothing,
counts stay, the audit trail keeps verifying with the personal data shredded and still detects tampering, and two
purges at once do the work once."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from conftest import actor_for, all_rows, run_cli, run_threads, set_columns

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import AuditEntry, CallLog, Client, ClientEvent, EmailMessage, Offer
from atlas_app.models.casework import Case, Demand, Person, PersonContact
from atlas_app.services.booking import offers as offers_service
from atlas_app.services.casework import cases, config, people
from atlas_app.services.platform import audit, retention
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed
from atlas_app.timeutil import london_date
from booking_data import add_offers, make_catalogue

TODAY = london_date(utcnow())


def test_months_are_added_to_the_last_day_of_a_shorter_month():
    assert retention.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert retention.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert retention.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert retention.add_months(date(2022, 8, 15), 42) == date(2026, 2, 15)


@pytest.fixture
def world(org, other_org, actor):
    """Hartlepool clients: completed 4 years ago, completed 2 years ago, did not attend 13 months ago, expired 11
    months ago, one whose course is still to come, and one completed long ago under a legal hold; an Essex client
    completed long ago."""
    cat = make_catalogue(org.id)
    ids = add_offers(cat, 6)
    essex = add_offers(make_catalogue(other_org.id, code="ESX"), 1, prefix="ESX")[0]
    plan = [(ids[0], "completed", 48), (ids[1], "completed", 24), (ids[2], "did_not_attend", 13),
            (ids[3], "expired", 11), (ids[4], "referred", 60), (ids[5], "completed", 60), (essex, "completed", 60)]
    for offer_id, status, months_ago in plan:
        set_columns(Offer, Offer.id == offer_id, status=status,
                    offence_date=retention.add_months(TODAY, -months_ago))
    client_of = {o.id: o.client_id for o in all_rows(Offer)}
    set_columns(Client, Client.id == client_of[ids[5]], legal_hold=True)
    offers_service.log_call(actor, client_id=client_of[ids[0]], offer_id=ids[0], call_type="enquiry",
                            outcome="resolved", notes="Said she lives at 4 Elm Road with her sister")
    with write_session() as s:
        audit.record(s, actor, "client", client_of[ids[0]], "updated", before={"phone": "07700 900123"},
                     after={"phone": "07700 900456"}, subject=audit.about_client(client_of[ids[0]]))
        s.add(EmailMessage(organisation_id=org.id, to_address="client0@example.com", subject="Your course",
                           body_text="Dear Client Number0"))
    return {"offers": ids, "client_of": client_of, "essex": client_of[essex], "essex_org": other_org.id}


def _client(client_id: int) -> Client:
    with read_session() as s:
        return s.get(Client, client_id)


def test_a_dry_run_counts_and_changes_nothing(org, world):
    report = retention.purge(org.id, dry_run=True)
    assert report.counts == {"client_completed": 1, "client_not_completed": 1, "case_closed": 0}
    assert report.held == 1
    assert all(c.anonymised_at is None for c in all_rows(Client))


def test_due_clients_are_anonymised_and_the_rest_kept(org, world):
    c = world["client_of"]
    report = retention.purge(org.id)
    assert report.counts == {"client_completed": 1, "client_not_completed": 1, "case_closed": 0}
    gone = [c[world["offers"][0]], c[world["offers"][2]]]
    for client_id in gone:
        row = _client(client_id)
        assert (row.first_name, row.email, row.postcode, row.date_of_birth) == ("Anonymised", "", "", date(1900, 1, 1))
        assert row.anonymised_at is not None
    kept = [c[world["offers"][i]] for i in (1, 3, 4, 5)] + [world["essex"]]  # Hartlepool's purge spares Essex
    assert all(_client(k).anonymised_at is None and _client(k).first_name == "Client" for k in kept)
    # Free text about them is gone; the rows (and so every count) stay.
    assert {x.notes for x in all_rows(CallLog)} == {""}
    assert all(e.detail == "" for e in all_rows(ClientEvent, ClientEvent.client_id.in_(gone)))
    assert len(all_rows(Offer)) == 7
    assert {o.offer_reference for o in all_rows(Offer, Offer.client_id.in_(gone))} == \
        {f"ANON-{o}" for o in (world["offers"][0], world["offers"][2])}
    assert all_rows(EmailMessage, EmailMessage.to_address == "client0@example.com") == []
    # Done is done: a second purge finds nothing.
    assert retention.purge(org.id).total == 0


def test_the_audit_trail_verifies_after_a_purge_and_still_detects_tampering(org, world):
    client_id = world["client_of"][world["offers"][0]]
    report = retention.purge(org.id)
    assert report.audit_entries_shredded >= 1
    about = all_rows(AuditEntry, AuditEntry.subject_kind == "client", AuditEntry.subject_id == client_id,
                     AuditEntry.personal_digest.is_not(None))
    assert about and all(e.before is None and e.after is None and e.shredded_at for e in about)
    with read_session() as s:
        assert audit.verify_trail(s).ok
    # The purge's own entries say which rule and how many, never who.
    purged = all_rows(AuditEntry, AuditEntry.entity == "retention")
    assert {e.after["rule"] for e in purged} == {"client_completed", "client_not_completed"}
    assert "Number0" not in str([e.after for e in purged])
    # Tampering with a shredded entry's remaining fields, or a kept entry's data, is still found.
    set_columns(AuditEntry, AuditEntry.id == about[0].id, username="someone else")
    with read_session() as s:
        assert not audit.verify_trail(s).ok


def test_changing_the_personal_part_of_a_kept_entry_is_detected(org, world):
    entry = all_rows(AuditEntry, AuditEntry.entity == "client", AuditEntry.action == "updated")[0]
    assert entry.personal_digest is not None
    set_columns(AuditEntry, AuditEntry.id == entry.id, after={"phone": "07700 900999"})
    with read_session() as s:
        report = audit.verify_trail(s)
    assert not report.ok and "changed" in report.broken[0].reason


def test_administrators_change_the_periods(org, world, actor, make_user):
    retention.save_rule(actor, "client_completed", 18)
    assert retention.purge(org.id, dry_run=True).counts["client_completed"] == 2  # the 24-month-old one too
    with pytest.raises(ValidationFailed):
        retention.save_rule(actor, "client_completed", 0)
    with pytest.raises(ValidationFailed):
        retention.save_rule(actor, "shoe_sizes", 12)
    clerk = actor_for(make_user("clerk", roles=("Contact centre",)))
    with pytest.raises(PermissionDenied):
        retention.save_rule(clerk, "client_completed", 1)
    with pytest.raises(PermissionDenied):
        retention.purge(org.id, actor=clerk)


def test_two_purges_at_once_do_the_work_once(org, world):
    reports = run_threads(4, lambda _i: retention.purge(org.id))
    assert sum(r.total for r in reports) == 2
    assert len(all_rows(AuditEntry, AuditEntry.entity == "retention")) == 2
    with read_session() as s:
        assert audit.verify_trail(s).ok


# --- casework people ------------------------------------------------------------------------------------------------


@pytest.fixture
def casework(org, make_user):
    with write_session() as s:
        config.seed_configuration(s, org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    module = next(m for m in config.list_modules(worker) if m.name == "Customer Interactions")
    demand_type = config.options(worker, "demand_type", module.id)[0].id
    contact_type = config.options(worker, "contact_type")[0].id

    def person(name: str, closed_years_ago: float | None) -> tuple[int, int]:
        pid = people.create_person(worker, {"given_name": name, "family_name": "Jones", "date_of_birth": "1970-01-01"},
                                   allow_duplicate=True)
        people.add_contact(worker, pid, contact_type, "07700 900111")
        case_id = cases.create_case(worker, module_id=module.id, title=f"{name} Jones: noisy neighbour",
                                    person_id=pid)
        cases.add_demand(worker, case_id, {"demand_type_id": demand_type, "description": f"{name} says the flat "
                                                                                           "next door plays music"})
        if closed_years_ago is not None:
            cases.set_case_status(worker, case_id, "closed")
            set_columns(Case, Case.id == case_id,
                        closed_at=datetime.now(timezone.utc) - timedelta(days=365 * closed_years_ago))
        return pid, case_id

    return {"worker": worker, "module": module.id, "old": person("Olwen", 7), "recent": person("Rhys", 2),
            "open": person("Ffion", None)}


def test_a_person_whose_cases_closed_long_ago_is_anonymised(org, casework):
    report = retention.purge(org.id)
    assert report.counts["case_closed"] == 1
    old_pid, old_case = casework["old"]
    with read_session() as s:
        person = s.get(Person, old_pid)
        assert (person.given_name, person.date_of_birth, person.anonymised_at is not None) == ("Anonymised", None, True)
        assert s.get(Case, old_case).title == f"Case {old_case}"
        assert {d.description for d in all_rows(Demand, Demand.case_id == old_case)} == {""}
    assert all_rows(PersonContact, PersonContact.person_id == old_pid) == []
    for key in ("recent", "open"):
        pid, case_id = casework[key]
        assert all_rows(Person, Person.id == pid)[0].anonymised_at is None
        assert all_rows(Demand, Demand.case_id == case_id)[0].description.endswith("plays music")
    with read_session() as s:
        assert audit.verify_trail(s).ok


def test_a_module_period_and_a_legal_hold_on_a_case(org, casework, actor):
    retention.save_rule(actor, "case_closed", 12, module_id=casework["module"])
    assert retention.purge(org.id, dry_run=True).counts["case_closed"] == 2  # the two-year-old case too
    retention.set_legal_hold(actor, "case", casework["recent"][1], True)
    report = retention.purge(org.id, dry_run=True)
    assert (report.counts["case_closed"], report.held) == (1, 1)
    held = all_rows(AuditEntry, AuditEntry.action == "legal_hold_on")
    assert len(held) == 1 and held[0].entity == "case_file"


def test_the_purge_command(org, world):
    dry = run_cli("purge", "--dry-run", "--org", org.slug)
    assert dry.returncode == 0 and "would anonymise 1 by rule client_completed" in dry.stdout, dry.stdout
    assert all(c.anonymised_at is None for c in all_rows(Client))
    done = run_cli("purge")  # every organisation: Essex's long-completed client too
    assert done.returncode == 0 and "anonymised 1 by rule client_completed" in done.stdout, done.stdout
    assert "0 files deleted" in done.stdout
    assert {c.organisation_id for c in all_rows(Client, Client.anonymised_at.is_not(None))} == {org.id,
                                                                                               world["essex_org"]}
    assert len(all_rows(Client, Client.anonymised_at.is_not(None))) == 3
    assert run_cli("purge", "--org", "nowhere").returncode == 2


# --- entries from before the kept digest ----------------------------------------------------------------------------


def _old_format_entry(monkeypatch, actor, person_id: int) -> AuditEntry:
    """An entry about a person as it was written before migration 0035: its hash covers the data itself."""
    with monkeypatch.context() as m:
        m.setattr(audit, "keeps_personal_apart", lambda kind, entity: False)
        with write_session() as s:
            audit.record(s, actor, "person", person_id, "updated", before={"family_name": "Jones"},
                         after={"family_name": "Jones-Evans", "email": "olwen.old@example.org"},
                         subject=audit.about_person(person_id))
    entry = all_rows(AuditEntry, AuditEntry.entity == "person", AuditEntry.action == "updated",
                     order_by=AuditEntry.id)[-1]
    assert entry.personal_digest is None
    return entry


def test_old_entries_are_resealed_then_shredded_and_tampering_is_still_found(org, casework, actor, monkeypatch):
    from atlas_app.models import AuditChainHead

    person_id = casework["old"][0]
    old = _old_format_entry(monkeypatch, actor, person_id)
    with write_session() as s:
        audit.record(s, actor, "setting", "x", "changed", after={"n": 1})  # a later entry, re-linked too
    # As it is, a purge cannot shred it: its hash covers the data.
    retention.purge(org.id, dry_run=True)
    with read_session() as s:
        head = s.get(AuditChainHead, org.id)
        old_head = (head.last_seq, head.last_hash)

    done = run_cli("audit-reseal")
    assert done.returncode == 0 and old_head[1] in done.stdout, done.stdout + done.stderr
    resealed = all_rows(AuditEntry, AuditEntry.id == old.id)[0]
    assert resealed.personal_digest == audit.personal_digest(old.before, old.after) and resealed.hash != old.hash
    sealing = all_rows(AuditEntry, AuditEntry.entity == "audit_trail", AuditEntry.action == "resealed")
    assert len(sealing) == 1 and sealing[0].organisation_id == org.id and sealing[0].seq == old_head[0] + 1
    assert sealing[0].after["old_head_hash"] == old_head[1] and sealing[0].after["old_head_seq"] == old_head[0]
    assert sealing[0].after["entries_resealed"] >= 1
    with read_session() as s:
        assert audit.verify_trail(s).ok
    # Done once: a second run finds nothing more to re-seal.
    again = run_cli("audit-reseal")
    assert again.returncode == 0 and "Nothing to re-seal" in again.stdout

    report = retention.purge(org.id)
    assert report.counts["case_closed"] == 1
    shredded = all_rows(AuditEntry, AuditEntry.id == old.id)[0]
    assert shredded.before is None and shredded.after is None and shredded.shredded_at is not None
    assert "olwen.old@example.org" not in str([e.after for e in all_rows(AuditEntry)])
    verify = run_cli("audit-verify")
    assert verify.returncode == 0, verify.stdout
    # Tampering with what is left of it is still found.
    set_columns(AuditEntry, AuditEntry.id == old.id, action="created")
    with read_session() as s:
        assert not audit.verify_trail(s).ok
    assert run_cli("audit-verify").returncode == 1


def test_resealing_refuses_a_broken_trail_and_changes_nothing(org, casework, actor, monkeypatch):
    old = _old_format_entry(monkeypatch, actor, casework["old"][0])
    set_columns(AuditEntry, AuditEntry.id == old.id, after={"family_name": "Someone else"})
    hashes = {e.id: e.hash for e in all_rows(AuditEntry)}
    refused = run_cli("audit-reseal")
    assert refused.returncode == 1 and "Refused" in refused.stderr and "broken" in refused.stderr
    assert {e.id: e.hash for e in all_rows(AuditEntry)} == hashes
    assert all_rows(AuditEntry, AuditEntry.entity == "audit_trail") == []
