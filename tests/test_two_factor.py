"""Two-factor sign-in (TOTP), from the service and from the sign-in form's routes: enrolment, the code step before
any session exists, replayed and used-up codes, lockout after 3 bad codes, the organisation's requirement and an
administrator's reset."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.api.auth_routes import PENDING_COOKIE
from atlas_app.db import utcnow
from atlas_app.models import AuditEntry, AuthSession, EmailMessage, SecondFactorChallenge, TwoFactorRecoveryCode
from atlas_app.services.platform import auth, totp, two_factor, users
from atlas_app.services.platform.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    TwoFactorEnrolmentRequired,
    ValidationFailed,
)
from atlas_app.services.platform.passwords import token_digest
from atlas_app.web_session import SESSION_COOKIE
from conftest import actor_for, all_rows, get_user, set_columns, sql


def code(secret: str, steps_ahead: int = 0) -> str:
    return totp.code_at(secret, utcnow() + timedelta(seconds=30 * steps_ahead))


def enrol(user) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on for ``user`` as they would on My account; the secret and recovery codes."""
    actor = actor_for(user)
    enrolment = two_factor.start_enrolment(actor)
    secret = enrolment.manual_key.replace(" ", "")
    return secret, two_factor.confirm_enrolment(actor, code(secret))


def actions(action: str) -> list[AuditEntry]:
    return all_rows(AuditEntry, AuditEntry.action == action, order_by=AuditEntry.id)


def test_enrolment_needs_a_first_valid_code_and_gives_ten_hashed_single_use_recovery_codes(make_user):
    user = make_user("tf.staff", roles=("Booking staff",))
    actor = actor_for(user)
    enrolment = two_factor.start_enrolment(actor)
    secret = enrolment.manual_key.replace(" ", "")
    assert enrolment.qr_svg_data_uri.startswith("data:image/svg+xml")
    assert len(secret) >= 32 and "totp_secret" not in get_user(user.id).model_dump()
    assert totp.provisioning_uri(secret, "tf.staff").startswith("otpauth://totp/Atlas:tf.staff?secret=")
    assert "issuer=Atlas" in totp.provisioning_uri(secret, "tf.staff")
    wrong = "000000" if code(secret) != "000000" else "111111"
    with pytest.raises(ValidationFailed):
        two_factor.confirm_enrolment(actor, wrong)
    assert get_user(user.id).totp_confirmed_at is None
    # Not on yet: signing in still needs only the password.
    assert auth.login("tf.staff", user.password).ok
    codes = two_factor.confirm_enrolment(actor, code(secret))
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = all_rows(TwoFactorRecoveryCode, TwoFactorRecoveryCode.user_id == user.id)
    assert sorted(r.code_hash for r in stored) == sorted(token_digest(c.replace("-", "")) for c in codes)
    dump = " ".join(str(v) for row in sql("SELECT * FROM two_factor_recovery_code").fetchall() for v in row)
    assert not any(c.replace("-", "") in dump or c in dump for c in codes)
    assert get_user(user.id).totp_confirmed_at is not None
    assert [e.entity_id for e in actions("two_factor_enabled")] == [str(user.id)]
    with pytest.raises(Conflict):
        two_factor.start_enrolment(actor)


def test_the_password_alone_makes_no_session_and_a_code_then_signs_in_once(make_user):
    user = make_user("tf.code", roles=("Booking staff",))
    secret, _ = enrol(user)
    first = auth.login("tf.code", user.password, ip="198.51.100.7")
    assert not first.ok and first.token is None and first.second_factor_token
    assert all_rows(AuthSession) == []
    assert all_rows(SecondFactorChallenge)[0].token_hash == token_digest(first.second_factor_token)
    done = auth.complete_second_factor(first.second_factor_token, code(secret, 1), ip="198.51.100.7")
    assert done.ok and done.token and auth.resolve(done.token).user_id == user.id
    # The pending token makes one session only, even with a fresh valid code.
    again = auth.complete_second_factor(first.second_factor_token, code(secret, -1))
    assert not again.ok and again.restart and len(all_rows(AuthSession)) == 1


