"""Welsh wording of an organisation's own texts

Beside each English text the public sees, its Welsh: course type name, description and what to bring; venue name
and directions (its access notes); the report-a-problem category's public name and description; a letter
template's subject and body. An empty Welsh text means "not written yet" (the English is shown, and where the
organisation offers Welsh the staff screens list it as missing). Email templates already have a row per language.

Revision ID: 0037
Revises: 0036
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0037'
down_revision: str | None = '0036'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    ("course_type", "name_cy", sa.String(length=150)),
    ("course_type", "description_cy", sa.String(length=1000)),
    ("course_type", "what_to_bring_cy", sa.String(length=1000)),
    ("venue", "name_cy", sa.String(length=150)),
    ("venue", "accessibility_notes_cy", sa.String(length=1000)),
    ("env_report_category", "public_name_cy", sa.String(length=120)),
    ("env_report_category", "public_description_cy", sa.String(length=500)),
    ("letter_template", "subject_cy", sa.String(length=300)),
    ("letter_template", "body_cy", sa.Text()),
]


def upgrade() -> None:
    # ADD COLUMN with a constant default: no rewrite of existing rows on PostgreSQL 11+, none on SQLite.
    for table, column, kind in COLUMNS:
        op.add_column(table, sa.Column(column, kind, nullable=False, server_default=""))


def downgrade() -> None:
    for table, column, _kind in reversed(COLUMNS):
        # A plain DROP COLUMN (SQLite 3.35+ has it): rebuilding the table would drop triggers that read it.
        op.drop_column(table, column)
