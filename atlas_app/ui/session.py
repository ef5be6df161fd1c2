"""Server-side authentication for Reflex states: deny by default.

* ``AuthGate`` runs before every event, the framework's own (page-load hydrate) included. It resolves the session
  from the ``atlas_session`` cookie of the request the event came with: the websocket's handshake, or the
  ``POST /_upload`` of an upload (see ``guard_uploads``); events chained by a handler inherit their request's.
  Nothing in the tab's state stands for a session: the tab's token alone (a copied token, a tab after sign-out)
  carries no identity.
* Events of framework states and of states marked ``@public`` pass; every other event needs a live staff
  session, else the handler does not run and the browser is sent to sign in. A user who must change their
  password may only change it or sign out (``before_password_change``); anything else is sent to My account.
* Staff data in a tab's state belongs to the session that loaded it: when an event arrives without that session
  (signed out, no cookie, another user), every staff state of the tab is reset before anything runs, so the
  page-load snapshot never returns another session's data.
* Handlers then ask ``await require(self, Perm.X)`` for the actor and the permission they need, and pass the
  actor to services, which check tenancy in their SQL.

The session token travels only in the HttpOnly cookie; it never enters state.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass
from urllib.parse import quote

import reflex as rx
from reflex.state import BaseState, StateUpdate
from reflex_base.event import Event
from reflex_base.event.context import EventContext
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from atlas_app.web_session import client_address, session_token_from_cookie_header
from atlas_app.services.platform import auth
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotAuthenticated, PasswordChangeRequired, PermissionDenied

PUBLIC_STATES: set[str] = set()
PRIVATE_STATES: list[type[BaseState]] = []
# Full event names a user who must change their password may still send.
BEFORE_PASSWORD_CHANGE: set[str] = set()

# Client token -> Cookie header of that tab's upload request being processed (one at a time per tab).
_UPLOAD_COOKIES: dict[str, str | None] = {}
UPLOAD_PATH = "/" + str(rx.constants.Endpoint.UPLOAD).lstrip("/")


@dataclass(frozen=True)
class _Resolved:
    token: str | None
    actor: Actor | None


# What the gate found for the event being processed.
_resolved: contextvars.ContextVar[_Resolved | None] = contextvars.ContextVar("atlas_resolved_actor", default=None)


def public(cls: type[BaseState]) -> type[BaseState]:
    """Mark a state whose handlers anonymous visitors may call (sign-in, the public booking site)."""
    PUBLIC_STATES.add(cls.get_full_name())
    return cls


def private(cls: type[BaseState]) -> type[BaseState]:
    """Mark a staff state (every state not marked ``@public`` is treated as one)."""
    PRIVATE_STATES.append(cls)
    return cls


def before_password_change(cls: type[BaseState], *handler_names: str) -> None:
    """Let these handlers run for a user who must change their password (changing it, signing out)."""
    BEFORE_PASSWORD_CHANGE.update(f"{cls.get_full_name()}.{name}" for name in handler_names)


def _request_cookie() -> str | None:
    """The Cookie header of the request the current event came with, or None."""
    try:
        ctx = EventContext.get()
    except LookupError:
        return None
    headers = ctx.router_data.get(rx.constants.RouteVar.HEADERS)
    if headers is not None:  # a websocket event (or one chained from it): the handshake's headers
        return headers.get("cookie") or None
    # No router data: an upload (or an event chained from one), whose request is registered by guard_uploads.
    return _UPLOAD_COOKIES.get(ctx.token)


def request_token() -> str | None:
    """The session token of the request the current event came with (as the gate found it)."""
    resolved = _resolved.get()
    return resolved.token if resolved is not None else session_token_from_cookie_header(_request_cookie())


async def _resolve(allow_password_change: bool) -> _Resolved:
    token = session_token_from_cookie_header(_request_cookie())
    actor = await asyncio.to_thread(auth.resolve, token, True, allow_password_change) if token else None
    return _Resolved(token, actor)


def client_ip(state: BaseState) -> str:
    """The client's address for a Reflex event: the websocket's direct peer and its handshake's X-Forwarded-For,
    judged by the same rule as the HTTP routes (``client_address``). Reflex's own reading of the header is off
    (``trusted_proxy_hops=0`` in rxconfig), so ``client_ip`` there is the peer."""
    router = state.router
    return client_address(router.session.client_ip, router.headers.raw_headers.get("x-forwarded-for"))


async def current_actor(state: BaseState) -> Actor | None:
    """The actor of this event's request, as the gate resolved it; None when there is none (or no gate ran)."""
    resolved = _resolved.get()
    return resolved.actor if resolved is not None else None


