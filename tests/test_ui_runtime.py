"""The UI's link to the running app (atlas_app/ui/runtime.py): every page is added to the app once, and the live
dashboard keeps polling only while its tab is known to be connected."""

from __future__ import annotations

import asyncio

import pytest
from reflex.istate.data import ReflexURL, RouterData, SessionData

from atlas_app.ui import runtime
from atlas_app.ui.staff.insight import dashboards as page
from atlas_app.ui.staff.insight.dashboards import DashboardState
from state_support import substate

TAB = "tab-token-1"


class FakeNamespace:
    def __init__(self, tokens):
        self.token_to_sid = {t: f"sid-{t}" for t in tokens}


class FakeApp:
    def __init__(self, namespace=None):
        self.event_namespace = namespace
        self.pages: list[str] = []

    def add_page(self, render, **kwargs):
        self.pages.append(kwargs["route"])


@pytest.fixture
def no_app(monkeypatch):
    monkeypatch.setattr(runtime, "_app", None)


def use_app(monkeypatch, app) -> None:
    monkeypatch.setattr(runtime, "_app", app)


def test_the_running_app_has_every_declared_page_once():
    from atlas_app.atlas_app import app

    declared = [kwargs["route"] for _render, kwargs in runtime.declared_pages()]
    assert runtime.registered_app() is app
    assert len(declared) == len(set(declared)) > 40
    assert {"/", "/book", "/login", "/staff", "/dashboards", "/bookings/client/[id]"} <= set(declared)
    assert {r.strip("/") or "index" for r in declared} <= set(app._unevaluated_pages)
    runtime.register(app)  # a second call adds nothing
    assert len(app._unevaluated_pages) == len(set(app._unevaluated_pages))


def test_register_adds_each_page_to_a_new_app_and_is_idempotent(monkeypatch, no_app):
    app = FakeApp(FakeNamespace([]))
    runtime.register(app)
    runtime.register(app)
    assert app.pages == [kwargs["route"] for _render, kwargs in runtime.declared_pages()]


def test_connection_is_unknown_without_an_app_or_namespace(monkeypatch, no_app):
    assert runtime.tab_connected(TAB) is None
    use_app(monkeypatch, FakeApp(namespace=None))
    assert runtime.tab_connected(TAB) is None


def test_connection_is_told_by_the_apps_websocket_namespace(monkeypatch):
    use_app(monkeypatch, FakeApp(FakeNamespace([TAB])))
    assert runtime.tab_connected(TAB) is True
    assert runtime.tab_connected("another-tab") is False


# --- the dashboard's poller -----------------------------------------------------------------------------------------


@pytest.fixture
def poller(monkeypatch):
    """A dashboard state of tab ``TAB`` that has loaded organisation 7; counts the change-marker queries."""
    monkeypatch.setattr(page, "POLL_SECONDS", 0.0)
    calls: list[int] = []

    def marker_for(org: int) -> str:
        calls.append(org)
        return "same"

    monkeypatch.setattr(page.dashboards, "change_marker_for", marker_for)
    monkeypatch.setattr(page, "request_token", lambda: "the-staff-session-token")  # the event's cookie
    state = substate(DashboardState)
    state.router = RouterData(session=SessionData(client_token=TAB), url=ReflexURL("http://x/dashboards"))
    state._organisation_id, state._marker = 7, "same"
    return state, calls


def run_poll(state) -> None:
    """Run the background poller; it must end by itself (a poller that never stops fails the test)."""
    asyncio.run(asyncio.wait_for(DashboardState.poll.fn(state), timeout=10))


def test_a_tab_whose_connection_is_unknown_stops_polling(poller, no_app):
    state, calls = poller
    run_poll(state)
    assert calls == []


def test_a_tab_that_is_gone_stops_polling(poller, monkeypatch):
    state, calls = poller
    use_app(monkeypatch, FakeApp(FakeNamespace(["someone-else"])))
    run_poll(state)
    assert calls == []


def test_a_connected_tab_polls_until_it_goes(poller, monkeypatch):
    state, calls = poller
    namespace = FakeNamespace([TAB])
    use_app(monkeypatch, FakeApp(namespace))

    def marker_for(org: int) -> str:
        calls.append(org)
        if len(calls) == 3:
            namespace.token_to_sid.clear()  # the tab closes after the third tick
        return "same"

    monkeypatch.setattr(page.dashboards, "change_marker_for", marker_for)
    run_poll(state)
    assert calls == [7, 7, 7]
