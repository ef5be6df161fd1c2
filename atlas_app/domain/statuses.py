"""Every stored status, once. Each is a ``StrEnum`` (members are ``str``, so they go into SQL, JSON and templates
unchanged) with the named groups the rules use, and the words pages show.

The database keeps each status column to its enum's values (CHECK constraints built by :func:`check_sql`, migration
0016), so a value outside the enum can be neither written by code nor typed into SQL.
"""

from __future__ import annotations

from enum import StrEnum, nonmember


class BookingStatus(StrEnum):
    """A client in a session: held -> awaiting payment -> confirmed -> attended / did not attend / turned away; or
    cancelled, transferred (moved to another session), expired (the hold ran out)."""

    HELD = "held"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    ATTENDED = "attended"
    DID_NOT_ATTEND = "did_not_attend"
    TURNED_AWAY = "turned_away"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"
    EXPIRED = "expired"

    # The offer's one live booking (a partial unique index): it still takes a seat and can change.
    ACTIVE = nonmember((HELD, AWAITING_PAYMENT, CONFIRMED))
    # Made and not yet marked on the register: the fee is due or paid.
    BOOKED = nonmember((AWAITING_PAYMENT, CONFIRMED))
    # What may be transferred, or cancelled by the client (a hold is let go, not cancelled online).
    CHANGEABLE = nonmember(BOOKED)
    # What the register records.
    OUTCOMES = nonmember((ATTENDED, DID_NOT_ATTEND, TURNED_AWAY))
    # Shown on the register (a booking made, marked or not).
    ON_REGISTER = nonmember((AWAITING_PAYMENT, CONFIRMED, ATTENDED, DID_NOT_ATTEND, TURNED_AWAY))
    # Counts in the session's seats, and may be paid for.
    HOLDS_SEAT = nonmember((HELD, AWAITING_PAYMENT, CONFIRMED, ATTENDED, DID_NOT_ATTEND, TURNED_AWAY))
    # Gave its seat back; nothing more happens to it.
    FINAL = nonmember((CANCELLED, TRANSFERRED, EXPIRED))
    # Never became a booking: a hold, or a hold that ran out.
    NOT_MADE = nonmember((HELD, EXPIRED))
    # Live and not yet confirmed: paying the fee in full confirms it.
    UNCONFIRMED = nonmember((HELD, AWAITING_PAYMENT))
    # Lost its seat without moving to another session: money paid for it afterwards is for staff to deal with.
    SEAT_LOST = nonmember((EXPIRED, CANCELLED))


class OfferStatus(StrEnum):
    """A police offer of a course."""

    REFERRED = "referred"
    BOOKED = "booked"
    COMPLETED = "completed"
    DID_NOT_ATTEND = "did_not_attend"
    EXPIRED = "expired"
    RETURNED = "returned"

    # The course was sat or missed: the offer is finished.
    FINISHED = nonmember((COMPLETED, DID_NOT_ATTEND))
    # Past its critical date or handed back to the police: it cannot be booked.
    CLOSED = nonmember((EXPIRED, RETURNED))
    FINAL = nonmember((COMPLETED, DID_NOT_ATTEND, EXPIRED, RETURNED))


class SessionStatus(StrEnum):
    """A dated sitting of a course."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class PaymentStatus(StrEnum):
    """A stored payment row (money in, or a failed try at it)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundStatus(StrEnum):
    """A refund: pending while the card provider is asked (or until it answers), then succeeded or failed."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    # Made or under way: counts against what the payment can still give back.
    COUNTS = nonmember((PENDING, SUCCEEDED))


class PayState(StrEnum):
    """Where a booking's money stands, worked out from its payments, refunds and plan (not stored)."""

    PAID = "paid"
    AWAITING_PAYMENT = "awaiting_payment"
    PART_PAID = "part_paid"
    OVERDUE = "overdue"
    REFUNDED = "refunded"
    WAIVED = "waived"

    # Nothing more is owed.
    SETTLED = nonmember((PAID, WAIVED))
    # Some or all of the fee is still owed.
    UNPAID = nonmember((AWAITING_PAYMENT, PART_PAID, OVERDUE))


class CheckoutStatus(StrEnum):
    """A client's attempt to pay by card."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"
    FAILED = "failed"


class PlanStatus(StrEnum):
    """A payment plan agreed for special circumstances."""

    ACTIVE = "active"
    COMPLETE = "complete"
    CANCELLED = "cancelled"


class RequestStatus(StrEnum):
    """A special-circumstances request for the organisation to decide."""

    OPEN = "open"
    APPROVED = "approved"
    DECLINED = "declined"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DemandClass(StrEnum):
    """Value demand (what the service is for) or failure demand (caused by not doing something right)."""

    VALUE = "value"
    FAILURE = "failure"


class ReportStatus(StrEnum):
    """A resident's report of a problem at a place (Environmental Services Ticketing)."""

    RECEIVED = "received"
    WITH_TEAM = "with_team"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    CLOSED = "closed"

    # Still to do: counts in the queue and against the category's promise.
    OPEN = nonmember((RECEIVED, WITH_TEAM, IN_PROGRESS))
    # Finished (a fixed report can still be closed with a reason).
    DONE = nonmember((FIXED, CLOSED))


