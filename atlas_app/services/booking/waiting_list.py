"""The waiting list: clients waiting for a freed seat on their course before their critical date.

A client (online with their proof, or staff and API tokens for them) joins with their choices: the venues they
would go to (none for any), the dates they can do (never past the offer's critical date) and how to tell them.
When a seat frees on a session (a cancellation, a hold that ran out, a transfer away, capacity raised, a session
added) :func:`seats_freed` gives it to the first waiting client, in the order they joined, whose choices match:

* the seat is **held for them as an ordinary booking** in ``held`` (``bookings._new_booking``), so it is taken by
  the same guarded seat UPDATE as every other booking (``seats_taken < capacity`` and the CHECK behind it) and the
  offer's one active booking is kept by the same partial unique index. Nothing here counts seats itself;
* the hold lasts the organisation's ``waiting_hold_minutes`` (ending at least an hour before the course), and the
  client is emailed a single-use link (through the outbox) to confirm the seat and pay;
* a hold that is not confirmed runs out like any other (the expiry sweep): the entry lapses and the seat goes to
  the next client;
* each seat is offered in its own transaction that locks the client's offer first (``locks``: offer → booking →
  session), re-reads the entry under that lock and moves it from ``waiting`` to ``offered`` with a guarded
  UPDATE. Two seats freed at once so reach two different clients, however many workers run at once, and a
  waiting entry never holds two seats (a partial unique index on the held booking, one active entry per offer);
* a client who books another way comes off the list (``left_by_booking``, called by the booking paths inside
  their own transaction).

:func:`sweep` runs periodically: it lapses entries whose held seat ran out, expires entries whose last day passed,
and offers any free seat that still has a matching waiter (so a crash between a cancellation and its offer only
delays the offer).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, tuple_, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import (
    BookingStatus,
    OfferStatus,
    SessionStatus,
    WaitingStatus,
)
from atlas_app.models import Booking, Client, CourseSession, CourseType, Offer, Venue
from atlas_app.models.waiting_list import WaitingEntry
from atlas_app.services.booking import bookings, emails
from atlas_app.services.booking.bookings import ClientProof, SessionFull
from atlas_app.services.platform import audit, bounds, i18n, locks, outbox
from atlas_app.services.platform.i18n import _
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings
from atlas_app.timeutil import london_date, london_text

log = logging.getLogger(__name__)

CHANNELS = {"email": "Email", "sms": "Text message"}
LINK_KIND = "waiting"
LINK_PATH = "/waiting-list/seat"
MIN_HOLD_MINUTES = 10  # a seat that could be held for less than this before the course is not offered
MAX_VENUES = 50
_PAGE = 500  # waiting entries read at a time while looking for the first match


# --- what callers get back -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingView:
    id: int
    offer_id: int
    offer_reference: str
    client_name: str
    course_type_id: int
    course_name: str
    venue_ids: list[int]
    venue_names: list[str]
    date_from: date
    date_to: date
    channel: str
    status: str
    joined_at: datetime
    position: int | None  # 1 for the first waiting for the course type; None once not waiting
    booking_reference: str | None
    hold_expires_at: datetime | None
    ended_reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "offer_id": self.offer_id, "offer_reference": self.offer_reference,
                "client_name": self.client_name, "course_type_id": self.course_type_id,
                "course_name": self.course_name, "venue_ids": list(self.venue_ids),
                "venue_names": list(self.venue_names), "date_from": self.date_from.isoformat(),
                "date_to": self.date_to.isoformat(), "channel": self.channel, "status": self.status,
                "joined_at": self.joined_at.isoformat(), "position": self.position,
                "booking_reference": self.booking_reference,
                "hold_expires_at": self.hold_expires_at.isoformat() if self.hold_expires_at else None,
                "ended_reason": self.ended_reason}


@dataclass(frozen=True)
class SeatOffered:
    entry_id: int
    offer_id: int
    session_id: int
    booking_reference: str
    hold_expires_at: datetime


@dataclass(frozen=True)
class HeldSeatView:
    """What the client's link shows: the seat held for them."""

    organisation_id: int
    offer_id: int
    booking_reference: str
    client_first_name: str
    session_text: str
    fee_pence: int
    hold_expires_at: datetime
    live: bool  # still held and confirmable


