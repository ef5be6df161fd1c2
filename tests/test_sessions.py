"""Sessions: what a token resolves to, and every way a session ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_app.db import utcnow
from atlas_app.models import AuthSession, User
from atlas_app.services.platform import auth, users
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.services.platform.passwords import token_digest
from atlas_app.services.platform.permissions import DEFAULT_ROLES
from atlas_app.settings import get_settings
from conftest import all_rows, set_columns, sql


def session_row(token: str) -> AuthSession:
    rows = all_rows(AuthSession, AuthSession.token_hash == token_digest(token))
    assert len(rows) == 1
    return rows[0]


def sign_in(username: str, password: str = "secret123") -> str:
    result = auth.login(username, password)
    assert result.ok, result.message
    return result.token


def set_session_times(token: str, **times) -> None:
    assert set_columns(AuthSession, AuthSession.token_hash == token_digest(token), **times) == 1


def test_resolve_gives_the_permissions_of_the_users_roles(make_user, org):
    user = make_user("hbc.mixed", roles=("Instructor", "Case worker"))
    token = sign_in("hbc.mixed")
    actor = auth.resolve(token)
    expected = set(DEFAULT_ROLES["Instructor"][1]) | set(DEFAULT_ROLES["Case worker"][1])
    assert actor is not None
    assert actor.permissions == frozenset(str(p) for p in expected)
    assert actor.user_id == user.id and actor.username == "hbc.mixed"
    assert actor.organisation_id == org.id == actor.home_organisation_id
    assert actor.session_id == session_row(token).id
    assert not actor.is_platform_admin
    assert actor.can("cases.manage") and not actor.can("users.manage")
    with pytest.raises(PermissionDenied):
        actor.require("users.manage")


def test_user_without_roles_has_no_permissions(make_user):
    make_user("hbc.nobody")
    actor = auth.resolve(sign_in("hbc.nobody"))
    assert actor is not None and actor.permissions == frozenset()


def test_role_changes_apply_to_live_sessions(make_user, actor, org):
    user = make_user("hbc.staff", roles=("Read-only",))
    token = sign_in("hbc.staff")
    assert not auth.resolve(token).can("bookings.manage")
    users.update_user(actor, user.id, full_name="Hbc Staff", email="", role_ids=[org.roles["Contact centre"]])
    assert auth.resolve(token).can("bookings.manage")


@pytest.mark.parametrize("token", [None, "", "not-a-token", "x" * 43])
def test_unknown_tokens_resolve_to_nobody(token, make_user):
    make_user("hbc.staff")
    sign_in("hbc.staff")
    assert auth.resolve(token) is None


def test_idle_session_ends(make_user):
    make_user("hbc.staff")
    token = sign_in("hbc.staff")
    idle = get_settings().session_idle_minutes
    set_session_times(token, last_seen_at=utcnow() - timedelta(minutes=idle, seconds=5))
    assert auth.resolve(token) is None
    row = session_row(token)
    assert row.ended_at is not None and row.end_reason == "idle"
    # Ended for good: making it look fresh again does not revive it.
    set_session_times(token, last_seen_at=utcnow())
    assert auth.resolve(token) is None


def test_activity_keeps_a_session_alive(make_user):
    make_user("hbc.staff")
    token = sign_in("hbc.staff")
    idle = get_settings().session_idle_minutes
    earlier = utcnow() - timedelta(minutes=idle - 1)
    set_session_times(token, last_seen_at=earlier)
    assert auth.resolve(token) is not None
    assert session_row(token).last_seen_at > earlier + timedelta(minutes=1)
    # resolve(touch=False) records nothing.
    set_session_times(token, last_seen_at=earlier)
    assert auth.resolve(token, touch=False) is not None
    assert abs((session_row(token).last_seen_at - earlier).total_seconds()) < 1


def test_absolute_expiry_ends_even_an_active_session(make_user):
    make_user("hbc.staff")
    token = sign_in("hbc.staff")
    row = session_row(token)
    hours = get_settings().session_absolute_hours
    assert abs((row.expires_at - row.created_at) - timedelta(hours=hours)) < timedelta(seconds=1)
    set_session_times(token, last_seen_at=utcnow(), expires_at=utcnow() - timedelta(seconds=1))
    assert auth.resolve(token) is None
    assert session_row(token).end_reason == "expired"


def test_disabling_a_user_ends_access_at_once(make_user, actor):
    user = make_user("hbc.staff")
    token = sign_in("hbc.staff")
    assert auth.resolve(token) is not None
    users.set_active(actor, user.id, False)
    assert auth.resolve(token) is None
    assert session_row(token).end_reason == "disabled"
    users.set_active(actor, user.id, True)
    assert auth.resolve(token) is None  # the old session stays ended
    assert auth.resolve(sign_in("hbc.staff")) is not None


def test_disabled_flag_alone_is_enough_to_refuse_a_session(make_user):
    """Even if a session were left open, a disabled user's token resolves to nobody."""
    user = make_user("hbc.staff")
    token = sign_in("hbc.staff")
    sql("UPDATE app_user SET is_active = :f WHERE id = :id", f=False, id=user.id)
    assert auth.resolve(token) is None


