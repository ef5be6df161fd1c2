"""Pieces of the course booking pages: the words and colours of booking, offer, request and session statuses.
General widgets are in ``kit``."""

from __future__ import annotations

# code -> (words shown, colour). The words always carry the meaning; colour only repeats it.
BOOKING_STATUS = {
    "held": ("Seat held", "gray"),
    "awaiting_payment": ("Awaiting payment (unpaid)", "orange"),
    "confirmed": ("Confirmed (paid)", "green"),
    "attended": ("Attended", "green"),
    "did_not_attend": ("Did not attend", "red"),
    "turned_away": ("Turned away", "red"),
    "cancelled": ("Cancelled", "gray"),
    "transferred": ("Transferred", "gray"),
    "expired": ("Expired", "gray"),
}
OFFER_STATUS = {
    "referred": ("Referred: to book", "blue"),
    "booked": ("Booked", "green"),
    "completed": ("Completed", "green"),
    "did_not_attend": ("Did not attend", "red"),
    "expired": ("Expired", "gray"),
    "returned": ("Returned to police", "orange"),
}
REQUEST_STATUS = {
    "open": ("Open: to decide", "orange"),
    "approved": ("Approved", "green"),
    "declined": ("Declined", "red"),
}
SESSION_STATUS = {
    "full": ("FULL", "red"),
    "scheduled": ("Open", "green"),
    "cancelled": ("Cancelled", "gray"),
    "completed": ("Completed", "blue"),
}