# --- small helpers ---------------------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _entry_view(s: Session, e: WaitingEntry, position: int | None = None) -> WaitingView:
    offer = s.get(Offer, e.offer_id)
    client = s.get(Client, e.client_id)
    ct = s.get(CourseType, e.course_type_id)
    names = []
    if e.venue_ids:
        names = list(s.exec(select(Venue.name).where(Venue.id.in_(e.venue_ids),
                                                      Venue.organisation_id == e.organisation_id)
                            .order_by(Venue.name)).all())
    booking_ref = None
    if e.booking_id is not None:
        b = s.get(Booking, e.booking_id)
        booking_ref = b.reference if b else None
    if position is None and e.status == WaitingStatus.WAITING:
        position = _position(s, e)
    return WaitingView(
        id=e.id, offer_id=e.offer_id, offer_reference=offer.offer_reference if offer else "",
        client_name=f"{client.first_name} {client.last_name}" if client else "", course_type_id=e.course_type_id,
        course_name=ct.name if ct else "", venue_ids=list(e.venue_ids or []), venue_names=names,
        date_from=e.date_from, date_to=e.date_to, channel=e.channel, status=e.status, joined_at=e.joined_at,
        position=position if e.status == WaitingStatus.WAITING else None, booking_reference=booking_ref,
        hold_expires_at=e.hold_expires_at if e.status == WaitingStatus.OFFERED else None,
        ended_reason=e.ended_reason)


def _position(s: Session, e: WaitingEntry) -> int:
    ahead = s.exec(select(func.count()).select_from(WaitingEntry).where(
        WaitingEntry.organisation_id == e.organisation_id, WaitingEntry.course_type_id == e.course_type_id,
        WaitingEntry.status == WaitingStatus.WAITING,
        tuple_(WaitingEntry.joined_at, WaitingEntry.id) < tuple_(e.joined_at, e.id))).one()
    return int(ahead) + 1


def _active_entry(s: Session, offer_id: int) -> WaitingEntry | None:
    return s.exec(select(WaitingEntry).where(WaitingEntry.offer_id == offer_id,
                                             WaitingEntry.status.in_(WaitingStatus.ACTIVE))
                  .execution_options(populate_existing=True)).first()


def _clean_venues(s: Session, organisation_id: int, venue_ids: Iterable[Any] | None) -> list[int]:
    ids: list[int] = []
    for raw in venue_ids or []:
        vid = bounds.id_or_none(raw)
        if vid is None:
            raise ValidationFailed(_("Choose venues from the list."), {"venues": "invalid"})
        if vid not in ids:
            ids.append(vid)
    if len(ids) > MAX_VENUES:
        raise ValidationFailed(f"Choose at most {MAX_VENUES} venues.", {"venues": "too many"})
    if ids:
        found = set(s.exec(select(Venue.id).where(Venue.id.in_(ids), Venue.organisation_id == organisation_id,
                                                  Venue.is_active.is_(True))).all())
        if found != set(ids):
            raise ValidationFailed(_("Choose venues from the list."), {"venues": "unknown"})
    return sorted(ids)


def _as_date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValidationFailed(f"Enter the {name} as a date.", {name: "invalid"}) from None


# --- joining and leaving ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinChoices:
    """What the join form offers the client: the venues, the last day allowed, whether we can email them, and the
    entry they have already (None if not on the list)."""

    critical_date: date
    today: date
    has_email: bool
    venues: list[tuple[int, str]]
    entry: WaitingView | None


def join_choices(client: ClientProof) -> JoinChoices:
    if not isinstance(client, ClientProof):
        raise NotFound("No such offer.")
    with read_session() as s:
        offer = s.exec(select(Offer).where(Offer.id == client.offer_id,
                                           Offer.organisation_id == client.organisation_id)).first()
        if offer is None:
            raise NotFound("No such offer.")
        person = s.get(Client, offer.client_id)
        venues = [(v.id, v.name) for v in s.exec(select(Venue).where(
            Venue.organisation_id == offer.organisation_id, Venue.is_active.is_(True),
            Venue.is_online.is_(False)).order_by(Venue.name).limit(MAX_VENUES)).all()]
        entry = _active_entry(s, offer.id)
        return JoinChoices(offer.critical_date, london_date(utcnow()), bool((person.email or "").strip()), venues,
                           _entry_view(s, entry) if entry is not None else None)


