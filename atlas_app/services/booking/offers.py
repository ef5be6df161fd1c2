"""Finding offers and what they can book: the public "find your offer" step, sessions a client may choose, staff
client search, the client record with its timeline, contact-centre calls and special-circumstance requests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, select

from atlas_app.services.platform.i18n import _, day_month_year
from atlas_app.db import contains, read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, OfferStatus, RequestStatus, SessionStatus
from atlas_app.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    CallLog,
    Client,
    ClientEvent,
    CourseType,
    Offer,
    Organisation,
    Region,
    SpecialRequest,
    User,
    Venue,
)
from atlas_app.services.booking import lineage
from atlas_app.services.platform import audit, bounds, welsh
from atlas_app.services.platform import throttles as lookup_throttle
from atlas_app.services.platform.actor import Actor
from atlas_app.services.booking.bookings import booking_view, get_terms
from atlas_app.services.booking.catalogue import proximity_rank, session_rows
from atlas_app.services.casework.search import normalise, similarity, soundex
from atlas_app.services.payments.state import booking_paid_flags
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date, london_midnight

CALL_TYPES = ("booking", "enquiry", "payment", "transfer", "cancellation", "complaint", "special_circumstances")
CALL_OUTCOMES = ("resolved", "booked", "transferred", "cancelled", "payment_taken", "call_back", "referred",
                 "no_action")
# Call types a client could have done online themselves (for the call analysis report).
ONLINE_CAPABLE_CALL_TYPES = ("booking", "transfer", "cancellation", "payment")
REQUEST_KINDS = ("part_payment", "extension", "medical", "other")


@dataclass(frozen=True)
class OfferView:
    id: int
    organisation_id: int
    organisation_name: str
    offer_reference: str
    client_id: int
    client_name: str
    client_postcode: str
    client_email: str
    course_type_id: int
    course_code: str
    course_name: str
    delivery_modes: list[str]
    fee_pence: int
    offence_date: date
    critical_date: date
    police_force: str
    status: str
    active_booking_reference: str = ""
    # The organisation offers Welsh (services/platform/welsh.py).
    welsh_enabled: bool = False


def _offer_view(s: Session, offer: Offer) -> OfferView:
    client = s.get(Client, offer.client_id)
    ct = s.get(CourseType, offer.course_type_id)
    org = s.get(Organisation, offer.organisation_id)
    active = s.exec(select(Booking.reference).where(Booking.offer_id == offer.id,
                                                    Booking.status.in_(ACTIVE_BOOKING_STATUSES))).first()
    return OfferView(
        id=offer.id, organisation_id=offer.organisation_id, organisation_name=org.name if org else "",
        offer_reference=offer.offer_reference, client_id=client.id,
        client_name=f"{client.first_name} {client.last_name}", client_postcode=client.postcode,
        client_email=client.email, course_type_id=ct.id, course_code=ct.code, course_name=welsh.pick(ct.name, ct.name_cy),
        delivery_modes=list(ct.delivery_modes or []), fee_pence=ct.fee_pence, offence_date=offer.offence_date,
        critical_date=offer.critical_date, police_force=offer.police_force, status=offer.status,
        active_booking_reference=active or "", welsh_enabled=bool(org and org.welsh_enabled),
    )


def _compact(value: str) -> str:
    return re.sub(r"\s+", "", (value or "")).upper()


def find_offer(offer_reference: str, date_of_birth: date | None, postcode: str, client_ip: str = "") -> OfferView:
    """The public "find your offer" step. All three must match; the same message is given for any mismatch so
    the form reveals nothing about offers that are not yours, and repeated mismatches for one reference or from one
    address are refused for a while (``lookup_throttle``), so the date of birth and postcode cannot be guessed."""
    return lookup_throttle.guarded("offer", offer_reference, client_ip,
                                   lambda: _find_offer(offer_reference, date_of_birth, postcode))


def _find_offer(offer_reference: str, date_of_birth: date | None, postcode: str) -> OfferView:
    # The refusals are for the client, in their language (services/platform/i18n.py).
    not_found = ValidationFailed(
        _("We could not find an offer with those details. Check the reference, date of birth and postcode on your "
          "offer letter."), {"offer": "not found"})
    ref = (offer_reference or "").strip().upper()
    if not ref or date_of_birth is None or not postcode:
        raise ValidationFailed(_("Enter your offer reference, date of birth and postcode."), {"offer": "incomplete"})
    with read_session() as s:
        rows = s.exec(
            select(Offer, Client).join(Client, Client.id == Offer.client_id)
            .where(func.upper(Offer.offer_reference) == ref, Client.date_of_birth == date_of_birth)
        ).all()
        match = next(((o, c) for o, c in rows if _compact(c.postcode) == _compact(postcode)), None)
        if match is None:
            raise not_found
        offer, _client = match
        view = _offer_view(s, offer)
    today = london_date(utcnow())
    if view.status == OfferStatus.COMPLETED:
        raise ValidationFailed(_("This offer's course has already been completed. There is nothing more to book."),
                               {"offer": "completed"})
    if view.status == OfferStatus.DID_NOT_ATTEND:
        raise ValidationFailed(_("The course for this offer was not attended, so the offer has gone back to the "
                                 "police. Please contact the police force named on your letter."),
                               {"offer": "did_not_attend"})
    if view.status in OfferStatus.CLOSED or view.critical_date < today:
        raise ValidationFailed(
            _("This offer expired on {date} and can no longer be booked. Please contact the police force named on "
              "your letter.").format(date=day_month_year(view.critical_date)), {"offer": "expired"})
    return view


def get_offer_view(organisation_id: int, offer_id: int) -> OfferView:
    with read_session() as s:
        offer = s.exec(select(Offer).where(Offer.id == offer_id, Offer.organisation_id == organisation_id)).first()
        if offer is None:
            raise NotFound("No such offer.")
        return _offer_view(s, offer)


@dataclass(frozen=True)
class VenueChoice:
    id: int
    name: str
    region_name: str
    address: str
    postcode: str
    accessibility_notes: str
    sessions_available: int
    nearest_rank: int


def bookable_sessions(s: Session, offer: Offer, now: datetime, *, delivery_mode: str | None = None,
                      venue_id: int | None = None, region_id: int | None = None) -> list:
    """Sessions this offer may book now: its course type, scheduled, starting in the future, ending on or before
    the critical date, within the booking window, with free seats."""
    terms = get_terms(s, offer.organisation_id)
    last = min(london_midnight(offer.critical_date + timedelta(days=1)),
               now + timedelta(days=terms.bookable_days_ahead))
    rows = session_rows(s, offer.organisation_id, course_type_id=offer.course_type_id, venue_id=venue_id,
                        date_from=now + timedelta(minutes=30), date_to=last, status=SessionStatus.SCHEDULED,
                        delivery_mode=delivery_mode, only_free=True)
    rows = [r for r in rows if london_date(r.ends_at) <= offer.critical_date]
    if region_id:
        venue_ids = set(s.exec(select(Venue.id).where(Venue.region_id == region_id)).all())
        rows = [r for r in rows if r.venue_id in venue_ids]
    return rows


def venue_choices(organisation_id: int, offer_id: int, delivery_mode: str) -> list[VenueChoice]:
    """Venues with a bookable session for this offer in this mode, nearest first by postcode district."""
    now = utcnow()
    with read_session() as s:
        offer = s.exec(select(Offer).where(Offer.id == offer_id, Offer.organisation_id == organisation_id)).first()
        if offer is None:
            raise NotFound("No such offer.")
        client = s.get(Client, offer.client_id)
        counts: dict[int, int] = {}
        for row in bookable_sessions(s, offer, now, delivery_mode=delivery_mode):
            if row.venue_id is not None:
                counts[row.venue_id] = counts.get(row.venue_id, 0) + 1
        if not counts:
            return []
        venues = s.exec(select(Venue, Region.name).outerjoin(Region, Region.id == Venue.region_id)
                        .where(Venue.id.in_(list(counts)))).all()
        choices = [
            VenueChoice(
                id=v.id, name=welsh.pick(v.name, v.name_cy), region_name=region or "",
                address=", ".join(x for x in [v.address_line1, v.address_line2, v.town] if x),
                postcode=v.postcode, accessibility_notes=welsh.pick(v.accessibility_notes, v.accessibility_notes_cy),
                sessions_available=counts[v.id],
                nearest_rank=proximity_rank(client.postcode, v.postcode)[0] * 1000
                + proximity_rank(client.postcode, v.postcode)[1],
            )
            for v, region in venues
        ]
    return sorted(choices, key=lambda c: (c.nearest_rank, c.name))


def session_choices(organisation_id: int, offer_id: int, delivery_mode: str, venue_id: int | None) -> list:
    now = utcnow()
    with read_session() as s:
        offer = s.exec(select(Offer).where(Offer.id == offer_id, Offer.organisation_id == organisation_id)).first()
        if offer is None:
            raise NotFound("No such offer.")
        return bookable_sessions(s, offer, now, delivery_mode=delivery_mode,
                                 venue_id=venue_id if delivery_mode != "online" else None)


def delivery_modes_available(organisation_id: int, offer_id: int) -> dict[str, int]:
    """How many bookable sessions each delivery mode has for this offer."""
    now = utcnow()
    with read_session() as s:
        offer = s.exec(select(Offer).where(Offer.id == offer_id, Offer.organisation_id == organisation_id)).first()
        if offer is None:
            raise NotFound("No such offer.")
        counts: dict[str, int] = {}
        for row in bookable_sessions(s, offer, now):
            counts[row.delivery_mode] = counts.get(row.delivery_mode, 0) + 1
        return counts


def booking_for_client(organisation_id: int, offer_id: int, reference: str):
    """A booking the client (proved by their offer) may see; follows transfers to the current booking."""
    with read_session() as s:
        booking = s.exec(select(Booking).where(Booking.reference == reference.strip().upper(),
                                               Booking.offer_id == offer_id,
                                               Booking.organisation_id == organisation_id)).first()
        if booking is None:
            raise NotFound("No such booking.")
        return booking_view(s, lineage.current(s, booking))


# --- staff: client search and the client record --------------------------------------------------------------


@dataclass(frozen=True)
class ClientHit:
    client_id: int
    name: str
    date_of_birth: date
    postcode: str
    offer_id: int
    offer_reference: str
    course_code: str
    critical_date: date
    offer_status: str
    # The paid flag of the offer's latest booking holding a seat (``PaymentSummary.flag``), empty without one.
    paid_flag: dict[str, str] = field(default_factory=dict)


def _latest_seat_bookings(s: Session, offer_ids: list[int]) -> dict[int, int]:
    """offer id -> its latest booking that holds a seat."""
    if not offer_ids:
        return {}
    rows = s.exec(select(Booking.offer_id, func.max(Booking.id))
                  .where(Booking.offer_id.in_(offer_ids), Booking.status.in_(BookingStatus.HOLDS_SEAT))
                  .group_by(Booking.offer_id)).all()
    return {offer_id: booking_id for offer_id, booking_id in rows}


def search_clients(actor: Actor, *, query: str = "", date_of_birth: date | None = None, postcode: str = "",
                   limit: int = 50) -> list[ClientHit]:
    """Find a client by offer reference, name, date of birth or postcode (any combination)."""
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    q = (query or "").strip()
    if not q and date_of_birth is None and not postcode.strip():
        raise ValidationFailed("Enter an offer reference, a name, a date of birth or a postcode.",
                               {"query": "required"})
    with read_session() as s:
        stmt = (
            select(Client, Offer, CourseType.code)
            .join(Offer, Offer.client_id == Client.id)
            .join(CourseType, CourseType.id == Offer.course_type_id)
            .where(Client.organisation_id == org_id)
        )
        words: list[str] = []
        if q:
            parts = q.lower().split()[:6]
            words = normalise(q).split()[:6]
            # Every word of the query must match a first or last name, as letters ("jo smi" finds Joanne Smith;
            # "%" and "_" are letters here, not wildcards) or by sound ("Rhianon" finds Rhiannon, "Smyth" Smith),
            # with the Soundex keys casework's person search uses.
            name_match = and_(*[or_(contains(func.lower(Client.first_name), p),
                                    contains(func.lower(Client.last_name), p),
                                    *([Client.name_sounds.like(f"% {soundex(p)} %")] if soundex(p) else []))
                                for p in parts])
            stmt = stmt.where(or_(contains(func.lower(Offer.offer_reference), q.lower()),
                                  func.lower(Client.licence_number) == q.lower(),
                                  name_match))
        if date_of_birth is not None:
            stmt = stmt.where(Client.date_of_birth == date_of_birth)
        if postcode.strip():
            stmt = stmt.where(func.replace(func.upper(Client.postcode), " ", "") == _compact(postcode))
        rows = s.exec(stmt.order_by(Client.last_name, Client.first_name, Offer.id).limit(limit * 4)).all()
        if words:
            # Closest spellings first: names holding every word as typed, then by trigram likeness.
            query_text = " ".join(words)

            def rank(row) -> tuple:
                c, o, _ = row
                name = normalise(f"{c.first_name} {c.last_name}")
                as_typed = all(w in name for w in words) or query_text in o.offer_reference.lower()
                return (not as_typed, -similarity(query_text, name))

            rows = sorted(rows, key=rank)
        rows = rows[:limit]
        latest = _latest_seat_bookings(s, [o.id for _, o, _ in rows])
        flags = booking_paid_flags(s, list(latest.values()))
        return [
            ClientHit(c.id, f"{c.first_name} {c.last_name}", c.date_of_birth, c.postcode, o.id, o.offer_reference,
                      code, o.critical_date, o.status, flags.get(latest.get(o.id), {}))
            for c, o, code in rows
        ]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    detail: str
    username: str


@dataclass(frozen=True)
class CallView:
    id: int
    at: datetime
    call_type: str
    outcome: str
    notes: str
    username: str


@dataclass(frozen=True)
class RequestView:
    id: int
    kind: str
    details: str
    status: str
    created_at: datetime
    decision_note: str


@dataclass
class ClientRecord:
    client_id: int
    name: str
    date_of_birth: date
    licence_number: str
    address: str
    postcode: str
    email: str
    phone: str
    offers: list[OfferView] = field(default_factory=list)
    language: str = "en"  # what is sent to them is in this language ("en" or "cy")
    bookings: list[Any] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    calls: list[CallView] = field(default_factory=list)
    requests: list[RequestView] = field(default_factory=list)
    # booking id -> its paid flag (``PaymentSummary.flag``), for the bookings that hold a seat.
    paid_flags: dict[int, dict[str, str]] = field(default_factory=dict)


def client_record(actor: Actor, client_id: int) -> ClientRecord:
    actor.require(Perm.BOOKINGS_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        client = s.exec(select(Client).where(Client.id == bounds.query_id(client_id),
                                             Client.organisation_id == org_id)).first()
        if client is None:
            raise NotFound("No such client in your organisation.")
        offers = s.exec(select(Offer).where(Offer.client_id == client.id).order_by(Offer.id)).all()
        offer_ids = [o.id for o in offers]
        bookings = s.exec(select(Booking).where(Booking.offer_id.in_(offer_ids)).order_by(Booking.id.desc())
                          ).all() if offer_ids else []
        events = s.exec(select(ClientEvent).where(ClientEvent.client_id == client.id)
                        .order_by(ClientEvent.at.desc(), ClientEvent.id.desc())).all()
        calls = s.exec(select(CallLog, User.username).outerjoin(User, User.id == CallLog.user_id)
                       .where(CallLog.client_id == client.id).order_by(CallLog.at.desc())).all()
        requests = s.exec(select(SpecialRequest).where(SpecialRequest.client_id == client.id)
                          .order_by(SpecialRequest.created_at.desc())).all()
        return ClientRecord(
            client_id=client.id,
            name=f"{client.first_name} {client.last_name}",
            date_of_birth=client.date_of_birth,
            licence_number=client.licence_number,
            address=", ".join(x for x in [client.address_line1, client.address_line2, client.town] if x),
            postcode=client.postcode,
            email=client.email,
            phone=client.phone,
            language=client.language or "en",
            offers=[_offer_view(s, o) for o in offers],
            bookings=[booking_view(s, b) for b in bookings],
            timeline=[TimelineEntry(e.at, e.kind, e.detail, e.username) for e in events],
            calls=[CallView(c.id, c.at, c.call_type, c.outcome, c.notes, u or "") for c, u in calls],
            requests=[RequestView(r.id, r.kind, r.details, r.status, r.created_at, r.decision_note)
                      for r in requests],
            paid_flags=booking_paid_flags(s, [b.id for b in bookings if b.status in BookingStatus.HOLDS_SEAT]),
        )


def log_call(actor: Actor, *, client_id: int | None, offer_id: int | None, call_type: str, outcome: str,
             notes: str = "", request_details: str = "", request_kind: str = "part_payment") -> int:
    """Log a contact-centre call. A special-circumstances call also opens a request for the organisation."""
    actor.require(Perm.CALLS_LOG)
    org_id = actor.require_org()
    if call_type not in CALL_TYPES:
        raise ValidationFailed("Choose the type of call.", {"call_type": "invalid"})
    if outcome not in CALL_OUTCOMES:
        raise ValidationFailed("Choose the outcome of the call.", {"outcome": "invalid"})
    if call_type == "special_circumstances" and not (request_details or notes).strip():
        raise ValidationFailed("Describe the special circumstances.", {"request_details": "required"})
    with write_session() as s:
        client = None
        if client_id is not None:
            client = s.exec(select(Client).where(Client.id == bounds.query_id(client_id),
                                                 Client.organisation_id == org_id)
                            ).first()
            if client is None:
                raise NotFound("No such client in your organisation.")
        offer = None
        if offer_id is not None:
            offer = s.exec(select(Offer).where(Offer.id == bounds.query_id(offer_id),
                                               Offer.organisation_id == org_id)).first()
            if offer is None or (client is not None and offer.client_id != client.id):
                raise NotFound("No such offer for this client.")
        call = CallLog(organisation_id=org_id, client_id=client.id if client else None,
                       offer_id=offer.id if offer else None, call_type=call_type, outcome=outcome,
                       notes=(notes or "").strip()[:4000], user_id=actor.user_id)
        s.add(call)
        s.flush()
        audit.record(s, actor, "call", call.id, "logged",
                     after={"client_id": call.client_id, "call_type": call_type, "outcome": outcome},
                     subject=audit.about_client(call.client_id or (offer.client_id if offer else None)))
        if call_type == "special_circumstances" and client is not None:
            kind = request_kind if request_kind in REQUEST_KINDS else "other"
            request = SpecialRequest(organisation_id=org_id, client_id=client.id, offer_id=call.offer_id, kind=kind,
                                     details=(request_details or notes).strip()[:4000],
                                     created_by_user_id=actor.user_id)
            s.add(request)
            s.flush()
            s.add(ClientEvent(organisation_id=org_id, client_id=client.id, offer_id=call.offer_id,
                              kind="special_request", detail=f"Special circumstances request ({kind}) opened",
                              username=actor.username))
            audit.record(s, actor, "special_request", request.id, "opened", after={"kind": kind},
                         subject=audit.about_client(client.id))
        return call.id


def decide_request(actor: Actor, request_id: int, approve: bool, note: str = "") -> None:
    actor.require(Perm.BOOKINGS_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        request = s.exec(select(SpecialRequest).where(SpecialRequest.id == bounds.query_id(request_id),
                                                      SpecialRequest.organisation_id == org_id).with_for_update()
                         ).first()
        if request is None:
            raise NotFound("No such request.")
        if request.status != RequestStatus.OPEN:
            raise ValidationFailed("This request has already been decided.")
        request.status = "approved" if approve else "declined"
        request.decided_by_user_id = actor.user_id
        request.decided_at = utcnow()
        request.decision_note = (note or "").strip()[:1000]
        s.add(request)
        s.add(ClientEvent(organisation_id=org_id, client_id=request.client_id, offer_id=request.offer_id,
                          kind="special_request", detail=f"Special circumstances request {request.status}",
                          username=actor.username))
        audit.record(s, actor, "special_request", request.id, request.status, after={"note": request.decision_note},
                     subject=audit.about_client(request.client_id))


# --- the client's language ----------------------------------------------------------------------------------------

LANGUAGES = {"en": "English", "cy": "Welsh (Cymraeg)"}


def _check_language(language: str) -> str:
    value = str(language or "").strip().lower()
    if value not in LANGUAGES:
        raise ValidationFailed(_("Choose English or Welsh."), {"language": "invalid"})
    return value


def set_client_language(language: str, *, actor: Actor | None = None, client_id: int | None = None,
                        proof: Any = None) -> str:
    """Record the language a client wants what we send them in ("en" or "cy"): by staff (``actor`` with
    bookings.manage, ``client_id`` of their organisation) or by the client themselves while booking (``proof``, the
    ``bookings.ClientProof`` of their offer). Audited, about the client; returns the language kept."""
    value = _check_language(language)
    with write_session() as s:
        if actor is not None:
            actor.require(Perm.BOOKINGS_MANAGE)
            org_id = actor.require_org()
            client = s.exec(select(Client).where(Client.id == bounds.query_id(client_id),
                                                 Client.organisation_id == org_id)).first()
        elif proof is not None:
            org_id = proof.organisation_id
            if value == "cy" and not s.exec(select(Organisation.welsh_enabled)
                                            .where(Organisation.id == org_id)).first():
                value = "en"  # the organisation does not offer Welsh (services/platform/welsh.py)
            client = s.exec(select(Client).join(Offer, Offer.client_id == Client.id)
                            .where(Offer.id == proof.offer_id, Offer.organisation_id == org_id,
                                   Client.organisation_id == org_id)).first()
        else:
            raise ValidationFailed("Who is changing the language?")
        if client is None:
            raise NotFound("No such client in your organisation.")
        before = client.language or "en"
        if before == value:
            return value
        client.language = value
        s.add(client)
        s.flush()
        audit.record(s, actor, "client", client.id, "language changed", before={"language": before},
                     after={"language": value}, organisation_id=org_id, subject=("client", client.id))
        return value
