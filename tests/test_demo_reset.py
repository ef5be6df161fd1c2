"""The demo organisation's reset: it deletes and regenerates only Demo Borough Council's rows; every other
organisation keeps every row (counted table by table), every audit chain stays valid, and the demo organisation
comes back with data in every area and its logins."""

from __future__ import annotations

import pytest
from conftest import UserInfo, actor_for
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from atlas_app.db import read_session
from atlas_app.models import (
    AuditEntry,
    AuthSession,
    Booking,
    CallLog,
    CourseSession,
    CourseType,
    Offer,
    Organisation,
    User,
)
from atlas_app.models.casework import Case
from atlas_app.models.instructors import Instructor, TrainingVehicle
from atlas_app.services import demo
from atlas_app.services.platform import audit, auth
from atlas_app.services.platform.actor import system_actor
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.services.user_group import demo_org


def _counts(org_ids: list[int]) -> dict[tuple[str, int], int]:
    """Rows of each organisation in every table (its own rows and those hanging from them by foreign key)."""
    out = {}
    with read_session() as s:
        for table in SQLModel.metadata.sorted_tables:
            for oid in org_ids:
                cond = demo_org._owned_condition(table, oid, {})
                if cond is not None:
                    out[(table.name, oid)] = s.execute(sa_select(func.count()).select_from(table).where(cond)).scalar()
    return out


def _demo_rows(model, demo_id: int) -> int:
    with read_session() as s:
        return s.exec(select(func.count()).select_from(model).where(model.organisation_id == demo_id)).one()


def test_a_reset_regenerates_the_demo_organisation_and_touches_no_other(actor):
    demo.seed_demo()
    platform = actor_for(_user("platform.admin"))
    with read_session() as s:
        orgs = {o.slug: o.id for o in s.exec(select(Organisation)).all()}
    demo_id = orgs["demo"]
    others = [oid for slug, oid in orgs.items() if slug != "demo"]
    assert len(others) == 3  # the service provider, Hartlepool, Essex
    # A demo visitor is signed in and changes things.
    demo_admin = _user("demo.admin")
    session = auth.login("demo.admin", "admin123", "127.0.0.1")
    assert session.ok
    # The platform administrator is signed in too, acting for the demo organisation.
    provider = auth.login("platform.admin", "platform123", "127.0.0.1")
    auth.switch_organisation(auth.resolve(provider.token), demo_id)
    assert auth.resolve(provider.token).organisation_id == demo_id
    before = _counts(others)
    assert sum(before.values()) > 1000
    offers_before = _demo_rows(Offer, demo_id)

    report = demo_org.reset(platform)  # its time is measured in tests/perf/test_demo_reset_bench.py
    assert report.deleted > 1000 and report.users == len(demo.DEMO_USERS["demo"])

    # Every other organisation's rows are as they were; the service provider's trail has the one entry saying who
    # reset the demo organisation.
    before[("audit_entry", platform.organisation_id)] += 1
    assert _counts(others) == before
    with read_session() as s:
        trail = audit.verify_trail(s)
    assert trail.ok, trail.reason
    assert trail.for_chain(demo_id).entries_checked >= 1
    # The demo organisation is back, same id, with its data in every area and its users (new rows).
    for model in (CourseType, CourseSession, Offer, Booking, CallLog, Instructor, TrainingVehicle, Case):
        assert _demo_rows(model, demo_id) > 0, model.__name__
    assert _demo_rows(Offer, demo_id) > offers_before / 2
    with read_session() as s:
        assert s.exec(select(AuthSession).where(AuthSession.user_id == demo_admin.id)).first() is None
    assert demo_org.last_reset_at() is not None
    # The browser that was signed in is told why when it lands on the sign-in page.
    assert demo_org.signed_out_by_reset(session.token) is not None
    other_session = auth.login("hbc.admin", "admin1234", "127.0.0.1")
    assert other_session.ok and demo_org.signed_out_by_reset(other_session.token) is None
    assert auth.resolve(other_session.token) is not None  # other organisations' sessions live on
    assert auth.resolve(provider.token).organisation_id == demo_id  # the provider's too, still acting for it
    with read_session() as s:
        mine = s.exec(select(AuditEntry).where(AuditEntry.action == "demo_reset")).all()
    assert {e.organisation_id for e in mine} == {demo_id, platform.organisation_id}


def test_only_the_platform_administrator_resets_the_demo_organisation(actor):
    with pytest.raises(PermissionDenied):
        demo_org.reset(actor)


def _user(username: str):
    with read_session() as s:
        u = s.exec(select(User).where(User.username == username)).one()
    return UserInfo(u.id, u.username, "", u.organisation_id, u.email)


def test_reset_demo_on_the_command_line():
    from conftest import run_cli

    result = run_cli("reset-demo")
    assert result.returncode == 0, result.stderr
    assert "Demo Borough Council reset" in result.stdout
    assert auth.login("demo.admin", "admin123").ok
    with read_session() as s:
        assert audit.verify_trail(s).ok
        assert [o.slug for o in s.exec(select(Organisation)).all()] == ["demo"]


def test_the_sign_in_page_tells_a_demo_user_their_session_ended_with_a_reset(monkeypatch):
    from state_support import at, run, substate

    from atlas_app.ui.staff import login as login_page

    demo.seed_organisation("demo")
    session = auth.login("demo.booking", "booking123", "127.0.0.1")
    demo_org.reset(system_actor(None, "test"))
    monkeypatch.setattr(login_page, "request_token", lambda: session.token)
    state = at(substate(login_page.LoginState), "/login?next=/bookings/sessions")
    run(state.on_load())
    assert "Demo Borough Council was reset" in state.notice
    monkeypatch.setattr(login_page, "request_token", lambda: "someone-else")
    state = at(substate(login_page.LoginState), "/login?next=/bookings/sessions")
    run(state.on_load())
    assert state.notice == ""
