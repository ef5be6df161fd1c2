"""The outbox: every email, text message and letter Atlas sends is a row here first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
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
    # "email", "sms" (to_phone, body_text is the text) or "letter" (a PDF attachment, sent as a precompiled letter).
    channel: str = Field(default="email", max_length=10, sa_column_kwargs={"server_default": "email"})
    to_phone: str = Field(default="", max_length=30, sa_column_kwargs={"server_default": text("''")})
    # The message kind (a client email kind, "reminder"...), for the organisation's Notify template id, and its merge
    # fields flattened (client_first_name...) with the rendered subject and body, as Notify's personalisation.
    kind: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": text("''")})
    personalisation: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Who took it ("smtp" or "notify"), the provider's id for it, and the provider's last word on its delivery
    # (Notify's delivery receipts: sending, delivered, permanent-failure...).
    provider: str = Field(default="", max_length=20, sa_column_kwargs={"server_default": text("''")})
    provider_id: str | None = Field(default=None, max_length=64, unique=True, index=True)
    delivery_status: str = Field(default="", max_length=30, sa_column_kwargs={"server_default": text("''")})
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The course session a reminder is about: not sent once its booking is no longer on that session.
    session_id: int | None = Field(default=None)


class EmailAttachment(SQLModel, table=True):
    __tablename__ = "email_attachment"

    id: int | None = Field(default=None, primary_key=True)
    email_id: int = Field(
        sa_column=Column(Integer, ForeignKey("email_message.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class NotifyTemplate(SQLModel, table=True):
    """An organisation's GOV.UK Notify template for one message kind on one channel."""

    __tablename__ = "notify_template"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", "channel",
                                       name="uq_notify_template_org_kind_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    kind: str = Field(max_length=40)
    channel: str = Field(max_length=10)
    template_id: str = Field(max_length=36)
    updated_by: str = Field(default="", max_length=80)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