def test_a_used_code_cannot_be_replayed(make_user):
    user = make_user("tf.replay", roles=("Booking staff",))
    secret, _ = enrol(user)
    used = code(secret, 1)
    assert auth.complete_second_factor(auth.login("tf.replay", user.password).second_factor_token, used).ok
    # Someone who saw both the password and that code, within its 30 seconds.
    replay = auth.complete_second_factor(auth.login("tf.replay", user.password).second_factor_token, used)
    assert not replay.ok and not replay.restart and replay.message == auth.SECOND_FACTOR_FAILED
    # Nor an older code still inside the clock-drift window.
    older = auth.complete_second_factor(auth.login("tf.replay", user.password).second_factor_token, code(secret))
    assert not older.ok
    # The code used to confirm enrolment is spent too.
    assert len(all_rows(AuthSession)) == 1


def test_a_recovery_code_signs_in_once_and_is_refused_the_second_time(make_user):
    user = make_user("tf.recover", roles=("Booking staff",))
    _, codes = enrol(user)
    typed = codes[3].lower().replace("-", " ")  # as someone might type it
    assert auth.complete_second_factor(auth.login("tf.recover", user.password).second_factor_token, typed).ok
    second = auth.complete_second_factor(auth.login("tf.recover", user.password).second_factor_token, codes[3])
    assert not second.ok
    assert two_factor.status(actor_for(user)).recovery_codes_left == 9
    assert actions("recovery_code_used")[-1].after == {"codes_left": 9}
    # Another user's recovery code is no use for this account.
    other = make_user("tf.other", roles=("Booking staff",))
    _, other_codes = enrol(other)
    assert not auth.complete_second_factor(auth.login("tf.recover", user.password).second_factor_token,
                                           other_codes[0]).ok


def test_three_bad_codes_lock_the_account_like_passwords(make_user, admin):
    user = make_user("tf.guess", roles=("Booking staff",), email="tf.guess@example.org")
    secret, codes = enrol(user)
    pending = auth.login("tf.guess", user.password, ip="203.0.113.5").second_factor_token
    right = code(secret, 1)
    bad = [c for c in ("123456", "654321", "111111", "222222") if c != right][:3]
    assert not auth.complete_second_factor(pending, bad[0]).restart
    # Entering the password again does not clear the count of bad codes.
    pending = auth.login("tf.guess", user.password, ip="203.0.113.5").second_factor_token
    assert get_user(user.id).failed_attempts == 1
    assert not auth.complete_second_factor(pending, bad[1]).restart
    third = auth.complete_second_factor(pending, bad[2], ip="203.0.113.5")
    assert third.restart and third.message == auth.ACCOUNT_LOCKED_NOW
    assert get_user(user.id).locked_at is not None
    assert [e.after["via"] for e in actions("locked")] == ["second factor"]
    # The right code and a recovery code do nothing for a locked account, and no session was made.
    assert not auth.complete_second_factor(pending, right).ok
    fresh = auth.login("tf.guess", user.password)
    assert not fresh.ok and fresh.second_factor_token is None
    assert all_rows(AuthSession) == []
    subjects = [m.subject for m in all_rows(EmailMessage, EmailMessage.to_address == "tf.guess@example.org")]
    assert "Atlas: unlock your account" in subjects


def test_a_right_code_after_a_bad_one_clears_the_count(make_user):
    user = make_user("tf.slip", roles=("Booking staff",))
    secret, _ = enrol(user)
    pending = auth.login("tf.slip", user.password).second_factor_token
    right = code(secret, 1)
    assert not auth.complete_second_factor(pending, "999999" if right != "999999" else "888888").ok
    assert get_user(user.id).failed_attempts == 1
    assert auth.complete_second_factor(pending, right).ok
    assert get_user(user.id).failed_attempts == 0


def test_an_expired_pending_sign_in_is_refused(make_user):
    user = make_user("tf.slow", roles=("Booking staff",))
    secret, _ = enrol(user)
    pending = auth.login("tf.slow", user.password).second_factor_token
    set_columns(SecondFactorChallenge, SecondFactorChallenge.user_id == user.id,
                expires_at=utcnow() - timedelta(seconds=1))
    late = auth.complete_second_factor(pending, code(secret, 1))
    assert not late.ok and late.restart
    assert not auth.complete_second_factor("made-up", code(secret, 1)).ok