def join(organisation_id: int, offer_id: int, *, venue_ids: Iterable[Any] | None = None, date_from: Any = None,
         date_to: Any = None, channel: str = "email", actor: Actor | None = None,
         client: ClientProof | None = None) -> WaitingView:
    """Put the offer on its course type's waiting list (or change the choices of its entry, keeping its place).
    For the client (``client``, their proof) or staff and API tokens (``actor``). The dates default to today and
    the critical date; a last day after the critical date is refused. Then any free seat that matches is offered
    at once."""
    bookings.check_caller(organisation_id, actor, client)
    if client is not None and actor is None and client.offer_id != offer_id:
        raise NotFound("No such offer.")
    if channel not in CHANNELS:
        raise ValidationFailed("Choose how we should tell you: email or text message.", {"channel": "invalid"})
    now = utcnow()
    today = london_date(now)
    start, end = _as_date(date_from, "date_from"), _as_date(date_to, "date_to")
    with write_session() as s:
        offer = bookings._load_offer(s, organisation_id, offer_id, lock=True)
        person = s.get(Client, offer.client_id)
        if offer.status in OfferStatus.FINISHED or offer.status in OfferStatus.CLOSED:
            raise ValidationFailed(_("This offer can no longer be booked, so it cannot join the waiting list."),
                                   {"offer": offer.status})
        if offer.critical_date < today:
            raise ValidationFailed(_("This offer expired on {date} (its critical date).").format(
                                   date=i18n.day_month_year(offer.critical_date)),
                                   {"offer": "expired"})
        current = bookings.active_booking(s, offer.id)
        if current is not None and current.status in BookingStatus.BOOKED:
            raise ValidationFailed(_("This offer is already booked (booking {reference}).").format(
                                   reference=current.reference),
                                   {"offer": "booked"})
        start = max(start or today, today)
        end = end or offer.critical_date
        if end > offer.critical_date:
            raise ValidationFailed(
                _("The last day must be on or before the critical date ({date}).").format(
                    date=i18n.day_month_year(offer.critical_date)),
                {"date_to": "after critical date"})
        if end < start:
            raise ValidationFailed(_("The last day must be on or after the first day."), {"date_to": "before start"})
        if channel == "email" and not (person.email or "").strip():
            raise ValidationFailed(_("We need an email address to tell you by email."), {"channel": "no email"})
        if channel == "sms" and not (person.phone or "").strip():
            raise ValidationFailed("We need a mobile number to tell you by text message.", {"channel": "no phone"})
        venues = _clean_venues(s, organisation_id, venue_ids)
        entry = _active_entry(s, offer.id)
        who = actor.username if actor else ""
        if entry is not None:
            if entry.status == WaitingStatus.OFFERED:
                raise Conflict(_("A seat is already held for this offer from the waiting list: confirm it or "
                                 "let it go first."))
            before = {"venue_ids": entry.venue_ids, "date_from": entry.date_from.isoformat(),
                      "date_to": entry.date_to.isoformat(), "channel": entry.channel}
            entry.venue_ids, entry.date_from, entry.date_to, entry.channel = venues, start, end, channel
            action = "changed"
        else:
            before = None
            entry = WaitingEntry(organisation_id=organisation_id, offer_id=offer.id, client_id=offer.client_id,
                                 course_type_id=offer.course_type_id, venue_ids=venues, date_from=start,
                                 date_to=end, channel=channel, joined_at=now, joined_by=who)
            action = "joined"
        s.add(entry)
        s.flush()
        bookings.timeline(s, offer, f"waiting_{action}",
                          f"Waiting list ({CHANNELS[channel].lower()}): {start:%d %b %Y} to {end:%d %b %Y}"
                          + (f", {len(venues)} venue(s)" if venues else ", any venue"), None, who)
        audit.record(s, actor, "waiting_entry", entry.id, action, before=before,
                     after={"offer": offer.offer_reference, "venue_ids": venues, "date_from": start.isoformat(),
                            "date_to": end.isoformat(), "channel": channel},
                     organisation_id=organisation_id, subject=("client", offer.client_id))
        entry_id = entry.id
        course_type_id = offer.course_type_id
    offer_free_seats(organisation_id, course_type_id=course_type_id)
    with read_session() as s:
        return _entry_view(s, s.get(WaitingEntry, entry_id))


