"""text messages and GOV.UK Notify in the outbox; reminder schedules; joining details and what to bring

* ``email_message`` becomes the one outbox of every channel: ``channel`` (email, sms, letter), ``to_phone``, the
  message ``kind`` and its ``personalisation`` (the merge fields, for a Notify template), and what the provider said
  (``provider``, ``provider_id``, ``delivery_status``, ``delivered_at``); ``session_id``, the course session a
  reminder is about (not sent once the booking has left it).
* ``notify_template``: an organisation's GOV.UK Notify template id per message kind and channel.
* ``client``: the channels the client agreed to (``email_consent``, ``sms_consent``).
* ``course_type.what_to_bring``; ``course_session`` joining details (meeting id, passcode; the link was there).
* ``reminder_schedule``: an organisation's reminder points per course type and channel (hours before the start).
* ``reminder_dispatch``: one row per booking, session and schedule point, unique, claimed in the transaction that
  queues the reminder, so a reminder is queued once whatever runs the job and however often.
* ``booking.identity_checked``: the trainer's tick on the register; ``booking_terms.joining_details_hours``: how long
  before an online course its joining details are shown on Manage your booking.

Revision ID: 0029
Revises: 0032
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from atlas_app.db import UTCDateTime

revision: str = "0029"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("email_message", sa.Column("channel", sa.String(length=10), nullable=False, server_default="email"))
    op.add_column("email_message", sa.Column("to_phone", sa.String(length=30), nullable=False, server_default=sa.text("''")))
    op.add_column("email_message", sa.Column("kind", sa.String(length=40), nullable=False, server_default=sa.text("''")))
    op.add_column("email_message", sa.Column("personalisation", sa.JSON(), nullable=True))
    op.add_column("email_message", sa.Column("provider", sa.String(length=20), nullable=False, server_default=sa.text("''")))
    op.add_column("email_message", sa.Column("provider_id", sa.String(length=64), nullable=True))
    op.add_column("email_message", sa.Column("delivery_status", sa.String(length=30), nullable=False,
                                             server_default=sa.text("''")))
    op.add_column("email_message", sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("email_message", sa.Column("session_id", sa.Integer(), nullable=True))
    op.create_index("ix_email_message_provider_id", "email_message", ["provider_id"], unique=True)

    op.create_table(
        "notify_template",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("template_id", sa.String(length=36), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("organisation_id", "kind", "channel", name="uq_notify_template_org_kind_channel"),
    )
    op.create_index("ix_notify_template_organisation_id", "notify_template", ["organisation_id"])

    op.add_column("client", sa.Column("email_consent", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("client", sa.Column("sms_consent", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("course_type", sa.Column("what_to_bring", sa.String(length=1000), nullable=False,
                                           server_default=sa.text("''")))
    op.add_column("course_session", sa.Column("meeting_id", sa.String(length=100), nullable=False,
                                              server_default=sa.text("''")))
    op.add_column("course_session", sa.Column("meeting_passcode", sa.String(length=100), nullable=False,
                                              server_default=sa.text("''")))
    op.add_column("booking", sa.Column("identity_checked", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("booking_terms", sa.Column("joining_details_hours", sa.Integer(), nullable=False,
                                             server_default="24"))

    op.create_table(
        "reminder_schedule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("course_type_id", sa.Integer(), sa.ForeignKey("course_type.id"), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("hours_before", sa.Integer(), nullable=False),
        sa.UniqueConstraint("course_type_id", "channel", "hours_before", name="uq_reminder_schedule_point"),
    )
    op.create_index("ix_reminder_schedule_organisation_id", "reminder_schedule", ["organisation_id"])

    op.create_table(
        "reminder_dispatch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("booking_id", sa.Integer(), sa.ForeignKey("booking.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("point", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("booking_id", "session_id", "point", name="uq_reminder_dispatch_point"),
    )


def downgrade() -> None:
    op.drop_table("reminder_dispatch")
    op.drop_index("ix_reminder_schedule_organisation_id", table_name="reminder_schedule")
    op.drop_table("reminder_schedule")
    op.drop_index("ix_notify_template_organisation_id", table_name="notify_template")
    op.drop_table("notify_template")
    op.drop_index("ix_email_message_provider_id", table_name="email_message")
    for table, columns in (
        ("booking_terms", ["joining_details_hours"]),
        ("booking", ["identity_checked"]),
        ("course_session", ["meeting_passcode", "meeting_id"]),
        ("course_type", ["what_to_bring"]),
        ("client", ["sms_consent", "email_consent"]),
        ("email_message", ["session_id", "delivered_at", "delivery_status", "provider_id", "provider", "personalisation", "kind",
                           "to_phone", "channel"]),
    ):
        for column in columns:
            # A plain DROP COLUMN on both databases (SQLite >= 3.35): no table rebuild, so the dashboards' triggers
            # on booking stay.
            op.drop_column(table, column)
