"""The audit trail: who did what to which record, never a secret, and tampering is found."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.models import AuditEntry, User
from atlas_app.services.platform import audit, auth, users
from atlas_app.services.platform.audit import REDACTED
from atlas_app.services.platform.errors import PermissionDenied
from conftest import DIALECT, actor_for, all_rows, get_user, run_cli, sql


def entries(**filters) -> list[AuditEntry]:
    rows = all_rows(AuditEntry, order_by=AuditEntry.id)
    return [e for e in rows if all(getattr(e, k) == v for k, v in filters.items())]


def verify():
    with read_session() as s:
        return audit.verify_trail(s)


def test_user_changes_are_audited_with_who_what_and_before_after(actor, admin, org, make_user):
    user_id = users.create_user(actor, username="hbc.new", full_name="New Person", email="new@example.org",
                                password="secret123", role_ids=[org.roles["Read-only"]])
    users.update_user(actor, user_id, full_name="Newer Person", email="new@example.org",
                      role_ids=[org.roles["Read-only"]])
    users.update_user(actor, user_id, full_name="Newer Person", email="new@example.org",
                      role_ids=[org.roles["Read-only"]])  # no change: no entry
    users.set_active(actor, user_id, False)
    users.set_active(actor, user_id, True)
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        auth.login("hbc.new", "wrong999")
    users.unlock(actor, user_id)
    users.reset_password(actor, user_id, "fresh4567")

    trail = entries(entity="user", entity_id=str(user_id))
    assert [e.action for e in trail] == [
        "created", "updated", "disabled", "enabled", "locked", "unlock_link_sent", "unlocked",
        "password_reset_by_admin",
    ]
    by_admin = [e for e in trail if e.action not in ("locked", "unlock_link_sent")]
    for e in by_admin:
        assert e.user_id == admin.id and e.username == "hbc.admin" and e.organisation_id == org.id
        assert e.at is not None and len(e.hash) == 64
    created, updated, disabled = trail[0], trail[1], trail[2]
    assert created.before is None
    assert created.after["username"] == "hbc.new" and created.after["role_ids"] == [org.roles["Read-only"]]
    assert updated.before == {"full_name": "New Person"} and updated.after == {"full_name": "Newer Person"}
    assert disabled.before == {"is_active": True} and disabled.after["is_active"] is False
    unlocked = trail[6]
    assert unlocked.before == {"locked": True, "failed_attempts": 3}
    assert unlocked.after == {"locked": False, "failed_attempts": 0}
    locked = trail[4]
    assert locked.user_id == user_id and locked.organisation_id == org.id  # the user's own failed attempts


def test_role_changes_and_sessions_are_audited(actor, org, make_user):
    role_id = users.save_role(actor, None, name="Letters", description="", permissions=["letters.manage"])
    users.save_role(actor, role_id, name="Letters", description="", permissions=["letters.manage", "reports.view"])
    users.delete_role(actor, role_id)
    roles = entries(entity="role", entity_id=str(role_id))
    assert [e.action for e in roles] == ["created", "updated", "deleted"]
    assert roles[1].before == {"permissions": ["letters.manage"]}
    assert roles[1].after == {"permissions": ["letters.manage", "reports.view"]}
    assert roles[2].before["name"] == "Letters"

    make_user("hbc.staff")
    token = auth.login("hbc.staff", "secret123", ip="192.0.2.1").token
    staff = auth.resolve(token)
    auth.change_own_password(staff, "secret123", "newer5678")
    auth.logout_everywhere(staff)
    session_actions = [e.action for e in entries(username="hbc.staff")]
    assert session_actions == ["login", "password_changed", "logout_everywhere"]
    token = auth.login("hbc.staff", "newer5678").token
    auth.logout(token)
    assert [e.action for e in entries(username="hbc.staff")][-2:] == ["login", "logout"]
    assert verify().ok


def test_no_password_hash_or_token_ever_reaches_the_audit_trail(actor, org, make_user, smtp):
    secrets = ["secret123", "fresh4567", "brandnew42", "newer5678"]
    user_id = users.create_user(actor, username="hbc.new", full_name="New", email="new@example.org",
                                password="secret123")
    users.reset_password(actor, user_id, "fresh4567")
    session = auth.login("hbc.new", "fresh4567").token
    auth.change_own_password(auth.resolve(session, allow_password_change=True), "fresh4567", "newer5678")
    auth.request_password_reset("hbc.new")
    from atlas_app.services.platform import outbox

    auth.send_requested_links()
    outbox.deliver_due()
    body = smtp.messages[-1].get_body(("plain",)).get_content()
    reset_token = body.split("token=")[1].split()[0]
    auth.reset_password_with_token(reset_token, "brandnew42")
    with write_session() as s:  # a careless caller passing secrets is redacted
        audit.record(s, actor, "user", user_id, "careless",
                     after={"password": "secret123", "password_hash": "x", "token": reset_token,
                            "nested": {"secret": "fresh4567"}})

    hashes = [get_user(user_id).password_hash]
    raw = " ".join(json.dumps([e.before, e.after]) for e in all_rows(AuditEntry))
    for value in secrets + hashes + [session, reset_token]:
        assert value not in raw
    assert "$2b$" not in raw
    careless = entries(action="careless")[0].after
    assert careless == {"password": REDACTED, "password_hash": REDACTED, "token": REDACTED,
                        "nested": {"secret": REDACTED}}


def test_a_change_and_its_audit_entry_commit_or_roll_back_together(actor, make_user):
    user = make_user("hbc.staff")
    with pytest.raises(RuntimeError):
        with write_session() as s:
            row = s.get(User, user.id)
            row.full_name = "Half Done"
            s.add(row)
            audit.record(s, actor, "user", user.id, "renamed", after={"full_name": "Half Done"})
            raise RuntimeError("crash before commit")
    assert entries(action="renamed") == []
    assert get_user(user.id).full_name != "Half Done"
    assert verify().ok


# --- tampering ------------------------------------------------------------------------------------------------


@pytest.fixture
def trail(actor, make_user) -> list[AuditEntry]:
    """Six chained entries."""
    staff = make_user("hbc.staff")
    for i in range(6):
        users.update_user(actor, staff.id, full_name=f"Name {i}", email="", role_ids=[])
    rows = entries()
    assert [e.seq for e in rows] == [1, 2, 3, 4, 5, 6]
    report = verify()
    assert report.ok and report.entries_checked == 6
    return rows


def _set_after(seq: int, value: dict) -> None:
    cast = "CAST(:v AS JSON)" if DIALECT == "postgresql" else ":v"
    result = sql(f'UPDATE audit_entry SET "after" = {cast} WHERE seq = :seq', v=json.dumps(value), seq=seq)
    assert result.rowcount == 1


def test_changed_content_is_reported_at_its_seq(trail):
    _set_after(3, {"full_name": "Innocent"})
    report = verify()
    assert not report.ok and report.first_broken_seq == 3
    assert report.entries_checked == 2
    assert "changed" in report.reason


def test_changed_metadata_is_reported(trail):
    sql("UPDATE audit_entry SET username = 'someone.else' WHERE seq = 2")
    report = verify()
    assert not report.ok and report.first_broken_seq == 2


def test_rehashed_forgery_breaks_the_next_link(trail):
    """Recomputing the forged row's own hash does not help: the next entry still links to the old hash."""
    with write_session() as s:
        row = s.exec(select(AuditEntry).where(AuditEntry.seq == 4)).one()
        row.after = {"full_name": "Forged"}
        row.hash = audit._digest(row)
        s.add(row)
    report = verify()
    assert not report.ok and report.first_broken_seq == 5
    assert "link" in report.reason


