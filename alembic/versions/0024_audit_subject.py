"""audit entries name the client or casework person they are about

``audit_entry.subject_kind`` / ``subject_id``: "client" and the client's id, or "person" and the person's id, set by
every writer of an entry about one; indexed with the organisation so one subject's trail is an index range. Entries
written before this migration have none (NULL).

Revision ID: 0024
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable, no default) on both databases: no table rebuild, no rewrite of old entries.
    op.add_column("audit_entry", sa.Column("subject_kind", sa.String(length=20), nullable=True))
    op.add_column("audit_entry", sa.Column("subject_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_entry_subject", "audit_entry", ["organisation_id", "subject_kind", "subject_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entry_subject", table_name="audit_entry")
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.drop_column("subject_id")
        batch_op.drop_column("subject_kind")
