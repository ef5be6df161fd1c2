"""payments

Revision ID: ef734f28074b
Revises: 0002
Create Date: 2026-11-22 08:11:46.773318
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db


revision: str = 'ef734f28074b'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('processed_webhook_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('received_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('processed_webhook_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_webhook_event_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('checkout_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider_session_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('success_url', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('cancel_url', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('payment_intent_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_pence > 0', name='ck_checkout_attempt_amount'),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('provider_session_id')
    )
    with op.batch_alter_table('checkout_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_checkout_attempt_booking_status', ['booking_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkout_attempt_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkout_attempt_payment_intent_id'), ['payment_intent_id'], unique=False)

    op.create_table('payment_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('special_request_id', sa.Integer(), nullable=True),
    sa.Column('total_pence', sa.Integer(), nullable=False),
    sa.Column('allow_attend_on_plan', sa.Boolean(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('approved_by_user_id', sa.Integer(), nullable=True),
    sa.Column('approved_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('approved_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('total_pence > 0', name='ck_payment_plan_total'),
    sa.ForeignKeyConstraint(['approved_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['special_request_id'], ['special_request.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payment_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_plan_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_plan_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('uq_payment_plan_one_active_per_booking', ['booking_id'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider_ref', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('fee_pence', sa.Integer(), nullable=True),
    sa.Column('refunded_pence', sa.Integer(), nullable=False),
    sa.Column('checkout_attempt_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('received_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('needs_attention', sa.Boolean(), nullable=False),
    sa.Column('attention_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('attention_resolved_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attention_resolved_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_pence > 0', name='ck_payment_amount'),
    sa.CheckConstraint('fee_pence IS NULL OR fee_pence >= 0', name='ck_payment_fee'),
    sa.CheckConstraint('refunded_pence >= 0 AND refunded_pence <= amount_pence', name='ck_payment_refunded'),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], ),
    sa.ForeignKeyConstraint(['checkout_attempt_id'], ['checkout_attempt.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('checkout_attempt_id')
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index('ix_payment_booking_status', ['booking_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_needs_attention'), ['needs_attention'], unique=False)
        batch_op.create_index('ix_payment_org_received', ['organisation_id', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_provider_ref'), ['provider_ref'], unique=False)

    op.create_table('plan_instalment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount_pence > 0', name='ck_plan_instalment_amount'),
    sa.ForeignKeyConstraint(['plan_id'], ['payment_plan.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'seq', name='uq_plan_instalment_seq')
    )
    with op.batch_alter_table('plan_instalment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_instalment_plan_id'), ['plan_id'], unique=False)

    op.create_table('refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('amount_pence', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('provider_ref', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('by_username', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.CheckConstraint('amount_pence > 0', name='ck_refund_amount'),
    sa.CheckConstraint('length(reason) > 0', name='ck_refund_reason'),
    sa.ForeignKeyConstraint(['by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_ref')
    )
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.create_index('ix_refund_org_at', ['organisation_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_refund_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refund_payment_id'), ['payment_id'], unique=False)


def downgrade() -> None:
    op.drop_table('refund')
    op.drop_table('plan_instalment')
    op.drop_table('payment')
    op.drop_table('payment_plan')
    op.drop_table('checkout_attempt')
    op.drop_table('processed_webhook_event')
