"""Signing in and out, lockout and unlock, password resets by an administrator and by email, the login report and
the audit trail, all through the production build in a real browser.

Each test uses its own demo accounts so the tests do not depend on each other's order."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from support import at, login, login_fails, path_of, session_cookie, user_row, wait_hydrated

STAFF_ROUTES = ["/staff", "/admin/users", "/admin/logins", "/admin/audit", "/admin/outbox", "/admin/roles", "/account"]


def audit_filter(page, action: str, entity_id: int) -> None:
    """Use the audit viewer's filter form: one action, one user."""
    page.goto("/admin/audit")
    wait_hydrated(page)
    expect(page.locator("#audit-count")).to_contain_text("entries")
    expect(page.locator(f'#audit-action option[value="{action}"]')).to_be_attached()
    page.select_option("#audit-action", action)
    page.select_option("#audit-entity", "user")
    page.fill("#audit-entity_id", str(entity_id))
    page.click("#audit-filter")
    expect(page.locator("#audit-count")).to_have_text(re.compile(r"^[1-9]\d* entries$"))


def test_sign_in_lands_on_staff_home_with_name(page):
    login(page, "hbc.booking", "booking123")
    assert path_of(page).rstrip("/") == "/staff"
    expect(page.locator("#signed-in-as")).to_have_text("Ben Hughes")
    expect(page.locator("main")).to_contain_text("Signed in as Ben Hughes (hbc.booking) for Hartlepool Borough Council")
    # The session lives in an HttpOnly cookie that scripts cannot read.
    cookie = next(c for c in page.context.cookies() if c["name"] == "atlas_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "atlas_session" not in page.evaluate("document.cookie")
    # A booking clerk does not get the administration pages in the navigation.
    expect(page.get_by_role("link", name="Users")).to_have_count(0)


def test_sign_in_with_unknown_user_or_wrong_password_fails(page):
    login_fails(page, "nobody.here", "whatever123")
    login_fails(page, "hbc.booking", "wrong-password")
    assert session_cookie(page.context) is None


@pytest.mark.parametrize("route", STAFF_ROUTES)
def test_staff_pages_send_anonymous_visitors_to_sign_in(page, route):
    page.goto(route)
    expect(page).to_have_url(at("/login", "next=" + re.escape(route)))
    wait_hydrated(page)
    expect(page.locator("#username")).to_be_visible()
    body = page.locator("body").inner_text()
    assert "hbc." not in body and "ecc." not in body


def test_lockout_after_three_failures_and_admin_unlock(page, new_context, db):
    for _ in range(3):
        login_fails(page, "hbc.contact", "not-my-password")
    locked = db.user("hbc.contact")
    assert locked["locked_at"] is not None and locked["failed_attempts"] >= 3
    # Locked: the right password is refused too, with the same message.
    login_fails(page, "hbc.contact", "contact123")
    assert session_cookie(page.context) is None

    admin = new_context().new_page()
    login(admin, "hbc.admin", "admin123")
    admin.goto("/admin/users")
    wait_hydrated(admin)
    row = user_row(admin, "hbc.contact")
    expect(row).to_contain_text("locked")
    audit_before = db.last_audit_seq()
    admin.get_by_role("button", name="Unlock hbc.contact").click()
    expect(admin.get_by_role("status").filter(has_text="User unlocked.")).to_be_visible()
    expect(admin.get_by_role("button", name="Unlock hbc.contact")).to_have_count(0)
    expect(row).not_to_contain_text("locked")
    unlocked = db.user("hbc.contact")
    assert unlocked["locked_at"] is None and unlocked["failed_attempts"] == 0
    assert [r["action"] for r in db.audit_about_users([unlocked["id"]], audit_before)] == ["unlocked"]

    login(page, "hbc.contact", "contact123")
    expect(page.locator("#signed-in-as")).to_have_text("Chloe Dixon")

    # The audit trail shows both the lockout and the unlock, by whom.
    audit_filter(admin, "unlocked", unlocked["id"])
    entry = admin.locator("tbody tr").filter(has_text="unlocked").first
    expect(entry).to_contain_text("hbc.admin")
    audit_filter(admin, "locked", unlocked["id"])
    expect(admin.locator("tbody tr").filter(has_text="failed_attempts").first).to_be_visible()


def test_admin_resets_a_password_from_the_users_page(page, new_context, db):
    admin = new_context().new_page()
    login(admin, "hbc.admin", "admin123")
    admin.goto("/admin/users")
    wait_hydrated(admin)
    expect(user_row(admin, "hbc.instructor")).to_be_visible()
    old_hash = db.user("hbc.instructor")["password_hash"]

    admin.get_by_role("button", name="Reset password of hbc.instructor").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text("hbc.instructor")
    admin.fill("#reset-password", "Changed4521")
    admin.fill("#reset-confirm", "Changed4521")
    admin.click("#confirm-reset")
    expect(dialog).to_have_count(0)
    expect(admin.get_by_role("status").filter(has_text="Password reset for hbc.instructor")).to_be_visible()
    after = db.user("hbc.instructor")
    assert after["password_hash"] != old_hash and after["must_change_password"]

    login_fails(page, "hbc.instructor", "teach123")
    # The new password works; as it was set by an administrator, the user must choose their own first.
    login(page, "hbc.instructor", "Changed4521", lands_on="/account")
    expect(page.get_by_role("alert").filter(has_text="set by an administrator")).to_be_visible()

    audit_filter(admin, "password_reset_by_admin", after["id"])
    expect(admin.locator("tbody tr").filter(has_text="password_reset_by_admin").first).to_contain_text("hbc.admin")


def test_forgotten_password_email_link_works_once(page, new_context, mailbox, db):
    address = db.user("hbc.caseworker")["email"]
    page.goto("/forgot-password")
    wait_hydrated(page)
    page.fill("#identifier", "hbc.caseworker")
    page.click("#send-reset")
    expect(page.get_by_role("status")).to_contain_text("If that matches an active account")

    mail = mailbox.wait_for(address, "set a new password")
    assert mail.to == [address]
    links = re.findall(r"https?://\S+/reset-password\?token=[\w\-]+", mail.body)
    assert len(links) == 1, mail.body
    link = links[0]
    assert link.startswith(page.url.split("/forgot-password")[0])

    page.goto(link)
    wait_hydrated(page)
    page.fill("#new-password", "Emailed7788")
    page.fill("#confirm-password", "Emailed7788")
    page.click("#set-password")
    expect(page).to_have_url(at("/login", "reset=1"))
    expect(page.get_by_role("status")).to_contain_text("Your password has been changed")

    login_fails(page, "hbc.caseworker", "cases123")
    login(page, "hbc.caseworker", "Emailed7788")
    expect(page.locator("#signed-in-as")).to_have_text("Kate Morris")

    # The link works once.
    again = new_context().new_page()
    again.goto(link)
    wait_hydrated(again)
    again.fill("#new-password", "Another9900")
    again.fill("#confirm-password", "Another9900")
    again.click("#set-password")
    expect(again.get_by_role("alert")).to_contain_text("This link is not valid any more")
    assert "/reset-password" in again.url
    login_fails(again, "hbc.caseworker", "Another9900")


def test_login_report_lists_who_is_signed_in(page, new_context):
    other = new_context().new_page()
    login(other, "hbc.readonly", "read123")

    login(page, "hbc.admin", "admin123")
    page.goto("/admin/logins")
    wait_hydrated(page)
    expect(page.locator('[id^="signed-in-hbc.readonly-"]').first).to_contain_text("Rita Shaw")
    # (one row per signed-in session: earlier tests left other sessions of hbc.admin open)
    expect(page.locator('[id^="signed-in-hbc.admin-"]').first).to_be_visible()
    # Another organisation's users are never listed.
    expect(page.locator("main")).not_to_contain_text("ecc.")

    # Once they sign out, the report no longer lists that browser (other tests may have left sessions of the same
    # user open, each on a row of its own).
    readonly_rows = page.locator('[id^="signed-in-hbc.readonly-"]')
    before = readonly_rows.count()
    other.click("#sign-out")
    expect(other).to_have_url(at("/login", "signed_out=1"))
    page.get_by_role("button", name="Refresh").click()
    expect(readonly_rows).to_have_count(before - 1)
    expect(page.locator('[id^="signed-in-hbc.admin-"]').first).to_be_visible()


def test_after_sign_out_staff_pages_are_refused(page, new_context, db):
    login(page, "ecc.booking", "booking123")
    token = session_cookie(page.context)
    assert token
    page.click("#sign-out")
    expect(page).to_have_url(at("/login", "signed_out=1"))
    expect(page.get_by_role("status")).to_contain_text("You have signed out")
    assert session_cookie(page.context) is None

    page.goto("/staff")
    expect(page).to_have_url(at("/login", "next=/staff"))

    # The old cookie, replayed from elsewhere, is refused by the server too.
    replay = new_context()
    replay.add_cookies([{"name": "atlas_session", "value": token, "url": page.url.split("/login")[0]}])
    stale = replay.new_page()
    stale.goto("/admin/users")
    expect(stale).to_have_url(at("/login", "next=/admin/users"))
    ended = db.one("SELECT s.ended_at, s.end_reason FROM auth_session s JOIN app_user u ON u.id = s.user_id "
                   "WHERE u.username = 'ecc.booking' ORDER BY s.id DESC")
    assert ended["ended_at"] is not None and ended["end_reason"] == "logout"


def test_sign_in_keeps_a_safe_next_page(page):
    page.goto("/admin/logins")
    expect(page).to_have_url(at("/login", "next=/admin/logins"))
    wait_hydrated(page)
    page.fill("#username", "hbc.admin")
    page.fill("#password", "admin123")
    with page.expect_navigation():
        page.click("#sign-in")
    expect(page).to_have_url(at("/admin/logins"))
    # An off-site next page is ignored.
    page.goto("/login?next=//evil.example/")
    wait_hydrated(page)
    page.fill("#username", "hbc.admin")
    page.fill("#password", "admin123")
    with page.expect_navigation():
        page.click("#sign-in")
    expect(page).to_have_url(re.compile(r"^http://localhost:\d+/staff/?$"))
