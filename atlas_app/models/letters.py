"""Letters: each organisation's letter templates, written in a sandboxed template language with a fixed set of
merge fields (see ``services/letters.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class LetterTemplate(SQLModel, table=True):
    __tablename__ = "letter_template"
    __table_args__ = (UniqueConstraint("organisation_id", "code", name="uq_letter_template_org_code"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=150)
    subject: str = Field(default="", max_length=300)
    body: str = Field(sa_type=Text)
    is_active: bool = Field(default=True)
    updated_by: str = Field(default="", max_length=80)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
