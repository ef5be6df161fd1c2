"""dashboard rollups: daily totals behind the dashboards, kept in step by triggers

Creates the four rollup tables (``dashboard_demand_day``, ``dashboard_booking_day``, ``dashboard_income_day``,
``dashboard_session_outcome``), the row triggers on ``case_demand``, ``case_file``, ``booking`` and ``payment`` that
maintain them (plpgsql functions on PostgreSQL, SQL triggers on SQLite), fills them from the existing rows, and adds
the partial index of bookings awaiting payment. The SQL lives in ``atlas_app/dashboard_rollups.py``.

Note for later migrations: on SQLite, a batch operation that recreates ``case_demand``, ``case_file``, ``booking`` or
``payment`` drops their triggers; recreate them afterwards (``dashboard_rollups.create_triggers('sqlite')``) and run
the backfill again.

Revision ID: 0013
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app import dashboard_rollups

revision: str = '0013'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AWAITING = sa.text("status = 'awaiting_payment'")


def upgrade() -> None:
    op.create_table(
        'dashboard_demand_day',
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('module_id', sa.Integer(), nullable=False),
        sa.Column('opened_by_id', sa.Integer(), nullable=False),
        sa.Column('demand_type_id', sa.Integer(), nullable=False),
        sa.Column('demand_class', sa.String(length=10), nullable=False),
        sa.Column('demands', sa.Integer(), nullable=False),
        sa.Column('one_stop', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('organisation_id', 'day', 'module_id', 'opened_by_id', 'demand_type_id',
                                'demand_class'),
    )
    op.create_table(
        'dashboard_booking_day',
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('made', sa.Boolean(), nullable=False),
        sa.Column('pay_state', sa.String(length=10), nullable=False),
        sa.Column('bookings', sa.Integer(), nullable=False),
        sa.Column('fee_pence', sa.BigInteger(), nullable=False),
        sa.Column('settled_pence', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('organisation_id', 'day', 'channel', 'made', 'pay_state'),
    )
    op.create_table(
        'dashboard_income_day',
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('payments', sa.Integer(), nullable=False),
        sa.Column('amount_pence', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('organisation_id', 'day'),
    )
    op.create_table(
        'dashboard_session_outcome',
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('bookings', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('session_id', 'status'),
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index('ix_booking_org_awaiting', ['organisation_id', 'created_at'], unique=False,
                              sqlite_where=AWAITING, postgresql_where=AWAITING)
    dialect = op.get_bind().dialect.name
    for statement in dashboard_rollups.create_triggers(dialect) + dashboard_rollups.backfill(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in dashboard_rollups.drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index('ix_booking_org_awaiting', sqlite_where=AWAITING, postgresql_where=AWAITING)
    op.drop_table('dashboard_session_outcome')
    op.drop_table('dashboard_income_day')
    op.drop_table('dashboard_booking_day')
    op.drop_table('dashboard_demand_day')
