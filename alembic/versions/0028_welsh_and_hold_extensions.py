"""Welsh: a client's language for what is sent to them (casework people have ``preferred_language`` already), an
organisation's Welsh switch; seat holds the client can extend

``client.language``: "en" or "cy" (the language of emails, letters and texts to them).
``organisation.welsh_enabled``: the organisation offers its public service in Welsh (staff screens then show which
of its own texts still lack Welsh). ``booking.hold_extensions``: how many times the client has extended the seat
hold; ``booking_terms.max_hold_extensions``: how many times they may (WCAG 2.2.1 asks for at least ten).
``organisation.accessibility_statement`` (JSON, by language and section) and ``accessibility_reviewed_on``: its
public accessibility statement.

Revision ID: 0028
Revises: 0033
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0028'
down_revision: str | None = '0033'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN with a constant default: no rewrite of existing rows on PostgreSQL 11+, none on SQLite.
    op.add_column("client", sa.Column("language", sa.String(length=8), nullable=False, server_default="en"))
    op.add_column("organisation", sa.Column("welsh_enabled", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    op.add_column("organisation", sa.Column("accessibility_statement", sa.JSON(), nullable=True))
    op.add_column("organisation", sa.Column("accessibility_reviewed_on", sa.Date(), nullable=True))
    op.add_column("booking", sa.Column("hold_extensions", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("booking_terms", sa.Column("max_hold_extensions", sa.Integer(), nullable=False,
                                             server_default="10"))


def downgrade() -> None:
    for table, column in (("booking_terms", "max_hold_extensions"), ("booking", "hold_extensions"),
                          ("organisation", "accessibility_reviewed_on"), ("organisation", "accessibility_statement"),
                          ("organisation", "welsh_enabled"), ("client", "language")):
        # A plain DROP COLUMN (SQLite 3.35+ has it): rebuilding booking would drop the triggers that read it.
        op.drop_column(table, column)
