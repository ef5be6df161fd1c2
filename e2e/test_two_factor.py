"""Two-factor sign-in in a real browser against the production build: setting it up on My account (the key read
off the page, as someone typing it into an app would, and the code computed from it with pyotp), signing out,
signing in with a code, with a recovery code, and a code that was used already refused."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import expect

from support import E2E_USERS, at, session_cookie, submit_login, wait_hydrated

USERNAME = "e2e.twofactor"
PASSWORD = E2E_USERS[USERNAME][2]


def _fresh_code(totp: pyotp.TOTP, after_step: int) -> tuple[str, int]:
    """A code of a time step later than ``after_step`` (a step once accepted never works again)."""
    while True:
        step = totp.timecode(time.time())
        if step > after_step and totp.interval - time.time() % totp.interval > 3:
            return totp.at(time.time()), step
        time.sleep(1)


def _sign_out(page) -> None:
    page.click("#sign-out")
    expect(page).to_have_url(at("/login"))
    assert session_cookie(page.context) is None


def _enter_code(page, code: str) -> None:
    expect(page).to_have_url(at("/login/code"))
    wait_hydrated(page)
    page.fill("#code", code)
    with page.expect_navigation():
        page.click("#send-code")


def test_two_factor_enrol_sign_in_with_a_code_and_a_recovery_code_and_a_replay_refused(page, db):
    submit_login(page, USERNAME, PASSWORD)
    expect(page).to_have_url(at("/staff"))
    page.goto("/account")
    wait_hydrated(page)
    page.click("#start-two-factor")
    expect(page.locator("#two-factor-qr")).to_be_visible()
    key = page.locator("#manual-key").inner_text().replace(" ", "")
    assert len(key) == 32
    totp = pyotp.TOTP(key)
    code, last_step = _fresh_code(totp, 0)
    page.fill("#tf-code", code)
    page.click("#confirm-two-factor")
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    recovery = [c.strip() for c in codes.all_inner_texts()]
    page.click("#saved-recovery-codes")
    expect(page.locator("#recovery-codes")).to_have_count(0)
    # The key is not in the database as it was shown.
    stored = db.one("SELECT totp_secret FROM app_user WHERE username = :u", u=USERNAME)["totp_secret"]
    assert stored and key not in stored and key.lower() not in stored.lower()
    _sign_out(page)

    # The password alone gets only as far as the code page, with no session.
    submit_login(page, USERNAME, PASSWORD)
    expect(page).to_have_url(at("/login/code"))
    assert session_cookie(page.context) is None
    code, last_step = _fresh_code(totp, last_step)
    _enter_code(page, code)
    expect(page).to_have_url(at("/staff"))
    assert session_cookie(page.context) is not None
    _sign_out(page)

    # The same code again, inside its 30 seconds (someone who watched it typed): refused.
    submit_login(page, USERNAME, PASSWORD)
    _enter_code(page, code)
    expect(page).to_have_url(at("/login/code", ".*failed="))
    wait_hydrated(page)
    expect(page.get_by_role("alert")).to_contain_text("has been used already")
    assert session_cookie(page.context) is None

    # A recovery code instead, typed in lower case: in; and it works only once.
    submit_login(page, USERNAME, PASSWORD)
    _enter_code(page, recovery[0].lower())
    expect(page).to_have_url(at("/staff"))
    _sign_out(page)
    submit_login(page, USERNAME, PASSWORD)
    _enter_code(page, recovery[0])
    expect(page).to_have_url(at("/login/code", ".*failed="))
    assert session_cookie(page.context) is None
    # Two failures so far; a good code still signs in and resets the count, so the account is not left locked.
    submit_login(page, USERNAME, PASSWORD)
    code, last_step = _fresh_code(totp, last_step)
    _enter_code(page, code)
    expect(page).to_have_url(at("/staff"))
    assert db.user(USERNAME)["locked_at"] is None
