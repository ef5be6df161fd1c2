"""One session as staff see it: its details, who holds a seat, and whether the attendance register is open."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from atlas_app.db import read_session, utcnow
from atlas_app.domain.statuses import BookingStatus
from atlas_app.models import Booking, Client, CourseSession, CourseType, Offer, Region, Venue
from atlas_app.services.payments.state import payment_summaries
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform import bounds
from atlas_app.services.platform.errors import NotFound
from atlas_app.services.platform.permissions import Perm

# The register opens this long before the session starts (the same rule booking.record_attendance applies).
REGISTER_OPENS_BEFORE = timedelta(hours=12)


def needs_text(needs: dict[str, Any] | None) -> str:
    """A booking's needs in words, e.g. 'Interpreter (Polish); Access: wheelchair user'."""
    needs = needs or {}
    parts = []
    if needs.get("interpreter"):
        lang = str(needs.get("interpreter_language") or "").strip()
        parts.append(f"Interpreter ({lang})" if lang else "Interpreter")
    for key, label in (("language", "Language"), ("accessibility", "Access"), ("other", "Other")):
        value = str(needs.get(key) or "").strip()
        if value:
            parts.append(f"{label}: {value}")
    return "; ".join(parts)


@dataclass(frozen=True)
class RegisterEntry:
    booking_id: int
    reference: str
    status: str
    channel: str
    client_id: int
    client_name: str
    offer_id: int
    offer_reference: str
    needs: dict[str, Any]
    needs_text: str
    created_at: datetime
    # The paid flag (``PaymentSummary.flag``) and whether marking attended needs the unpaid override.
    paid_flag: dict[str, str] = field(default_factory=dict)
    attend_needs_override: bool = False
    identity_checked: bool = False


@dataclass(frozen=True)
class SessionDetail:
    id: int
    course_type_id: int
    course_code: str
    course_name: str
    venue_id: int | None
    venue_name: str
    venue_address: str
    accessibility_notes: str
    region_name: str
    delivery_mode: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_taken: int
    status: str
    online_link: str
    notes: str
    register_open: bool
    entries: list[RegisterEntry] = field(default_factory=list)
    meeting_id: str = ""
    meeting_passcode: str = ""
    what_to_bring: str = ""

    @property
    def is_full(self) -> bool:
        return self.seats_taken >= self.capacity


def session_detail(actor: Actor, session_id: int) -> SessionDetail:
    """The session and everyone holding a seat on it (held, booked, or marked on the register)."""
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    sid = bounds.id_or_none(session_id)
    if sid is None:
        raise NotFound("No such session.")
    with read_session() as s:
        row = s.exec(
            select(CourseSession, CourseType, Venue, Region.name)
            .join(CourseType, CourseType.id == CourseSession.course_type_id)
            .outerjoin(Venue, Venue.id == CourseSession.venue_id)
            .outerjoin(Region, Region.id == Venue.region_id)
            .where(CourseSession.id == sid, CourseSession.organisation_id == org_id)
        ).first()
        if row is None:
            raise NotFound("No such session in your organisation.")
        cs, ct, venue, region = row
        bookings = s.exec(
            select(Booking, Offer, Client)
            .join(Offer, Offer.id == Booking.offer_id)
            .join(Client, Client.id == Offer.client_id)
            .where(Booking.session_id == cs.id, Booking.organisation_id == org_id,
                   Booking.status.in_(BookingStatus.HOLDS_SEAT))
            .order_by(Client.last_name, Client.first_name, Booking.id)
        ).all()
        money = payment_summaries(s, [b.id for b, _, _ in bookings])
        online = cs.delivery_mode == "online" or venue is None or venue.is_online
        address = "" if online else ", ".join(
            x for x in [venue.address_line1, venue.address_line2, venue.town, venue.postcode] if x)
        return SessionDetail(
            id=cs.id, course_type_id=ct.id, course_code=ct.code, course_name=ct.name,
            venue_id=venue.id if venue else None, venue_name=venue.name if venue else "Online",
            venue_address=address, accessibility_notes=venue.accessibility_notes if venue else "",
            region_name=region or "", delivery_mode=cs.delivery_mode, starts_at=cs.starts_at, ends_at=cs.ends_at,
            capacity=cs.capacity, seats_taken=cs.seats_taken, status=cs.status, online_link=cs.online_link,
            notes=cs.notes, meeting_id=cs.meeting_id, meeting_passcode=cs.meeting_passcode,
            what_to_bring=ct.what_to_bring, register_open=cs.starts_at <= utcnow() + REGISTER_OPENS_BEFORE,
            entries=[
                RegisterEntry(
                    booking_id=b.id, reference=b.reference, status=b.status, channel=b.channel, client_id=c.id,
                    client_name=f"{c.first_name} {c.last_name}", offer_id=o.id, offer_reference=o.offer_reference,
                    needs=dict(b.needs or {}), needs_text=needs_text(b.needs), created_at=b.created_at,
                    paid_flag=money[b.id].flag(), attend_needs_override=money[b.id].attendance_needs_override,
                    identity_checked=b.identity_checked,
                )
                for b, o, c in bookings
            ],
        )


__all__ = ["REGISTER_OPENS_BEFORE", "RegisterEntry", "SessionDetail", "needs_text", "session_detail"]
