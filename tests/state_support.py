"""Driving a Reflex state directly in tests: build a substate, point its router at a URL, run a handler (coroutine
or async generator), read what it sent, and stand in for the cookie check with a chosen actor."""

from __future__ import annotations

import asyncio
import inspect

import reflex as rx
from reflex.istate.data import ReflexURL, RouterData

from atlas_app.services.platform.errors import PermissionDenied


def run(value):
    """Run a coroutine handler to its end; a plain value passes through."""
    return asyncio.run(value) if asyncio.iscoroutine(value) else value


def substate(cls):
    """A fresh instance of the state class ``cls`` under a new root state."""
    return rx.State().get_substate(cls.get_full_name().split(".")[1:])


def substates(*classes):
    """Fresh instances of the state classes under one new root state, so that ``get_state`` between them works as
    it does in a browser tab."""
    root = rx.State()
    return [root.get_substate(cls.get_full_name().split(".")[1:]) for cls in classes]


def at(state, url: str):
    """Point the state's router at ``url`` (for handlers that read the page's path or query)."""
    state.router = RouterData(url=ReflexURL(url))
    return state


def drain(value) -> list:
    """Run a handler: a coroutine, an async generator (collect what it yields) or a plain value."""
    if inspect.isasyncgen(value):
        async def collect():
            return [item async for item in value]

        return asyncio.run(collect())
    if asyncio.iscoroutine(value):
        result = asyncio.run(value)
        return [] if result is None else [result]
    return [] if value is None else [value]


def redirect_path(events) -> str | None:
    """The path of the first redirect among the events a handler returned."""
    for spec in events:
        fn = getattr(getattr(spec, "handler", None), "fn", None)
        if fn is not None and fn.__qualname__ == "_redirect":
            return {k._js_expr: getattr(v, "_var_value", v) for k, v in spec.args}["path"]
    return None


def set_values(events) -> dict[str, object]:
    """What the events would write into elements by ref (``rx.set_value``): {ref: value}."""
    out = {}
    for spec in events if isinstance(events, list) else [events]:
        if getattr(getattr(spec, "handler", None), "fn", None) is None:
            continue
        args = {k._js_expr: getattr(v, "_var_value", v) for k, v in spec.args}
        if "ref" in args:
            out[str(args["ref"])] = args["value"]
    return out


def signed_in(monkeypatch, actor, *modules) -> None:
    """Stand in for the cookie check in each page module: ``require`` answers as the session gate would for
    ``actor``, refusing a permission the actor lacks."""

    async def require(_state, permission=None):
        if permission is not None and not actor.can(permission):
            raise PermissionDenied()
        return actor

    for module in modules:
        monkeypatch.setattr(module, "require", require)
