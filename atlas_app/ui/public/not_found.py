"""The page for an address that does not exist, in the site's style, with ways back for clients and staff."""

from __future__ import annotations

import reflex as rx

from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.runtime import page

TITLE = "Page not found · Atlas"


def _way_back(label: str, href: str, link_id: str) -> rx.Component:
    return rx.el.li(rx.link(label, href=href, id=link_id,
                            style={"display": "inline-flex", "min_height": "44px", "align_items": "center"}))


@page(route="404", title=TITLE)
def not_found() -> rx.Component:
    return public_shell(
        rx.heading("Page not found", size="8", as_="h1", id="not-found"),
        rx.text("If you typed the web address, check it is correct."),
        rx.text("If you pasted the web address, check you copied the entire address."),
        rx.text("You can:"),
        rx.el.ul(
            _way_back("Book your driver course", "/book", "not-found-book"),
            _way_back("Manage a booking", "/booking/manage", "not-found-manage"),
            _way_back("Go to the front page", "/", "not-found-home"),
            _way_back("Staff: go to your home page", "/staff", "not-found-staff"),
            style={"padding_left": "1.25em"},
        ),
    )
