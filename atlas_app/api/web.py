"""Helpers shared by the HTTP routes: setting and clearing the session cookie, the client's address, same-origin
checks, bounded request bodies. Reading the cookie, safe redirects and the address rule are in
atlas_app/web_session.py, shared with the UI."""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.settings import get_settings
from atlas_app.web_session import SESSION_COOKIE, client_address


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
