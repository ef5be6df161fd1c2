"""retention rules, legal holds, and audit entries whose personal part can be shredded

* ``retention_rule``: per organisation and record kind (and, for casework, module), how many months a record is kept
  after the date its kind is measured from; organisations with no row use the shipped defaults.
* ``client.legal_hold`` / ``person.legal_hold`` / ``case_file.legal_hold`` stop a purge; ``anonymised_at`` records it.
* ``audit_entry.personal_digest`` / ``shredded_at``: an entry about a subject keeps the digest of its before/after,
  which its hash covers, so a purge can delete that data and the chain still verifies.

Revision ID: 0035
Revises: 0034
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app.db import UTCDateTime

revision: str = '0035'
down_revision: str | None = '0034'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_rule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("module_id", sa.Integer(), sa.ForeignKey("case_module.id"), nullable=True),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_retention_rule_organisation_id", "retention_rule", ["organisation_id"])
    op.create_index("ux_retention_rule_org_kind_module", "retention_rule", ["organisation_id", "kind", "module_id"],
                    unique=True)
    for table in ("client", "person", "case_file"):
        op.add_column(table, sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
    for table in ("client", "person"):
        op.add_column(table, sa.Column("anonymised_at", UTCDateTime(), nullable=True))
    op.add_column("audit_entry", sa.Column("personal_digest", sa.String(length=64), nullable=True))
    op.add_column("audit_entry", sa.Column("shredded_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite 3.35+ has them): no table rebuild, so person's search triggers stay.
    op.drop_column("audit_entry", "shredded_at")
    op.drop_column("audit_entry", "personal_digest")
    for table in ("client", "person"):
        op.drop_column(table, "anonymised_at")
    for table in ("client", "person", "case_file"):
        op.drop_column(table, "legal_hold")
    op.drop_index("ux_retention_rule_org_kind_module", table_name="retention_rule")
    op.drop_index("ix_retention_rule_organisation_id", table_name="retention_rule")
    op.drop_table("retention_rule")
