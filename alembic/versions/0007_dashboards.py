"""dashboards: capability change points and the indexes the dashboard queries use

Revision ID: 0007
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db

revision: str = '0007'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'capability_change_point',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('module_id', sa.Integer(), nullable=True),
        sa.Column('changed_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
        sa.ForeignKeyConstraint(['module_id'], ['case_module.id'], ),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('capability_change_point', schema=None) as batch_op:
        batch_op.create_index('ix_capability_change_point_org_at', ['organisation_id', 'changed_at'], unique=False)
    with op.batch_alter_table('case_demand', schema=None) as batch_op:
        batch_op.create_index('ix_case_demand_org_received', ['organisation_id', 'received_at'], unique=False,
                              postgresql_include=['demand_type_id', 'demand_class', 'one_stop'])
        batch_op.create_index('ix_case_demand_org_need_met', ['organisation_id', 'need_met_at'], unique=False)
    with op.batch_alter_table('case_system_condition', schema=None) as batch_op:
        batch_op.create_index('ix_case_system_condition_org_recorded', ['organisation_id', 'recorded_at'],
                              unique=False)
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_org_id', ['organisation_id', 'id'], unique=False)
    # Covering indexes (PostgreSQL) for the booking and income measures.
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index('ix_booking_org_created')
        batch_op.create_index('ix_booking_org_created', ['organisation_id', 'created_at'], unique=False,
                              postgresql_include=['status', 'channel', 'transferred_from_id', 'fee_pence'])
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_org_received')
        batch_op.create_index('ix_payment_org_received', ['organisation_id', 'received_at'], unique=False,
                              postgresql_include=['status', 'method', 'amount_pence', 'refunded_pence'])


def downgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_org_received')
        batch_op.create_index('ix_payment_org_received', ['organisation_id', 'received_at'], unique=False)
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index('ix_booking_org_created')
        batch_op.create_index('ix_booking_org_created', ['organisation_id', 'created_at'], unique=False)
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_org_id')
    with op.batch_alter_table('case_system_condition', schema=None) as batch_op:
        batch_op.drop_index('ix_case_system_condition_org_recorded')
    with op.batch_alter_table('case_demand', schema=None) as batch_op:
        batch_op.drop_index('ix_case_demand_org_need_met')
        batch_op.drop_index('ix_case_demand_org_received')
    with op.batch_alter_table('capability_change_point', schema=None) as batch_op:
        batch_op.drop_index('ix_capability_change_point_org_at')
    op.drop_table('capability_change_point')