def test_rehashed_forgery_of_the_last_entry_is_reported(trail):
    """The last entry has no successor; the chain head still remembers its true hash."""
    with write_session() as s:
        row = s.exec(select(AuditEntry).where(AuditEntry.seq == 6)).one()
        row.after = {"full_name": "Forged"}
        row.hash = audit._digest(row)
        s.add(row)
    report = verify()
    assert not report.ok and report.first_broken_seq == 6


def test_deleted_middle_entry_is_reported(trail):
    sql("DELETE FROM audit_entry WHERE seq = 3")
    report = verify()
    assert not report.ok and report.first_broken_seq == 3
    assert "missing" in report.reason


def test_deleted_first_entry_is_reported(trail):
    sql("DELETE FROM audit_entry WHERE seq = 1")
    report = verify()
    assert not report.ok and report.first_broken_seq == 1


def test_deleted_last_entry_is_reported(trail):
    sql("DELETE FROM audit_entry WHERE seq = 6")
    report = verify()
    assert not report.ok and report.first_broken_seq == 6
    assert report.entries_checked == 5


def test_deleted_tail_is_reported(trail):
    sql("DELETE FROM audit_entry WHERE seq >= 4")
    report = verify()
    assert not report.ok and report.first_broken_seq == 4


def test_verification_walks_batches(trail):
    with read_session() as s:
        assert audit.verify_trail(s, batch=2).ok
    _set_after(5, {"x": 1})
    with read_session() as s:
        report = audit.verify_trail(s, batch=2)
    assert report.first_broken_seq == 5


def test_empty_trail_verifies():
    report = verify()
    assert report.ok and report.entries_checked == 0


