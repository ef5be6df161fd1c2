"""Atlas in production behind HTTPS: Debian's nginx, configured from the repository's template
(deploy/nginx/atlas.conf.template), terminates TLS with a self-signed certificate in front of a second production
server (same database and frontend build as the suite's server) that runs with BASE_URL=https://localhost and
TRUSTED_PROXIES naming nginx.

Chromium reaches nginx as https://localhost (port 443 mapped to nginx's free port, as a real deployment serves
443). nginx connects to Atlas from 127.0.0.2, so the server can tell nginx (trusted) from a client on 127.0.0.1
(not trusted) or one that connects to it directly. Also here, against the suite's plain-http server: the security
headers on pages, API and static files, and request bodies refused while they are read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from conftest import ROOT, AtlasServer, _free_port, _stop, start_another_server, stop_server
from support import ROOT_STATE, PythonSocket, event, login, wait_hydrated

NGINX = "/usr/sbin/nginx"
NGINX_ADDRESS = "127.0.0.2"  # where nginx connects to Atlas from: the only trusted proxy
PUBLIC = "https://localhost"
WIZARD_STATE = f"{ROOT_STATE}.atlas_app___ui___public___booking_wizard____booking_wizard_state"

NGINX_MAIN = """daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    proxy_bind {bind};
    include {tmp}/atlas.conf;
}}
"""


@dataclass
class HttpsDeployment:
    server: AtlasServer
    https_port: int
    http_port: int
    nginx_log: Path


def _render_template(**values) -> str:
    spec = importlib.util.spec_from_file_location("atlas_nginx_render", ROOT / "deploy" / "nginx" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(**values)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _wait_for_tls(port: int, nginx: subprocess.Popen, log: Path) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            raise RuntimeError(f"nginx exited with {nginx.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, context.wrap_socket(raw):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("nginx did not answer on its https port")


@pytest.fixture(scope="module")
def https(atlas) -> HttpsDeployment:
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: `make nginx` installs Debian's nginx")
    tmp = Path(tempfile.mkdtemp(prefix="atlas-https-"))
    backend_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    server = start_another_server(atlas, backend_port, tmp / "server.log", tmp / "states",
                                  BASE_URL=PUBLIC, TRUSTED_PROXIES=NGINX_ADDRESS)
    nginx = None
    try:
        cert, key = _self_signed(tmp)
        (tmp / "atlas.conf").write_text(_render_template(
            server_name="localhost", certificate=str(cert), certificate_key=str(key),
            upstream=f"127.0.0.1:{backend_port}", https_port=f"127.0.0.1:{https_port}",
            http_port=f"127.0.0.1:{http_port}"))
        (tmp / "nginx.conf").write_text(NGINX_MAIN.format(tmp=tmp, bind=NGINX_ADDRESS))
        nginx_log = tmp / "nginx-error.log"
        with open(tmp / "nginx.out", "wb") as out:
            nginx = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-e", str(nginx_log)],
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        _wait_for_tls(https_port, nginx, tmp / "nginx.out")
        yield HttpsDeployment(server=server, https_port=https_port, http_port=http_port, nginx_log=nginx_log)
    finally:
        if nginx is not None:
            _stop(nginx)
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def https_browser(https, browser_type, browser_type_launch_args):
    """Chromium that reaches https://localhost (port 443) at nginx's port."""
    args = [*browser_type_launch_args.get("args", []),
            f"--host-resolver-rules=MAP localhost:443 127.0.0.1:{https.https_port}"]
    browser = browser_type.launch(**{**browser_type_launch_args, "args": args})
    yield browser
    browser.close()


@pytest.fixture
def secure_page(https_browser):
    context = https_browser.new_context(ignore_https_errors=True, base_url=PUBLIC, locale="en-GB",
                                        timezone_id="Europe/London")
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    yield page
    context.close()


def _attempts(db, reference: str) -> list[str]:
    key = hashlib.sha256(re.sub(r"\s+", "", reference).upper().encode()).hexdigest()
    return [row["ip"] for row in db.all("SELECT ip FROM public_lookup_attempt WHERE key_hash = :k ORDER BY id", k=key)]


