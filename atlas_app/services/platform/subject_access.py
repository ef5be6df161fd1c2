"""Subject access export (UK GDPR right of access): everything the organisation's Atlas holds about one person, as
a ZIP of JSON files (one per kind of record, ISO dates, pence as integers) and a readable PDF summary.

The export starts from a booking client or a casework person and takes in the organisation's other records of the
same person: clients and people with the same email address (a client's email, a person's email contacts), or the
same name and date of birth. Staff may instead name the records to join (``client_ids`` / ``person_ids``), which
replaces the matching. Every query is scoped to the actor's organisation in its SQL, so another organisation's
records never join, whatever they share. Only ``people.subject_access`` may run it; each run is audited with who ran
it, whose records (ids) and how many, never the data.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable

from fpdf import FPDF
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import AuditEntry, Booking, CallLog, Client, ClientEvent, EmailAttachment, EmailMessage, Offer
from atlas_app.models import Organisation, SpecialRequest
from atlas_app.models.casework import (
    Activity,
    Case,
    CaseLookup,
    CasePerson,
    Demand,
    Intention,
    Person,
    PersonAddress,
    PersonContact,
    PersonReference,
    PersonRelationship,
    Place,
    Task,
)
from atlas_app.models.payments import CheckoutAttempt, Payment, PaymentPlan, PlanInstalment, Refund
from atlas_app.services.insight.letters import FONT_DIR, FONT_FAMILY, _printable
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON

KINDS = ("client", "person")
MAX_JOINED = 50  # records named explicitly to join the export
PDF_LINES_PER_KIND = 300  # the PDF lists this many records of a kind; the JSON file has them all
_CHUNK = 500
# Columns that only serve searching or delivery machinery, not information about the person.
_SKIP = {"name_norm", "given_key", "family_key", "search_text", "postcode_key", "secret_kind", "secret_id",
         "idempotency_key", "url", "success_url", "cancel_url"}


@dataclass(frozen=True)
class SubjectAccessExport:
    filename: str
    data: bytes
    client_ids: tuple[int, ...]
    person_ids: tuple[int, ...]
    counts: dict[str, int]

    @property
    def records(self) -> int:
        return sum(self.counts.values())


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _row(obj: SQLModel, **extra: Any) -> dict[str, Any]:
    out = {k: _jsonable(v) for k, v in obj.model_dump().items() if k not in _SKIP}
    out.update({k: _jsonable(v) for k, v in extra.items()})
    return out


def _chunks(ids: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(ids))
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def _rows(s: Session, model: Any, column: Any, ids: Iterable[Any], *where: Any) -> list[Any]:
    """``model`` rows whose ``column`` is one of ``ids`` (batched), ordered by id."""
    out: list[Any] = []
    for chunk in _chunks(ids):
        out.extend(s.exec(select(model).where(column.in_(chunk), *where)).all())
    return sorted(out, key=lambda r: r.id)


def _parse_ids(values: Iterable[Any] | None, field: str) -> list[int]:
    ids = [bounds.parse_id(v, field) for v in (values or [])]
    if len(ids) > MAX_JOINED:
        raise ValidationFailed(f"Name at most {MAX_JOINED} records to join.", {field: "too many"})
    return ids


# --- whose records ----------------------------------------------------------------------------------------------


def _email_lookup_ids(s: Session, org_id: int) -> list[int]:
    return list(s.exec(select(CaseLookup.id).where(CaseLookup.organisation_id == org_id,
                                                   CaseLookup.kind == "contact_type",
                                                   func.lower(CaseLookup.name) == "email")).all())


def _identity(clients: list[Client], people: list[Person], person_emails: list[str]
              ) -> tuple[set[str], set[tuple[str, str, date]]]:
    emails = {c.email.strip().lower() for c in clients if c.email.strip()}
    emails |= {e.strip().lower() for e in person_emails if e.strip()}
    named = {(c.first_name.strip().lower(), c.last_name.strip().lower(), c.date_of_birth) for c in clients}
    named |= {(p.given_name.strip().lower(), p.family_name.strip().lower(), p.date_of_birth)
              for p in people if p.date_of_birth is not None}
    return emails, named


def _person_emails(s: Session, org_id: int, person_ids: Iterable[int], email_types: list[int]) -> list[str]:
    if not email_types:
        return []
    return [c.value for c in _rows(s, PersonContact, PersonContact.person_id, person_ids,
                                   PersonContact.organisation_id == org_id,
                                   PersonContact.contact_type_id.in_(email_types))]


def _match(s: Session, org_id: int, clients: list[Client], people: list[Person]
           ) -> tuple[list[Client], list[Person]]:
    """The organisation's clients and people sharing an email address, or a name and date of birth, with these."""
    email_types = _email_lookup_ids(s, org_id)
    emails, named = _identity(clients, people, _person_emails(s, org_id, [p.id for p in people], email_types))
    client_ids = {c.id for c in clients}
    person_ids = {p.id for p in people}
    for chunk in _chunks(emails):
        client_ids |= set(s.exec(select(Client.id).where(Client.organisation_id == org_id,
                                                         func.lower(Client.email).in_(chunk))).all())
        if email_types:
            person_ids |= set(s.exec(select(PersonContact.person_id).where(
                PersonContact.organisation_id == org_id, PersonContact.contact_type_id.in_(email_types),
                func.lower(PersonContact.value).in_(chunk))).all())
    for first, last, born in named:
        client_ids |= set(s.exec(select(Client.id).where(
            Client.organisation_id == org_id, func.lower(Client.first_name) == first,
            func.lower(Client.last_name) == last, Client.date_of_birth == born)).all())
        person_ids |= set(s.exec(select(Person.id).where(
            Person.organisation_id == org_id, func.lower(Person.given_name) == first,
            func.lower(Person.family_name) == last, Person.date_of_birth == born)).all())
    return (_rows(s, Client, Client.id, client_ids, Client.organisation_id == org_id),
            _rows(s, Person, Person.id, person_ids, Person.organisation_id == org_id))


