"""Strategic-measures dashboards: the points at which a service's system was changed, from which the control-chart
limits are recalculated."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index
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


# Daily totals behind the dashboards, kept in step with the source rows by database triggers (see
# atlas_app/dashboard_rollups.py). ``day`` is the London calendar day; an empty module/opener is stored as 0.


class DashboardDemandDay(SQLModel, table=True):
    __tablename__ = "dashboard_demand_day"

    organisation_id: int = Field(primary_key=True)
    day: date = Field(primary_key=True)
    module_id: int = Field(primary_key=True)
    opened_by_id: int = Field(primary_key=True)
    demand_type_id: int = Field(primary_key=True)
    demand_class: str = Field(primary_key=True, max_length=10)
    demands: int = 0
    one_stop: int = 0


class DashboardBookingDay(SQLModel, table=True):
    __tablename__ = "dashboard_booking_day"

    organisation_id: int = Field(primary_key=True)
    day: date = Field(primary_key=True)
    channel: str = Field(primary_key=True, max_length=20)
    made: bool = Field(primary_key=True)
    pay_state: str = Field(primary_key=True, max_length=10)  # '', paid, unpaid
    bookings: int = 0
    fee_pence: int = Field(default=0, sa_type=BigInteger)
    settled_pence: int = Field(default=0, sa_type=BigInteger)


class DashboardIncomeDay(SQLModel, table=True):
    __tablename__ = "dashboard_income_day"

    organisation_id: int = Field(primary_key=True)
    day: date = Field(primary_key=True)
    payments: int = 0
    amount_pence: int = Field(default=0, sa_type=BigInteger)


class DashboardSessionOutcome(SQLModel, table=True):
    __tablename__ = "dashboard_session_outcome"

    session_id: int = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=20)
    bookings: int = 0
