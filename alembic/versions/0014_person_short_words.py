"""person short words: names with words of one or two letters ("Li", "Ng", "Wu", "Jo") found through an index

The name indexes of 0010 find words of three letters or more. For shorter words:

* PostgreSQL needs nothing new: the pg_trgm index also answers a short word when the pattern carries the word's
  boundaries (``LIKE '% li %'`` has the trigrams "  l", " li" and "li "), so the search asks for it that way
  (services/casework_people.py).
* SQLite's FTS5 trigram tokenizer cannot look up fewer than three characters, so ``person_short_word`` holds each
  word of one or two letters of ``person.name_norm`` exactly, one row per (word, person). Triggers keep it in step
  with ``person`` in the same transaction as the change: a new person, a change of name, a merge (a merged person
  has no rows: the search never returns them) and a delete. The words are the normalised ones
  (``services.casework_search.normalise``: lower case, accents folded), so the triggers only split ``name_norm`` on
  spaces. The existing people are backfilled here.

The table is not in the models (it exists on SQLite only); ``atlas_app.migrations`` keeps it out of the
models/migrations comparison.

Note for later migrations: on SQLite, a batch operation that recreates ``person`` drops its triggers; run
``create_sqlite_triggers`` below again after such a change (as for the 0010 triggers).

Revision ID: 0014
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = ("person_short_word_ai", "person_short_word_au", "person_short_word_ad")


def _sqlite_words(row: str, source: str = "") -> str:
    """SELECT of (word, person_id) for the short words of ``row`` (``new`` in a trigger; ``person`` in the
    backfill, with ``source`` "person, "). SQLite triggers cannot use a recursive CTE, so the words are split by
    json_each over '["w1","w2"]'; name_norm holds only a-z, 0-9 and single spaces, and anything else yields no
    words rather than an error."""
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


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table('person_short_word',
    sa.Column('word', sa.String(length=2), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('word', 'person_id')
    )
    op.create_index('ix_person_short_word_person_id', 'person_short_word', ['person_id'], unique=False)
    create_sqlite_triggers()
    op.execute(f"INSERT OR IGNORE INTO person_short_word (word, person_id) {_sqlite_words('person', 'person, ')}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_index('ix_person_short_word_person_id', table_name='person_short_word')
    op.drop_table('person_short_word')
