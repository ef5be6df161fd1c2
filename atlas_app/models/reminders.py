"""Reminders: each organisation's schedule (points before a course starts, per course type and channel) and the
record that a booking's reminder for a point was queued, unique so that it is queued once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class ReminderSchedule(SQLModel, table=True):
    """One point of a course type's reminder schedule: a message on ``channel`` ``hours_before`` the start. A course
    type without rows has the shipped schedule (``services/booking/reminders.DEFAULT_SCHEDULE``)."""

    __tablename__ = "reminder_schedule"
    __table_args__ = (UniqueConstraint("course_type_id", "channel", "hours_before", name="uq_reminder_schedule_point"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    course_type_id: int = Field(foreign_key="course_type.id")
    channel: str = Field(max_length=10)  # email, sms
    hours_before: int


class ReminderDispatch(SQLModel, table=True):
    """A booking's reminder for one schedule point on one session was queued (``point``: "email:168")."""

    __tablename__ = "reminder_dispatch"
    __table_args__ = (UniqueConstraint("booking_id", "session_id", "point", name="uq_reminder_dispatch_point"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    booking_id: int = Field(sa_column=Column(Integer, ForeignKey("booking.id", ondelete="CASCADE"), nullable=False))
    session_id: int
    point: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
