"""The course catalogue of an organisation: regions, venues, course types, sessions and booking terms.

Administrators change all of it in the app; every change is audited.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, SessionStatus
from atlas_app.models import Booking, BookingTerms, CourseSession, CourseType, Region, Venue
from atlas_app.services.platform import audit, bounds, welsh
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed, amount_field
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, at_london

DELIVERY_MODES = ("classroom", "online", "practical")
INSTRUCTOR_ROLES = ("classroom", "practical")
SESSION_STATUSES = tuple(SessionStatus)
POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")


def normalise_postcode(value: str) -> str:
    """'ts248aa' -> 'TS24 8AA'; raises ValidationFailed when it is not a UK postcode."""
    compact = re.sub(r"\s+", "", (value or "").upper())
    match = POSTCODE_RE.match(compact[:-3] + " " + compact[-3:]) if len(compact) >= 5 else None
    if not match:
        raise ValidationFailed(f"'{value}' is not a UK postcode.", {"postcode": "invalid"})
    return f"{match.group(1)} {match.group(2)}"


def postcode_district(postcode: str) -> str:
    """The outward code: 'TS24 8AA' -> 'TS24'."""
    return (postcode or "").strip().upper().split(" ")[0]


def postcode_area(postcode: str) -> str:
    """The letters of the outward code: 'TS24 8AA' -> 'TS'."""
    return re.match(r"[A-Z]*", postcode_district(postcode)).group(0)


def proximity_rank(client_postcode: str, venue_postcode: str) -> tuple[int, int]:
    """Nearest first by postcode district: same district, then same area (ordered by how close the district
    number is), then the rest."""
    cd, vd = postcode_district(client_postcode), postcode_district(venue_postcode)
    if not cd or not vd:
        return (3, 0)
    if cd == vd:
        return (0, 0)
    if postcode_area(cd) == postcode_area(vd):
        cn, vn = re.sub(r"\D", "", cd), re.sub(r"\D", "", vd)
        return (1, abs(int(cn or 0) - int(vn or 0)))
    return (2, 0)


def _org(actor: Actor) -> int:
    actor.require(Perm.CATALOGUE_MANAGE)
    return actor.require_org()


def _text(value: Any, name: str, max_len: int, required: bool = False) -> str:
    out = str(value or "").strip()
    if required and not out:
        raise ValidationFailed(f"{name.capitalize()} is required.", {name: "required"})
    if len(out) > max_len:
        raise ValidationFailed(f"{name.capitalize()} is too long ({max_len} characters at most).", {name: "too long"})
    return out


def _int(value: Any, name: str, minimum: int = 0, maximum: int = 10_000_000) -> int:
    return bounds.whole_number(value, name, minimum, maximum)


MAX_FEE_PENCE = 1_000_000  # £10,000.00


def pounds_to_pence(value: Any, name: str = "fee", maximum: int = MAX_FEE_PENCE) -> int:
    """A fee in pounds, read by the same rule as every amount of money (zero allowed: a free course, no fee)."""
    return amount_field(value, name.replace(" ", "_"), what=f"the {name}", allow_zero=True, maximum=maximum)


# --- regions ---------------------------------------------------------------------------------------------------


def save_region(actor: Actor, region_id: int | None, name: str, is_active: bool = True) -> int:
    org_id = _org(actor)
    name = _text(name, "name", 100, required=True)
    with write_session() as s:
        clash = s.exec(select(Region.id).where(Region.organisation_id == org_id,
                                               func.lower(Region.name) == name.lower())).first()
        if region_id is None:
            if clash:
                raise Conflict(f"There is already a region called '{name}'.")
            count = s.exec(select(func.count()).select_from(Region).where(Region.organisation_id == org_id)).one()
            region = Region(organisation_id=org_id, name=name, sort_order=count, is_active=is_active)
            s.add(region)
            s.flush()
            audit.record(s, actor, "region", region.id, "created", after={"name": name})
            return region.id
        region = s.exec(select(Region).where(Region.id == bounds.query_id(region_id),
                                             Region.organisation_id == org_id)).first()
        if region is None:
            raise NotFound("No such region.")
        if clash and clash != region.id:
            raise Conflict(f"There is already a region called '{name}'.")
        before = {"name": region.name, "is_active": region.is_active}
        region.name, region.is_active = name, bool(is_active)
        s.add(region)
        old, new = audit.changes(before, {"name": name, "is_active": bool(is_active)})
        if new:
            audit.record(s, actor, "region", region.id, "updated", before=old, after=new)
        return region.id


# --- venues ----------------------------------------------------------------------------------------------------

VENUE_FIELDS = ("name", "region_id", "is_online", "address_line1", "address_line2", "town", "postcode",
                "accessibility_notes", "is_active")


def save_venue(actor: Actor, venue_id: int | None, data: dict[str, Any]) -> int:
    org_id = _org(actor)
    is_online = bool(data.get("is_online"))
    values = {
        "name": _text(data.get("name"), "name", 150, required=True),
        "is_online": is_online,
        "address_line1": _text(data.get("address_line1"), "address_line1", 150, required=not is_online),
        "address_line2": _text(data.get("address_line2"), "address_line2", 150),
        "town": _text(data.get("town"), "town", 100, required=not is_online),
        "postcode": normalise_postcode(data.get("postcode", "")) if (data.get("postcode") or not is_online) else "",
        "accessibility_notes": _text(data.get("accessibility_notes"), "accessibility_notes", 1000),
        "is_active": bool(data.get("is_active", True)),
        # The Welsh wording (services/platform/welsh.py), kept as it was when the form did not send it.
        **{key: _text(data.get(key), key, size) for key, size in (("name_cy", 150), ("accessibility_notes_cy", 1000))
           if key in data},
    }
    region_id = data.get("region_id")
    with write_session() as s:
        if region_id not in (None, "", 0, "0"):
            region = s.exec(select(Region).where(Region.id == _int(region_id, "region_id", 1),
                                                 Region.organisation_id == org_id)).first()
            if region is None:
                raise ValidationFailed("Choose one of your regions.", {"region_id": "unknown"})
            values["region_id"] = region.id
        else:
            values["region_id"] = None
        clash = s.exec(select(Venue.id).where(Venue.organisation_id == org_id,
                                              func.lower(Venue.name) == values["name"].lower())).first()
        if venue_id is None:
            if clash:
                raise Conflict(f"There is already a venue called '{values['name']}'.")
            venue = Venue(organisation_id=org_id, **values)
            s.add(venue)
            s.flush()
            audit.record(s, actor, "venue", venue.id, "created", after=values)
            return venue.id
        venue = s.exec(select(Venue).where(Venue.id == bounds.query_id(venue_id),
                                           Venue.organisation_id == org_id)).first()
        if venue is None:
            raise NotFound("No such venue.")
        if clash and clash != venue.id:
            raise Conflict(f"There is already a venue called '{values['name']}'.")
        before = {k: getattr(venue, k) for k in values}
        for key, value in values.items():
            setattr(venue, key, value)
        s.add(venue)
        old, new = audit.changes(before, values)
        if new:
            audit.record(s, actor, "venue", venue.id, "updated", before=old, after=new)
        return venue.id


# --- course types ----------------------------------------------------------------------------------------------


def _roles(value: Any) -> list[dict[str, Any]]:
    roles = []
    for item in value or []:
        role = str(item.get("role", "")).strip()
        if role not in INSTRUCTOR_ROLES:
            raise ValidationFailed(f"Unknown instructor role '{role}'.", {"instructor_roles": "unknown role"})
        per = _int(item.get("clients_per_instructor", 12), "clients_per_instructor", 1, 100)
        minimum = _int(item.get("minimum", 1), "minimum", 0, 20)
        entry: dict[str, Any] = {"role": role, "clients_per_instructor": per, "minimum": minimum}
        if item.get("vehicle"):
            entry["vehicle"] = str(item["vehicle"])[:30]
        roles.append(entry)
    return roles


def save_course_type(actor: Actor, course_type_id: int | None, data: dict[str, Any]) -> int:
    org_id = _org(actor)
    code = _text(data.get("code"), "code", 20, required=True).upper()
    if not CODE_RE.match(code):
        raise ValidationFailed("The code may use capital letters, digits, dash and underscore.", {"code": "invalid"})
    modes = sorted({str(m).strip().lower() for m in (data.get("delivery_modes") or [])})
    if not modes or any(m not in DELIVERY_MODES for m in modes):
        raise ValidationFailed("Choose at least one delivery mode: classroom, online or practical.",
                               {"delivery_modes": "invalid"})
    fee = data.get("fee_pence")
    values = {
        "code": code,
        "name": _text(data.get("name"), "name", 150, required=True),
        "is_ndors": bool(data.get("is_ndors", True)),
        "description": _text(data.get("description"), "description", 1000),
        "duration_minutes": _int(data.get("duration_minutes", 165), "duration_minutes", 15, 24 * 60),
        "fee_pence": _int(fee, "fee_pence", 0,
                          MAX_FEE_PENCE) if fee is not None else pounds_to_pence(data.get("fee", 0)),
        "delivery_modes": modes,
        "default_capacity": _int(data.get("default_capacity", 24), "default_capacity", 1, 500),
        "instructor_roles": _roles(data.get("instructor_roles")),
        "is_active": bool(data.get("is_active", True)),
        **({"what_to_bring": _text(data.get("what_to_bring"), "what_to_bring", 1000)}
           if "what_to_bring" in data else {}),
        **{key: _text(data.get(key), key, size) for key, size in
           (("name_cy", 150), ("description_cy", 1000), ("what_to_bring_cy", 1000)) if key in data},
    }
    with write_session() as s:
        clash = s.exec(select(CourseType.id).where(CourseType.organisation_id == org_id,
                                                   CourseType.code == code)).first()
        if course_type_id is None:
            if clash:
                raise Conflict(f"There is already a course type with code {code}.")
            ct = CourseType(organisation_id=org_id, **values)
            s.add(ct)
            s.flush()
            audit.record(s, actor, "course_type", ct.id, "created", after=values)
            return ct.id
        ct = s.exec(select(CourseType).where(CourseType.id == bounds.query_id(course_type_id),
                                             CourseType.organisation_id == org_id)).first()
        if ct is None:
            raise NotFound("No such course type.")
        if clash and clash != ct.id:
            raise Conflict(f"There is already a course type with code {code}.")
        before = {k: getattr(ct, k) for k in values}
        for key, value in values.items():
            setattr(ct, key, value)
        s.add(ct)
        old, new = audit.changes(before, values)
        if new:
            audit.record(s, actor, "course_type", ct.id, "updated", before=old, after=new)
        return ct.id


# --- sessions --------------------------------------------------------------------------------------------------


def _link(value: Any) -> str:
    link = _text(value, "online_link", 500)
    if link and not link.lower().startswith(("https://", "http://")):
        raise ValidationFailed("The video link must start with https://.", {"online_link": "invalid"})
    return link


JOINING_KEYS = ("online_link", "meeting_id", "meeting_passcode")


def _session_values(s: Session, org_id: int, data: dict[str, Any]) -> dict[str, Any]:
    ct = s.exec(select(CourseType).where(CourseType.id == _int(data.get("course_type_id"), "course_type_id", 1),
                                         CourseType.organisation_id == org_id)).first()
    if ct is None:
        raise ValidationFailed("Choose one of your course types.", {"course_type_id": "unknown"})
    mode = str(data.get("delivery_mode") or (ct.delivery_modes[0] if ct.delivery_modes else "")).lower()
    if mode not in ct.delivery_modes:
        raise ValidationFailed(f"{ct.code} is not delivered {mode or 'that way'}.", {"delivery_mode": "invalid"})
    venue_id = data.get("venue_id")
    venue = None
    if venue_id not in (None, "", 0, "0"):
        venue = s.exec(select(Venue).where(Venue.id == _int(venue_id, "venue_id", 1),
                                           Venue.organisation_id == org_id)).first()
        if venue is None:
            raise ValidationFailed("Choose one of your venues.", {"venue_id": "unknown"})
    if mode != "online" and venue is None:
        raise ValidationFailed("A classroom or practical session needs a venue.", {"venue_id": "required"})
    starts_at = data.get("starts_at")
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        raise ValidationFailed("Give the date and start time.", {"starts_at": "required"})
    ends_at = data.get("ends_at") or starts_at + timedelta(minutes=ct.duration_minutes)
    if ends_at <= starts_at:
        raise ValidationFailed("The session must end after it starts.", {"ends_at": "before start"})
    capacity = _int(data.get("capacity") or ct.default_capacity, "capacity", 1, 500)
    status = str(data.get("status") or SessionStatus.SCHEDULED)
    if status not in SESSION_STATUSES:
        raise ValidationFailed("Unknown session status.", {"status": "invalid"})
    return {
        "course_type_id": ct.id,
        "venue_id": venue.id if venue else None,
        "delivery_mode": mode,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "capacity": capacity,
        "online_link": _link(data.get("online_link")),
        "status": status,
        "notes": _text(data.get("notes"), "notes", 1000),
        # Kept as they are when the caller does not give them.
        **{k: _text(data.get(k), k, 100) for k in ("meeting_id", "meeting_passcode") if k in data},
    }


@dataclass(frozen=True)
class SessionCancelEffect:
    """What cancelling a session would do, for staff to read before they confirm."""

    booked: int  # clients with a current booking on it: each is emailed and told on their timeline

    @property
    def needs_confirmation(self) -> bool:
        return self.booked > 0

    @property
    def text(self) -> str:
        if not self.booked:
            return "Nobody is booked on this session, so nobody needs to be told."
        who = "1 client is" if self.booked == 1 else f"{self.booked} clients are"
        return (f"{who} booked on this session. Cancelling it emails each of them that the course is cancelled "
                "and asks them to choose another date; their bookings stay in place until they are moved or "
                "cancelled.")


def _booked_on(s: Session, session_id: int) -> int:
    return s.exec(select(func.count()).select_from(Booking).where(
        Booking.session_id == session_id, Booking.status.in_(BookingStatus.ACTIVE))).one()


def session_cancel_effect(actor: Actor, session_id: int) -> SessionCancelEffect:
    """What cancelling the session now would do (staff who manage the catalogue)."""
    org_id = _org(actor)
    with read_session() as s:
        found = s.exec(select(CourseSession.id).where(CourseSession.id == int(session_id),
                                                      CourseSession.organisation_id == org_id)).first()
        if found is None:
            raise NotFound("No such session.")
        return SessionCancelEffect(_booked_on(s, found))


def save_session(actor: Actor, session_id: int | None, data: dict[str, Any], *, confirm_booked: bool = False) -> int:
    """Create or change one session. Capacity can never drop below the seats already taken.

    Cancelling a session with clients booked on it is allowed (staff who manage the catalogue), tells every booked
    client, and needs ``confirm_booked=True``: the caller has shown what :func:`session_cancel_effect` says.

    A new session, or one with more seats (or a new date or venue), offers its free seats to the waiting list."""
    saved = _save_session(actor, session_id, data, confirm_booked=confirm_booked)
    from atlas_app.services.booking import waiting_list

    waiting_list.seats_freed(actor.require_org(), [saved])
    return saved


def _save_session(actor: Actor, session_id: int | None, data: dict[str, Any], *, confirm_booked: bool) -> int:
    org_id = _org(actor)
    with write_session() as s:
        values = _session_values(s, org_id, data)
        if session_id is None:
            session = CourseSession(organisation_id=org_id, **values)
            s.add(session)
            s.flush()
            audit.record(s, actor, "course_session", session.id, "created", after=values)
            return session.id
        session = s.exec(select(CourseSession).where(CourseSession.id == bounds.query_id(session_id),
                                                     CourseSession.organisation_id == org_id).with_for_update()
                         ).first()
        if session is None:
            raise NotFound("No such session.")
        if values["capacity"] < session.seats_taken:
            raise ValidationFailed(
                f"{session.seats_taken} seats are already taken; capacity cannot be less than that.",
                {"capacity": "below seats taken"})
        if values["course_type_id"] != session.course_type_id and session.seats_taken:
            raise ValidationFailed("A session with bookings cannot change course type.", {"course_type_id": "booked"})
        if values["status"] == "cancelled" and session.status != "cancelled" and not confirm_booked:
            effect = SessionCancelEffect(_booked_on(s, session.id))
            if effect.needs_confirmation:
                raise ValidationFailed(effect.text + " Confirm that you want to cancel it.",
                                       {"confirm_booked": "required"})
        before = {k: getattr(session, k) for k in values}
        from atlas_app.services.booking import bookings as booking_service
        from atlas_app.services.instructors import assignments as instructors

        previously = booking_service.session_texts(s, session)
        for key, value in values.items():
            setattr(session, key, value)
        s.add(session)
        s.flush()
        moved = any(values.get(k) != before.get(k) for k in ("starts_at", "ends_at", "venue_id"))
        if values["status"] == SessionStatus.CANCELLED and before["status"] != SessionStatus.CANCELLED:
            instructors.cancel_session_assignments(s, session)
            booking_service.tell_booked_clients(s, session, "session_cancelled", actor=actor)
        elif moved and values["status"] != SessionStatus.CANCELLED:
            if values["starts_at"] != before["starts_at"] or values["ends_at"] != before["ends_at"]:
                instructors.recheck_assignments(s, org_id, session)
            booking_service.tell_booked_clients(s, session, "session_moved", previously, actor=actor)
        if (values["status"] != SessionStatus.CANCELLED and session.delivery_mode == "online"
                and any(k in values and values[k] != before.get(k) for k in JOINING_KEYS)):
            # The joining details changed (or were first given): tell the booked clients the new ones.
            booking_service.tell_booked_clients(s, session, "joining_changed", actor=actor)
        old, new = audit.changes(before, values)
        if new:
            audit.record(s, actor, "course_session", session.id, "updated", before=old, after=new)
        return session.id


def create_series(actor: Actor, data: dict[str, Any], first_day: date, last_day: date, weekdays: list[int],
                  start_times: list[time]) -> list[int]:
    """Bulk-create sessions: every chosen weekday (0 = Monday) between two dates, at each start time (London)."""
    org_id = _org(actor)
    if last_day < first_day:
        raise ValidationFailed("The last date is before the first.", {"last_day": "before first"})
    if (last_day - first_day).days > 366:
        raise ValidationFailed("A series can span one year at most.", {"last_day": "too far"})
    days = sorted({int(d) for d in weekdays if 0 <= int(d) <= 6})
    if not days or not start_times:
        raise ValidationFailed("Choose at least one weekday and one start time.", {"weekdays": "required"})
    ids: list[int] = []
    with write_session() as s:
        day = first_day
        while day <= last_day:
            if day.weekday() in days:
                for start in start_times:
                    values = _session_values(s, org_id, {**data, "starts_at": at_london(day, start), "ends_at": None})
                    session = CourseSession(organisation_id=org_id, **values)
                    s.add(session)
                    s.flush()
                    ids.append(session.id)
            day += timedelta(days=1)
        if len(ids) > 1000:
            raise ValidationFailed("That series would create more than 1,000 sessions.", {"series": "too many"})
        audit.record(s, actor, "course_session", ids[0] if ids else "", "series_created",
                     after={"count": len(ids), "first_day": first_day, "last_day": last_day, "weekdays": days,
                            "start_times": [t.strftime("%H:%M") for t in start_times],
                            "course_type_id": data.get("course_type_id"), "venue_id": data.get("venue_id")})
    if ids:
        from atlas_app.services.booking import waiting_list

        waiting_list.offer_free_seats(org_id, course_type_id=bounds.id_or_none(data.get("course_type_id")))
    return ids


# --- booking terms ---------------------------------------------------------------------------------------------

TERMS_FIELDS = {
    "hold_minutes": (5, 120),
    "payment_due_hours": (1, 24 * 60),
    "transfer_cutoff_hours": (0, 24 * 60),
    "transfer_fee_pence": (0, 100_000),
    "max_transfers": (0, 20),
    "cancel_cutoff_hours": (0, 24 * 60),
    "cancel_fee_pence": (0, 100_000),
    "bookable_days_ahead": (7, 730),
    "waiting_hold_minutes": (30, 7 * 24 * 60),
    "joining_details_hours": (0, 24 * 30),
}


@dataclass(frozen=True)
class TermsView:
    hold_minutes: int
    payment_due_hours: int
    unpaid_action: str
    transfer_cutoff_hours: int
    transfer_fee_pence: int
    max_transfers: int
    cancel_cutoff_hours: int
    cancel_fee_pence: int
    bookable_days_ahead: int
    waiting_hold_minutes: int = 1440
    joining_details_hours: int = 24
    # The organisation's own terms as text, in English and Welsh ('' for none).
    conditions: str = ""
    conditions_cy: str = ""


MAX_CONDITIONS = 4000


def get_terms(actor: Actor) -> TermsView:
    from atlas_app.services.booking.bookings import get_terms as _get

    org_id = actor.require_org()
    with read_session() as s:
        t = _get(s, org_id)
        return TermsView(**{k: getattr(t, k) for k in TermsView.__dataclass_fields__})


def save_terms(actor: Actor, data: dict[str, Any]) -> None:
    org_id = _org(actor)
    values = {k: _int(data.get(k), k, lo, hi) for k, (lo, hi) in TERMS_FIELDS.items() if data.get(k) is not None}
    if data.get("unpaid_action") is not None:
        if data["unpaid_action"] not in ("release", "chase"):
            raise ValidationFailed("Unpaid bookings are either released or chased.", {"unpaid_action": "invalid"})
        values["unpaid_action"] = data["unpaid_action"]
    for key, label in (("conditions", "The booking terms"), ("conditions_cy", "The booking terms in Welsh")):
        if data.get(key) is not None:
            text = str(data[key]).replace("\r\n", "\n").strip()
            if len(text) > MAX_CONDITIONS:
                raise ValidationFailed(f"{label} are longer than {MAX_CONDITIONS} characters.", {key: "too long"})
            values[key] = text
    with write_session() as s:
        terms = s.exec(select(BookingTerms).where(BookingTerms.organisation_id == org_id).with_for_update()).first()
        if terms is None:
            terms = BookingTerms(organisation_id=org_id)
        before = {k: getattr(terms, k) for k in values}
        for key, value in values.items():
            setattr(terms, key, value)
        terms.updated_at = utcnow()
        s.add(terms)
        old, new = audit.changes(before, values)
        if new:
            audit.record(s, actor, "booking_terms", org_id, "updated", before=old, after=new)


# --- listing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: int
    course_type_id: int
    course_code: str
    course_name: str
    venue_id: int | None
    venue_name: str
    region_name: str
    delivery_mode: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_taken: int
    status: str

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.seats_taken)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["free"] = self.free
        return out


def session_rows(s: Session, org_id: int, *, course_type_id: int | None = None, venue_id: int | None = None,
                 date_from: datetime | None = None, date_to: datetime | None = None, status: str | None = None,
                 delivery_mode: str | None = None, only_free: bool = False, limit: int = 500) -> list[SessionRow]:
    query = (
        select(CourseSession, CourseType.code, CourseType.name, Venue.name, Region.name, CourseType.name_cy,
               Venue.name_cy)
        .join(CourseType, CourseType.id == CourseSession.course_type_id)
        .outerjoin(Venue, Venue.id == CourseSession.venue_id)
        .outerjoin(Region, Region.id == Venue.region_id)
        .where(CourseSession.organisation_id == org_id)
    )
    if course_type_id:
        query = query.where(CourseSession.course_type_id == course_type_id)
    if venue_id:
        query = query.where(CourseSession.venue_id == venue_id)
    if date_from:
        query = query.where(CourseSession.starts_at >= date_from)
    if date_to:
        query = query.where(CourseSession.starts_at < date_to)
    if status:
        query = query.where(CourseSession.status == status)
    if delivery_mode:
        query = query.where(CourseSession.delivery_mode == delivery_mode)
    if only_free:
        query = query.where(CourseSession.seats_taken < CourseSession.capacity)
    rows = s.exec(query.order_by(CourseSession.starts_at, CourseSession.id).limit(limit)).all()
    return [
        SessionRow(
            id=cs.id, course_type_id=cs.course_type_id, course_code=code, course_name=welsh.pick(name, name_cy),
            venue_id=cs.venue_id, venue_name=welsh.pick(venue_name, venue_name_cy) or "Online", region_name=region_name or "", delivery_mode=cs.delivery_mode,
            starts_at=cs.starts_at, ends_at=cs.ends_at, capacity=cs.capacity, seats_taken=cs.seats_taken,
            status=cs.status,
        )
        for cs, code, name, venue_name, region_name, name_cy, venue_name_cy in rows
    ]


def list_sessions(actor: Actor, **filters) -> list[SessionRow]:
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        return session_rows(s, org_id, **filters)


def list_course_types(actor: Actor, include_inactive: bool = True) -> list[CourseType]:
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        query = select(CourseType).where(CourseType.organisation_id == org_id)
        if not include_inactive:
            query = query.where(CourseType.is_active)
        return list(s.exec(query.order_by(CourseType.code)).all())


def list_regions(actor: Actor) -> list[Region]:
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        return list(s.exec(select(Region).where(Region.organisation_id == org_id)
                           .order_by(Region.sort_order, Region.name)).all())


def list_venues(actor: Actor) -> list[Venue]:
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        return list(s.exec(select(Venue).where(Venue.organisation_id == org_id).order_by(Venue.name)).all())


__all__ = [
    "DELIVERY_MODES", "LONDON", "SessionRow", "TermsView", "create_series", "get_terms", "list_course_types",
    "list_regions", "list_sessions", "list_venues", "normalise_postcode", "postcode_district", "pounds_to_pence",
    "SessionCancelEffect", "proximity_rank", "save_course_type", "save_region", "save_session", "save_terms",
    "save_venue", "session_cancel_effect", "session_rows",
]
