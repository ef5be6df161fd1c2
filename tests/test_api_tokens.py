"""API tokens: shown once, stored as a hash, scoped to one organisation, revocable, and acting with booking
permissions only."""

from __future__ import annotations

import hashlib

import pytest

from atlas_app.models import ApiToken, AuditEntry, Organisation
from atlas_app.services.platform import api_tokens
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from conftest import actor_for, all_rows, run_cli, sql


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(actor):
    new = api_tokens.create(actor, "  Cleveland   Police back office ")

    assert new.token.startswith("atl_") and len(new.token) > 40
    assert new.view.name == "Cleveland Police back office"
    assert new.view.prefix == new.token[:12]
    (row,) = all_rows(ApiToken)
    assert row.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
    assert new.token not in {str(v) for v in row.model_dump().values()}
    assert row.created_by == actor.username
    # The audit trail names the token but never holds it.
    entries = all_rows(AuditEntry, AuditEntry.entity == "api_token")
    assert [e.action for e in entries] == ["created"]
    assert new.token not in str(entries[0].after)
    # Listing never shows the raw token again.
    (listed,) = api_tokens.list_tokens(actor)
    assert not hasattr(listed, "token") and listed.prefix == new.view.prefix


def test_authenticate_gives_an_api_actor_for_the_tokens_organisation(actor, org):
    new = api_tokens.create(actor, "Partner")

    who = api_tokens.authenticate(new.token)

    assert who is not None
    assert who.user_id is None
    assert who.username == "api:Partner"
    assert who.organisation_id == org.id
    assert who.can(Perm.BOOKINGS_MANAGE) and who.can(Perm.BOOKINGS_VIEW)
    assert not who.can(Perm.SETTINGS_MANAGE) and not who.can(Perm.USERS_MANAGE)
    assert not who.is_platform_admin
    assert all_rows(ApiToken)[0].last_used_at is not None


@pytest.mark.parametrize("raw", ["", None, "atl_", "atl_nonsense", "Bearer x", "a" * 500])
def test_unknown_tokens_are_refused(actor, raw):
    api_tokens.create(actor, "Real")
    assert api_tokens.authenticate(raw) is None


def test_a_revoked_token_stops_working_at_once(actor):
    new = api_tokens.create(actor, "Old system")
    assert api_tokens.authenticate(new.token) is not None

    view = api_tokens.revoke(actor, new.view.id)

    assert view.revoked_at is not None and not view.active
    assert api_tokens.authenticate(new.token) is None
    api_tokens.revoke(actor, new.view.id)  # again: nothing changes, no second audit entry
    actions = [e.action for e in all_rows(AuditEntry, AuditEntry.entity == "api_token", order_by=AuditEntry.id)]
    assert actions == ["created", "revoked"]


def test_a_disabled_organisations_tokens_stop_working(actor, org):
    new = api_tokens.create(actor, "Partner")
    sql("UPDATE organisation SET is_active = :f WHERE id = :id", f=False, id=org.id)
    assert api_tokens.authenticate(new.token) is None


def test_tokens_belong_to_one_organisation(actor, other_actor):
    mine = api_tokens.create(actor, "Ours")
    theirs = api_tokens.create(other_actor, "Theirs")

    assert [t.name for t in api_tokens.list_tokens(actor)] == ["Ours"]
    assert [t.name for t in api_tokens.list_tokens(other_actor)] == ["Theirs"]
    with pytest.raises(NotFound):
        api_tokens.revoke(actor, theirs.view.id)
    assert api_tokens.authenticate(theirs.token).organisation_id == other_actor.organisation_id
    assert api_tokens.authenticate(mine.token).organisation_id == actor.organisation_id


def test_only_settings_managers_handle_tokens(actor, make_user):
    booking_staff = actor_for(make_user("hbc.booking", roles=("Booking staff",)))
    new = api_tokens.create(actor, "Partner")
    for call in (lambda: api_tokens.create(booking_staff, "Mine"), lambda: api_tokens.list_tokens(booking_staff),
                 lambda: api_tokens.revoke(booking_staff, new.view.id)):
        with pytest.raises(PermissionDenied):
            call()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_sensible_name(actor, name):
    with pytest.raises(ValidationFailed):
        api_tokens.create(actor, name)


def test_the_cli_prints_a_new_token(org):
    done = run_cli("api-token", "--org", org.slug, "--name", "Police back office")

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("atl_") and "\n" not in token
    who = api_tokens.authenticate(token)
    assert who.organisation_id == org.id and who.username == "api:Police back office"
    assert all_rows(ApiToken)[0].created_by == "cli"


def test_the_cli_refuses_an_unknown_organisation(org):
    done = run_cli("api-token", "--org", "nowhere", "--name", "X")
    assert done.returncode == 2
    assert "nowhere" in done.stderr
    assert all_rows(ApiToken) == []
    assert all_rows(Organisation)  # nothing else changed
