"""Bookings: holding a seat, confirming, transferring, cancelling, attendance, and expiry of holds.

One validation function (``check_bookable``) serves every way in: the public wizard, telephone bookings, transfers
and the REST API. Seats are taken and given back only by guarded UPDATEs of ``course_session.seats_taken``
(``... WHERE seats_taken < capacity``), so a session can never be overbooked however many requests race; a CHECK
constraint backs this up, and a partial unique index keeps an offer to one active booking.

Row locks are taken through ``services.platform.locks``, in its one order (offer → booking → payment → the
session's seats), so two changes never wait on each other in a circle.

Each change writes its audit entry last, just before the commit: recording it locks the head row of the
organisation's audit chain, which every writer of the organisation needs, so the shorter that lock is held the
more bookings go through at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, literal_column, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from atlas_app.services.platform.i18n import _, day_month_year
from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import (
    OFFER_AFTER_OUTCOME,
    OUTCOME_LABELS,
    BookingStatus,
    OfferStatus,
    SessionStatus,
    WaitingStatus,
)
from atlas_app.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    BookingTerms,
    Client,
    ClientEvent,
    CourseSession,
    CourseType,
    Offer,
    Organisation,
    Venue,
)
from atlas_app.models.letters import EmailTemplate
from atlas_app.models.waiting_list import WaitingEntry
from atlas_app.services.booking import emails, lineage
from atlas_app.services.booking.email_defaults import DEFAULT_LANGUAGE
from atlas_app.services.booking.names import CourseNames, in_language
from atlas_app.services.platform import api_tokens, audit, bounds, i18n, locks, welsh
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import AtlasError, Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date

SEAT_STATUSES = BookingStatus.HOLDS_SEAT
ATTENDANCE_OUTCOMES = BookingStatus.OUTCOMES
NEEDS_KEYS = ("interpreter", "interpreter_language", "accessibility", "language", "other")
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class SessionFull(Conflict):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("Sorry, that session is now full. Please choose another date."))


class AlreadyBooked(Conflict):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("This offer already has a booking."))


@dataclass(frozen=True)
class ClientProof:
    """That the caller is the client of an offer: the organisation and offer the public lookup found from what only
    the client knows (``offers.find_offer``, ``self_service.find_booking``: reference, date of birth and postcode).
    Pages hold it in backend vars; a change made on the client's behalf without a staff actor needs it."""

    organisation_id: int
    offer_id: int


def check_caller(organisation_id: int, actor: Actor | None, client: ClientProof | None) -> None:
    """Staff who manage the organisation's bookings, or the client with a proof for this organisation; else
    refused. (Whether the booking is the proof's offer's is checked once the booking is found.)"""
    if actor is not None:
        actor.require(Perm.BOOKINGS_MANAGE)
        if actor.organisation_id != organisation_id:
            raise PermissionDenied()
    elif not isinstance(client, ClientProof) or client.organisation_id != organisation_id:
        raise PermissionDenied()


def check_clients_booking(booking: Booking, actor: Actor | None, client: ClientProof | None) -> None:
    if actor is None and (client is None or booking.offer_id != client.offer_id):
        raise NotFound("No such booking.")


# --- small helpers -------------------------------------------------------------------------------------------


def get_terms(s: Session, organisation_id: int) -> BookingTerms:
    known = s.info.get("atlas_terms", {})
    if organisation_id in known:  # read with the offer earlier in this transaction
        terms = known[organisation_id]
    else:
        terms = s.exec(select(BookingTerms).where(BookingTerms.organisation_id == organisation_id)).first()
    return terms or BookingTerms(organisation_id=organisation_id)


def _reference_prefix(slug: str | None) -> str:
    return (slug[:3] if slug else "ATL").upper()


def _random_reference(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(_REF_ALPHABET) for _i in range(7))


def new_reference(s: Session, organisation_id: int) -> str:
    org = s.get(Organisation, organisation_id)
    prefix = _reference_prefix(org.slug if org else None)
    while True:
        ref = _random_reference(prefix)
        if s.exec(select(Booking.id).where(Booking.reference == ref)).first() is None:
            return ref


_EVENT_INSERT = insert(ClientEvent.__table__)


def timeline(s: Session, offer: Offer, kind: str, detail: str = "", booking_id: int | None = None,
             username: str = "") -> None:
    """Add an entry to the client's timeline: a plain INSERT, sent at once (the rows it points to exist already)."""
    s.connection().execute(_EVENT_INSERT, {
        "organisation_id": offer.organisation_id, "client_id": offer.client_id, "offer_id": offer.id,
        "booking_id": booking_id, "at": utcnow(), "kind": kind, "detail": detail[:500], "username": username})


def clean_needs(needs: dict[str, Any] | None) -> dict[str, Any]:
    """Keep only the known need fields, as short strings or booleans."""
    out: dict[str, Any] = {}
    for key in NEEDS_KEYS:
        value = (needs or {}).get(key)
        if value in (None, "", False):
            continue
        out[key] = bool(value) if key == "interpreter" else str(value).strip()[:300]
    return out


def take_seat(s: Session, session_id: int, organisation_id: int, looks_full: bool = False) -> None:
    """Take one seat, or raise SessionFull. Expired holds on the session are released first if it looks full.

    ``looks_full``: the session was full when this transaction read it. Then, unless expired holds free a seat,
    the answer is "full" at once, instead of queueing for the session's row lock behind the bookings in progress
    only to find no seat (what keeps a rush for the last seats quick for everyone who misses out)."""
    if looks_full and _release_expired(s, session_id=session_id) == 0:
        raise SessionFull()
    locks.claim(s, locks.seats(session_id))
    for attempt in range(2):
        result = s.connection().execute(_TAKE_SEAT, {"sid": session_id, "org": organisation_id})
        if result.rowcount == 1:
            return
        if attempt == 0 and _release_expired(s, session_id=session_id) == 0:
            break
    raise SessionFull()


# The seat counter is only ever moved by these two statements (plain SQL: the ORM has nothing to keep in step).
_seats = CourseSession.__table__.c
_TAKE_SEAT = (
    update(CourseSession.__table__)
    .where(_seats.id == bindparam("sid"), _seats.organisation_id == bindparam("org"),
           _seats.status == SessionStatus.SCHEDULED,
           _seats.seats_taken < _seats.capacity)
    .values(seats_taken=_seats.seats_taken + 1)
)
_GIVE_BACK_SEAT = (
    update(CourseSession.__table__).where(_seats.id == bindparam("sid"), _seats.seats_taken > 0)
    .values(seats_taken=_seats.seats_taken - 1)
)


def give_back_seat(s: Session, session_id: int) -> None:
    locks.claim(s, locks.seats(session_id))
    s.connection().execute(_GIVE_BACK_SEAT, {"sid": session_id})


