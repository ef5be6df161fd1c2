"""Organisations: the tenants of Atlas (a council or a police area)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, false, text
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=200)
    is_active: bool = Field(default=True)
    # Organisations may demand longer passwords than the platform minimum of 7, never shorter.
    password_min_length: int = Field(default=7)
    # The labelled demo card provider may take this organisation's payments (demo organisations only; set by the
    # platform administrator). Otherwise it runs only when the deployment says it is a demo (ATLAS_DEMO_PAYMENTS).
    payments_demo: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # The online card provider the organisation chose: "stripe" (the default) or "govuk_pay".
    card_provider: str = Field(default="stripe", max_length=20, sa_column_kwargs={"server_default": "stripe"})
    # Who must use two-factor sign-in: "none", "admins" (users who manage users) or "all" staff.
    two_factor_required: str = Field(default="none", max_length=10, sa_column_kwargs={"server_default": "none"})
    # The organisation offers its public service in Welsh (its own texts then need Welsh wording).
    welsh_enabled: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Its public accessibility statement, by language and section (services/platform/accessibility.py); a section
    # left out reads the shipped wording.
    accessibility_statement: dict | None = Field(default=None, sa_type=JSON)
    accessibility_reviewed_on: date | None = Field(default=None)
    # The map on the public report pages and the staff queue (services/platform/maps.py): a tile URL template
    # with {z}/{x}/{y} and the attribution its provider requires; empty: the deployment's MAP_TILE_URL, if any.
    map_tile_url: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": text("''")})
    map_attribution: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": text("''")})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
