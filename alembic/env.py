"""Alembic environment: the schema's only source. The URL comes from Atlas settings (DATABASE_URL)."""

from alembic import context
from sqlmodel import SQLModel

import atlas_app.models  # noqa: F401  (registers every table)
from atlas_app.db import get_engine
from atlas_app.migrations import include_object

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    with get_engine().connect() as connection:
        _run(connection)


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A table recreated in batch mode is dropped and its copy renamed in its place; with foreign keys on,
        # dropping a table other rows refer to fails. They are off while migrating and checked before the commit
        # (SQLite's own procedure for changing a table), then on again for whoever uses the connection next.
        _pragma(connection, "foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:10]}")
    if connection.in_transaction():
        connection.commit()
    if sqlite:
        _pragma(connection, "foreign_keys=ON")


def _pragma(connection, setting: str) -> None:
    """A PRAGMA straight on the driver's connection: SQLAlchemy would open a transaction first, and SQLite ignores
    ``foreign_keys`` inside one."""
    if connection.in_transaction():
        raise RuntimeError("migrations on SQLite need a connection with no transaction open")
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(f"PRAGMA {setting}")
    finally:
        cursor.close()


run_migrations()