ENUMS: tuple[type[StrEnum], ...] = (BookingStatus, OfferStatus, SessionStatus, PaymentStatus, RefundStatus, PayState,
                                    CheckoutStatus, PlanStatus, RequestStatus, CaseStatus, DemandClass, ReportStatus)

# The named groups hold the members themselves (written as their values inside the class bodies).
for _enum in ENUMS:
    for _name, _group in list(vars(_enum).items()):
        if _name.isupper() and isinstance(_group, tuple):
            setattr(_enum, _name, tuple(_enum(v) for v in _group))


# What the register's outcome makes of the offer: attended completes it; a no-show or a client turned away goes back
# to the police.
OFFER_AFTER_OUTCOME = {
    BookingStatus.ATTENDED: OfferStatus.COMPLETED,
    BookingStatus.DID_NOT_ATTEND: OfferStatus.DID_NOT_ATTEND,
    BookingStatus.TURNED_AWAY: OfferStatus.DID_NOT_ATTEND,
}

# Words for staff pages: where the booking stands. Whether it is paid is the paid flag's to say (PAY_STATE_LABELS).
BOOKING_LABELS = {
    BookingStatus.HELD: "Seat held",
    BookingStatus.AWAITING_PAYMENT: "Booked",
    BookingStatus.CONFIRMED: "Confirmed",
    BookingStatus.ATTENDED: "Attended",
    BookingStatus.DID_NOT_ATTEND: "Did not attend",
    BookingStatus.TURNED_AWAY: "Turned away",
    BookingStatus.CANCELLED: "Cancelled",
    BookingStatus.TRANSFERRED: "Transferred",
    BookingStatus.EXPIRED: "Expired",
}
# Words for the client on the public pages.
BOOKING_CLIENT_LABELS = {
    BookingStatus.AWAITING_PAYMENT: "Booked",
    BookingStatus.CONFIRMED: "Booked and confirmed",
    BookingStatus.HELD: "Not booked yet (a place is being held)",
    BookingStatus.CANCELLED: "Cancelled",
    BookingStatus.TRANSFERRED: "Moved to another date",
    BookingStatus.EXPIRED: "Not booked (the hold ran out)",
    BookingStatus.ATTENDED: "Attended",
    BookingStatus.DID_NOT_ATTEND: "Did not attend",
    BookingStatus.TURNED_AWAY: "Turned away",
}
OUTCOME_LABELS = {outcome: BOOKING_LABELS[outcome] for outcome in BookingStatus.OUTCOMES}
OFFER_LABELS = {
    OfferStatus.REFERRED: "Referred: to book",
    OfferStatus.BOOKED: "Booked",
    OfferStatus.COMPLETED: "Completed",
    OfferStatus.DID_NOT_ATTEND: "Did not attend",
    OfferStatus.EXPIRED: "Expired",
    OfferStatus.RETURNED: "Returned to police",
}
PAY_STATE_LABELS = {
    PayState.PAID: "Paid",
    PayState.AWAITING_PAYMENT: "Awaiting payment",
    PayState.PART_PAID: "Part-paid",
    PayState.OVERDUE: "Overdue",
    PayState.REFUNDED: "Refunded",
    PayState.WAIVED: "Waived",
}
SESSION_LABELS = {
    SessionStatus.SCHEDULED: "Open",
    SessionStatus.CANCELLED: "Cancelled",
    SessionStatus.COMPLETED: "Completed",
}
REPORT_LABELS = {
    ReportStatus.RECEIVED: "Received",
    ReportStatus.WITH_TEAM: "With the team",
    ReportStatus.IN_PROGRESS: "In progress",
    ReportStatus.FIXED: "Fixed",
    ReportStatus.CLOSED: "Closed",
}
REQUEST_LABELS = {
    RequestStatus.OPEN: "Open: to decide",
    RequestStatus.APPROVED: "Approved",
    RequestStatus.DECLINED: "Declined",
}


# The status columns the database keeps to an enum: (table, column) -> enum.
STATUS_COLUMNS: dict[tuple[str, str], type[StrEnum]] = {
    ("booking", "status"): BookingStatus,
    ("offer", "status"): OfferStatus,
    ("course_session", "status"): SessionStatus,
    ("payment", "status"): PaymentStatus,
    ("refund", "status"): RefundStatus,
    ("checkout_attempt", "status"): CheckoutStatus,
    ("payment_plan", "status"): PlanStatus,
    ("special_request", "status"): RequestStatus,
    ("case_file", "status"): CaseStatus,
    ("case_demand", "demand_class"): DemandClass,
    ("env_report", "status"): ReportStatus,
}


def sql_list(values) -> str:
    """An SQL list of string literals in the given order: ``('held', 'expired')``. Only for enum values (they
    hold no quotes)."""
    items = [str(v) for v in values]
    if any("'" in v for v in items):
        raise ValueError("a status never holds a quote")
    return "(" + ", ".join(f"'{v}'" for v in items) + ")"


def check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}"


def check_sql(column: str, enum: type[StrEnum]) -> str:
    """The CHECK condition keeping ``column`` to the enum's values."""
    return f"{column} IN {sql_list(enum)}"
