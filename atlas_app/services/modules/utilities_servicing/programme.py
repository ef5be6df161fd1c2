"""The servicing programme: homes due in the next N days, overdue, or with no access; engineers and their
appointments; failed access attempts and their letters.

Engineers are booked through the shared resource engine (``services/platform/resources.py``), as instructors are:
an engineer never holds two overlapping active appointments (``ex_engineer_appointment_overlap`` on PostgreSQL, the
checked write transaction on SQLite) nor more on one London day than their ``max_appointments_per_day`` (the
``tr_engineer_daily_limit`` trigger). A refusal names the clashing appointment.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models.casework import Place
from atlas_app.models.utilities import (
    Engineer,
    EngineerAppointment,
    ServicingHome,
    ServicingLetter,
)
from atlas_app.services.casework.people import place_label
from atlas_app.services.modules.utilities_servicing import letters, storage
from atlas_app.services.modules.utilities_servicing.installations import (
    manager,
    place_by_uprn,
    today,
    viewer,
)
from atlas_app.services.platform import audit, bounds, resources
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.owned import owned_row
from atlas_app.timeutil import LONDON, london_date

EXCLUSION_CONSTRAINT = "ex_engineer_appointment_overlap"
DAILY_LIMIT_TRIGGER = "tr_engineer_daily_limit"
DAILY_LIMIT_MESSAGE = "engineer_daily_limit"
APPOINTMENT_BOOKINGS = resources.BookingSpec(
    model=EngineerAppointment,
    overlaps=(resources.OverlapGuard("engineer_id", EXCLUSION_CONSTRAINT),),
    daily_limit=resources.DailyLimit(DAILY_LIMIT_TRIGGER, DAILY_LIMIT_MESSAGE, "engineer_id", "appointment_day",
                                     "engineer", "max_appointments_per_day"),
)
VIEWS = ("due", "overdue", "no_access")
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
MAX_PAGE = 200


class AppointmentClash(Conflict):
    """Refused because the engineer already holds an overlapping appointment; ``clash_id`` names it."""

    def __init__(self, message: str, clash_id: int | None = None) -> None:
        super().__init__(message)
        self.clash_id = clash_id


def _when(start: datetime, end: datetime) -> str:
    a, b = start.astimezone(LONDON), end.astimezone(LONDON)
    return f"{a:%a %d %b %Y} {a:%H:%M}–{b:%H:%M}"


# --- engineers ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineerView:
    id: int
    full_name: str
    email: str
    phone: str
    registration: str
    max_appointments_per_day: int
    is_active: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _engineer_view(e: Engineer) -> EngineerView:
    return EngineerView(e.id, e.full_name, e.email, e.phone, e.registration, e.max_appointments_per_day, e.is_active)


def list_engineers(actor: Actor, active_only: bool = False) -> list[EngineerView]:
    with read_session() as s:
        org_id = viewer(s, actor)
        query = select(Engineer).where(Engineer.organisation_id == org_id)
        if active_only:
            query = query.where(Engineer.is_active == True)
        return [_engineer_view(e) for e in s.exec(query.order_by(Engineer.full_name)).all()]


def save_engineer(actor: Actor, engineer_id: Any, *, full_name: str, email: str, phone: str = "",
                  registration: str = "", max_appointments_per_day: Any = 6, is_active: bool = True) -> int:
    full_name, email = str(full_name or "").strip()[:150], str(email or "").strip().lower()[:254]
    if not full_name:
        raise ValidationFailed("Give the engineer's name.", {"full_name": "required"})
    if not EMAIL_RE.match(email):
        raise ValidationFailed("Give the engineer's email address.", {"email": "invalid"})
    try:
        most = int(str(max_appointments_per_day).strip())
    except (TypeError, ValueError):
        raise ValidationFailed("Give the daily limit as a whole number.", {"max_appointments_per_day": "invalid"}) \
            from None
    if not 1 <= most <= 20:
        raise ValidationFailed("The daily limit is between 1 and 20 appointments.",
                               {"max_appointments_per_day": "range"})
    values = {"full_name": full_name, "email": email, "phone": str(phone or "").strip()[:30],
              "registration": str(registration or "").strip()[:40], "max_appointments_per_day": most,
              "is_active": bool(is_active)}
    with write_session() as s:
        org_id = manager(s, actor)
        clash = s.exec(select(Engineer.id).where(Engineer.organisation_id == org_id, Engineer.email == email)).first()
        if clash and str(clash) != str(engineer_id):
            raise Conflict("Another engineer has that email address.")
        if engineer_id in (None, ""):
            row = Engineer(organisation_id=org_id, **values)
            s.add(row)
            s.flush()
            audit.record(s, actor, "engineer", row.id, "created", after=values)
            return row.id
        row = owned_row(s, Engineer, org_id, engineer_id, "engineer")
        before = {k: getattr(row, k) for k in values}
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)
        s.flush()
        old, new = audit.changes(before, values)
        if new:
            audit.record(s, actor, "engineer", row.id, "updated", before=old, after=new)
        return row.id


# --- appointments --------------------------------------------------------------------------------------------------


def _describe(s: Session, appointment_id: int | None) -> str:
    row = s.exec(select(EngineerAppointment, Engineer.full_name, Place)
                 .join(Engineer, Engineer.id == EngineerAppointment.engineer_id)
                 .join(Place, Place.id == EngineerAppointment.place_id)
                 .where(EngineerAppointment.id == appointment_id)).first() if appointment_id else None
    if row is None:
        return "Clash: the engineer already has an overlapping appointment."
    a, name, place = row
    return (f"Clash: {name} is already at {place_label(place)} on {_when(a.block_start, a.block_end)} "
            f"(appointment #{a.id}).")


def _limit_text(engineer: Engineer) -> str:
    most = engineer.max_appointments_per_day
    return f"{engineer.full_name} already has {most} appointment{'' if most == 1 else 's'} that day (their most)."


def _parse_start(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed("Give the appointment's date and time.", {"starts_at": "invalid"}) from None
    if not isinstance(value, datetime):
        raise ValidationFailed("Give the appointment's date and time.", {"starts_at": "invalid"})
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    value = value.replace(second=0, microsecond=0)
    bounds.check_date_range(value.date(), "starts_at", date(2000, 1, 1), date(2100, 1, 1))
    return value


@dataclass(frozen=True)
class Booked:
    appointment_id: int
    when: str
    letter_id: int | None


def book_appointment(actor: Actor, uprn: Any, engineer_id: Any, starts_at: Any, minutes: Any = 60,
                     letter: bool = True) -> Booked:
    """An engineer's appointment at a home, and (by default) the appointment letter to the tenant."""
    start = _parse_start(starts_at)
    try:
        length = int(str(minutes).strip())
    except (TypeError, ValueError):
        raise ValidationFailed("Give the appointment's length in minutes.", {"minutes": "invalid"}) from None
    if not 15 <= length <= 600:
        raise ValidationFailed("An appointment lasts between 15 and 600 minutes.", {"minutes": "range"})
    with write_session() as s:
        org_id = manager(s, actor)
        place = place_by_uprn(s, org_id, uprn)
        engineer = owned_row(s, Engineer, org_id, engineer_id, "engineer")
        if not engineer.is_active:
            raise Conflict(f"{engineer.full_name} is no longer active.")
        row = EngineerAppointment(organisation_id=org_id, engineer_id=engineer.id, place_id=place.id,
                                  appointment_day=london_date(start), block_start=start,
                                  block_end=start + timedelta(minutes=length), booked_by=actor.username)
        limit_text = _limit_text(engineer)  # worked out now: a refused write leaves the session rolled back
        resources.guarded_write(s, APPOINTMENT_BOOKINGS, row,
                                clash_error=lambda _guard, clash: AppointmentClash(_describe(s, clash), clash),
                                limit_error=lambda: Conflict(limit_text))
        produced = letters.produce(s, actor.username, org_id, place, letters.APPOINTMENT, appointment=row) \
            if letter else None
        audit.record(s, actor, "engineer_appointment", row.id, "booked",
                     after={"uprn": place.uprn, "engineer_id": engineer.id, "starts_at": start, "minutes": length,
                            "letter_id": produced.id if produced else None})
        return Booked(row.id, _when(row.block_start, row.block_end), produced.id if produced else None)


