"""Retention and purge: personal records are anonymised when their organisation's retention period has run out.

The rules (``RetentionRule``, editable by administrators; shipped defaults from NDORS practice and UK casework):

* ``client_completed``: a client whose offers all ended with a completed course is kept 42 months (3 years 6 months)
  from the latest offence date;
* ``client_not_completed``: a client whose offers all ended otherwise (did not attend, expired, returned) is kept
  12 months from the latest offence date (a client with any completed offer follows the first rule);
* ``case_closed``: a casework person is kept 72 months (6 years) after the last of their cases closed; a module may
  have its own period, otherwise the organisation's rule (with no module) applies.

A purge anonymises what is due: names, contact details, dates of birth, addresses, free text (call notes, special
requests, timeline details, needs, case titles, demand descriptions, activity and intention notes), queued and
sent emails to the person, and the personal part of the audit entries about them (``audit.shred_subjects``: the
chain keeps verifying through each entry's kept digest). Rows themselves stay, so every count in the dashboards and
reports keeps its history. A legal hold on a client, a person or one of the person's cases stops it. Each purge
writes one audit entry per rule with how many records it anonymised, never the records themselves.

``purge(organisation_id, dry_run=True)`` counts what a purge would do and changes nothing.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import String, cast, delete, literal, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import CaseStatus, OfferStatus
from atlas_app.models import ACTIVE_BOOKING_STATUSES, Booking, CallLog, Client, ClientEvent, EmailMessage, Offer, Organisation, RetentionRule
from atlas_app.models import SpecialRequest
from atlas_app.models.casework import (
    Activity,
    Case,
    CaseModule,
    CasePerson,
    Demand,
    Intention,
    Person,
    PersonAddress,
    PersonContact,
    PersonReference,
    PersonRelationship,
)
from atlas_app.services.platform import audit, bounds, nightly
from atlas_app.services.platform.actor import Actor, system_actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date


@dataclass(frozen=True)
class RuleKind:
    code: str
    label: str
    default_months: int
    measured_from: str


KINDS: dict[str, RuleKind] = {k.code: k for k in (
    RuleKind("client_completed", "Clients whose course was completed", 42, "the latest offence date"),
    RuleKind("client_not_completed", "Clients who did not attend, or whose offer expired or was returned", 12,
             "the latest offence date"),
    RuleKind("case_closed", "Casework people, after their last case closed", 72, "the day the last case closed"),
)}
MAX_MONTHS = 1200
ANONYMISED = "Anonymised"
_ANON_BIRTH = date(1900, 1, 1)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, on the last day of a shorter month (31 January + 1 month = 28/29 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- the rules ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    kind: str
    label: str
    months: int
    measured_from: str
    module_id: int | None
    module_name: str
    is_default: bool


def _months_by_rule(s: Session, org_id: int) -> dict[tuple[str, int | None], int]:
    stored = {(r.kind, r.module_id): r.months
              for r in s.exec(select(RetentionRule).where(RetentionRule.organisation_id == org_id)).all()}
    return {**{(k, None): kind.default_months for k, kind in KINDS.items()}, **stored}


def list_rules(actor: Actor) -> list[RuleRow]:
    """The organisation's rules: one per kind, and a casework rule for each module that has its own."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        stored = {(r.kind, r.module_id) for r in s.exec(select(RetentionRule).where(
            RetentionRule.organisation_id == org_id)).all()}
        months = _months_by_rule(s, org_id)
        modules = dict(s.exec(select(CaseModule.id, CaseModule.name).where(CaseModule.organisation_id == org_id)
                              .order_by(CaseModule.sort_order, CaseModule.name)).all())
    rows = [RuleRow(k, kind.label, months[(k, None)], kind.measured_from, None, "", (k, None) not in stored)
            for k, kind in KINDS.items()]
    rows += [RuleRow("case_closed", KINDS["case_closed"].label, m, KINDS["case_closed"].measured_from, module_id,
                     modules.get(module_id, ""), False)
             for (k, module_id), m in sorted(months.items(), key=lambda i: str(i[0])) if module_id is not None]
    return rows


