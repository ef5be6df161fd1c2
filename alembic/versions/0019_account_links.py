"""account links: forgotten-password requests counted per account and address, unlock links, links made at send

* ``account_link_request``: every forgotten-password request (known username or not), for the limits and for the
  background pass that emails the link.
* ``password_reset_token.purpose``: "reset" or "unlock" (a locked account's owner unlocks it by an emailed link).
* ``email_message.secret_kind`` / ``secret_id``: a message with a single-use link stores a placeholder; the link is
  made when the message is sent.
* ``login_attempt (ip, at)``: failed sign-ins are counted per address.

Revision ID: 0019
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account_link_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('handled_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('account_link_request', schema=None) as batch_op:
        batch_op.create_index('ix_account_link_request_key_at', ['key_hash', 'at'], unique=False)
        batch_op.create_index('ix_account_link_request_ip_at', ['ip', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_account_link_request_handled_at'), ['handled_at'], unique=False)
    with op.batch_alter_table('password_reset_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='reset'))
    with op.batch_alter_table('email_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('email_message', schema=None) as batch_op:
        # The default only filled the rows already there; new rows always say (the model has no default).
        batch_op.alter_column('secret_kind', existing_type=sqlmodel.sql.sqltypes.AutoString(length=20),
                              existing_nullable=False, server_default=None)
        batch_op.add_column(sa.Column('secret_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempt_ip_at', ['ip', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_ip_at')
    with op.batch_alter_table('email_message', schema=None) as batch_op:
        batch_op.drop_column('secret_id')
        batch_op.drop_column('secret_kind')
    with op.batch_alter_table('password_reset_token', schema=None) as batch_op:
        batch_op.drop_column('purpose')
    with op.batch_alter_table('account_link_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_link_request_handled_at'))
        batch_op.drop_index('ix_account_link_request_ip_at')
        batch_op.drop_index('ix_account_link_request_key_at')
    op.drop_table('account_link_request')
