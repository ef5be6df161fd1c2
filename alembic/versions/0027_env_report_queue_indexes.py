"""the staff queue's indexes over open environmental reports

Partial indexes of ``env_report`` holding open reports only (received, with the team, in progress): by making
time; by due time (those with a promise); and by category, team (with officer, for "not assigned"), officer and
place, each then by making time. See atlas_app/models/environmental_queue.py.

Revision ID: 0027
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0027'
down_revision: str | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_SQL = "status IN ('received', 'with_team', 'in_progress')"
INDEXES = [
    ("ix_env_report_open_created", ["organisation_id", "created_at"], ""),
    ("ix_env_report_open_due", ["organisation_id", "due_at"], "due_at IS NOT NULL"),
    ("ix_env_report_open_category", ["organisation_id", "category_id", "created_at"], ""),
    ("ix_env_report_open_team", ["organisation_id", "team_id", "officer_id", "created_at"], ""),
    ("ix_env_report_open_officer", ["organisation_id", "officer_id", "created_at"], ""),
    ("ix_env_report_open_place", ["organisation_id", "place_id", "created_at"], ""),
]


def upgrade() -> None:
    for name, columns, extra in INDEXES:
        where = sa.text(OPEN_SQL + (f" AND {extra}" if extra else ""))
        op.create_index(name, "env_report", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, _columns, _extra in reversed(INDEXES):
        op.drop_index(name, table_name="env_report")
