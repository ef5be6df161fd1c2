"""Training cars: an organisation's fleet of manual and automatic cars, booked for practical sessions.

A car is booked by the assignment that uses it (``SessionAssignment.vehicle_id``), so it can never be in two places
at once for the same reason an instructor cannot (see ``services/instructors.py``). A retired car keeps its past
assignments but is offered for nothing new; a car with upcoming assignments cannot be retired until they are moved
to another car or instructor.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import CourseSession, Region, Venue
from atlas_app.models.instructors import SCHOOL_CAR_TYPES, SessionAssignment, TrainingVehicle
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, PermissionDenied, ValidationFailed
from atlas_app.services.instructors.assignments import (
    VEHICLE_LABELS,
    describe_assignment,
    find_clash,
    session_for,
    travel_buffer,
)
from atlas_app.services.platform.owned import owned_row, save_owned
from atlas_app.services.platform.permissions import Perm

# UK registrations and the odd trade or foreign plate: letters and digits, one optional space, 2 to 10 characters.
REGISTRATION_RE = re.compile(r"^[A-Z0-9]{1,7}( [A-Z0-9]{1,4})?$")


@dataclass(frozen=True)
class VehicleView:
    id: int
    registration: str
    vehicle_type: str
    vehicle_label: str
    home_region_id: int | None
    home_region: str
    home_venue_id: int | None
    home_venue: str
    is_active: bool
    notes: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise_registration(value: Any) -> str:
    """Upper case with single spaces; refused unless it looks like a number plate."""
    text = " ".join(str(value or "").upper().split())
    if not REGISTRATION_RE.match(text) or not 2 <= len(text.replace(" ", "")) <= 10:
        raise ValidationFailed("Give the car's registration, for example AB12 CDE.", {"registration": "invalid"})
    return text


def _optional_id(value: Any, name: str) -> int | None:
    text = str(value or "").strip()
    if not text or text == "0":
        return None
    if not text.isdigit() or len(text) > 12:
        raise ValidationFailed(f"Unknown {name.replace('_', ' ')}.", {name: "invalid"})
    return int(text)


def save_vehicle(actor: Actor, vehicle_id: int | None, data: dict[str, Any]) -> int:
    """Add a car or change one. Region and venue are checked against the actor's organisation."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = actor.require_org()
    registration = normalise_registration(data.get("registration"))
    vehicle_type = str(data.get("vehicle_type") or "")
    if vehicle_type not in SCHOOL_CAR_TYPES:
        raise ValidationFailed("Choose manual or automatic.", {"vehicle_type": "invalid"})
    notes = str(data.get("notes") or "").strip()
    if len(notes) > 500:
        raise ValidationFailed("Keep the notes to 500 characters.", {"notes": "too long"})
    region_id = _optional_id(data.get("home_region_id"), "home_region_id")
    venue_id = _optional_id(data.get("home_venue_id"), "home_venue_id")
    with write_session() as s:
        if region_id and s.exec(select(Region.id).where(Region.id == region_id,
                                                        Region.organisation_id == org_id)).first() is None:
            raise ValidationFailed("Choose one of your regions.", {"home_region_id": "unknown"})
        if venue_id and s.exec(select(Venue.id).where(Venue.id == venue_id,
                                                      Venue.organisation_id == org_id)).first() is None:
            raise ValidationFailed("Choose one of your venues.", {"home_venue_id": "unknown"})
        taken = s.exec(select(TrainingVehicle.id).where(TrainingVehicle.organisation_id == org_id,
                                                        TrainingVehicle.registration == registration,
                                                        TrainingVehicle.id != (vehicle_id or 0))).first()
        if taken:
            raise ValidationFailed(f"Car {registration} is already in the fleet.", {"registration": "taken"})
        values = dict(registration=registration, vehicle_type=vehicle_type, home_region_id=region_id,
                      home_venue_id=venue_id, notes=notes)

        def keep_type_while_booked(row: TrainingVehicle) -> None:
            if row.vehicle_type != vehicle_type and _next_assignment(s, row.id):
                raise Conflict(f"Car {row.registration} has upcoming practical sessions as a "
                               f"{VEHICLE_LABELS[row.vehicle_type].lower()}; move them before changing its type.")

        return save_owned(s, actor, TrainingVehicle, org_id, vehicle_id, values, entity="training_vehicle",
                          what="training car", before_change=keep_type_while_booked)


