"""status checks: the database keeps every status column to its enum's values

Adds a CHECK constraint to each column in ``atlas_app.domain.statuses.STATUS_COLUMNS`` (booking, offer, course
session, payment, refund, checkout attempt, payment plan, special request, case and demand class), built from the
enum by ``check_sql``, so a status outside the vocabulary can be written neither by code nor by hand in SQL.

On PostgreSQL it is a plain ``ADD CONSTRAINT ... CHECK``. On SQLite each table is recreated (batch mode); a
recreate drops the table's triggers, so the dashboard rollup triggers of migration 0013 (on ``booking``,
``payment``, ``case_demand`` and ``case_file``) are dropped first and created again afterwards, and the rollups
rebuilt from the rows. Foreign keys are off while the tables are swapped for their copies and checked before the
commit (``alembic/env.py``).

The lists are written into this revision as they stand now: a later change of an enum needs its own migration.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

from atlas_app import dashboard_rollups

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, allowed values): the values of the enums at this revision.
CHECKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ('booking', 'status', ('held', 'awaiting_payment', 'confirmed', 'attended', 'did_not_attend', 'turned_away',
                           'cancelled', 'transferred', 'expired')),
    ('offer', 'status', ('referred', 'booked', 'completed', 'did_not_attend', 'expired', 'returned')),
    ('course_session', 'status', ('scheduled', 'cancelled', 'completed')),
    ('payment', 'status', ('pending', 'succeeded', 'failed')),
    ('refund', 'status', ('pending', 'succeeded', 'failed')),
    ('checkout_attempt', 'status', ('open', 'complete', 'expired', 'failed')),
    ('payment_plan', 'status', ('active', 'complete', 'cancelled')),
    ('special_request', 'status', ('open', 'approved', 'declined')),
    ('case_file', 'status', ('open', 'closed')),
    ('case_demand', 'demand_class', ('value', 'failure')),
)


def _name(table: str, column: str) -> str:
    return f'ck_{table}_{column}'


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite_recreate(change) -> None:
    for statement in dashboard_rollups.drop_triggers('sqlite'):
        op.execute(statement)
    for table, column, values in CHECKS:
        with op.batch_alter_table(table, recreate='always') as batch_op:
            change(batch_op, table, column, values)
    for statement in dashboard_rollups.create_triggers('sqlite') + dashboard_rollups.backfill('sqlite'):
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table, column, values in CHECKS:
            op.create_check_constraint(_name(table, column), table, _condition(column, values))
        return
    _sqlite_recreate(lambda batch_op, table, column, values: batch_op.create_check_constraint(
        _name(table, column), _condition(column, values)))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table, column, _ in CHECKS:
            op.drop_constraint(_name(table, column), table, type_='check')
        return
    _sqlite_recreate(lambda batch_op, table, column, values: batch_op.drop_constraint(
        _name(table, column), type_='check'))
