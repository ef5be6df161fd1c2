"""HTTP hardening from the outside: security headers on every response of the Starlette application Reflex mounts
itself beneath, a policy that lets exactly the pages' own inline scripts run, and request bodies refused while
they are read (a 50 MB body or an endless chunked one is not read to the end)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import re

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.api.security_headers import SecurityHeadersMiddleware, inline_script_hashes
from atlas_app.api.v1 import MAX_BODY_BYTES
from atlas_app.services.platform import api_tokens

PAGE = (b"<!DOCTYPE html><html><head><script>window.__ctx = {\"a\": 1};</script>"
        b"<script type=\"module\" src=\"/assets/entry.js\"></script></head>"
        b"<body><script type=\"module\">import \"/assets/app.js\";</script></body></html>")


def sha(text: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text).digest()).decode() + "'"


def test_every_api_response_carries_the_security_headers():
    client = TestClient(build_api())
    for response in (client.get("/api/health"), client.get("/api/v1/sessions"), client.get("/api/no-such-route")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert "strict-transport-security" not in response.headers  # BASE_URL is http in the tests


def test_hsts_only_when_the_public_address_is_https(set_env):
    set_env(BASE_URL="https://atlas.example.gov.uk")
    response = TestClient(build_api()).get("/api/health")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def _pages_app() -> Starlette:
    """Stands in for the production frontend Reflex mounts beneath the API app: static HTML, plain and gzipped."""
    async def plain(request):
        return HTMLResponse(PAGE)

    async def zipped(request):
        return Response(gzip.compress(PAGE), media_type="text/html", headers={"content-encoding": "gzip"})

    async def script(request):
        return Response(b"console.log(1)", media_type="text/javascript")

    inner = Starlette(routes=[Route("/page", plain), Route("/zipped", zipped), Route("/assets/app.js", script)])
    return Starlette(routes=[Mount("", inner)], middleware=[Middleware(SecurityHeadersMiddleware)])


def test_a_page_may_run_its_own_inline_scripts_and_no_other():
    client = TestClient(_pages_app())
    for path in ("/page", "/zipped"):
        response = client.get(path)
        assert response.content == PAGE  # the body passes unchanged (decompressed here by the client)
        scripts = response.headers["content-security-policy"].split("script-src ")[1].split(";")[0].split()
        assert scripts == ["'self'", "'unsafe-eval'", sha(b'window.__ctx = {"a": 1};'),
                           sha(b'import "/assets/app.js";')]
    asset = client.get("/assets/app.js")
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert "'sha256-" not in asset.headers["content-security-policy"]


def test_script_hashes_skip_external_scripts_and_repeats():
    page = b"<script src='/x.js'></script><script>a()</script><SCRIPT>a()</SCRIPT><script\n type=module>b()</script>"
    assert inline_script_hashes(page) == [sha(b"a()"), sha(b"b()")]


# --- request bodies ---------------------------------------------------------------------------------------------


@pytest.fixture
def token(actor) -> str:
    return api_tokens.create(actor, "Police back office").token


def post_streamed(path: str, token: str, total: int, declare_length: bool, chunk: int = 64 * 1024):
    """POST ``total`` bytes to the app in ``chunk``-sized pieces, as a server would hand them over; returns
    (status, bytes the app asked for)."""
    app = build_api()
    delivered = 0
    status: list[int] = []

    async def receive():
        nonlocal delivered
        if delivered >= total:
            return {"type": "http.request", "body": b"", "more_body": False}
        size = min(chunk, total - delivered)
        delivered += size
        return {"type": "http.request", "body": b"{" + b" " * (size - 1) if delivered == size else b" " * size,
                "more_body": delivered < total}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    headers = [(b"host", b"atlas.test"), (b"authorization", f"Bearer {token}".encode()),
               (b"content-type", b"application/json")]
    headers.append((b"content-length", str(total).encode()) if declare_length else (b"transfer-encoding", b"chunked"))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("192.0.2.1", 50000), "server": ("atlas.test", 80)}
    asyncio.run(app(scope, receive, send))
    return status[0], delivered


FIFTY_MB = 50 * 1024 * 1024


@pytest.mark.parametrize("path", ["/api/v1/referrals", "/api/v1/bookings"])
def test_a_50_mb_body_with_its_length_declared_is_refused_unread(token, path):
    status, read = post_streamed(path, token, FIFTY_MB, declare_length=True)
    assert status == 413
    assert read == 0


@pytest.mark.parametrize("path", ["/api/v1/referrals", "/api/v1/bookings"])
def test_a_chunked_body_without_a_length_is_abandoned_at_the_limit(token, path):
    status, read = post_streamed(path, token, FIFTY_MB, declare_length=False)
    assert status == 413
    assert read <= MAX_BODY_BYTES + 64 * 1024  # the limit and at most the one piece that crossed it


def test_a_body_within_the_limit_is_read_and_judged_on_its_content(token):
    status, read = post_streamed("/api/v1/referrals", token, 1000, declare_length=False)
    assert (status, read) == (422, 1000)  # read whole, then refused as not valid JSON


def test_the_limit_error_says_what_is_wrong(token):
    client = TestClient(build_api())
    response = client.post("/api/v1/referrals", content=b"{" + b" " * MAX_BODY_BYTES + b"}",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 413
    assert response.json() == {"error": "The request body is larger than 64 KB.", "fields": {"body": "too large"}}


def test_the_stripe_webhook_is_bounded_the_same_way(set_env):
    set_env(STRIPE_WEBHOOK_SECRET="whsec_test")
    client = TestClient(build_api())

    def endless():
        for _ in range(2000):  # 128 MB if it were all read
            yield b" " * 65536

    response = client.post("/api/stripe/webhook", content=endless(), headers={"Stripe-Signature": "t=1,v1=x"})
    assert response.status_code == 413


def test_pages_the_server_sends_from_disk_are_hashed_too(tmp_path):
    """Servers with the ASGI pathsend extension (granian, which Reflex runs) get the file's path, not its body."""
    from starlette.responses import FileResponse

    (tmp_path / "page.html").write_bytes(PAGE)
    (tmp_path / "page.html.gz").write_bytes(gzip.compress(PAGE))

    async def page(request):
        return FileResponse(tmp_path / "page.html", media_type="text/html")

    async def zipped(request):
        return FileResponse(tmp_path / "page.html.gz", media_type="text/html", headers={"content-encoding": "gzip"})

    app = Starlette(routes=[Route("/page", page), Route("/zipped", zipped)],
                    middleware=[Middleware(SecurityHeadersMiddleware)])
    for path in ("/page", "/zipped"):
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"atlas.test")], "client": ("192.0.2.1", 5), "server": ("atlas.test", 80),
                 "extensions": {"http.response.pathsend": {}}}
        asyncio.run(app(scope, receive, send))
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
        headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
        assert sha(b'window.__ctx = {"a": 1};') in headers["content-security-policy"]


