"""The attacker's side: every public method of a Reflex state can be called by anyone who can open the websocket,
with any arguments. These tests send staff events straight over the wire and check that nothing runs, nothing
changes, and nothing private comes back."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from support import (
    AUDIT_STATE,
    AUTH_STATE,
    BCRYPT_MARKERS,
    DEMO_USERS,
    HYDRATE_AND_LOAD,
    LOGIN_REPORT_STATE,
    OUTBOX_STATE,
    USERS_STATE,
    FrameLog,
    PythonSocket,
    event,
    leaks,
    lock_by_guessing,
    login,
    raw_socket_in_page,
    redirects,
    session_cookie,
    socketio_events,
    user_row,
    wait_hydrated,
)


def staff_events(target_id: int, other_id: int) -> list[dict]:
    """Reads and writes of another user's account, as the users page would send them, and then some."""
    path = "/admin/users"
    return [
        event(f"{USERS_STATE}.load", path),
        event(f"{USERS_STATE}.apply_search", path, form={"search": ""}),
        event(f"{USERS_STATE}.unlock", path, user_id=str(target_id)),
        event(f"{USERS_STATE}.disable", path, user_id=str(other_id)),
        event(f"{USERS_STATE}.enable", path, user_id=str(other_id)),
        event(f"{USERS_STATE}.open_reset", path, user_id=str(target_id)),
        event(f"{USERS_STATE}.reset_password", path,
              form={"password": "Hijacked123", "confirm": "Hijacked123", "must_change": False}),
        event(f"{USERS_STATE}.open_create", path),
        event(f"{USERS_STATE}.save", path, form={"username": "mallory", "full_name": "Mallory", "email": "",
                                                 "password": "Mallory12345", "role_1": True}),
        event(f"{AUTH_STATE}.load", path),
        event(f"{AUTH_STATE}.switch_organisation", path, organisation_id="1"),
        event(f"{LOGIN_REPORT_STATE}.load", "/admin/logins"),
        event(f"{AUDIT_STATE}.load", "/admin/audit"),
        event(f"{OUTBOX_STATE}.load", "/admin/outbox"),
    ]


def snapshot(db, *usernames: str) -> dict:
    return {u: {k: v for k, v in db.user(u).items() if k != "email"} for u in usernames}


def forbidden_strings(db, allowed: set[str] = frozenset()) -> list[str]:
    """Other people's usernames, names and email addresses, and password hashes."""
    rows = db.all("SELECT username, full_name, email FROM app_user")
    found = list(BCRYPT_MARKERS) + ["password_hash", "token_hash"]
    for row in rows:
        if row["username"] in allowed:
            continue
        found += [row["username"], row["full_name"]] + ([row["email"]] if row["email"] else [])
    return found


def assert_nothing_changed(db, before: dict, audit_seq: int) -> None:
    after = snapshot(db, *before)
    assert after == before, "an account changed"
    ids = [row["id"] for row in before.values()]
    assert db.audit_about_users(ids, audit_seq) == [], "an audit entry was written about the target accounts"
    assert db.one("SELECT id FROM app_user WHERE username = 'mallory'") is None, "a user was created"


def test_anonymous_websocket_cannot_call_staff_handlers(page, atlas, db):
    lock_by_guessing(atlas.url, "ecc.contact")
    target, other = db.user("ecc.contact"), db.user("ecc.manager")
    assert target["locked_at"] is not None and other["is_active"]
    before = snapshot(db, "ecc.contact", "ecc.manager")
    audit_seq = db.last_audit_seq()

    frames = FrameLog().attach(page)
    page.goto("/login")  # a fresh anonymous browser: no cookie
    wait_hydrated(page)
    assert session_cookie(page.context) is None
    attack = staff_events(target["id"], other["id"])
    # The framework's own hydrate event is allowed; the staff on_load handlers it chains for /admin/users are not.
    hydrate = event(HYDRATE_AND_LOAD, "/admin/users")
    raw = raw_socket_in_page(page, atlas.url, [hydrate, *attack], expect_replies=len(attack) + 3)

    # Every staff event was answered with a redirect to the sign-in page, and with nothing else.
    paths = redirects(raw)
    assert len(paths) >= len(attack), f"{len(paths)} redirects for {len(attack)} events: {raw}"
    assert all(p.startswith("/login") for p in paths), paths
    for frame in raw:
        for update in socketio_events(frame):
            for substate, values in (update.get("delta") or {}).items():
                if "users_state" in substate or "login_report_state" in substate or "audit_state" in substate:
                    assert all(v in ([], {}, "", 0, False) for v in values.values()), (substate, values)

    assert_nothing_changed(db, before, audit_seq)
    found = leaks(raw + frames.received, forbidden_strings(db))
    assert found == [], f"private data in frames sent to an anonymous client: {found}"


