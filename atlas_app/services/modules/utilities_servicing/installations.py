"""Installation types (with their certificate regime), installations per home, checks with their certificates and
the remedial tasks their defects raise, and each home's servicing state (``servicing_home``), kept in step here.

A home's state: the earliest due date of its required, landlord-owned, active installations (``next_due_on``), how
many there are (``required_count``) and how many have no certificate on record (``uncertified_count``). Tenant-owned
appliances are recorded but are not the landlord's check to keep in date.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models.casework import Place
from atlas_app.models.utilities import (
    OUTCOME_LABELS,
    OUTCOMES,
    OWNERSHIP,
    UNCERTIFIED_KEY,
    EngineerAppointment,
    Installation,
    InstallationCheck,
    InstallationType,
    RemedialTask,
    ServicingHome,
)
from atlas_app.services.casework.people import place_label
from atlas_app.services.modules import require_module
from atlas_app.services.modules.utilities_servicing import CODE, rules, storage
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.owned import owned_row
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date

# code, name, regime, interval months, early window months
DEFAULT_TYPES: tuple[tuple[str, str, str, int, int], ...] = (
    ("gas_boiler", "Gas boiler", "Gas safety check", 12, 2),
    ("gas_fire", "Gas fire", "Gas safety check", 12, 2),
    ("cooker", "Gas cooker", "Gas safety check", 12, 2),
    ("electrical", "Electrical installation", "Electrical installation condition report", 60, 2),
    ("alarms", "Smoke and carbon monoxide alarms", "Alarm test", 12, 2),
)
# How long a defect of each outcome has to be put right.
REMEDIAL_TARGET = {
    "immediately_dangerous": timedelta(hours=24),
    "at_risk": timedelta(days=7),
    "not_to_current_standard": timedelta(days=28),
    "pass": timedelta(days=28),
}
OWNERSHIP_LABELS = {"landlord": "Landlord", "tenant": "Tenant"}
EARLIEST = date(1990, 1, 1)


def today() -> date:
    return london_date(utcnow())


def viewer(s: Session, actor: Actor) -> int:
    """The actor's organisation, if they may see casework and the module type is on there."""
    actor.require(Perm.CASES_VIEW)
    org_id = actor.require_org()
    require_module(s, org_id, CODE)
    return org_id


def manager(s: Session, actor: Actor) -> int:
    actor.require(Perm.CASES_MANAGE)
    org_id = actor.require_org()
    require_module(s, org_id, CODE)
    return org_id


def parse_day(value: Any, name: str, required: bool = True, latest: date | None = None) -> date | None:
    if value in (None, ""):
        if required:
            raise ValidationFailed(f"Give the {name.replace('_', ' ')}.", {name: "required"})
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise ValidationFailed(f"The {name.replace('_', ' ')} is not a date (YYYY-MM-DD).", {name: "invalid"}) \
                from None
    return bounds.check_date_range(value, name, EARLIEST, latest or date(2100, 1, 1))


def parse_uprn(value: Any) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or len(text) > 12 or int(text) <= 0:
        raise ValidationFailed("A UPRN is a whole number of up to 12 digits.", {"uprn": "invalid"})
    return int(text)


def place_by_uprn(s: Session, org_id: int, uprn: Any) -> Place:
    row = s.exec(select(Place).where(Place.organisation_id == org_id, Place.uprn == parse_uprn(uprn))).first()
    if row is None:
        raise NotFound("No such place (UPRN) in this organisation's gazetteer.")
    return row


# --- types ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeView:
    id: int
    code: str
    name: str
    regime: str
    interval_months: int
    early_window_months: int
    is_required: bool
    is_active: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _type_view(t: InstallationType) -> TypeView:
    return TypeView(t.id, t.code, t.name, t.regime, t.interval_months, t.early_window_months, t.is_required,
                    t.is_active)


