"""the waiting list: clients waiting for a freed seat before their critical date; GOV.UK Pay as a card provider

``waiting_entry``: an offer's place on its course type's waiting list (venues, dates, how to tell them), and while a
freed seat is held for them, that seat's booking. One active entry per offer and one entry per held booking
(partial unique indexes). ``booking_terms.waiting_hold_minutes``: how long such a seat is held (default a day). ``organisation.card_provider``: ``stripe`` or ``govuk_pay``.

Revision ID: 0030
Revises: 0035
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from atlas_app.db import UTCDateTime

revision: str = '0030'
down_revision: str | None = '0035'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("waiting", "offered", "booked", "lapsed", "left", "removed", "expired")
_ACTIVE = "status IN ('waiting', 'offered')"
_WAITING = "status = 'waiting'"
_HAS_BOOKING = "booking_id IS NOT NULL"


def upgrade() -> None:
    # The organisation's online card provider: Stripe, or GOV.UK Pay (a plain ADD COLUMN on both databases).
    op.add_column("organisation", sa.Column("card_provider", sa.String(length=20), nullable=False,
                                            server_default="stripe"))
    op.add_column("booking_terms", sa.Column("waiting_hold_minutes", sa.Integer(), nullable=False,
                                             server_default="1440"))
    op.create_table(
        "waiting_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("course_type_id", sa.Integer(), nullable=False),
        sa.Column("venue_ids", sa.JSON(), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("joined_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("joined_by", sa.String(length=150), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("offered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("hold_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("offers_made", sa.Integer(), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=300), nullable=False),
        sa.CheckConstraint("date_from <= date_to", name="ck_waiting_entry_dates"),
        sa.CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in _STATUSES) + ")",
                           name="ck_waiting_entry_status"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["offer_id"], ["offer.id"]),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.ForeignKeyConstraint(["course_type_id"], ["course_type.id"]),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_waiting_entry_offer_id", "waiting_entry", ["offer_id"])
    op.create_index("ix_waiting_entry_client_id", "waiting_entry", ["client_id"])
    op.create_index("ix_waiting_entry_token_hash", "waiting_entry", ["token_hash"])
    op.create_index("ix_waiting_entry_status", "waiting_entry", ["organisation_id", "status"])
    op.create_index("uq_waiting_entry_one_active_per_offer", "waiting_entry", ["offer_id"], unique=True,
                    sqlite_where=sa.text(_ACTIVE), postgresql_where=sa.text(_ACTIVE))
    op.create_index("uq_waiting_entry_booking", "waiting_entry", ["booking_id"], unique=True,
                    sqlite_where=sa.text(_HAS_BOOKING), postgresql_where=sa.text(_HAS_BOOKING))
    op.create_index("ix_waiting_entry_queue", "waiting_entry",
                    ["organisation_id", "course_type_id", "joined_at", "id"],
                    sqlite_where=sa.text(_WAITING), postgresql_where=sa.text(_WAITING))


def downgrade() -> None:
    op.drop_table("waiting_entry")
    with op.batch_alter_table("booking_terms") as batch_op:
        batch_op.drop_column("waiting_hold_minutes")
    with op.batch_alter_table("organisation") as batch_op:
        batch_op.drop_column("card_provider")
