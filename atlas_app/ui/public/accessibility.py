"""/accessibility: each organisation's accessibility statement (GOV.UK model structure), in English and Welsh,
linked from the footer of every public page. /accessibility lists the organisations; /accessibility/<slug> is one
organisation's statement."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import accessibility
from atlas_app.services.platform.errors import AtlasError
from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.i18n import N_, _, interpolate, language_of_state, public_page, to
from atlas_app.ui.session import public


@public
class AccessibilityState(rx.State):
    organisations: list[dict[str, str]] = []
    name: str = ""
    sections: list[dict[str, str]] = []
    reviewed: str = ""
    problem: str = ""

    @rx.event
    async def load_list(self):
        rows = await asyncio.to_thread(accessibility.organisations_with_statements)
        self.organisations = [{"slug": slug, "name": name,
                               "href": to(f"/accessibility/{slug}", language_of_state(self))} for slug, name in rows]

    @rx.event
    async def load(self):
        slug = str(self.router.page.params.get("org", "") or "")[:40]
        self.name, self.sections, self.reviewed, self.problem = "", [], "", ""
        try:
            statement = await asyncio.to_thread(accessibility.public_statement, slug, language_of_state(self))
        except AtlasError as exc:
            self.problem = str(exc)
            return
        self.name = statement.organisation_name
        self.sections = [{"key": sec.key, "heading": sec.heading, "text": sec.text} for sec in statement.sections]
        self.reviewed = statement.reviewed_text


A = AccessibilityState


@public_page("/accessibility", N_("Accessibility statements · Atlas"), on_load=A.load_list)
def accessibility_list_page() -> rx.Component:
    return public_shell(
        rx.heading(_("Accessibility statements"), size="8", as_="h1"),
        rx.text(_("Each council and police area that uses this booking service publishes its own accessibility "
                  "statement.")),
        rx.el.ul(
            rx.foreach(A.organisations, lambda o: rx.el.li(rx.link(o["name"], href=o["href"],
                                                                   style={"display": "inline-flex",
                                                                          "min_height": "44px",
                                                                          "align_items": "center"}))),
            style={"padding_left": "1.25em"},
        ),
    )


@public_page("/accessibility/[org]", N_("Accessibility statement · Atlas"), on_load=A.load)
def accessibility_page() -> rx.Component:
    return public_shell(
        rx.cond(
            A.problem != "",
            rx.vstack(rx.heading(_("Accessibility statement"), size="8", as_="h1"), rx.text(A.problem, role="alert"),
                      rx.link(_("All accessibility statements"), href=to("/accessibility"))),
            rx.vstack(
                rx.heading(*interpolate(_("Accessibility statement for {name}"), name=A.name), size="8", as_="h1",
                           id="statement-heading"),
                rx.text(*interpolate(_("This statement applies to the course booking service of {name}."),
                                     name=A.name)),
                rx.foreach(A.sections, lambda sec: rx.box(
                    rx.heading(sec["heading"], size="5", as_="h2"),
                    rx.text(sec["text"], white_space="pre-line"),
                    id="statement-" + sec["key"],
                )),
                rx.cond(A.reviewed != "",
                        rx.text(*interpolate(_("This statement was last reviewed on {date}."), date=A.reviewed),
                                id="statement-reviewed")),
                spacing="4", align_items="stretch", width="100%",
            ),
        ),
    )