def test_a_not_modified_answer_leaves_the_cached_pages_policy_alone():
    """Browsers merge a 304's headers into the page they cached: a policy without the page's hashes would stop
    its scripts."""
    async def cached(request):
        return Response(status_code=304, headers={"etag": '"abc"'})

    app = Starlette(routes=[Route("/page", cached)], middleware=[Middleware(SecurityHeadersMiddleware)])
    response = TestClient(app).get("/page", headers={"if-none-match": '"abc"'})
    assert response.status_code == 304
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


# --- the nginx template -----------------------------------------------------------------------------------------


def _render_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "render.py"
    spec = importlib.util.spec_from_file_location("atlas_nginx_render", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_nginx_template_is_filled_in_completely():
    text = _render_module().render("atlas.example.gov.uk", "/etc/ssl/a.pem", "/etc/ssl/a.key", "127.0.0.1:3000")
    assert "{{" not in text
    assert "listen 443 ssl" in text and "ssl_certificate     /etc/ssl/a.pem;" in text
    # Every location that proxies sets the forwarding headers itself (nginx does not inherit them into a block
    # that sets its own), and the websocket location upgrades.
    locations = re.split(r"\n\s+location ", text)[1:]
    assert len(locations) == 2
    for block in locations:
        assert "X-Forwarded-For   $proxy_add_x_forwarded_for" in block and "X-Forwarded-Proto $scheme" in block
    assert "Upgrade           $http_upgrade" in locations[0]


@pytest.mark.parametrize("bad", ["atlas.example; include /etc/passwd", "a b", "{x}", ""])
def test_the_nginx_renderer_refuses_values_that_would_change_the_configuration(bad):
    with pytest.raises(ValueError):
        _render_module().render(bad, "/etc/ssl/a.pem", "/etc/ssl/a.key")