def ensure_types(s: Session, org_id: int) -> int:
    """Give the organisation the default installation types it does not have yet; returns how many were added."""
    have = set(s.exec(select(InstallationType.code).where(InstallationType.organisation_id == org_id)).all())
    added = 0
    for code, name, regime, interval, window in DEFAULT_TYPES:
        if code not in have:
            s.add(InstallationType(organisation_id=org_id, code=code, name=name, regime=regime,
                                   interval_months=interval, early_window_months=window))
            added += 1
    if added:
        s.flush()
    return added


def list_types(actor: Actor) -> list[TypeView]:
    with write_session() as s:
        org_id = viewer(s, actor)
        ensure_types(s, org_id)
        rows = s.exec(select(InstallationType).where(InstallationType.organisation_id == org_id)
                      .order_by(InstallationType.name)).all()
        return [_type_view(t) for t in rows]


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    try:
        out = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationFailed(f"Give the {name.replace('_', ' ')} as a whole number.", {name: "invalid"}) from None
    if not low <= out <= high:
        raise ValidationFailed(f"The {name.replace('_', ' ')} must be between {low} and {high}.", {name: "range"})
    return out


def save_type(actor: Actor, type_id: Any, *, code: str = "", name: str, regime: str = "", interval_months: Any = 12,
              early_window_months: Any = 2, is_required: bool = True, is_active: bool = True) -> TypeView:
    """Create (``type_id`` None) or change an installation type and its regime. A changed regime applies to checks
    recorded from now on; due dates already set stay as they are."""
    name, regime = str(name or "").strip()[:100], str(regime or "").strip()[:100]
    if not name:
        raise ValidationFailed("Give the installation type a name.", {"name": "required"})
    interval = _int_in(interval_months, "interval_months", 1, 240)
    window = _int_in(early_window_months, "early_window_months", 0, 239)
    if window >= interval:
        raise ValidationFailed("The early window must be shorter than the interval.", {"early_window_months": "range"})
    with write_session() as s:
        org_id = manager(s, actor)
        values = {"name": name, "regime": regime, "interval_months": interval, "early_window_months": window,
                  "is_required": bool(is_required), "is_active": bool(is_active)}
        if type_id in (None, ""):
            code = "".join(ch for ch in str(code or name).lower().replace(" ", "_") if ch.isalnum() or ch == "_")[:40]
            if not code:
                raise ValidationFailed("Give the type a code.", {"code": "required"})
            if s.exec(select(InstallationType.id).where(InstallationType.organisation_id == org_id,
                                                        InstallationType.code == code)).first():
                raise Conflict(f"There is already an installation type with code {code}.")
            row = InstallationType(organisation_id=org_id, code=code, **values)
            s.add(row)
            s.flush()
            audit.record(s, actor, "installation_type", row.id, "created", after={"code": code, **values})
        else:
            row = owned_row(s, InstallationType, org_id, type_id, "installation type")
            before = {k: getattr(row, k) for k in values}
            for k, v in values.items():
                setattr(row, k, v)
            s.add(row)
            s.flush()
            old, new = audit.changes(before, values)
            if new:
                audit.record(s, actor, "installation_type", row.id, "updated", before=old, after=new)
            refresh_all_homes(s, org_id)
        return _type_view(row)


# --- homes -----------------------------------------------------------------------------------------------------


def _required_filter(org_id: int):
    return (Installation.organisation_id == org_id, Installation.is_active == True,
            Installation.ownership == "landlord", InstallationType.is_required == True)


def refresh_homes(s: Session, org_id: int, place_ids: list[int]) -> None:
    """Recompute the servicing state of these homes from their installations (inside the caller's transaction)."""
    ids = sorted(set(place_ids))
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        figures = {pid: (due, n, missing) for pid, due, n, missing in s.exec(
            select(Installation.place_id, func.min(Installation.next_due_on), func.count(),
                   func.sum(case((Installation.next_due_on.is_(None), 1), else_=0)))
            .join(InstallationType, InstallationType.id == Installation.installation_type_id)
            .where(*_required_filter(org_id), Installation.place_id.in_(chunk))
            .group_by(Installation.place_id)).all()}
        homes = {h.place_id: h for h in s.exec(select(ServicingHome).where(ServicingHome.organisation_id == org_id,
                                                                           ServicingHome.place_id.in_(chunk))).all()}
        uprns = dict(s.exec(select(Place.id, Place.uprn).where(Place.organisation_id == org_id,
                                                               Place.id.in_(chunk))).all())
        for pid in chunk:
            due, n, missing = figures.get(pid, (None, 0, 0))
            home = homes.get(pid) or ServicingHome(organisation_id=org_id, place_id=pid, uprn=uprns[pid])
            home.next_due_on, home.required_count, home.uncertified_count = due, int(n or 0), int(missing or 0)
            home.due_key = (None if not home.required_count else UNCERTIFIED_KEY if home.uncertified_count
                            else home.next_due_on)
            s.add(home)
    s.flush()


