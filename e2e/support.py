"""Helpers shared by the browser tests: signing in, waiting for hydration, reading the database, recording
websocket frames and speaking Reflex's websocket protocol directly (as an attacker would)."""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import create_engine, text

# Full names of the Reflex states and handlers the attack tests call (Reflex's wire names:
# module path with "___" for ".", state class in snake case after "____").
ROOT_STATE = "reflex___state____state"
USERS_STATE = f"{ROOT_STATE}.atlas_app___ui___staff___admin___users____users_state"
AUTH_STATE = f"{ROOT_STATE}.atlas_app___ui___components___shell____auth_state"
LOGIN_REPORT_STATE = f"{ROOT_STATE}.atlas_app___ui___staff___admin___logins____login_report_state"
AUDIT_STATE = f"{ROOT_STATE}.atlas_app___ui___staff___admin___audit____audit_state"
OUTBOX_STATE = f"{ROOT_STATE}.atlas_app___ui___staff___admin___outbox____outbox_state"
HYDRATE_AND_LOAD = f"{ROOT_STATE}.hydrate_and_load"

HYDRATION_TIMEOUT = 30_000
SIGN_IN_FAILED_TEXT = "Sign-in failed"

# Every demo account (username, full name, email domain); the leak checks look for these in websocket frames.
DEMO_USERS = {
    "hbc.admin": "Helen Barker", "hbc.booking": "Ben Hughes", "hbc.contact": "Chloe Dixon",
    "hbc.instructor": "Ian Walsh", "hbc.caseworker": "Kate Morris", "hbc.manager": "Mark Lowe",
    "hbc.readonly": "Rita Shaw", "ecc.admin": "Edward Cole", "ecc.booking": "Priya Shah",
    "ecc.contact": "Tom Reid", "ecc.manager": "Sara Quinn", "platform.admin": "Pat Morgan",
}
BCRYPT_MARKERS = ("$2b$", "$2a$", "$2y$")

# Accounts only these tests use (created by the server fixture with `python -m atlas_app create-admin`), for the
# tests that lock, reset or sign out an account: other test files use the demo accounts freely.
# username: (organisation slug, full name, password)
E2E_USERS = {
    "e2e.lockout": ("hartlepool", "Lena Lockwood", "Lockout123"),
    "e2e.reset": ("hartlepool", "Rory Reset", "Resetme123"),
    "e2e.forgot": ("hartlepool", "Fern Forgot", "Forgot123"),
    "e2e.report": ("hartlepool", "Remy Report", "Report123"),
    "e2e.signout": ("essex", "Sid Signout", "Signout123"),
    "e2e.twofactor": ("hartlepool", "Tomos Twofactor", "Twofactor123"),
}


def e2e_email(username: str) -> str:
    return f"{username}@{E2E_USERS[username][0]}.example.gov.uk"


# --- pages ------------------------------------------------------------------------------------------------------


def wait_hydrated(page: Page, timeout: float = HYDRATION_TIMEOUT) -> None:
    """The page's websocket is connected and its state hydrated (the shells render #hydrated then)."""
    expect(page.locator("#hydrated")).to_be_attached(timeout=timeout)


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def at(path: str, query: str = "") -> re.Pattern:
    """The URL of ``path`` (the static build may add a trailing slash), with a query string starting ``query``."""
    pattern = re.escape(path.rstrip("/")) + r"/?"
    pattern += (r"\?" + query) if query else r"(\?.*)?$"
    return re.compile(r"^https?://[^/]+" + pattern)


def tab_to(page: Page, element_id: str, limit: int = 80) -> None:
    """Press Tab until the element with ``element_id`` has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def tab_to_group(page: Page, name: str, limit: int = 80) -> None:
    """Press Tab until a radio button of the group ``name`` has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.name") == name:
            return
    raise AssertionError(f"Tab never reached the {name} radio group")