def test_locking_ends_access_at_once(make_user):
    make_user("hbc.staff")
    token = sign_in("hbc.staff")
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        auth.login("hbc.staff", "wrong999")
    assert auth.resolve(token) is None
    assert session_row(token).end_reason == "locked"


def test_locked_flag_alone_is_enough_to_refuse_a_session(make_user):
    user = make_user("hbc.staff")
    token = sign_in("hbc.staff")
    set_columns(User, User.id == user.id, locked_at=utcnow())
    assert auth.resolve(token) is None


def test_logout_ends_the_session(make_user):
    make_user("hbc.staff")
    token = sign_in("hbc.staff")
    other = sign_in("hbc.staff")
    assert auth.logout(token) is True
    assert auth.resolve(token) is None
    assert session_row(token).end_reason == "logout"
    assert auth.logout(token) is False
    assert auth.logout(None) is False
    assert auth.resolve(other) is not None  # only that browser signed out


def test_logout_everywhere_ends_all_of_the_users_sessions(make_user):
    make_user("hbc.staff")
    make_user("hbc.other")
    mine = [sign_in("hbc.staff") for _ in range(3)]
    theirs = sign_in("hbc.other")
    actor = auth.resolve(mine[0])
    assert auth.logout_everywhere(actor) == 3
    assert all(auth.resolve(t) is None for t in mine)
    assert auth.resolve(theirs) is not None


def test_admin_password_reset_ends_the_users_sessions(make_user, actor):
    user = make_user("hbc.staff")
    tokens = [sign_in("hbc.staff"), sign_in("hbc.staff")]
    users.reset_password(actor, user.id, "fresh4567")
    assert all(auth.resolve(t) is None for t in tokens)
    assert not auth.login("hbc.staff", "secret123").ok
    new = auth.resolve(sign_in("hbc.staff", "fresh4567"), allow_password_change=True)
    assert new is not None and new.must_change_password


def test_changing_own_password_keeps_this_session_and_ends_the_others(make_user):
    make_user("hbc.staff")
    here, elsewhere = sign_in("hbc.staff"), sign_in("hbc.staff")
    actor = auth.resolve(here)
    auth.change_own_password(actor, "secret123", "newer5678")
    assert auth.resolve(here) is not None
    assert auth.resolve(elsewhere) is None
    assert auth.login("hbc.staff", "newer5678").ok
    assert not auth.login("hbc.staff", "secret123").ok


def test_changing_own_password_checks_the_current_one_and_the_rule(make_user):
    from atlas_app.services.platform.errors import ValidationFailed

    make_user("hbc.staff")
    actor = auth.resolve(sign_in("hbc.staff"))
    with pytest.raises(ValidationFailed):
        auth.change_own_password(actor, "wrong999", "newer5678")
    with pytest.raises(ValidationFailed):
        auth.change_own_password(actor, "secret123", "short1")
    with pytest.raises(ValidationFailed):
        auth.change_own_password(actor, "secret123", "secret123")
    assert auth.login("hbc.staff", "secret123").ok


def test_inactive_organisation_ends_access_for_its_staff(make_user, org):
    make_user("hbc.staff")
    token = sign_in("hbc.staff")
    sql("UPDATE organisation SET is_active = :f WHERE id = :id", f=False, id=org.id)
    assert auth.resolve(token) is None


def test_platform_admin_switches_organisation_on_the_session(make_user, other_org):
    make_user("platform.admin", is_platform_admin=True)
    make_user("hbc.staff")
    token = sign_in("platform.admin")
    actor = auth.resolve(token)
    switched = auth.switch_organisation(actor, other_org.id)
    assert switched.organisation_id == other_org.id
    assert auth.resolve(token).organisation_id == other_org.id
    staff = auth.resolve(sign_in("hbc.staff"))
    with pytest.raises(PermissionDenied):
        auth.switch_organisation(staff, other_org.id)