def refresh_all_homes(s: Session, org_id: int) -> None:
    ids = list(s.exec(select(Installation.place_id).where(Installation.organisation_id == org_id).distinct()).all())
    ids += list(s.exec(select(ServicingHome.place_id).where(ServicingHome.organisation_id == org_id)).all())
    refresh_homes(s, org_id, ids)


# --- installations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallationView:
    id: int
    type_code: str
    type_name: str
    regime: str
    location: str
    make: str
    model: str
    ownership: str
    is_active: bool
    last_check_on: date | None
    next_due_on: date | None
    days_overdue: int

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ownership_label"] = OWNERSHIP_LABELS.get(self.ownership, self.ownership)
        out["last_check_text"] = self.last_check_on.isoformat() if self.last_check_on else "No certificate"
        out["next_due_text"] = self.next_due_on.isoformat() if self.next_due_on else "Unknown"
        return out


def _type_for(s: Session, org_id: int, type_ref: Any) -> InstallationType:
    """A type by id or code, of this organisation."""
    ref = str(type_ref or "").strip()
    query = select(InstallationType).where(InstallationType.organisation_id == org_id)
    row = None
    if ref.isdigit() and len(ref) <= 12:
        row = s.exec(query.where(InstallationType.id == int(ref))).first()
    if row is None and ref:
        row = s.exec(query.where(InstallationType.code == ref[:40])).first()
    if row is None:
        raise ValidationFailed("Choose an installation type from the list.", {"installation_type": "unknown"})
    return row


def check_values(values: dict[str, Any]) -> dict[str, Any]:
    ownership = str(values.get("ownership") or "landlord").strip().lower()
    if ownership not in OWNERSHIP:
        raise ValidationFailed("Ownership is landlord or tenant.", {"ownership": "invalid"})
    out = {"ownership": ownership}
    for key in ("location", "make", "model"):
        text = str(values.get(key) or "").strip()
        if len(text) > 100:
            raise ValidationFailed(f"The {key} is longer than 100 characters.", {key: "too long"})
        out[key] = text
    return out


def add_installation(actor: Actor, uprn: Any, installation_type: Any, *, location: str = "", make: str = "",
                     model: str = "", ownership: str = "landlord", last_check_on: Any = None) -> int:
    """An installation at a home. Given the date of its last certificate, its due date follows from its type."""
    values = check_values({"location": location, "make": make, "model": model, "ownership": ownership})
    last = parse_day(last_check_on, "last_check_on", required=False, latest=today())
    with write_session() as s:
        org_id = manager(s, actor)
        ensure_types(s, org_id)
        place = place_by_uprn(s, org_id, uprn)
        kind = _type_for(s, org_id, installation_type)
        row = Installation(organisation_id=org_id, place_id=place.id, installation_type_id=kind.id, **values,
                           last_check_on=last,
                           next_due_on=rules.add_months(last, kind.interval_months) if last else None)
        s.add(row)
        s.flush()
        refresh_homes(s, org_id, [place.id])
        audit.record(s, actor, "installation", row.id, "created",
                     after={"uprn": place.uprn, "type": kind.code, **values, "last_check_on": last})
        return row.id


