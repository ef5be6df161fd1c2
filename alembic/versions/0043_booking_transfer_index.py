"""index booking.transferred_from_id: following a transfer to the booking that replaced it is a lookup by it

Revision ID: 0043
Revises: 0027
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0043'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_booking_transferred_from_id", "booking", ["transferred_from_id"])


def downgrade() -> None:
    op.drop_index("ix_booking_transferred_from_id", table_name="booking")
