"""Tenancy and authorisation, tried from the attacker's side."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import AuditEntry, Role, User, UserRole
from atlas_app.services.platform import audit, auth, outbox, users
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import ALL_PERMISSIONS, Perm
from conftest import actor_for, all_rows, get_user


@pytest.fixture
def victim(make_user, org):
    """A Hartlepool user with a session, two failed attempts and a role."""
    user = make_user("hbc.victim", "secret123", roles=("Booking staff",))
    return user


def snapshot(user_id: int) -> tuple:
    row = get_user(user_id)
    with read_session() as s:
        roles = sorted(s.exec(select(UserRole.role_id).where(UserRole.user_id == user_id)).all())
    return (row.full_name, row.email, row.is_active, row.locked_at, row.failed_attempts, row.password_hash, roles)


def test_essex_admin_cannot_touch_a_hartlepool_user_by_id(victim, other_actor):
    token = auth.login("hbc.victim", "secret123").token
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        auth.login("hbc.victim", "wrong999")
    before = snapshot(victim.id)
    attacks = {
        "update": lambda: users.update_user(other_actor, victim.id, full_name="Pwned", email="x@evil.example",
                                            role_ids=[]),
        "disable": lambda: users.set_active(other_actor, victim.id, False),
        "enable": lambda: users.set_active(other_actor, victim.id, True),
        "unlock": lambda: users.unlock(other_actor, victim.id),
        "reset": lambda: users.reset_password(other_actor, victim.id, "attacker99"),
    }
    for name, attack in attacks.items():
        with pytest.raises(NotFound):
            attack()
        assert snapshot(victim.id) == before, name
    assert victim.id not in [u.id for u in users.list_users(other_actor)]
    assert not auth.login("hbc.victim", "attacker99").ok
    assert auth.resolve(token) is None  # ended by the lockout, and not revived by anyone
    # The refused calls wrote nothing to the audit trail.
    assert [e for e in all_rows(AuditEntry) if e.username == "ecc.admin"] == []


def test_the_same_calls_work_for_the_users_own_admin(victim, actor):
    users.update_user(actor, victim.id, full_name="Renamed", email="r@hartlepool.example.gov.uk", role_ids=[])
    users.set_active(actor, victim.id, False)
    users.set_active(actor, victim.id, True)
    users.reset_password(actor, victim.id, "fresh4567")
    assert get_user(victim.id).full_name == "Renamed"
    assert auth.login("hbc.victim", "fresh4567").ok


@pytest.mark.parametrize("bad_id", ["abc", None, -1, 10**9, "1 OR 1=1"])
def test_nonsense_user_ids_are_not_found(actor, bad_id):
    with pytest.raises(NotFound):
        users.unlock(actor, bad_id)
    with pytest.raises(NotFound):
        users.set_active(actor, bad_id, False)


def test_cannot_assign_another_organisations_role(victim, actor, other_org, org):
    essex_admin_role = other_org.roles["Administrator"]
    before = snapshot(victim.id)
    with pytest.raises(ValidationFailed) as err:
        users.update_user(actor, victim.id, full_name="Hbc Victim", email="", role_ids=[essex_admin_role])
    assert "roles" in err.value.errors
    with pytest.raises(ValidationFailed):
        users.update_user(actor, victim.id, full_name="Hbc Victim", email="",
                          role_ids=[org.roles["Read-only"], essex_admin_role])
    with pytest.raises(ValidationFailed):
        users.update_user(actor, victim.id, full_name="Hbc Victim", email="", role_ids=["not-an-id"])
    assert snapshot(victim.id) == before
    with pytest.raises(ValidationFailed):
        users.create_user(actor, username="hbc.new", full_name="New", email="", password="secret123",
                          role_ids=[essex_admin_role])
    assert all_rows(User, User.username == "hbc.new") == []


def test_roles_of_another_organisation_cannot_be_changed_or_deleted(actor, other_org):
    target = other_org.roles["Read-only"]
    with pytest.raises(NotFound):
        users.save_role(actor, target, name="Read-only", description="", permissions=list(ALL_PERMISSIONS))
    with pytest.raises(NotFound):
        users.delete_role(actor, target)
    with read_session() as s:
        role = s.get(Role, target)
    assert role is not None and Perm.USERS_MANAGE not in role.permissions
    assert target not in [r.id for r in users.list_roles(actor)]


def test_audit_search_only_shows_the_actors_organisation(victim, actor, other_actor, other_org, make_user):
    essex_user = make_user("ecc.staff", org_info=other_org)
    users.update_user(actor, victim.id, full_name="Hartlepool Change", email="", role_ids=[])
    users.update_user(other_actor, essex_user.id, full_name="Essex Change", email="", role_ids=[])
    with read_session() as s:
        hbc_rows, hbc_total = audit.search(s, actor)
        ecc_rows, ecc_total = audit.search(s, other_actor)
        # Asking for the other organisation's entity by id finds nothing.
        probe, probe_total = audit.search(s, other_actor, entity="user", entity_id=str(victim.id))
        values = audit.distinct_values(s, other_actor)
    assert hbc_total == len(hbc_rows) >= 1 and ecc_total == len(ecc_rows) >= 1
    assert {r.organisation_id for r in hbc_rows} == {actor.organisation_id}
    assert {r.organisation_id for r in ecc_rows} == {other_actor.organisation_id}
    assert "Hartlepool Change" not in str([r.after for r in ecc_rows])
    assert probe == [] and probe_total == 0
    assert values["actions"] == ["updated"]


def test_outbox_and_login_report_are_scoped(victim, actor, other_actor):
    auth.login("hbc.victim", "wrong999")
    with write_session() as s:
        msg = outbox.queue(s, to="victim@example.org", subject="Hartlepool only", body="private",
                           organisation_id=actor.organisation_id)
        msg_id = msg.id
    rows, total = outbox.list_messages(other_actor)
    assert rows == [] and total == 0
    with pytest.raises(NotFound):
        outbox.retry(other_actor, msg_id)
    assert users.login_report(other_actor).history == []
    assert [h.username for h in users.login_report(actor).history] == ["hbc.victim"]


# --- users without the permission ---------------------------------------------------------------------------


def _admin_calls(target_id: int, role_id: int):
    return {
        "list_users": lambda a: users.list_users(a),
        "create_user": lambda a: users.create_user(a, username="sneaky.user", full_name="Sneaky", email="",
                                                   password="secret123"),
        "update_user": lambda a: users.update_user(a, target_id, full_name="Sneaky", email="", role_ids=[]),
        "set_active": lambda a: users.set_active(a, target_id, False),
        "unlock": lambda a: users.unlock(a, target_id),
        "reset_password": lambda a: users.reset_password(a, target_id, "sneaky999"),
        "list_roles": lambda a: users.list_roles(a),
        "save_role": lambda a: users.save_role(a, None, name="Sneaky", description="", permissions=[]),
        "edit_role": lambda a: users.save_role(a, role_id, name="Sneaky", description="",
                                               permissions=list(ALL_PERMISSIONS)),
        "delete_role": lambda a: users.delete_role(a, role_id),
        "login_report": lambda a: users.login_report(a),
        "outbox": lambda a: outbox.list_messages(a),
    }


@pytest.mark.parametrize("call", list(_admin_calls(0, 0)))
@pytest.mark.parametrize("role", ["Booking staff", "Contact centre", "Instructor", "Read-only", None])
def test_users_without_the_permission_are_denied(call, role, make_user, victim, org):
    staff = make_user("hbc.staff", roles=(role,) if role else ())
    staff_actor = actor_for(staff)
    before = snapshot(victim.id)
    with pytest.raises(PermissionDenied):
        _admin_calls(victim.id, org.roles["Read-only"])[call](staff_actor)
    assert snapshot(victim.id) == before
    assert all_rows(AuditEntry) == []


def test_permission_is_checked_before_anything_is_looked_up(make_user):
    staff_actor = actor_for(make_user("hbc.staff", roles=("Read-only",)))
    for missing in (10**9, "junk"):
        with pytest.raises(PermissionDenied):
            users.unlock(staff_actor, missing)


def test_audit_view_needs_its_permission(make_user, actor):
    manager = actor_for(make_user("hbc.manager", roles=("Manager",)))
    with read_session() as s:
        with pytest.raises(PermissionDenied):
            audit.search(s, manager)
        with pytest.raises(PermissionDenied):
            audit.distinct_values(s, manager)
        audit.search(s, actor)


def test_actor_without_an_organisation_is_refused(admin):
    loose = Actor(user_id=admin.id, username="hbc.admin", organisation_id=None,
                  permissions=frozenset(ALL_PERMISSIONS))
    with pytest.raises(PermissionDenied):
        users.list_users(loose)
    with pytest.raises(PermissionDenied):
        users.unlock(loose, admin.id)


def test_forged_permissions_do_not_reach_another_organisation(victim, other_admin, other_org):
    """Even an actor claiming every permission is held to its own organisation's rows."""
    forged = Actor(user_id=other_admin.id, username="ecc.admin", organisation_id=other_org.id,
                   permissions=frozenset(ALL_PERMISSIONS))
    with pytest.raises(NotFound):
        users.reset_password(forged, victim.id, "attacker99")


