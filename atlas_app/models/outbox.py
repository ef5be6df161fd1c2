"""The email outbox: every email Atlas sends is a row here first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class EmailMessage(SQLModel, table=True):
    __tablename__ = "email_message"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_type=Text)
    body_html: str | None = Field(default=None, sa_type=Text)
    # queued -> sent, or failed after the last retry; "held" when no SMTP server is configured.
    status: str = Field(default="queued", max_length=20, index=True)
    attempts: int = Field(default=0)
    last_error: str = Field(default="", max_length=1000)
    # Messages with sensitive links (password resets) are not shown in full in the outbox viewer.
    sensitive: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    next_attempt_at: datetime | None = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    related_entity: str = Field(default="", max_length=60)
    related_id: str = Field(default="", max_length=80)
    # A message carrying a single-use link stores a placeholder instead; the link is made when the message is
    # sent, from the link row named here ("reset" or "unlock" and the password_reset_token id).
    secret_kind: str = Field(default="", max_length=20)
    secret_id: int | None = Field(default=None)


class EmailAttachment(SQLModel, table=True):
    __tablename__ = "email_attachment"

    id: int | None = Field(default=None, primary_key=True)
    email_id: int = Field(
        sa_column=Column(Integer, ForeignKey("email_message.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