def test_an_organisation_can_require_it_and_the_unenrolled_are_sent_to_enrol(make_user, actor):
    staff = make_user("tf.plain", roles=("Booking staff",))
    admin_user = make_user("tf.admin", roles=("Administrator",))
    with pytest.raises(PermissionDenied):
        two_factor.set_requirement(actor_for(staff), "all")
    with pytest.raises(ValidationFailed):
        two_factor.set_requirement(actor, "sometimes")
    two_factor.set_requirement(actor, "admins")
    entry = actions("two_factor_requirement_changed")[-1]
    assert (entry.before, entry.after) == ({"two_factor_required": "none"}, {"two_factor_required": "admins"})
    staff_token = auth.login("tf.plain", staff.password).token
    admin_token = auth.login("tf.admin", admin_user.password).token
    assert auth.resolve(staff_token).user_id == staff.id  # not an administrator
    with pytest.raises(TwoFactorEnrolmentRequired):
        auth.resolve(admin_token)
    # Only enrolling (and signing out) works meanwhile.
    assert auth.resolve(admin_token, allow_password_change=True).must_enrol_two_factor
    two_factor.set_requirement(actor, "all")
    with pytest.raises(TwoFactorEnrolmentRequired):
        auth.resolve(staff_token)
    enrol(staff)
    resolved = auth.resolve(staff_token)
    assert resolved.user_id == staff.id and not resolved.must_enrol_two_factor
    # Required, so it cannot be turned off.
    with pytest.raises(PermissionDenied):
        two_factor.disable(actor_for(staff), staff.password, "123456")


def test_turning_it_off_needs_the_password_and_a_code(make_user):
    user = make_user("tf.off", roles=("Booking staff",))
    secret, _ = enrol(user)
    actor = actor_for(user)
    with pytest.raises(ValidationFailed):
        two_factor.disable(actor, "not-my-password1", code(secret, 1))
    with pytest.raises(ValidationFailed):
        two_factor.disable(actor, user.password, "000000" if code(secret, 1) != "000000" else "111111")
    assert get_user(user.id).failed_attempts == 2 and get_user(user.id).totp_confirmed_at is not None
    two_factor.disable(actor, user.password, code(secret, 1))
    assert get_user(user.id).totp_confirmed_at is None and get_user(user.id).totp_secret is None
    assert all_rows(TwoFactorRecoveryCode) == []
    assert auth.login("tf.off", user.password).ok


def test_an_administrator_resets_a_users_second_factor_and_the_user_is_told(make_user, actor, other_actor):
    user = make_user("tf.lost", roles=("Booking staff",), email="tf.lost@example.org")
    enrol(user)
    with pytest.raises(NotFound):
        users.reset_two_factor(other_actor, user.id)  # another organisation's administrator
    with pytest.raises(PermissionDenied):
        users.reset_two_factor(actor_for(make_user("tf.peer", roles=("Booking staff",))), user.id)
    assert get_user(user.id).totp_confirmed_at is not None
    assert users.reset_two_factor(actor, user.id) is True
    assert get_user(user.id).totp_confirmed_at is None
    assert all_rows(TwoFactorRecoveryCode, TwoFactorRecoveryCode.user_id == user.id) == []
    entry = actions("two_factor_reset_by_admin")[-1]
    assert entry.entity_id == str(user.id) and entry.user_id == actor.user_id
    mails = all_rows(EmailMessage, EmailMessage.to_address == "tf.lost@example.org")
    assert [m.subject for m in mails] == ["Atlas: your two-factor sign-in was reset"]
    assert auth.login("tf.lost", user.password).ok


@pytest.fixture
def api():
    return TestClient(build_api(), base_url="http://atlas.test", follow_redirects=False)


ORIGIN = {"origin": "http://atlas.test"}


def test_route_sets_the_session_cookie_only_after_the_code(api, make_user):
    user = make_user("tf.route", roles=("Administrator",))
    secret, _ = enrol(user)
    first = api.post("/api/auth/login", data={"username": "tf.route", "password": user.password,
                                              "next": "/admin/users"}, headers=ORIGIN)
    assert first.status_code == 303 and first.headers["location"] == "/login/code?next=%2Fadmin%2Fusers"
    assert SESSION_COOKIE not in first.cookies and all_rows(AuthSession) == []
    set_cookie = first.headers["set-cookie"]
    assert PENDING_COOKIE in set_cookie and "HttpOnly" in set_cookie and "Path=/api/auth" in set_cookie
    pending = first.cookies[PENDING_COOKIE]
    assert all_rows(SecondFactorChallenge)[0].token_hash == token_digest(pending) != pending
    wrong = "000000" if code(secret, 1) != "000000" else "111111"
    bad = api.post("/api/auth/second-factor", data={"code": wrong, "next": "/admin/users"}, headers=ORIGIN)
    assert bad.headers["location"].startswith("/login/code?failed=1") and SESSION_COOKIE not in bad.cookies
    # From another site: refused before the code is looked at.
    foreign = api.post("/api/auth/second-factor", data={"code": code(secret, 1)},
                       headers={"origin": "https://evil.example"})
    assert "failed=origin" in foreign.headers["location"] and all_rows(AuthSession) == []
    good = api.post("/api/auth/second-factor", data={"code": code(secret, 1), "next": "/admin/users"},
                    headers=ORIGIN)
    assert good.status_code == 303 and good.headers["location"] == "/admin/users"
    assert auth.resolve(good.cookies[SESSION_COOKIE]).user_id == user.id
    # The pending token is spent: sending it again (with a fresh code) starts over.
    api.cookies.set(PENDING_COOKIE, pending, domain="atlas.test", path="/api/auth")
    replay = api.post("/api/auth/second-factor", data={"code": code(secret, -1)}, headers=ORIGIN)
    assert replay.headers["location"].startswith("/login?failed=expired")
    assert len(all_rows(AuthSession)) == 1


