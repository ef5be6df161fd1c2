"""person search: indexes that make name search fast on a million people

* PostgreSQL: the pg_trgm extension and a GIN trigram index on the name and its Soundex keys
  (``name_norm || ' ' || given_key || ' ' || family_key``, e.g. "jonathan smith J535 S530"), so that "the name
  contains the word" (``LIKE '%word%'``) and "sounds like it" (``LIKE '%S530%'``) are both answered from the index
  instead of a full scan (words of three letters or more).
* SQLite: ``person_name_fts``, a contentless FTS5 table with the trigram tokenizer over ``person.name_norm`` and
  the Soundex keys (``given_key || ' ' || family_key``), kept in step by triggers on ``person``. The search asks it
  ``name_norm : "word"`` (the same substring test as LIKE) or ``name_keys : "J500"`` (sounds like).

Neither object is in the models (they exist on one database only); ``atlas_app.migrations.include_object`` keeps
them out of the models/migrations comparison.

Note for later migrations: on SQLite, a batch operation that recreates ``person`` drops its triggers; recreate
them after such a change (drop ``person_name_fts`` and run ``create_sqlite_name_index`` below again).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = ("person_name_fts_ai", "person_name_fts_ad", "person_name_fts_au")


def create_sqlite_name_index() -> None:
    # Contentless: the table holds only the index. name_keys holds the Soundex keys ("J500 S530") so that one
    # query answers "contains the word or sounds like it" for every word.
    op.execute("CREATE VIRTUAL TABLE IF NOT EXISTS person_name_fts USING fts5("
               "name_norm, name_keys, content='', tokenize='trigram')")
    op.execute("CREATE TRIGGER IF NOT EXISTS person_name_fts_ai AFTER INSERT ON person BEGIN "
               "INSERT INTO person_name_fts(rowid, name_norm, name_keys) "
               "VALUES (new.id, new.name_norm, new.given_key || ' ' || new.family_key); END")
    op.execute("CREATE TRIGGER IF NOT EXISTS person_name_fts_ad AFTER DELETE ON person BEGIN "
               "INSERT INTO person_name_fts(person_name_fts, rowid, name_norm, name_keys) "
               "VALUES ('delete', old.id, old.name_norm, old.given_key || ' ' || old.family_key); END")
    op.execute("CREATE TRIGGER IF NOT EXISTS person_name_fts_au "
               "AFTER UPDATE OF name_norm, given_key, family_key ON person BEGIN "
               "INSERT INTO person_name_fts(person_name_fts, rowid, name_norm, name_keys) "
               "VALUES ('delete', old.id, old.name_norm, old.given_key || ' ' || old.family_key); "
               "INSERT INTO person_name_fts(rowid, name_norm, name_keys) "
               "VALUES (new.id, new.name_norm, new.given_key || ' ' || new.family_key); END")
    op.execute("INSERT INTO person_name_fts(rowid, name_norm, name_keys) "
               "SELECT id, name_norm, given_key || ' ' || family_key FROM person")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # The expression must stay as in services/casework_people.PG_NAME_SEARCH.
        op.execute("CREATE INDEX IF NOT EXISTS ix_person_name_trgm ON person USING gin "
                   "((person.name_norm || ' ' || person.given_key || ' ' || person.family_key) gin_trgm_ops)")
    elif dialect == "sqlite":
        create_sqlite_name_index()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # The extension stays: other objects may use it, and it is harmless.
        op.execute("DROP INDEX IF EXISTS ix_person_name_trgm")
    elif dialect == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS person_name_fts")