def _wait_for_attempts(db, reference: str, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = _attempts(db, reference)
        if len(found) >= count:
            return found
        time.sleep(0.25)
    return _attempts(db, reference)


def _guess(page, reference: str) -> None:
    page.goto("/book")
    wait_hydrated(page)
    page.fill("#f-reference", reference)
    page.fill("#f-dob-day", "1")
    page.fill("#f-dob-month", "1")
    page.fill("#f-dob-year", "1990")
    page.fill("#f-postcode", "TS24 7QS")
    page.click("#find-offer")
    expect(page.locator("#error-summary")).to_be_visible()


# --- through nginx ------------------------------------------------------------------------------------------------
# (Every test here drives Chromium, so the browser tests of all files run together and the deployment starts once.)


def test_staff_work_over_https_behind_nginx(https, secure_page, db):
    page = secure_page
    response = page.goto("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    login(page, "hbc.admin", "admin123")
    assert page.url.startswith(PUBLIC + "/staff")
    # The sign-in log has the browser's address from nginx's X-Forwarded-For, not nginx's own.
    last = db.one("SELECT ip FROM login_attempt WHERE username_tried = 'hbc.admin' ORDER BY id DESC LIMIT 1")
    assert last["ip"] == "127.0.0.1"

    cookie = next(c for c in page.context.cookies() if c["name"] == "atlas_session")
    assert cookie["secure"] and cookie["httpOnly"]

    # The websocket works through nginx: a staff page loads its data over it.
    response = page.goto("/admin/users")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    wait_hydrated(page)
    expect(page.get_by_text("Rita Shaw").first).to_be_visible()
    assert not [p for p in page.problems if "Content Security Policy" in p], page.problems

    # Plain http only sends visitors to https.
    response = httpx.get(f"http://127.0.0.1:{https.http_port}/login", headers={"host": "localhost"},
                         follow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["location"] == "https://localhost/login"


def test_the_lookup_throttle_counts_the_client_nginx_saw(https, secure_page, db):
    """Through nginx the client's own address is counted, whatever X-Forwarded-For it sends; a client that goes
    round nginx to the server directly cannot pass off a forged header as its address either."""
    through_nginx = f"CLE-TLS-{uuid.uuid4().hex[:8]}"
    secure_page.context.set_extra_http_headers({"X-Forwarded-For": "198.51.100.77"})
    _guess(secure_page, through_nginx)
    assert _wait_for_attempts(db, through_nginx, 1) == ["127.0.0.1"]  # not nginx's 127.0.0.2, not the forgery

    direct = f"CLE-TLS-{uuid.uuid4().hex[:8]}"
    sock = PythonSocket(f"http://127.0.0.1:{https.server.port}", source="127.0.0.3",
                        headers={"Origin": PUBLIC, "X-Forwarded-For": "198.51.100.88"})
    try:
        sock.send(event(f"{WIZARD_STATE}.find", "/book", form={
            "reference": direct, "dob_day": "1", "dob_month": "1", "dob_year": "1990", "postcode": "TS24 7QS"}))
        sock.collect(replies=1)
    finally:
        sock.close()
    assert _wait_for_attempts(db, direct, 1) == ["127.0.0.3"]


# --- the suite's own server (plain http) ------------------------------------------------------------------------


def test_security_headers_on_pages_api_and_static_files(atlas):
    page = httpx.get(f"{atlas.url}/login/", timeout=10)
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+\.(?:js|css))"', page.text)
    assert assets, "no built assets referenced by the page"
    responses = [page, httpx.get(f"{atlas.url}/api/health", timeout=10),
                 httpx.get(f"{atlas.url}{assets[0]}", timeout=10), httpx.get(f"{atlas.url}/favicon.ico", timeout=10),
                 httpx.get(f"{atlas.url}/ping", timeout=10)]
    for response in responses:
        assert response.status_code == 200, response.url
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["x-frame-options"] == "DENY", response.url
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", response.url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], response.url
        assert "strict-transport-security" not in response.headers  # plain http on localhost
    assert "'sha256-" in page.headers["content-security-policy"]  # the page's own inline scripts


def _post_until_answered(port: int, head: bytes, chunk: bytes, most: int) -> tuple[int, int]:
    """Send ``head`` then ``chunk`` repeatedly (up to ``most`` bytes) until the server answers; returns
    (HTTP status, bytes of body sent before the answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sent = 0
    try:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        while sent < most and b"\r\n" not in answer:
            try:
                answer += sock.recv(4096)
                continue
            except BlockingIOError:
                pass
            try:
                sent += sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_body_is_refused_without_being_read(atlas, chunked):
    fifty_mb = 50 * 1024 * 1024
    piece = b" " * 65536
    # /api/v1/bookings reads the body before it looks at the token, so the limit is what answers here.
    head = (b"POST /api/v1/bookings HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer not-a-token\r\n"
            b"Content-Type: application/json\r\n")
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        piece = b"%x\r\n" % len(piece) + piece + b"\r\n"
    else:
        head += b"Content-Length: %d\r\n\r\n" % fifty_mb
    started = time.monotonic()
    status, sent = _post_until_answered(atlas.port, head, piece, fifty_mb)
    assert status == 413
    assert sent < 8 * 1024 * 1024, f"sent {sent} bytes before an answer"
    assert time.monotonic() - started < 10
