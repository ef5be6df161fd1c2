"""The UI's one link to the running Reflex app.

Page modules declare their pages with ``page(...)``; the app module (``atlas_app/atlas_app.py``) calls
``register(app)`` once at start, which adds every declared page to that app exactly once. Pages are added by the
app, not collected by Reflex's ``@rx.page``, because Reflex re-applies decorated pages at every compile: a
production start compiles before its workers start, and each worker's compile would otherwise redefine every page.

Pages ask this module about the running app (``tab_connected``) instead of importing the app or Reflex internals,
so the UI never depends on the module that composes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (render function, add_page keyword arguments), in declaration order.
_PAGES: list[tuple[Callable, dict[str, Any]]] = []
_app: Any = None


def page(route: str, title: str | None = None, on_load: Any = None, **meta: Any) -> Callable:
    """Declare a page: ``@page(route=..., title=..., on_load=...)`` over its render function."""

    def decorator(render: Callable) -> Callable:
        kwargs: dict[str, Any] = {"route": route, **{k: v for k, v in meta.items() if v is not None}}
        if title is not None:
            kwargs["title"] = title
        if on_load is not None:
            kwargs["on_load"] = on_load
        _PAGES.append((render, kwargs))
        if _app is not None:  # declared after start (a module imported late): add it at once
            _app.add_page(render, **kwargs)
        return render

    return decorator


def declared_pages() -> list[tuple[Callable, dict[str, Any]]]:
    return list(_PAGES)


def register(app: Any) -> None:
    """Called by the app module at start: add every declared page to ``app`` and remember it. Idempotent."""
    global _app
    if _app is app:
        return
    for render, kwargs in _PAGES:
        app.add_page(render, **kwargs)
    _app = app


def registered_app() -> Any:
    return _app


def tab_connected(client_token: str) -> bool | None:
    """Whether the browser tab with ``client_token`` still has its websocket open to this worker: True or False,
    or None when it cannot be told (no app registered, or the app is not serving websockets)."""
    app = _app
    if app is None:
        return None
    namespace = getattr(app, "event_namespace", None)
    if namespace is None:
        return None
    try:
        return client_token in namespace.token_to_sid
    except Exception:  # noqa: BLE001 - an app that cannot answer counts as unknown
        return None
