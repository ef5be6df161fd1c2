"""Running Alembic from code (the CLI, the app's tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from atlas_app.settings import PROJECT_ROOT


# Search indexes that exist on one database only (alembic/versions/0010_person_search.py and
# 0014_person_short_words.py), so they are not in the models: on SQLite the FTS5 table (with its shadow tables) and
# the table of short words; on PostgreSQL the trigram GIN index. All of them follow ``person`` through triggers.
DIALECT_ONLY_TABLE_PREFIX = "person_name_fts"
DIALECT_ONLY_TABLES = frozenset({"person_short_word"})
DIALECT_ONLY_INDEXES = frozenset({"ix_person_name_trgm"})


def is_dialect_only_table(name: str | None) -> bool:
    return bool(name) and (name == DIALECT_ONLY_TABLE_PREFIX or name.startswith(DIALECT_ONLY_TABLE_PREFIX + "_")
                           or name in DIALECT_ONLY_TABLES)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic hook: leave the dialect-only search objects out of the models/migrations comparison."""
    if type_ == "table" and is_dialect_only_table(name):
        return False
    if type_ == "index" and name in DIALECT_ONLY_INDEXES:
        return False
    return True


def alembic_config() -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return cfg


def upgrade_head() -> None:
    command.upgrade(alembic_config(), "head")
