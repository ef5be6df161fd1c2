"""The browser session, as the HTTP routes (atlas_app/api) and the Reflex states (atlas_app/ui) both read it: the
cookie's name, the token in a ``Cookie`` header, and which "next page" addresses are safe to send a browser to.
Standard library only, so both layers can import it without importing each other."""

from __future__ import annotations

from http.cookies import SimpleCookie

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


def safe_next(path: str | None, default: str = "/") -> str:
    """Only local paths, never another site (no open redirects)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path
