"""residents' reports of problems at a place (Environmental Services Ticketing)

``env_report_category`` (a module demand type the public may report, its public text and promise in working days),
``env_report_response`` (a category's template response per status), ``env_report`` (one per case: where, who,
status, tracking token hash), ``env_report_update`` (timeline: status changes, public updates, internal notes,
repeats), ``env_report_follower`` (who gets updates), ``env_report_photo`` (content addresses in the storage);
``ix_place_org_grid`` so a map pin finds its nearest place.

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db


revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_place_org_grid", "place", ["organisation_id", "x_coordinate", "y_coordinate"])
    op.create_table('env_report_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('demand_type_id', sa.Integer(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('public_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('public_description', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('promise_days', sa.Integer(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['demand_type_id'], ['case_lookup.id'], ),
    sa.ForeignKeyConstraint(['module_id'], ['case_module.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'demand_type_id', name='uq_env_report_category_type')
    )
    with op.batch_alter_table('env_report_category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_env_report_category_module_id'), ['module_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_env_report_category_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('env_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('close_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('uprn', sa.BigInteger(), nullable=True),
    sa.Column('usrn', sa.BigInteger(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('easting', sa.Float(), nullable=True),
    sa.Column('northing', sa.Float(), nullable=True),
    sa.Column('location_text', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('reporter_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('reporter_email', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reporter_phone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('repeat_count', sa.Integer(), nullable=False),
    sa.Column('due_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('received', 'with_team', 'in_progress', 'fixed', 'closed')", name='ck_env_report_status'),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], ),
    sa.ForeignKeyConstraint(['category_id'], ['env_report_category.id'], ),
    sa.ForeignKeyConstraint(['demand_id'], ['case_demand.id'], ),
    sa.ForeignKeyConstraint(['module_id'], ['case_module.id'], ),
    sa.ForeignKeyConstraint(['officer_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['place_id'], ['place.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['case_team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'reference', name='uq_env_report_org_reference')
    )
    with op.batch_alter_table('env_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_env_report_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_env_report_officer_id'), ['officer_id'], unique=False)
        batch_op.create_index('ix_env_report_org_category_created', ['organisation_id', 'category_id', 'created_at'], unique=False)
        batch_op.create_index('ix_env_report_org_due', ['organisation_id', 'due_at'], unique=False)
        batch_op.create_index('ix_env_report_org_easting', ['organisation_id', 'easting', 'northing'], unique=False)
        batch_op.create_index('ix_env_report_org_status_created', ['organisation_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_env_report_org_uprn', ['organisation_id', 'uprn'], unique=False)
        batch_op.create_index('ix_env_report_org_usrn', ['organisation_id', 'usrn'], unique=False)
        batch_op.create_index(batch_op.f('ix_env_report_team_id'), ['team_id'], unique=False)

    op.create_table('env_report_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('updated_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('received', 'with_team', 'in_progress', 'fixed', 'closed')", name='ck_env_report_response_status'),
    sa.ForeignKeyConstraint(['category_id'], ['env_report_category.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('category_id', 'status', name='uq_env_report_response_status')
    )
    with op.batch_alter_table('env_report_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_env_report_response_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_env_report_response_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('env_report_follower',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['env_report.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'email', name='uq_env_report_follower_email')
    )
    with op.batch_alter_table('env_report_follower', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_env_report_follower_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_env_report_follower_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_env_report_follower_token_hash'), ['token_hash'], unique=False)

    op.create_table('env_report_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('author_user_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['env_report.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('env_report_update', schema=None) as batch_op:
        batch_op.create_index('ix_env_report_update_org_created', ['organisation_id', 'created_at'], unique=False)
        batch_op.create_index('ix_env_report_update_report', ['report_id', 'created_at'], unique=False)

    op.create_table('env_report_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['env_report.id'], ),
    sa.ForeignKeyConstraint(['update_id'], ['env_report_update.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('env_report_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_env_report_photo_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_env_report_photo_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    op.drop_index("ix_place_org_grid", table_name="place")
    with op.batch_alter_table('env_report_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_env_report_photo_report_id'))
        batch_op.drop_index(batch_op.f('ix_env_report_photo_organisation_id'))

    op.drop_table('env_report_photo')
    with op.batch_alter_table('env_report_update', schema=None) as batch_op:
        batch_op.drop_index('ix_env_report_update_report')
        batch_op.drop_index('ix_env_report_update_org_created')

    op.drop_table('env_report_update')
    with op.batch_alter_table('env_report_follower', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_env_report_follower_token_hash'))
        batch_op.drop_index(batch_op.f('ix_env_report_follower_report_id'))
        batch_op.drop_index(batch_op.f('ix_env_report_follower_organisation_id'))

    op.drop_table('env_report_follower')
    with op.batch_alter_table('env_report_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_env_report_response_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_env_report_response_category_id'))

    op.drop_table('env_report_response')
    with op.batch_alter_table('env_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_env_report_team_id'))
        batch_op.drop_index('ix_env_report_org_usrn')
        batch_op.drop_index('ix_env_report_org_uprn')
        batch_op.drop_index('ix_env_report_org_status_created')
        batch_op.drop_index('ix_env_report_org_easting')
        batch_op.drop_index('ix_env_report_org_due')
        batch_op.drop_index('ix_env_report_org_category_created')
        batch_op.drop_index(batch_op.f('ix_env_report_officer_id'))
        batch_op.drop_index(batch_op.f('ix_env_report_case_id'))

    op.drop_table('env_report')
    with op.batch_alter_table('env_report_category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_env_report_category_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_env_report_category_module_id'))

    op.drop_table('env_report_category')