def save_rule(actor: Actor, kind: str, months: Any, module_id: Any = None) -> None:
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    if kind not in KINDS:
        raise ValidationFailed("Choose a kind of record from the list.", {"kind": "unknown"})
    try:
        value = int(str(months).strip())
    except ValueError:
        raise ValidationFailed("The period must be a whole number of months.", {"months": "not a number"}) from None
    if not 1 <= value <= MAX_MONTHS:
        raise ValidationFailed(f"The period must be from 1 to {MAX_MONTHS} months.", {"months": "out of range"})
    module = bounds.id_or_none(module_id) if module_id not in (None, "") else None
    if module is not None and kind != "case_closed":
        raise ValidationFailed("Only casework rules are per module.", {"module_id": "not allowed"})
    with write_session() as s:
        if module is not None and s.exec(select(CaseModule.id).where(CaseModule.id == module,
                                                                     CaseModule.organisation_id == org_id)).first() is None:
            raise NotFound("No such module.")
        row = s.exec(select(RetentionRule).where(RetentionRule.organisation_id == org_id, RetentionRule.kind == kind,
                                                 RetentionRule.module_id == module if module is not None
                                                 else RetentionRule.module_id.is_(None))).first()
        before = {"months": row.months} if row else {"months": KINDS[kind].default_months, "default": True}
        if row is None:
            row = RetentionRule(organisation_id=org_id, kind=kind, module_id=module, months=value)
        row.months, row.updated_at = value, utcnow()
        s.add(row)
        s.flush()
        audit.record(s, actor, "retention_rule", f"{kind}:{module or ''}", "updated", before=before,
                     after={"months": value})