def _subjects(s: Session, org_id: int, kind: str, record_id: int, client_ids: list[int], person_ids: list[int]
              ) -> tuple[list[Client], list[Person], str]:
    model = Client if kind == "client" else Person
    seed = s.exec(select(model).where(model.id == bounds.query_id(record_id), model.organisation_id == org_id)).first()
    if seed is None:
        raise NotFound(f"No such {kind} in your organisation.")
    clients = [seed] if kind == "client" else []
    people = [seed] if kind == "person" else []
    if client_ids or person_ids:
        named_clients = _rows(s, Client, Client.id, client_ids, Client.organisation_id == org_id)
        named_people = _rows(s, Person, Person.id, person_ids, Person.organisation_id == org_id)
        if len(named_clients) != len(set(client_ids)) or len(named_people) != len(set(person_ids)):
            raise NotFound("One of the records named to join is not in your organisation.")
        by_id_c = {c.id: c for c in clients + named_clients}
        by_id_p = {p.id: p for p in people + named_people}
        return (sorted(by_id_c.values(), key=lambda r: r.id), sorted(by_id_p.values(), key=lambda r: r.id),
                "records chosen by staff")
    clients, people = _match(s, org_id, clients, people)
    return clients, people, "same email address, or same name and date of birth"


# --- what is held -------------------------------------------------------------------------------------------


