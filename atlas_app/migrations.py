"""Running Alembic from code (the CLI, the app's tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from atlas_app.settings import PROJECT_ROOT


# Search indexes that exist on one database only (alembic/versions/0010_person_search.py), so they are not in the
# models: the FTS5 table on SQLite (with its shadow tables) and the trigram GIN index on PostgreSQL.
DIALECT_ONLY_TABLE_PREFIX = "person_name_fts"
DIALECT_ONLY_INDEXES = frozenset({"ix_person_name_trgm"})


def is_dialect_only_table(name: str | None) -> bool:
    return bool(name) and (name == DIALECT_ONLY_TABLE_PREFIX or name.startswith(DIALECT_ONLY_TABLE_PREFIX + "_"))


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
