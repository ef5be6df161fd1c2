"""Instructors and their assignments to course sessions.

Invariant the database keeps: an instructor never holds two overlapping active assignments. Each assignment
stores the time it blocks (the session plus the organisation's travel buffer after it). On PostgreSQL an exclusion
constraint (``ex_assignment_instructor_overlap``, btree_gist) rejects an overlapping row whatever the concurrency;
on SQLite the service checks for an overlap inside the same ``BEGIN IMMEDIATE`` write transaction that inserts
the row, and SQLite runs one writer at a time.

The same holds for training cars: an active assignment with a ``vehicle_id`` blocks that car for the same time
(``ex_assignment_vehicle_overlap`` on PostgreSQL, the same checked transaction on SQLite). And an instructor never
holds more active assignments on one day (``session_day``, the session's Europe/London date) than their
``max_sessions_per_day``: a trigger (``tr_assignment_daily_limit``) counts them, on PostgreSQL after locking the
instructor's row, on SQLite inside its single writer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow

INSTRUCTOR_ROLES = ("classroom", "practical")
VEHICLE_TYPES = ("manual", "automatic", "client_own")
# The vehicle types that need one of the organisation's own training cars.
SCHOOL_CAR_TYPES = ("manual", "automatic")


class InstructorSettings(SQLModel, table=True):
    """An organisation's instructor rules (one row per organisation)."""

    __tablename__ = "instructor_settings"
    __table_args__ = (CheckConstraint("travel_buffer_minutes >= 0", name="ck_instructor_settings_buffer"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", unique=True)
    # Time an instructor needs after a session before the next one can start.
    travel_buffer_minutes: int = Field(default=0)


class Instructor(SQLModel, table=True):
    __tablename__ = "instructor"
    __table_args__ = (
        UniqueConstraint("organisation_id", "email", name="uq_instructor_org_email"),
        CheckConstraint("max_sessions_per_day > 0", name="ck_instructor_max_per_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # The sign-in account that sees this instructor's schedule, if any.
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    full_name: str = Field(max_length=150)
    email: str = Field(max_length=254)
    phone: str = Field(default="", max_length=30)
    course_type_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    roles: list[str] = Field(default_factory=list, sa_type=JSON)  # of INSTRUCTOR_ROLES
    vehicle_types: list[str] = Field(default_factory=list, sa_type=JSON)  # of VEHICLE_TYPES
    home_region_id: int | None = Field(default=None, foreign_key="region.id")
    # Weekdays worked, 0 = Monday (Europe/London).
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], sa_type=JSON)
    max_sessions_per_day: int = Field(default=2)
    is_active: bool = Field(default=True)
    last_assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InstructorLeave(SQLModel, table=True):
    """Leave or other unavailability."""

    __tablename__ = "instructor_leave"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ck_instructor_leave_times"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    instructor_id: int = Field(foreign_key="instructor.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=200)


class TrainingVehicle(SQLModel, table=True):
    """One of an organisation's training cars, bookable for practical sessions."""

    __tablename__ = "training_vehicle"
    __table_args__ = (
        UniqueConstraint("organisation_id", "registration", name="uq_training_vehicle_org_registration"),
        CheckConstraint("vehicle_type IN ('manual', 'automatic')", name="ck_training_vehicle_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # Normalised: upper case, single spaces (e.g. "AB12 CDE").
    registration: str = Field(max_length=12)
    vehicle_type: str = Field(max_length=20)  # of SCHOOL_CAR_TYPES
    home_region_id: int | None = Field(default=None, foreign_key="region.id")
    home_venue_id: int | None = Field(default=None, foreign_key="venue.id")
    is_active: bool = Field(default=True)
    notes: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SessionAssignment(SQLModel, table=True):
    """An instructor teaching a session in a role. ``block_start``/``block_end`` is the time it takes up."""

    __tablename__ = "session_assignment"
    __table_args__ = (
        CheckConstraint("block_end > block_start", name="ck_assignment_block"),
        CheckConstraint("status IN ('active', 'cancelled')", name="ck_assignment_status"),
        Index("ix_assignment_instructor_block", "instructor_id", "block_start"),
        Index("ix_assignment_org_block", "organisation_id", "block_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    session_id: int = Field(foreign_key="course_session.id", index=True)
    instructor_id: int = Field(foreign_key="instructor.id")
    role: str = Field(max_length=20)
    vehicle_type: str = Field(default="", max_length=20)
    # The school car used, for practical work in a manual or automatic car.
    vehicle_id: int | None = Field(default=None, foreign_key="training_vehicle.id", index=True)
    # The session's date in Europe/London, counted against the instructor's daily limit.
    session_day: date
    block_start: datetime = Field(sa_type=UTCDateTime)
    block_end: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="active", max_length=20)
    # iCalendar SEQUENCE of the last confirmation sent; raised by every change sent afterwards.
    sequence: int = Field(default=0)
    confirmation_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmations_sent: int = Field(default=0)
    assigned_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    extra: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
