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
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


run_migrations()
