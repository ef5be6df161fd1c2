"""Settings of the whole platform (not of one organisation), changed by the platform administrator, and the claims
that let one worker only run a scheduled job on a given London day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class PlatformSetting(SQLModel, table=True):
    """One setting of the platform by key (no row: the setting's default, declared in services)."""

    __tablename__ = "platform_setting"

    key: str = Field(primary_key=True, max_length=60)
    value: str = Field(default="", sa_type=Text)
    changed_by_user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScheduledRun(SQLModel, table=True):
    """A scheduled job claimed for one London day: the unique constraint lets one worker only insert the row, so
    one worker only runs the job that day."""

    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "run_date", name="uq_scheduled_run_job_date"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=60)
    run_date: date
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", sa_type=Text)