def _views(s: Session, rows, now: date) -> list[InstallationView]:
    return [InstallationView(i.id, t.code, t.name, t.regime, i.location, i.make, i.model, i.ownership, i.is_active,
                             i.last_check_on, i.next_due_on, rules.days_overdue(i.next_due_on, now))
            for i, t in rows]


@dataclass(frozen=True)
class HomeView:
    place_id: int
    uprn: int
    address: str
    next_due_on: date | None
    no_access_count: int
    access_stage: str
    installations: list[InstallationView]
    checks: list[dict[str, Any]]
    remedial: list[dict[str, Any]]
    appointments: list[dict[str, Any]]
    letters: list[dict[str, Any]]


def home(actor: Actor, uprn: Any) -> HomeView:
    """A home's installations, checks, open remedial work, appointments and letters."""
    from atlas_app.services.modules.utilities_servicing import programme

    with read_session() as s:
        org_id = viewer(s, actor)
        place = place_by_uprn(s, org_id, uprn)
        now = today()
        rows = s.exec(select(Installation, InstallationType)
                      .join(InstallationType, InstallationType.id == Installation.installation_type_id)
                      .where(Installation.organisation_id == org_id, Installation.place_id == place.id)
                      .order_by(InstallationType.name, Installation.id)).all()
        state = s.exec(select(ServicingHome).where(ServicingHome.organisation_id == org_id,
                                                   ServicingHome.place_id == place.id)).first()
        checks = s.exec(select(InstallationCheck, InstallationType.name)
                        .join(Installation, Installation.id == InstallationCheck.installation_id)
                        .join(InstallationType, InstallationType.id == Installation.installation_type_id)
                        .where(InstallationCheck.organisation_id == org_id, Installation.place_id == place.id)
                        .order_by(InstallationCheck.checked_on.desc(), InstallationCheck.id.desc()).limit(50)).all()
        tasks = s.exec(select(RemedialTask).join(Installation, Installation.id == RemedialTask.installation_id)
                       .where(RemedialTask.organisation_id == org_id, Installation.place_id == place.id)
                       .order_by(RemedialTask.status.desc(), RemedialTask.target_at).limit(50)).all()
        return HomeView(
            place.id, place.uprn, place_label(place), state.next_due_on if state else None,
            state.no_access_count if state else 0, state.access_stage if state else "", _views(s, rows, now),
            [{"id": c.id, "type": name, "checked_on": c.checked_on.isoformat(), "outcome": c.outcome,
              "outcome_label": OUTCOME_LABELS[c.outcome], "certificate": c.certificate_name,
              "has_certificate": bool(c.certificate_sha256), "next_due_on": c.next_due_on.isoformat()
              if c.next_due_on else ""} for c, name in checks],
            [{"id": t.id, "description": t.description, "severity": OUTCOME_LABELS.get(t.severity, t.severity),
              "target_at": t.target_at, "status": t.status} for t in tasks],
            programme.appointments_at(s, org_id, place.id),
            programme.letters_at(s, org_id, place.id),
        )


# --- checks and certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    check_id: int
    next_due_on: date
    kept_anniversary: bool
    remedial_task_ids: list[int]