def move_seat(s: Session, organisation_id: int, take: int, give_back: int | None, looks_full: bool = False) -> None:
    """Give a seat back on session ``give_back`` (if any) and take one on session ``take``, touching the two
    sessions' rows in the lock order (by id), so two moves in opposite directions never deadlock."""
    if give_back is None:
        take_seat(s, take, organisation_id, looks_full=looks_full)
    elif give_back <= take:
        give_back_seat(s, give_back)
        take_seat(s, take, organisation_id, looks_full=looks_full and give_back != take)
    else:
        take_seat(s, take, organisation_id, looks_full=looks_full)
        give_back_seat(s, give_back)


def _waiting_list():
    """The waiting list (imported when first needed: it is built on this module)."""
    from atlas_app.services.booking import waiting_list

    return waiting_list


def _tell_waiting_list(organisation_id: int, *session_ids: int | None) -> None:
    """After a change that gave seats back has committed: offer them to the waiting list (never raises)."""
    ids = [i for i in session_ids if i is not None]
    if ids:
        _waiting_list().seats_freed(organisation_id, ids)


def _release_expired(s: Session, session_id: int | None = None, now: datetime | None = None,
                     freed: list[tuple[int, int]] | None = None) -> int:
    """Expire holds whose time is up and give their seats back. Each hold is released by a conditional UPDATE, so
    two workers sweeping at once never give the same seat back twice. A hold made from the waiting list lapses
    its entry in the same transaction. ``freed`` collects (organisation, session) of each seat given back."""
    now = now or utcnow()
    query = select(Booking.id, Booking.session_id, Booking.offer_id, Booking.organisation_id).where(
        Booking.status == BookingStatus.HELD, Booking.hold_expires_at <= now
    )
    if session_id is not None:
        query = query.where(Booking.session_id == session_id)
    released = 0
    expired: list[int] = []
    # By session, so the seats are given back in the lock order.
    for booking_id, sess_id, offer_id, org_id in s.exec(query.order_by(Booking.session_id, Booking.id)
                                                        .limit(500)).all():
        result = s.exec(
            update(Booking)
            .where(Booking.id == booking_id, Booking.status == BookingStatus.HELD)
            .values(status=BookingStatus.EXPIRED, updated_at=now)
        )
        if result.rowcount == 1:
            give_back_seat(s, sess_id)
            offer = s.get(Offer, offer_id)
            if offer is not None:
                timeline(s, offer, "hold_expired", "The seat hold ran out and the seat was freed.", booking_id)
            released += 1
            expired.append(booking_id)
            if freed is not None:
                freed.append((org_id, sess_id))
    _waiting_list().expire_hold_lapses(s, expired, now)
    return released


def release_expired_holds() -> int:
    """The periodic sweep: free every seat whose hold has run out, then offer the seats to the waiting list."""
    freed: list[tuple[int, int]] = []
    with write_session() as s:
        released = _release_expired(s, freed=freed)
    for org_id, session_id in sorted(set(freed)):
        _tell_waiting_list(org_id, session_id)
    return released


def check_bookable(s: Session, offer: Offer, session: CourseSession, now: datetime) -> None:
    """Every rule a booking, a hold or a transfer must meet, in one place."""
    if session.organisation_id != offer.organisation_id:
        raise NotFound("No such session.")
    if offer.status in OfferStatus.FINISHED:
        raise ValidationFailed(_("This offer's course has already been completed or missed."), {"offer": offer.status})
    if offer.status in OfferStatus.CLOSED:
        raise ValidationFailed(_("This offer has expired or been returned to the police, so it cannot be booked."),
                               {"offer": offer.status})
    if offer.critical_date < london_date(now):
        raise ValidationFailed(
            _("This offer expired on {date} (its critical date).").format(date=day_month_year(offer.critical_date)),
            {"offer": "expired"})
    if session.course_type_id != offer.course_type_id:
        raise ValidationFailed(_("That session is for a different course."), {"session": "wrong course"})
    if session.status != SessionStatus.SCHEDULED:
        raise ValidationFailed(_("That session is not open for booking."), {"session": session.status})
    if session.starts_at <= now:
        raise ValidationFailed(_("That session has already started."), {"session": "past"})
    if london_date(session.ends_at) > offer.critical_date:
        raise ValidationFailed(
            _("That session ends after the critical date ({date}).").format(date=day_month_year(offer.critical_date)),
            {"session": "too late"})


def _load_offer(s: Session, organisation_id: int, offer_id: int, lock: bool = False) -> Offer:
    # The client, course type and organisation come in the same query, so the views, texts and emails built later
    # in the transaction find them in the session instead of asking the database again. Only the offer is locked.
    query = (
        select(Offer, Client, CourseType, Organisation, BookingTerms)
        .join(Client, Client.id == Offer.client_id)
        .join(CourseType, CourseType.id == Offer.course_type_id)
        .join(Organisation, Organisation.id == Offer.organisation_id)
        .outerjoin(BookingTerms, BookingTerms.organisation_id == Offer.organisation_id)
        .where(Offer.id == bounds.query_id(offer_id), Offer.organisation_id == organisation_id)
    )
    if lock and locks.offer(offer_id) not in locks.held(s):
        locks.claim(s, locks.offer(offer_id))
        if locks.is_postgres(s):
            query = query.add_columns(locks.timeout_column(locks.LOCK_TIMEOUT_MS))
        query = query.with_for_update(of=Offer).execution_options(populate_existing=True)
    row = s.exec(query).first()
    if row is None:
        raise NotFound("No such offer.")
    _keep(s, row)
    s.info.setdefault("atlas_terms", {})[organisation_id] = row[4]
    return row[0]


def _keep(s: Session, rows) -> None:
    """Hold the rows for the rest of the transaction: the session only keeps weak references to unchanged rows,
    and these are looked up again (``s.get``) by the texts, views and emails."""
    s.info.setdefault("atlas_keep", []).extend(r for r in rows if r is not None)


def _load_session(s: Session, organisation_id: int, session_id: int) -> CourseSession:
    sid = bounds.id_or_none(session_id)
    if sid is None:
        raise ValidationFailed("Choose a session.", {"session": "invalid"})
    row = s.exec(
        select(CourseSession, Venue).outerjoin(Venue, Venue.id == CourseSession.venue_id)
        .where(CourseSession.id == sid, CourseSession.organisation_id == organisation_id)
    ).first()
    if row is None:
        raise NotFound("No such session.")
    _keep(s, row)
    return row[0]


def active_booking(s: Session, offer_id: int) -> Booking | None:
    return s.exec(
        select(Booking).where(Booking.offer_id == offer_id, Booking.status.in_(ACTIVE_BOOKING_STATUSES))
    ).first()


def _snapshot(b: Booking, session_id: int | None = None) -> dict[str, Any]:
    return {"reference": b.reference, "status": b.status,
            "session_id": b.session_id if session_id is None else session_id, "channel": b.channel,
            "fee_pence": b.fee_pence, "needs": b.needs}


def session_text(s: Session, session: CourseSession) -> str:
    ct = s.get(CourseType, session.course_type_id)
    venue = s.get(Venue, session.venue_id) if session.venue_id else None
    return _describe_session(ct.name if ct else None, session, venue)


