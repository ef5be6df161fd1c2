"""Database fixtures for the unit and service tests.

* With no ``DATABASE_URL`` the tests run on SQLite: a file in a temporary ``ATLAS_DATA_DIR``.
* With ``DATABASE_URL`` set they run on that PostgreSQL server, in a dedicated database (``atlas_unit_test``, or
  ``ATLAS_TEST_DB_NAME``) that is dropped and created afresh at the start of the session. The database named in the
  URL is only used to issue ``CREATE DATABASE``/``DROP DATABASE``; it is never changed.

The schema comes from ``alembic upgrade head`` once per session; before each test every table is emptied.

The environment is set here, at import time, before anything imports ``atlas_app``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from sqlalchemy.engine import make_url

_ORIGINAL_DATABASE_URL = os.environ.get("DATABASE_URL") or ""
_DATA_DIR = tempfile.mkdtemp(prefix="atlas-tests-")

os.environ["ATLAS_DATA_DIR"] = _DATA_DIR
os.environ["SECRET_KEY"] = "atlas-test-secret-key"
os.environ["BASE_URL"] = "http://atlas.test"
os.environ["SESSION_IDLE_MINUTES"] = "30"
os.environ["SESSION_ABSOLUTE_HOURS"] = "12"
os.environ["PASSWORD_RESET_MINUTES"] = "60"
for _name in ("SMTP_URL", "REDIS_URL", "MAIL_FROM", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
    os.environ.pop(_name, None)


def _pg_url(url: str):
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return make_url(url)


if _ORIGINAL_DATABASE_URL:
    _SERVER_URL = _pg_url(_ORIGINAL_DATABASE_URL)
    if not _SERVER_URL.drivername.startswith("postgresql"):
        raise RuntimeError(f"DATABASE_URL must be a PostgreSQL URL for the tests, not {_SERVER_URL.drivername}")
    TEST_DB_NAME = os.environ.get("ATLAS_TEST_DB_NAME") or "atlas_unit_test"
    if TEST_DB_NAME == _SERVER_URL.database:
        raise RuntimeError("The test database must not be the database named in DATABASE_URL.")
    TEST_DATABASE_URL = _SERVER_URL.set(database=TEST_DB_NAME).render_as_string(hide_password=False)
    DIALECT = "postgresql"
else:
    _SERVER_URL = None
    TEST_DB_NAME = ""
    TEST_DATABASE_URL = f"sqlite:///{os.path.join(_DATA_DIR, 'unit.db')}"
    DIALECT = "sqlite"

os.environ["DATABASE_URL"] = TEST_DATABASE_URL

# Only now is atlas_app imported.
import subprocess  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import bcrypt  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from sqlmodel import select  # noqa: E402

import atlas_app.db  # noqa: E402
import atlas_app.models  # noqa: E402,F401
import atlas_app.settings  # noqa: E402
from atlas_app.db import read_session, write_session  # noqa: E402
from atlas_app.models import Organisation, User, UserRole  # noqa: E402
from atlas_app.services.platform import auth, passwords  # noqa: E402
from atlas_app.services.platform.actor import Actor  # noqa: E402
from atlas_app.services.platform.users import ensure_default_roles  # noqa: E402

PROJECT_ROOT = Path(atlas_app.settings.PROJECT_ROOT)
SHIPPED_BCRYPT_ROUNDS = passwords.BCRYPT_ROUNDS
TEST_BCRYPT_ROUNDS = 4
DEFAULT_PASSWORD = "secret123"


# --- database administration --------------------------------------------------------------------------------


def admin_engine():
    """An autocommit engine on the database named in DATABASE_URL, for CREATE/DROP DATABASE only."""
    assert _SERVER_URL is not None
    return create_engine(_SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def recreate_pg_database(name: str) -> str:
    """Drop (if present) and create database ``name`` on the test server; returns its URL."""
    assert name != _SERVER_URL.database
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return _SERVER_URL.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(name: str) -> None:
    assert name != _SERVER_URL.database
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


def _fresh_settings() -> None:
    atlas_app.settings.get_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def database():
    """Create the test database and bring it to the latest migration, once per session."""
    passwords.BCRYPT_ROUNDS = TEST_BCRYPT_ROUNDS
    passwords._DUMMY_HASH = bcrypt.hashpw(b"atlas-dummy-password", bcrypt.gensalt(TEST_BCRYPT_ROUNDS))
    if DIALECT == "postgresql":
        recreate_pg_database(TEST_DB_NAME)
    _fresh_settings()
    atlas_app.db.reset_engine()
    from atlas_app.migrations import upgrade_head

    upgrade_head()
    _TABLES[:] = _tables_in_database(atlas_app.db.get_engine())
    yield atlas_app.db.get_engine()
    atlas_app.db.reset_engine()
    if DIALECT == "postgresql":
        drop_pg_database(TEST_DB_NAME)
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


# The tables to empty between tests, children first: those the migrations actually created (a model still waiting
# for its migration is the migration test's business, not a reason for every other test to fail).
_TABLES: list[str] = []


def _tables_in_database(engine) -> list[str]:
    from sqlalchemy import MetaData

    from atlas_app.migrations import is_dialect_only_table

    # The SQLite name indexes (an FTS5 table and its shadow tables; the short words) follow ``person`` through
    # triggers; deleting from the FTS5 table directly would corrupt it.
    reflected = MetaData()
    reflected.reflect(engine, only=lambda name, _meta: not is_dialect_only_table(name))
    return [t.name for t in reversed(reflected.sorted_tables) if t.name != "alembic_version"]


def empty_all_tables() -> None:
    """Delete every row, children before parents, in one transaction.

    On PostgreSQL this is a plain DELETE rather than TRUNCATE: with the handful of rows a test leaves, TRUNCATE
    (which replaces each table's and index's files) measured about 250 ms per test against about 8 ms for DELETE.
    Ids are not restarted; no test depends on particular ids.
    """
    engine = atlas_app.db.get_engine()
    # The dashboards' daily totals last: deleting the rows they count updates them through triggers.
    with engine.begin() as conn:
        for table in sorted(_TABLES, key=lambda t: t.startswith("dashboard_")):
            conn.exec_driver_sql(f'DELETE FROM "{table}"')


@pytest.fixture(autouse=True)
def clean_database(database):
    """Every test starts with empty tables and settings read afresh from the environment."""
    _fresh_settings()
    empty_all_tables()
    yield
    _fresh_settings()


@pytest.fixture
def dialect() -> str:
    return DIALECT


@pytest.fixture
def set_env(monkeypatch):
    """Change environment settings for one test: ``set_env(SMTP_URL="smtp://...")`` (None removes)."""

    def apply(**values):
        for key, value in values.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, str(value))
        _fresh_settings()

    yield apply
    _fresh_settings()


@pytest.fixture
def smtp(set_env):
    """An in-process SMTP server the outbox delivers to (``smtp.messages`` holds what arrived)."""
    from smtp_support import SmtpServer

    server = SmtpServer()
    server.start()
    set_env(SMTP_URL=server.url, MAIL_FROM="Atlas Test <atlas@test.example>")
    yield server
    server.stop()


def cli_env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(*args: str, **env) -> subprocess.CompletedProcess:
    """``python -m atlas_app ARGS`` in a subprocess, against the same database."""
    return subprocess.run(
        [sys.executable, "-m", "atlas_app", *args],
        cwd=PROJECT_ROOT,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- organisations, users, actors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgInfo:
    id: int
    slug: str
    name: str
    roles: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    password: str
    organisation_id: int
    email: str


def create_org(slug: str, name: str, password_min_length: int = 7) -> OrgInfo:
    with write_session() as s:
        org = Organisation(slug=slug, name=name, password_min_length=password_min_length)
        s.add(org)
        s.flush()
        roles = ensure_default_roles(s, org.id)
        return OrgInfo(org.id, slug, name, dict(roles))


def create_user(
    org: OrgInfo,
    username: str,
    password: str = DEFAULT_PASSWORD,
    roles: tuple[str, ...] = (),
    email: str | None = None,
    is_active: bool = True,
    is_platform_admin: bool = False,
) -> UserInfo:
    email = f"{username}@{org.slug}.example.gov.uk" if email is None else email
    with write_session() as s:
        user = User(
            organisation_id=org.id,
            username=username,
            full_name=username.replace(".", " ").title(),
            email=email,
            password_hash=passwords.hash_password(password),
            is_active=is_active,
            is_platform_admin=is_platform_admin,
        )
        s.add(user)
        s.flush()
        for role in roles:
            s.add(UserRole(user_id=user.id, role_id=org.roles[role]))
        return UserInfo(user.id, username, password, org.id, email)


def actor_for(user: UserInfo, organisation_id: int | None = None) -> Actor:
    """The actor a signed-in user would have: permissions from their roles, as ``auth.resolve`` computes them."""
    with read_session() as s:
        row = s.get(User, user.id)
        perms = auth.permissions_for(s, row)
        return Actor(
            user_id=row.id,
            username=row.username,
            organisation_id=organisation_id or row.organisation_id,
            home_organisation_id=row.organisation_id,
            permissions=perms,
            is_platform_admin=row.is_platform_admin,
            full_name=row.full_name,
        )


def get_user(user_id: int) -> User:
    with read_session() as s:
        return s.get(User, user_id)


def welsh_on(org_id: int, on: bool = True) -> None:
    """Turn the organisation's Welsh on (or off)."""
    with write_session() as s:
        row = s.get(Organisation, org_id)
        row.welsh_enabled = on
        s.add(row)