def record_check(actor: Actor, installation_id: Any, *, checked_on: Any, outcome: str,
                 certificate: bytes | None = None, certificate_name: str = "", certificate_type: str = "",
                 certificate_number: str = "", defects: list[str] | None = None, appointment_id: Any = None,
                 notes: str = "") -> CheckResult:
    """A check of an installation and its certificate: its outcome, the due date it sets (the early-check rule
    keeps the anniversary), a remedial task with a target time for each defect (one for the outcome itself when it
    is not a pass and no defect is named), and the home's access attempts cleared."""
    outcome = str(outcome or "").strip()
    if outcome not in OUTCOMES:
        raise ValidationFailed("Choose the outcome: pass, at risk, immediately dangerous or not to current standard.",
                               {"outcome": "invalid"})
    day = parse_day(checked_on, "checked_on", latest=today())
    items = [str(d).strip()[:500] for d in (defects or []) if str(d or "").strip()]
    if len(items) > 50:
        raise ValidationFailed("At most 50 defects on one check.", {"defects": "too many"})
    if outcome != "pass" and not items:
        items = [OUTCOME_LABELS[outcome]]
    number = str(certificate_number or "").strip()[:60]
    notes = str(notes or "").strip()[:1000]
    digest = ""
    if certificate:
        if len(certificate) > storage.MAX_BYTES:
            raise ValidationFailed("The certificate file is larger than 20 MB.", {"certificate": "too large"})
        digest = storage.put(bytes(certificate))
    with write_session() as s:
        org_id = manager(s, actor)
        inst = owned_row(s, Installation, org_id, installation_id, "installation")
        kind = s.get(InstallationType, inst.installation_type_id)
        visit = None
        if appointment_id not in (None, ""):
            visit = owned_row(s, EngineerAppointment, org_id, appointment_id, "appointment")
            if visit.place_id != inst.place_id:
                raise ValidationFailed("That appointment is at another home.", {"appointment_id": "wrong home"})
        due = rules.next_due(day, inst.next_due_on, kind.interval_months, kind.early_window_months)
        check = InstallationCheck(organisation_id=org_id, installation_id=inst.id,
                                  appointment_id=visit.id if visit else None, checked_on=day, outcome=outcome,
                                  due_on=inst.next_due_on, next_due_on=due.due_on, certificate_number=number,
                                  certificate_sha256=digest, certificate_name=str(certificate_name or "")[:200],
                                  certificate_type=str(certificate_type or "")[:100], notes=notes,
                                  recorded_by=actor.username)
        s.add(check)
        s.flush()
        # A late check of a newer certificate never moves the due date back.
        if inst.last_check_on is None or day >= inst.last_check_on:
            inst.last_check_on, inst.next_due_on = day, due.due_on
            s.add(inst)
        now = utcnow()
        tasks = []
        for text in items:
            task = RemedialTask(organisation_id=org_id, check_id=check.id, installation_id=inst.id,
                                description=text, severity=outcome, target_at=now + REMEDIAL_TARGET[outcome])
            s.add(task)
            tasks.append(task)
        if visit is not None:
            visit.outcome = "completed"
            s.add(visit)
        s.flush()
        refresh_homes(s, org_id, [inst.place_id])
        home_row = s.exec(select(ServicingHome).where(ServicingHome.organisation_id == org_id,
                                                      ServicingHome.place_id == inst.place_id)).first()
        if home_row is not None and (home_row.no_access_count or home_row.access_stage):
            home_row.no_access_count, home_row.access_stage = 0, ""
            s.add(home_row)
            s.flush()
        audit.record(s, actor, "installation_check", check.id, "recorded",
                     after={"installation_id": inst.id, "checked_on": day, "outcome": outcome,
                            "next_due_on": due.due_on, "kept_anniversary": due.kept_anniversary,
                            "certificate_sha256": digest, "remedial_tasks": [t.id for t in tasks]})
        return CheckResult(check.id, due.due_on, due.kept_anniversary, [t.id for t in tasks])


def certificate_file(actor: Actor, check_id: Any) -> tuple[bytes, str, str]:
    """A check's certificate (bytes, file name, content type), only for a check of the actor's organisation."""
    with read_session() as s:
        org_id = viewer(s, actor)
        check = owned_row(s, InstallationCheck, org_id, check_id, "check")
        if not check.certificate_sha256:
            raise NotFound("That check has no certificate file.")
        digest, name, kind = check.certificate_sha256, check.certificate_name, check.certificate_type
    return storage.get(digest), name or f"certificate-{check_id}", kind or "application/octet-stream"


def complete_remedial(actor: Actor, task_id: Any) -> None:
    with write_session() as s:
        org_id = manager(s, actor)
        task = owned_row(s, RemedialTask, org_id, task_id, "remedial task")
        if task.status == "done":
            raise Conflict("That remedial task is already done.")
        task.status, task.completed_at = "done", utcnow()
        s.add(task)
        s.flush()
        audit.record(s, actor, "remedial_task", task.id, "done", before={"status": "open"}, after={"status": "done"})