def _gather(s: Session, org_id: int, clients: list[Client], people: list[Person]) -> dict[str, list[dict]]:
    own = lambda model: model.organisation_id == org_id  # noqa: E731
    client_ids = [c.id for c in clients]
    person_ids = [p.id for p in people]
    offers = _rows(s, Offer, Offer.client_id, client_ids, own(Offer))
    bookings = _rows(s, Booking, Booking.offer_id, [o.id for o in offers], own(Booking))
    booking_ids = [b.id for b in bookings]
    payments = _rows(s, Payment, Payment.booking_id, booking_ids, own(Payment))
    refunds = _rows(s, Refund, Refund.payment_id, [p.id for p in payments], own(Refund))
    checkouts = _rows(s, CheckoutAttempt, CheckoutAttempt.booking_id, booking_ids, own(CheckoutAttempt))
    plans = _rows(s, PaymentPlan, PaymentPlan.booking_id, booking_ids, own(PaymentPlan))
    instalments = _rows(s, PlanInstalment, PlanInstalment.plan_id, [p.id for p in plans])
    calls = _rows(s, CallLog, CallLog.client_id, client_ids, own(CallLog))
    events = _rows(s, ClientEvent, ClientEvent.client_id, client_ids, own(ClientEvent))
    requests = _rows(s, SpecialRequest, SpecialRequest.client_id, client_ids, own(SpecialRequest))

    contacts = _rows(s, PersonContact, PersonContact.person_id, person_ids, own(PersonContact))
    references = _rows(s, PersonReference, PersonReference.person_id, person_ids, own(PersonReference))
    addresses = _rows(s, PersonAddress, PersonAddress.person_id, person_ids, own(PersonAddress))
    relationships = {r.id: r for r in _rows(s, PersonRelationship, PersonRelationship.person_id, person_ids,
                                            own(PersonRelationship))}
    relationships.update({r.id: r for r in _rows(s, PersonRelationship, PersonRelationship.related_person_id,
                                                 person_ids, own(PersonRelationship))})
    links = _rows(s, CasePerson, CasePerson.person_id, person_ids, own(CasePerson))
    cases = _rows(s, Case, Case.id, [link.case_id for link in links], own(Case))
    case_ids = [c.id for c in cases]
    demands = _rows(s, Demand, Demand.case_id, case_ids, own(Demand))
    activities = _rows(s, Activity, Activity.case_id, case_ids, own(Activity))
    tasks = {t.id: t for t in _rows(s, Task, Task.activity_id, [a.id for a in activities], own(Task))}
    tasks.update({t.id: t for t in _rows(s, Task, Task.person_id, person_ids, own(Task))})
    intentions = _rows(s, Intention, Intention.case_id, case_ids, own(Intention))
    places = {p.id: p for p in _rows(s, Place, Place.id, [a.place_id for a in addresses], own(Place))}
    lookup_ids = ({c.contact_type_id for c in contacts} | {r.reference_type_id for r in references}
                  | {r.relationship_type_id for r in relationships.values()}
                  | {link.role_id for link in links if link.role_id}
                  | {d.demand_type_id for d in demands} | {t.task_category_id for t in tasks.values()}
                  | {i.intention_type_id for i in intentions})
    lookups = {row.id: row.name for row in _rows(s, CaseLookup, CaseLookup.id, lookup_ids, own(CaseLookup))}
    roles = {link.case_id: lookups.get(link.role_id, "") for link in links}

    contact_emails = [c.value for c in contacts if lookups.get(c.contact_type_id, "").lower() == "email"]
    emails, _ = _identity(clients, people, contact_emails)
    outbox: list[EmailMessage] = []
    for chunk in _chunks(emails):
        outbox.extend(s.exec(select(EmailMessage).where(EmailMessage.organisation_id == org_id,
                                                        func.lower(EmailMessage.to_address).in_(chunk))).all())
    outbox.sort(key=lambda m: m.id)
    attachments: dict[int, list[dict]] = {}
    for chunk in _chunks([m.id for m in outbox]):
        for email_id, filename, content_type in s.exec(
                select(EmailAttachment.email_id, EmailAttachment.filename, EmailAttachment.content_type)
                .where(EmailAttachment.email_id.in_(chunk))).all():
            attachments.setdefault(email_id, []).append({"filename": filename, "content_type": content_type})

    def email_row(m: EmailMessage) -> dict:
        row = _row(m, attachments=attachments.get(m.id, []))
        if m.sensitive:  # a sign-in link or reset code: its text is a live secret, not information about them
            row["body_text"], row["body_html"] = "[withheld: contained a security code]", None
        return row

    data: dict[str, list[dict]] = {
        "clients": [_row(c) for c in clients],
        "offers": [_row(o) for o in offers],
        "bookings": [_row(b) for b in bookings],
        "payments": [_row(p) for p in payments],
        "refunds": [_row(r) for r in refunds],
        "checkout_attempts": [_row(c) for c in checkouts],
        "payment_plans": [_row(p, instalments=[_row(i) for i in instalments if i.plan_id == p.id]) for p in plans],
        "call_logs": [_row(c) for c in calls],
        "client_events": [_row(e) for e in events if e.kind != "letter"],
        "letters": [_row(e) for e in events if e.kind == "letter"],
        "special_requests": [_row(r) for r in requests],
        "emails": [email_row(m) for m in outbox],
        "people": [_row(p) for p in people],
        "person_contacts": [_row(c, contact_type=lookups.get(c.contact_type_id, "")) for c in contacts],
        "person_references": [_row(r, reference_type=lookups.get(r.reference_type_id, "")) for r in references],
        "person_addresses": [_row(a, place=_row(places[a.place_id]) if a.place_id in places else None)
                             for a in addresses],
        "person_relationships": [_row(r, relationship_type=lookups.get(r.relationship_type_id, ""))
                                 for r in sorted(relationships.values(), key=lambda r: r.id)],
        "cases": [_row(c, role=roles.get(c.id, "")) for c in cases],
        "demands": [_row(d, demand_type=lookups.get(d.demand_type_id, "")) for d in demands],
        "activities": [_row(a) for a in activities],
        "tasks": [_row(t, task_category=lookups.get(t.task_category_id, ""))
                  for t in sorted(tasks.values(), key=lambda t: t.id)],
        "intentions": [_row(i, intention_type=lookups.get(i.intention_type_id, "")) for i in intentions],
    }
    keys: dict[str, set[str]] = {
        "client": {str(i) for i in client_ids},
        "offer": {o.offer_reference for o in offers},
        "booking": {b.reference for b in bookings},
        "letter": {b.reference for b in bookings} | {o.offer_reference for o in offers},
        "payment": {str(p.id) for p in payments},
        "refund": {str(r.id) for r in refunds},
        "payment_plan": {str(p.id) for p in plans},
        "call": {str(c.id) for c in calls},
        "special_request": {str(r.id) for r in requests},
        "person": {str(i) for i in person_ids},
        "case": {str(i) for i in case_ids},
        "subject_access": {f"client:{i}" for i in client_ids} | {f"person:{i}" for i in person_ids},
    }
    entries: dict[int, AuditEntry] = {}
    for entity, values in keys.items():
        for chunk in _chunks(values):
            for e in s.exec(select(AuditEntry).where(AuditEntry.organisation_id == org_id,
                                                     AuditEntry.entity == entity,
                                                     AuditEntry.entity_id.in_(chunk))).all():
                entries[e.id] = e
    data["audit_entries"] = [
        {"at": _jsonable(e.at), "username": e.username, "entity": e.entity, "entity_id": e.entity_id,
         "action": e.action, "before": e.before, "after": e.after}
        for e in sorted(entries.values(), key=lambda e: (e.at, e.id))]
    return data


