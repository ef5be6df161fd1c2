"""client email templates: one per organisation, kind and language, seeded with the shipped wording

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-01 21:20:00
"""

from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db
from atlas_app.services.booking.email_defaults import DEFAULT_LANGUAGE, KINDS


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('email_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default='en'),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('updated_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'kind', 'language', name='uq_email_template_org_kind_lang')
    )
    with op.batch_alter_table('email_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_template_organisation_id'), ['organisation_id'], unique=False)

    bind = op.get_bind()
    org_ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM organisation ORDER BY id"))]
    if org_ids:
        table = sa.table('email_template', sa.column('organisation_id', sa.Integer), sa.column('kind', sa.String),
                         sa.column('language', sa.String), sa.column('subject', sa.String),
                         sa.column('body', sa.Text), sa.column('updated_by', sa.String),
                         sa.column('updated_at', atlas_app.db.UTCDateTime(timezone=True)))
        now = datetime.now(timezone.utc)
        op.bulk_insert(table, [
            {"organisation_id": org_id, "kind": kind.code, "language": DEFAULT_LANGUAGE, "subject": kind.subject,
             "body": kind.body, "updated_by": "atlas", "updated_at": now}
            for org_id in org_ids for kind in KINDS.values()])


def downgrade() -> None:
    with op.batch_alter_table('email_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_template_organisation_id'))
    op.drop_table('email_template')
