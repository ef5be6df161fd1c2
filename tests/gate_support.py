"""Driving the app's real event processing (Reflex's event processor, the app's middleware, an in-memory state
manager) the way the websocket and ``POST /_upload`` feed it, to test the session gate from the attacker's side.

A websocket event carries the router data Reflex builds for it, with the Cookie header of the socket's handshake;
an upload goes through Reflex's own upload endpoint (wrapped as the app wraps it), carrying only what the HTTP
request carries."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
from reflex.istate.manager.memory import StateManagerMemory
from reflex_base.event import Event
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.registry import RegistrationContext
from reflex_components_core.core._upload import upload as reflex_upload
from starlette.applications import Starlette
from starlette.routing import Route

from atlas_app.web_session import SESSION_COOKIE
from atlas_app.atlas_app import app
from atlas_app.ui.session import guard_uploads

HYDRATE = "reflex___state____state.hydrate"


@dataclass
class Reply:
    deltas: list[dict] = field(default_factory=list)
    events: list = field(default_factory=list)

    @property
    def redirects(self) -> list[str]:
        return [e.payload.get("path") for e in self.events if e.name == "_redirect"]

    def values(self, state_cls) -> dict:
        """What the replies sent for ``state_cls``'s vars, merged."""
        name = state_cls.get_full_name()
        out: dict = {}
        for delta in self.deltas:
            out.update({k.removesuffix("_rx_state_"): v for k, v in delta.get(name, {}).items()})
        return out

    def text(self) -> str:
        return repr(self.deltas)


class _Namespace:
    """Stands in for the socket: collects the frontend events sent to each token."""

    def __init__(self) -> None:
        self.updates: dict[str, list] = {}

    async def emit_update(self, update, token: str) -> None:
        self.updates.setdefault(token, []).append(update)


def cookie_header(session_token: str | None) -> str:
    return f"{SESSION_COOKIE}={session_token}" if session_token else ""


class Browser:
    """The app's event processing, for one test: ``send`` as a websocket event, ``upload`` as POST /_upload."""

    def __init__(self) -> None:
        self.namespace = _Namespace()
        self.processor = BaseStateEventProcessor(middleware=app, backend_exception_handler=app.backend_exception_handler)
        self.processor.configure(state_manager=StateManagerMemory(), event_namespace=self.namespace)
        starlette = Starlette(routes=[Route("/_upload", reflex_upload(app), methods=["POST"])])
        self.http = guard_uploads(starlette)

    def run(self, scenario) -> None:
        async def main():
            RegistrationContext.set(app._registration_context)
            previous, app._event_processor = app._event_processor, self.processor
            try:
                async with self.processor:
                    await scenario(self)
            finally:
                app._event_processor = previous

        asyncio.run(main())

    def _reply(self, token: str, deltas: list) -> Reply:
        events = [e for update in self.namespace.updates.pop(token, []) for e in (update.events or [])]
        return Reply(deltas=list(deltas), events=events)

    async def send(self, token: str, name: str, path: str = "/staff", cookie: str = "", **payload) -> Reply:
        """An event as it arrives over the websocket of a page at ``path`` whose handshake sent ``cookie``."""
        router_data = {"pathname": path, "asPath": path, "query": {}, "token": token,
                       "headers": {"cookie": cookie, "origin": "http://atlas.test", "host": "atlas.test"},
                       "ip": "192.0.2.10", "sid": "sid-" + token}
        event = Event(name=name, router_data=router_data, payload=payload)
        deltas = [d async for d in self.processor.enqueue_stream_delta(token, event)]
        await asyncio.sleep(0.05)  # let chained events and background tasks reach their first await
        return self._reply(token, deltas)

    async def upload(self, token: str, handler: str, files: dict, cookie: str = "") -> httpx.Response | Exception:
        """POST /_upload as a browser (or a script) sends it; a handler's error comes back as the exception."""
        headers = {"reflex-client-token": token, "reflex-event-handler": handler}
        if cookie:
            headers["cookie"] = cookie
        transport = httpx.ASGITransport(app=self.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://atlas.test") as client:
            try:
                return await client.post("/_upload", headers=headers, files=files)
            except Exception as exc:  # noqa: BLE001 - the handler's own error, for the test to look at
                return exc


def new_tab() -> str:
    return str(uuid.uuid4())