def leave(organisation_id: int, offer_id: int, *, actor: Actor | None = None, client: ClientProof | None = None,
          reason: str = "") -> WaitingView:
    """Take the offer off the waiting list: the client (``client``) leaving, or staff (``actor``) removing them.
    A seat held for them is let go and passes to the next client."""
    bookings.check_caller(organisation_id, actor, client)
    if client is not None and actor is None and client.offer_id != offer_id:
        raise NotFound("No such offer.")
    status = WaitingStatus.REMOVED if actor is not None else WaitingStatus.LEFT
    why = (reason or "").strip()[:300] or ("Removed by staff" if actor is not None else "The client left the list")
    freed = None
    now = utcnow()
    with write_session() as s:
        offer = bookings._load_offer(s, organisation_id, offer_id, lock=True)
        entry = _active_entry(s, offer.id)
        if entry is None:
            raise NotFound("This offer is not on the waiting list.")
        held = s.get(Booking, entry.booking_id) if entry.status == WaitingStatus.OFFERED and entry.booking_id else None
        if held is not None:
            locks.lock(s, locks.booking(held.id))
            s.refresh(held)
        before = {"status": entry.status}
        entry.status, entry.ended_at, entry.ended_reason = status, now, why
        s.add(entry)
        s.flush()
        if held is not None and held.status == BookingStatus.HELD:
            held.status, held.updated_at = BookingStatus.EXPIRED, now
            s.add(held)
            s.flush()
            bookings.give_back_seat(s, held.session_id)
            freed = held.session_id
        bookings.timeline(s, offer, "waiting_left", why, None, actor.username if actor else "")
        audit.record(s, actor, "waiting_entry", entry.id, "removed" if actor else "left", before=before,
                     after={"status": status, "reason": why}, organisation_id=organisation_id,
                     subject=("client", offer.client_id))
        view = _entry_view(s, entry)
    if freed is not None:
        seats_freed(organisation_id, [freed])
    return view


def left_by_booking(s: Session, offer_id: int, booking_id: int | None = None) -> None:
    """Inside a booking's transaction (the offer locked): the offer was booked, so its entry comes off the list.
    ``booking_id``: the booking made; when it is the seat held from the list, the entry is ``booked``."""
    now = utcnow()
    e = WaitingEntry.__table__.c
    active = e.status.in_(WaitingStatus.ACTIVE)
    if booking_id is not None:
        s.connection().execute(update(WaitingEntry.__table__).where(
            e.offer_id == offer_id, active, e.booking_id == booking_id).values(
            status=WaitingStatus.BOOKED, ended_at=now, ended_reason="Took the seat held from the waiting list"))
    s.connection().execute(update(WaitingEntry.__table__).where(e.offer_id == offer_id, active).values(
        status=WaitingStatus.REMOVED, ended_at=now, ended_reason="Booked another session"))


# --- offering freed seats --------------------------------------------------------------------------------------


