"""The page for an address that does not exist, in the site's style, with ways back for clients and staff.

One page answers every unknown address, English or Welsh (``/cy/...``), so it says everything in both languages:
English first, then Welsh marked ``lang="cy"``."""

from __future__ import annotations

import reflex as rx

from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.i18n import _, to, using
from atlas_app.ui.runtime import page

TITLE = "Page not found · Atlas"


def _way_back(label: str, href: str, link_id: str) -> rx.Component:
    return rx.el.li(rx.link(label, href=href, id=link_id,
                            style={"display": "inline-flex", "min_height": "44px", "align_items": "center"}))


def _body(language: str) -> list[rx.Component]:
    suffix = "" if language == "en" else "-cy"
    with using(language):
        return [
            rx.heading(_("Page not found"), size="8", as_="h1" if language == "en" else "h2",
                       id="not-found" + suffix),
            rx.text(_("If you typed the web address, check it is correct.")),
            rx.text(_("If you pasted the web address, check you copied the entire address.")),
            rx.text(_("You can:")),
            rx.el.ul(
                _way_back(_("Book your driver course"), to("/book"), "not-found-book" + suffix),
                _way_back(_("Manage a booking"), to("/booking/manage"), "not-found-manage" + suffix),
                _way_back(_("Go to the front page"), to("/"), "not-found-home" + suffix),
                _way_back(_("Staff: go to your home page"), "/staff", "not-found-staff" + suffix),
                style={"padding_left": "1.25em"},
            ),
        ]


@page(route="404", title=TITLE)
def not_found() -> rx.Component:
    return public_shell(
        *_body("en"),
        rx.box(*_body("cy"), lang="cy", id="not-found-welsh",
               style={"border_top": "1px solid var(--gray-5)", "padding_top": "1em"}),
    )