def session_texts(s: Session, session: CourseSession) -> dict[str, str]:
    """The session described in each language ("en", "cy"), for telling clients what it was before a change: the
    course and venue names from ``names.in_language``, the date and time in that language."""
    ct = s.get(CourseType, session.course_type_id)
    venue = s.get(Venue, session.venue_id) if session.venue_id else None
    names = CourseNames.of(ct, venue)
    out = {}
    for language in (i18n.EN, i18n.CY):
        named = in_language(names, language)
        out[language] = _describe_session(named.course_name, session, venue, language, named.venue_name)
    return out


def _describe_session(course_name: str | None, session, venue, language: str = i18n.EN,
                      venue_name: str | None = None) -> str:
    """"Course, when, where" in ``language`` (the venue's name as given, else its own)."""
    if session.delivery_mode == "online" or venue is None or venue.is_online:
        where = i18n.gettext("online", language)
    else:
        where = venue_name or venue.name
    return f"{course_name or 'Course'}, {emails.moment(session.starts_at, language)}, {where}"


# --- the result objects --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingView:
    id: int
    reference: str
    status: str
    channel: str
    offer_id: int
    offer_reference: str
    client_name: str
    session_id: int
    session_text: str
    starts_at: datetime
    ends_at: datetime
    venue_name: str
    venue_address: str
    delivery_mode: str
    course_code: str
    course_name: str
    fee_pence: int
    hold_expires_at: datetime | None
    payment_due_at: datetime | None
    needs: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    # The course's and venue's names in both languages, for what is sent to the client (``names.in_language``).
    names: CourseNames = field(default_factory=CourseNames)


def booking_view(s: Session, b: Booking) -> BookingView:
    offer = s.get(Offer, b.offer_id)
    client = s.get(Client, offer.client_id)
    session = s.get(CourseSession, b.session_id)
    ct = s.get(CourseType, session.course_type_id)
    venue = s.get(Venue, session.venue_id) if session.venue_id else None
    return _make_view(b, offer, client, session, venue, ct.code, welsh.pick(ct.name, ct.name_cy),
                      CourseNames.of(ct, venue))


def _make_view(b, offer, client, session, venue, course_code: str, course_name: str,
               names: CourseNames | None = None) -> BookingView:
    """The view of booking ``b``. Each argument only needs the attributes read here, so ORM rows and the plain rows
    of ``book`` both do (``venue`` is None for online sessions)."""
    address = ", ".join(x for x in [venue.address_line1, venue.address_line2, venue.town, venue.postcode] if x) \
        if venue else ""
    return BookingView(
        id=b.id, reference=b.reference, status=b.status, channel=b.channel, offer_id=offer.id,
        offer_reference=offer.offer_reference, client_name=f"{client.first_name} {client.last_name}",
        session_id=session.id, session_text=_describe_session(course_name, session, venue),
        starts_at=session.starts_at, ends_at=session.ends_at,
        venue_name=welsh.pick(venue.name, getattr(venue, "name_cy", "")) if venue else "Online",
        venue_address="Online" if (venue is None or venue.is_online) else address,
        delivery_mode=session.delivery_mode, course_code=course_code, course_name=course_name,
        fee_pence=b.fee_pence, hold_expires_at=b.hold_expires_at, payment_due_at=b.payment_due_at,
        needs=dict(b.needs or {}), created_at=b.created_at, names=names or CourseNames(course_name=course_name),
    )


# --- making bookings -----------------------------------------------------------------------------------------


def _new_booking(s: Session, offer: Offer, session: CourseSession, *, status: str, channel: str, actor: Actor | None,
                 needs: dict[str, Any] | None, now: datetime, hold_minutes: int | None = None,
                 fee_pence: int | None = None, transferred_from: int | None = None,
                 give_back: int | None = None) -> Booking:
    """``give_back``: the session of a booking let go in the same change, whose seat is given back."""
    terms = get_terms(s, offer.organisation_id)
    ct = s.get(CourseType, offer.course_type_id)
    org = s.get(Organisation, offer.organisation_id)
    move_seat(s, offer.organisation_id, session.id, give_back, looks_full=session.seats_taken >= session.capacity)
    values = _booking_values(offer, session, status=status, channel=channel, actor=actor, needs=needs, now=now,
                             hold_minutes=hold_minutes or terms.hold_minutes,
                             payment_due_hours=terms.payment_due_hours,
                             fee_pence=ct.fee_pence if fee_pence is None else fee_pence,
                             transferred_from=transferred_from)
    s.flush()  # changes made so far (an old booking let go) reach the database before the new row
    _insert_booking(s, values, _reference_prefix(org.slug if org else None))
    return s.get(Booking, values["id"])


def _booking_values(offer, session, *, status: str, channel: str, actor: Actor | None,
                    needs: dict[str, Any] | None, now: datetime, hold_minutes: int, payment_due_hours: int,
                    fee_pence: int, transferred_from: int | None = None) -> dict[str, Any]:
    """The columns of a new booking (all but its id and reference)."""
    return {
        "organisation_id": offer.organisation_id, "offer_id": offer.id, "session_id": session.id,
        "status": status, "channel": channel, "made_by_user_id": actor.user_id if actor else None,
        "hold_expires_at": now + timedelta(minutes=hold_minutes) if status == BookingStatus.HELD else None,
        "payment_due_at": None if status == BookingStatus.HELD else _due(payment_due_hours, session, now),
        "fee_pence": fee_pence, "needs": clean_needs(needs), "transferred_from_id": transferred_from,
        "created_at": now, "updated_at": now,
    }


_BOOKING_INSERTS: dict[str, Any] = {}


def _booking_insert(dialect: str):
    """``INSERT INTO booking ... ON CONFLICT (reference) DO NOTHING RETURNING id``: a reference already in use
    inserts nothing (and another is drawn), while a second active booking for the offer still fails on its index."""
    if dialect not in _BOOKING_INSERTS:
        dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
        _BOOKING_INSERTS[dialect] = (dialect_insert(Booking.__table__).on_conflict_do_nothing(
            index_elements=["reference"]).returning(Booking.__table__.c.id))
    return _BOOKING_INSERTS[dialect]


def _insert_booking(s: Session, values: dict[str, Any], prefix: str) -> None:
    """Insert the booking with a fresh reference; sets ``values["id"]`` and ``values["reference"]``.
    AlreadyBooked when the offer has an active booking (the partial unique index says so under any race)."""
    conn = s.connection()
    statement = _booking_insert(conn.dialect.name)
    while True:
        values["reference"] = _random_reference(prefix)
        try:
            row = conn.execute(statement, values).first()
        except IntegrityError:
            raise AlreadyBooked() from None
        if row is not None:
            values["id"] = row[0]
            return


def _payment_due(terms: BookingTerms, session: CourseSession, now: datetime) -> datetime:
    return _due(terms.payment_due_hours, session, now)


def _due(payment_due_hours: int, session, now: datetime) -> datetime:
    return min(now + timedelta(hours=payment_due_hours), session.starts_at - timedelta(hours=1))