async def require(state: BaseState, permission: str | None = None) -> Actor:
    """The signed-in actor, holding ``permission`` if given; raises NotAuthenticated / PermissionDenied."""
    actor = await current_actor(state)
    if actor is None:
        raise NotAuthenticated()
    if permission is not None and not actor.can(permission):
        raise PermissionDenied()
    return actor


def _is_framework_state(state_path: str) -> bool:
    return state_path.rsplit(".", 1)[-1].startswith("reflex___")


def _staff_state_classes() -> list[type[BaseState]]:
    out, stack = [], list(rx.State.get_substates())
    while stack:
        cls = stack.pop()
        stack.extend(cls.get_substates())
        name = cls.get_full_name()
        if cls is SessionMark or name in PUBLIC_STATES or _is_framework_state(name):
            continue
        out.append(cls)
    return out


async def clear_staff_state(state: BaseState) -> None:
    """Reset every staff state of this tab (their public and backend vars) to its defaults."""
    for cls in _staff_state_classes():
        (await state.get_state(cls)).reset()
    (await state.get_state(SessionMark))._session_id = 0


def _redirect(target: str) -> StateUpdate:
    return StateUpdate(events=Event.from_event_type(rx.redirect(target)))


class AuthGate(rx.Middleware):
    async def preprocess(self, app, state: BaseState, event: Event) -> StateUpdate | None:
        state_path = event.name.rpartition(".")[0]
        _resolved.set(None)
        if state_path in PUBLIC_STATES:
            return None
        framework = _is_framework_state(state_path)
        mark = await state.get_state(SessionMark)
        if framework and not mark._session_id:
            return None  # no staff data in this tab to protect, and the framework's events need no session
        try:
            resolved = await _resolve(framework or event.name in BEFORE_PASSWORD_CHANGE)
        except PasswordChangeRequired:
            return _redirect("/account")  # signed in, but nothing else works until the password is changed
        _resolved.set(resolved)
        live = resolved.actor.session_id if resolved.actor is not None else 0
        if mark._session_id and mark._session_id != live:
            await clear_staff_state(state)
        if framework:
            return None
        if resolved.actor is None:
            path = state.router.url.path if state.router and state.router.url else "/staff"
            return _redirect("/login?next=" + quote(path or "/staff", safe="/"))
        mark._session_id = live
        return None


@public
class SessionMark(rx.State):
    """Which staff session (by id) the staff data in this tab's state belongs to; 0 when none."""

    _session_id: int = 0


def guard_uploads(app):
    """ASGI wrapper: while an upload (``POST /_upload``) is processed, its own Cookie header stands as the
    request cookie for its events, so an upload runs as the session of its own request and never as whoever last
    used the tab. One upload at a time per tab."""

    async def guarded(scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != UPLOAD_PATH:
            return await app(scope, receive, send)
        headers = Headers(scope=scope)
        token = headers.get("reflex-client-token")
        if not token:
            return await app(scope, receive, send)
        if token in _UPLOAD_COOKIES:
            response = JSONResponse({"detail": "An upload from this page is already in progress."}, status_code=409)
            return await response(scope, receive, send)
        _UPLOAD_COOKIES[token] = headers.get("cookie")
        try:
            await app(scope, receive, send)
        finally:
            _UPLOAD_COOKIES.pop(token, None)

    return guarded
