"""Security headers on every HTTP response Atlas sends: the pages and static files of the production build (served
by the same Starlette application), the /api routes and Reflex's own endpoints.

The Content-Security-Policy is what Reflex's production build needs and no more:

* scripts only from Atlas itself, plus ``'unsafe-eval'``: Reflex runs the scripts a handler sends
  (``rx.call_script``, ``rx.redirect``) through ``eval`` in ``state.js``. The prerendered pages' inline scripts
  (React Router's hydration data and its module loader) are allowed by their SHA-256, computed from each page as
  it is sent, so no other inline script runs;
* styles from Atlas, and inline: Radix Themes and Emotion write ``style`` attributes and ``<style>`` elements;
* images and fonts from Atlas and ``data:`` URIs, and a page's images also from the organisations' map tile
  origins (``services/platform/maps.tile_origins``); connections (the ``/_event`` websocket, fetches) to Atlas only;
* no plugins, no ``<base>`` elsewhere, forms only to Atlas, and no framing by any page (``frame-ancestors``).

Behind a trusted proxy (``TRUSTED_PROXIES``) the request's scheme is taken from X-Forwarded-Proto first.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import zlib

import anyio

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atlas_app.web_session import forwarded_scheme
from atlas_app.settings import get_settings

HSTS = "max-age=31536000; includeSubDomains"

_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP hash sources of the inline scripts in an HTML page, in order, without repeats."""
    seen: list[str] = []
    for match in _INLINE_SCRIPT.finditer(html):
        digest = base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode()
        source = f"'sha256-{digest}'"
        if source not in seen:
            seen.append(source)
    return seen


def content_security_policy(script_hashes: list[str] | tuple[str, ...] = (),
                            image_origins: list[str] | tuple[str, ...] = ()) -> str:
    scripts = " ".join(["'self'", "'unsafe-eval'", *script_hashes])
    images = " ".join(["'self'", "data:", "blob:", *image_origins])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(script_hashes: list[str] | tuple[str, ...] = (),
                     image_origins: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(script_hashes, image_origins),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if get_settings().is_https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeadersMiddleware:
    """Pure ASGI, so streamed responses stay streamed and websockets pass untouched. HTML responses are held
    until complete (they are pages of a few kilobytes) so that their inline scripts can be hashed into the
    policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = _with_forwarded_scheme(scope)
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                is_html = headers.get("content-type", "").startswith("text/html")
                readable = headers.get("content-encoding", "identity") in ("identity", "gzip")
                if message["status"] == 304:
                    # The browser keeps the page it has, and would take a policy sent now in place of the one that
                    # came with it (whose hashes match the page's scripts): send none.
                    _apply(headers, {k: v for k, v in security_headers().items() if k != "Content-Security-Policy"})
                    await send(message)
                elif not is_html or not readable or scope.get("method") == "HEAD":
                    _apply(headers, security_headers())
                    await send(message)
                else:
                    start = message
                return
            if start is not None and message["type"] == "http.response.pathsend":
                # The server sends the file itself (granian's pathsend): read it to hash, then let it do so.
                page = await anyio.Path(message["path"]).read_bytes()
                headers = MutableHeaders(scope=start)
                _apply(headers, security_headers(inline_script_hashes(_decoded(page, headers)),
                                                 await _tile_origins()))
                await send(start)
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            headers = MutableHeaders(scope=start)
            _apply(headers, security_headers(inline_script_hashes(_decoded(page, headers)), await _tile_origins()))
            await send(start)
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, send_with_headers)


async def _tile_origins() -> tuple[str, ...]:
    """The origins of the organisations' map tiles (services/platform/maps.py), which a page's images may come
    from; none when they cannot be read (the page then shows its map without tiles, never fails)."""
    from atlas_app.services.platform import maps

    try:
        return await anyio.to_thread.run_sync(maps.tile_origins)
    except Exception:  # noqa: BLE001
        return ()


def _with_forwarded_scheme(scope: Scope) -> Scope:
    """Behind a trusted TLS-terminating proxy the request's scheme is the client's (``https``), so absolute URLs
    Atlas or Starlette build (the trailing-slash redirects of the static pages) never point at plain http."""
    client = scope.get("client")
    proto = Headers(scope=scope).get("x-forwarded-proto")
    scheme = forwarded_scheme(client[0] if client else "", proto)
    if scheme is None:
        return scope
    if scope["type"] == "websocket":
        scheme = "wss" if scheme == "https" else "ws"
    return {**scope, "scheme": scheme}


def _decoded(page: bytes, headers: MutableHeaders) -> bytes:
    """The page's HTML: the production build sends its pages precompressed with gzip when the browser accepts it."""
    if headers.get("content-encoding") != "gzip":
        return page
    try:
        return gzip.decompress(page)
    except (OSError, EOFError, zlib.error):
        return b""


def _apply(headers: MutableHeaders, values: dict[str, str]) -> None:
    """Set the headers; a route that set its own, stricter Content-Security-Policy (a file served for download:
    ``default-src 'none'; sandbox``) keeps it."""
    for name, value in values.items():
        if name == "Content-Security-Policy" and name in headers:
            continue
        headers[name] = value
