"""The e2e suite drives the production build of Atlas in Chromium.

One session-scoped server: a fresh data directory, its own database (SQLite in that directory, or the database
``atlas_e2e`` on the PostgreSQL server named by ``DATABASE_URL``), a real SMTP server collecting every email,
migrations and demo data, then ``reflex run --env prod`` on a free port. With ``REDIS_URL`` set, Reflex keeps state
in Redis and runs several workers; the suite checks that it really does.

Each test gets its own browser context (its own Reflex tab token and cookies). On failure the report carries the
browser console errors and the tail of the server log; the whole server log is kept in ``e2e-artifacts/``.
"""

from __future__ import annotations

import atexit
import ctypes
import email
import email.policy
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import E2E_USERS, Database, e2e_email  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e-artifacts"
E2E_DATABASE = os.environ.get("ATLAS_E2E_DB_NAME") or "atlas_e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
STARTUP_TIMEOUT = float(os.environ.get("E2E_STARTUP_TIMEOUT", 600))  # the first build installs the frontend

expect.set_options(timeout=15_000)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP ---------------------------------------------------------------------------------------------------------


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str
    raw: bytes


class MailBox:
    """Every message the app delivered to the test SMTP server."""

    def __init__(self):
        self.messages: list[Mail] = []
        self._cond = threading.Condition()

    # aiosmtpd handler hook
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        mail = Mail(to=list(envelope.rcpt_tos), subject=str(message["Subject"]),
                    body=part.get_content() if part else "", raw=envelope.content)
        with self._cond:
            self.messages.append(mail)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, subject_contains: str = "", timeout: float = 45) -> Mail:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for mail in reversed(self.messages):
                    if to in mail.to and subject_contains in mail.subject:
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(m.to, m.subject) for m in self.messages]
                    raise AssertionError(f"no email to {to} ({subject_contains!r}) within {timeout}s; got {got}")
                self._cond.wait(left)

    def to(self, address: str) -> list[Mail]:
        with self._cond:
            return [m for m in self.messages if address in m.to]


# --- the server ---------------------------------------------------------------------------------------------------


@dataclass
class AtlasServer:
    url: str
    port: int
    data_dir: Path
    log_path: Path
    database_url: str
    redis_url: str | None
    process: subprocess.Popen
    mail: MailBox
    workers: list[int] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)  # the server's environment
    web_dir: Path | None = None  # its production frontend build

    def log_tail(self, lines: int = 80, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        text = "\n".join(line for line in text.splitlines() if "is being redefined" not in line)
        return "\n".join(text.splitlines()[-lines:])

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0


def _children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(entry.name))
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _claim_database(url) -> tuple[str, object]:
    """``atlas_e2e`` on this server, unless another e2e run on this machine is using it right now: then the next
    free ``atlas_e2e_N``. The claim is a lock file held for the whole session."""
    server = re.sub(r"[^A-Za-z0-9]+", "_", f"{url.host or 'local'}_{url.port or 5432}")
    for n in range(1, 10):
        name = E2E_DATABASE if n == 1 else f"{E2E_DATABASE}_{n}"
        handle = open(Path(tempfile.gettempdir()) / f"atlas-e2e-{server}-{name}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return name, handle
    raise RuntimeError("nine e2e runs already use this PostgreSQL server")


def _prepare_database(env: dict[str, str], data_dir: Path, claims: list) -> str:
    """SQLite in the data directory, or a freshly created ``atlas_e2e`` on the given PostgreSQL server."""
    given = os.environ.get("DATABASE_URL")
    if not given:
        env.pop("DATABASE_URL", None)
        return f"sqlite:///{data_dir / 'atlas.db'}"
    import psycopg

    url = make_url(given)
    if url.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"DATABASE_URL must be PostgreSQL for the e2e suite, not {url.drivername}")
    if (url.database or "").startswith(E2E_DATABASE):
        raise pytest.UsageError(f"DATABASE_URL names {url.database}, a database the e2e suite drops and "
                                "recreates; point it at another database on the same server")
    name, claim = _claim_database(url)
    claims.append(claim)
    admin = url.set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    e2e_url = admin.set(database=name).render_as_string(hide_password=False)
    env["DATABASE_URL"] = e2e_url
    return e2e_url


