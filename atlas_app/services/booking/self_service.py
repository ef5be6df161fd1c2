"""Clients looking after their own booking on the public site: find it by its reference, date of birth and
postcode, see what it can move to, and whether the organisation's terms still allow changing it online.

Nothing here changes data: moving and cancelling go through ``booking.transfer`` and ``payments.cancel_booking``
(with the ``ClientProof`` found here), which enforce the cut-offs themselves; ``payments.cancel_preview`` says
beforehand what a cancellation would refund.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import select

from atlas_app.services.platform.i18n import N_, _
from atlas_app.db import read_session, utcnow
from atlas_app.domain.statuses import BookingStatus, SessionStatus
from atlas_app.models import Booking, BookingTerms, Client, CourseSession, CourseType, Offer, Organisation
from atlas_app.timeutil import london_text
from atlas_app.services.platform import bounds, throttles as lookup_throttle
from atlas_app.services.platform import welsh
from atlas_app.services.booking.bookings import BookingView, ClientProof, booking_view, get_terms
from atlas_app.services.booking import lineage
from atlas_app.services.booking.catalogue import SessionRow
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.booking.offers import bookable_sessions

# Statuses a client may still change online (a held seat belongs to the booking wizard, not to this page).
CHANGEABLE_STATUSES = BookingStatus.CHANGEABLE

NOT_FOUND_MESSAGE = N_("We could not find a booking with those details. Check the booking reference in your "
                       "confirmation email, and your date of birth and postcode.")


@dataclass(frozen=True)
class ClientTerms:
    """The parts of an organisation's booking terms a client needs to read before changing a booking."""

    transfer_cutoff_hours: int
    cancel_cutoff_hours: int
    max_transfers: int
    transfer_fee_pence: int
    cancel_fee_pence: int
    # The organisation's own booking terms in the current language (its Welsh where written; '' for none).
    conditions: str = ""


@dataclass(frozen=True)
class JoiningDetails:
    link: str
    meeting_id: str
    passcode: str


def _joining(booking: Booking, session: CourseSession, hours: int, now: datetime) -> tuple[JoiningDetails | None, str]:
    if session.delivery_mode != "online" or booking.status not in BookingStatus.BOOKED \
            or session.status != SessionStatus.SCHEDULED or session.ends_at <= now:
        return None, ""
    opens = session.starts_at - timedelta(hours=hours)
    if now < opens:
        return None, f"The joining details will be shown here from {london_text(opens)}."
    if not (session.online_link or session.meeting_id):
        return None, "The joining details will be shown here when the organiser adds them."
    return JoiningDetails(session.online_link, session.meeting_id, session.meeting_passcode), ""


@dataclass(frozen=True)
class ClientBooking:
    """A booking the client has proved is theirs, with what they may still do with it online."""

    organisation_id: int
    organisation_name: str
    offer_id: int
    critical_date: date
    booking: BookingView
    terms: ClientTerms
    transfers_used: int
    can_transfer: bool
    can_cancel: bool
    # Why the booking cannot be changed online, when it cannot ("" when it can).
    change_note: str
    # An online course's joining details: shown only to a client booked on the session, and only from the
    # organisation's time before it starts until it ends (None otherwise; ``joining_note`` says when they will be).
    joining: JoiningDetails | None = None
    joining_note: str = ""
    what_to_bring: str = ""

    @property
    def proof(self) -> ClientProof:
        """What the services that change the booking on the client's behalf take as proof of whose it is."""
        return ClientProof(self.organisation_id, self.offer_id)


def _client_terms(terms: BookingTerms) -> ClientTerms:
    return ClientTerms(terms.transfer_cutoff_hours, terms.cancel_cutoff_hours, terms.max_transfers,
                       terms.transfer_fee_pence, terms.cancel_fee_pence,
                       welsh.pick(terms.conditions or "", terms.conditions_cy or ""))


def client_terms(organisation_id: int) -> ClientTerms:
    """The organisation's terms for changing a booking online, to tell a client before they book."""
    with read_session() as s:
        return _client_terms(get_terms(s, organisation_id))


