"""Invariants that must hold when many requests arrive at once (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.models import AuditChainHead, AuditEntry, LoginAttempt, User
from atlas_app.services.platform import audit, auth, users
from atlas_app.services.platform.actor import system_actor
from atlas_app.services.platform.errors import Conflict
from conftest import all_rows, get_user, run_threads

THREADS = 20


def test_parallel_wrong_passwords_lock_the_account_exactly_once(make_user):
    user = make_user("race.target", "right1234")
    # Correct-password logins released together with the guesses: any that wins before the lockout must lose its
    # session when the lockout lands.
    early_right = 4

    def attempt(i: int):
        if i < early_right:
            return auth.login("race.target", "right1234")
        return auth.login("race.target", f"wrong{i}guess")

    results = run_threads(THREADS + early_right, attempt)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(not r.ok for r in results[early_right:])

    row = get_user(user.id)
    assert row.locked_at is not None
    assert row.failed_attempts >= auth.MAX_FAILED_ATTEMPTS
    counts = Counter(a.outcome for a in all_rows(LoginAttempt, LoginAttempt.user_id == user.id))
    assert sum(counts.values()) == THREADS + early_right
    assert counts["lockout"] == 1, counts  # the account locked once, not once per racing thread
    assert counts["failure"] + counts["lockout"] >= auth.MAX_FAILED_ATTEMPTS
    assert counts["success"] == sum(1 for r in results[:early_right] if r.ok)
    assert len(all_rows(AuditEntry, AuditEntry.action == "locked")) == 1
    for r in results[:early_right]:
        if r.ok:
            assert auth.resolve(r.token) is None, "a session opened before the lockout outlived it"

    # After the race the right password is refused too.
    assert not auth.login("race.target", "right1234").ok


def test_right_password_during_a_lockout_race_is_refused(make_user):
    """Guesses keep arriving; as soon as the account shows as locked, correct-password logins start too."""
    user = make_user("race.target", "right1234")
    locked = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with read_session() as s:
                if s.exec(select(User.locked_at).where(User.id == user.id)).first() is not None:
                    locked.set()
                    return
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()

    def attempt(i: int):
        if i % 4 == 0:
            assert locked.wait(timeout=60), "the account never locked"
            return ("right", auth.login("race.target", "right1234"))
        # A guess, repeated so guesses are still arriving while the right password is tried.
        return ("wrong", [auth.login("race.target", f"wrong{i}-{k}") for k in range(3)])

    try:
        results = run_threads(THREADS, attempt)
    finally:
        stop.set()
        watcher.join()
    assert not [r for r in results if isinstance(r, BaseException)], results
    right = [r for kind, r in results if kind == "right"]
    assert len(right) == THREADS // 4
    assert all(not r.ok and r.token is None for r in right)
    row = get_user(user.id)
    assert row.locked_at is not None and row.failed_attempts >= auth.MAX_FAILED_ATTEMPTS
    counts = Counter(a.outcome for a in all_rows(LoginAttempt, LoginAttempt.user_id == user.id))
    assert counts["lockout"] == 1 and counts["success"] == 0
    assert counts["locked"] >= len(right)


def test_parallel_failures_on_different_accounts_do_not_interfere(make_user):
    names = [f"user.{i}" for i in range(5)]
    for name in names:
        make_user(name, "right1234")

    def attempt(i: int):
        return auth.login(names[i % 5], "wrong9999")

    run_threads(THREADS, attempt)  # four guesses per account
    for name in names:
        with read_session() as s:
            row = s.exec(select(User).where(User.username == name)).one()
        assert row.locked_at is not None
        assert row.failed_attempts == auth.MAX_FAILED_ATTEMPTS


def assert_chain_intact(expected_entries: int) -> None:
    seqs = [e.seq for e in all_rows(AuditEntry, order_by=AuditEntry.id)]
    assert len(seqs) == expected_entries
    assert len(set(seqs)) == len(seqs), "duplicate seq"
    assert seqs == list(range(1, expected_entries + 1)), "gap in seq"
    entries = all_rows(AuditEntry, order_by=AuditEntry.id)
    assert len({e.prev_hash for e in entries}) == len(entries), "the chain forked"
    chains = {e.chain for e in entries}
    assert len(chains) == 1, chains  # one organisation's writers: one chain
    with read_session() as s:
        report = audit.verify_trail(s)
        head = s.get(AuditChainHead, chains.pop())
    assert report.ok, report
    assert report.entries_checked == expected_entries
    assert head.last_seq == expected_entries and head.last_hash == entries[-1].hash


def test_audit_chain_stays_whole_under_parallel_writers_from_an_empty_trail(org):
    """The very first entries are written by many writers at once, before the chain has a head row."""
    assert all_rows(AuditChainHead) == []
    actor = system_actor(org.id, "race")

    def write(i: int):
        for k in range(2):
            with write_session() as s:
                audit.record(s, actor, "thing", f"{i}-{k}", "touched", after={"i": i, "k": k})

    results = run_threads(THREADS, write)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert_chain_intact(THREADS * 2)


def test_audit_chain_stays_whole_under_parallel_user_updates(org, make_user, actor):
    staff = [make_user(f"hbc.staff{i}") for i in range(THREADS)]
    with write_session() as s:  # the chain already has a head
        audit.record(s, actor, "setup", "", "started")

    def update(i: int):
        users.update_user(actor, staff[i].id, full_name=f"Renamed {i}", email=f"r{i}@hartlepool.example.gov.uk",
                          role_ids=[org.roles["Read-only"]])
        users.update_user(actor, staff[(i + 1) % THREADS].id, full_name=f"Renamed again {i}",
                          email=f"r{i}@hartlepool.example.gov.uk", role_ids=[])

    results = run_threads(THREADS, update)
    assert not [r for r in results if isinstance(r, BaseException)], results
    updates = all_rows(AuditEntry, AuditEntry.action == "updated")
    assert len(updates) == THREADS * 2
    assert_chain_intact(1 + THREADS * 2)


def test_parallel_creation_of_one_username_makes_one_user_and_clear_conflicts(actor):
    def create(i: int):
        return users.create_user(actor, username="same.name", full_name=f"Person {i}", email="",
                                 password="secret123")

    results = run_threads(THREADS, create)
    created = [r for r in results if isinstance(r, int)]
    assert len(created) == 1, results
    others = [r for r in results if not isinstance(r, int)]
    assert all(isinstance(r, Conflict) and "taken" in str(r) for r in others), others
    assert len(all_rows(User, User.username == "same.name")) == 1
    assert len(all_rows(AuditEntry, AuditEntry.action == "created")) == 1
    assert_chain_intact(1)


def test_parallel_creation_of_one_role_name_makes_one_role(actor, org):
    def create(i: int):
        return users.save_role(actor, None, name="Night shift", description="", permissions=["bookings.view"])

    results = run_threads(THREADS, create)
    created = [r for r in results if isinstance(r, int)]
    assert len(created) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, int)), results
    assert [r.name for r in users.list_roles(actor)].count("Night shift") == 1


def test_one_organisations_open_transaction_does_not_hold_up_anothers_audit_writes(org, other_org, dialect):
    """Each organisation's chain has its own head row: while a transaction of one organisation holds its head
    (an entry written, not yet committed), another organisation's writers append at once; the same
    organisation's next writer waits for it (and, past the lock timeout, is told the trail is busy)."""
    import pytest

    from atlas_app.services.platform import locks

    if dialect != "postgresql":
        pytest.skip("SQLite serialises all writers with BEGIN IMMEDIATE; there are no row locks to compare")
    mine, theirs = system_actor(org.id, "holder"), system_actor(other_org.id, "other")
    for who in (mine, theirs):  # both chains have their head row already
        with write_session() as s:
            audit.record(s, who, "setup", "", "started")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with write_session() as s:
            audit.record(s, mine, "thing", "held", "touched")
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with write_session() as s:
            s.connection().exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            audit.record(s, theirs, "thing", "free", "touched")
        assert time.monotonic() - started < 1.5
        with pytest.raises(locks.Busy):
            with write_session() as s:
                s.connection().exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
                audit.record(s, mine, "thing", "queued", "touched")
    finally:
        release.set()
        holder.join()
    with read_session() as s:
        report = audit.verify_trail(s)
    assert report.ok and report.for_chain(org.id).entries_checked == 2
    assert report.for_chain(other_org.id).entries_checked == 2
