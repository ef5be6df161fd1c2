"""Strategic-measures dashboards: the points at which a service's system was changed, from which the control-chart
limits are recalculated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class CapabilityChangePoint(SQLModel, table=True):
    """"The system was changed here": limits are calculated afresh from the first demand completed at or after
    ``changed_at``. ``module_id`` empty means every module."""

    __tablename__ = "capability_change_point"
    __table_args__ = (Index("ix_capability_change_point_org_at", "organisation_id", "changed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    module_id: int | None = Field(default=None, foreign_key="case_module.id")
    changed_at: datetime = Field(sa_type=UTCDateTime)
    note: str = Field(default="", max_length=300)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
