"""/whats-new: every release the user's permissions reach, newest first, with its notes (Markdown rendered and
sanitised by the releases service) and the change requests it shipped; and the banner on the staff home page that
shows, once, what is new since the user last looked."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.user_group import AREAS
from atlas_app.services.user_group import releases as service
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.session import private, require

register_nav("User group", NavItem("What's new", "/whats-new", "sparkles"))


def _view(r: service.ReleaseView) -> dict:
    return {"version": r.version, "date": r.date.strftime("%d %B %Y"), "title": r.title,
            "areas": ", ".join(AREAS.get(a, a) for a in r.areas), "html": r.html, "new": r.is_new,
            "requests": [{"id": str(c.id), "title": c.title, "org": c.organisation_name} for c in r.change_requests]}


@private
class WhatsNewState(rx.State):
    releases: list[dict] = []
    error: str = ""

    @rx.event
    async def load(self):
        actor = await require(self)
        try:
            views = await asyncio.to_thread(service.list_releases, actor)
            await asyncio.to_thread(service.mark_seen, actor)
        except AtlasError as exc:
            self.releases, self.error = [], str(exc)
            return
        self.error = ""
        self.releases = [_view(v) for v in views]


@private
class WhatsNewBannerState(rx.State):
    """What is new since the user last looked, for the staff home page (titles and versions only)."""

    items: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        actor = await require(self)
        views = await asyncio.to_thread(service.new_since_last_seen, actor)
        self.items = [{"version": v.version, "title": v.title,
                       "requests": ", ".join("#" + str(c.id) + " " + c.title for c in v.change_requests)}
                      for v in views]

    @rx.event
    async def dismiss(self):
        actor = await require(self)
        await asyncio.to_thread(service.mark_seen, actor)
        self.items = []


def whats_new_banner() -> rx.Component:
    S = WhatsNewBannerState
    return rx.cond(
        S.items.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("sparkles", aria_hidden="true")),
            rx.vstack(
                rx.text(rx.text.strong("New in Atlas since you last looked")),
                rx.el.ul(rx.foreach(S.items, lambda i: rx.el.li(
                    i["version"] + ": " + i["title"],
                    rx.cond(i["requests"] != "", rx.text(" (shipped: " + i["requests"] + ")", as_="span")),
                ))),
                rx.hstack(rx.link("See what's new", href="/whats-new", id="whats-new-link"),
                          rx.button("Dismiss", size="1", variant="soft", on_click=S.dismiss, id="whats-new-dismiss"),
                          spacing="4", align="center"),
                spacing="2",
            ),
            role="status",
            id="whats-new-banner",
        ),
    )


def _release(r: rx.Var) -> rx.Component:
    return rx.el.article(
        rx.hstack(
            rx.heading(r["version"].to(str) + ": " + r["title"].to(str), size="4", as_="h2"),
            rx.cond(r["new"].to(bool), rx.badge("New for you", color_scheme="green", variant="soft",
                                                high_contrast=True)),
            spacing="3", align="center", wrap="wrap",
        ),
        rx.text(r["date"].to(str) + " · " + r["areas"].to(str), size="2", color_scheme="gray"),
        rx.html(r["html"].to(str), class_name="release-notes"),
        rx.cond(
            r["requests"].to(list).length() > 0,
            rx.box(
                rx.heading("Change requests shipped", size="3", as_="h3"),
                rx.el.ul(rx.foreach(r["requests"].to(list[dict[str, str]]), lambda c: rx.el.li(
                    rx.link("#" + c["id"] + " " + c["title"], href="/user-group/requests/" + c["id"]),
                    " (raised by " + c["org"] + ")"))),
            ),
        ),
        id="release-" + r["version"].to(str),
        style={"border-bottom": "1px solid var(--gray-5)", "padding-bottom": "1em", "width": "100%"},
    )


@staff_page("/whats-new", "What's new", on_load=WhatsNewState.load)
def whats_new_page() -> rx.Component:
    S = WhatsNewState
    return rx.vstack(
        rx.text("Every release of Atlas, newest first, in the parts of Atlas your permissions reach."),
        rx.cond(S.error != "", rx.callout(S.error, icon="triangle_alert", color_scheme="red", role="alert")),
        rx.foreach(S.releases, _release),
        rx.cond(S.releases.length() == 0, rx.text("No release notes yet.", color_scheme="gray")),
        spacing="5", width="100%",
    )