def test_cli_audit_verify_reports_intact_and_broken_chains(trail):
    intact = run_cli("audit-verify")
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout and "6 entries" in intact.stdout

    _set_after(4, {"full_name": "Tampered"})
    broken = run_cli("audit-verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"Organisation {trail[0].organisation_id}: BROKEN at entry 4" in broken.stdout


def test_cli_audit_verify_reports_a_deleted_last_entry(trail):
    sql("DELETE FROM audit_entry WHERE seq = 6")
    broken = run_cli("audit-verify")
    assert broken.returncode == 1
    assert "entry 6" in broken.stdout


def test_deleted_chain_head_is_reported(trail):
    sql("DELETE FROM audit_chain_head")
    report = verify()
    assert not report.ok and report.first_broken_seq == 6


def test_audit_search_filters_and_pages(actor, admin, make_user):
    from datetime import timedelta

    from atlas_app.db import utcnow

    staff = make_user("hbc.staff")
    start = utcnow()
    for i in range(5):
        users.update_user(actor, staff.id, full_name=f"Name {i}", email="", role_ids=[])
    users.set_active(actor, staff.id, False)
    auth.login("hbc.admin", "admin1234")
    with read_session() as s:
        rows, total = audit.search(s, actor)
        assert total == 7 and [r.seq for r in rows] == sorted((r.seq for r in rows), reverse=True)
        rows, total = audit.search(s, actor, entity="user", action="updated")
        assert total == 5 and {r.entity_id for r in rows} == {str(staff.id)}
        rows, total = audit.search(s, actor, username="HBC.Admin ", entity="session")
        assert total == 1 and rows[0].action == "login"
        page, total = audit.search(s, actor, action="updated", limit=2, offset=2)
        assert total == 5 and [r.after["full_name"] for r in page] == ["Name 2", "Name 1"]
        assert audit.search(s, actor, date_from=start - timedelta(hours=1), date_to=start - timedelta(minutes=1)
                            ) == ([], 0)
        assert audit.search(s, actor, date_from=start)[1] == 7
        values = audit.distinct_values(s, actor)
    assert values["entities"] == ["session", "user"]
    assert values["actions"] == ["disabled", "login", "updated"]
    found = audit.trail_page(actor, action="updated", limit=2, offset=2)
    assert found.total == 5 and [r.after["full_name"] for r in found.rows] == ["Name 2", "Name 1"]
    assert (found.entities, found.actions) == (values["entities"], values["actions"])
    clerk = actor_for(make_user("hbc.clerk"))
    with pytest.raises(PermissionDenied):
        audit.trail_page(clerk)


# --- one chain per organisation -------------------------------------------------------------------------------


@pytest.fixture
def two_trails(actor, other_actor, make_user, other_org):
    """Entries of two organisations and of the system, interleaved."""
    mine = make_user("hbc.staff")
    theirs = make_user("ecc.staff", org_info=other_org)
    for i in range(3):
        users.update_user(actor, mine.id, full_name=f"Mine {i}", email="", role_ids=[])
        users.update_user(other_actor, theirs.id, full_name=f"Theirs {i}", email="", role_ids=[])
        with write_session() as s:
            audit.record(s, None, "system", i, "swept")
    return mine, theirs


def test_each_organisation_has_its_own_chain_and_the_system_its_own(two_trails, org, other_org):
    rows = entries()
    by_chain = {}
    for e in rows:
        by_chain.setdefault(e.chain, []).append(e)
    assert set(by_chain) == {0, org.id, other_org.id}
    for chain, chained in by_chain.items():
        assert [e.seq for e in chained] == list(range(1, len(chained) + 1))
        assert {e.organisation_id for e in chained} == ({None} if chain == 0 else {chain})
        assert chained[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(chained, chained[1:]))
    report = verify()
    assert report.ok and report.entries_checked == len(rows) == 9
    assert [(c.chain, c.entries_checked) for c in report.chains] == [(0, 3), *sorted([(org.id, 3), (other_org.id, 3)])]


def test_tampering_is_reported_for_the_organisation_whose_chain_it_is(two_trails, org, other_org):
    target = [e for e in entries() if e.chain == other_org.id][1]
    cast = "CAST(:v AS JSON)" if DIALECT == "postgresql" else ":v"
    sql(f'UPDATE audit_entry SET "after" = {cast} WHERE id = :id', v=json.dumps({"full_name": "X"}), id=target.id)
    report = verify()
    assert not report.ok
    assert [(c.chain, c.first_broken_seq) for c in report.broken] == [(other_org.id, 2)]
    assert report.for_chain(org.id).ok and report.for_chain(0).ok
    assert report.for_chain(other_org.id).entries_checked == 1
    out = run_cli("audit-verify")
    assert out.returncode == 1
    assert f"Organisation {other_org.id}: BROKEN at entry 2" in out.stdout
    assert f"Organisation {org.id}: intact, 3 entries checked" in out.stdout
    assert "The system's chain: intact, 3 entries checked" in out.stdout


def test_an_entry_moved_to_another_organisations_chain_is_reported(two_trails, org, other_org):
    """Moving an entry to the end of another chain, even re-linked and re-hashed, leaves a gap at the end of its
    own chain and a stranger in the other."""
    last = [e for e in entries() if e.chain == org.id][-1]
    their_last = [e for e in entries() if e.chain == other_org.id][-1]
    with write_session() as s:
        row = s.get(AuditEntry, last.id)
        row.chain, row.seq, row.prev_hash = other_org.id, their_last.seq + 1, their_last.hash
        row.hash = audit._digest(row)
        s.add(row)
    report = verify()
    assert {c.chain for c in report.broken} == {org.id, other_org.id}
    assert "moved here" in report.for_chain(other_org.id).reason
    assert "deleted" in report.for_chain(org.id).reason


def test_entries_from_before_per_organisation_chains_keep_verifying(org, actor, make_user):
    """Entries of the single chain of before migration 0017 are chain 0 with the organisation they had; the old
    head became chain 0's. They verify as they are, and the system's chain goes on from them."""
    from datetime import UTC, datetime

    from atlas_app.models import AuditChainHead

    prev, rows = audit.GENESIS, []
    with write_session() as s:
        for seq, org_id in enumerate([org.id, None, org.id], start=1):  # written as the old code did: one chain
            e = AuditEntry(chain=0, seq=seq, at=datetime(2026, 11, 1, 9, seq, tzinfo=UTC), organisation_id=org_id,
                           username="old", entity="user", entity_id=str(seq), action="updated", after={"n": seq},
                           prev_hash=prev)
            e.hash = audit._digest(e)
            prev = e.hash
            s.add(e)
            rows.append(e)
        s.add(AuditChainHead(id=0, last_seq=3, last_hash=prev))
    staff = make_user("hbc.staff")
    users.update_user(actor, staff.id, full_name="New", email="", role_ids=[])  # the organisation's own chain
    with write_session() as s:
        system = audit.record(s, None, "system", "", "swept")
    assert system.seq == 4 and system.prev_hash == prev
    assert [e.seq for e in entries(organisation_id=org.id) if e.chain == org.id] == [1]
    report = verify()
    assert report.ok and [(c.chain, c.entries_checked) for c in report.chains] == [(0, 4), (org.id, 1)]


# --- many entries at once ---------------------------------------------------------------------------------------


def test_many_entries_are_chained_as_one_at_a_time_would_chain_them(actor, org):
    from sqlalchemy import event

    from atlas_app.db import get_engine

    with write_session() as s:   # the chain's head exists before the appends below
        audit.record(s, actor, "case", 1, "opened", after={"title": "First"})
    pending = [audit.Pending("case", 2, "opened", after={"title": "Fly-tipping: 1 Stryd y Bont, Llanelli — “quotes”"}),
               audit.Pending("case", 2, "demand_added", after={"type": "Fly-tipping", "at": "2026-12-02T08:00:00"}),
               audit.Pending("env_report", 9, "submitted", after={"reference": "ENV-000009", "photos": 0}),
               audit.Pending("client", 5, "viewed", subject=("client", 5)),
               audit.Pending("user", 3, "renamed", before={"full_name": "A"}, after={"full_name": "B"})]
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        with write_session() as s:
            assert audit.record_many(s, actor, pending) == 5
            appended = len(seen)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    if DIALECT == "postgresql":   # the head's lock, the five entries and the head's move: one round trip
        assert appended == 1, seen
    with write_session() as s:   # one more after them, on the general path of a long list
        audit.record_many(s, actor, [audit.Pending("case", 3, "opened", after={"n": i}) for i in range(20)])
        audit.record(s, actor, "case", 4, "opened")
    rows = [e for e in entries() if e.chain == org.id]
    assert [e.seq for e in rows] == list(range(1, 28))
    assert [(e.entity, e.entity_id, e.action) for e in rows[1:6]] == [
        ("case", "2", "opened"), ("case", "2", "demand_added"), ("env_report", "9", "submitted"),
        ("client", "5", "viewed"), ("user", "3", "renamed")]
    assert rows[4].subject_kind == "client" and rows[4].subject_id == 5
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    assert verify().ok
    _set_after(3, {"type": "Graffiti"})   # and a change to one of them is found at its place
    report = verify()
    assert not report.ok and report.first_broken_seq == 3
