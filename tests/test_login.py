"""Signing in: sessions, lockout after three failures, and the login-attempt record."""

from __future__ import annotations

import pytest
from sqlmodel import select

from atlas_app.db import read_session
from atlas_app.models import AuditEntry, AuthSession, LoginAttempt
from atlas_app.services.platform import auth, users
from atlas_app.services.platform.auth import MAX_FAILED_ATTEMPTS, SIGN_IN_FAILED
from atlas_app.services.platform.passwords import token_digest
from conftest import all_rows, get_user, sql


def outcomes(username: str | None = None) -> list[str]:
    rows = all_rows(LoginAttempt, order_by=LoginAttempt.id)
    return [a.outcome for a in rows if username is None or a.username_tried == username]


def test_success_creates_a_session_storing_only_the_token_hash(make_user):
    user = make_user("hbc.booking", "secret123", roles=("Booking staff",))
    result = auth.login("hbc.booking", "secret123", ip="203.0.113.9", user_agent="pytest")
    assert result.ok and result.token and result.user_id == user.id
    sessions = all_rows(AuthSession)
    assert len(sessions) == 1
    stored = sessions[0]
    assert stored.user_id == user.id
    assert stored.token_hash == token_digest(result.token)
    assert stored.token_hash != result.token
    assert stored.ip == "203.0.113.9" and stored.user_agent == "pytest"
    assert stored.ended_at is None
    assert stored.expires_at > stored.created_at
    # The raw token appears nowhere in the session table.
    with read_session() as s:
        dump = repr(s.exec(select(AuthSession)).all())
    assert result.token not in dump
    raw = sql("SELECT * FROM auth_session").fetchall()
    assert all(result.token not in str(value) for row in raw for value in row)
    assert outcomes() == ["success"]


def test_username_is_case_and_space_insensitive(make_user):
    make_user("hbc.booking", "secret123")
    assert auth.login("  HBC.Booking ", "secret123").ok


def test_password_is_case_sensitive(make_user):
    make_user("hbc.booking", "secret123")
    assert not auth.login("hbc.booking", "SECRET123").ok


def test_failure_message_never_reveals_whether_the_account_exists(make_user, org):
    make_user("known.user", "secret123")
    make_user("locked.user", "secret123")
    make_user("gone.user", "secret123", is_active=False)
    for _ in range(MAX_FAILED_ATTEMPTS):
        auth.login("locked.user", "wrong999")

    answers = {
        "unknown user": auth.login("nobody.here", "secret123"),
        "wrong password": auth.login("known.user", "wrong999"),
        "locked": auth.login("locked.user", "secret123"),
        "disabled": auth.login("gone.user", "secret123"),
        "blank": auth.login("", ""),
    }
    for case, result in answers.items():
        assert not result.ok, case
        assert result.token is None and result.user_id is None, case
        assert result.message == SIGN_IN_FAILED, case
    assert len({r.message for r in answers.values()}) == 1
    assert all_rows(AuthSession) == []


def test_three_failures_lock_and_then_even_the_right_password_fails(make_user, actor):
    user = make_user("hbc.booking", "secret123")
    for expected in range(1, MAX_FAILED_ATTEMPTS):
        assert not auth.login("hbc.booking", f"wrong{expected}xx").ok
        row = get_user(user.id)
        assert row.failed_attempts == expected and row.locked_at is None
    assert not auth.login("hbc.booking", "wrong3xx").ok
    row = get_user(user.id)
    assert row.locked_at is not None and row.failed_attempts == MAX_FAILED_ATTEMPTS
    assert users.user_status(row) == "locked"

    assert not auth.login("hbc.booking", "secret123").ok
    assert not auth.login("hbc.booking", "secret123").ok
    assert get_user(user.id).locked_at is not None
    assert outcomes("hbc.booking") == ["failure", "failure", "lockout", "locked", "locked"]

    # Only an administrator's unlock restores access.
    users.unlock(actor, user.id)
    row = get_user(user.id)
    assert row.locked_at is None and row.failed_attempts == 0
    assert auth.login("hbc.booking", "secret123").ok
    assert outcomes("hbc.booking")[-1] == "success"


