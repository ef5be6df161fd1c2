"""the user group: feature previews per organisation, member organisations, change requests (votes, comments,
followers, history), the release notes each user has seen, meetings and their agendas

``preview_setting``: an organisation's choice for a feature in preview (no row: the feature's default).
``change_request_vote``: one row per organisation per request (unique), value +1 or -1. ``change_request.status``
is kept to its enum by a CHECK constraint. ``release_seen``: the newest release a user has seen the notes of.

Revision ID: 0031
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from atlas_app.db import UTCDateTime

revision: str = '0031'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('user_group_meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('user_group_member',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id')
    )
    op.create_table('change_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('raised_by_user_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('affects', sa.String(length=500), nullable=False),
    sa.Column('frequency', sa.String(length=20), nullable=False),
    sa.Column('area', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('target_release', sa.String(length=40), nullable=False),
    sa.Column('decline_reason', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('submitted', 'under_review', 'planned', 'in_preview', 'shipped', 'declined')", name='ck_change_request_status'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['raised_by_user_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_change_request_area', 'change_request', ['area'])
    op.create_index('ix_change_request_organisation_id', 'change_request', ['organisation_id'])
    op.create_index('ix_change_request_status', 'change_request', ['status'])
    op.create_table('preview_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('feature_code', sa.String(length=60), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('changed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_user_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'feature_code', name='uq_preview_setting_org_feature')
    )
    op.create_table('release_seen',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('seen_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('change_request_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_request_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['change_request_id'], ['change_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_change_request_comment_change_request_id', 'change_request_comment', ['change_request_id'])
    op.create_index('ix_change_request_comment_organisation_id', 'change_request_comment', ['organisation_id'])
    op.create_table('change_request_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_request_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['change_request_id'], ['change_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_change_request_event_change_request_id', 'change_request_event', ['change_request_id'])
    op.create_table('change_request_follower',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_request_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['change_request_id'], ['change_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('change_request_id', 'user_id', name='uq_change_request_follower')
    )
    op.create_index('ix_change_request_follower_organisation_id', 'change_request_follower', ['organisation_id'])
    op.create_index('ix_change_request_follower_user_id', 'change_request_follower', ['user_id'])
    op.create_table('change_request_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_request_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('voted_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('value IN (1, -1)', name='ck_change_request_vote_value'),
    sa.ForeignKeyConstraint(['change_request_id'], ['change_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('change_request_id', 'organisation_id', name='uq_change_request_vote_org')
    )
    op.create_index('ix_change_request_vote_organisation_id', 'change_request_vote', ['organisation_id'])
    op.create_table('user_group_agenda_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('change_request_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('demo_path', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['change_request_id'], ['change_request.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['user_group_meeting.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'change_request_id', name='uq_user_group_agenda_item')
    )
    op.create_index('ix_user_group_agenda_item_change_request_id', 'user_group_agenda_item', ['change_request_id'])


def downgrade() -> None:
    op.drop_index('ix_user_group_agenda_item_change_request_id', table_name='user_group_agenda_item')
    op.drop_table('user_group_agenda_item')
    op.drop_index('ix_change_request_vote_organisation_id', table_name='change_request_vote')
    op.drop_table('change_request_vote')
    op.drop_index('ix_change_request_follower_user_id', table_name='change_request_follower')
    op.drop_index('ix_change_request_follower_organisation_id', table_name='change_request_follower')
    op.drop_table('change_request_follower')
    op.drop_index('ix_change_request_event_change_request_id', table_name='change_request_event')
    op.drop_table('change_request_event')
    op.drop_index('ix_change_request_comment_organisation_id', table_name='change_request_comment')
    op.drop_index('ix_change_request_comment_change_request_id', table_name='change_request_comment')
    op.drop_table('change_request_comment')
    op.drop_table('release_seen')
    op.drop_table('preview_setting')
    op.drop_index('ix_change_request_status', table_name='change_request')
    op.drop_index('ix_change_request_organisation_id', table_name='change_request')
    op.drop_index('ix_change_request_area', table_name='change_request')
    op.drop_table('change_request')
    op.drop_table('user_group_member')
    op.drop_table('user_group_meeting')
