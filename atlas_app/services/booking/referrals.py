"""Referrals: police offers of a course arriving in bulk (a CSV file) or one at a time (the REST API).

The file
--------
One row per offer, with a header row. Header names are matched ignoring case, spaces and punctuation, so
``Offer Reference``, ``offer_reference`` and ``OFFERREFERENCE`` are the same column. Columns (aliases in brackets):

* offer reference (offer ref, reference) - required; unique per organisation
* course type (course code, course) - required; the code of one of the organisation's course types, e.g. NSAC
* first name (forename, given name) and last name (surname, family name) - required; **or** instead of both a
  single ``name`` column (client name, full name), split at the last space: "Mary Ann Smith" is first name
  "Mary Ann", last name "Smith". When both forms are present, the separate columns win. A person with one name
  only has it as the last name, with the first name blank.
* date of birth (dob) - required
* driving licence number (licence number, licence) - optional; 16 characters in the DVLA format
* address line 1 (address), address line 2, town (city), postcode - postcode required
* email, phone (telephone, mobile) - optional
* offence date - required, within the last two years; critical date - required, on or after the offence date and
  at most two years ahead
* police force (force) - optional

Dates are ``YYYY-MM-DD`` or ``DD/MM/YYYY``. Blank lines are skipped. The file may be UTF-8 (with or without a
byte-order mark) or Windows-1252, as spreadsheets save it.

The rules
---------
* The whole file is checked before anything is written. One bad row and nothing is imported; every bad row is
  reported with its line number and what is wrong.
* Re-importing is safe: an offer reference already known is left alone when nothing changed, or updated when the
  police sent new details (dates, force, contact details). It is never duplicated. An offer whose course type
  changes while it has a live booking, or whose reference now names a different person, is a bad row.
* The client is matched within the organisation by driving licence number, else by name and date of birth; a new
  client is created only when neither matches.
* Each new offer gets a "referred" event on the client's timeline. Every client and offer the import creates or
  changes gets its own audit entry about that client (written together, in the import's transaction), and the
  import itself one more.
* Everything is written in one transaction: a crash part-way leaves the database as it was.
* Progress goes to an ``ImportJob`` row (``rows_done`` of ``rows_total``) that the app polls. On PostgreSQL it moves
  during the write too; SQLite allows one writer at a time, so there it moves while the file is checked and then
  jumps to the end when the write commits.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from atlas_app.db import is_postgres, read_session, utcnow, write_session
from atlas_app.domain.statuses import OfferStatus
from atlas_app.models import ACTIVE_BOOKING_STATUSES, Booking, Client, ClientEvent, CourseType, ImportJob, Offer
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.booking.catalogue import normalise_postcode
from atlas_app.services.platform.errors import AtlasError, Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date

KIND = "referrals"
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
_RACE = ("Some of these offers were added by another import or API call at the same moment; nothing was imported. "
         "Import the file again.")
MAX_STORED_ERRORS = 1000  # kept on the ImportJob for the app; the CLI and the caller get every one

FIELDS = ("offer_reference", "course_type", "first_name", "last_name", "date_of_birth", "licence_number",
          "address_line1", "address_line2", "town", "postcode", "email", "phone", "offence_date", "critical_date",
          "police_force")

# Normalised header -> field. "name" is handled separately (split into first and last).
HEADER_ALIASES: dict[str, str] = {}
for _field, _aliases in {
    "offer_reference": ("offerreference", "offerref", "reference", "offerno", "offernumber"),
    "course_type": ("coursetype", "coursetypecode", "coursecode", "course"),
    "first_name": ("firstname", "clientfirstname", "forename", "forenames", "givenname"),
    "last_name": ("lastname", "clientlastname", "surname", "familyname"),
    "date_of_birth": ("dateofbirth", "dob", "birthdate", "clientdateofbirth"),
    "licence_number": ("drivinglicencenumber", "drivinglicenceno", "drivinglicence", "licencenumber", "licenceno",
                       "licence", "drivinglicensenumber", "licensenumber", "license"),
    "address_line1": ("addressline1", "address1", "address", "addressline"),
    "address_line2": ("addressline2", "address2"),
    "town": ("town", "city", "posttown", "towncity"),
    "postcode": ("postcode", "postalcode", "postcodezip"),
    "email": ("email", "emailaddress"),
    "phone": ("phone", "telephone", "phonenumber", "telephonenumber", "mobile", "tel"),
    "offence_date": ("offencedate", "dateofoffence"),
    "critical_date": ("criticaldate", "deadline", "offerexpiry", "expirydate"),
    "police_force": ("policeforce", "force"),
}.items():
    for _alias in _aliases:
        HEADER_ALIASES[_alias] = _field
NAME_ALIASES = ("name", "clientname", "fullname", "drivername")

REQUIRED = ("offer_reference", "course_type", "first_name", "last_name", "date_of_birth", "postcode",
            "offence_date", "critical_date")
LABELS = {
    "offer_reference": "offer reference", "course_type": "course type", "first_name": "first name",
    "last_name": "last name", "date_of_birth": "date of birth", "licence_number": "driving licence number",
    "address_line1": "address line 1", "address_line2": "address line 2", "town": "town", "postcode": "postcode",
    "email": "email", "phone": "phone", "offence_date": "offence date", "critical_date": "critical date",
    "police_force": "police force",
}
MAX_LEN = {"offer_reference": 40, "first_name": 100, "last_name": 100, "address_line1": 150, "address_line2": 150,
           "town": 100, "email": 254, "phone": 30, "police_force": 100, "course_type": 20}

REFERENCE_RE = re.compile(r"^[A-Z0-9][A-Z0-9/_.-]*$")
LICENCE_RE = re.compile(r"^[A-Z9]{5}\d{6}[A-Z9]{2}\d[A-Z0-9]{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ()-]{7,30}$")
ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
UK_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def parse_date(value: str) -> date:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY``; raises ValueError with a readable reason."""
    text = (value or "").strip()
    m = ISO_DATE_RE.match(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = UK_DATE_RE.match(text)
        if not m:
            raise ValueError(f"'{text}' is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
        d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        return date(y, mo, d)
    except ValueError:
        raise ValueError(f"'{text}' is not a real date") from None


def normalise_licence(value: str) -> str:
    return re.sub(r"\s+", "", (value or "")).upper()


@dataclass(frozen=True)
class Referral:
    """One checked offer, ready to write."""

    offer_reference: str
    course_type: str
    first_name: str
    last_name: str
    date_of_birth: date
    licence_number: str
    address_line1: str
    address_line2: str
    town: str
    postcode: str
    email: str
    phone: str
    offence_date: date
    critical_date: date
    police_force: str


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    fields: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"Line {self.line}: {self.reason}" if self.line else self.reason


@dataclass
class ImportResult:
    job_id: int | None
    ok: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    clients_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    skipped: int = 0  # bad rows left out (only when importing with skip_bad_rows)

    def summary(self) -> str:
        if not self.ok:
            return f"Nothing imported: {len(self.errors)} problem(s) found."
        text = (f"{self.rows} rows: {self.created} new offers, {self.updated} updated, {self.unchanged} unchanged; "
                f"{self.clients_created} new clients")
        if self.skipped:
            text += f"; {self.skipped} bad row(s) skipped"
        return text + "."


class ImportRejected(ValidationFailed):
    """The file (or one API referral) had problems; ``row_errors`` lists every one."""

    def __init__(self, row_errors: list[RowError]) -> None:
        first = row_errors[0] if row_errors else RowError(0, "The import was rejected.")
        message = first.reason if len(row_errors) == 1 and first.line == 0 else \
            f"{len(row_errors)} row(s) have problems; nothing was imported."
        fields: dict[str, str] = {}
        for e in row_errors:
            for k, v in e.fields.items():
                fields.setdefault(k, v)
        super().__init__(message, fields)
        self.row_errors = row_errors


# --- checking one row (no database) --------------------------------------------------------------------------


def check_values(values: dict[str, Any]) -> tuple[Referral | None, dict[str, str]]:
    """Check one referral's values (field -> text). Returns the referral, or None and field -> problem.
    Used for a CSV row and for the API's JSON body alike."""
    problems: dict[str, str] = {}
    v = {k: (str(values.get(k)) if values.get(k) is not None else "").strip() for k in FIELDS}
    if not v["first_name"] and not v["last_name"] and values.get("name"):
        first, last = split_name(str(values["name"]))
        v["first_name"], v["last_name"] = first, last
    for key in REQUIRED:
        if not v[key] and not (key == "first_name" and v["last_name"]):  # a person may have one name only
            problems[key] = f"{LABELS[key]} is missing"
    for key, limit in MAX_LEN.items():
        if len(v[key]) > limit:
            problems.setdefault(key, f"{LABELS[key]} is longer than {limit} characters")

    ref = v["offer_reference"].upper()
    if ref and "offer_reference" not in problems and not REFERENCE_RE.match(ref):
        problems["offer_reference"] = f"offer reference '{v['offer_reference']}' may only use letters, digits, " \
                                      "'-', '/', '_' and '.'"
    code = v["course_type"].upper()

    dates: dict[str, date] = {}
    for key in ("date_of_birth", "offence_date", "critical_date"):
        if v[key] and key not in problems:
            try:
                dates[key] = parse_date(v[key])
            except ValueError as exc:
                problems[key] = f"{LABELS[key]}: {exc}"
    today = london_date(utcnow())
    dob = dates.get("date_of_birth")
    if dob and not (date(1900, 1, 1) <= dob <= today):
        problems["date_of_birth"] = f"date of birth {dob:%d/%m/%Y} is not believable"
    offence = dates.get("offence_date")
    if offence and (problem := bounds.offence_date_problem(offence, today)):
        problems["offence_date"] = problem
    if dob and offence and "date_of_birth" not in problems and offence < dob:
        problems["offence_date"] = "offence date is before the date of birth"
    critical = dates.get("critical_date")
    if critical and (problem := bounds.critical_date_problem(critical, offence, today)):
        problems["critical_date"] = problem

    postcode = ""
    if v["postcode"]:
        try:
            postcode = normalise_postcode(v["postcode"])
        except ValidationFailed:
            problems["postcode"] = f"postcode '{v['postcode']}' is not a UK postcode"
    licence = normalise_licence(v["licence_number"])
    if licence and not LICENCE_RE.match(licence):
        problems["licence_number"] = f"driving licence number '{v['licence_number']}' is not in the DVLA format " \
                                     "(16 characters, e.g. MORGA753116SM9IJ)"
    if v["email"] and not EMAIL_RE.match(v["email"]):
        problems["email"] = f"email '{v['email']}' is not an email address"
    if v["phone"] and not PHONE_RE.match(v["phone"]):
        problems["phone"] = f"phone '{v['phone']}' is not a telephone number"
    if problems:
        return None, problems
    return Referral(
        offer_reference=ref, course_type=code, first_name=v["first_name"], last_name=v["last_name"],
        date_of_birth=dob, licence_number=licence, address_line1=v["address_line1"],
        address_line2=v["address_line2"], town=v["town"], postcode=postcode, email=v["email"].lower(),
        phone=v["phone"], offence_date=offence, critical_date=critical, police_force=v["police_force"],
    ), {}


def split_name(name: str) -> tuple[str, str]:
    """'Mary Ann Smith' -> ('Mary Ann', 'Smith'); a single word is taken as the last name."""
    parts = (name or "").split()
    if not parts:
        return "", ""
    if len(parts) == 1:
        return "", parts[0]
    return " ".join(parts[:-1]), parts[-1]


def _describe(problems: dict[str, str]) -> str:
    return "; ".join(problems.values())


# --- reading the file ----------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_csv(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The data rows as (line number, field -> text), or file-level problems (missing columns...)."""
    lines = list(io.StringIO(text, newline=""))
    if not lines:
        return [], [RowError(0, "The file is empty.")]
    header, i = _record_at(lines, 0, None)
    if isinstance(header, str):
        return [], [RowError(1, f"the header row cannot be read ({header})")]
    columns: list[str | None] = []
    seen: dict[str, str] = {}
    problems: list[RowError] = []
    has_name = False
    for raw in header:
        norm = normalise_header(raw)
        target = HEADER_ALIASES.get(norm) or ("name" if norm in NAME_ALIASES else None)
        if target is not None and target in seen:
            problems.append(RowError(1, f"columns '{seen[target]}' and '{raw.strip()}' are the same column"))
            target = None
        if target is not None:
            seen[target] = raw.strip()
        has_name = has_name or target == "name"
        columns.append(target)
    missing = [LABELS[k] for k in REQUIRED
               if k not in seen and not (k in ("first_name", "last_name") and has_name)]
    if missing:
        problems.append(RowError(1, "the header row lacks the column(s): " + ", ".join(missing)))
    if problems:
        return [], problems
    rows: list[tuple[int, dict[str, str]]] = []
    while i < len(lines):
        start = i + 1
        record, i = _record_at(lines, i, len(columns))
        if isinstance(record, str):
            problems.append(RowError(start, record))
            continue
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(columns) and any(c.strip() for c in record[len(columns):]):
            problems.append(RowError(start, f"the row has {len(record)} cells but the header has {len(columns)}"))
            continue
        values = {col: record[k] for k, col in enumerate(columns) if col is not None and k < len(record)}
        rows.append((start, values))
        if len(rows) > MAX_ROWS:
            return [], [RowError(0, f"The file has more than {MAX_ROWS:,} rows; split it into smaller files.")]
    return rows, problems


UNCLOSED = "the line ends inside a quoted field (a closing quote is missing)"


def _record_at(lines: list[str], i: int, width: int | None) -> tuple[list[str] | str, int]:
    """The CSV record starting at ``lines[i]`` and the index of the line after it; or a reason it cannot be read and
    ``i + 1``, so that reading goes on at the next line and no other row is lost.

    A quoted field may hold line breaks (an address typed on two lines): such a record is kept when it has no more
    cells than the header (``width``). Otherwise the quote was never closed, and only its own line is bad."""
    quotes = lines[i].count('"')
    j = i + 1
    while quotes & 1 and j < len(lines):
        quotes += lines[j].count('"')
        j += 1
    if quotes & 1:
        return UNCLOSED, i + 1
    try:
        parsed = list(csv.reader(io.StringIO("".join(lines[i:j]), newline="")))
    except csv.Error as exc:
        return f"the row cannot be read ({exc})", i + 1
    cells = parsed[0] if parsed else []
    if j > i + 1 and (len(parsed) != 1 or (width is not None and len(cells) > width)):
        return UNCLOSED, i + 1
    return cells, j


# --- progress --------------------------------------------------------------------------------------------------


def start_job(actor: Actor, filename: str, rows_total: int = 0) -> int:
    """An ImportJob row for the app to watch."""
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        job = ImportJob(organisation_id=org_id, kind=KIND, filename=(filename or "")[:200], status="queued",
                        rows_total=rows_total, started_by=actor.username[:80])
        s.add(job)
        s.flush()
        return job.id


def _update_job(job_id: int | None, **values: Any) -> None:
    if job_id is None:
        return
    with write_session() as s:
        s.exec(update(ImportJob).where(ImportJob.id == job_id).values(**values))


class _Progress:
    """Writes rows_done to the job every so often, in its own short transaction."""

    def __init__(self, job_id: int | None, total: int, callback: Callable[[int, int, str], None] | None):
        self.job_id, self.total, self.callback = job_id, total, callback
        self.last = 0.0
        self.enabled = True

    def __call__(self, done: int, phase: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        if self.enabled:
            _update_job(self.job_id, rows_done=done, status=phase)
        if self.callback:  # after the job row, so the callback sees what another connection sees
            self.callback(done, self.total, phase)


@dataclass(frozen=True)
class JobView:
    id: int
    filename: str
    status: str
    rows_total: int
    rows_done: int
    created: int
    updated: int
    errors: list[str]
    started_by: str
    started_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else (100 if self.finished_at else 0)


def _job_view(j: ImportJob) -> JobView:
    return JobView(j.id, j.filename, j.status, j.rows_total, j.rows_done, j.created, j.updated, list(j.errors or []),
                   j.started_by, j.started_at, j.finished_at)


def get_job(actor: Actor, job_id: int) -> JobView:
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        job = s.exec(select(ImportJob).where(ImportJob.id == bounds.query_id(job_id),
                                             ImportJob.organisation_id == org_id,
                                             ImportJob.kind == KIND)).first()
        if job is None:
            raise NotFound("No such import.")
        return _job_view(job)


def recent_jobs(actor: Actor, limit: int = 10) -> list[JobView]:
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        rows = s.exec(select(ImportJob).where(ImportJob.organisation_id == org_id, ImportJob.kind == KIND)
                      .order_by(ImportJob.id.desc()).limit(limit)).all()
        return [_job_view(j) for j in rows]


def claim_job(actor: Actor, job_id: int) -> JobView | None:
    """Move a queued job to running and return it; None when it is not a queued job this user started in this
    organisation. A job therefore runs once, and only for whoever uploaded its file."""
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        result = s.exec(update(ImportJob).where(ImportJob.id == bounds.query_id(job_id),
                                                ImportJob.organisation_id == org_id,
                                                ImportJob.kind == KIND, ImportJob.status == "queued",
                                                ImportJob.started_by == actor.username[:80])
                        .values(status="checking"))
        if result.rowcount != 1:
            return None
        return _job_view(s.get(ImportJob, bounds.query_id(job_id)))


# --- writing ---------------------------------------------------------------------------------------------------


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    clients_created: int = 0
    changes: list[tuple[str, list[str]]] = field(default_factory=list)


CLIENT_CONTACT_FIELDS = ("address_line1", "address_line2", "town", "postcode", "email", "phone")
OFFER_FIELDS = ("offence_date", "critical_date", "police_force")


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass
class _Plan:
    steps: list[tuple[int, Referral, CourseType, Offer | None, Client | None, int | None]]
    new_clients: list[tuple[int, Referral]]
    errors: list[RowError]


def _course_types(s: Session, org_id: int) -> dict[str, CourseType]:
    return {ct.code.upper(): ct for ct in s.exec(select(CourseType).where(CourseType.organisation_id == org_id)).all()}


def _course_type_problem(course_types: dict[str, CourseType], code: str) -> str:
    """What is wrong with a row's course type code ('' when it is one the organisation offers)."""
    if not code:
        return ""
    ct = course_types.get(code)
    if ct is None:
        known = ", ".join(sorted(course_types)) or "none set up"
        return f"course type '{code}' is not one of this organisation's ({known})"
    if not ct.is_active:
        return f"course type {ct.code} is no longer offered"
    return ""


def _plan(s: Session, org_id: int, rows: list[tuple[int, Referral]]) -> _Plan:
    """Check the rows against the database and decide what each does; writes nothing."""
    errors: list[RowError] = []
    course_types = _course_types(s, org_id)
    refs = [r.offer_reference for _, r in rows]
    existing: dict[str, Offer] = {}
    for chunk in _chunks(refs):
        for offer in s.exec(select(Offer).where(Offer.organisation_id == org_id,
                                                func.upper(Offer.offer_reference).in_(chunk))).all():
            existing[offer.offer_reference.upper()] = offer
    licences = sorted({r.licence_number for _, r in rows if r.licence_number})
    by_licence: dict[str, Client] = {}
    for chunk in _chunks(licences):
        for client in s.exec(select(Client).where(Client.organisation_id == org_id,
                                                  func.upper(Client.licence_number).in_(chunk))
                             .order_by(Client.id)).all():
            by_licence.setdefault(client.licence_number.upper(), client)
    dobs = sorted({r.date_of_birth for _, r in rows})
    by_name: dict[tuple[str, date], Client] = {}
    for chunk in _chunks(dobs):
        for client in s.exec(select(Client).where(Client.organisation_id == org_id,
                                                  Client.date_of_birth.in_(chunk)).order_by(Client.id)).all():
            by_name.setdefault(_name_key(client.first_name, client.last_name, client.date_of_birth), client)
    clients_by_id: dict[int, Client] = {c.id: c for c in [*by_licence.values(), *by_name.values()]}
    offer_clients = [o.client_id for o in existing.values() if o.client_id not in clients_by_id]
    for chunk in _chunks(offer_clients):
        for client in s.exec(select(Client).where(Client.id.in_(chunk))).all():
            clients_by_id[client.id] = client
    booked = set()
    existing_ids = [o.id for o in existing.values()]
    for chunk in _chunks(existing_ids):
        booked.update(s.exec(select(Booking.offer_id).where(Booking.offer_id.in_(chunk),
                                                            Booking.status.in_(ACTIVE_BOOKING_STATUSES))).all())

    first_line: dict[str, int] = {}
    # Plan what each row does. Nothing is written until every row has been checked.
    plan: list[tuple[int, Referral, CourseType, Offer | None, Client | None, int | None]] = []
    # A person new to Atlas who appears on several rows gets one client, defined by the first of those rows.
    new_client_for: dict[tuple, tuple[int, Referral]] = {}
    new_defs: list[tuple[int, Referral]] = []
    for line, r in rows:
        problems: dict[str, str] = {}
        if r.offer_reference in first_line:
            problems["offer_reference"] = f"offer reference {r.offer_reference} is also on line " \
                                          f"{first_line[r.offer_reference]}"
        else:
            first_line[r.offer_reference] = line
        ct = course_types.get(r.course_type)
        if _course_type_problem(course_types, r.course_type):
            problems["course_type"] = _course_type_problem(course_types, r.course_type)
        offer = existing.get(r.offer_reference)
        client: Client | None = None
        if offer is not None:
            client = clients_by_id.get(offer.client_id)
            if client is not None and _name_key(client.first_name, client.last_name, client.date_of_birth) != \
                    _name_key(r.first_name, r.last_name, r.date_of_birth):
                problems["offer_reference"] = f"offer {r.offer_reference} is already held for a different person " \
                                              f"({client.first_name} {client.last_name}, born " \
                                              f"{client.date_of_birth:%d/%m/%Y})"
            if ct is not None and offer.course_type_id != ct.id:
                if offer.id in booked:
                    problems["course_type"] = f"offer {r.offer_reference} has a live booking, so its course type " \
                                              "cannot change"
                elif offer.status in OfferStatus.FINISHED:
                    problems["course_type"] = f"offer {r.offer_reference} is finished " \
                                              f"({offer.status.replace('_', ' ')}) and cannot change course"
        else:
            if r.licence_number and r.licence_number in by_licence:
                client = by_licence[r.licence_number]
                if client.date_of_birth != r.date_of_birth:
                    problems["licence_number"] = f"driving licence {r.licence_number} belongs to a client born " \
                                                 f"{client.date_of_birth:%d/%m/%Y}, not {r.date_of_birth:%d/%m/%Y}"
            if client is None:
                client = by_name.get(_name_key(r.first_name, r.last_name, r.date_of_birth))
                if client is not None and r.licence_number and client.licence_number and \
                        client.licence_number.upper() != r.licence_number:
                    client = None  # same name and birthday but another licence: a different person
        defining_line: int | None = None
        if not problems and offer is None and client is None:
            lic_key = ("licence", r.licence_number) if r.licence_number else None
            name_key = ("name", *_name_key(r.first_name, r.last_name, r.date_of_birth))
            twin = new_client_for.get(lic_key) if lic_key else None
            if twin is not None and twin[1].date_of_birth != r.date_of_birth:
                problems["licence_number"] = f"driving licence {r.licence_number} is also on line {twin[0]} for " \
                                             "a person with a different date of birth"
            if twin is None:
                candidate = new_client_for.get(name_key)
                if candidate is not None and not (r.licence_number and candidate[1].licence_number
                                                  and candidate[1].licence_number != r.licence_number):
                    twin = candidate
            if not problems:
                if twin is None:
                    twin = (line, r)
                    new_defs.append(twin)
                if lic_key:
                    new_client_for.setdefault(lic_key, twin)
                new_client_for.setdefault(name_key, twin)
                defining_line = twin[0]
        if problems:
            errors.append(RowError(line, _describe(problems), problems))
            continue
        plan.append((line, r, ct, offer, client, defining_line))
    return _Plan(plan, new_defs, errors)


def _apply(s: Session, actor: Actor, org_id: int, rows: list[tuple[int, Referral]], source: str,
           progress: Callable[[int], None] | None = None,
           job_id: int | None = None) -> tuple[_Counts, list[RowError], dict[str, int]]:
    """Check the rows against the database and write them, inside the caller's transaction, with an audit entry
    for each client and offer created or changed. Returns the counts, the row problems (when there are any,
    nothing was written) and offer reference -> offer id."""
    counts = _Counts()
    planned = _plan(s, org_id, rows)
    if planned.errors:
        return counts, planned.errors, {}
    plan, new_defs = planned.steps, planned.new_clients

    # Write: new clients first (one flush for many), then offers, then timeline events.
    made: dict[int, Client] = {}  # the line that defined a new client -> the client
    for line, r in new_defs:
        client = Client(organisation_id=org_id, first_name=r.first_name, last_name=r.last_name,
                        date_of_birth=r.date_of_birth, licence_number=r.licence_number,
                        **{k: getattr(r, k) for k in CLIENT_CONTACT_FIELDS})
        s.add(client)
        made[line] = client
    s.flush()
    counts.clients_created = len(made)
    origin = {"source": source, **({"import_job": job_id} if job_id is not None else {})}
    entries: list[audit.Pending] = [
        audit.Pending("client", c.id, "created", after={"first_name": c.first_name, "last_name": c.last_name,
                                                        "date_of_birth": c.date_of_birth, **origin},
                      subject=("client", c.id))
        for c in made.values()]

    today = london_date(utcnow())
    offer_ids: dict[str, int] = {}
    new_offers: list[tuple[Offer, Referral]] = []
    done = 0
    for line, r, ct, offer, client, defining_line in plan:
        if offer is None:
            if defining_line is not None:
                client = made[defining_line]
            else:
                changed = _update_client(s, client, r)
                if changed:
                    entries.append(audit.Pending("client", client.id, "updated", after={"changed": changed, **origin},
                                                 subject=("client", client.id)))
            offer = Offer(organisation_id=org_id, offer_reference=r.offer_reference, client_id=client.id,
                          course_type_id=ct.id, offence_date=r.offence_date, critical_date=r.critical_date,
                          police_force=r.police_force, source=source,
                          status=OfferStatus.EXPIRED if r.critical_date < today else OfferStatus.REFERRED)
            s.add(offer)
            new_offers.append((offer, r))
            counts.created += 1
        else:
            changed = _update_client(s, client, r) if client is not None else []
            changed += _update_offer(s, offer, r, ct, today)
            if changed:
                counts.updated += 1
                counts.changes.append((r.offer_reference, changed))
                entries.append(audit.Pending("offer", offer.offer_reference, "updated",
                                             after={"changed": changed, **origin},
                                             subject=("client", offer.client_id)))
                s.add(ClientEvent(organisation_id=org_id, client_id=offer.client_id, offer_id=offer.id,
                                  kind="referral_updated",
                                  detail=("Police sent new details: " + ", ".join(changed))[:500],
                                  username=actor.username[:80]))
            else:
                counts.unchanged += 1
            offer_ids[r.offer_reference] = offer.id
        done += 1
        if done % 500 == 0:
            s.flush()
            if progress:
                progress(done)
    s.flush()
    for offer, r in new_offers:
        offer_ids[r.offer_reference] = offer.id
        entries.append(audit.Pending("offer", offer.offer_reference, "referred",
                                     after={"course_type": r.course_type, "offence_date": r.offence_date,
                                            "critical_date": r.critical_date, "police_force": r.police_force,
                                            "status": offer.status, **origin},
                                     subject=("client", offer.client_id)))
        s.add(ClientEvent(organisation_id=org_id, client_id=offer.client_id, offer_id=offer.id, kind="referred",
                          detail=f"Offer {offer.offer_reference} for {r.course_type}"
                                 + (f" from {r.police_force}" if r.police_force else ""),
                          username=actor.username[:80]))
        if offer.status == OfferStatus.EXPIRED:
            s.add(ClientEvent(organisation_id=org_id, client_id=offer.client_id, offer_id=offer.id,
                              kind="offer_expired",
                              detail=f"The critical date {offer.critical_date:%d %B %Y} had passed on arrival."))
    s.flush()
    audit.record_many(s, actor, entries, organisation_id=org_id)
    return counts, [], offer_ids


def _name_key(first: str, last: str, dob: date) -> tuple[str, date]:
    """Who a person is by name: the whole name, case and spacing ignored (so a name split differently between
    first and last still matches), with the date of birth."""
    return (" ".join(f"{first} {last}".lower().split()), dob)


def _update_client(s: Session, client: Client, r: Referral) -> list[str]:
    changed = []
    for key in CLIENT_CONTACT_FIELDS:
        new = getattr(r, key)
        if new and new != getattr(client, key):
            setattr(client, key, new)
            changed.append(LABELS[key])
    if r.licence_number and not client.licence_number:
        client.licence_number = r.licence_number
        changed.append(LABELS["licence_number"])
    if changed:
        s.add(client)
    return changed


def _update_offer(s: Session, offer: Offer, r: Referral, ct: CourseType, today: date) -> list[str]:
    changed = []
    for key in OFFER_FIELDS:
        new = getattr(r, key)
        if new != getattr(offer, key) and (new or key != "police_force"):
            setattr(offer, key, new)
            changed.append(LABELS[key])
    if offer.course_type_id != ct.id:
        offer.course_type_id = ct.id
        changed.append(LABELS["course_type"])
    if offer.status == OfferStatus.EXPIRED and offer.critical_date >= today and "critical date" in changed:
        offer.status = OfferStatus.REFERRED  # the police extended the deadline
    if changed:
        s.add(offer)
    return changed


# --- the entry points ------------------------------------------------------------------------------------------


def import_csv(actor: Actor, data: bytes, filename: str = "", job_id: int | None = None,
               on_progress: Callable[[int, int, str], None] | None = None,
               skip_bad_rows: bool = False) -> ImportResult:
    """Import a referrals CSV for the actor's organisation: all or nothing. Never raises for bad rows; the
    result lists them (and the ImportJob records them), each with every problem it has. With ``skip_bad_rows`` the
    good rows are imported and ``result.errors`` lists the bad ones, which were left out (``result.skipped``);
    problems with the file itself (its header, its size) still refuse it."""
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    if job_id is None:
        job_id = start_job(actor, filename)
    try:
        result = _run(actor, org_id, data, filename, job_id, on_progress, skip_bad_rows)
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, AtlasError) else "The import stopped because of an internal error; " \
                                                               "nothing was imported."
        _update_job(job_id, status="failed", errors=[reason], finished_at=utcnow())
        raise
    stored = [str(e) for e in result.errors[:MAX_STORED_ERRORS]]
    if len(result.errors) > MAX_STORED_ERRORS:
        stored.append(f"... and {len(result.errors) - MAX_STORED_ERRORS} more problems.")
    _update_job(job_id, status="done" if result.ok else "failed", rows_total=result.rows,
                rows_done=result.rows if result.ok else 0, created=result.created, updated=result.updated,
                errors=stored, finished_at=utcnow())
    return result


def _run(actor: Actor, org_id: int, data: bytes, filename: str, job_id: int | None,
         on_progress: Callable[[int, int, str], None] | None, skip_bad_rows: bool = False) -> ImportResult:
    if len(data) > MAX_FILE_BYTES:
        return ImportResult(job_id, False, errors=[RowError(0, f"The file is larger than "
                                                               f"{MAX_FILE_BYTES // (1024 * 1024)} MB.")])
    raw_rows, file_problems = read_csv(decode(data))
    result = ImportResult(job_id, False, rows=len(raw_rows))
    if not raw_rows and not file_problems:
        file_problems = [RowError(0, "The file has a header row but no offers.")]
    progress = _Progress(job_id, len(raw_rows), on_progress)
    _update_job(job_id, status="checking", rows_total=len(raw_rows), rows_done=0)
    checked: list[tuple[int, Referral]] = []
    bad: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    for i, (line, values) in enumerate(raw_rows, start=1):
        referral, problems = check_values(values)
        if referral is None:
            bad.append((line, values, problems))
        else:
            checked.append((line, referral))
        progress(i, "checking")
    file_level = [e for e in file_problems if e.line in (0, 1)]
    errors = [e for e in file_problems if e.line not in (0, 1)]
    if file_level or not (raw_rows or errors):
        result.errors = sorted(file_level + errors, key=lambda e: e.line)
        return result
    if bad or errors:
        # Every problem of a bad row: also what it would hit in the database (an unknown course type...), and
        # what the good-looking rows would hit.
        with read_session() as s:
            course_types = _course_types(s, org_id)
            for line, values, problems in bad:
                wrong = _course_type_problem(course_types, str(values.get("course_type") or "").strip().upper())
                if wrong and "course_type" not in problems:
                    problems["course_type"] = wrong
                errors.append(RowError(line, _describe(problems), problems))
            if checked and not skip_bad_rows:
                errors += _plan(s, org_id, checked).errors
    if errors and not skip_bad_rows:
        result.errors = sorted(errors, key=lambda e: e.line)
        return result
    progress(0, "importing", force=True)
    try:
        with write_session() as s:
            # SQLite has one writer at a time and this transaction is it: progress waits for the commit there.
            progress.enabled = is_postgres(s)
            while True:
                counts, row_errors, _ids = _apply(s, actor, org_id, checked, "import",
                                                  lambda n: progress(n, "importing"), job_id=job_id)
                if not row_errors:
                    break
                # _apply writes nothing when it finds bad rows.
                errors += row_errors
                if not skip_bad_rows:
                    result.errors = sorted(errors, key=lambda e: e.line)
                    return result
                dropped = {e.line for e in row_errors}
                checked = [(line, r) for line, r in checked if line not in dropped]
            result.errors = sorted(errors, key=lambda e: e.line)
            if not checked:
                return result
            audit.record(s, actor, "import_job", job_id, "referrals_imported",
                         after={"filename": filename[:200], "rows": len(checked), "created": counts.created,
                                "updated": counts.updated, "unchanged": counts.unchanged,
                                "clients_created": counts.clients_created, "skipped": len(errors)})
    except IntegrityError:
        result.errors = [RowError(0, _RACE)]
        return result
    result.ok = True
    result.created, result.updated, result.unchanged = counts.created, counts.updated, counts.unchanged
    result.clients_created = counts.clients_created
    result.skipped = len(errors)
    return result


def import_file(actor: Actor, path: str, skip_bad_rows: bool = False) -> ImportResult:
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    import os

    return import_csv(actor, data, os.path.basename(path), skip_bad_rows=skip_bad_rows)


@dataclass(frozen=True)
class ReferralOutcome:
    result: str  # created, updated, unchanged
    offer_id: int
    offer_reference: str
    status: str
    changed: list[str]


def submit_one(actor: Actor, values: dict[str, Any], source: str = "api") -> ReferralOutcome:
    """One referral (the REST API): the same checks as a file row. Raises ImportRejected with the problems."""
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    referral, problems = check_values(values)
    if referral is None:
        raise ImportRejected([RowError(0, _describe(problems), problems)])
    try:
        return _submit(actor, org_id, referral, source)
    except IntegrityError:
        raise Conflict(_RACE) from None


def _submit(actor: Actor, org_id: int, referral: Referral, source: str) -> ReferralOutcome:
    with write_session() as s:
        counts, row_errors, ids = _apply(s, actor, org_id, [(0, referral)], source)
        if row_errors:
            raise ImportRejected(row_errors)
        offer_id = ids[referral.offer_reference]
        kind = "created" if counts.created else "updated" if counts.updated else "unchanged"
        offer = s.get(Offer, offer_id)
        return ReferralOutcome(kind, offer_id, referral.offer_reference, offer.status,
                               counts.changes[0][1] if counts.changes else [])


_OFFER_BY_REFERENCE = select(Offer.id).where(Offer.organisation_id == bindparam("org"),
                                             Offer.offer_reference == bindparam("ref"))
_OFFER_BY_ANY_CASE = select(Offer.id).where(Offer.organisation_id == bindparam("org"),
                                            func.upper(Offer.offer_reference) == bindparam("ref"))


def offer_id_for_reference(actor: Actor, offer_reference: str, session: Session | None = None) -> int:
    """The id of the organisation's offer with this reference (any case), else NotFound."""
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    ref = str(offer_reference or "").strip().upper()
    if not ref:
        raise ValidationFailed("Give the offer reference.", {"offer_reference": "required"})
    # References are stored in capitals, so the exact match (an index lookup) nearly always answers; any other
    # spelling is found by the case-insensitive search.
    params = {"org": org_id, "ref": ref}

    def find(s: Session) -> int | None:
        conn = s.connection()
        return conn.execute(_OFFER_BY_REFERENCE, params).scalar() or conn.execute(_OFFER_BY_ANY_CASE, params).scalar()

    if session is not None:
        offer_id = find(session)
    else:
        with read_session() as s:
            offer_id = find(s)
    if offer_id is None:
        raise NotFound(f"No offer with reference {ref}.")
    return offer_id


__all__ = ["FIELDS", "ImportRejected", "ImportResult", "JobView", "Referral", "ReferralOutcome", "RowError",
           "check_values", "claim_job", "get_job", "import_csv", "import_file", "offer_id_for_reference",
           "parse_date", "read_csv", "recent_jobs", "split_name", "start_job", "submit_one"]