def test_lockout_is_audited(make_user):
    user = make_user("hbc.booking", "secret123")
    for _ in range(MAX_FAILED_ATTEMPTS):
        auth.login("hbc.booking", "wrong999")
    locked = all_rows(AuditEntry, AuditEntry.action == "locked")
    assert len(locked) == 1
    assert locked[0].entity == "user" and locked[0].entity_id == str(user.id)
    assert locked[0].organisation_id == user.organisation_id


def test_success_resets_the_failure_counter(make_user):
    user = make_user("hbc.booking", "secret123")
    auth.login("hbc.booking", "wrong1xx")
    auth.login("hbc.booking", "wrong2xx")
    assert get_user(user.id).failed_attempts == 2
    assert auth.login("hbc.booking", "secret123").ok
    assert get_user(user.id).failed_attempts == 0
    # Two more failures do not lock: the count started again.
    auth.login("hbc.booking", "wrong3xx")
    auth.login("hbc.booking", "wrong4xx")
    row = get_user(user.id)
    assert row.failed_attempts == 2 and row.locked_at is None
    assert auth.login("hbc.booking", "secret123").ok


def test_every_attempt_is_recorded_with_its_outcome(make_user, org):
    user = make_user("hbc.booking", "secret123")
    make_user("hbc.gone", "secret123", is_active=False)
    auth.login("hbc.booking", "secret123", ip="198.51.100.1", user_agent="ua-1")
    auth.login("ghost.user", "secret123", ip="198.51.100.2")
    auth.login("hbc.gone", "secret123")
    for _ in range(MAX_FAILED_ATTEMPTS):
        auth.login("hbc.booking", "wrong999")
    auth.login("hbc.booking", "secret123")

    rows = all_rows(LoginAttempt, order_by=LoginAttempt.id)
    assert [(r.username_tried, r.outcome) for r in rows] == [
        ("hbc.booking", "success"),
        ("ghost.user", "failure"),
        ("hbc.gone", "disabled"),
        ("hbc.booking", "failure"),
        ("hbc.booking", "failure"),
        ("hbc.booking", "lockout"),
        ("hbc.booking", "locked"),
    ]
    assert rows[0].user_id == user.id and rows[0].organisation_id == org.id
    assert rows[0].ip == "198.51.100.1" and rows[0].user_agent == "ua-1"
    assert rows[1].user_id is None and rows[1].organisation_id is None and rows[1].ip == "198.51.100.2"


def test_disabled_user_with_right_password_is_refused_and_not_counted(make_user):
    user = make_user("hbc.gone", "secret123", is_active=False)
    for _ in range(4):
        assert not auth.login("hbc.gone", "secret123").ok
    row = get_user(user.id)
    assert row.failed_attempts == 0 and row.locked_at is None
    assert outcomes() == ["disabled"] * 4


def test_user_of_a_disabled_organisation_cannot_sign_in(make_user, org):
    make_user("hbc.booking", "secret123")
    sql("UPDATE organisation SET is_active = :f WHERE id = :id", f=False, id=org.id)
    assert not auth.login("hbc.booking", "secret123").ok
    assert outcomes() == ["disabled"]


def test_login_report_shows_the_organisation_history(make_user, actor, other_org):
    make_user("hbc.booking", "secret123")
    make_user("ecc.booking", "secret123", org_info=other_org)
    auth.login("hbc.booking", "secret123")
    auth.login("hbc.booking", "wrong999")
    auth.login("ecc.booking", "secret123")
    report = users.login_report(actor)
    assert [(h.username, h.outcome) for h in report.history] == [
        ("hbc.booking", "failure"),
        ("hbc.booking", "success"),
    ]
    assert [r.username for r in report.signed_in] == ["hbc.booking"]
    failures = users.login_report(actor, outcome="failure")
    assert [h.outcome for h in failures.history] == ["failure"]


@pytest.mark.parametrize("password", ["", "x", "a" * 500])
def test_odd_passwords_fail_cleanly(make_user, password):
    make_user("hbc.booking", "secret123")
    assert auth.login("hbc.booking", password).message == SIGN_IN_FAILED