def cancel_appointment(actor: Actor, appointment_id: Any) -> None:
    with write_session() as s:
        org_id = manager(s, actor)
        row = owned_row(s, EngineerAppointment, org_id, appointment_id, "appointment")
        if row.status != "active":
            raise Conflict("That appointment is already cancelled.")
        if row.outcome:
            raise Conflict("That appointment already has an outcome.")
        row.status = "cancelled"
        s.add(row)
        s.flush()
        audit.record(s, actor, "engineer_appointment", row.id, "cancelled", before={"status": "active"},
                     after={"status": "cancelled"})


@dataclass(frozen=True)
class NoAccess:
    attempts: int
    stage: str
    stage_label: str
    letter_id: int
    letter_code: str


def record_no_access(actor: Actor, appointment_id: Any) -> NoAccess:
    """The engineer could not get in: the home's failed attempts go up by one and the letter for that attempt
    (1st, 2nd, 3rd, then the legal-access stage) is produced."""
    with write_session() as s:
        org_id = manager(s, actor)
        row = owned_row(s, EngineerAppointment, org_id, appointment_id, "appointment")
        if row.status != "active":
            raise Conflict("That appointment is cancelled.")
        if row.outcome:
            raise Conflict(f"That appointment's outcome is already recorded ({row.outcome.replace('_', ' ')}).")
        if row.block_start > utcnow() + timedelta(hours=12):
            raise Conflict("That appointment has not happened yet.")
        place = s.exec(select(Place).where(Place.id == row.place_id, Place.organisation_id == org_id)).one()
        home = s.exec(select(ServicingHome).where(ServicingHome.organisation_id == org_id,
                                                  ServicingHome.place_id == place.id).with_for_update()).first()
        if home is None:
            home = ServicingHome(organisation_id=org_id, place_id=place.id, uprn=place.uprn)
        home.no_access_count += 1
        stage, code = letters.letter_for_attempt(home.no_access_count)
        home.access_stage, home.last_attempt_on = stage, london_date(row.block_start)
        row.outcome = "no_access"
        s.add(home)
        s.add(row)
        s.flush()
        produced = letters.produce(s, actor.username, org_id, place, code, appointment=row,
                                   attempts=home.no_access_count, attempt_at=row.block_start)
        audit.record(s, actor, "engineer_appointment", row.id, "no_access",
                     after={"uprn": place.uprn, "attempts": home.no_access_count, "stage": stage,
                            "letter_id": produced.id})
        return NoAccess(home.no_access_count, stage, letters.STAGE_LABELS[stage], produced.id, code)