# --- roles ----------------------------------------------------------------------------------------------------


def test_save_role_rejects_unknown_permissions(actor):
    with pytest.raises(ValidationFailed) as err:
        users.save_role(actor, None, name="Odd", description="", permissions=["bookings.view", "root.everything"])
    assert "root.everything" in str(err.value)
    assert "Odd" not in [r.name for r in users.list_roles(actor)]


def test_save_role_creates_and_edits(actor):
    role_id = users.save_role(actor, None, name="Letters", description="Letters only",
                              permissions=["letters.manage", "letters.manage"])
    row = next(r for r in users.list_roles(actor) if r.id == role_id)
    assert row.permissions == ["letters.manage"] and row.user_count == 0
    users.save_role(actor, role_id, name="Letters and reports", description="",
                    permissions=["letters.manage", "reports.view"])
    row = next(r for r in users.list_roles(actor) if r.id == role_id)
    assert row.name == "Letters and reports" and row.permissions == ["letters.manage", "reports.view"]
    with pytest.raises(Conflict):
        users.save_role(actor, None, name="letters AND reports", description="", permissions=[])
    with pytest.raises(ValidationFailed):
        users.save_role(actor, None, name="   ", description="", permissions=[])


def test_delete_role_refuses_roles_in_use(actor, org, make_user):
    make_user("hbc.reader", roles=("Read-only",))
    with pytest.raises(Conflict):
        users.delete_role(actor, org.roles["Read-only"])
    assert org.roles["Read-only"] in [r.id for r in users.list_roles(actor)]
    users.delete_role(actor, org.roles["Case worker"])
    assert org.roles["Case worker"] not in [r.id for r in users.list_roles(actor)]
    with pytest.raises(NotFound):
        users.delete_role(actor, org.roles["Case worker"])