def set_legal_hold(actor: Actor, kind: str, record_id: Any, on: bool) -> None:
    """Put a client, person or case under a legal hold (or lift it): a purge leaves them as they are."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    model = {"client": Client, "person": Person, "case": Case}.get(kind)
    if model is None:
        raise ValidationFailed("A legal hold is on a client, a person or a case.", {"kind": "unknown"})
    rid = bounds.id_or_none(record_id)
    with write_session() as s:
        row = s.exec(select(model).where(model.id == rid, model.organisation_id == org_id)).first() if rid else None
        if row is None:
            raise NotFound(f"No such {kind} in your organisation.")
        if row.legal_hold == bool(on):
            return
        row.legal_hold = bool(on)
        s.add(row)
        s.flush()
        subject = audit.about_client(row.id) if kind == "client" else audit.about_person(row.id) \
            if kind == "person" else None
        audit.record(s, actor, kind if kind != "case" else "case_file", row.id,
                     "legal_hold_on" if on else "legal_hold_off", subject=subject)


# --- the purge ----------------------------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    organisation_id: int
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)  # rule -> records anonymised (or due, in a dry run)
    held: int = 0  # due but under a legal hold
    audit_entries_shredded: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _due_clients(s: Session, org_id: int, today: date, months: dict[tuple[str, int | None], int]
                 ) -> tuple[dict[str, list[int]], int]:
    """Clients whose every offer is over and whose retention ran out, by rule; and how many of them are held."""
    offers: dict[int, list[tuple[str, date]]] = defaultdict(list)
    rows = s.exec(select(Offer.client_id, Offer.status, Offer.offence_date).join(Client, Client.id == Offer.client_id)
                  .where(Offer.organisation_id == org_id, Client.anonymised_at.is_(None))).all()
    for client_id, status, offence in rows:
        offers[client_id].append((status, offence))
    live = set(s.exec(select(Offer.client_id).join(Booking, Booking.offer_id == Offer.id).where(
        Offer.organisation_id == org_id, Booking.status.in_(ACTIVE_BOOKING_STATUSES))).all())
    held_ids = set(s.exec(select(Client.id).where(Client.organisation_id == org_id, Client.legal_hold == True)).all())  # noqa: E712
    due: dict[str, list[int]] = defaultdict(list)
    held = 0
    for client_id, items in offers.items():
        if client_id in live or any(status not in OfferStatus.FINAL for status, _ in items):
            continue
        rule = "client_completed" if any(status == OfferStatus.COMPLETED for status, _ in items) \
            else "client_not_completed"
        if add_months(max(offence for _, offence in items), months[(rule, None)]) > today:
            continue
        if client_id in held_ids:
            held += 1
            continue
        due[rule].append(client_id)
    return due, held


def _due_people(s: Session, org_id: int, today: date, months: dict[tuple[str, int | None], int]
                ) -> tuple[list[int], list[int], int]:
    """People whose every case is closed and past its module's period, their cases, and how many are held."""
    rows = s.exec(select(CasePerson.person_id, Case.id, Case.status, Case.closed_at, Case.module_id, Case.legal_hold)
                  .join(Case, Case.id == CasePerson.case_id)
                  .join(Person, Person.id == CasePerson.person_id)
                  .where(CasePerson.organisation_id == org_id, Person.anonymised_at.is_(None))).all()
    by_person: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_person[row[0]].append(row)
    held_people = set(s.exec(select(Person.id).where(Person.organisation_id == org_id,
                                                     Person.legal_hold == True)).all())  # noqa: E712
    people: list[int] = []
    cases: set[int] = set()
    held = 0
    default = months[("case_closed", None)]
    for person_id, items in by_person.items():
        ready = True
        for _, _case_id, status, closed_at, module_id, _hold in items:
            if status != CaseStatus.CLOSED or closed_at is None:
                ready = False
                break
            period = months.get(("case_closed", module_id), default)
            if add_months(london_date(closed_at), period) > today:
                ready = False
                break
        if not ready:
            continue
        if person_id in held_people or any(hold for *_, hold in items):
            held += 1
            continue
        people.append(person_id)
        cases.update(case_id for _, case_id, *_ in items)
    # A case is emptied of its free text only when everyone on it is being anonymised.
    if cases:
        others = set(s.exec(select(CasePerson.case_id).where(CasePerson.case_id.in_(cases),
                                                             CasePerson.person_id.not_in(people))).all())
        cases -= others
    return people, sorted(cases), held


def _chunks(ids: list[int], size: int = 500):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _anonymise_clients(s: Session, org_id: int, ids: list[int], now: datetime) -> None:
    for chunk in _chunks(ids):
        emails = [e for e in s.exec(select(Client.email).where(Client.id.in_(chunk), Client.email != "")).all()]
        offer_ids = list(s.exec(select(Offer.id).where(Offer.client_id.in_(chunk))).all())
        s.execute(update(Client).where(Client.id.in_(chunk)).values(
            first_name=ANONYMISED, last_name="client", name_sounds="", date_of_birth=_ANON_BIRTH, licence_number="",
            address_line1="", address_line2="", town="", postcode="", email="", phone="", anonymised_at=now))
        s.execute(update(Offer).where(Offer.id.in_(offer_ids)).values(
            offer_reference=literal("ANON-", String) + cast(Offer.id, String)))
        s.execute(update(Booking).where(Booking.offer_id.in_(offer_ids)).values(needs={}))
        s.execute(update(ClientEvent).where(ClientEvent.client_id.in_(chunk)).values(detail=""))
        s.execute(update(CallLog).where(CallLog.client_id.in_(chunk)).values(notes=""))
        s.execute(update(SpecialRequest).where(SpecialRequest.client_id.in_(chunk)).values(details=""))
        for addresses in _chunks(emails):
            s.execute(delete(EmailMessage).where(EmailMessage.organisation_id == org_id,
                                                 EmailMessage.to_address.in_(addresses)))


