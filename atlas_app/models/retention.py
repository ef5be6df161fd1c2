"""Retention: how long an organisation keeps each kind of personal record before it is anonymised."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class RetentionRule(SQLModel, table=True):
    """One rule: keep records of ``kind`` for ``months`` after the date the kind is measured from (see
    services/platform/retention.py). A casework rule may name a module; a rule with no module covers the others."""

    __tablename__ = "retention_rule"
    __table_args__ = (Index("ux_retention_rule_org_kind_module", "organisation_id", "kind", "module_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    kind: str = Field(max_length=40)
    module_id: int | None = Field(default=None, foreign_key="case_module.id")
    months: int
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
