"""Pieces of the course booking pages: the words and colours of booking, offer, request and session statuses.
General widgets are in ``kit``."""

from __future__ import annotations


from atlas_app.domain.statuses import (
    BOOKING_LABELS,
    OFFER_LABELS,
    REQUEST_LABELS,
    SESSION_LABELS,
    BookingStatus,
    OfferStatus,
    RequestStatus,
    SessionStatus,
)

_BOOKING_COLOURS = {
    BookingStatus.HELD: "gray", BookingStatus.AWAITING_PAYMENT: "orange", BookingStatus.CONFIRMED: "green",
    BookingStatus.ATTENDED: "green", BookingStatus.DID_NOT_ATTEND: "red", BookingStatus.TURNED_AWAY: "red",
    BookingStatus.CANCELLED: "gray", BookingStatus.TRANSFERRED: "gray", BookingStatus.EXPIRED: "gray",
}
_OFFER_COLOURS = {
    OfferStatus.REFERRED: "blue", OfferStatus.BOOKED: "green", OfferStatus.COMPLETED: "green",
    OfferStatus.DID_NOT_ATTEND: "red", OfferStatus.EXPIRED: "gray", OfferStatus.RETURNED: "orange",
}
_REQUEST_COLOURS = {RequestStatus.OPEN: "orange", RequestStatus.APPROVED: "green", RequestStatus.DECLINED: "red"}
_SESSION_COLOURS = {SessionStatus.SCHEDULED: "green", SessionStatus.CANCELLED: "gray", SessionStatus.COMPLETED: "blue"}
# A session with no free seat is shown as full (a state of the page, not a stored status).
SESSION_FULL = "full"


def _table(enum, labels, colours) -> dict[str, tuple[str, str]]:
    return {member.value: (labels[member], colours[member]) for member in enum}


# code -> (words shown, colour). The words always carry the meaning; colour only repeats it.
BOOKING_STATUS = _table(BookingStatus, BOOKING_LABELS, _BOOKING_COLOURS)
OFFER_STATUS = _table(OfferStatus, OFFER_LABELS, _OFFER_COLOURS)
REQUEST_STATUS = _table(RequestStatus, REQUEST_LABELS, _REQUEST_COLOURS)
SESSION_STATUS = {SESSION_FULL: ("FULL", "red"), **_table(SessionStatus, SESSION_LABELS, _SESSION_COLOURS)}