def submit_login(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    wait_hydrated(page)
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#sign-in")


def login(page: Page, username: str, password: str, *, lands_on: str = "/staff") -> None:
    """Sign in through the login form and wait until the staff shell shows the signed-in user."""
    submit_login(page, username, password)
    expect(page).to_have_url(at(lands_on))
    wait_hydrated(page)
    expect(page.locator("main h1")).to_be_visible()


def login_fails(page: Page, username: str, password: str) -> None:
    """Sign in is refused: back on /login with the generic failure message."""
    submit_login(page, username, password)
    expect(page).to_have_url(at("/login", ".*failed=1"))
    wait_hydrated(page)
    expect(page.get_by_role("alert")).to_contain_text(SIGN_IN_FAILED_TEXT)


def lock_by_guessing(base_url: str, username: str) -> None:
    """Three wrong passwords through the sign-in route lock the account (a locked account stays locked)."""
    import httpx

    for _ in range(3):
        response = httpx.post(f"{base_url}/api/auth/login", data={"username": username, "password": "guess-guess1"},
                              follow_redirects=False, timeout=30)
        assert response.status_code == 303 and "failed=1" in response.headers["location"]


def session_cookie(context: BrowserContext) -> str | None:
    for cookie in context.cookies():
        if cookie["name"] == "atlas_session":
            return cookie["value"]
    return None


def user_row(page: Page, username: str):
    return page.locator(f'[id="user-row-{username}"]')


# --- websocket frames ---------------------------------------------------------------------------------------------


@dataclass
class FrameLog:
    """Every websocket frame a page sent and received (the app's own socket and any opened by a test)."""

    received: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    @staticmethod
    def _text(payload: str | bytes) -> str:
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload

    def attach(self, page: Page) -> "FrameLog":
        def on_socket(ws):
            ws.on("framereceived", lambda payload: self.received.append(self._text(payload)))
            ws.on("framesent", lambda payload: self.sent.append(self._text(payload)))

        page.on("websocket", on_socket)
        return self

    def everything(self) -> str:
        return "\n".join(self.received + self.sent)


def leaks(frames: list[str], forbidden: list[str]) -> list[tuple[str, str]]:
    """(forbidden string, frame excerpt) for every forbidden string found in any frame."""
    found = []
    for needle in forbidden:
        for frame in frames:
            at = frame.find(needle)
            if at >= 0:
                found.append((needle, frame[max(0, at - 120): at + 120]))
                break
    return found


def event(name: str, path: str, **payload: Any) -> dict:
    """A Reflex event as the frontend sends it (see reflex's state.js: ReflexEvent + withRouterData)."""
    return {"name": name, "payload": payload, "router_data": {"pathname": path, "asPath": path}}


def redirects(frames: list[str]) -> list[str]:
    """Paths of every `_redirect` the server told a client to follow."""
    paths = []
    for frame in frames:
        for update in socketio_events(frame):
            for ev in update.get("events") or []:
                if ev.get("name") == "_redirect":
                    paths.append(ev.get("payload", {}).get("path", ""))
    return paths


def socketio_events(frame: str) -> list[dict]:
    """The payloads of a Socket.IO `event` packet on the /_event namespace (else nothing)."""
    prefix = "42/_event,"
    if not frame.startswith(prefix):
        return []
    try:
        name, *args = json.loads(frame[len(prefix):])
    except (ValueError, TypeError):
        return []
    return [a for a in args if isinstance(a, dict)] if name == "event" else []


# A minimal Engine.IO 4 / Socket.IO 5 client run inside the page, so the socket carries the page's origin and
# cookies exactly as the app's own socket would. Returns every frame it received.
RAW_SOCKET_JS = r"""
async ({url, events, expectReplies, timeoutMs}) => {
  const frames = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const ws = new WebSocket(url);
  let connected = false, closed = false, refused = false;
  ws.onmessage = (m) => {
    const d = String(m.data);
    frames.push(d);
    if (d === "2") ws.send("3");                               // Engine.IO ping -> pong
    else if (d.startsWith("0{")) ws.send("40/_event,");        // open -> connect to the /_event namespace
    else if (d.startsWith("40/_event,")) connected = true;      // namespace connected
    else if (d.startsWith("44/_event,")) refused = true;        // connect refused
  };
  ws.onclose = () => { closed = true; };
  for (let t = 0; !connected && !closed && !refused && t < timeoutMs; t += 25) await sleep(25);
  if (!connected) { ws.close(); return {connected, frames}; }
  for (const e of events) ws.send("42/_event," + JSON.stringify(["event", e]));
  const replies = () => frames.filter((f) => f.startsWith("42/_event,")).length;
  for (let t = 0; replies() < expectReplies && !closed && t < timeoutMs; t += 25) await sleep(25);
  await sleep(750);  // anything else the server still had to say
  ws.close();
  return {connected, frames};
}
"""


def raw_socket_in_page(page: Page, base_url: str, events: list[dict], *, expect_replies: int,
                       token: str | None = None, timeout_ms: int = 20_000) -> list[str]:
    """Open a second Reflex websocket from inside the page with a fresh tab token and send ``events``."""
    url = re.sub(r"^http", "ws", base_url) + "/_event/?EIO=4&transport=websocket&token=" + (token or str(uuid.uuid4()))
    result = page.evaluate(RAW_SOCKET_JS, {"url": url, "events": events, "expectReplies": expect_replies,
                                           "timeoutMs": timeout_ms})
    assert result["connected"], f"the raw websocket did not connect: {result['frames']}"
    return result["frames"]


class PythonSocket:
    """The same protocol from outside any browser, with whatever headers the caller forges (wsproto over a plain
    socket, read synchronously), optionally from another loopback ``source`` address."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, token: str | None = None,
                 source: str | None = None):
        from urllib.parse import urlsplit

        from wsproto import ConnectionType, WSConnection
        from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request

        parts = urlsplit(base_url)
        self.frames: list[str] = []
        self._partial = ""
        self._pending: list[str] = []
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=10,
                                             source_address=(source, 0) if source else None)
        target = "/_event/?EIO=4&transport=websocket&token=" + (token or str(uuid.uuid4()))
        extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.sock.sendall(self.ws.send(Request(host=parts.netloc, target=target, extra_headers=extra)))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            self.ws.receive_data(self.sock.recv(65536) or None)
            for ev in self.ws.events():
                if isinstance(ev, AcceptConnection):
                    break
                if isinstance(ev, (RejectConnection, RejectData)):
                    self.sock.close()
                    raise ConnectionRefusedError(f"websocket handshake refused (HTTP {getattr(ev, 'status_code', '?')})")
            else:
                continue
            break
        else:
            raise ConnectionError("no websocket handshake answer")
        # Frames may already have arrived with the handshake answer.
        self._drain_events()
        opened = self._next(10)
        if not opened or not opened.startswith("0{"):
            raise ConnectionError(f"no Engine.IO open packet: {opened!r}")
        self._send_text("40/_event,")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            frame = self._next(1)
            if frame and frame.startswith("40/_event,"):
                return
            if frame and frame.startswith("44/_event,"):
                raise ConnectionRefusedError(f"namespace connect refused: {frame}")
        raise ConnectionError("namespace did not connect")

    def _send_text(self, data: str) -> None:
        from wsproto.events import Message

        self.sock.sendall(self.ws.send(Message(data=data)))

    def _drain_events(self) -> None:
        from wsproto.events import CloseConnection, Ping, TextMessage

        for ev in self.ws.events():
            if isinstance(ev, TextMessage):
                self._partial += ev.data
                if ev.message_finished:
                    self._pending.append(self._partial)
                    self._partial = ""
            elif isinstance(ev, Ping):
                self.sock.sendall(self.ws.send(ev.response()))
            elif isinstance(ev, CloseConnection):
                self._pending.append("")  # marks the end

    def _next(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, socket.timeout):
                return None
            if not data:
                return None
            self.ws.receive_data(data)
            self._drain_events()
        frame = self._pending.pop(0)
        if frame == "":
            return None
        self.frames.append(frame)
        if frame == "2":
            self._send_text("3")
        return frame

    def send(self, *events: dict) -> None:
        for ev in events:
            self._send_text("42/_event," + json.dumps(["event", ev]))

    def collect(self, replies: int, timeout: float = 20) -> list[str]:
        """Read until ``replies`` event packets arrived (or the timeout), then a little longer."""
        deadline = time.monotonic() + timeout
        got = 0
        while got < replies and time.monotonic() < deadline:
            frame = self._next(0.5)
            if frame and frame.startswith("42/_event,"):
                got += 1
        quiet_until = time.monotonic() + 0.75
        while time.monotonic() < quiet_until:
            self._next(0.25)
        return self.frames

    def close(self) -> None:
        from wsproto.events import CloseConnection

        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except Exception:  # already closed by the server
            pass
        self.sock.close()


# --- database -----------------------------------------------------------------------------------------------------


class Database:
    """Read-only look at the app's database, to check what really changed (or did not)."""

    def __init__(self, url: str):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        self.engine = create_engine(url)

    def one(self, sql: str, **params) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(text(sql), params).mappings().first()
            return dict(row) if row else None

    def all(self, sql: str, **params) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params).mappings().all()]

    def user(self, username: str) -> dict:
        row = self.one(
            "SELECT id, username, email, password_hash, is_active, locked_at, failed_attempts, must_change_password "
            "FROM app_user WHERE username = :u", u=username)
        assert row is not None, f"no user {username}"
        return row

    def last_audit_seq(self) -> int:
        return int(self.one("SELECT COALESCE(MAX(seq), 0) AS n FROM audit_entry")["n"])

    def audit_about_users(self, user_ids: list[int], after_seq: int) -> list[dict]:
        rows = self.all("SELECT seq, username, entity, entity_id, action FROM audit_entry "
                        "WHERE entity = 'user' AND seq > :s ORDER BY seq", s=after_seq)
        wanted = {str(i) for i in user_ids}
        return [r for r in rows if r["entity_id"] in wanted]

    def dispose(self) -> None:
        self.engine.dispose()


# --- accessibility ------------------------------------------------------------------------------------------------

AXE = Axe()
AXE_OPTIONS = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                                     "best-practice"]}}


def axe_problems(page: Page) -> list[str]:
    """The serious and critical problems axe-core finds on the page as it is now (WCAG 2.2 A/AA, best practice)."""
    page.wait_for_timeout(250)   # let the last state delta render
    result = AXE.run(page, options=AXE_OPTIONS)
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:3]}"
            for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


def scan(page: Page, name: str, found: dict[str, list[str]]) -> None:
    """Record the page's axe-core problems under ``name``; a test ends with ``assert found == {n: [] ...}``."""
    found[name] = axe_problems(page)
