"""Strategic-measures dashboards: the points at which a service's system was changed, from which the control-chart
limits are recalculated."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Index, text, true
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
# atlas_app/dashboard_rollups.py). ``day`` is the London calendar day; an empty module/opener is stored as 0. Each
# write appends a pending row; ``compact`` folds them into one settled row per key (unique among settled rows).


def _rollup_args(table: str, keys: tuple[str, ...], lookup: tuple[str, ...]) -> tuple:
    return (
        Index(f"uq_{table}_key", *keys, unique=True, sqlite_where=text("NOT pending"),
              postgresql_where=text("NOT pending")),
        Index(f"ix_{table}_lookup", *lookup),
        Index(f"ix_{table}_pending", "id", sqlite_where=text("pending"), postgresql_where=text("pending")),
    )


def _pending() -> Any:
    return Field(default=True, sa_column_kwargs={"server_default": true()})


class DashboardDemandDay(SQLModel, table=True):
    __tablename__ = "dashboard_demand_day"
    __table_args__ = _rollup_args(
        "dashboard_demand_day",
        ("organisation_id", "day", "module_id", "opened_by_id", "demand_type_id", "demand_class"),
        ("organisation_id", "day"))

    id: int | None = Field(default=None, primary_key=True)
    pending: bool = _pending()
    organisation_id: int
    day: date
    module_id: int
    opened_by_id: int
    demand_type_id: int
    demand_class: str = Field(max_length=10)
    demands: int = 0
    one_stop: int = 0


class DashboardBookingDay(SQLModel, table=True):
    __tablename__ = "dashboard_booking_day"
    __table_args__ = _rollup_args(
        "dashboard_booking_day", ("organisation_id", "day", "channel", "made", "pay_state"), ("organisation_id", "day"))

    id: int | None = Field(default=None, primary_key=True)
    pending: bool = _pending()
    organisation_id: int
    day: date
    channel: str = Field(max_length=20)
    made: bool
    pay_state: str = Field(max_length=10)  # '', paid, unpaid
    bookings: int = 0
    fee_pence: int = Field(default=0, sa_type=BigInteger)
    settled_pence: int = Field(default=0, sa_type=BigInteger)


class DashboardIncomeDay(SQLModel, table=True):
    __tablename__ = "dashboard_income_day"
    __table_args__ = _rollup_args("dashboard_income_day", ("organisation_id", "day"), ("organisation_id", "day"))

    id: int | None = Field(default=None, primary_key=True)
    pending: bool = _pending()
    organisation_id: int
    day: date
    payments: int = 0
    amount_pence: int = Field(default=0, sa_type=BigInteger)


class DashboardSessionOutcome(SQLModel, table=True):
    __tablename__ = "dashboard_session_outcome"
    __table_args__ = _rollup_args("dashboard_session_outcome", ("session_id", "status"), ("session_id",))

    id: int | None = Field(default=None, primary_key=True)
    pending: bool = _pending()
    session_id: int
    status: str = Field(max_length=20)
    bookings: int = 0
