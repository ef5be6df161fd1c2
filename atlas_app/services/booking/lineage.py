"""A booking's transfer lineage: a transfer marks the old booking transferred and writes a new one that points back
at it (``Booking.transferred_from_id``, indexed). These two walks are the one place that follows the chain."""

from __future__ import annotations

from sqlmodel import Session, select

from atlas_app.models import Booking

# A chain is short (the terms allow a few transfers online; staff rarely more). The bound only stops a corrupted,
# cyclic chain from looping.
MAX_HOPS = 100


def current(s: Session, booking: Booking) -> Booking:
    """The booking this one became through transfers (itself if it was never transferred)."""
    for _hop in range(MAX_HOPS):
        newer = s.exec(select(Booking).where(Booking.transferred_from_id == booking.id)
                       .order_by(Booking.id)).first()
        if newer is None:
            return booking
        booking = newer
    return booking


def transfers_before(s: Session, booking: Booking) -> int:
    """How many transfers led to this booking (0 for a booking made directly)."""
    count, cursor = 0, booking
    while cursor is not None and cursor.transferred_from_id is not None and count < MAX_HOPS:
        count += 1
        cursor = s.get(Booking, cursor.transferred_from_id)
    return count
