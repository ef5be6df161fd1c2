"""Engine, sessions and dialect helpers.

* SQLite runs in WAL mode with foreign keys on. Write transactions start with ``BEGIN IMMEDIATE`` so two writers
  never deadlock upgrading a read lock; read transactions use a plain deferred ``BEGIN``.
* PostgreSQL runs through psycopg 3 with a small connection pool.
* Times are stored as timezone-aware UTC (``UTCDateTime``) on both databases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from atlas_app.settings import get_settings


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A DateTime that only accepts aware datetimes and always returns aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_engine: Engine | None = None
_engine_url: str | None = None
_lock = threading.Lock()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("atlas_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def get_engine() -> Engine:
    """The process-wide engine for the configured DATABASE_URL (rebuilt if the setting changes)."""
    global _engine, _engine_url
    url = get_settings().database_url
    with _lock:
        if _engine is None or _engine_url != url:
            if _engine is not None:
                _engine.dispose()
            _engine = make_engine(url)
            _engine_url = url
        return _engine


def reset_engine() -> None:
    global _engine, _engine_url
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _engine_url = None


@contextmanager
def write_session() -> Iterator[Session]:
    """A session for a unit of work that changes data: commits on success, rolls back on error."""
    engine = get_engine().execution_options(atlas_write=True)
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for reading only."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
