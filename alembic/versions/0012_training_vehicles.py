"""training vehicles as bookable resources, and the instructor daily limit kept by the database

A per-organisation fleet of training cars; an assignment may hold one (``vehicle_id``). On PostgreSQL an exclusion
constraint refuses two overlapping active assignments of one car, as for instructors; on SQLite the service checks
inside its BEGIN IMMEDIATE write transaction.

``session_assignment.session_day`` (the session's Europe/London date) lets a trigger count an instructor's active
assignments on a day against ``instructor.max_sessions_per_day``: on PostgreSQL a PL/pgSQL trigger locks the
instructor's row first (so concurrent writers queue), on SQLite a RAISE(ABORT) trigger (one writer at a time).

Revision ID: 0012
Revises: 0006
Create Date: 2026-11-27 19:20:00
"""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op

import atlas_app.db


revision: str = '0012'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMIT_MESSAGE = 'instructor_daily_limit'

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION session_assignment_daily_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    most integer;
    taken integer;
BEGIN
    IF NEW.status <> 'active' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'active' AND OLD.instructor_id = NEW.instructor_id
            AND OLD.session_day = NEW.session_day THEN
        RETURN NEW;
    END IF;
    -- Writers for one instructor queue here, so each counts what the one before it committed.
    SELECT max_sessions_per_day INTO most FROM instructor WHERE id = NEW.instructor_id FOR UPDATE;
    SELECT count(*) INTO taken FROM session_assignment
     WHERE instructor_id = NEW.instructor_id AND status = 'active' AND session_day = NEW.session_day
       AND id <> NEW.id;
    IF taken >= most THEN
        RAISE EXCEPTION '{LIMIT_MESSAGE}: instructor % already has % active assignments on %',
            NEW.instructor_id, taken, NEW.session_day
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tr_assignment_daily_limit';
    END IF;
    RETURN NEW;
END
$$
"""

SQLITE_COUNT = (
    "(SELECT count(*) FROM session_assignment WHERE instructor_id = NEW.instructor_id AND status = 'active' "
    "AND session_day = NEW.session_day{extra}) >= "
    "(SELECT max_sessions_per_day FROM instructor WHERE id = NEW.instructor_id)"
)


def upgrade() -> None:
    op.create_table('training_vehicle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('registration', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('vehicle_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('home_region_id', sa.Integer(), nullable=True),
    sa.Column('home_venue_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('notes', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', atlas_app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', atlas_app.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("vehicle_type IN ('manual', 'automatic')", name='ck_training_vehicle_type'),
    sa.ForeignKeyConstraint(['home_region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['home_venue_id'], ['venue.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'registration', name='uq_training_vehicle_org_registration')
    )
    with op.batch_alter_table('training_vehicle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_vehicle_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('session_assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vehicle_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('session_day', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_session_assignment_vehicle_id'), ['vehicle_id'], unique=False)
        batch_op.create_foreign_key('fk_session_assignment_vehicle_id', 'training_vehicle', ['vehicle_id'], ['id'])

    # Existing assignments: the London date of their session.
    bind = op.get_bind()
    london = ZoneInfo('Europe/London')
    assignment = sa.table('session_assignment', sa.column('id', sa.Integer), sa.column('session_day', sa.Date))
    rows = bind.execute(sa.text(
        'SELECT a.id, s.starts_at FROM session_assignment a JOIN course_session s ON s.id = a.session_id'
    ).columns(sa.column('id', sa.Integer), sa.column('starts_at', atlas_app.db.UTCDateTime()))).all()
    for assignment_id, starts_at in rows:
        bind.execute(assignment.update().where(assignment.c.id == assignment_id)
                     .values(session_day=starts_at.astimezone(london).date()))
    with op.batch_alter_table('session_assignment', schema=None) as batch_op:
        batch_op.alter_column('session_day', existing_type=sa.Date(), nullable=False)

    if bind.dialect.name == 'postgresql':
        op.execute(
            "ALTER TABLE session_assignment ADD CONSTRAINT ex_assignment_vehicle_overlap "
            "EXCLUDE USING gist (vehicle_id WITH =, tstzrange(block_start, block_end, '[)') WITH &&) "
            "WHERE (status = 'active' AND vehicle_id IS NOT NULL)"
        )
        op.execute(PG_FUNCTION)
        op.execute(
            'CREATE TRIGGER tr_assignment_daily_limit BEFORE INSERT OR UPDATE OF status, instructor_id, session_day '
            'ON session_assignment FOR EACH ROW EXECUTE FUNCTION session_assignment_daily_limit()'
        )
    else:
        op.execute(
            'CREATE TRIGGER tr_assignment_daily_limit_insert BEFORE INSERT ON session_assignment '
            f"WHEN NEW.status = 'active' AND {SQLITE_COUNT.format(extra='')} "
            f"BEGIN SELECT RAISE(ABORT, '{LIMIT_MESSAGE}'); END"
        )
        op.execute(
            'CREATE TRIGGER tr_assignment_daily_limit_update '
            'BEFORE UPDATE OF status, instructor_id, session_day ON session_assignment '
            "WHEN NEW.status = 'active' AND NOT (OLD.status = 'active' AND OLD.instructor_id = NEW.instructor_id "
            f"AND OLD.session_day = NEW.session_day) AND {SQLITE_COUNT.format(extra=' AND id <> NEW.id')} "
            f"BEGIN SELECT RAISE(ABORT, '{LIMIT_MESSAGE}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS tr_assignment_daily_limit ON session_assignment')
        op.execute('DROP FUNCTION IF EXISTS session_assignment_daily_limit()')
        op.execute('ALTER TABLE session_assignment DROP CONSTRAINT IF EXISTS ex_assignment_vehicle_overlap')
    else:
        op.execute('DROP TRIGGER IF EXISTS tr_assignment_daily_limit_insert')
        op.execute('DROP TRIGGER IF EXISTS tr_assignment_daily_limit_update')
    with op.batch_alter_table('session_assignment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_session_assignment_vehicle_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_session_assignment_vehicle_id'))
        batch_op.drop_column('session_day')
        batch_op.drop_column('vehicle_id')

    with op.batch_alter_table('training_vehicle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_vehicle_organisation_id'))

    op.drop_table('training_vehicle')