def appointments_at(s: Session, org_id: int, place_id: int) -> list[dict[str, Any]]:
    rows = s.exec(select(EngineerAppointment, Engineer.full_name)
                  .join(Engineer, Engineer.id == EngineerAppointment.engineer_id)
                  .where(EngineerAppointment.organisation_id == org_id, EngineerAppointment.place_id == place_id)
                  .order_by(EngineerAppointment.block_start.desc()).limit(50)).all()
    return [{"id": a.id, "engineer": name, "when": _when(a.block_start, a.block_end), "status": a.status,
             "outcome": a.outcome.replace("_", " ") if a.outcome else ("cancelled" if a.status != "active"
                                                                       else "booked"),
             "open": a.status == "active" and not a.outcome} for a, name in rows]


def letters_at(s: Session, org_id: int, place_id: int) -> list[dict[str, Any]]:
    rows = s.exec(select(ServicingLetter).where(ServicingLetter.organisation_id == org_id,
                                                ServicingLetter.place_id == place_id)
                  .order_by(ServicingLetter.id.desc()).limit(50)).all()
    return [{"id": r.id, "code": r.template_code, "subject": r.subject,
             "produced": london_date(r.created_at).isoformat()} for r in rows]


def letter_file(actor: Actor, letter_id: Any) -> tuple[bytes, str]:
    """A produced letter's PDF, only for a letter of the actor's organisation."""
    with read_session() as s:
        org_id = viewer(s, actor)
        row = owned_row(s, ServicingLetter, org_id, letter_id, "letter")
        digest, name = row.pdf_sha256, f"{row.template_code}-{row.id}.pdf"
    if not digest:
        raise NotFound("This letter's file was deleted when its records were purged.")
    return storage.get(digest), name


def engineer_day(actor: Actor, engineer_id: Any, day: date) -> list[dict[str, Any]]:
    """One engineer's appointments on a London day (for choosing a free time)."""
    with read_session() as s:
        org_id = viewer(s, actor)
        engineer = owned_row(s, Engineer, org_id, engineer_id, "engineer")
        rows = s.exec(select(EngineerAppointment, Place)
                      .join(Place, Place.id == EngineerAppointment.place_id)
                      .where(EngineerAppointment.organisation_id == org_id,
                             EngineerAppointment.engineer_id == engineer.id,
                             EngineerAppointment.appointment_day == day, EngineerAppointment.status == "active")
                      .order_by(EngineerAppointment.block_start)).all()
        return [{"id": a.id, "when": _when(a.block_start, a.block_end), "address": place_label(p)} for a, p in rows]