# --- the PDF summary -------------------------------------------------------------------------------------------


def _line(kind: str, row: dict) -> str:
    """One readable line for a record in the PDF."""
    pick = {
        "clients": ("first_name", "last_name", "date_of_birth", "email", "postcode"),
        "offers": ("offer_reference", "offence_date", "critical_date", "status"),
        "bookings": ("reference", "status", "channel", "fee_pence", "created_at"),
        "payments": ("received_at", "amount_pence", "method", "status"),
        "refunds": ("at", "amount_pence", "status", "reason"),
        "call_logs": ("at", "call_type", "outcome", "notes"),
        "client_events": ("at", "kind", "detail"),
        "letters": ("at", "detail"),
        "emails": ("created_at", "subject", "status"),
        "people": ("given_name", "family_name", "date_of_birth"),
        "person_contacts": ("contact_type", "value"),
        "cases": ("id", "title", "status", "role", "opened_at"),
        "demands": ("received_at", "demand_type", "description"),
        "activities": ("occurred_at", "note"),
        "tasks": ("task_category", "minutes"),
        "intentions": ("due_on", "intention_type", "note", "outcome"),
        "audit_entries": ("at", "username", "entity", "entity_id", "action"),
    }.get(kind)
    if pick is None:
        pick = tuple(k for k in row if k not in ("organisation_id",) and not isinstance(row[k], (dict, list)))[:5]
    parts = []
    for key in pick:
        value = row.get(key)
        if value in (None, ""):
            continue
        if key.endswith("_pence") and isinstance(value, int):
            value = f"£{value / 100:,.2f}"
        parts.append(str(value).replace("\n", " ")[:120])
    return " · ".join(parts)


