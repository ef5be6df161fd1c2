"""Alembic is the only source of the schema: it must build it from nothing and agree with the models."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect
from sqlmodel import SQLModel

import atlas_app.models  # noqa: F401
from atlas_app.db import get_engine, make_engine
from atlas_app.migrations import alembic_config, include_object, is_dialect_only_table
from conftest import DIALECT, TEST_DB_NAME, _DATA_DIR, drop_pg_database, recreate_pg_database

MODEL_TABLES = set(SQLModel.metadata.tables)


def schema_diff(connection, metadata=SQLModel.metadata) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
    return compare_metadata(context, metadata)


@pytest.fixture
def scratch_engine():
    """An empty database of the dialect under test, apart from the one the other tests use."""
    if DIALECT == "postgresql":
        name = f"{TEST_DB_NAME}_migrations"
        engine = make_engine(recreate_pg_database(name).replace("postgresql://", "postgresql+psycopg://", 1))
        yield engine
        engine.dispose()
        drop_pg_database(name)
    else:
        path = os.path.join(_DATA_DIR, "migrations.db")
        if os.path.exists(path):
            os.remove(path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        os.remove(path)


def run_alembic(engine, action: str, target: str) -> None:
    cfg = alembic_config()
    with engine.connect() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, target)


def table_names(engine) -> set[str]:
    return {t for t in inspect(engine).get_table_names() if t != "alembic_version" and not is_dialect_only_table(t)}


def test_session_database_matches_the_models():
    """The database the suite runs on was built by `alembic upgrade head` and agrees with the models."""
    with get_engine().connect() as connection:
        diff = schema_diff(connection)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_upgrade_from_empty_database_builds_every_table(scratch_engine):
    assert table_names(scratch_engine) == set()
    run_alembic(scratch_engine, "upgrade", "head")
    assert table_names(scratch_engine) == MODEL_TABLES
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with scratch_engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head
        assert schema_diff(connection) == []


def test_round_trip_upgrade_downgrade_upgrade(scratch_engine):
    run_alembic(scratch_engine, "upgrade", "head")
    run_alembic(scratch_engine, "downgrade", "base")
    assert table_names(scratch_engine) == set()
    with scratch_engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is None
    run_alembic(scratch_engine, "upgrade", "head")
    assert table_names(scratch_engine) == MODEL_TABLES
    with scratch_engine.connect() as connection:
        assert schema_diff(connection) == []


def test_each_revision_downgrades_and_upgrades_one_step(scratch_engine):
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert len(revisions) >= 2
    run_alembic(scratch_engine, "upgrade", "head")
    for _ in revisions:
        run_alembic(scratch_engine, "downgrade", "-1")
    assert table_names(scratch_engine) == set()
    for rev in revisions:
        run_alembic(scratch_engine, "upgrade", rev)
    with scratch_engine.connect() as connection:
        assert schema_diff(connection) == []


def test_the_comparison_notices_a_model_the_migrations_lack():
    """The check above can fail: a column or table the migrations never created shows up as a difference."""
    changed = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["app_user"].append_column(Column("nickname", String(40), nullable=True))
    Table("not_migrated", changed, Column("id", Integer, primary_key=True))
    with get_engine().connect() as connection:
        diff = schema_diff(connection, changed)
    # ("add_column", schema, table name, Column) and ("add_table", Table)
    kinds = {(d[0], d[3].name if d[0] == "add_column" else getattr(d[1], "name", None)) for d in diff}
    assert ("add_column", "nickname") in kinds
    assert ("add_table", "not_migrated") in kinds


def _search_objects(engine) -> set[str]:
    with engine.connect() as connection:
        if DIALECT == "postgresql":
            query = "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_person_name_trgm'"
        else:
            query = "SELECT name FROM sqlite_master WHERE name LIKE 'person_name_fts%'"
        return set(connection.exec_driver_sql(query).scalars())


def test_dialect_only_search_objects_come_and_go_with_their_revision(scratch_engine):
    """The search indexes left out of the comparison (include_object) are still created and removed by 0010."""
    parent = ScriptDirectory.from_config(alembic_config()).get_revision("0010").down_revision
    run_alembic(scratch_engine, "upgrade", "head")
    expected = ({"ix_person_name_trgm"} if DIALECT == "postgresql" else
                {"person_name_fts", "person_name_fts_ai", "person_name_fts_ad", "person_name_fts_au"})
    assert expected <= _search_objects(scratch_engine)
    run_alembic(scratch_engine, "downgrade", parent)
    assert _search_objects(scratch_engine) == set()
    run_alembic(scratch_engine, "upgrade", "head")
    assert expected <= _search_objects(scratch_engine)


def test_search_keys_of_names_beyond_ascii_are_recomputed_and_put_back(scratch_engine):
    """0015 spells letters such as "Ł" and Cyrillic in Latin in the stored keys; its downgrade restores the old
    keys (accents folded, other letters dropped). ASCII rows are left as they were."""
    from sqlmodel import Session

    from sqlalchemy import text

    from atlas_app.models.casework import Place

    run_alembic(scratch_engine, "upgrade", "0013")
    with Session(scratch_engine) as s:
        # The organisation table as it was at 0013 (later revisions add columns the model now has).
        org_id = s.execute(text("INSERT INTO organisation (slug, name, is_active, password_min_length, created_at) "
                                "VALUES ('mig', 'Migration test', :t, 7, CURRENT_TIMESTAMP) RETURNING id"),
                           {"t": True}).scalar_one()
        # The person table as it was at 0013 too.
        for given, family, norm, given_key, family_key in (("Łukasz", "Олена", "ukasz", "U220", ""),
                                                           ("Ann", "Smith", "untouched", "A500", "S530")):
            s.execute(text("INSERT INTO person (organisation_id, title, given_name, family_name, preferred_language, "
                           "notes, name_norm, given_key, family_key, created_at, updated_at) VALUES (:org, '', :g, "
                           ":f, 'en', '', :n, :gk, :fk, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                      {"org": org_id, "g": given, "f": family, "n": norm, "gk": given_key, "fk": family_key})
        s.add_all([
            Place(organisation_id=org_id, uprn=1, address_line1="1 Hauptstraße", town="Hartlepool",
                  postcode="TS24 7QS", postcode_key="TS247QS", search_text="1 hauptstrae hartlepool ts24 7qs"),
        ])
        s.commit()

    def keys():
        with scratch_engine.connect() as connection:
            return (connection.exec_driver_sql(
                        "SELECT name_norm, given_key, family_key FROM person ORDER BY id").all(),
                    connection.exec_driver_sql("SELECT search_text FROM place").scalar_one())

    run_alembic(scratch_engine, "upgrade", "head")
    people, place = keys()
    assert [tuple(p) for p in people] == [("lukasz olena", "L220", "O450"), ("untouched", "A500", "S530")]
    assert place == "1 hauptstrasse hartlepool ts24 7qs"
    run_alembic(scratch_engine, "downgrade", "0013")
    people, place = keys()
    assert [tuple(p) for p in people] == [("ukasz", "U220", ""), ("untouched", "A500", "S530")]
    assert place == "1 hauptstrae hartlepool ts24 7qs"


def test_the_single_audit_chain_keeps_verifying_as_chain_0_after_0017(scratch_engine):
    """0017 gives each organisation its own chain. The entries of the single chain before it are not re-hashed:
    they are chain 0 (the system's), whose head the old head becomes, and verify as they are; an organisation's
    next entry starts its own chain and a system entry goes on from the old ones. Downgrade is refused once
    entries are on an organisation's chain."""
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from sqlmodel import Session

    from atlas_app.db import UTCDateTime
    from atlas_app.models import AuditEntry
    from atlas_app.services.platform import audit
    from atlas_app.services.platform.actor import system_actor

    run_alembic(scratch_engine, "upgrade", "0015")
    with scratch_engine.begin() as connection:  # raw SQL: the model has columns later migrations add
        org_id = connection.execute(sa.text(
            "INSERT INTO organisation (slug, name, is_active, password_min_length, created_at) "
            "VALUES ('mig', 'Migration test', :t, 7, CURRENT_TIMESTAMP) RETURNING id"), {"t": True}).scalar_one()
    old = sa.table("audit_entry", *(sa.column(c) for c in (
        "seq", "organisation_id", "username", "entity", "entity_id", "action", "prev_hash", "hash")),
        sa.column("at", UTCDateTime), sa.column("after", sa.JSON))
    rows, prev = [], audit.GENESIS
    for seq, owner in enumerate([org_id, None, org_id], start=1):
        e = AuditEntry(seq=seq, at=datetime(2026, 11, 1, 9, seq, tzinfo=UTC), organisation_id=owner, username="old",
                       entity="user", entity_id=str(seq), action="updated", after={"n": seq}, prev_hash=prev)
        e.hash = prev = audit._digest(e)
        rows.append({k: getattr(e, k) for k in ("seq", "organisation_id", "username", "entity", "entity_id",
                                                "action", "prev_hash", "hash", "at", "after")})
    with scratch_engine.begin() as connection:
        connection.execute(sa.insert(old), rows)
        connection.exec_driver_sql(f"INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, 3, '{prev}')")

    def trail():
        with Session(scratch_engine) as s:
            return audit.verify_trail(s)

    run_alembic(scratch_engine, "upgrade", "head")  # the model has the columns of every migration
    report = trail()
    assert report.ok and [(c.chain, c.entries_checked) for c in report.chains] == [(0, 3)]
    run_alembic(scratch_engine, "downgrade", "0015")  # nothing on an organisation's chain yet: it can go back
    with scratch_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT id, last_seq FROM audit_chain_head").all() == [(1, 3)]
    run_alembic(scratch_engine, "upgrade", "head")
    with Session(scratch_engine, expire_on_commit=False) as s:
        audit.record(s, system_actor(org_id, "after"), "thing", "1", "touched")
        system = audit.record(s, None, "thing", "2", "swept")
        s.commit()
    assert system.seq == 4 and system.prev_hash == prev
    report = trail()
    assert report.ok and [(c.chain, c.entries_checked) for c in report.chains] == [(0, 4), (org_id, 1)]
    with pytest.raises(RuntimeError, match="cannot be undone"):
        run_alembic(scratch_engine, "downgrade", "0015")


def test_existing_organisations_get_every_client_email_template(scratch_engine):
    """0018 gives each organisation already there the shipped wording of every client email, in English."""
    from atlas_app.services.booking.email_defaults import KINDS

    run_alembic(scratch_engine, "upgrade", "0015")
    with scratch_engine.begin() as connection:
        for slug in ("one", "two"):
            connection.exec_driver_sql(
                "INSERT INTO organisation (slug, name, is_active, password_min_length, created_at) "
                f"VALUES ('{slug}', '{slug}', true, 7, CURRENT_TIMESTAMP)")
    run_alembic(scratch_engine, "upgrade", "head")
    with scratch_engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT organisation_id, kind, language, subject, body FROM email_template").all()
    assert len(rows) == 2 * len(KINDS)
    assert {r.kind for r in rows} == set(KINDS) and {r.language for r in rows} == {"en"}
    assert all((r.subject, r.body) == (KINDS[r.kind].subject, KINDS[r.kind].body) for r in rows)
    run_alembic(scratch_engine, "downgrade", "0015")
    assert "email_template" not in inspect(scratch_engine).get_table_names()


def test_only_organisations_the_demo_seeder_made_take_demo_payments_after_0020(scratch_engine):
    """0020 adds ``organisation.payments_demo``: on for organisations whose "created" audit entry is the demo
    seeder's, off for every other (a real council must never take demo "payments")."""
    from sqlalchemy import text

    run_alembic(scratch_engine, "upgrade", "0015")
    with scratch_engine.begin() as c:
        ids = {}
        for slug in ("seeded", "real"):
            ids[slug] = c.execute(text("INSERT INTO organisation (slug, name, is_active, password_min_length, "
                                       "created_at) VALUES (:slug, :slug, :t, 7, CURRENT_TIMESTAMP) RETURNING id"),
                                  {"slug": slug, "t": True}).scalar_one()
        for n, (slug, username) in enumerate((("seeded", "seed-demo"), ("real", "platform.admin")), start=1):
            c.execute(text("INSERT INTO audit_entry (seq, at, organisation_id, username, entity, entity_id, action, "
                           "prev_hash, hash) VALUES (:seq, CURRENT_TIMESTAMP, :org, :user, 'organisation', :eid, "
                           "'created', '', '')"), {"seq": n, "org": ids[slug], "user": username,
                                                    "eid": str(ids[slug])})
    run_alembic(scratch_engine, "upgrade", "0020")
    with scratch_engine.connect() as c:
        flags = dict(c.execute(text("SELECT slug, payments_demo FROM organisation")).all())
    assert {k: bool(v) for k, v in flags.items()} == {"seeded": True, "real": False}
    run_alembic(scratch_engine, "downgrade", "0015")
    run_alembic(scratch_engine, "upgrade", "head")


def test_0036_seals_the_two_factor_secrets_already_stored_and_opens_them_on_downgrade(scratch_engine):
    """Secrets stored in the clear before 0036 are sealed by it (and still give the same codes); a downgrade puts
    them back as they were."""
    import sqlalchemy as sa

    from atlas_app.services.platform import secret_box, totp

    run_alembic(scratch_engine, "upgrade", "0027")
    secret = totp.new_secret()
    with scratch_engine.begin() as connection:
        org_id = connection.execute(sa.text(
            "INSERT INTO organisation (slug, name, is_active, password_min_length, created_at) "
            "VALUES ('tf', 'Two factor', :t, 7, CURRENT_TIMESTAMP) RETURNING id"), {"t": True}).scalar_one()
        user_id = connection.execute(sa.text(
            "INSERT INTO app_user (organisation_id, username, full_name, email, password_hash, is_active, "
            "is_platform_admin, failed_attempts, must_change_password, created_at, totp_secret) "
            "VALUES (:o, 'tf.old', 'Old', 'old@example.org', 'x', :t, :f, 0, :f, CURRENT_TIMESTAMP, :s) RETURNING id"),
            {"o": org_id, "t": True, "f": False, "s": secret}).scalar_one()

    def stored() -> str:
        with scratch_engine.connect() as connection:
            return connection.execute(sa.text("SELECT totp_secret FROM app_user WHERE id = :i"),
                                      {"i": user_id}).scalar_one()

    run_alembic(scratch_engine, "upgrade", "head")
    sealed = stored()
    assert secret_box.is_sealed(sealed) and secret not in sealed
    assert secret_box.open_sealed(sealed, totp.secret_context(user_id)) == secret
    run_alembic(scratch_engine, "downgrade", "0027")
    assert stored() == secret
