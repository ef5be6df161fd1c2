"""The waiting list: clients waiting for a freed seat on a course type before their critical date.

Invariants the database keeps:
* an offer is on the list at most once at a time (a partial unique index over the active statuses);
* a held seat (a booking in ``held``) is offered to one entry only (a partial unique index on ``booking_id``);
* the seat itself is the booking's, so it is counted and guarded by the booking rules (``seats_taken``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow
from atlas_app.domain.statuses import WaitingStatus, check_name, check_sql, sql_list

_ACTIVE_SQL = f"status IN {sql_list(WaitingStatus.ACTIVE)}"
_WAITING_SQL = f"status = '{WaitingStatus.WAITING}'"
_HAS_BOOKING_SQL = "booking_id IS NOT NULL"


class WaitingEntry(SQLModel, table=True):
    """One offer's place on its course type's waiting list, with the client's choices and, while a seat is held
    for them, that seat's booking."""

    __tablename__ = "waiting_entry"
    __table_args__ = (
        Index("uq_waiting_entry_one_active_per_offer", "offer_id", unique=True,
              sqlite_where=text(_ACTIVE_SQL), postgresql_where=text(_ACTIVE_SQL)),
        Index("uq_waiting_entry_booking", "booking_id", unique=True,
              sqlite_where=text(_HAS_BOOKING_SQL), postgresql_where=text(_HAS_BOOKING_SQL)),
        # The first waiting client for a course type: an index range in the order they joined.
        Index("ix_waiting_entry_queue", "organisation_id", "course_type_id", "joined_at", "id",
              sqlite_where=text(_WAITING_SQL), postgresql_where=text(_WAITING_SQL)),
        Index("ix_waiting_entry_status", "organisation_id", "status"),
        CheckConstraint("date_from <= date_to", name="ck_waiting_entry_dates"),
        CheckConstraint(check_sql("status", WaitingStatus), name=check_name("waiting_entry", "status")),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    offer_id: int = Field(foreign_key="offer.id", index=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    course_type_id: int = Field(foreign_key="course_type.id")
    # The venues the client would go to; empty for any venue (online sessions included).
    venue_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    date_from: date
    date_to: date  # never after the offer's critical date
    channel: str = Field(default="email", max_length=10)  # how they are told of a seat: email or sms
    status: str = Field(default=WaitingStatus.WAITING, max_length=20)
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    joined_by: str = Field(default="", max_length=150)  # the staff user or API token, blank for the client
    # While offered: the held seat's booking and when the hold runs out.
    booking_id: int | None = Field(default=None, foreign_key="booking.id")
    offered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hold_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The SHA-256 of the single-use link in the latest email about the held seat.
    token_hash: str = Field(default="", max_length=64, index=True)
    offers_made: int = Field(default=0)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_reason: str = Field(default="", max_length=300)
