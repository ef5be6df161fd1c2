"""Helpers shared by the HTTP routes: setting and clearing the session cookie, client address, same-origin checks.
Reading the cookie and safe redirects are in atlas_app/web_session.py, shared with the UI."""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.requests import HTTPConnection
from starlette.responses import Response

from atlas_app.settings import get_settings
from atlas_app.web_session import SESSION_COOKIE


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
    return conn.client.host if conn.client else ""


def same_origin(conn: HTTPConnection) -> bool:
    """A state-changing form post must come from our own pages (Origin, or failing that Referer, matches Host)."""
    source = conn.headers.get("origin") or conn.headers.get("referer")
    if not source:
        return True  # non-browser clients send neither; SameSite=Lax already keeps cross-site cookies away
    host = conn.headers.get("host", "")
    return urlparse(source).netloc == host
