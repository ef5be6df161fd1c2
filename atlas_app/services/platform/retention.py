"""Retention and purge: personal records are anonymised when their organisation's retention period has run out.

The rules (``RetentionRule``, editable by administrators; shipped defaults from NDORS practice and UK casework):

* ``client_completed``: a client whose offers all ended with a completed course is kept 42 months (3 years 6 months)
  from the latest offence date;
* ``client_not_completed``: a client whose offers all ended otherwise (did not attend, expired, returned) is kept
  12 months from the latest offence date (a client with any completed offer follows the first rule);
* ``case_closed``: a casework person is kept 72 months (6 years) after the last of their cases closed; a module may
  have its own period, otherwise the organisation's rule (with no module) applies.

A case with nobody on it (a resident's report is one) follows the casework rule of its module once it is closed.

A purge anonymises what is due: names, contact details, dates of birth, addresses, free text (call notes, special
requests, timeline details, needs, case titles, demand descriptions, activity, intention and system-condition
notes), residents' reports (the reporter's name, email and telephone, the description, every timeline text,
the followers, and the photos), rent letters and arrangement notes of tenancies whose every tenant is purged,
servicing letters addressed to the person (the row stays, its PDF goes), queued and sent emails to the person or
about their reports (unless a live record still has that address), and the personal part of the audit entries
about them (``audit.shred_subjects``: the chain keeps verifying through each entry's kept digest).

Files go after the purge commits, and only when no remaining row refers to them: the stores are content-addressed,
so one photo or letter can be shared by a record that is kept, and then it stays. Gas and electrical certificates
belong to the installation and the home, not to a tenant, and are kept. Rows themselves stay, so every count in the dashboards and
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

from sqlalchemy import String, cast, delete, exists, func, literal, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import CaseStatus, OfferStatus
from atlas_app.models import ACTIVE_BOOKING_STATUSES, Booking, CallLog, Client, ClientEvent, EmailMessage, Offer, Organisation, RetentionRule
from atlas_app.models import SpecialRequest
from atlas_app.models.casework import (
    Activity,
    SystemCondition,
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
from atlas_app.models.environmental import Report, ReportFollower, ReportPhoto, ReportUpdate
from atlas_app.models.rent_arrears import RentArrangement, RentLetter, RentTenancy, RentTenant
from atlas_app.models.utilities import InstallationCheck, ServicingLetter
from atlas_app.services.platform import audit, bounds, nightly, storage
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
    files_deleted: int = 0

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


def _due_cases_without_people(s: Session, org_id: int, today: date, months: dict[tuple[str, int | None], int]
                              ) -> tuple[list[int], int]:
    """Closed cases with nobody on them (residents' reports) past their module's period, and how many are held."""
    someone = exists().where(CasePerson.case_id == Case.id)
    rows = s.exec(select(Case.id, Case.closed_at, Case.module_id, Case.legal_hold).where(
        Case.organisation_id == org_id, Case.status == CaseStatus.CLOSED, Case.closed_at.is_not(None),
        Case.anonymised_at.is_(None), ~someone)).all()
    default = months[("case_closed", None)]
    due: list[int] = []
    held = 0
    for case_id, closed_at, module_id, hold in rows:
        if add_months(london_date(closed_at), months.get(("case_closed", module_id), default)) > today:
            continue
        if hold:
            held += 1
            continue
        due.append(case_id)
    return due, held


@dataclass
class _Files:
    """Files the purged rows referred to, deleted after commit if nothing else refers to them."""

    uploads: set[str] = field(default_factory=set)  # platform storage (report photos)
    documents: set[str] = field(default_factory=set)  # utilities store (servicing letters)


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
        _delete_emails_to(s, org_id, emails)


def _delete_emails_to(s: Session, org_id: int, addresses: list[str]) -> None:
    """Delete the organisation's emails to these addresses, once nothing kept has the address (call after the
    purged rows lost theirs)."""
    wanted = sorted({a.strip().lower() for a in addresses if a and "@" in a})
    for chunk in _chunks(wanted):  # type: ignore[arg-type]
        live = {str(v).strip().lower() for v in (
            list(s.exec(select(Client.email).where(Client.organisation_id == org_id,
                                                   func.lower(Client.email).in_(chunk))).all())
            + list(s.exec(select(PersonContact.value).where(PersonContact.organisation_id == org_id,
                                                            func.lower(PersonContact.value).in_(chunk))).all())
            + list(s.exec(select(Report.reporter_email).where(Report.organisation_id == org_id,
                                                              func.lower(Report.reporter_email).in_(chunk))).all())
            + list(s.exec(select(ReportFollower.email).where(ReportFollower.organisation_id == org_id,
                                                             func.lower(ReportFollower.email).in_(chunk))).all()))}
        gone = [a for a in chunk if a not in live]
        if gone:
            s.execute(delete(EmailMessage).where(EmailMessage.organisation_id == org_id,
                                                 func.lower(EmailMessage.to_address).in_(gone)))


def _letters_to(s: Session, org_id: int, people: list[int]) -> list[tuple[int, str]]:
    """Servicing letters addressed to these people: by the letter's addressee, and for letters from before the
    addressee was recorded, those produced at the person's home while they lived there."""
    rows = list(s.exec(select(ServicingLetter.id, ServicingLetter.pdf_sha256).where(
        ServicingLetter.organisation_id == org_id, ServicingLetter.person_id.in_(people))).all())
    homes = s.exec(select(PersonAddress.place_id, PersonAddress.from_date, PersonAddress.to_date)
                   .where(PersonAddress.person_id.in_(people))).all()
    by_place: dict[int, list[tuple[date | None, date | None]]] = defaultdict(list)
    for place_id, start, end in homes:
        by_place[place_id].append((start, end))
    if by_place:
        for letter_id, digest, place_id, created in s.exec(
                select(ServicingLetter.id, ServicingLetter.pdf_sha256, ServicingLetter.place_id,
                       ServicingLetter.created_at).where(ServicingLetter.organisation_id == org_id,
                                                         ServicingLetter.person_id.is_(None),
                                                         ServicingLetter.place_id.in_(list(by_place)))).all():
            day = london_date(created)
            if any((start is None or start <= day) and (end is None or day <= end) for start, end in by_place[place_id]):
                rows.append((letter_id, digest))
    return rows


