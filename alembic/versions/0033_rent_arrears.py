"""rent arrears monitoring: tenancies, rent transactions, recovery stages, arrangements, letters

``rent_transaction`` is unique per organisation on the rent system's transaction id, so importing a file again
changes nothing. The tenancy row holds the figures last worked out from its transactions (balance, arrears in
hundredths of a week's rent, trends) so the caseload reads one indexed table.

Revision ID: 0033
Revises: 0031
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db


revision: str = '0033'
down_revision: str | None = '0031'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rent_stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('min_arrears_weeks_x100', sa.Integer(), nullable=False),
    sa.Column('min_days_in_previous', sa.Integer(), nullable=False),
    sa.Column('letter_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('intention_type_id', sa.Integer(), nullable=True),
    sa.Column('intention_due_days', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['intention_type_id'], ['case_lookup.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'code', name='uq_rent_stage_org_code')
    )
    with op.batch_alter_table('rent_stage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rent_stage_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('rent_tenancy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('rent_account', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('patch', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('officer_user_id', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('weekly_rent_pence', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('balance_pence', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('arrears_weeks_x100', sa.Integer(), nullable=False),
    sa.Column('trend_4w_pence', sa.Integer(), nullable=False),
    sa.Column('trend_13w_pence', sa.Integer(), nullable=False),
    sa.Column('last_payment_on', sa.Date(), nullable=True),
    sa.Column('computed_on', sa.Date(), nullable=True),
    sa.Column('stage_id', sa.Integer(), nullable=True),
    sa.Column('stage_entered_on', sa.Date(), nullable=True),
    sa.Column('arrangement_broken', sa.Boolean(), nullable=False),
    sa.Column('last_contact_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], ),
    sa.ForeignKeyConstraint(['officer_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['place_id'], ['place.id'], ),
    sa.ForeignKeyConstraint(['stage_id'], ['rent_stage.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'rent_account', name='uq_rent_tenancy_org_account')
    )
    with op.batch_alter_table('rent_tenancy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rent_tenancy_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rent_tenancy_officer_user_id'), ['officer_user_id'], unique=False)
        batch_op.create_index('ix_rent_tenancy_org_arrears', ['organisation_id', 'arrears_weeks_x100'], unique=False)
        batch_op.create_index('ix_rent_tenancy_org_stage', ['organisation_id', 'stage_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rent_tenancy_place_id'), ['place_id'], unique=False)

    op.create_table('rent_arrangement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('tenancy_id', sa.Integer(), nullable=False),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('frequency', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('broken_on', sa.Date(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('active', 'broken', 'ended')", name='ck_rent_arrangement_status'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['tenancy_id'], ['rent_tenancy.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rent_arrangement', schema=None) as batch_op:
        batch_op.create_index('ix_rent_arrangement_org_status', ['organisation_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_rent_arrangement_tenancy_id'), ['tenancy_id'], unique=False)

    op.create_table('rent_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('tenancy_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('stage_id', sa.Integer(), nullable=True),
    sa.Column('template_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('produced_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['stage_id'], ['rent_stage.id'], ),
    sa.ForeignKeyConstraint(['tenancy_id'], ['rent_tenancy.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rent_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rent_letter_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rent_letter_tenancy_id'), ['tenancy_id'], unique=False)

    op.create_table('rent_tenant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('tenancy_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['tenancy_id'], ['rent_tenancy.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenancy_id', 'person_id', name='uq_rent_tenant')
    )
    with op.batch_alter_table('rent_tenant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rent_tenant_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rent_tenant_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rent_tenant_tenancy_id'), ['tenancy_id'], unique=False)

    op.create_table('rent_transaction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('tenancy_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('posted_on', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('import_job_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('charge', 'payment', 'housing_benefit', 'universal_credit', 'adjustment')", name='ck_rent_transaction_kind'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['tenancy_id'], ['rent_tenancy.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'external_id', name='uq_rent_transaction_org_external')
    )
    with op.batch_alter_table('rent_transaction', schema=None) as batch_op:
        batch_op.create_index('ix_rent_transaction_tenancy_posted', ['tenancy_id', 'posted_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rent_transaction', schema=None) as batch_op:
        batch_op.drop_index('ix_rent_transaction_tenancy_posted')

    op.drop_table('rent_transaction')
    with op.batch_alter_table('rent_tenant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rent_tenant_tenancy_id'))
        batch_op.drop_index(batch_op.f('ix_rent_tenant_person_id'))
        batch_op.drop_index(batch_op.f('ix_rent_tenant_organisation_id'))

    op.drop_table('rent_tenant')
    with op.batch_alter_table('rent_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rent_letter_tenancy_id'))
        batch_op.drop_index(batch_op.f('ix_rent_letter_organisation_id'))

    op.drop_table('rent_letter')
    with op.batch_alter_table('rent_arrangement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rent_arrangement_tenancy_id'))
        batch_op.drop_index('ix_rent_arrangement_org_status')

    op.drop_table('rent_arrangement')
    with op.batch_alter_table('rent_tenancy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rent_tenancy_place_id'))
        batch_op.drop_index('ix_rent_tenancy_org_stage')
        batch_op.drop_index('ix_rent_tenancy_org_arrears')
        batch_op.drop_index(batch_op.f('ix_rent_tenancy_officer_user_id'))
        batch_op.drop_index(batch_op.f('ix_rent_tenancy_case_id'))

    op.drop_table('rent_tenancy')
    with op.batch_alter_table('rent_stage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rent_stage_organisation_id'))

    op.drop_table('rent_stage')