def test_signed_in_clerk_cannot_use_the_users_admin_handlers(page, atlas, db):
    lock_by_guessing(atlas.url, "hbc.manager")
    target = db.user("hbc.manager")
    before = snapshot(db, "hbc.manager", "hbc.readonly")
    audit_seq = db.last_audit_seq()
    other = db.user("hbc.readonly")

    frames = FrameLog().attach(page)
    login(page, "hbc.booking", "booking123")
    # The page itself shows nothing.
    page.goto("/admin/users")
    wait_hydrated(page)
    expect(page.locator("main h1")).to_have_text("Users")
    expect(page.get_by_text("You do not have permission", exact=False).first).to_be_visible()
    expect(page.locator('[id^="user-row-"]')).to_have_count(0)

    # Nor do the raw events, sent over a socket that carries the clerk's own session cookie.
    attack = [e for e in staff_events(target["id"], other["id"]) if "switch_organisation" not in e["name"]]
    raw = raw_socket_in_page(page, atlas.url, attack, expect_replies=len(attack))
    assert_nothing_changed(db, before, audit_seq)
    assert not any(p.startswith("/login") for p in redirects(raw)), "the clerk's session should be recognised"
    own = {"hbc.booking"}
    found = leaks(raw + frames.received, [s for s in forbidden_strings(db, own) if s != "Ben Hughes"])
    assert found == [], f"another user's data reached a clerk: {found}"


def test_admin_frames_carry_no_password_hash_or_session_token(page, atlas, db):
    frames = FrameLog().attach(page)
    login(page, "hbc.admin", "admin123")
    token = session_cookie(page.context)
    assert token and len(token) >= 32
    for path, ready in (("/admin/users", lambda: expect(user_row(page, "hbc.booking")).to_be_visible()),
                        ("/admin/logins", lambda: expect(page.locator('[id^="signed-in-hbc.admin-"]').first).to_be_visible()),
                        ("/admin/audit", lambda: expect(page.locator("tbody tr").first).to_be_visible()),
                        ("/account", lambda: expect(page.locator("#change-password")).to_be_visible())):
        page.goto(path)
        wait_hydrated(page)
        ready()
    page.goto("/admin/users")
    wait_hydrated(page)
    page.get_by_role("button", name="Reset password of hbc.booking").click()
    expect(page.get_by_role("dialog")).to_be_visible()

    everything = frames.received + frames.sent
    assert any("hbc.booking" in f for f in frames.received), "the frames were not recorded"
    secrets = list(BCRYPT_MARKERS) + [token, hashlib.sha256(token.encode()).hexdigest(), "atlas_session="]
    assert leaks(everything, secrets) == []
    # The admin sees their own organisation only.
    assert leaks(frames.received, [u for u in DEMO_USERS if u.startswith("ecc.")]) == []


def test_cross_site_websocket_is_refused_even_with_a_valid_cookie(page, atlas):
    login(page, "hbc.admin", "admin123")
    cookie = f"atlas_session={session_cookie(page.context)}"
    users_load = event(f"{USERS_STATE}.load", "/admin/users")

    # Control: from the app's own origin, this client and cookie do load the users list.
    own = PythonSocket(atlas.url, headers={"Origin": atlas.url, "Cookie": cookie})
    try:
        own.send(users_load)
        frames = own.collect(replies=1)
    finally:
        own.close()
    assert any("hbc.booking" in f for f in frames), frames

    # The same request from another site's page is refused at the handshake (cross-site websocket hijacking).
    with pytest.raises(ConnectionRefusedError, match="HTTP 403"):
        PythonSocket(atlas.url, headers={"Origin": "https://evil.example", "Cookie": cookie})


def test_forged_cookie_is_not_a_session(atlas):
    socket = PythonSocket(atlas.url, headers={"Origin": atlas.url, "Cookie": "atlas_session=" + "A" * 43})
    try:
        socket.send(event(f"{USERS_STATE}.load", "/admin/users"), event(f"{AUTH_STATE}.load", "/staff"))
        frames = socket.collect(replies=2)
    finally:
        socket.close()
    assert [p.split("?")[0] for p in redirects(frames)] == ["/login", "/login"], frames