def test_admin_cannot_lock_themselves_out(actor, admin, org):
    with pytest.raises(ValidationFailed):
        users.set_active(actor, admin.id, False)
    with pytest.raises(ValidationFailed):
        users.update_user(actor, admin.id, full_name="Me", email="", role_ids=[org.roles["Read-only"]])
    with pytest.raises(ValidationFailed):
        users.save_role(actor, org.roles["Administrator"], name="Administrator", description="",
                        permissions=["users.manage"])
    assert users.list_users(actor)[0].status == "active"
    assert actor_for(admin).can(Perm.ROLES_MANAGE) and actor_for(admin).can(Perm.USERS_MANAGE)


def test_create_user_validates_and_refuses_duplicates(actor, org):
    user_id = users.create_user(actor, username="  HBC.New ", full_name="New Person", email="new@example.org",
                                password="secret123", role_ids=[org.roles["Read-only"]])
    row = get_user(user_id)
    assert row.username == "hbc.new" and row.organisation_id == org.id and row.must_change_password
    assert row.password_hash != "secret123"
    with pytest.raises(Conflict):
        users.create_user(actor, username="hbc.new", full_name="Again", email="", password="secret123")
    for bad in ({"username": "x"}, {"username": "has space"}, {"full_name": ""}, {"email": "not-an-email"},
                {"password": "short1"}, {"password": "lettersonly"}):
        fields = {"username": "hbc.other", "full_name": "Other", "email": "", "password": "secret123"} | bad
        with pytest.raises(ValidationFailed):
            users.create_user(actor, **fields)
    assert [u.username for u in users.list_users(actor)] == ["hbc.admin", "hbc.new"]


def test_organisation_minimum_applies_to_admin_set_passwords(actor, admin, org, victim):
    from conftest import sql

    sql("UPDATE organisation SET password_min_length = 10 WHERE id = :id", id=org.id)
    with pytest.raises(ValidationFailed):
        users.reset_password(actor, victim.id, "short1234")
    with pytest.raises(ValidationFailed):
        users.create_user(actor, username="hbc.x", full_name="X", email="", password="short1234")
    users.reset_password(actor, victim.id, "longer12345")


def test_list_users_search_and_status(actor, victim, make_user):
    make_user("hbc.gone", is_active=False)
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        auth.login("hbc.victim", "wrong999")
    auth.login("hbc.admin", "admin1234")
    rows = {u.username: u for u in users.list_users(actor)}
    assert rows["hbc.victim"].status == "locked" and rows["hbc.victim"].roles == ["Booking staff"]
    assert rows["hbc.gone"].status == "disabled"
    assert rows["hbc.admin"].status == "active" and rows["hbc.admin"].last_login_at is not None
    assert rows["hbc.admin"].last_login_at > utcnow() - timedelta(minutes=1)
    assert [u.username for u in users.list_users(actor, search="VICT")] == ["hbc.victim"]
