"""Course booking: the catalogue (regions, venues, course types, sessions, terms), clients and their police
offers, bookings, the client timeline, contact-centre calls, special-circumstance requests and API tokens.

Invariants the database keeps:
* a session never holds more seats than its capacity (``seats_taken`` is changed only by guarded UPDATEs and a
  CHECK constraint backs them up);
* an offer has at most one active booking (a partial unique index over the active statuses).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow
from atlas_app.domain.statuses import (
    BookingStatus,
    OfferStatus,
    RequestStatus,
    SessionStatus,
    check_name,
    check_sql,
    sql_list,
)

# Bookings in these states count as the offer's one live booking.
ACTIVE_BOOKING_STATUSES = BookingStatus.ACTIVE
_ACTIVE_SQL = f"status IN {sql_list(BookingStatus.ACTIVE)}"


def _status_check(table: str, enum, column: str = "status") -> CheckConstraint:
    return CheckConstraint(check_sql(column, enum), name=check_name(table, column))


class Region(SQLModel, table=True):
    __tablename__ = "region"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_region_org_name"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    sort_order: int = Field(default=0)
    is_active: bool = Field(default=True)


class Venue(SQLModel, table=True):
    __tablename__ = "venue"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_venue_org_name"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    region_id: int | None = Field(default=None, foreign_key="region.id", index=True)
    name: str = Field(max_length=150)
    is_online: bool = Field(default=False)
    address_line1: str = Field(default="", max_length=150)
    address_line2: str = Field(default="", max_length=150)
    town: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=10)
    accessibility_notes: str = Field(default="", max_length=1000)
    # Welsh wording (empty: not written yet; the English is shown). See services/platform/welsh.py.
    name_cy: str = Field(default="", max_length=150, sa_column_kwargs={"server_default": text("''")})
    accessibility_notes_cy: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": text("''")})
    is_active: bool = Field(default=True)


class CourseType(SQLModel, table=True):
    __tablename__ = "course_type"
    __table_args__ = (
        UniqueConstraint("organisation_id", "code", name="uq_course_type_org_code"),
        CheckConstraint("fee_pence >= 0", name="ck_course_type_fee"),
        CheckConstraint("default_capacity > 0", name="ck_course_type_capacity"),
        CheckConstraint("duration_minutes > 0", name="ck_course_type_duration"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    code: str = Field(max_length=20)
    name: str = Field(max_length=150)
    is_ndors: bool = Field(default=True)
    description: str = Field(default="", max_length=1000)
    duration_minutes: int = Field(default=165)
    fee_pence: int = Field(default=0)
    # Any of "classroom", "online", "practical".
    delivery_modes: list[str] = Field(default_factory=list, sa_type=JSON)
    default_capacity: int = Field(default=24)
    # What clients must bring (photo identification, driving licence, glasses): confirmation, reminders, register.
    what_to_bring: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": text("''")})
    # Welsh wording (empty: not written yet; the English is shown). See services/platform/welsh.py.
    name_cy: str = Field(default="", max_length=150, sa_column_kwargs={"server_default": text("''")})
    description_cy: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": text("''")})
    what_to_bring_cy: str = Field(default="", max_length=1000, sa_column_kwargs={"server_default": text("''")})
    # e.g. [{"role": "classroom", "clients_per_instructor": 12, "minimum": 1}]
    instructor_roles: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    is_active: bool = Field(default=True)


class BookingTerms(SQLModel, table=True):
    """An organisation's booking terms."""

    __tablename__ = "booking_terms"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", unique=True)
    hold_minutes: int = Field(default=15)
    # A client may extend a seat hold by hold_minutes this many times (WCAG 2.2.1 Timing Adjustable: at least 10).
    max_hold_extensions: int = Field(default=10, sa_column_kwargs={"server_default": "10"})
    # A new booking must be paid within this many hours (and before the session) or it is released or chased.
    payment_due_hours: int = Field(default=72)
    unpaid_action: str = Field(default="release", max_length=20)  # "release" or "chase"
    # Clients may transfer or cancel online until this many hours before the session; staff may go later.
    transfer_cutoff_hours: int = Field(default=72)
    transfer_fee_pence: int = Field(default=0)
    max_transfers: int = Field(default=2)
    cancel_cutoff_hours: int = Field(default=72)
    cancel_fee_pence: int = Field(default=0)
    bookable_days_ahead: int = Field(default=120)
    # A seat freed for the first client on the waiting list is held for them this long.
    waiting_hold_minutes: int = Field(default=1440, sa_column_kwargs={"server_default": "1440"})
    # How long before an online course its joining details appear on Manage your booking.
    joining_details_hours: int = Field(default=24, sa_column_kwargs={"server_default": "24"})
    # The organisation's own booking terms as text, in English and Welsh ('' for none), shown on the public pages
    # and in the confirmation email in the client's language.
    conditions: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": text("''")})
    conditions_cy: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": text("''")})
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CourseSession(SQLModel, table=True):
    """One dated sitting of a course type at a venue (or online)."""

    __tablename__ = "course_session"
    __table_args__ = (
        CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="ck_session_seats"),
        CheckConstraint("capacity > 0", name="ck_session_capacity"),
        CheckConstraint("ends_at > starts_at", name="ck_session_times"),
        _status_check("course_session", SessionStatus),
        Index("ix_course_session_org_start", "organisation_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    course_type_id: int = Field(foreign_key="course_type.id", index=True)
    venue_id: int | None = Field(default=None, foreign_key="venue.id", index=True)
    delivery_mode: str = Field(max_length=20)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    capacity: int = Field(default=24)
    seats_taken: int = Field(default=0)
    online_link: str = Field(default="", max_length=500)
    # Joining details of an online session (with online_link), shown to its booked clients before it starts.
    meeting_id: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": text("''")})
    meeting_passcode: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": text("''")})
    status: str = Field(default=SessionStatus.SCHEDULED, max_length=20)
    notes: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Client(SQLModel, table=True):
    """The person offered a course."""

    __tablename__ = "client"
    __table_args__ = (Index("ix_client_org_name", "organisation_id", "last_name", "first_name"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    # The Soundex codes of every name word between spaces (" R550 J525 "), kept by services/booking/client_keys.py.
    name_sounds: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": text("''")})
    date_of_birth: date
    licence_number: str = Field(default="", max_length=20, index=True)
    address_line1: str = Field(default="", max_length=150)
    address_line2: str = Field(default="", max_length=150)
    town: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=10, index=True)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=30)
    # The channels the client agreed to be contacted by (reminders go by no other).
    email_consent: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    sms_consent: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # The language of what is sent to them: "en" or "cy" (asked when they book; staff may change it).
    language: str = Field(default="en", max_length=8, sa_column_kwargs={"server_default": "en"})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Retention: a legal hold keeps the client from being anonymised; ``anonymised_at`` says when they were.
    legal_hold: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Offer(SQLModel, table=True):
    """A police offer of a course (the referral), with its critical date."""

    __tablename__ = "offer"
    __table_args__ = (UniqueConstraint("organisation_id", "offer_reference", name="uq_offer_org_reference"),
                      _status_check("offer", OfferStatus))

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    offer_reference: str = Field(max_length=40)
    client_id: int = Field(foreign_key="client.id", index=True)
    course_type_id: int = Field(foreign_key="course_type.id", index=True)
    offence_date: date
    critical_date: date = Field(index=True)
    police_force: str = Field(default="", max_length=100)
    status: str = Field(default=OfferStatus.REFERRED, max_length=20, index=True)  # OfferStatus
    source: str = Field(default="import", max_length=20)  # import, api, staff
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


_AWAITING_SQL = f"status = '{BookingStatus.AWAITING_PAYMENT}'"


class Booking(SQLModel, table=True):
    __tablename__ = "booking"
    __table_args__ = (
        Index(
            "uq_booking_one_active_per_offer",
            "offer_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_booking_session_status", "session_id", "status"),
        _status_check("booking", BookingStatus),
        # Covering on PostgreSQL: the dashboards count bookings by period, channel and status from the index alone.
        Index("ix_booking_org_created", "organisation_id", "created_at",
              postgresql_include=["status", "channel", "transferred_from_id", "fee_pence"]),
        # The dashboards' overdue payments: the bookings still awaiting payment, by organisation and day made.
        Index("ix_booking_org_awaiting", "organisation_id", "created_at",
              sqlite_where=text(_AWAITING_SQL), postgresql_where=text(_AWAITING_SQL)),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    reference: str = Field(max_length=20, unique=True)
    offer_id: int = Field(foreign_key="offer.id", index=True)
    session_id: int = Field(foreign_key="course_session.id")
    status: str = Field(max_length=20)  # BookingStatus
    channel: str = Field(max_length=20)  # online, telephone, api
    made_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    hold_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # How many times the client extended the seat hold (at most BookingTerms.max_hold_extensions).
    hold_extensions: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    payment_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fee_pence: int = Field(default=0)
    # The trainer checked the client's identity at the session (the register).
    identity_checked: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    needs: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    transferred_from_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("booking.id"), nullable=True, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ClientEvent(SQLModel, table=True):
    """The client's status timeline, from the point of referral."""

    __tablename__ = "client_event"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    offer_id: int | None = Field(default=None, foreign_key="offer.id")
    booking_id: int | None = Field(default=None, foreign_key="booking.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    kind: str = Field(max_length=30)
    detail: str = Field(default="", max_length=500)
    username: str = Field(default="", max_length=80)


class CallLog(SQLModel, table=True):
    __tablename__ = "call_log"
    __table_args__ = (Index("ix_call_log_org_at", "organisation_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    offer_id: int | None = Field(default=None, foreign_key="offer.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    call_type: str = Field(max_length=30)
    outcome: str = Field(max_length=30)
    notes: str = Field(default="", sa_type=Text)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")


class SpecialRequest(SQLModel, table=True):
    """A special-circumstances request (for example a part-payment plan) for the organisation to decide."""

    __tablename__ = "special_request"
    __table_args__ = (_status_check("special_request", RequestStatus),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    offer_id: int | None = Field(default=None, foreign_key="offer.id")
    kind: str = Field(max_length=30)
    details: str = Field(default="", sa_type=Text)
    status: str = Field(default=RequestStatus.OPEN, max_length=20)
    created_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    decided_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    decision_note: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A token for the REST API, per organisation. Only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, exclude=True)
    prefix: str = Field(max_length=12)
    created_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ImportJob(SQLModel, table=True):
    """Progress and result of a file import (referrals, gazetteer), shown in the app while it runs."""

    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    kind: str = Field(max_length=30)
    filename: str = Field(default="", max_length=200)
    status: str = Field(default="running", max_length=20)  # running, done, failed
    rows_total: int = Field(default=0)
    rows_done: int = Field(default=0)
    created: int = Field(default=0)
    updated: int = Field(default=0)
    errors: list[str] = Field(default_factory=list, sa_type=JSON)
    started_by: str = Field(default="", max_length=80)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PublicLookupAttempt(SQLModel, table=True):
    """A failed attempt on a public form that asks for a reference, a date of birth and a postcode ("find your
    offer", "manage my booking"). Only a hash of the reference is kept; rows older than a day are pruned."""

    __tablename__ = "public_lookup_attempt"
    __table_args__ = (
        Index("ix_public_lookup_key_at", "kind", "key_hash", "at"),
        Index("ix_public_lookup_ip_at", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    key_hash: str = Field(max_length=64)
    ip: str = Field(default="", max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