# --- the programme list ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeRow:
    place_id: int
    uprn: int
    address: str
    next_due_on: date | None
    days_to_due: int | None
    uncertified: int
    no_access_count: int
    access_stage: str
    booked: str

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["next_due_text"] = self.next_due_on.isoformat() if self.next_due_on else "No certificate"
        if self.days_to_due is None:
            out["status_text"] = "No certificate on record"
        elif self.days_to_due < 0:
            out["status_text"] = f"Overdue by {-self.days_to_due} day{'' if self.days_to_due == -1 else 's'}"
        else:
            out["status_text"] = f"Due in {self.days_to_due} day{'' if self.days_to_due == 1 else 's'}"
        out["stage_text"] = letters.STAGE_LABELS.get(self.access_stage, "") or "—"
        out["uprn"] = str(self.uprn)
        return out


@dataclass(frozen=True)
class ProgrammePage:
    rows: list[ProgrammeRow]
    total: int


def programme(actor: Actor, view: str = "due", days: Any = 30, limit: int = 50, offset: int = 0) -> ProgrammePage:
    """Homes due in the next ``days`` days (and not yet overdue), overdue (or with no certificate), or with failed
    access attempts; the soonest due first, with each one's next booked appointment."""
    view = view if view in VIEWS else "due"
    try:
        horizon = int(str(days).strip())
    except (TypeError, ValueError):
        raise ValidationFailed("Give the number of days ahead as a whole number.", {"days": "invalid"}) from None
    if not 1 <= horizon <= 730:
        raise ValidationFailed("Look between 1 and 730 days ahead.", {"days": "range"})
    limit = max(1, min(int(limit), MAX_PAGE))
    offset = max(0, int(offset))
    now = today()
    with read_session() as s:
        org_id = viewer(s, actor)
        # Each view is a range of the (organisation, due_key) index; due_key holds UNCERTIFIED_KEY (before any
        # real date) for a home with an uncertified required installation, and NULL for a home needing no check.
        where = [ServicingHome.organisation_id == org_id]
        if view == "due":
            where += [ServicingHome.due_key >= now, ServicingHome.due_key <= now + timedelta(days=horizon)]
        elif view == "overdue":
            where += [ServicingHome.due_key < now]
        else:
            where += [ServicingHome.no_access_count > 0, ServicingHome.due_key.is_not(None)]
        total = int(s.exec(select(func.count()).select_from(ServicingHome).where(*where)).one())
        order = (ServicingHome.due_key, ServicingHome.place_id)
        if view == "no_access":
            order = (ServicingHome.no_access_count.desc(),) + order
        # The page's homes first from the index alone (an offset deep in the list walks index entries only), then
        # their rows and addresses.
        page_ids = list(s.exec(select(ServicingHome.place_id).where(*where).order_by(*order)
                               .offset(offset).limit(limit)).all())
        found = {h.place_id: (h, p) for h, p in s.exec(
            select(ServicingHome, Place).join(Place, Place.id == ServicingHome.place_id)
            .where(ServicingHome.organisation_id == org_id, ServicingHome.place_id.in_(page_ids))).all()} \
            if page_ids else {}
        rows = [found[pid] for pid in page_ids if pid in found]
        ids = [h.place_id for h, _ in rows]
        booked: dict[int, str] = {}
        if ids:
            for pid, start, end, name in s.exec(
                    select(EngineerAppointment.place_id, EngineerAppointment.block_start,
                           EngineerAppointment.block_end, Engineer.full_name)
                    .join(Engineer, Engineer.id == EngineerAppointment.engineer_id)
                    .where(EngineerAppointment.organisation_id == org_id, EngineerAppointment.place_id.in_(ids),
                           EngineerAppointment.status == "active", EngineerAppointment.outcome == "",
                           EngineerAppointment.block_end > utcnow())
                    .order_by(EngineerAppointment.block_start)).all():
                booked.setdefault(pid, f"{_when(start, end)} ({name})")
        out = []
        for h, p in rows:
            if h.uncertified_count or h.next_due_on is None:
                to_due = None
            else:
                to_due = (h.next_due_on - now).days
            out.append(ProgrammeRow(p.id, p.uprn, place_label(p), h.next_due_on, to_due, h.uncertified_count,
                                    h.no_access_count, h.access_stage, booked.get(p.id, "")))
        return ProgrammePage(out, total)


def home_exists(actor: Actor, uprn: Any) -> bool:
    with read_session() as s:
        org_id = viewer(s, actor)
        try:
            place_by_uprn(s, org_id, uprn)
        except NotFound:
            return False
        return True