def hold_seat(organisation_id: int, offer_id: int, session_id: int, needs: dict[str, Any] | None = None,
              channel: str = "online") -> BookingView:
    """Hold a seat for a client while they check their answers (and pay). A hold the same offer already had on
    another session is let go first."""
    now = utcnow()
    with write_session() as s:
        offer = _load_offer(s, organisation_id, offer_id, lock=True)
        session = _load_session(s, organisation_id, session_id)
        check_bookable(s, offer, session, now)
        existing = active_booking(s, offer.id)
        if existing is not None:
            if existing.status != BookingStatus.HELD:
                raise AlreadyBooked(f"This offer is already booked (booking {existing.reference}).")
            if existing.session_id == session.id and existing.hold_expires_at and existing.hold_expires_at > now:
                return booking_view(s, existing)
            existing.status, existing.updated_at = BookingStatus.EXPIRED, now
            s.add(existing)
            s.flush()
            timeline(s, offer, "hold_released", "The client chose a different session.", existing.id)
            _waiting_list().expire_hold_lapses(s, [existing.id], now)
        let_go = existing.session_id if existing is not None else None
        booking = _new_booking(s, offer, session, status=BookingStatus.HELD, channel=channel, actor=None, needs=needs,
                               now=now, give_back=let_go)
        timeline(s, offer, "seat_held", session_text(s, session), booking.id)
        view = booking_view(s, booking)
        audit.record(s, None, "booking", booking.reference, "held", after=_snapshot(booking),
                     organisation_id=organisation_id, subject=("client", offer.client_id))
    if let_go != session.id:
        _tell_waiting_list(organisation_id, let_go)
    return view


@dataclass(frozen=True)
class HoldExtension:
    hold_expires_at: datetime
    extensions_used: int
    extensions_allowed: int

    @property
    def extensions_left(self) -> int:
        return max(0, self.extensions_allowed - self.extensions_used)


def extend_hold(organisation_id: int, booking_reference: str, *, client: ClientProof) -> HoldExtension:
    """The client asks for more time (WCAG 2.2.1 Timing Adjustable): the seat hold's end moves on by the
    organisation's hold length, at most ``BookingTerms.max_hold_extensions`` times. The booking row is locked and
    changed in the database, so it holds across workers, and two clicks at once count twice, never past the limit.
    Only the client whose offer holds the seat (``client``, their proof) may extend it, and only while it is
    still held."""
    now = utcnow()
    ref = str(booking_reference or "").strip().upper()[:20]
    with write_session() as s:
        booking = locks.lock_where(s, "booking", Booking.reference == ref, Booking.organisation_id == organisation_id,
                                   Booking.offer_id == client.offer_id)
        if booking is None:
            raise NotFound("No such booking.")
        terms = get_terms(s, organisation_id)
        allowed = max(0, terms.max_hold_extensions)
        if booking.status != BookingStatus.HELD or booking.hold_expires_at is None or booking.hold_expires_at <= now:
            raise ValidationFailed(_("Your seat hold has already ended, so it cannot be extended. Choose a date "
                                     "again."), {"hold": "ended"})
        if booking.hold_extensions >= allowed:
            raise ValidationFailed(_("You have already had more time {count} times, the most allowed. Please "
                                     "finish booking before the hold ends.").format(count=allowed),
                                   {"hold": "limit"})
        booking.hold_expires_at = booking.hold_expires_at + timedelta(minutes=max(1, terms.hold_minutes))
        booking.hold_extensions += 1
        booking.updated_at = now
        s.add(booking)
        s.flush()
        offer = s.get(Offer, booking.offer_id)
        timeline(s, offer, "hold_extended", f"The client asked for more time ({booking.hold_extensions} of "
                 f"{allowed}).", booking.id)
        return HoldExtension(booking.hold_expires_at, booking.hold_extensions, allowed)


def confirm_hold(organisation_id: int, offer_id: int, booking_reference: str,
                 needs: dict[str, Any] | None = None) -> BookingView:
    """The client has checked their answers: the held seat becomes a booking awaiting payment. If the hold ran
    out, the seat is taken again when one is still free."""
    now = utcnow()
    with write_session() as s:
        offer = _load_offer(s, organisation_id, offer_id, lock=True)
        booking = locks.lock_where(s, "booking", Booking.reference == booking_reference,
                                   Booking.offer_id == offer.id)
        if booking is None:
            raise NotFound("That booking cannot be found.")
        if booking.status in BookingStatus.BOOKED:
            return booking_view(s, booking)
        session = s.get(CourseSession, booking.session_id)
        check_bookable(s, offer, session, now)
        if booking.status == BookingStatus.HELD and booking.hold_expires_at and booking.hold_expires_at > now:
            pass
        elif booking.status in BookingStatus.NOT_MADE:
            # The hold ran out; if the sweep already freed the seat, take one again (or say the session is full).
            if booking.status == BookingStatus.HELD:
                booking.status = BookingStatus.EXPIRED
                s.add(booking)
                s.flush()
                give_back_seat(s, booking.session_id)
            if active_booking(s, offer.id) is not None:
                raise AlreadyBooked()
            take_seat(s, booking.session_id, organisation_id)
        else:
            raise ValidationFailed(_("This booking can no longer be confirmed."), {"booking": booking.status})
        terms = get_terms(s, organisation_id)
        before = _snapshot(booking)
        booking.status = BookingStatus.AWAITING_PAYMENT
        booking.hold_expires_at = None
        booking.payment_due_at = _payment_due(terms, session, now)
        if needs is not None:
            booking.needs = clean_needs(needs)
        booking.updated_at = now
        s.add(booking)
        try:
            s.flush()
        except IntegrityError:
            raise AlreadyBooked() from None
        offer.status = OfferStatus.BOOKED
        s.add(offer)
        _waiting_list().left_by_booking(s, offer.id, booking.id)
        timeline(s, offer, "booked", f"Booked online: {session_text(s, session)}", booking.id)
        view = booking_view(s, booking)
        _queue_confirmation(s, offer, view)
        audit.record(s, None, "booking", booking.reference, "booked", before=before, after=_snapshot(booking),
                     organisation_id=organisation_id, subject=("client", offer.client_id))
        return view


@contextmanager
def _transaction(session: Session | None) -> Iterator[Session]:
    """The caller's write transaction when it passes one (it commits), else a new one."""
    if session is not None:
        yield session
    else:
        with write_session() as s:
            yield s


_BOOKING_DEFAULT_TERMS = BookingTerms(organisation_id=0)
_o, _b = Offer.__table__.c, Booking.__table__.c
_w = WaitingEntry.__table__.c
# Whether the offer is on the waiting list (so a booking takes it off), read with the offer: no statement more.
_ON_WAITING_LIST = (select(_w.id).where(_w.offer_id == _o.id, _w.status.in_(WaitingStatus.ACTIVE))
                    .exists().label("on_waiting_list"))
