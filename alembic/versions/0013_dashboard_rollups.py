"""dashboard rollups: daily totals behind the dashboards, kept in step by triggers

Creates the four rollup tables (``dashboard_demand_day``, ``dashboard_booking_day``, ``dashboard_income_day``,
``dashboard_session_outcome``; each with a surrogate id, a ``pending`` flag and a key unique among settled rows),
the row triggers on ``case_demand``, ``case_file``, ``booking`` and ``payment`` that
maintain them (plpgsql functions on PostgreSQL, SQL triggers on SQLite), fills them from the existing rows, and adds
the partial index of bookings awaiting payment. The SQL lives in ``atlas_app/dashboard_rollups.py``.

Note for later migrations: on SQLite, a batch operation that recreates ``case_demand``, ``case_file``, ``booking`` or
``payment`` drops their triggers; recreate them afterwards (``dashboard_rollups.create_triggers('sqlite')``) and run
the backfill again.

Revision ID: 0013
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app import dashboard_rollups

revision: str = '0013'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AWAITING = sa.text("status = 'awaiting_payment'")


ROLLUPS = {
    'dashboard_demand_day': (
        [sa.Column('module_id', sa.Integer(), nullable=False), sa.Column('opened_by_id', sa.Integer(), nullable=False),
         sa.Column('demand_type_id', sa.Integer(), nullable=False),
         sa.Column('demand_class', sa.String(length=10), nullable=False),
         sa.Column('demands', sa.Integer(), nullable=False), sa.Column('one_stop', sa.Integer(), nullable=False)],
        ['organisation_id', 'day', 'module_id', 'opened_by_id', 'demand_type_id', 'demand_class'],
        ['organisation_id', 'day']),
    'dashboard_booking_day': (
        [sa.Column('channel', sa.String(length=20), nullable=False), sa.Column('made', sa.Boolean(), nullable=False),
         sa.Column('pay_state', sa.String(length=10), nullable=False),
         sa.Column('bookings', sa.Integer(), nullable=False), sa.Column('fee_pence', sa.BigInteger(), nullable=False),
         sa.Column('settled_pence', sa.BigInteger(), nullable=False)],
        ['organisation_id', 'day', 'channel', 'made', 'pay_state'], ['organisation_id', 'day']),
    'dashboard_income_day': (
        [sa.Column('payments', sa.Integer(), nullable=False),
         sa.Column('amount_pence', sa.BigInteger(), nullable=False)],
        ['organisation_id', 'day'], ['organisation_id', 'day']),
    'dashboard_session_outcome': (
        [sa.Column('session_id', sa.Integer(), nullable=False),
         sa.Column('status', sa.String(length=20), nullable=False),
         sa.Column('bookings', sa.Integer(), nullable=False)],
        ['session_id', 'status'], ['session_id']),
}


def upgrade() -> None:
    for table, (columns, keys, lookup) in ROLLUPS.items():
        head = [sa.Column('id', sa.Integer(), nullable=False),
                sa.Column('pending', sa.Boolean(), server_default=sa.true(), nullable=False)]
        if table != 'dashboard_session_outcome':
            head += [sa.Column('organisation_id', sa.Integer(), nullable=False),
                     sa.Column('day', sa.Date(), nullable=False)]
        op.create_table(table, *head, *columns, sa.PrimaryKeyConstraint('id'))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f'uq_{table}_key', keys, unique=True, sqlite_where=sa.text('NOT pending'),
                                  postgresql_where=sa.text('NOT pending'))
            batch_op.create_index(f'ix_{table}_lookup', lookup, unique=False)
            batch_op.create_index(f'ix_{table}_pending', ['id'], unique=False, sqlite_where=sa.text('pending'),
                                  postgresql_where=sa.text('pending'))
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
    for table in reversed(ROLLUPS):
        op.drop_table(table)