def _compact(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def _client_booking(s, booking: Booking, offer: Offer) -> ClientBooking:
    now = utcnow()
    terms = get_terms(s, offer.organisation_id)
    org = s.get(Organisation, offer.organisation_id)
    view = booking_view(s, booking)
    used = lineage.transfers_before(s, booking)
    hours_left = (view.starts_at - now) / timedelta(hours=1)
    current = booking.status in CHANGEABLE_STATUSES and view.starts_at > now
    can_transfer = current and hours_left >= terms.transfer_cutoff_hours and used < terms.max_transfers
    can_cancel = current and hours_left >= terms.cancel_cutoff_hours
    # For the client, in their language (the current one: see services/platform/i18n.py).
    if not current:
        note = _("This booking is no longer current, so it cannot be changed.")
    elif not can_transfer and not can_cancel:
        if terms.transfer_cutoff_hours == terms.cancel_cutoff_hours:
            note = _("Bookings can only be changed online up to {hours} hours before the course. Please telephone "
                     "us.").format(hours=terms.transfer_cutoff_hours)
        else:
            note = _("Bookings can only be moved online up to {move} hours, and cancelled online up to {cancel} "
                     "hours, before the course. Please telephone us.").format(
                move=terms.transfer_cutoff_hours, cancel=terms.cancel_cutoff_hours)
    elif not can_transfer and used >= terms.max_transfers:
        note = _("This booking has been moved {used} times, the most allowed online. To move it again, please "
                 "telephone us.").format(used=used)
    elif not can_transfer:
        note = _("Bookings can only be moved online up to {hours} hours before the course. Please telephone "
                 "us.").format(hours=terms.transfer_cutoff_hours)
    elif not can_cancel:
        note = _("Bookings can only be cancelled online up to {hours} hours before the course. Please telephone "
                 "us.").format(hours=terms.cancel_cutoff_hours)
    else:
        note = ""
    session = s.get(CourseSession, booking.session_id)
    joining, joining_note = _joining(booking, session, terms.joining_details_hours, now)
    what_to_bring = s.exec(select(CourseType.what_to_bring).where(CourseType.id == session.course_type_id)).first()
    return ClientBooking(
        joining=joining, joining_note=joining_note, what_to_bring=what_to_bring or "",
        organisation_id=offer.organisation_id,
        organisation_name=org.name if org else "",
        offer_id=offer.id,
        critical_date=offer.critical_date,
        booking=view,
        terms=_client_terms(terms),
        transfers_used=used,
        can_transfer=can_transfer,
        can_cancel=can_cancel,
        change_note=note,
    )


def find_booking(reference: str, date_of_birth: date | None, postcode: str, client_ip: str = "") -> ClientBooking:
    """The public "manage my booking" check: the booking reference, and the date of birth and postcode of the
    client it belongs to, must all match. Any mismatch gets the same message, so the form reveals nothing about
    bookings that are not yours, and repeated mismatches are refused for a while (``lookup_throttle``). An old
    reference of a booking that was moved leads to the booking it became."""
    return lookup_throttle.guarded("booking", reference, client_ip,
                                   lambda: _find_booking(reference, date_of_birth, postcode))


def _find_booking(reference: str, date_of_birth: date | None, postcode: str) -> ClientBooking:
    ref = _compact(reference)
    if not ref or date_of_birth is None or not _compact(postcode):
        raise ValidationFailed(_("Enter your booking reference, date of birth and postcode."),
                               {"booking": "incomplete"})
    if len(ref) > 20:
        raise ValidationFailed(_(NOT_FOUND_MESSAGE), {"booking": "not found"})
    with read_session() as s:
        row = s.exec(
            select(Booking, Offer, Client)
            .join(Offer, Offer.id == Booking.offer_id)
            .join(Client, Client.id == Offer.client_id)
            .where(Booking.reference == ref, Client.date_of_birth == date_of_birth)
        ).first()
        if row is None or _compact(row[2].postcode) != _compact(postcode):
            raise ValidationFailed(_(NOT_FOUND_MESSAGE), {"booking": "not found"})
        booking, offer, _client = row
        return _client_booking(s, lineage.current(s, booking), offer)


def client_booking(organisation_id: int, offer_id: int, reference: str) -> ClientBooking:
    """The booking again (for example after a change), for a client who has already proved whose it is."""
    with read_session() as s:
        offer = s.exec(select(Offer).where(Offer.id == bounds.query_id(offer_id),
                                           Offer.organisation_id == organisation_id)
                       ).first()
        if offer is None:
            raise NotFound("No such booking.")
        booking = s.exec(select(Booking).where(Booking.reference == _compact(reference),
                                               Booking.offer_id == offer.id,
                                               Booking.organisation_id == organisation_id)).first()
        if booking is None:
            raise NotFound("No such booking.")
        return _client_booking(s, lineage.current(s, booking), offer)


def transfer_options(organisation_id: int, offer_id: int, reference: str) -> list[SessionRow]:
    """Sessions this client's booking could move to: bookable for the offer (its course, before the critical
    date, with free seats), in any delivery mode, except the session already booked."""
    now = utcnow()
    with read_session() as s:
        offer = s.exec(select(Offer).where(Offer.id == bounds.query_id(offer_id),
                                           Offer.organisation_id == organisation_id)
                       ).first()
        if offer is None:
            raise NotFound("No such booking.")
        booking = s.exec(select(Booking).where(Booking.reference == _compact(reference),
                                               Booking.offer_id == offer.id)).first()
        if booking is None:
            raise NotFound("No such booking.")
        booking = lineage.current(s, booking)
        return [row for row in bookable_sessions(s, offer, now) if row.id != booking.session_id]


__all__ = ["CHANGEABLE_STATUSES", "ClientBooking", "ClientTerms", "client_booking", "client_terms", "find_booking",
           "transfer_options"]