# Everything ``book`` needs about the offer in one row: the offer (locked), its client, course type, organisation,
# booking terms, and its active booking if it has one.
_OFFER_FOR_BOOKING = (
    select(_o.id, _o.organisation_id, _o.offer_reference, _o.client_id, _o.course_type_id, _o.status,
           _o.critical_date, Client.first_name, Client.last_name, Client.email, Client.language,
           CourseType.code.label("course_code"), CourseType.name.label("course_name"), CourseType.fee_pence,
           CourseType.what_to_bring, CourseType.name_cy.label("course_name_cy"), CourseType.what_to_bring_cy,
           Organisation.welsh_enabled, Organisation.slug.label("organisation_slug"),
           Organisation.name.label("organisation_name"), EmailTemplate.subject.label("email_subject"),
           EmailTemplate.body.label("email_body"), BookingTerms.hold_minutes, BookingTerms.payment_due_hours,
           BookingTerms.conditions.label("terms_conditions"), BookingTerms.conditions_cy.label("terms_conditions_cy"),
           _b.id.label("active_id"), _b.status.label("active_status"), _b.reference.label("active_reference"),
           _b.session_id.label("active_session_id"), _ON_WAITING_LIST)
    .select_from(Offer.__table__)
    .join(Client.__table__, Client.id == _o.client_id)
    .join(CourseType.__table__, CourseType.id == _o.course_type_id)
    .join(Organisation.__table__, Organisation.id == _o.organisation_id)
    .outerjoin(BookingTerms.__table__, BookingTerms.organisation_id == _o.organisation_id)
    .outerjoin(Booking.__table__, and_(_b.offer_id == _o.id, _b.status.in_(ACTIVE_BOOKING_STATUSES)))
    .outerjoin(EmailTemplate.__table__, and_(EmailTemplate.organisation_id == _o.organisation_id,
                                             EmailTemplate.kind == "booking_confirmation",
                                             EmailTemplate.language == DEFAULT_LANGUAGE))
    .where(_o.id == bindparam("offer_id"), _o.organisation_id == bindparam("org"))
    .with_for_update(of=Offer.__table__)
)
# On PostgreSQL the same query sets the transaction's lock timeout before it locks the offer (see locks).
_OFFER_FOR_BOOKING_BY_DIALECT = {"postgresql": _OFFER_FOR_BOOKING.add_columns(locks.timeout_column())}
_s, _v = CourseSession.__table__.c, Venue.__table__.c
_SESSION_FOR_BOOKING = (
    select(_s.id, _s.organisation_id, _s.course_type_id, _s.venue_id, _s.delivery_mode, _s.starts_at, _s.ends_at,
           _s.capacity, _s.seats_taken, _s.status, _v.name.label("venue_name"), _v.is_online.label("venue_online"),
           _v.address_line1, _v.address_line2, _v.town, _v.postcode, _v.name_cy.label("venue_name_cy"),
           _v.accessibility_notes, _v.accessibility_notes_cy)
    .select_from(CourseSession.__table__)
    .outerjoin(Venue.__table__, _v.id == _s.venue_id)
    .where(_s.id == bindparam("session_id"), _s.organisation_id == bindparam("org"))
)
_EXPIRE_HOLD = (update(Booking.__table__).where(_b.id == bindparam("bid"), _b.status == BookingStatus.HELD)
                .values(status=BookingStatus.EXPIRED, updated_at=bindparam("now")))
_MARK_BOOKED = update(Offer.__table__).where(_o.id == bindparam("offer_id")).values(status=OfferStatus.BOOKED)


@dataclass(frozen=True)
class ClientContact:
    """Whom a booking's emails go to and the name its view shows. Every path builds it the same way: the busy
    ``book`` from its one offer row (which carries the client's columns), the others from the ``Client`` row."""

    first_name: str
    last_name: str
    email: str
    language: str = "en"  # of the emails to them

    @classmethod
    def of(cls, row) -> ClientContact:
        return cls(row.first_name, row.last_name, row.email or "", getattr(row, "language", None) or "en")


@dataclass(frozen=True)
class _Place:
    name: str
    is_online: bool
    address_line1: str
    address_line2: str
    town: str
    postcode: str


@dataclass(frozen=True)
class _NewBooking:
    id: int
    reference: str
    status: str
    channel: str
    fee_pence: int
    hold_expires_at: datetime | None
    payment_due_at: datetime | None
    needs: dict[str, Any]
    created_at: datetime


# The API's glance before anything is locked, for ``plainly_full``: the token check (``api_tokens.TOKEN_FACTS``, the
# statement's driving row: no row, no valid token) with the offer of that organisation by its exact reference and the
# session, each there or not (outer joins). The statuses are written into the statement as constants (what they
# are), so it is sent as it was compiled, with no list of parameters to expand on each call.
_h = Booking.__table__.alias("lapsed_hold")
_token = api_tokens.TOKEN_FACTS.c


def _status_constant(status: str):
    """A status written into a statement as the constant it is (statuses are our own words, never input)."""
    return literal_column("'%s'" % str(status))


_ACTIVE = [_status_constant(status) for status in ACTIVE_BOOKING_STATUSES]
_AT_A_GLANCE = (
    select(_token.id.label("token_id"), _token.organisation_id.label("token_organisation_id"),
           _token.name.label("token_name"), _token.last_used_at.label("token_last_used_at"),
           _o.id, _o.organisation_id, _o.status, _o.critical_date, _o.course_type_id,
           _s.id.label("session_id"),
           _s.organisation_id.label("session_organisation_id"), _s.course_type_id.label("session_course_type_id"),
           _s.status.label("session_status"), _s.starts_at, _s.ends_at, _s.capacity, _s.seats_taken,
           select(_b.id).where(_b.offer_id == _o.id, _b.status.in_(_ACTIVE)).exists().label("has_active"),
           select(_h.c.id).where(_h.c.session_id == _s.id, _h.c.status == _status_constant(BookingStatus.HELD),
                                 _h.c.hold_expires_at <= bindparam("now")).exists().label("lapsed_holds"))
    .select_from(api_tokens.TOKEN_FACTS)
    .outerjoin(Offer.__table__, and_(_o.organisation_id == _token.organisation_id,
                                     _o.offer_reference == bindparam("ref")))
    .outerjoin(CourseSession.__table__, and_(_s.id == bindparam("sid"), _s.organisation_id == _token.organisation_id))
)


