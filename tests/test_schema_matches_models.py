"""The migrated database and the models agree (Alembic's autogenerate comparison finds nothing to do), on the
dialect the suite runs on (SQLite, or PostgreSQL with DATABASE_URL). The only objects left out are the dialect-only
search tables and indexes (atlas_app/migrations.py), and they are exactly what the unfiltered comparison finds."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import atlas_app.models  # noqa: F401  (every table)
from atlas_app.db import get_engine
from atlas_app.migrations import DIALECT_ONLY_INDEXES, include_object, is_dialect_only_table
from conftest import DIALECT


def differences(**opts) -> list:
    with get_engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "compare_server_default": True, **opts})
        return compare_metadata(context, SQLModel.metadata)


def test_autogenerate_finds_no_difference_between_models_and_schema():
    assert differences(include_object=include_object) == []


def test_only_the_dialect_only_search_objects_are_left_out():
    left_out = differences()
    assert left_out, "the dialect-only search objects should exist in the database"
    assert all(d[0] in ("remove_table", "remove_index") for d in left_out), left_out
    for diff in left_out:
        name = diff[1].name
        table = diff[1].table.name if diff[0] == "remove_index" else name
        assert is_dialect_only_table(table) or name in DIALECT_ONLY_INDEXES, diff
    expected = "ix_person_name_trgm" if DIALECT == "postgresql" else "person_name_fts"
    assert expected in {d[1].name for d in left_out}


def test_reflex_does_not_run_its_own_unfiltered_schema_check():
    """Reflex compares rx.Model metadata with the database at start when rxconfig names a db_url, without the
    exclusions above, and would report the search objects as schema changes: Atlas gives it no db_url."""
    from reflex.utils import prerequisites
    from reflex_base.config import get_config

    assert get_config().db_url is None
    assert not prerequisites.check_db_used()
