"""Engine, sessions and dialect helpers.

* SQLite runs in WAL mode with foreign keys on. Write transactions start with ``BEGIN IMMEDIATE`` so two writers
  never deadlock upgrading a read lock; read transactions use a plain deferred ``BEGIN``.
* PostgreSQL runs through psycopg 3 with a small connection pool; a pooled connection is pinged only after it sat
  idle (``_ping_idle_connections``), not on every checkout.
* Times are stored as timezone-aware UTC (``UTCDateTime``) on both databases.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC

from sqlalchemy import Connection, DateTime, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from atlas_app.settings import POOL_CONNECTIONS, get_settings
from atlas_app.timeutil import utcnow  # noqa: F401  (models and services take it from here)


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
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        if conn.get_execution_options().get("atlas_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


# A pooled connection idle for longer than this is checked (``SELECT 1``) before it is handed out; one in steady
# use is not, which saves a round trip on every request. Connections are replaced after RECYCLE_SECONDS anyway.
PING_AFTER_IDLE_SECONDS = 10.0
RECYCLE_SECONDS = 1800


def _ping_idle_connections(engine: Engine) -> None:
    """Pessimistic disconnect handling for idle connections only: a connection the server dropped while it sat in
    the pool (a restart, an idle timeout) fails the ping and is replaced before anyone uses it. One in steady use
    that breaks mid-request fails that request (the API answers 503, try again), and the pool then drops it."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info["atlas_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        idle_since = record.info.get("atlas_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            _ping(dbapi_conn, engine.dialect.name)
        except Exception as exc:
            raise DisconnectionError("the pooled connection no longer answers") from exc


def _ping(dbapi_conn, dialect: str) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SELECT 1")
    finally:
        cursor.close()
    if dialect == "postgresql":
        dbapi_conn.rollback()  # the ping opened a transaction; leave the connection idle


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_size=POOL_CONNECTIONS, max_overflow=2 * POOL_CONNECTIONS,
                               pool_recycle=RECYCLE_SECONDS)
    _ping_idle_connections(engine)
    return engine


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


@contextmanager
def glance() -> Iterator[Connection]:
    """A connection for a few independent reads that need no transaction (each statement sees the latest committed
    data): on PostgreSQL it runs in autocommit, which saves the BEGIN and ROLLBACK round trips of a read session.
    Nothing read here may be trusted for a change: a change re-reads what it depends on inside its own locked
    transaction."""
    engine = get_engine()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


LIKE_ESCAPE = "!"


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern with its wildcards taken literally: "50%" matches "50%", not "50" and anything;
    "a_b" matches "a_b", not "axb". Use as ``column.like(f"%{like_literal(q)}%", escape=LIKE_ESCAPE)``."""
    return (text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
            .replace("_", LIKE_ESCAPE + "_"))


def contains(column, text: str):
    """``column LIKE '%text%'`` with ``text`` taken literally (see ``like_literal``)."""
    return column.like(f"%{like_literal(text)}%", escape=LIKE_ESCAPE)