@dataclass(frozen=True)
class _Glimpse:
    """The fields of an offer or a session that ``check_bookable`` reads."""

    organisation_id: int
    course_type_id: int
    status: str
    critical_date: date | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def plainly_full(raw_token: str, offer_reference: str, session_id: Any, conn: Connection
                 ) -> tuple[Actor | None, int | None]:
    """The API's first read, before a booking takes any lock: the token's actor (None when the token is not valid:
    then nothing else is answered) and the offer's id (None when the exact reference finds none; the caller then
    looks it up the usual way). Raises SessionFull at once when the session is plainly full.

    One statement on a connection of the caller's (``db.glance``: no transaction), the token check of
    ``api_tokens`` with the offer and the session, so in a rush for the last seats each attempt that misses out
    costs one indexed read and no lock. "Plainly" means the refusal ``book`` would give anyway, for the same reason
    and in the same order: the offer has no active booking (a hold to convert, or "already booked", is ``book``'s
    to answer), no hold on the session has lapsed (releasing one frees a seat), every other rule of
    ``check_bookable`` is met (its refusals come first), and every seat was taken when read. ``book`` already
    refuses on that unlocked read of the seats; a seat is only ever taken by its guarded UPDATE, so nothing here can
    let a booking through: whenever this does not refuse, ``book`` decides under its locks."""
    digest = api_tokens.digest_of(raw_token)
    if digest is None:
        return None, None
    sid = bounds.id_or_none(session_id)
    ref = str(offer_reference or "").strip().upper()
    if not ref or len(ref) > 64:
        ref = None  # matches no offer
    now = utcnow()
    row = conn.execute(_AT_A_GLANCE, {"digest": digest, "sid": sid, "ref": ref, "now": now}).first()
    actor = api_tokens.actor_from_facts(None if row is None else (row.token_id, row.token_organisation_id,
                                                                    row.token_name, row.token_last_used_at))
    if actor is None:
        return None, None
    actor.require(Perm.BOOKINGS_MANAGE)
    if row.id is None or row.session_id is None:
        return actor, row.id
    if row.has_active or row.lapsed_holds or row.seats_taken < row.capacity:
        return actor, row.id
    offer = _Glimpse(row.organisation_id, row.course_type_id, row.status, critical_date=row.critical_date)
    course = _Glimpse(row.session_organisation_id, row.session_course_type_id, row.session_status,
                      starts_at=row.starts_at, ends_at=row.ends_at)
    try:
        check_bookable(None, offer, course, now)
    except AtlasError:
        return actor, row.id
    raise SessionFull()


def book(actor: Actor, offer_id: int, session_id: int, needs: dict[str, Any] | None = None,
         channel: str = "telephone", *, session: Session | None = None) -> BookingView:
    """Staff (or an API client) book a seat outright for an offer; the booking then awaits payment.

    Every way in (the staff screens, telephone bookings, the REST API) comes here. It is the busiest write in
    Atlas, so it reads and writes plain rows: one query for the offer (locked) with everything the booking, its
    view and its email need, one for the session, then the INSERT of the booking, the offer's status, the
    timeline, the email, the guarded seat UPDATE (late, so the session's row is locked briefly; first when the
    session looked full) and the audit entry. ``session``: a write transaction the caller already holds; the
    caller commits it."""
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    if channel not in ("telephone", "online", "api"):
        raise ValidationFailed("Channel must be online, telephone or api.", {"channel": "invalid"})
    sid = bounds.id_or_none(session_id)
    if sid is None:
        raise ValidationFailed("Choose a session.", {"session": "invalid"})
    now = utcnow()
    with _transaction(session) as s:
        conn = s.connection()
        locks.claim(s, locks.offer(offer_id))
        offer = conn.execute(_OFFER_FOR_BOOKING_BY_DIALECT.get(conn.dialect.name, _OFFER_FOR_BOOKING),
                             {"offer_id": bounds.query_id(offer_id), "org": org_id, **locks.timeout_params()}).first()
        if offer is None:
            raise NotFound("No such offer.")
        course = conn.execute(_SESSION_FOR_BOOKING, {"session_id": sid, "org": org_id}).first()
        if course is None:
            raise NotFound("No such session.")
        check_bookable(s, offer, course, now)
        let_go = None
        if offer.active_id is not None:
            if offer.active_status != BookingStatus.HELD:
                raise AlreadyBooked(f"This offer is already booked (booking {offer.active_reference}).")
            if conn.execute(_EXPIRE_HOLD, {"bid": offer.active_id, "now": now}).rowcount == 1:
                let_go = offer.active_session_id
        looks_full = course.seats_taken >= course.capacity
        if looks_full:  # most likely "full": find out before writing anything
            move_seat(s, org_id, course.id, let_go, looks_full=True)
        terms = _BOOKING_DEFAULT_TERMS if offer.hold_minutes is None else offer
        values = _booking_values(offer, course, status=BookingStatus.AWAITING_PAYMENT, channel=channel, actor=actor,
                                 needs=needs, now=now, hold_minutes=terms.hold_minutes,
                                 payment_due_hours=terms.payment_due_hours, fee_pence=offer.fee_pence)
        _insert_booking(s, values, _reference_prefix(offer.organisation_slug))
        conn.execute(_MARK_BOOKED, {"offer_id": offer.id})
        if offer.on_waiting_list:
            _waiting_list().left_by_booking(s, offer.id)
        venue = None if course.venue_id is None else _Place(
            course.venue_name, course.venue_online, course.address_line1, course.address_line2, course.town,
            course.postcode)
        new = _NewBooking(values["id"], values["reference"], values["status"], channel, values["fee_pence"],
                          None, values["payment_due_at"], values["needs"], now)
        client = ClientContact.of(offer)
        view = _make_view(new, offer, client, course, venue, offer.course_code, offer.course_name,
                          CourseNames.of_rows(offer, course))
        how = {"telephone": "by telephone", "api": "through the API", "online": "online"}[channel]
        timeline(s, offer, "booked", f"Booked {how}: {view.session_text}", new.id, actor.username)
        # The organisation's confirmation template came with the offer row (one statement fewer on this path).
        template = None if offer.email_subject is None else (offer.email_subject, offer.email_body)
        _queue_confirmation(s, offer, view, client=client, template=template)
        if not looks_full:
            # The seat last, before the audit entry and the commit: the session's row is locked from its guarded
            # UPDATE to the commit, so bookings racing for one session queue behind each other only that long. A
            # refusal here rolls back everything above.
            move_seat(s, org_id, course.id, let_go)
        audit.record(s, actor, "booking", new.reference, "booked", after=_snapshot(new, course.id),
                     subject=("client", offer.client_id))
    if session is None and let_go is not None and let_go != course.id:
        _tell_waiting_list(org_id, let_go)
    return view


def _queue_confirmation(s: Session, offer: Offer, view: BookingView, kind: str = "confirmation",
                        previously: str | dict[str, str] = "", client: ClientContact | None = None,
                        extra_lines: list[str] | None = None, template: Any = emails.LOOK_UP) -> None:
    """Queue the client's email about ``view``. ``client``: the client's contact when the caller has it already
    (else it is looked up); ``template``: the organisation's (subject, body) when the caller read it already."""
    client = client or ClientContact.of(s.get(Client, offer.client_id))
    if isinstance(previously, dict):  # the session as it was, in each language: the client's
        previously = previously.get(emails.client_language(s, offer.organisation_id, client, offer),
                                    previously.get("en", ""))
    extra: dict[str, Any] = {}
    if kind == "cancellation":
        extra["cancellation"] = {"money": "\n".join(extra_lines or [])}
    elif kind in ("session_moved", "session_cancelled"):
        extra["change"] = {"previously": previously}
    elif kind == "joining_changed":
        from atlas_app.services.booking.reminders import joining_group

        extra["joining"] = joining_group(s.get(CourseSession, view.session_id))
    emails.send(s, _EMAIL_KINDS[kind], view=view, offer=offer, client=client, extra=extra, template=template)