def _anonymise_people(s: Session, org_id: int, ids: list[int], cases: list[int], now: datetime) -> _Files:
    files = _Files()
    emails: list[str] = []
    for chunk in _chunks(ids):
        emails += [v for v in s.exec(select(PersonContact.value).where(PersonContact.person_id.in_(chunk))).all()]
        letters = _letters_to(s, org_id, chunk)
        files.documents.update(d for _, d in letters if d)
        for letter_ids in _chunks([letter_id for letter_id, _ in letters]):
            s.execute(update(ServicingLetter).where(ServicingLetter.id.in_(letter_ids)).values(pdf_sha256="",
                                                                                              subject=""))
        s.execute(update(Person).where(Person.id.in_(chunk)).values(
            title="", given_name=ANONYMISED, family_name="person", date_of_birth=None, notes="", name_norm="",
            given_key="", family_key="", anonymised_at=now, updated_at=now))
        for model in (PersonContact, PersonReference, PersonAddress):
            s.execute(delete(model).where(model.person_id.in_(chunk)))
        s.execute(delete(PersonRelationship).where(PersonRelationship.person_id.in_(chunk)))
        s.execute(delete(PersonRelationship).where(PersonRelationship.related_person_id.in_(chunk)))
    # Rent letters and arrangement notes name the tenants: emptied once every tenant of the tenancy is purged.
    purged = set(ids)
    tenants: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(ids):
        for tenancy_id in s.exec(select(RentTenant.tenancy_id).where(RentTenant.person_id.in_(chunk))).all():
            tenants[tenancy_id] = set()
    for chunk in _chunks(list(tenants)):
        for tenancy_id, person_id in s.exec(select(RentTenant.tenancy_id, RentTenant.person_id)
                                            .where(RentTenant.tenancy_id.in_(chunk))).all():
            tenants[tenancy_id].add(person_id)
    tenancies = [t for t, who in tenants.items() if who <= purged]
    tenancies += list(s.exec(select(RentTenancy.id).where(RentTenancy.case_id.in_(cases))).all()) if cases else []
    for chunk in _chunks(sorted(set(tenancies))):
        s.execute(update(RentLetter).where(RentLetter.tenancy_id.in_(chunk)).values(subject="", body=""))
        s.execute(update(RentArrangement).where(RentArrangement.tenancy_id.in_(chunk)).values(note=""))
    for chunk in _chunks(cases):
        s.execute(update(Case).where(Case.id.in_(chunk)).values(title=literal("Case ", String) + cast(Case.id, String),
                                                                anonymised_at=now))
        s.execute(update(Demand).where(Demand.case_id.in_(chunk)).values(description=""))
        s.execute(update(Activity).where(Activity.case_id.in_(chunk)).values(note=""))
        s.execute(update(Intention).where(Intention.case_id.in_(chunk)).values(note="", outcome=""))
        s.execute(update(SystemCondition).where(SystemCondition.case_id.in_(chunk)).values(note=""))
        s.execute(update(RentLetter).where(RentLetter.case_id.in_(chunk)).values(subject="", body=""))
        files.uploads.update(_anonymise_reports(s, org_id, chunk))
    _delete_emails_to(s, org_id, emails)
    return files


