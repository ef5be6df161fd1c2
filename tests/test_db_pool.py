"""The connection pool checks a connection only when it has sat idle: one the database dropped meanwhile is
replaced before anyone uses it, and one in steady use goes out without a round trip."""

from __future__ import annotations

import pytest

from atlas_app import db
from atlas_app.settings import get_settings


@pytest.fixture
def engine():
    engine = db.make_engine(get_settings().database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(monkeypatch):
    seen: list[object] = []
    real = db._ping

    def counting(dbapi_conn, dialect):
        seen.append(dbapi_conn)
        real(dbapi_conn, dialect)

    monkeypatch.setattr(db, "_ping", counting)
    return seen


def _pooled_connection(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        return conn.connection.dbapi_connection


def test_a_connection_dropped_while_idle_is_replaced(engine, pings, monkeypatch):
    first = _pooled_connection(engine)
    first.close()  # what a database restart does to a connection waiting in the pool
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)

    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert conn.connection.dbapi_connection is not first
    assert first in pings


def test_a_connection_in_steady_use_is_not_pinged(engine, pings, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = _pooled_connection(engine)
    for _ in range(3):
        assert _pooled_connection(engine) is first
    assert pings == []

    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _pooled_connection(engine) is first  # idle long enough: pinged, alive, kept
    assert pings == [first]
