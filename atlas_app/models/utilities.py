"""Gas and Electric Utilities Servicing: installations in homes, the certificate regime of each kind, checks and
their certificates, defects raising remedial tasks, engineers and their appointments, and each home's servicing
state (next due date, failed access attempts).

Invariant the database keeps: an engineer never holds two overlapping active appointments, nor more on one day
than ``engineer.max_appointments_per_day`` (the shared resource engine, ``services/platform/resources.py``:
``ex_engineer_appointment_overlap`` and ``tr_engineer_daily_limit`` on PostgreSQL; the checked write transaction
and RAISE(ABORT) triggers on SQLite).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow

OWNERSHIP = ("landlord", "tenant")
OUTCOMES = ("pass", "at_risk", "immediately_dangerous", "not_to_current_standard")
OUTCOME_LABELS = {"pass": "Pass", "at_risk": "At risk", "immediately_dangerous": "Immediately dangerous",
                  "not_to_current_standard": "Not to current standard"}
APPOINTMENT_OUTCOMES = ("", "completed", "no_access")
UNCERTIFIED_KEY = date(1900, 1, 1)


class InstallationType(SQLModel, table=True):
    """A kind of installation (gas boiler, electrical installation, ...) with its certificate regime."""

    __tablename__ = "installation_type"
    __table_args__ = (
        UniqueConstraint("organisation_id", "code", name="uq_installation_type_org_code"),
        CheckConstraint("interval_months > 0 AND interval_months <= 240", name="ck_installation_type_interval"),
        CheckConstraint("early_window_months >= 0 AND early_window_months < interval_months",
                        name="ck_installation_type_window"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    # The check that keeps it in date, e.g. "Gas safety check", "Electrical installation condition report".
    regime: str = Field(default="", max_length=100)
    interval_months: int = Field(default=12)
    # A check this many months (or less) before the due date keeps the old anniversary.
    early_window_months: int = Field(default=2)
    # Counts towards a home's compliance (every required check in date).
    is_required: bool = Field(default=True)
    is_active: bool = Field(default=True)


class Installation(SQLModel, table=True):
    __tablename__ = "installation"
    __table_args__ = (
        CheckConstraint("ownership IN ('landlord', 'tenant')", name="ck_installation_ownership"),
        Index("ix_installation_org_place", "organisation_id", "place_id"),
        Index("ix_installation_org_due", "organisation_id", "next_due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    place_id: int = Field(foreign_key="place.id")
    installation_type_id: int = Field(foreign_key="installation_type.id", index=True)
    location: str = Field(default="", max_length=100)  # where in the home ("kitchen", "loft")
    make: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=100)
    ownership: str = Field(default="landlord", max_length=20)
    is_active: bool = Field(default=True)
    last_check_on: date | None = Field(default=None)
    next_due_on: date | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ServicingHome(SQLModel, table=True):
    """A home's servicing state, kept in step by the services: the earliest due date of its required
    landlord-owned installations, and the failed access attempts since its last check."""

    __tablename__ = "servicing_home"
    __table_args__ = (
        UniqueConstraint("organisation_id", "place_id", name="uq_servicing_home_org_place"),
        Index("ix_servicing_home_org_due_key", "organisation_id", "due_key", "place_id"),
        Index("ix_servicing_home_org_no_access", "organisation_id", "no_access_count"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    place_id: int = Field(foreign_key="place.id")
    uprn: int = Field(sa_column=Column(BigInteger, nullable=False))
    next_due_on: date | None = Field(default=None)
    required_count: int = Field(default=0)
    # Required installations with no certificate on record (the home cannot be in date while any has none).
    uncertified_count: int = Field(default=0)
    # What the programme and compliance figures range over (one index): the due date, or UNCERTIFIED_KEY when a
    # required installation has no certificate (before every real date: overdue, listed first), or NULL when the
    # home needs no check.
    due_key: date | None = Field(default=None)
    no_access_count: int = Field(default=0)
    # "", "letter_1", "letter_2", "letter_3", "legal" (the access stage reached).
    access_stage: str = Field(default="", max_length=20)
    last_attempt_on: date | None = Field(default=None)


class InstallationCheck(SQLModel, table=True):
    """A check of an installation and its certificate."""

    __tablename__ = "installation_check"
    __table_args__ = (
        CheckConstraint("outcome IN ('pass', 'at_risk', 'immediately_dangerous', 'not_to_current_standard')",
                        name="ck_installation_check_outcome"),
        Index("ix_installation_check_org_date", "organisation_id", "checked_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    installation_id: int = Field(foreign_key="installation.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="engineer_appointment.id")
    checked_on: date
    outcome: str = Field(max_length=30)
    # The due date the check answered (for the days from due date to certificate), and the one it set.
    due_on: date | None = Field(default=None)
    next_due_on: date | None = Field(default=None)
    certificate_number: str = Field(default="", max_length=60)
    certificate_sha256: str = Field(default="", max_length=64)
    certificate_name: str = Field(default="", max_length=200)
    certificate_type: str = Field(default="", max_length=100)
    notes: str = Field(default="", max_length=1000)
    recorded_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RemedialTask(SQLModel, table=True):
    """A defect found by a check, and the work to put it right by its target time."""

    __tablename__ = "remedial_task"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'done')", name="ck_remedial_task_status"),
        Index("ix_remedial_task_org_status", "organisation_id", "status", "target_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    check_id: int = Field(foreign_key="installation_check.id", index=True)
    installation_id: int = Field(foreign_key="installation.id")
    description: str = Field(max_length=500)
    severity: str = Field(max_length=30)
    target_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=20)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Engineer(SQLModel, table=True):
    __tablename__ = "engineer"
    __table_args__ = (
        UniqueConstraint("organisation_id", "email", name="uq_engineer_org_email"),
        CheckConstraint("max_appointments_per_day > 0", name="ck_engineer_max_per_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    full_name: str = Field(max_length=150)
    email: str = Field(max_length=254)
    phone: str = Field(default="", max_length=30)
    # Gas Safe registration number or electrical scheme membership.
    registration: str = Field(default="", max_length=40)
    max_appointments_per_day: int = Field(default=6)
    is_active: bool = Field(default=True)


class EngineerAppointment(SQLModel, table=True):
    """An engineer's visit to a home; ``block_start``/``block_end`` is the time it takes up."""

    __tablename__ = "engineer_appointment"
    __table_args__ = (
        CheckConstraint("block_end > block_start", name="ck_engineer_appointment_block"),
        CheckConstraint("status IN ('active', 'cancelled')", name="ck_engineer_appointment_status"),
        CheckConstraint("outcome IN ('', 'completed', 'no_access')", name="ck_engineer_appointment_outcome"),
        Index("ix_engineer_appointment_engineer_block", "engineer_id", "block_start"),
        Index("ix_engineer_appointment_org_place", "organisation_id", "place_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    engineer_id: int = Field(foreign_key="engineer.id")
    place_id: int = Field(foreign_key="place.id")
    # The appointment's date in Europe/London, counted against the engineer's daily limit.
    appointment_day: date
    block_start: datetime = Field(sa_type=UTCDateTime)
    block_end: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="active", max_length=20)
    outcome: str = Field(default="", max_length=20)
    booked_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ServicingLetter(SQLModel, table=True):
    """A letter produced for a home (appointment, failed access attempt, legal-access stage), kept as a PDF."""

    __tablename__ = "servicing_letter"
    __table_args__ = (Index("ix_servicing_letter_org_place", "organisation_id", "place_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    place_id: int = Field(foreign_key="place.id")
    appointment_id: int | None = Field(default=None, foreign_key="engineer_appointment.id")
    template_code: str = Field(max_length=40)
    subject: str = Field(default="", max_length=300)
    # "" once retention deleted the file (the letter named a person whose records were purged).
    pdf_sha256: str = Field(max_length=64)
    # Who the letter was addressed to (None: "The occupier", or a letter from before migration 0036).
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    produced_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