def _anonymise_reports(s: Session, org_id: int, case_ids: list[int]) -> set[str]:
    """Empty the residents' reports of these cases; returns the storage keys of their photos (rows deleted)."""
    report_ids = list(s.exec(select(Report.id).where(Report.organisation_id == org_id,
                                                     Report.case_id.in_(case_ids))).all())
    if not report_ids:
        return set()
    s.execute(update(Report).where(Report.id.in_(report_ids)).values(
        reporter_name="", reporter_email="", reporter_phone="", description="", close_reason=""))
    s.execute(update(ReportUpdate).where(ReportUpdate.report_id.in_(report_ids)).values(body=""))
    s.execute(update(ReportUpdate).where(ReportUpdate.report_id.in_(report_ids),
                                         ReportUpdate.author_user_id.is_(None)).values(author_name=""))
    s.execute(delete(ReportFollower).where(ReportFollower.report_id.in_(report_ids)))
    s.execute(delete(EmailMessage).where(EmailMessage.organisation_id == org_id,
                                         EmailMessage.related_entity == "env_report",
                                         EmailMessage.related_id.in_([str(r) for r in report_ids])))
    keys = set(s.exec(select(ReportPhoto.sha256).where(ReportPhoto.report_id.in_(report_ids))).all())
    s.execute(delete(ReportPhoto).where(ReportPhoto.report_id.in_(report_ids)))
    return keys


def _delete_unreferenced(files: _Files) -> int:
    """Delete the purged rows' files that no row (of any organisation) still refers to; returns how many."""
    from atlas_app.services.modules.utilities_servicing import storage as documents

    deleted = 0
    with read_session() as s:
        for chunk in _chunks(sorted(files.uploads)):  # type: ignore[arg-type]
            used = set(s.exec(select(ReportPhoto.sha256).where(ReportPhoto.sha256.in_(chunk))).all())
            for key in chunk:
                if key not in used and storage.exists(key):
                    storage.delete(key)
                    deleted += 1
        for chunk in _chunks(sorted(files.documents)):  # type: ignore[arg-type]
            used = set(s.exec(select(ServicingLetter.pdf_sha256).where(ServicingLetter.pdf_sha256.in_(chunk))).all())
            used |= set(s.exec(select(InstallationCheck.certificate_sha256)
                               .where(InstallationCheck.certificate_sha256.in_(chunk))).all())
            for digest in chunk:
                path = documents.path_of(digest)
                if digest not in used and path.exists():
                    path.unlink(missing_ok=True)
                    deleted += 1
    return deleted


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
        lone_cases, held_cases = _due_cases_without_people(s, organisation_id, today, months)
        report.held = held_clients + held_people + held_cases
        report.counts = {rule: len(clients.get(rule, [])) for rule in ("client_completed", "client_not_completed")}
        report.counts["case_closed"] = len(people) + len(lone_cases)
        if dry_run or not report.total:
            return report
        now = utcnow()
        client_ids = [c for ids in clients.values() for c in ids]
        _anonymise_clients(s, organisation_id, client_ids, now)
        files = _anonymise_people(s, organisation_id, people, sorted(set(cases) | set(lone_cases)), now)
        purged_cases = sorted(set(cases) | set(lone_cases))
        report_ids = list(s.exec(select(Report.id).where(Report.organisation_id == organisation_id,
                                                         Report.case_id.in_(purged_cases))).all()) \
            if purged_cases else []
        report.audit_entries_shredded = (audit.shred_subjects(s, organisation_id, "client", client_ids)
                                         + audit.shred_subjects(s, organisation_id, "person", people)
                                         + audit.shred_entities(s, organisation_id, "case", purged_cases)
                                         + audit.shred_entities(s, organisation_id, "env_report", report_ids))
        pending = [audit.Pending("retention", rule, "purged",
                                 after={"rule": rule, "months": months[(rule, None)], "records": n,
                                        "audit_entries_shredded": report.audit_entries_shredded,
                                        "held": report.held})
                   for rule, n in report.counts.items() if n]
        audit.record_many(s, who, pending, organisation_id=organisation_id)
    # After the commit: a purge that rolled back deletes no file.
    report.files_deleted = _delete_unreferenced(files)
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