def test_route_without_a_pending_sign_in_makes_no_session(api, make_user):
    user = make_user("tf.nopending", roles=("Booking staff",))
    secret, codes = enrol(user)
    response = api.post("/api/auth/second-factor", data={"code": codes[0]}, headers=ORIGIN)
    assert response.headers["location"].startswith("/login?failed=expired")
    assert SESSION_COOKIE not in response.cookies and all_rows(AuthSession) == []
    assert two_factor.status(actor_for(user)).recovery_codes_left == 10


def test_route_three_bad_codes_lock_and_send_to_the_sign_in_page(api, make_user):
    user = make_user("tf.routeguess", roles=("Booking staff",))
    secret, _ = enrol(user)
    api.post("/api/auth/login", data={"username": "tf.routeguess", "password": user.password}, headers=ORIGIN)
    right = code(secret, 1)
    bad = [c for c in ("123456", "654321", "111111", "222222") if c != right][:3]
    locations = [api.post("/api/auth/second-factor", data={"code": c}, headers=ORIGIN).headers["location"]
                 for c in bad]
    assert locations[0].startswith("/login/code?failed=1") and locations[1].startswith("/login/code?failed=1")
    assert locations[2].startswith("/login?locked=1")
    assert get_user(user.id).locked_at is not None and all_rows(AuthSession) == []


# --- the secret at rest --------------------------------------------------------------------------------------------


def test_the_secret_is_stored_sealed_and_sign_in_still_works(make_user):
    user = make_user("tf.sealed", roles=("Booking staff",))
    secret, _ = enrol(user)
    stored = get_user(user.id).totp_secret
    assert stored.startswith("v1:")
    # Someone with a copy of the database: the base32 secret is in no column of the user's row, in any case.
    dump = " ".join(str(v) for row in sql("SELECT * FROM app_user").fetchall() for v in row).upper()
    assert secret.upper() not in dump
    assert auth.complete_second_factor(auth.login("tf.sealed", user.password).second_factor_token,
                                       code(secret, 1)).ok


def test_a_sealed_secret_opens_only_for_its_user_and_this_secret_key(make_user, set_env):
    victim = make_user("tf.victim", roles=("Booking staff",))
    attacker = make_user("tf.attacker", roles=("Booking staff",))
    victim_secret, _ = enrol(victim)
    attacker_secret, _ = enrol(attacker)
    # Copying one's own sealed secret onto another account (with write access to the table) does not give a
    # code that works there: the sealed value is bound to its user.
    set_columns(type(get_user(victim.id)), type(get_user(victim.id)).id == victim.id,
                totp_secret=get_user(attacker.id).totp_secret)
    assert not auth.complete_second_factor(auth.login("tf.victim", victim.password).second_factor_token,
                                           code(attacker_secret, 1)).ok
    # A changed ciphertext, or another deployment's key, opens nothing (and signs nobody in).
    set_env(SECRET_KEY="a-different-deployment-key-0123456789")
    assert totp.user_secret(get_user(attacker.id)) == ""
    assert not auth.complete_second_factor(auth.login("tf.attacker", attacker.password).second_factor_token,
                                           code(attacker_secret, 2)).ok


def test_a_production_start_without_secret_key_stops_with_a_clear_error(set_env):
    from atlas_app.settings import MissingSecretKey, require_secret_key

    set_env(SECRET_KEY=None)
    require_secret_key(False)  # a development start makes one up and keeps it in ATLAS_DATA_DIR
    with pytest.raises(MissingSecretKey, match="SECRET_KEY is not set"):
        require_secret_key(True)
    set_env(SECRET_KEY="a-long-random-production-key")
    require_secret_key(True)
