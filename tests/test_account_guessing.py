"""The attacker's side of sign-in, forgotten passwords, unlock links and password changes: guessing is limited per
account and per address, locking someone out is hard to abuse and easy to undo, no live link sits in the database,
known and unknown usernames are treated alike, and a user who must change their password can do nothing else."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import get_engine, utcnow
from atlas_app.models import AuditEntry, EmailMessage, LoginAttempt, PasswordResetToken, User
from atlas_app.services.platform import auth, outbox, users
from atlas_app.services.platform.errors import NotAuthenticated, PasswordChangeRequired, ValidationFailed
from atlas_app.services.platform.throttles import TooManyAttempts
from conftest import actor_for, all_rows, get_user, run_cli, set_columns, sql

ATTACKER = "198.51.100.66"
LINK = re.compile(r"https?://\S+/(reset-password|unlock-account)\?token=([A-Za-z0-9_\-]+)")


def deliver() -> None:
    auth.send_requested_links()
    outbox.deliver_due()


def links_in(smtp, address: str, kind: str) -> list[str]:
    out = []
    for message in smtp.messages:
        if message["To"] == address:
            out += [t for k, t in LINK.findall(message.get_body(("plain",)).get_content()) if k == kind]
    return out


def lock(username: str, ip: str = ATTACKER) -> None:
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        assert not auth.login(username, "wrong-guess-1", ip=ip).ok


# --- forgotten-password requests -------------------------------------------------------------------------------


def test_reset_requests_are_limited_per_account_whatever_the_address(make_user, smtp):
    staff = make_user("hbc.staff", email="staff@hartlepool.example.gov.uk")
    for i in range(auth.LINKS_PER_ACCOUNT):
        auth.request_password_reset("hbc.staff", ip=f"203.0.113.{i}")
    # Asking by address instead of username, from yet another address, is the same account.
    with pytest.raises(TooManyAttempts) as refused:
        auth.request_password_reset("STAFF@hartlepool.example.gov.uk", ip="203.0.113.99")
    assert refused.value.status_code == 429
    deliver()
    # Three emails queued, not four; each newer link replaced the one before, so only the last went out.
    assert len(all_rows(EmailMessage, EmailMessage.to_address == staff.email)) == auth.LINKS_PER_ACCOUNT
    assert len(links_in(smtp, staff.email, "reset-password")) == 1
    # An unknown name is limited the same way, so the refusal says nothing about existence.
    for i in range(auth.LINKS_PER_ACCOUNT):
        auth.request_password_reset("nobody.here", ip=f"203.0.113.{i}")
    with pytest.raises(TooManyAttempts) as unknown:
        auth.request_password_reset("nobody.here", ip="203.0.113.99")
    # The same words (the time to try again after is each refusal's own, so it may be a minute on).
    assert re.sub(r"\d\d:\d\d", "HH:MM", str(unknown.value)) == re.sub(r"\d\d:\d\d", "HH:MM", str(refused.value))


def test_reset_requests_are_limited_per_address_across_accounts(make_user):
    for i in range(auth.LINKS_PER_ADDRESS):
        auth.request_password_reset(f"someone.{i}", ip=ATTACKER)
    with pytest.raises(TooManyAttempts):
        auth.request_password_reset("hbc.other", ip=ATTACKER)
    assert auth.request_password_reset("hbc.other", ip="203.0.113.5")  # another address is unaffected


def test_known_and_unknown_usernames_do_the_same_work_while_answering(make_user):
    make_user("hbc.staff", email="staff@hartlepool.example.gov.uk")
    engine = get_engine()

    def statements(identifier: str) -> list[str]:
        seen: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            seen.append(re.sub(r"\s+", " ", statement))

        event.listen(engine, "before_cursor_execute", before)
        try:
            auth.request_password_reset(identifier, ip="203.0.113.7")
        finally:
            event.remove(engine, "before_cursor_execute", before)
        return seen

    known, unknown = statements("hbc.staff"), statements("nobody.at.all")
    assert known == unknown and known
    assert all_rows(EmailMessage) == [] and all_rows(PasswordResetToken) == []  # neither queued an email

    times: dict[str, list[float]] = {"hbc.staff": [], "nobody.at.all": []}
    for i in range(20):  # interleaved, so both see the same machine
        for identifier, seen in times.items():
            start = time.perf_counter()
            auth.request_password_reset(identifier, ip=f"192.0.2.{i}")
            seen.append((time.perf_counter() - start) * 1000)
            sql("DELETE FROM account_link_request")
    k, u = (sorted(t)[len(t) // 2] for t in times.values())
    print(f"reset request median: known {k:.2f} ms, unknown {u:.2f} ms")
    # The same statements are the guarantee; on a shared machine timings only show no gross difference.
    assert k < 2 * u + 5 and u < 2 * k + 5


# --- no live link in the database ------------------------------------------------------------------------------


def test_nothing_stored_can_reset_or_unlock_an_account(make_user, admin, smtp):
    staff = make_user("hbc.staff", "secret123", email="staff@hartlepool.example.gov.uk")
    auth.request_password_reset("hbc.staff")
    lock("hbc.other") if make_user("hbc.other", email="other@hartlepool.example.gov.uk") else None
    deliver()
    assert links_in(smtp, staff.email, "reset-password") and links_in(smtp, "other@hartlepool.example.gov.uk",
                                                                      "unlock-account")
    # Everything a reader of the database (or of the outbox page) sees.
    dumped = " ".join(str(v) for table in ("email_message", "password_reset_token", "audit_entry")
                      for row in sql(f"SELECT * FROM {table}").fetchall() for v in row)
    rows, _ = outbox.list_messages(actor_for(admin))
    dumped += " ".join(r.body_text for r in rows)
    assert "token=" not in dumped
    candidates = set(re.findall(r"[A-Za-z0-9_\-]{40,}", dumped))
    for candidate in candidates:
        with pytest.raises(ValidationFailed):
            auth.reset_password_with_token(candidate, "hijacked42")
        with pytest.raises(ValidationFailed):
            auth.unlock_with_token(candidate)
    assert auth.login("hbc.staff", "secret123").ok


# --- changing one's own password -------------------------------------------------------------------------------


def test_guessing_the_current_password_locks_the_account_after_3(make_user, smtp):
    staff = make_user("hbc.staff", "secret123", email="staff@hartlepool.example.gov.uk")
    session = auth.login("hbc.staff", "secret123").token
    actor = auth.resolve(session)
    for _ in range(auth.MAX_FAILED_ATTEMPTS - 1):
        with pytest.raises(ValidationFailed):
            auth.change_own_password(actor, "guess1234", "chosen5678", ip=ATTACKER)
    with pytest.raises(NotAuthenticated):
        auth.change_own_password(actor, "guess1234", "chosen5678", ip=ATTACKER)
    assert get_user(staff.id).locked_at is not None
    assert auth.resolve(session) is None  # the guessing session is over
    with pytest.raises(NotAuthenticated):  # and a right guess now changes nothing
        auth.change_own_password(actor, "secret123", "chosen5678")
    assert not auth.login("hbc.staff", "secret123").ok
    locked = [e for e in all_rows(AuditEntry) if e.action == "locked"]
    assert len(locked) == 1 and locked[0].after["via"] == "change password"


def test_a_right_current_password_clears_the_count(make_user):
    make_user("hbc.staff", "secret123")
    actor = auth.resolve(auth.login("hbc.staff", "secret123").token)
    for _ in range(auth.MAX_FAILED_ATTEMPTS - 1):
        with pytest.raises(ValidationFailed):
            auth.change_own_password(actor, "guess1234", "chosen5678")
    auth.change_own_password(actor, "secret123", "chosen5678")
    assert get_user(actor.user_id).failed_attempts == 0


# --- must change password --------------------------------------------------------------------------------------


def test_must_change_password_refuses_exports_and_letters(world_admin_flagged):
    api, cookie = world_admin_flagged
    assert api.get("/api/reports/courses.csv", headers=cookie).status_code == 403
    letters = api.post("/api/letters/pdf", data={"template": "x"},
                       headers={**cookie, "origin": "http://atlas.test"})
    assert letters.status_code == 403


@pytest.fixture
def world_admin_flagged(admin):
    set_columns(User, User.id == admin.id, must_change_password=True)
    outcome = auth.login(admin.username, admin.password)
    assert outcome.ok
    with pytest.raises(PasswordChangeRequired):
        auth.resolve(outcome.token)
    return TestClient(build_api(), base_url="http://atlas.test"), {"cookie": f"atlas_session={outcome.token}"}


# --- locking others out ----------------------------------------------------------------------------------------


def test_an_address_that_fails_often_is_refused_before_any_account_counter_moves(make_user):
    for i in range(auth.FAILURES_PER_ADDRESS // 2 + 1):
        make_user(f"hbc.user{i}", "secret123", email="")
    victims = [f"hbc.user{i}" for i in range(auth.FAILURES_PER_ADDRESS // 2)]
    for name in victims:  # two guesses each: no account locks
        for _ in range(2):
            assert not auth.login(name, "wrong-guess-1", ip=ATTACKER).ok
    target = f"hbc.user{auth.FAILURES_PER_ADDRESS // 2}"
    outcome = auth.login(target, "wrong-guess-1", ip=ATTACKER)
    assert not outcome.ok and outcome.throttled and "paused" in outcome.message
    assert auth.login(target, "secret123", ip=ATTACKER).throttled  # a right guess gets nowhere either
    target_row = all_rows(User, User.username == target)[0]
    assert target_row.failed_attempts == 0 and target_row.locked_at is None
    # Unknown usernames are refused with the same answer.
    assert auth.login("no.such.user", "x", ip=ATTACKER).message == outcome.message
    # The owner, from their own address, signs in as usual.
    assert auth.login(target, "secret123", ip="203.0.113.20").ok
    assert auth.login("hbc.user0", "secret123", ip="203.0.113.20").ok
    set_columns(LoginAttempt, LoginAttempt.ip == ATTACKER, at=utcnow() - auth.ADDRESS_WINDOW - timedelta(seconds=1))
    assert not auth.login(target, "wrong-guess-1", ip=ATTACKER).throttled  # the pause ends


def test_locked_owner_unlocks_by_the_emailed_link_once(make_user, admin, smtp):
    staff = make_user("hbc.staff", "secret123", email="staff@hartlepool.example.gov.uk")
    session = auth.login("hbc.staff", "secret123").token
    lock("hbc.staff")
    assert auth.resolve(session) is None
    deliver()
    (token,) = links_in(smtp, staff.email, "unlock-account")
    assert links_in(smtp, staff.email, "reset-password") == []
    # The organisation's administrators are told.
    alerts = [m for m in smtp.messages if m["To"] == "hbc.admin@hartlepool.example.gov.uk"]
    assert len(alerts) == 1 and "hbc.staff" in alerts[0]["Subject"] and "locked" in alerts[0]["Subject"]
    assert ATTACKER in alerts[0].get_body(("plain",)).get_content()
    # An unlock link is not a reset link.
    with pytest.raises(ValidationFailed):
        auth.reset_password_with_token(token, "hijacked42")
    assert auth.unlock_with_token(token) == "hbc.staff"
    assert auth.login("hbc.staff", "secret123").ok
    with pytest.raises(ValidationFailed):
        auth.unlock_with_token(token)
    actions = [e.action for e in all_rows(AuditEntry, AuditEntry.entity_id == str(staff.id))]
    assert "locked" in actions and "unlock_link_sent" in actions and "unlocked_by_link" in actions


def test_expired_unlock_link_is_refused(make_user, smtp):
    staff = make_user("hbc.staff", "secret123", email="staff@hartlepool.example.gov.uk")
    lock("hbc.staff")
    deliver()
    (token,) = links_in(smtp, staff.email, "unlock-account")
    set_columns(PasswordResetToken, PasswordResetToken.user_id == staff.id, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(ValidationFailed):
        auth.unlock_with_token(token)
    assert get_user(staff.id).locked_at is not None


def test_a_reset_link_cannot_unlock(make_user, smtp):
    staff = make_user("hbc.staff", "secret123", email="staff@hartlepool.example.gov.uk")
    auth.request_password_reset("hbc.staff")
    deliver()
    (token,) = links_in(smtp, staff.email, "reset-password")
    lock("hbc.staff")
    with pytest.raises(ValidationFailed):
        auth.unlock_with_token(token)


def test_platform_admin_unlocks_anyone_from_the_command_line(make_user, other_org):
    from conftest import create_user

    essex = create_user(other_org, "ecc.staff", "secret123")
    lock("ecc.staff")
    result = run_cli("unlock-user", "ECC.Staff")
    assert result.returncode == 0, result.stderr
    assert "Unlocked 'ecc.staff'" in result.stdout
    assert get_user(essex.id).locked_at is None and get_user(essex.id).failed_attempts == 0
    assert auth.login("ecc.staff", "secret123").ok
    unlocked = [e for e in all_rows(AuditEntry) if e.action == "unlocked"]
    assert len(unlocked) == 1 and unlocked[0].username == "unlock-user"
    assert run_cli("unlock-user", "nobody.at.all").returncode == 2


def test_platform_admin_unlocks_a_user_of_another_organisation_on_the_users_page(org, other_org, make_user):
    from conftest import create_user

    essex = create_user(other_org, "ecc.staff", "secret123")
    platform = create_user(org, "atlas.platform", "platform123", is_platform_admin=True)
    lock("ecc.staff")
    acting = auth.switch_organisation(auth.resolve(auth.login("atlas.platform", "platform123").token), other_org.id)
    users.unlock(acting, essex.id)
    assert get_user(essex.id).locked_at is None
    entry = [e for e in all_rows(AuditEntry) if e.action == "unlocked"][0]
    assert entry.user_id == platform.id and entry.organisation_id == other_org.id