def _pdf(org_name: str, actor: Actor, how: str, data: dict[str, list[dict]], at: datetime) -> bytes:
    pdf = FPDF(format="A4", unit="mm")
    pdf.add_font(FONT_FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT_FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.set_title("Subject access export")
    pdf.set_author(_printable(org_name))
    pdf.set_creator("Atlas")
    pdf.set_lang("en-GB")
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 16)
    pdf.cell(0, 9, "Subject access export", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", 10)
    names = sorted({f"{c['first_name']} {c['last_name']}" for c in data["clients"]}
                   | {f"{p['given_name']} {p['family_name']}" for p in data["people"]})
    intro = (f"{org_name}\nProduced {at.astimezone(LONDON):%d %B %Y %H:%M} by {actor.full_name or actor.username}\n"
             f"About: {', '.join(names)}\nRecords joined by: {how}\n\n"
             "Each kind of record is in its own JSON file in this ZIP with every field; this summary lists them. "
             "Cases, activities and emails may mention other people: review before release.")
    pdf.multi_cell(0, 5, _printable(intro), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT_FAMILY, "B", 11)
    pdf.cell(0, 6, "What is held", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", 10)
    for kind, rows in data.items():
        pdf.cell(80, 5, kind.replace("_", " ").capitalize())
        pdf.cell(0, 5, f"{len(rows)}  ({kind}.json)", new_x="LMARGIN", new_y="NEXT")
    for kind, rows in data.items():
        if not rows:
            continue
        pdf.ln(4)
        pdf.set_font(FONT_FAMILY, "B", 11)
        pdf.cell(0, 6, f"{kind.replace('_', ' ').capitalize()} ({len(rows)})", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT_FAMILY, "", 8.5)
        text = "\n".join(_line(kind, row) for row in rows[:PDF_LINES_PER_KIND])
        if len(rows) > PDF_LINES_PER_KIND:
            text += f"\n... and {len(rows) - PDF_LINES_PER_KIND} more in {kind}.json"
        pdf.multi_cell(0, 4.2, _printable(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --- the export -----------------------------------------------------------------------------------------------


def export(actor: Actor, kind: str, record_id: Any, client_ids: Iterable[Any] | None = None,
           person_ids: Iterable[Any] | None = None) -> SubjectAccessExport:
    """The ZIP for the client or person ``record_id`` (``kind`` "client" or "person") and its matches."""
    actor.require(Perm.SUBJECT_ACCESS)
    org_id = actor.require_org()
    if kind not in KINDS:
        raise NotFound("A subject access export starts from a client or a person.")
    record_id = bounds.parse_id(record_id, "id")
    joined_clients = _parse_ids(client_ids, "client_ids")
    joined_people = _parse_ids(person_ids, "person_ids")
    at = utcnow()
    with read_session() as s:
        clients, people, how = _subjects(s, org_id, kind, record_id, joined_clients, joined_people)
        data = _gather(s, org_id, clients, people)
        org = s.get(Organisation, org_id)
        org_name = org.name if org else ""
    counts = {k: len(v) for k, v in data.items()}
    manifest = {"organisation": org_name, "produced_at": at.isoformat(), "produced_by": actor.username,
                "started_from": {"kind": kind, "id": record_id}, "joined_by": how,
                "client_ids": [c.id for c in clients], "person_ids": [p.id for p in people], "counts": counts,
                "money": "amounts are in pence", "times": "ISO 8601, UTC"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for name, rows in data.items():
            zf.writestr(f"{name}.json", json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        zf.writestr("summary.pdf", _pdf(org_name, actor, how, data, at))
    result = SubjectAccessExport(
        filename=f"subject-access-{kind}-{record_id}-{at.astimezone(LONDON):%Y%m%d-%H%M}.zip",
        data=buffer.getvalue(), client_ids=tuple(c.id for c in clients), person_ids=tuple(p.id for p in people),
        counts=counts)
    with write_session() as s:
        audit.record(s, actor, "subject_access", f"{kind}:{record_id}", "exported",
                     after={"client_ids": list(result.client_ids), "person_ids": list(result.person_ids),
                            "records": result.records, "joined_by": how})
    return result