def all_rows(model, *where, order_by=None):
    with read_session() as s:
        query = select(model).where(*where) if where else select(model)
        if order_by is not None:
            query = query.order_by(order_by)
        return list(s.exec(query).all())


def sql(statement: str, **params):
    """Raw SQL in its own committed transaction (for tampering and time travel)."""
    with atlas_app.db.get_engine().begin() as conn:
        return conn.execute(text(statement), params)


def set_columns(model, *where, **values) -> int:
    """UPDATE model SET values WHERE ... through SQLAlchemy (so times go through UTCDateTime); returns rowcount."""
    from sqlalchemy import update

    with write_session() as s:
        return s.exec(update(model).where(*where).values(**values)).rowcount


@pytest.fixture
def org() -> OrgInfo:
    return create_org("hartlepool", "Hartlepool Borough Council")


@pytest.fixture
def other_org() -> OrgInfo:
    return create_org("essex", "Essex County Council")


@pytest.fixture
def make_user(org):
    """``make_user("name", roles=("Administrator",), org=...)``: a user straight in the database."""

    def make(username: str, password: str = DEFAULT_PASSWORD, roles=(), org_info: OrgInfo | None = None, **kw):
        return create_user(org_info or org, username, password, tuple(roles), **kw)

    return make


@pytest.fixture
def admin(org) -> UserInfo:
    return create_user(org, "hbc.admin", "admin1234", ("Administrator",))


@pytest.fixture
def actor(admin) -> Actor:
    """An administrator of Hartlepool."""
    return actor_for(admin)


@pytest.fixture
def other_admin(other_org) -> UserInfo:
    return create_user(other_org, "ecc.admin", "admin1234", ("Administrator",))


@pytest.fixture
def other_actor(other_admin) -> Actor:
    """An administrator of Essex."""
    return actor_for(other_admin)


def run_threads(n: int, target, *args_per_thread) -> list:
    """Run ``target(i)`` in ``n`` threads released together; returns results (or raised exceptions) in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def runner(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test to assert on
            results[i] = exc

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return results