_EMAIL_KINDS = {"confirmation": "booking_confirmation", "transfer": "booking_transfer",
                "cancellation": "booking_cancellation", "session_moved": "session_moved",
                "session_cancelled": "session_cancelled", "joining_changed": "joining_changed",
                "did_not_attend": "did_not_attend"}


def tell_booked_clients(s: Session, session: CourseSession, kind: str, previously: str | dict[str, str] = "",
                        actor: Actor | None = None) -> int:
    """Inside the caller's transaction, after a session's date, time or venue changed (``session_moved``) or it was
    cancelled (``session_cancelled``): email every client with an active booking on it the new details and note
    it on their timeline. Returns how many bookings were told."""
    rows = s.exec(select(Booking, Offer).join(Offer, Offer.id == Booking.offer_id)
                  .where(Booking.session_id == session.id, Booking.status.in_(ACTIVE_BOOKING_STATUSES))
                  .order_by(Booking.id)).all()
    detail = {"session_moved": "Course changed: now ", "session_cancelled": "Course cancelled: ",
              "joining_changed": "Joining details changed: "}[kind]
    for booking, offer in rows:
        view = booking_view(s, booking)
        _queue_confirmation(s, offer, view, kind, previously)
        was = previously.get("en", "") if isinstance(previously, dict) else previously
        timeline(s, offer, kind, detail + view.session_text + (f" (was {was})" if was else ""),
                 booking.id, actor.username if actor else "")
    return len(rows)


# --- changing bookings ---------------------------------------------------------------------------------------


def _booking_for_update(s: Session, organisation_id: int, reference: str) -> Booking:
    """The booking, locked with its offer (in the lock order: the offer first)."""
    reference = str(reference).strip().upper()
    found = s.exec(select(Booking.id, Booking.offer_id).where(Booking.reference == reference,
                                                             Booking.organisation_id == organisation_id)).first()
    booking = None if found is None else locks.lock(s, locks.offer(found[1]), locks.booking(found[0])).get(
        locks.booking(found[0]))
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def _cutoff_check(terms: BookingTerms, session: CourseSession, now: datetime, hours: int, what: str) -> None:
    if session.starts_at - now < timedelta(hours=hours):
        message = (_("Bookings can only be transferred online up to {hours} hours before the course. Please "
                     "telephone us.") if what == "transferred" else
                   _("Bookings can only be cancelled online up to {hours} hours before the course. Please telephone "
                     "us."))
        raise ValidationFailed(message.format(hours=hours), {"booking": "too late"})


def transfer(organisation_id: int, reference: str, new_session_id: int, *, actor: Actor | None = None,
             client: ClientProof | None = None) -> BookingView:
    """Move a booking to another session: for staff (``actor``) or the client (``client``, the proof that the
    booking's offer is theirs). Clients must meet the organisation's cut-off and transfer limit; staff may transfer
    later. The critical date always applies."""
    check_caller(organisation_id, actor, client)
    now = utcnow()
    with write_session() as s:
        old = _booking_for_update(s, organisation_id, reference)
        check_clients_booking(old, actor, client)
        if old.status not in BookingStatus.CHANGEABLE:
            raise ValidationFailed(_("Only a current booking can be transferred."), {"booking": old.status})
        offer = _load_offer(s, organisation_id, old.offer_id, lock=True)
        terms = get_terms(s, organisation_id)
        old_session = s.get(CourseSession, old.session_id)
        new_session = _load_session(s, organisation_id, new_session_id)
        if new_session.id == old_session.id:
            raise ValidationFailed(_("That is the session already booked."), {"session": "same"})
        if actor is None:
            _cutoff_check(terms, old_session, now, terms.transfer_cutoff_hours, "transferred")
            transfers = lineage.transfers_before(s, old)
            if transfers >= terms.max_transfers:
                raise ValidationFailed(
                    _("This booking has been transferred {count} times, the most allowed online. Please telephone "
                      "us.").format(count=transfers), {"booking": "transfer limit"})
        check_bookable(s, offer, new_session, now)
        before = _snapshot(old)
        old.status, old.updated_at = BookingStatus.TRANSFERRED, now
        s.add(old)
        s.flush()
        new = _new_booking(s, offer, new_session, status=before["status"], channel=_transfer_channel(old, actor),
                           actor=actor, needs=old.needs, now=now, fee_pence=old.fee_pence + terms.transfer_fee_pence,
                           transferred_from=old.id, give_back=old.session_id)
        if before["status"] == BookingStatus.AWAITING_PAYMENT:
            new.payment_due_at = old.payment_due_at or _payment_due(terms, new_session, now)
            s.add(new)
        timeline(s, offer, "transferred",
                 f"{old.reference} moved to {new.reference}: {session_text(s, new_session)}", new.id,
                 actor.username if actor else "")
        view = booking_view(s, new)
        _queue_confirmation(s, offer, view, "transfer")
        audit.record(s, actor, "booking", old.reference, "transferred", before=before,
                     after={"status": BookingStatus.TRANSFERRED, "to": new.reference, "session_id": new_session.id},
                     organisation_id=organisation_id, subject=("client", offer.client_id))
    _tell_waiting_list(organisation_id, before["session_id"])
    return view


def _transfer_channel(old: Booking, actor: Actor | None) -> str:
    """Clients keep their booking's channel; an API token's transfer is "api"; staff transfers are by telephone."""
    if actor is None:
        return old.channel
    return "api" if actor.user_id is None and actor.username.startswith("api:") else "telephone"


def cancel(organisation_id: int, reference: str, *, actor: Actor | None = None, client: ClientProof | None = None,
           reason: str = "", money: Callable[[Session, Booking, str], list[str]] | None = None) -> BookingView:
    """Cancel a booking and free its seat, for staff (``actor``) or the client (``client``, the proof that the
    booking's offer is theirs; the organisation's cut-off applies). The offer can then be booked again (before its
    critical date).

    ``money(s, booking, previous_status)``, when given, is called inside the cancelling transaction (the offer and
    booking locked) to deal with money paid for the booking; the lines it returns are added to the client's
    cancellation email and timeline entry (``payments.cancel_booking`` uses it)."""
    check_caller(organisation_id, actor, client)
    now = utcnow()
    with write_session() as s:
        booking = _booking_for_update(s, organisation_id, reference)
        check_clients_booking(booking, actor, client)
        if booking.status not in ACTIVE_BOOKING_STATUSES:
            raise ValidationFailed(_("This booking is not current, so it cannot be cancelled."),
                                   {"booking": booking.status})
        session = s.get(CourseSession, booking.session_id)
        terms = get_terms(s, organisation_id)
        if actor is None and booking.status != BookingStatus.HELD:
            _cutoff_check(terms, session, now, terms.cancel_cutoff_hours, "cancelled")
        offer = _load_offer(s, organisation_id, booking.offer_id, lock=True)
        before = _snapshot(booking)
        booking.status, booking.updated_at = BookingStatus.CANCELLED, now
        s.add(booking)
        s.flush()
        if offer.status == OfferStatus.BOOKED:
            offer.status = OfferStatus.REFERRED
            s.add(offer)
        money_lines = money(s, booking, before["status"]) if money is not None else []  # locks the payments
        give_back_seat(s, booking.session_id)  # the session's row last, as the lock order says
        timeline(s, offer, "cancelled", " ".join([(reason or "Cancelled")[:300], *money_lines])[:500], booking.id,
                 actor.username if actor else "")
        view = booking_view(s, booking)
        if before["status"] != BookingStatus.HELD:
            _queue_confirmation(s, offer, view, "cancellation", extra_lines=money_lines)
        audit.record(s, actor, "booking", booking.reference, "cancelled", before=before,
                     after={"status": BookingStatus.CANCELLED, "reason": reason[:300]}, organisation_id=organisation_id,
                     subject=("client", offer.client_id))
    _tell_waiting_list(organisation_id, before["session_id"])
    return view