def _server_env(data_dir: Path, web_dir: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    tools_bin = ROOT / ".tools" / "node_modules" / ".bin"
    path = [str(Path(sys.executable).parent)]
    if tools_bin.is_dir():
        path.append(str(tools_bin))
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
    if shutil.which("bun", path=env["PATH"]):
        env["REFLEX_USE_SYSTEM_BUN"] = "1"
    env.update(
        ATLAS_DATA_DIR=str(data_dir),
        BASE_URL=f"http://localhost:{port}",
        SECRET_KEY=secrets.token_urlsafe(32),
        REFLEX_WEB_WORKDIR=str(web_dir),
        REFLEX_STATES_WORKDIR=str(data_dir / "states"),
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
        REFLEX_SHOW_BUILT_WITH_REFLEX="false",
        PYTHONUNBUFFERED="1",
        ATLAS_DEMO_PAYMENTS="1",  # it serves the demo data: cards are paid through the labelled demo provider
    )
    env.setdefault("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/")
    for name in ("REFLEX_DB_URL", "REFLEX_REDIS_URL", "SMTP_URL", "GRANIAN_WORKERS", "REFLEX_ENV_FILE"):
        env.pop(name, None)
    if not env.get("REDIS_URL"):
        env.pop("REDIS_URL", None)
    return env


def _run_cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "atlas_app", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"python -m atlas_app {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _create_e2e_users(env: dict[str, str]) -> None:
    """The suite's own accounts, through the CLI's create-admin command (one interpreter for all of them)."""
    argvs = [["create-admin", "--org", org, "--username", username, "--full-name", name, "--email",
              e2e_email(username), "--password", password]
             for username, (org, name, password) in E2E_USERS.items()]
    script = ("import json, sys\nfrom atlas_app.cli import main\n"
              "for argv in json.loads(sys.argv[1]):\n    rc = main(argv)\n    if rc:\n        sys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", script, json.dumps(argvs)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"creating the e2e accounts failed:\n{result.stdout}\n{result.stderr}")


def _wait_healthy(server: AtlasServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log_tail(120)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(1)
    raise RuntimeError(f"no healthy server after {STARTUP_TIMEOUT:.0f}s ({last}):\n{server.log_tail(120)}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:
    """In the server's process: get SIGTERM if the test run itself dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@pytest.fixture(scope="session")
def atlas() -> Iterator[AtlasServer]:
    from aiosmtpd.controller import Controller

    ARTIFACTS.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="atlas-e2e-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    port = _free_port()
    # Each run builds the frontend in its own directory: the build holds this run's port, and another run (or
    # `make run`) in the same checkout must not replace the files this server is serving.
    env = _server_env(data_dir, tmp / "web", port)
    claims: list = []
    database_url = _prepare_database(env, data_dir, claims)

    mail = MailBox()
    smtp_port = _free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    env["SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    # Every test browser signs in from 127.0.0.1, and many tests lock accounts on purpose.
    env["SIGN_IN_FAILURES_PER_ADDRESS"] = "100000"

    log_path = tmp / "server.log"
    process = None
    try:
        _run_cli(env, "migrate")
        _run_cli(env, "seed-demo")
        _create_e2e_users(env)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--frontend-port", str(port),
                 "--backend-port", str(port), "--backend-host", "127.0.0.1", "--loglevel", "info"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        _RUNNING.append(process)
        smtp.start()  # after the fork (no extra thread while forking); the app sends nothing before it is up
        server = AtlasServer(url=f"http://localhost:{port}", port=port, data_dir=data_dir, log_path=log_path,
                             database_url=database_url, redis_url=env.get("REDIS_URL"), process=process, mail=mail,
                             env=env, web_dir=tmp / "web")
        started = time.monotonic()
        _wait_healthy(server)
        # Workers are forked by the server process once it serves; give them a moment to all come up.
        time.sleep(2)
        server.workers = [pid for pid in _children(process.pid) if "reflex" in _cmdline(pid)]
        database = make_url(database_url).database if os.environ.get("DATABASE_URL") else None
        print(f"\nAtlas e2e server on {server.url} after {time.monotonic() - started:.0f}s: "
              f"{'PostgreSQL ' + database if database else 'SQLite'}, "
              f"{'Redis state, ' if server.redis_url else 'in-process state, '}"
              f"{len(server.workers)} worker process(es); log {log_path}")
        yield server
    finally:
        if process is not None:
            _stop(process)
            if process in _RUNNING:
                _RUNNING.remove(process)
        if smtp.loop.is_running():
            smtp.stop()
        if log_path.exists():
            shutil.copy(log_path, ARTIFACTS / "server.log")
        shutil.rmtree(tmp, ignore_errors=True)
        for claim in claims:
            claim.close()


_RUNNING: list[subprocess.Popen] = []

# What `reflex run --env prod` does once its frontend is built: the production backend, serving that build too.
_SERVE_BUILT = """
import sys
from reflex_base import constants
from reflex_base.environment import environment
from reflex.utils import exec as reflex_exec
environment.REFLEX_SKIP_COMPILE.set(True)
reflex_exec.run_backend_prod(sys.argv[1], int(sys.argv[2]), constants.LogLevel.INFO, True)
"""


def start_another_server(atlas: AtlasServer, port: int, log_path: Path, states_dir: Path,
                         **settings: str) -> AtlasServer:
    """A second production server on the same database and frontend build as ``atlas`` (the build is not
    repeated), with some settings changed (BASE_URL, TRUSTED_PROXIES...); stopped with ``stop_server``."""
    env = {**atlas.env, "REFLEX_ENV_MODE": "prod", "REFLEX_STATES_WORKDIR": str(states_dir), **settings}
    if env.get("REDIS_URL"):
        env["GRANIAN_WORKERS"] = "1"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-c", _SERVE_BUILT, "127.0.0.1", str(port)], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=_die_with_parent)
    _RUNNING.append(process)
    server = AtlasServer(url=settings.get("BASE_URL", f"http://localhost:{port}"), port=port,
                         data_dir=atlas.data_dir, log_path=log_path, database_url=atlas.database_url,
                         redis_url=atlas.redis_url, process=process, mail=atlas.mail, env=env, web_dir=atlas.web_dir)
    try:
        _wait_healthy(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: AtlasServer) -> None:
    _stop(server.process)
    if server.process in _RUNNING:
        _RUNNING.remove(server.process)


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_RUNNING):
        _stop(process)


def pytest_configure(config):
    """`timeout`, CI cancellation and the like send SIGTERM: turn it into an interrupt so the server is stopped."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(scope="session")
def base_url(atlas: AtlasServer) -> str:
    return atlas.url


@pytest.fixture(scope="session")
def mailbox(atlas: AtlasServer) -> MailBox:
    return atlas.mail


@pytest.fixture(scope="session")
def db(atlas: AtlasServer) -> Iterator[Database]:
    database = Database(atlas.database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def writer(atlas: AtlasServer):
    """A writing engine on the server's database, for tests that make their own records (offers, bookings)."""
    from atlas_app.db import make_engine
    from atlas_app.settings import normalise_database_url

    engine = make_engine(normalise_database_url(atlas.database_url))
    yield engine.execution_options(atlas_write=True)
    engine.dispose()


# --- browser ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium; Playwright never downloads a browser here."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
    }


@pytest.fixture
def report_services(atlas, monkeypatch):
    """The reporting services in this process, on the server's database (the staff side: status changes, updates)."""
    import atlas_app.settings

    monkeypatch.setenv("ATLAS_DATA_DIR", str(atlas.data_dir))
    monkeypatch.setenv("DATABASE_URL", atlas.database_url)
    atlas_app.settings.get_settings.cache_clear()
    from atlas_app.services.modules.environmental_ticketing import reports

    yield reports
    atlas_app.settings.get_settings.cache_clear()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-GB", "timezone_id": "Europe/London"}


@pytest.fixture
def new_context(new_context, request):
    """pytest-playwright's context factory, recording each context's console errors and page errors."""
    console: list[str] = []
    request.node.stash[CONSOLE_KEY] = console

    def make(**kwargs):
        context = new_context(**kwargs)
        context.set_default_timeout(20_000)
        context.on("console", lambda msg: console.append(f"[{msg.type}] {msg.location.get('url', '')}: {msg.text}")
                   if msg.type in ("error", "warning") else None)
        context.on("weberror", lambda err: console.append(f"[pageerror] {err.error}"))
        return context

    return make


CONSOLE_KEY = pytest.StashKey[list]()
_SERVER: dict[str, AtlasServer] = {}
LOG_START_KEY = pytest.StashKey[int]()


@pytest.fixture(autouse=True)
def _mark_server_log(request):
    """Remember where the server log stood when the test began, for the failure report."""
    if "atlas" in request.fixturenames:
        server = request.getfixturevalue("atlas")
        _SERVER["server"] = server
        request.node.stash[LOG_START_KEY] = server.log_size()
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and report.when in ("setup", "call"):
        console = item.stash.get(CONSOLE_KEY, [])
        if console:
            report.sections.append(("browser console", "\n".join(console[-60:])))
        start = item.stash.get(LOG_START_KEY, None)
        server = _SERVER.get("server")
        if server is not None and start is not None:
            report.sections.append(("server log (this test)", server.log_tail(80, since=start) or "(nothing)"))
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"{name}.txt").write_text(
            "\n\n".join(f"== {title}\n{text}" for title, text in report.sections) + f"\n\n== failure\n{report.longreprtext}"
        )
    return report