def _vehicle_row(s: Session, org_id: int, vehicle_id: Any) -> TrainingVehicle:
    return owned_row(s, TrainingVehicle, org_id, vehicle_id, "training car")


def _next_assignment(s: Session, vehicle_id: int) -> int | None:
    return s.exec(select(SessionAssignment.id).where(SessionAssignment.vehicle_id == vehicle_id,
                                                     SessionAssignment.status == "active",
                                                     SessionAssignment.block_end > utcnow())
                  .order_by(SessionAssignment.block_start).limit(1)).first()


def set_vehicle_active(actor: Actor, vehicle_id: int, active: bool) -> None:
    """Retire a car (it is offered for nothing new) or bring it back. A car still booked for an upcoming session
    is not retired; the refusal names the session."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        row = _vehicle_row(s, org_id, vehicle_id)
        if row.is_active == bool(active):
            return
        if not active:
            booked = _next_assignment(s, row.id)
            if booked:
                raise Conflict(f"Not retired: {describe_assignment(s, booked, by_vehicle=True)}. "
                               "Give that session another car first.")
        row.is_active = bool(active)
        row.retired_at = None if active else utcnow()
        s.add(row)
        audit.record(s, actor, "training_vehicle", row.id, "reinstated" if active else "retired",
                     before={"is_active": not active}, after={"is_active": bool(active)})


def list_vehicles(actor: Actor, include_retired: bool = True) -> list[VehicleView]:
    if not (actor.can(Perm.INSTRUCTORS_MANAGE) or actor.can(Perm.BOOKINGS_VIEW)):
        raise PermissionDenied()
    org_id = actor.require_org()
    with read_session() as s:
        query = (select(TrainingVehicle, Region.name, Venue.name)
                 .outerjoin(Region, Region.id == TrainingVehicle.home_region_id)
                 .outerjoin(Venue, Venue.id == TrainingVehicle.home_venue_id)
                 .where(TrainingVehicle.organisation_id == org_id))
        if not include_retired:
            query = query.where(TrainingVehicle.is_active == True)  # noqa: E712
        rows = s.exec(query.order_by(TrainingVehicle.is_active.desc(), TrainingVehicle.registration)).all()
        return [VehicleView(id=v.id, registration=v.registration, vehicle_type=v.vehicle_type,
                            vehicle_label=VEHICLE_LABELS[v.vehicle_type], home_region_id=v.home_region_id,
                            home_region=region or "", home_venue_id=v.home_venue_id, home_venue=venue or "",
                            is_active=v.is_active, notes=v.notes)
                for v, region, venue in rows]


def eligible_vehicles(actor: Actor, session_id: int, vehicle_type: str) -> list[dict[str, Any]]:
    """Active cars of the type that are free for the session (its time plus the travel buffer): those based at the
    session's venue first, then those of its region, then the rest."""
    actor.require(Perm.INSTRUCTORS_MANAGE)
    org_id = actor.require_org()
    if vehicle_type not in SCHOOL_CAR_TYPES:
        return []
    with read_session() as s:
        cs: CourseSession = session_for(s, org_id, session_id)
        venue = s.get(Venue, cs.venue_id) if cs.venue_id else None
        buffer = travel_buffer(s, org_id)
        cars = s.exec(select(TrainingVehicle).where(TrainingVehicle.organisation_id == org_id,
                                                    TrainingVehicle.vehicle_type == vehicle_type,
                                                    TrainingVehicle.is_active == True)).all()  # noqa: E712
        out = []
        for car in cars:
            if find_clash(s, None, cs.starts_at, cs.ends_at + buffer, vehicle_id=car.id):
                continue
            near = 0 if venue and car.home_venue_id == venue.id else \
                1 if venue and venue.region_id and car.home_region_id == venue.region_id else 2
            out.append({"id": car.id, "registration": car.registration, "near": near,
                        "label": car.registration + (" (based here)" if near == 0 else "")})
        out.sort(key=lambda r: (r["near"], r["registration"]))
        return out