class UnpaidAttendance(ValidationFailed):
    """Marking attended a booking that is not paid: staff must confirm they are letting the client in unpaid."""


def record_attendance(actor: Actor, reference: str, outcome: str, *, override_unpaid: bool = False,
                      identity_checked: bool | None = None) -> BookingView:
    """Mark the register: attended, did not attend, or turned away. Moves the offer's status with it.
    ``identity_checked``: the trainer checked the client's identity (kept as it was when None). A client newly
    marked as not attending is sent the organisation's "did not attend" email (how to rebook).

    A booking not paid (by the one payment rule; a payment plan allowing attendance counts as paid) is marked
    attended only with ``override_unpaid=True``; the audit entry then records the override and who made it."""
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    if outcome not in ATTENDANCE_OUTCOMES:
        raise ValidationFailed("Choose attended, did not attend or turned away.", {"outcome": "invalid"})
    now = utcnow()
    with write_session() as s:
        booking = _booking_for_update(s, org_id, reference)
        if booking.status not in BookingStatus.ON_REGISTER:
            raise ValidationFailed("Only a current booking can be marked on the register.",
                                   {"booking": booking.status})
        session = s.get(CourseSession, booking.session_id)
        if session.starts_at > now + timedelta(hours=12):
            raise ValidationFailed("The register opens on the day of the course.", {"session": "future"})
        overridden = None
        if outcome == BookingStatus.ATTENDED and booking.status != BookingStatus.ATTENDED:
            from atlas_app.services.payments.state import payment_summary

            money = payment_summary(s, booking.id, now)
            if money.attendance_needs_override:
                if not override_unpaid:
                    raise UnpaidAttendance(
                        f"{money.label}: {money.amount_text}. This client has not paid. Confirm to mark them "
                        "attended anyway.", {"override_unpaid": money.state})
                overridden = {"pay_state": money.state, "amount": money.amount_text, "by": actor.username}
        offer = _load_offer(s, org_id, booking.offer_id, lock=True)
        before = _snapshot(booking)
        newly_absent = outcome == BookingStatus.DID_NOT_ATTEND and booking.status != BookingStatus.DID_NOT_ATTEND
        booking.status, booking.updated_at = outcome, now
        if identity_checked is not None:
            booking.identity_checked = bool(identity_checked)
        s.add(booking)
        offer.status = OFFER_AFTER_OUTCOME[outcome]
        s.add(offer)
        label = OUTCOME_LABELS[outcome]
        timeline(s, offer, outcome, f"{label}: {session_text(s, session)}", booking.id, actor.username)
        after = {"status": outcome}
        if identity_checked is not None:
            after["identity_checked"] = bool(identity_checked)
        if overridden is not None:
            after["unpaid_override"] = overridden
        if newly_absent:
            client = s.get(Client, offer.client_id)
            if client is not None and client.email_consent:
                _queue_confirmation(s, offer, booking_view(s, booking), "did_not_attend")
        audit.record(s, actor, "booking", booking.reference, "attendance", before=before, after=after,
                     subject=("client", offer.client_id))
        return booking_view(s, booking)


def set_identity_checked(actor: Actor, reference: str, checked: bool) -> None:
    """The trainer checked (or un-ticks) the client's identity on the register."""
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        booking = _booking_for_update(s, org_id, reference)
        if booking.status not in BookingStatus.ON_REGISTER:
            raise ValidationFailed("Only a current booking is on the register.", {"booking": booking.status})
        if booking.identity_checked == bool(checked):
            return
        booking.identity_checked, booking.updated_at = bool(checked), utcnow()
        s.add(booking)
        offer = s.get(Offer, booking.offer_id)
        audit.record(s, actor, "booking", booking.reference, "identity_checked",
                     before={"identity_checked": not checked}, after={"identity_checked": bool(checked)},
                     subject=("client", offer.client_id))


def expire_offers(today: date | None = None) -> int:
    """Offers whose critical date has passed without a completed course are marked expired."""
    now = utcnow()
    today = today or london_date(now)
    count = 0
    with write_session() as s:
        offers = s.exec(
            select(Offer).where(Offer.critical_date < today, Offer.status == OfferStatus.REFERRED).limit(5000)
        ).all()
        for offer in offers:
            # Conditional, so two workers sweeping together expire (and record) each offer once.
            changed = s.exec(
                update(Offer).where(Offer.id == offer.id,
                                    Offer.status == OfferStatus.REFERRED).values(status=OfferStatus.EXPIRED)
            ).rowcount
            if changed == 1:
                timeline(s, offer, "offer_expired", f"The critical date {offer.critical_date:%d %B %Y} passed.")
                count += 1
    return count


def return_to_police(actor: Actor, offer_id: int, reason: str) -> None:
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    if not (reason or "").strip():
        raise ValidationFailed("Give the reason for returning the offer to the police.", {"reason": "required"})
    with write_session() as s:
        offer = _load_offer(s, org_id, offer_id, lock=True)
        if active_booking(s, offer.id) is not None:
            raise Conflict("Cancel the offer's booking before returning it to the police.")
        if offer.status == OfferStatus.COMPLETED:
            raise ValidationFailed("A completed offer cannot be returned.")
        before = offer.status
        offer.status = OfferStatus.RETURNED
        s.add(offer)
        timeline(s, offer, "returned", reason.strip()[:300], None, actor.username)
        audit.record(s, actor, "offer", offer.offer_reference, "returned_to_police", before={"status": before},
                     after={"status": OfferStatus.RETURNED, "reason": reason.strip()[:300]},
                     subject=("client", offer.client_id))


def get_booking(actor: Actor, reference: str) -> BookingView:
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        booking = s.exec(select(Booking).where(Booking.reference == str(reference).strip().upper(),
                                               Booking.organisation_id == org_id)).first()
        if booking is None:
            raise NotFound("No such booking.")
        return booking_view(s, booking)


__all__ = [
    "AlreadyBooked", "AtlasError", "BookingView", "ClientProof", "SessionFull", "active_booking", "book",
    "booking_view", "cancel", "check_bookable", "check_caller", "check_clients_booking", "confirm_hold",
    "UnpaidAttendance", "expire_offers", "get_booking", "give_back_seat", "hold_seat", "move_seat",
    "record_attendance",
    "release_expired_holds", "return_to_police", "take_seat", "transfer",
]
