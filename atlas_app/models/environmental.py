"""Environmental Services Ticketing: residents' reports of problems at a place.

A report *is* a case with a demand in the organisation's module of type ``environmental_ticketing`` (so every
casework measure works for it); these tables hold what the public side adds: the public categories (one per demand
type of the module), where the problem is (WGS84 and British National Grid), who follows it, its public updates and
internal notes, and its photos (files in the storage, rows here).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow
from atlas_app.domain.statuses import ReportStatus, check_name, check_sql


class ReportCategory(SQLModel, table=True):
    """What the public may report: one of the module's demand types, with the text the public sees and the
    council's promise in working days."""

    __tablename__ = "env_report_category"
    __table_args__ = (UniqueConstraint("organisation_id", "demand_type_id", name="uq_env_report_category_type"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    module_id: int = Field(foreign_key="case_module.id", index=True)
    demand_type_id: int = Field(foreign_key="case_lookup.id")
    # Offered on the public report form (others are for staff and Open311 only when public too).
    is_public: bool = Field(default=False)
    public_name: str = Field(default="", max_length=120)
    public_description: str = Field(default="", max_length=500)
    # Welsh wording (empty: not written yet; the English is shown).
    public_name_cy: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": text("''")})
    public_description_cy: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": text("''")})
    # "We aim to ... within N working days"; 0 = no promise.
    promise_days: int = Field(default=5)
    sort_order: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReportResponse(SQLModel, table=True):
    """A category's template response for one status: the text sent to followers when the report moves there
    (merge fields in the letters' sandbox)."""

    __tablename__ = "env_report_response"
    __table_args__ = (
        UniqueConstraint("category_id", "status", name="uq_env_report_response_status"),
        CheckConstraint(check_sql("status", ReportStatus), name=check_name("env_report_response", "status")),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    category_id: int = Field(foreign_key="env_report_category.id", index=True)
    status: str = Field(max_length=20)
    body: str = Field(default="", max_length=4000)
    # The Welsh, sent to followers written to in Welsh ('' for none written).
    body_cy: str = Field(default="", max_length=4000, sa_column_kwargs={"server_default": text("''")})
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Report(SQLModel, table=True):
    __tablename__ = "env_report"
    __table_args__ = (
        UniqueConstraint("organisation_id", "reference", name="uq_env_report_org_reference"),
        # The queue and the duplicate check: open reports of a category by time, and by place.
        Index("ix_env_report_org_status_created", "organisation_id", "status", "created_at"),
        Index("ix_env_report_org_category_created", "organisation_id", "category_id", "created_at"),
        Index("ix_env_report_org_uprn", "organisation_id", "uprn"),
        Index("ix_env_report_org_usrn", "organisation_id", "usrn"),
        Index("ix_env_report_org_easting", "organisation_id", "easting", "northing"),
        Index("ix_env_report_org_due", "organisation_id", "due_at"),
        CheckConstraint(check_sql("status", ReportStatus), name=check_name("env_report", "status")),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    module_id: int = Field(foreign_key="case_module.id")
    case_id: int = Field(foreign_key="case_file.id", index=True)
    demand_id: int = Field(foreign_key="case_demand.id")
    category_id: int = Field(foreign_key="env_report_category.id")
    # ENV-000123 (from the id; unique per organisation).
    reference: str = Field(max_length=20)
    status: str = Field(default=ReportStatus.RECEIVED, max_length=20)
    close_reason: str = Field(default="", max_length=200)
    team_id: int | None = Field(default=None, foreign_key="case_team.id", index=True)
    officer_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    place_id: int | None = Field(default=None, foreign_key="place.id")
    uprn: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    usrn: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    easting: float | None = Field(default=None)
    northing: float | None = Field(default=None)
    location_text: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=2000)
    reporter_name: str = Field(default="", max_length=120)
    reporter_email: str = Field(default="", max_length=200)
    reporter_phone: str = Field(default="", max_length=40)
    # SHA-256 of the tracking token in the emailed link (the token itself is only ever in the link).
    token_hash: str = Field(max_length=64)
    # web, open311, staff
    channel: str = Field(default="web", max_length=20)
    repeat_count: int = Field(default=0)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReportUpdate(SQLModel, table=True):
    """One entry of a report's timeline: a status change, a public update, an internal note (never shown to the
    public), a repeat report or information a resident added."""

    __tablename__ = "env_report_update"
    __table_args__ = (
        Index("ix_env_report_update_report", "report_id", "created_at"),
        Index("ix_env_report_update_org_created", "organisation_id", "created_at"),
        # A report-it site's comment is kept once, however often the site sends it again (migration 0038).
        Index("ux_env_report_update_site", "report_id", "site_update_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    report_id: int = Field(foreign_key="env_report.id")
    # status, public, internal, repeat, resident
    kind: str = Field(max_length=20)
    is_public: bool = Field(default=False)
    # For a status change: the new status.
    status: str = Field(default="", max_length=20)
    body: str = Field(default="", max_length=4000)
    # The Welsh of an entry written from a template response, for the Welsh tracking page ('' for none).
    body_cy: str = Field(default="", max_length=4000, sa_column_kwargs={"server_default": text("''")})
    author_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    author_name: str = Field(default="", max_length=120)
    # The report-it site's own id of a comment posted through Open311 (its ``update_id``); None otherwise.
    site_update_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReportFollower(SQLModel, table=True):
    """Someone who gets the report's updates by email until they stop them (one click, by their own token)."""

    __tablename__ = "env_report_follower"
    __table_args__ = (UniqueConstraint("report_id", "email", name="uq_env_report_follower_email"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    report_id: int = Field(foreign_key="env_report.id", index=True)
    email: str = Field(max_length=200)
    name: str = Field(default="", max_length=120)
    # The language they are written to in ("en", or "cy" when they reported or followed on a Welsh page).
    language: str = Field(default="en", max_length=8, sa_column_kwargs={"server_default": "en"})
    # SHA-256 of the follower's own tracking token (their link; also stops their updates).
    token_hash: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReportPhoto(SQLModel, table=True):
    """A photo of a report: the re-encoded file's content address in the storage."""

    __tablename__ = "env_report_photo"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    report_id: int = Field(foreign_key="env_report.id", index=True)
    update_id: int | None = Field(default=None, foreign_key="env_report_update.id")
    sha256: str = Field(max_length=64)
    content_type: str = Field(max_length=40)
    width: int = Field(default=0)
    height: int = Field(default=0)
    size_bytes: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
