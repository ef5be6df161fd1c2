"""Helpers shared by the HTTP routes: the session cookie, client address, same-origin checks, safe redirects,
bounded request bodies."""

from __future__ import annotations

import ipaddress
from http.cookies import SimpleCookie
from urllib.parse import urlparse

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.settings import get_settings

SESSION_COOKIE = "atlas_session"


def session_token_from_cookie_header(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed Cookie header means no session, never an error page
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


def set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=get_settings().cookie_secure)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address, networks) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in networks)


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The address of the person making the request, for throttles and the sign-in log.

    ``peer`` is the address of the direct connection. Only when that is one of ``TRUSTED_PROXIES`` is
    ``X-Forwarded-For`` believed, and then the client is the rightmost address in it that is not itself a trusted
    proxy: each trusted proxy appends the address it was connected from, so everything to the left of that was
    written by the client and may be forged. Without trusted proxies the header is ignored entirely."""
    networks = get_settings().trusted_proxies
    peer_ip = _parse_ip(peer or "")
    if not forwarded_for or not _trusted(peer_ip, networks):
        return str(peer_ip) if peer_ip is not None else (peer or "")
    last_trusted = peer_ip
    for entry in reversed(forwarded_for.split(",")):
        address = _parse_ip(entry)
        if address is None:
            # Trusted proxies write only addresses: what lies here came from the client, so the hop that passed it
            # on is the nearest address known for certain.
            return str(last_trusted)
        if not _trusted(address, networks):
            return str(address)
        last_trusted = address
    return str(last_trusted)


def forwarded_scheme(peer: str, forwarded_proto: str | None) -> str | None:
    """``http`` or ``https`` as a trusted proxy reports the client's connection (X-Forwarded-Proto), else None."""
    if not forwarded_proto or not _trusted(_parse_ip(peer or ""), get_settings().trusted_proxies):
        return None
    scheme = forwarded_proto.split(",")[0].strip().lower()
    return scheme if scheme in ("http", "https") else None


def client_ip(conn: HTTPConnection) -> str:
    """The client's address for a Starlette request (see ``client_address``)."""
    forwarded = ", ".join(conn.headers.getlist("x-forwarded-for"))
    return client_address(conn.client.host if conn.client else "", forwarded)


def same_origin(conn: HTTPConnection) -> bool:
    """A state-changing form post must come from our own pages (Origin, or failing that Referer, matches Host)."""
    source = conn.headers.get("origin") or conn.headers.get("referer")
    if not source:
        return True  # non-browser clients send neither; SameSite=Lax already keeps cross-site cookies away
    host = conn.headers.get("host", "")
    return urlparse(source).netloc == host


def safe_next(path: str | None, default: str = "/") -> str:
    """Only local paths, never another site (no open redirects)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


class BodyTooLarge(ValidationFailed):
    """A request body over the route's limit: refused as soon as the limit is passed, the rest left unread."""

    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit // 1024} KB.", {"body": "too large"})


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read as it arrives and abandoned the moment it passes ``limit`` bytes, so a huge or
    endless (chunked) body costs no more than ``limit`` of memory. A declared Content-Length over the limit is
    refused before anything is read."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BodyTooLarge(limit)
        except ValueError:
            raise ValidationFailed("The Content-Length header is not a number.", {"body": "invalid length"}) from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
