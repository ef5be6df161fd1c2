"""the rent caseload's priority, kept with each tenancy

``rent_tenancy.priority_base`` is a generated column (stored on PostgreSQL, virtual on SQLite, which cannot add a
stored one to an existing table): arrears in hundredths of a week, their growth over four weeks and 400 for a
broken arrangement, the part of the caseload's priority that does not depend on today's date. Indexed by
organisation, by organisation and stage, and by organisation and patch, so the caseload reads its most urgent
tenancies from an index instead of scoring every tenancy of the organisation.

Revision ID: 0041
Revises: 0038
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0041'
down_revision: str | None = '0038'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIORITY_BASE_SQL = ("arrears_weeks_x100 + CASE WHEN trend_4w_pence > 0 AND weekly_rent_pence > 0 "
                     "THEN trend_4w_pence * 100 / weekly_rent_pence ELSE 0 END "
                     "+ CASE WHEN arrangement_broken THEN 400 ELSE 0 END")
INDEXES = [
    ("ix_rent_tenancy_org_priority", ["organisation_id", "priority_base"]),
    ("ix_rent_tenancy_org_stage_priority", ["organisation_id", "stage_id", "priority_base"]),
    ("ix_rent_tenancy_org_patch_priority", ["organisation_id", "patch", "priority_base"]),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE rent_tenancy ADD COLUMN priority_base INTEGER GENERATED ALWAYS AS "
                   f"({PRIORITY_BASE_SQL}) VIRTUAL")
    else:
        op.add_column("rent_tenancy", sa.Column("priority_base", sa.Integer(),
                                                sa.Computed(PRIORITY_BASE_SQL, persisted=True)))
    for name, columns in INDEXES:
        op.create_index(name, "rent_tenancy", columns)


def downgrade() -> None:
    for name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name="rent_tenancy")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE rent_tenancy DROP COLUMN priority_base")
    else:
        op.drop_column("rent_tenancy", "priority_base")
