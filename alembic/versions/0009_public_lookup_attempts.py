"""public lookup attempts: guessing protection for the find-your-offer and manage-my-booking forms

Revision ID: 0009
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db

revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('public_lookup_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('public_lookup_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_public_lookup_key_at', ['kind', 'key_hash', 'at'], unique=False)
        batch_op.create_index('ix_public_lookup_ip_at', ['ip', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('public_lookup_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_public_lookup_ip_at')
        batch_op.drop_index('ix_public_lookup_key_at')
    op.drop_table('public_lookup_attempt')
