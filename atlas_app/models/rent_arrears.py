"""Rent Arrears Monitoring: tenancies (tenants are casework people, the home is a UPRN place), the rent account's
transactions imported from the rent system, the balances and arrears worked out from them, configurable recovery
stages, payment arrangements and the letters produced at each stage.

Every row carries ``organisation_id`` so every query is scoped in SQL without a join. Money is in pence; a
transaction's ``amount_pence`` is signed from the landlord's side: charges and debit adjustments are positive
(the tenant owes more), payments, Housing Benefit, Universal Credit direct payments and credit adjustments negative.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Computed,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow
from atlas_app.domain.statuses import (
    ArrangementStatus,
    RentTransactionKind,
    check_name,
    check_sql,
)


class RentStage(SQLModel, table=True):
    """A recovery stage and its entry rule: arrears above ``min_arrears_weeks_x100`` hundredths of a week's rent,
    and (after the first stage) at least ``min_days_in_previous`` days at the stage before. Entering the stage
    produces its letter (``letter_code``, a letter template) and sets its intention for the officer."""

    __tablename__ = "rent_stage"
    __table_args__ = (UniqueConstraint("organisation_id", "code", name="uq_rent_stage_org_code"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    code: str = Field(max_length=30)
    name: str = Field(max_length=100)
    sort_order: int = Field(default=0)
    min_arrears_weeks_x100: int = Field(default=100)
    min_days_in_previous: int = Field(default=0)
    letter_code: str = Field(default="", max_length=40)
    intention_type_id: int | None = Field(default=None, foreign_key="case_lookup.id")
    intention_due_days: int = Field(default=7)
    is_active: bool = Field(default=True)


# Arrears in hundredths of a week, plus their growth over four weeks in hundredths of a week's rent, plus 400 for a
# broken arrangement (integer division, as in ``tenancies.priority``).
PRIORITY_BASE_SQL = ("arrears_weeks_x100 + CASE WHEN trend_4w_pence > 0 AND weekly_rent_pence > 0 "
                     "THEN trend_4w_pence * 100 / weekly_rent_pence ELSE 0 END "
                     "+ CASE WHEN arrangement_broken THEN 400 ELSE 0 END")


class RentTenancy(SQLModel, table=True):
    """A tenancy of one home, its rent account and the figures last worked out from its transactions."""

    __tablename__ = "rent_tenancy"
    __table_args__ = (
        UniqueConstraint("organisation_id", "rent_account", name="uq_rent_tenancy_org_account"),
        Index("ix_rent_tenancy_org_arrears", "organisation_id", "arrears_weeks_x100"),
        Index("ix_rent_tenancy_org_stage", "organisation_id", "stage_id"),
        Index("ix_rent_tenancy_org_priority", "organisation_id", "priority_base"),
        Index("ix_rent_tenancy_org_stage_priority", "organisation_id", "stage_id", "priority_base"),
        Index("ix_rent_tenancy_org_patch_priority", "organisation_id", "patch", "priority_base"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    rent_account: str = Field(max_length=30)
    place_id: int | None = Field(default=None, foreign_key="place.id", index=True)
    patch: str = Field(default="", max_length=60)
    officer_user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    start_date: date = Field()
    end_date: date | None = Field(default=None)
    weekly_rent_pence: int = Field(default=0)
    case_id: int | None = Field(default=None, foreign_key="case_file.id", index=True)
    # Worked out from the transactions by services/modules/rent_arrears (recompute).
    balance_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    arrears_weeks_x100: int = Field(default=0)
    trend_4w_pence: int = Field(default=0)
    trend_13w_pence: int = Field(default=0)
    last_payment_on: date | None = Field(default=None)
    computed_on: date | None = Field(default=None)
    stage_id: int | None = Field(default=None, foreign_key="rent_stage.id")
    stage_entered_on: date | None = Field(default=None)
    arrangement_broken: bool = Field(default=False)
    # The caseload's priority without its part for time since the last contact (services/modules/rent_arrears/
    # tenancies.priority), kept by the database with the row (a generated column) so the caseload reads it from
    # an index.
    priority_base: int | None = Field(default=None, sa_column=Column(
        Integer, Computed(PRIORITY_BASE_SQL, persisted=True)))
    last_contact_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RentTenant(SQLModel, table=True):
    """A tenant (a casework person) of a tenancy."""

    __tablename__ = "rent_tenant"
    __table_args__ = (UniqueConstraint("tenancy_id", "person_id", name="uq_rent_tenant"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    tenancy_id: int = Field(foreign_key="rent_tenancy.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)


class RentTransaction(SQLModel, table=True):
    """One transaction on a rent account; ``external_id`` is the rent system's id, unique per organisation, so
    importing the same file again changes nothing."""

    __tablename__ = "rent_transaction"
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id", name="uq_rent_transaction_org_external"),
        Index("ix_rent_transaction_tenancy_posted", "tenancy_id", "posted_on"),
        CheckConstraint(check_sql("kind", RentTransactionKind), name=check_name("rent_transaction", "kind")),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    tenancy_id: int = Field(foreign_key="rent_tenancy.id")
    external_id: str = Field(max_length=40)
    posted_on: date = Field()
    kind: str = Field(max_length=20)  # RentTransactionKind
    method: str = Field(default="", max_length=30)
    amount_pence: int = Field()
    import_job_id: int | None = Field(default=None)


class RentArrangement(SQLModel, table=True):
    """An arrangement to pay ``amount_pence`` every ``frequency`` from ``start_on``; kept or broken is worked out
    from the transactions (services/modules/rent_arrears/arrears.py)."""

    __tablename__ = "rent_arrangement"
    __table_args__ = (
        Index("ix_rent_arrangement_org_status", "organisation_id", "status"),
        CheckConstraint(check_sql("status", ArrangementStatus), name=check_name("rent_arrangement", "status")),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    tenancy_id: int = Field(foreign_key="rent_tenancy.id", index=True)
    amount_pence: int = Field()
    frequency: str = Field(max_length=20)  # weekly, fortnightly, four_weekly, monthly
    start_on: date = Field()
    status: str = Field(default=ArrangementStatus.ACTIVE, max_length=20)
    broken_on: date | None = Field(default=None)
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class RentLetter(SQLModel, table=True):
    """A letter produced for a tenancy (at a stage), merged from the organisation's letter template."""

    __tablename__ = "rent_letter"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    tenancy_id: int = Field(foreign_key="rent_tenancy.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case_file.id")
    stage_id: int | None = Field(default=None, foreign_key="rent_stage.id")
    template_code: str = Field(max_length=40)
    subject: str = Field(default="", max_length=300)
    body: str = Field(sa_type=Text)
    produced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
