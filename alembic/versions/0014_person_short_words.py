"""person short words: an index of the one- and two-letter words of people's names

The trigram indexes of 0010 (pg_trgm on PostgreSQL, FTS5 trigram on SQLite) only see words of three letters or
more, so "Li", "Ng", "Wu", "Xu", "Ho", "Jo" or "Al" could only be found by reading people row by row.
``person_short_word`` holds each such word of ``person.name_norm`` exactly, one row per (word, person), keyed by
word for the search. Database triggers keep it in step with ``person`` in the same transaction as the change:
a new person, a change of name, a merge (a merged person has no rows: the search never returns them) and a delete.
The words are the normalised ones (``services.casework_search.normalise``: lower case, accents folded), so the
triggers only split ``name_norm`` on spaces. The existing people are backfilled here.

Note for later migrations: on SQLite, a batch operation that recreates ``person`` drops its triggers; run
``create_sqlite_triggers`` below again after such a change (as for the 0010 triggers).

Revision ID: 0014
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0014'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = ("person_short_word_ai", "person_short_word_au", "person_short_word_ad")


def _sqlite_words(row: str, source: str = "") -> str:
    """SELECT of (word, person_id) for the short words of ``row`` (``new`` in a trigger, ``person`` in the
    backfill, with ``source`` "person, "). SQLite triggers cannot use a recursive CTE, so the words are split by json_each over
    '["w1","w2"]'; name_norm holds only a-z, 0-9 and single spaces, and anything else yields no words rather
    than an error."""
    array = f"""'["' || replace({row}.name_norm, ' ', '","') || '"]'"""
    return (f"SELECT DISTINCT w.value, {row}.id FROM {source}json_each(CASE WHEN json_valid({array}) THEN {array} "
            f"ELSE '[]' END) AS w WHERE length(w.value) BETWEEN 1 AND 2 AND {row}.merged_into_id IS NULL")


def create_sqlite_triggers() -> None:
    insert = "INSERT OR IGNORE INTO person_short_word (word, person_id) "
    op.execute(f"CREATE TRIGGER IF NOT EXISTS person_short_word_ai AFTER INSERT ON person BEGIN "
               f"{insert}{_sqlite_words('new')}; END")
    op.execute(f"CREATE TRIGGER IF NOT EXISTS person_short_word_au "
               f"AFTER UPDATE OF name_norm, merged_into_id ON person BEGIN "
               f"DELETE FROM person_short_word WHERE person_id = old.id; "
               f"{insert}{_sqlite_words('new')}; END")
    op.execute("CREATE TRIGGER IF NOT EXISTS person_short_word_ad AFTER DELETE ON person BEGIN "
               "DELETE FROM person_short_word WHERE person_id = old.id; END")


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION person_short_word_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM person_short_word WHERE person_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM person_short_word WHERE person_id = OLD.id;
    END IF;
    IF NEW.merged_into_id IS NULL THEN
        INSERT INTO person_short_word (word, person_id)
        SELECT DISTINCT w, NEW.id FROM unnest(string_to_array(NEW.name_norm, ' ')) AS w
        WHERE length(w) BETWEEN 1 AND 2;
    END IF;
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.create_table('person_short_word',
    sa.Column('word', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('word', 'person_id')
    )
    with op.batch_alter_table('person_short_word', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_short_word_person_id'), ['person_id'], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        # Inserts and renames after the row is written; deletes before, so the words go before the person does.
        op.execute("CREATE TRIGGER person_short_word_iu AFTER INSERT OR UPDATE OF name_norm, merged_into_id "
                   "ON person FOR EACH ROW EXECUTE FUNCTION person_short_word_sync()")
        op.execute("CREATE TRIGGER person_short_word_d BEFORE DELETE ON person "
                   "FOR EACH ROW EXECUTE FUNCTION person_short_word_sync()")
        op.execute("INSERT INTO person_short_word (word, person_id) "
                   "SELECT DISTINCT w, p.id FROM person AS p, unnest(string_to_array(p.name_norm, ' ')) AS w "
                   "WHERE length(w) BETWEEN 1 AND 2 AND p.merged_into_id IS NULL")
    elif dialect == "sqlite":
        create_sqlite_triggers()
        op.execute(f"INSERT OR IGNORE INTO person_short_word (word, person_id) {_sqlite_words('person', 'person, ')}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS person_short_word_iu ON person")
        op.execute("DROP TRIGGER IF EXISTS person_short_word_d ON person")
        op.execute("DROP FUNCTION IF EXISTS person_short_word_sync()")
    elif dialect == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    with op.batch_alter_table('person_short_word', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_short_word_person_id'))

    op.drop_table('person_short_word')
