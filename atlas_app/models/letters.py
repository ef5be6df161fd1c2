"""Letters: each organisation's letter templates, written in a sandboxed template language with a fixed set of
merge fields (see ``services/insight/letters.py``), and its client emails (``services/booking/emails.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint, text
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
    # Welsh wording (empty: not written yet; the English letter is sent).
    subject_cy: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": text("''")})
    body_cy: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": text("''")})
    is_active: bool = Field(default=True)
    updated_by: str = Field(default="", max_length=80)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EmailTemplate(SQLModel, table=True):
    """One organisation's wording of one kind of client email (see ``services/booking/email_defaults.py``), in one
    language."""

    __tablename__ = "email_template"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "language", name="uq_email_template_org_kind_lang"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    kind: str = Field(max_length=40)
    language: str = Field(default="en", max_length=8, sa_column_kwargs={"server_default": "en"})
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=Text)
    updated_by: str = Field(default="", max_length=80)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