def _anonymise_people(s: Session, ids: list[int], cases: list[int], now: datetime) -> None:
    for chunk in _chunks(ids):
        s.execute(update(Person).where(Person.id.in_(chunk)).values(
            title="", given_name=ANONYMISED, family_name="person", date_of_birth=None, notes="", name_norm="",
            given_key="", family_key="", anonymised_at=now, updated_at=now))
        for model in (PersonContact, PersonReference, PersonAddress):
            s.execute(delete(model).where(model.person_id.in_(chunk)))
        s.execute(delete(PersonRelationship).where(PersonRelationship.person_id.in_(chunk)))
        s.execute(delete(PersonRelationship).where(PersonRelationship.related_person_id.in_(chunk)))
    for chunk in _chunks(cases):
        s.execute(update(Case).where(Case.id.in_(chunk)).values(title=literal("Case ", String) + cast(Case.id, String)))
        s.execute(update(Demand).where(Demand.case_id.in_(chunk)).values(description=""))
        s.execute(update(Activity).where(Activity.case_id.in_(chunk)).values(note=""))
        s.execute(update(Intention).where(Intention.case_id.in_(chunk)).values(note="", outcome=""))


def purge(organisation_id: int, *, dry_run: bool = False, today: date | None = None,
          actor: Actor | None = None) -> PurgeReport:
    """Anonymise the organisation's records whose retention ran out (or, ``dry_run``, count them)."""
    if actor is not None:
        actor.require(Perm.SETTINGS_MANAGE)
        if actor.organisation_id != organisation_id and not actor.is_platform_admin:
            raise NotFound("No such organisation.")
    who = actor or system_actor(organisation_id, "retention")
    today = today or london_date(utcnow())
    report = PurgeReport(organisation_id, dry_run)
    with write_session() as s:
        if not dry_run:
            audit.lock_chain(s, organisation_id)  # two purges of one organisation at once: the second finds nothing
        months = _months_by_rule(s, organisation_id)
        clients, held_clients = _due_clients(s, organisation_id, today, months)
        people, cases, held_people = _due_people(s, organisation_id, today, months)
        report.held = held_clients + held_people
        report.counts = {rule: len(clients.get(rule, [])) for rule in ("client_completed", "client_not_completed")}
        report.counts["case_closed"] = len(people)
        if dry_run or not report.total:
            return report
        now = utcnow()
        client_ids = [c for ids in clients.values() for c in ids]
        _anonymise_clients(s, organisation_id, client_ids, now)
        _anonymise_people(s, people, cases, now)
        report.audit_entries_shredded = (audit.shred_subjects(s, organisation_id, "client", client_ids)
                                         + audit.shred_subjects(s, organisation_id, "person", people))
        pending = [audit.Pending("retention", rule, "purged",
                                 after={"rule": rule, "months": months[(rule, None)], "records": n,
                                        "audit_entries_shredded": report.audit_entries_shredded,
                                        "held": report.held})
                   for rule, n in report.counts.items() if n]
        audit.record_many(s, who, pending, organisation_id=organisation_id)
    return report


NIGHTLY_AT = time(2, 0)  # London time


def nightly_purge() -> bool:
    """The housekeeping job: once a day, from 02:00 London time, purge every organisation, in the one worker that
    claims the day (services/platform/nightly.py). The chain lock in ``purge`` still serialises it with a purge
    started from the command line."""
    return nightly.run_daily("retention_purge", NIGHTLY_AT, lambda: f"{sum(r.total for r in purge_all()):,} records")


def purge_all(dry_run: bool = False, today: date | None = None) -> list[PurgeReport]:
    """Every active organisation's purge (the nightly job and ``python -m atlas_app purge``)."""
    with read_session() as s:
        org_ids = list(s.exec(select(Organisation.id).where(Organisation.is_active == True)  # noqa: E712
                              .order_by(Organisation.id)).all())
    return [purge(org_id, dry_run=dry_run, today=today) for org_id in org_ids]
