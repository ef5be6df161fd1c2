"""``python -m atlas_app``: the administration commands, run as a real subprocess against the test database."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func
from sqlmodel import select

from atlas_app.db import read_session
from atlas_app.models import (
    AuditEntry,
    BookingTerms,
    Client,
    CourseSession,
    CourseType,
    Offer,
    Organisation,
    Region,
    Role,
    User,
    UserRole,
    Venue,
)
from atlas_app import cli
from atlas_app.services.platform import audit, auth
from atlas_app.services import demo
from atlas_app.services.platform.permissions import ALL_PERMISSIONS
from conftest import all_rows, run_cli

COUNTED = [Organisation, User, Role, UserRole, Region, Venue, CourseType, BookingTerms, CourseSession, Client, Offer,
           AuditEntry]


def counts() -> dict[str, int]:
    with read_session() as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one() for m in COUNTED}


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("migrate", "seed-demo", "create-admin", "audit-verify", "send-email"):
        assert command in result.stdout
    bare = run_cli()
    assert bare.returncode == 0 and "seed-demo" in bare.stdout


def test_unknown_command_fails():
    result = run_cli("drop-everything")
    assert result.returncode != 0
    assert "invalid choice" in result.stderr


def test_migrate_on_a_migrated_database_is_a_no_op():
    result = run_cli("migrate")
    assert result.returncode == 0, result.stderr
    assert "latest migration" in result.stdout


def test_seed_demo_twice_creates_no_duplicates(capsys):
    first = run_cli("seed-demo")
    assert first.returncode == 0, first.stderr
    after_first = counts()
    expected_users = 1 + sum(len(v) for v in demo.DEMO_USERS.values())
    assert after_first["Organisation"] == 1 + len(demo.DEMO_ORGS)
    assert after_first["User"] == expected_users
    assert f"({expected_users} users created)" in first.stdout
    assert all(after_first[name] > 0 for name in ("CourseType", "Venue", "CourseSession", "Offer"))
    from atlas_app.models.instructors import SessionAssignment, TrainingVehicle

    assert Counter(c.organisation_id for c in all_rows(TrainingVehicle)).most_common()[-1][1] >= 3  # each org
    with_car = all_rows(SessionAssignment, SessionAssignment.vehicle_id.is_not(None))
    assert with_car and len({(a.vehicle_id, a.block_start) for a in with_car}) == len(with_car)

    second = run_cli("seed-demo")
    assert second.returncode == 0, second.stderr
    assert "(0 users created)" in second.stdout
    assert counts() == after_first

    assert cli.main(["seed-demo", "--if-empty"]) == 0
    assert "already" in capsys.readouterr().out
    assert counts() == after_first

    roles = Counter((r.organisation_id, r.name) for r in all_rows(Role))
    assert max(roles.values()) == 1
    codes = Counter((c.organisation_id, c.code) for c in all_rows(CourseType))
    assert max(codes.values()) == 1
    # The demo logins in the README work, and the trail the seeding wrote is intact.
    assert auth.login("hbc.admin", "admin123").ok
    assert auth.login("ecc.contact", "contact123").ok
    with read_session() as s:
        assert audit.verify_trail(s).ok


def test_create_admin_creates_a_working_administrator():
    result = run_cli("create-admin", "--org", "newtown", "--org-name", "Newtown Council", "--username", "NT.Admin",
                     "--full-name", "Nia Thomas", "--email", "nia@newtown.example.gov.uk", "--password",
                     "Start1234")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nt.admin" in result.stdout

    login = auth.login("nt.admin", "Start1234")
    assert login.ok, login.message
    actor = auth.resolve(login.token)
    assert actor.permissions == frozenset(ALL_PERMISSIONS)
    assert not actor.must_change_password and not actor.is_platform_admin
    org = all_rows(Organisation, Organisation.slug == "newtown")[0]
    assert org.name == "Newtown Council" and actor.organisation_id == org.id
    user = all_rows(User, User.username == "nt.admin")[0]
    assert user.password_hash != "Start1234" and user.email == "nia@newtown.example.gov.uk"
    assert {e.action for e in all_rows(AuditEntry)} >= {"created", "login"}


def test_create_admin_for_an_existing_org_and_a_platform_admin(capsys):
    # In-process from here on: the same entry point, without a subprocess's start-up cost.
    assert cli.main(["create-admin", "--org", "newtown", "--org-name", "Newtown Council", "--username", "nt.one",
                     "--password", "Start1234"]) == 0
    assert cli.main(["create-admin", "--org", "newtown", "--username", "nt.platform", "--password", "Start1234",
                     "--platform"]) == 0
    assert len(all_rows(Organisation)) == 1
    actor = auth.resolve(auth.login("nt.platform", "Start1234").token)
    assert actor.is_platform_admin
    assert "made_platform_admin" in [e.action for e in all_rows(AuditEntry)]


def test_create_admin_refuses_bad_input(capsys):
    assert cli.main(["create-admin", "--org", "nowhere", "--username", "x.admin", "--password", "Start1234"]) == 2
    assert "--org-name" in capsys.readouterr().err
    assert all_rows(Organisation) == []

    assert cli.main(["create-admin", "--org", "newtown", "--org-name", "Newtown Council", "--username", "nt.admin",
                     "--password", "weak"]) == 2
    assert "Not created" in capsys.readouterr().err
    assert all_rows(User) == []

    assert cli.main(["create-admin", "--org", "newtown", "--username", "nt.admin", "--password", "Start1234"]) == 0
    assert cli.main(["create-admin", "--org", "newtown", "--username", "nt.admin", "--password", "Other5678"]) == 2
    assert "taken" in capsys.readouterr().err
    assert auth.login("nt.admin", "Start1234").ok
    assert not auth.login("nt.admin", "Other5678").ok


def test_every_area_registers_its_commands_with_their_flags():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"migrate", "seed-demo", "reset-demo", "create-admin", "audit-verify", "send-email",
                             "unlock-user", "api-token", "import-referrals", "import-gazetteer", "card-provider",
                             "import-installations", "import-rent-transactions", "purge", "send-reminders", "audit-reseal"}
    flags = {name: {o for a in p._actions for o in a.option_strings} - {"-h", "--help"}
             for name, p in commands.items()}
    assert flags["create-admin"] == {"--org", "--org-name", "--username", "--full-name", "--email", "--password",
                                     "--platform"}
    assert flags["api-token"] == {"--org", "--name"}
    assert flags["card-provider"] == {"--org"}
    assert flags["import-referrals"] == {"--org", "--skip-bad-rows"}
    assert flags["import-gazetteer"] == {"--org", "--format", "--quiet", "--skip-bad-rows"}
    assert flags["import-installations"] == {"--org"}
    assert flags["import-rent-transactions"] == {"--org", "--as-of", "--no-recompute", "--quiet"}
    assert flags["unlock-user"] == set()
    assert flags["seed-demo"] == {"--if-empty"}
    assert flags["reset-demo"] == set()


def test_every_command_finds_an_organisation_by_its_slug_whatever_the_case(capsys):
    """One lookup for every command: a slug typed with capitals or spaces finds the organisation; an unknown one
    finds nothing, and create-admin stores a new organisation's slug in lower case."""
    from atlas_app.services.platform import organisations

    assert cli.main(["create-admin", "--org", " NewTown ", "--org-name", "Newtown Council", "--username", "nt.one",
                     "--password", "Start1234"]) == 0
    org = all_rows(Organisation)[0]
    assert org.slug == "newtown"
    assert cli.main(["create-admin", "--org", "NEWTOWN", "--username", "nt.two", "--password", "Start1234"]) == 0
    assert len(all_rows(Organisation)) == 1
    assert cli.main(["api-token", "--org", "NewTown", "--name", "Back office"]) == 0
    assert organisations.system_actor_for(" Newtown", "cli:test").organisation_id == org.id
    assert organisations.system_actor_for("oldtown", "cli:test") is None
    assert organisations.system_actor_for("", "cli:test") is None
    assert cli.main(["import-referrals", "nothing.csv", "--org", "oldtown"]) == 2
    assert "No organisation 'oldtown'" in capsys.readouterr().err
