"""The attacker's side of the session gate. A tab's client token is not a session: with only the token (no cookie,
a cookie of an ended session, or someone else's cookie) no staff handler runs as the tab's last user, the page-load
snapshot (hydrate) holds none of their data, and an upload runs as the session of its own request or not at all.
A user who must change their password can do nothing else until it is changed.

Events go through the app's real event processing (see gate_support)."""

from __future__ import annotations

import pytest

from atlas_app.models import ImportJob, User
from atlas_app.services.platform import auth
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.components.shell import AuthState
from atlas_app.ui.staff.account import AccountState
from atlas_app.ui.staff.admin.users import UsersState
from atlas_app.ui.staff.booking.referrals import ReferralsImportState
from conftest import all_rows, set_columns
from gate_support import HYDRATE, Browser, cookie_header, new_tab

USERS_LOAD = f"{UsersState.get_full_name()}.load"
SHELL_LOAD = f"{AuthState.get_full_name()}.load"
IMPORT_LOAD = f"{ReferralsImportState.get_full_name()}.load"
IMPORT_UPLOAD = f"{ReferralsImportState.get_full_name()}.upload"
CHANGE_PASSWORD = f"{AccountState.get_full_name()}.change_password"
CSV = b"offer_reference,course_code,surname\nX1,NSAC,Smith\n"


@pytest.fixture
def people(admin, make_user):
    make_user("hbc.victim.colleague", email="colleague@hartlepool.example.gov.uk")
    clerk = make_user("hbc.clerk", "clerk1234", roles=("Read-only",))
    return admin, clerk


def sign_in(user) -> str:
    outcome = auth.login(user.username, user.password)
    assert outcome.ok
    return outcome.token


def rows_of(reply) -> list:
    return reply.values(UsersState).get("rows", [])


def test_hydrate_with_only_the_tab_token_sends_none_of_the_staff_users_data(people):
    admin, _ = people
    cookie = cookie_header(sign_in(admin))

    async def scenario(b: Browser):
        tab = new_tab()
        shown = await b.send(tab, USERS_LOAD, "/admin/users", cookie)
        await b.send(tab, SHELL_LOAD, "/admin/users", cookie)
        assert "hbc.victim.colleague" in shown.text()  # the administrator's own page had the list
        # The attacker has the tab's token, not its cookie: a new socket, the page-load snapshot.
        stolen = await b.send(tab, HYDRATE, "/admin/users", "")
        assert "hbc.victim.colleague" not in stolen.text()
        assert "colleague@hartlepool" not in stolen.text()
        assert rows_of(stolen) == []
        assert stolen.values(AuthState).get("username") == "" and stolen.values(AuthState).get("permissions") == []
        # And the staff handler itself is refused.
        again = await b.send(tab, USERS_LOAD, "/admin/users", "")
        assert again.redirects == ["/login?next=/admin/users"] and "hbc.victim" not in again.text()

    Browser().run(scenario)


def test_hydrate_after_sign_out_sends_none_of_the_data(people):
    admin, _ = people
    token = sign_in(admin)

    async def scenario(b: Browser):
        tab = new_tab()
        await b.send(tab, USERS_LOAD, "/admin/users", cookie_header(token))
        assert auth.logout(token)
        # The old cookie (replayed after sign-out) is no session either.
        stolen = await b.send(tab, HYDRATE, "/admin/users", cookie_header(token))
        assert "hbc.victim.colleague" not in stolen.text() and rows_of(stolen) == []

    Browser().run(scenario)


def test_another_user_on_the_same_tab_gets_none_of_the_first_users_data(people):
    admin, clerk = people
    admin_cookie, clerk_cookie = cookie_header(sign_in(admin)), cookie_header(sign_in(clerk))

    async def scenario(b: Browser):
        tab = new_tab()
        await b.send(tab, USERS_LOAD, "/admin/users", admin_cookie)
        await b.send(tab, SHELL_LOAD, "/admin/users", admin_cookie)
        seen = await b.send(tab, HYDRATE, "/staff", clerk_cookie)
        assert "hbc.victim.colleague" not in seen.text() and rows_of(seen) == []
        assert seen.values(AuthState).get("username") == ""
        # The same user's own tab keeps its data across reconnects.
        own = new_tab()
        await b.send(own, USERS_LOAD, "/admin/users", admin_cookie)
        kept = await b.send(own, HYDRATE, "/admin/users", admin_cookie)
        assert "hbc.victim.colleague" in kept.text()

    Browser().run(scenario)


def test_upload_with_only_the_tab_token_runs_nothing(people):
    admin, _ = people
    cookie = cookie_header(sign_in(admin))

    async def scenario(b: Browser):
        tab = new_tab()
        await b.send(tab, IMPORT_LOAD, "/referrals/import", cookie)  # the tab's state saw the admin's cookie
        await b.upload(tab, IMPORT_UPLOAD, {"files": ("offers.csv", CSV, "text/csv")}, cookie="")
        assert all_rows(ImportJob) == []

    Browser().run(scenario)


def test_upload_with_another_users_cookie_runs_as_that_user_only(people):
    admin, clerk = people
    admin_cookie, clerk_cookie = cookie_header(sign_in(admin)), cookie_header(sign_in(clerk))

    async def scenario(b: Browser):
        tab = new_tab()
        await b.send(tab, IMPORT_LOAD, "/referrals/import", admin_cookie)
        # The clerk (read-only) holds the administrator's tab token and sends their own cookie.
        outcome = await b.upload(tab, IMPORT_UPLOAD, {"files": ("offers.csv", CSV, "text/csv")},
                                 cookie=clerk_cookie)
        assert isinstance(outcome, PermissionDenied)
        assert all_rows(ImportJob) == []

    Browser().run(scenario)


def test_upload_with_its_own_session_cookie_runs_as_that_user(people):
    admin, _ = people
    cookie = cookie_header(sign_in(admin))

    async def scenario(b: Browser):
        tab = new_tab()
        await b.send(tab, IMPORT_LOAD, "/referrals/import", cookie)
        response = await b.upload(tab, IMPORT_UPLOAD, {"files": ("offers.csv", CSV, "text/csv")}, cookie=cookie)
        assert response.status_code == 200
        jobs = all_rows(ImportJob)
        assert len(jobs) == 1 and jobs[0].started_by == "hbc.admin"

    Browser().run(scenario)


def test_a_user_who_must_change_their_password_can_only_change_it(people):
    admin, _ = people
    set_columns(User, User.id == admin.id, must_change_password=True)
    cookie = cookie_header(sign_in(admin))

    async def scenario(b: Browser):
        tab = new_tab()
        refused = await b.send(tab, USERS_LOAD, "/admin/users", cookie)
        assert refused.redirects == ["/account"] and "hbc.victim.colleague" not in refused.text()
        shell = await b.send(tab, SHELL_LOAD, "/account", cookie)
        assert shell.values(AuthState).get("must_change_password") is True
        changed = await b.send(tab, CHANGE_PASSWORD, "/account", cookie,
                               form={"current_password": "admin1234", "new_password": "chosen5678",
                                     "confirm": "chosen5678"})
        assert "has been changed" in changed.values(AccountState).get("notice", "")
        shown = await b.send(tab, USERS_LOAD, "/admin/users", cookie)
        assert "hbc.victim.colleague" in shown.text()

    Browser().run(scenario)
