"""Server-side authentication for Reflex states: deny by default.

* ``AuthGate`` runs before every event. Events of framework states and of states marked ``@public`` pass; every
  other event needs a valid staff session, else the handler does not run and the browser is sent to sign in.
* Handlers then ask ``await require(self, Perm.X)`` for the actor and the permission they need, and pass the
  actor to services, which check tenancy in their SQL.

The session token travels only in the HttpOnly cookie of the websocket handshake; it never enters state.
"""

from __future__ import annotations

import asyncio
import contextvars
from urllib.parse import quote

import reflex as rx
from reflex.state import BaseState, StateUpdate
from reflex_base.event import Event

from atlas_app.web_session import session_token_from_cookie_header
from atlas_app.services.platform import auth
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotAuthenticated, PermissionDenied

PUBLIC_STATES: set[str] = set()
PRIVATE_STATES: list[type[BaseState]] = []

# The actor resolved by the gate for the event being processed: (token, actor).
_resolved: contextvars.ContextVar[tuple[str | None, Actor | None] | None] = contextvars.ContextVar(
    "atlas_resolved_actor", default=None
)


def public(cls: type[BaseState]) -> type[BaseState]:
    """Mark a state whose handlers anonymous visitors may call (sign-in, the public booking site)."""
    PUBLIC_STATES.add(cls.get_full_name())
    return cls


def private(cls: type[BaseState]) -> type[BaseState]:
    """Mark a staff state; its vars are cleared when the browser reaches the sign-in page."""
    PRIVATE_STATES.append(cls)
    return cls


def _token(state: BaseState) -> str | None:
    return session_token_from_cookie_header(state.router.headers.cookie)


async def current_actor(state: BaseState) -> Actor | None:
    token = _token(state)
    cached = _resolved.get()
    if cached is not None and cached[0] == token:
        return cached[1]
    actor = await asyncio.to_thread(auth.resolve, token) if token else None
    _resolved.set((token, actor))
    return actor


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


class AuthGate(rx.Middleware):
    async def preprocess(self, app, state: BaseState, event: Event) -> StateUpdate | None:
        state_path = event.name.rpartition(".")[0]
        _resolved.set(None)
        if _is_framework_state(state_path) or state_path in PUBLIC_STATES:
            return None
        if await current_actor(state) is not None:
            return None
        path = state.router.url.path if state.router and state.router.url else "/staff"
        target = "/login?next=" + quote(path or "/staff", safe="/")
        return StateUpdate(events=Event.from_event_type(rx.redirect(target)))