def _hold_minutes(terms, session, now: datetime) -> int:
    before_course = int((session.starts_at - now - timedelta(hours=1)).total_seconds() // 60)
    return min(int(terms.waiting_hold_minutes or 0), before_course)


def _first_match(s: Session, session: CourseSession, skip: set[int]) -> WaitingEntry | None:
    """The first waiting entry (by the time it joined) whose choices take in ``session``: its course type, a day in
    the client's range, a venue they chose (or any), and ending by the offer's critical date."""
    day, last_day = london_date(session.starts_at), london_date(session.ends_at)
    cursor: tuple[datetime, int] | None = None
    while True:
        query = (select(WaitingEntry).join(Offer, Offer.id == WaitingEntry.offer_id)
                 .where(WaitingEntry.organisation_id == session.organisation_id,
                        WaitingEntry.course_type_id == session.course_type_id,
                        WaitingEntry.status == WaitingStatus.WAITING,
                        WaitingEntry.date_from <= day, WaitingEntry.date_to >= last_day,
                        Offer.critical_date >= last_day)
                 .order_by(WaitingEntry.joined_at, WaitingEntry.id).limit(_PAGE))
        if cursor is not None:
            query = query.where(tuple_(WaitingEntry.joined_at, WaitingEntry.id) > cursor)
        rows = s.exec(query).all()
        for e in rows:
            if e.id in skip:
                continue
            if not e.venue_ids or (session.venue_id is not None and session.venue_id in e.venue_ids):
                return e
        if len(rows) < _PAGE:
            return None
        cursor = (rows[-1].joined_at, rows[-1].id)


class _Retry(Exception):
    """The entry chosen changed before its offer was locked: look again."""


def _offer_one(organisation_id: int, session_id: int, skip: set[int]) -> SeatOffered | str | None:
    """Offer one free seat of the session to the first matching waiter, in one transaction. The seat offered, or
    "skip" (that entry cannot have this seat: look again), or None (no free seat, or nobody matches)."""
    now = utcnow()
    with write_session() as s:
        session = s.exec(select(CourseSession).where(CourseSession.id == session_id,
                                                     CourseSession.organisation_id == organisation_id)
                         .execution_options(populate_existing=True)).first()
        if (session is None or session.status != SessionStatus.SCHEDULED
                or session.seats_taken >= session.capacity):
            return None
        terms = bookings.get_terms(s, organisation_id)
        minutes = _hold_minutes(terms, session, now)
        if minutes < MIN_HOLD_MINUTES:
            return None
        entry = _first_match(s, session, skip)
        if entry is None:
            return None
        entry_id = entry.id
        offer = bookings._load_offer(s, organisation_id, entry.offer_id, lock=True)
        entry = s.exec(select(WaitingEntry).where(WaitingEntry.id == entry_id)
                       .execution_options(populate_existing=True)).first()
        if entry is None or entry.status != WaitingStatus.WAITING:
            raise _Retry()
        outcome = _check_entry(s, entry, offer, session, now)
        if outcome is not None:  # ended ("remove", committed with this transaction) or not for this session
            skip.add(entry_id)
            return "skip"
        booking = bookings._new_booking(s, offer, session, status=BookingStatus.HELD, channel="online",
                                        actor=None, needs=None, now=now, hold_minutes=minutes)
        e = WaitingEntry.__table__.c
        moved = s.connection().execute(update(WaitingEntry.__table__).where(
            e.id == entry_id, e.status == WaitingStatus.WAITING).values(
            status=WaitingStatus.OFFERED, booking_id=booking.id, offered_at=now,
            hold_expires_at=booking.hold_expires_at, offers_made=e.offers_made + 1)).rowcount
        if moved != 1:
            raise _Retry()
        s.refresh(entry)
        view = bookings.booking_view(s, booking)
        bookings.timeline(s, offer, "waiting_seat_held",
                          f"Seat held from the waiting list until {london_text(booking.hold_expires_at)}: "
                          f"{view.session_text}", booking.id)
        _tell(s, entry, offer, view)
        audit.record(s, None, "waiting_entry", entry_id, "seat_offered", before={"status": WaitingStatus.WAITING},
                     after={"status": WaitingStatus.OFFERED, "booking": booking.reference, "session_id": session.id,
                            "hold_expires_at": booking.hold_expires_at.isoformat()},
                     organisation_id=organisation_id, subject=("client", offer.client_id))
        return SeatOffered(entry_id, offer.id, session.id, booking.reference, booking.hold_expires_at)


def _check_entry(s: Session, entry: WaitingEntry, offer: Offer, session: CourseSession, now: datetime) -> str | None:
    """None when the entry may have a seat on ``session``; "remove" when it has come off the list (its offer is
    booked or closed: the entry is ended here), "skip" when only this session does not suit it."""
    current = bookings.active_booking(s, offer.id)
    if current is not None and current.status in BookingStatus.BOOKED:
        _end(s, entry, WaitingStatus.REMOVED, "Booked another session", now)
        return "remove"
    if offer.status in OfferStatus.FINISHED or offer.status in OfferStatus.CLOSED or offer.critical_date < london_date(now):
        _end(s, entry, WaitingStatus.REMOVED, "The offer can no longer be booked", now)
        return "remove"
    if current is not None:  # a hold the client is making in the wizard: leave them to it
        return "skip"
    try:
        bookings.check_bookable(s, offer, session, now)
    except ValidationFailed:
        return "skip"
    return None


def _end(s: Session, entry: WaitingEntry, status: str, reason: str, now: datetime) -> None:
    entry.status, entry.ended_at, entry.ended_reason = status, now, reason[:300]
    s.add(entry)
    s.flush()


def seats_freed(organisation_id: int, session_ids: Iterable[int]) -> list[SeatOffered]:
    """Seats may have freed on these sessions: offer each free seat to the first matching waiter, one seat per
    transaction, until a session is full or nobody waiting matches. Never raises (a failure is logged and the
    periodic sweep tries again); returns the seats offered."""
    made: list[SeatOffered] = []
    for session_id in sorted({int(i) for i in session_ids if i is not None}):
        skip: set[int] = set()
        retries = 0
        while True:
            try:
                result = _offer_one(organisation_id, session_id, skip)
            except (_Retry, locks.Busy):
                retries += 1
                if retries > 50:
                    break
                continue
            except SessionFull:
                break
            except Exception:  # the freeing change has committed; the sweep tries again
                log.exception("Offering a freed seat on session %s to the waiting list failed", session_id)
                break
            if result is None:
                break
            if isinstance(result, SeatOffered):
                made.append(result)
    return made


def offer_free_seats(organisation_id: int | None = None, course_type_id: int | None = None,
                     limit: int = 500) -> list[SeatOffered]:
    """Offer every free seat (on sessions someone waiting could take) to the waiting list: after a client joins,
    and from the sweep."""
    now = utcnow()
    with read_session() as s:
        waiting = select(WaitingEntry.organisation_id, WaitingEntry.course_type_id).where(
            WaitingEntry.status == WaitingStatus.WAITING)
        if organisation_id is not None:
            waiting = waiting.where(WaitingEntry.organisation_id == organisation_id)
        if course_type_id is not None:
            waiting = waiting.where(WaitingEntry.course_type_id == course_type_id)
        pairs = s.exec(waiting.distinct()).all()
        sessions: list[tuple[int, int]] = []
        for org_id, ct_id in pairs:
            sessions.extend(s.exec(
                select(CourseSession.organisation_id, CourseSession.id)
                .where(CourseSession.organisation_id == org_id, CourseSession.course_type_id == ct_id,
                       CourseSession.status == SessionStatus.SCHEDULED,
                       CourseSession.seats_taken < CourseSession.capacity,
                       CourseSession.starts_at > now + timedelta(hours=1, minutes=MIN_HOLD_MINUTES))
                .order_by(CourseSession.starts_at).limit(limit)).all())
    made: list[SeatOffered] = []
    for org_id, session_id in sessions:
        made.extend(seats_freed(org_id, [session_id]))
    return made


def lapse_unanswered(now: datetime | None = None) -> int:
    """Entries whose held seat was not taken (the hold ran out or was let go) lapse; returns how many."""
    now = now or utcnow()
    e, b = WaitingEntry.__table__.c, Booking.__table__.c
    gone = select(b.id).where(b.id == e.booking_id, b.status.in_(BookingStatus.FINAL))
    with write_session() as s:
        return s.connection().execute(update(WaitingEntry.__table__).where(
            e.status == WaitingStatus.OFFERED, gone.exists()).values(
            status=WaitingStatus.LAPSED, ended_at=now,
            ended_reason="The held seat was not confirmed in time and passed to the next client")).rowcount


def sweep() -> int:
    """The periodic job: lapse unanswered offers, expire entries past their last day, and offer free seats."""
    now = utcnow()
    lapse_unanswered(now)
    e = WaitingEntry.__table__.c
    with write_session() as s:
        s.connection().execute(update(WaitingEntry.__table__).where(
            e.status == WaitingStatus.WAITING, e.date_to < london_date(now)).values(
            status=WaitingStatus.EXPIRED, ended_at=now, ended_reason="The last day chosen has passed"))
    return len(offer_free_seats())


def expire_hold_lapses(s: Session, booking_ids: list[int], now: datetime) -> None:
    """Inside the expiry sweep's transaction: the entries holding these (now expired) bookings lapse."""
    if not booking_ids:
        return
    e = WaitingEntry.__table__.c
    s.connection().execute(update(WaitingEntry.__table__).where(
        e.status == WaitingStatus.OFFERED, e.booking_id.in_(booking_ids)).values(
        status=WaitingStatus.LAPSED, ended_at=now,
        ended_reason="The held seat was not confirmed in time and passed to the next client"))


# --- telling the client and their link -------------------------------------------------------------------------


def _tell(s: Session, entry: WaitingEntry, offer: Offer, view: bookings.BookingView) -> None:
    """Queue the message with the single-use link (made when the message is sent). Text messages go the same way
    once an SMS channel is configured; until then the client is emailed when they have an address."""
    person = s.get(Client, offer.client_id)
    if not (person.email or "").strip():
        return
    language = emails.client_language(s, offer.organisation_id, person)
    with i18n.using(language):
        context = emails.booking_context(view, offer, person, emails._organisation_name(s, offer.organisation_id))
        context["waiting"] = {"link": outbox.LINK_PLACEHOLDER, "hold_until": emails.moment(view.hold_expires_at)}
    subject, body = emails.compose(s, offer.organisation_id, "waiting_list_seat", context, language=language)
    if outbox.LINK_PLACEHOLDER not in body:  # an edited template lost the link: the client still needs it
        body += "\n\nConfirm and pay: " + outbox.LINK_PLACEHOLDER
    outbox.queue(s, to=person.email, subject=subject, body=body, organisation_id=offer.organisation_id,
                 related=("booking", view.reference), link=(LINK_KIND, entry.id))


def _render_link(s: Session, entry_id: int | None) -> str | None:
    entry = s.exec(select(WaitingEntry).where(WaitingEntry.id == entry_id).with_for_update()).first()
    if entry is None or entry.status != WaitingStatus.OFFERED or not entry.hold_expires_at \
            or entry.hold_expires_at <= utcnow():
        return None
    token = secrets.token_urlsafe(32)
    entry.token_hash = _digest(token)
    s.add(entry)
    # The page in the client's language (/cy/waiting-list/seat for a Welsh speaker).
    language = s.exec(select(Client.language).where(Client.id == entry.client_id)).first()
    return f"{get_settings().base_url}{i18n.localised_path(f'{LINK_PATH}?token={token}', language)}"


outbox.LINK_RENDERERS[LINK_KIND] = _render_link


def _entry_by_token(s: Session, token: str) -> WaitingEntry | None:
    token = str(token or "").strip()
    if not token or len(token) > 200:
        return None
    return s.exec(select(WaitingEntry).where(WaitingEntry.token_hash == _digest(token))).first()


def held_seat(token: str) -> HeldSeatView:
    """The seat the link's token holds (NotFound for a link that is unknown or no longer the latest)."""
    now = utcnow()
    with read_session() as s:
        entry = _entry_by_token(s, token)
        if entry is None or entry.booking_id is None:
            raise NotFound(_("This link is not valid. It may have been replaced by a newer one."))
        booking = s.get(Booking, entry.booking_id)
        view = bookings.booking_view(s, booking)
        client = s.get(Client, entry.client_id)
        live = (entry.status == WaitingStatus.OFFERED and booking.status == BookingStatus.HELD
                and booking.hold_expires_at is not None and booking.hold_expires_at > now)
        return HeldSeatView(entry.organisation_id, entry.offer_id, booking.reference, client.first_name,
                            view.session_text, booking.fee_pence, booking.hold_expires_at or now, live)


def confirm_seat(token: str) -> tuple[bookings.BookingView, ClientProof]:
    """The client confirms the seat held for them: it becomes their booking, awaiting payment (the one
    ``confirm_hold`` rule), and their entry is ``booked``. Returns the booking and the proof to pay with."""
    seat = held_seat(token)
    if not seat.live:
        with read_session() as s:
            entry = _entry_by_token(s, token)
            status = entry.status if entry else ""
        if status == WaitingStatus.BOOKED:
            raise ValidationFailed(_("You have already confirmed this seat."), {"seat": "booked"})
        raise ValidationFailed(_("Sorry, the time to confirm this seat has run out and it has passed to the next "
                                 "person waiting."), {"seat": "expired"})
    view = bookings.confirm_hold(seat.organisation_id, seat.offer_id, seat.booking_reference)
    return view, ClientProof(seat.organisation_id, seat.offer_id)


# --- staff views -----------------------------------------------------------------------------------------------


def _scoped(actor: Actor) -> int:
    actor.require(Perm.BOOKINGS_VIEW)
    return actor.require_org()


def list_for_course_type(actor: Actor, course_type_id: int, include_ended: bool = False,
                         limit: int = 500) -> list[WaitingView]:
    """The course type's waiting list in order (the first to be offered a seat first), then those offered a seat."""
    org_id = _scoped(actor)
    ct_id = bounds.query_id(course_type_id)
    with read_session() as s:
        if s.exec(select(CourseType.id).where(CourseType.id == ct_id, CourseType.organisation_id == org_id)).first() \
                is None:
            raise NotFound("No such course type.")
        statuses = tuple(WaitingStatus) if include_ended else WaitingStatus.ACTIVE
        rows = s.exec(select(WaitingEntry).where(WaitingEntry.organisation_id == org_id,
                                                 WaitingEntry.course_type_id == ct_id,
                                                 WaitingEntry.status.in_(statuses))
                      .order_by(WaitingEntry.joined_at, WaitingEntry.id).limit(limit)).all()
        out, n = [], 0
        for e in rows:
            if e.status == WaitingStatus.WAITING:
                n += 1
            out.append(_entry_view(s, e, n if e.status == WaitingStatus.WAITING else None))
        return out


def list_for_session(actor: Actor, session_id: int, limit: int = 200) -> list[WaitingView]:
    """Who would be offered a freed seat on this session, in order, and whom a seat on it is held for now."""
    org_id = _scoped(actor)
    sid = bounds.query_id(session_id)
    with read_session() as s:
        session = s.exec(select(CourseSession).where(CourseSession.id == sid,
                                                     CourseSession.organisation_id == org_id)).first()
        if session is None:
            raise NotFound("No such session.")
        day, last_day = london_date(session.starts_at), london_date(session.ends_at)
        held = s.exec(select(WaitingEntry).join(Booking, Booking.id == WaitingEntry.booking_id)
                      .where(WaitingEntry.organisation_id == org_id, WaitingEntry.status == WaitingStatus.OFFERED,
                             Booking.session_id == sid)).all()
        rows = s.exec(select(WaitingEntry).join(Offer, Offer.id == WaitingEntry.offer_id)
                      .where(WaitingEntry.organisation_id == org_id,
                             WaitingEntry.course_type_id == session.course_type_id,
                             WaitingEntry.status == WaitingStatus.WAITING,
                             WaitingEntry.date_from <= day, WaitingEntry.date_to >= last_day,
                             Offer.critical_date >= last_day)
                      .order_by(WaitingEntry.joined_at, WaitingEntry.id).limit(limit * 5)).all()
        matching = [e for e in rows if not e.venue_ids or session.venue_id in (e.venue_ids or [])][:limit]
        return [_entry_view(s, e) for e in held] + [_entry_view(s, e, i + 1) for i, e in enumerate(matching)]


def entry_for_offer(organisation_id: int, offer_id: int, *, actor: Actor | None = None,
                    client: ClientProof | None = None) -> WaitingView | None:
    """The offer's current waiting-list entry, if it is on the list."""
    bookings.check_caller(organisation_id, actor, client) if actor is not None else None
    if actor is None and (client is None or client.organisation_id != organisation_id
                          or client.offer_id != offer_id):
        raise NotFound("No such offer.")
    with read_session() as s:
        e = s.exec(select(WaitingEntry).where(WaitingEntry.organisation_id == organisation_id,
                                              WaitingEntry.offer_id == bounds.query_id(offer_id),
                                              WaitingEntry.status.in_(WaitingStatus.ACTIVE))).first()
        return _entry_view(s, e) if e is not None else None


def counts_by_session(actor: Actor, session_ids: list[int]) -> dict[int, int]:
    """How many waiting clients each session's freed seat could go to (for the staff session lists)."""
    org_id = _scoped(actor)
    out: dict[int, int] = {}
    with read_session() as s:
        sessions = s.exec(select(CourseSession).where(CourseSession.organisation_id == org_id,
                                                      CourseSession.id.in_([int(i) for i in session_ids][:500]))).all()
        for cs in sessions:
            day, last_day = london_date(cs.starts_at), london_date(cs.ends_at)
            rows = s.exec(select(WaitingEntry.venue_ids).join(Offer, Offer.id == WaitingEntry.offer_id).where(
                WaitingEntry.organisation_id == org_id, WaitingEntry.course_type_id == cs.course_type_id,
                WaitingEntry.status == WaitingStatus.WAITING, WaitingEntry.date_from <= day,
                WaitingEntry.date_to >= last_day, Offer.critical_date >= last_day)).all()
            out[cs.id] = sum(1 for v in rows if not v or cs.venue_id in v)
    return out


__all__ = [
    "CHANNELS",
    "HeldSeatView",
    "JoinChoices",
    "SeatOffered",
    "WaitingView",
    "confirm_seat",
    "counts_by_session",
    "entry_for_offer",
    "held_seat",
    "join",
    "join_choices",
    "lapse_unanswered",
    "leave",
    "left_by_booking",
    "list_for_course_type",
    "list_for_session",
    "offer_free_seats",
    "seats_freed",
    "sweep",
]
