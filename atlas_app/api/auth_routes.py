"""Sign-in and sign-out over plain form posts, so the session lives in an HttpOnly cookie no script can read.

A user with two-factor sign-in gets, after the right password, only a short-lived HttpOnly cookie holding the
pending second-factor token (sent to ``/api/auth`` alone) and the code page; the session cookie is set once the code
is right.

After either, the browser loads a fresh page, so its websocket reconnects carrying (or no longer carrying) the cookie.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.api.web import clear_session_cookie, client_ip, same_origin, set_session_cookie
from atlas_app.settings import get_settings
from atlas_app.web_session import safe_next, session_token_from_cookie_header
from atlas_app.services.platform import auth


def _next_page(request: Request, given: str) -> str:
    """Where to go after signing in: the form's ``next`` field, which the sign-in page fills from its own address
    (``/login?next=...``). A form sent before the page had filled it in (a quick keyboard or a password manager)
    has it empty; the page's address then still comes with the post as its Referer. Only local paths are kept."""
    if not given or given == "/staff":
        referer = urlsplit(request.headers.get("referer", ""))
        if referer.path.rstrip("/") == "/login":
            given = (parse_qs(referer.query).get("next") or [given])[0]
    return safe_next(given, "/staff")


async def login(request: Request) -> RedirectResponse:
    form = await request.form()
    next_path = _next_page(request, str(form.get("next") or ""))
    if not same_origin(request):
        return RedirectResponse("/login?" + urlencode({"failed": "origin"}), status_code=303)
    outcome = await run_in_threadpool(
        auth.login,
        str(form.get("username") or "")[:200],
        str(form.get("password") or "")[:1000],
        client_ip(request),
        request.headers.get("user-agent", ""),
    )
    if outcome.second_factor_token:
        response = RedirectResponse("/login/code?" + urlencode({"next": next_path}), status_code=303)
        response.set_cookie(PENDING_COOKIE, outcome.second_factor_token, max_age=auth.SECOND_FACTOR_MINUTES * 60,
                            httponly=True, secure=get_settings().cookie_secure, samesite="strict",
                            path=PENDING_PATH)
        return response
    if not outcome.ok:
        failed = "throttled" if outcome.throttled else "1"
        return RedirectResponse("/login?" + urlencode({"failed": failed, "next": next_path}), status_code=303)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, outcome.token)
    return response


PENDING_COOKIE = "atlas_second_factor"
PENDING_PATH = "/api/auth"


def _clear_pending(response: RedirectResponse) -> RedirectResponse:
    response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH, httponly=True, samesite="strict",
                           secure=get_settings().cookie_secure)
    return response


async def second_factor(request: Request) -> RedirectResponse:
    form = await request.form()
    next_path = safe_next(str(form.get("next") or ""), "/staff")
    if not same_origin(request):
        return RedirectResponse("/login/code?" + urlencode({"failed": "origin", "next": next_path}), status_code=303)
    outcome = await run_in_threadpool(
        auth.complete_second_factor,
        request.cookies.get(PENDING_COOKIE, "")[:200],
        str(form.get("code") or "")[:40],
        client_ip(request),
        request.headers.get("user-agent", ""),
    )
    if outcome.ok:
        response = _clear_pending(RedirectResponse(next_path, status_code=303))
        set_session_cookie(response, outcome.token)
        return response
    if outcome.restart:
        query = {"locked": "1"} if outcome.message == auth.ACCOUNT_LOCKED_NOW else {"failed": "expired"}
        return _clear_pending(RedirectResponse("/login?" + urlencode({**query, "next": next_path}), status_code=303))
    failed = "throttled" if outcome.throttled else "1"
    return RedirectResponse("/login/code?" + urlencode({"failed": failed, "next": next_path}), status_code=303)


async def logout(request: Request) -> RedirectResponse:
    if not same_origin(request):
        return RedirectResponse("/staff", status_code=303)
    token = session_token_from_cookie_header(request.headers.get("cookie"))
    await run_in_threadpool(auth.logout, token)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_session_cookie(response)
    return response


routes = [
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/second-factor", second_factor, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
]
