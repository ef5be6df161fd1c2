"""change request attachments, platform settings, and scheduled runs claimed per London day

* ``change_request_attachment``: a file attached to a change request; its bytes are in the platform's storage under
  their SHA-256 (``sha256``), its type was read from the bytes.
* ``platform_setting``: a setting of the whole platform by key (the nightly demo reset and its time).
* ``scheduled_run``: a scheduled job claimed for one London day; unique (job, run_date), so one worker only runs it.

Revision ID: 0040
Revises: 0039
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app.db import UTCDateTime

revision: str = '0040'
down_revision: str | None = '0039'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'change_request_attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('change_request_id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('uploaded_by_user_id', sa.Integer(), nullable=True),
        sa.Column('file_name', sa.String(length=150), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['change_request_id'], ['change_request.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id']),
        sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['app_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_change_request_attachment_change_request_id', 'change_request_attachment',
                    ['change_request_id'])
    op.create_index('ix_change_request_attachment_organisation_id', 'change_request_attachment', ['organisation_id'])
    op.create_index('ix_change_request_attachment_sha256', 'change_request_attachment', ['sha256'])
    op.create_table(
        'platform_setting',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('changed_by_user_id', sa.Integer(), nullable=True),
        sa.Column('changed_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['changed_by_user_id'], ['app_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'scheduled_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job', sa.String(length=60), nullable=False),
        sa.Column('run_date', sa.Date(), nullable=False),
        sa.Column('claimed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('job', 'run_date', name='uq_scheduled_run_job_date'),
    )


def downgrade() -> None:
    op.drop_table('scheduled_run')
    op.drop_table('platform_setting')
    op.drop_index('ix_change_request_attachment_sha256', table_name='change_request_attachment')
    op.drop_index('ix_change_request_attachment_organisation_id', table_name='change_request_attachment')
    op.drop_index('ix_change_request_attachment_change_request_id', table_name='change_request_attachment')
    op.drop_table('change_request_attachment')
