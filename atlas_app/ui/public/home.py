"""The public front page and the staff home page."""

from __future__ import annotations

import reflex as rx

from atlas_app.ui.components.shell import NAV, AuthState, public_shell, staff_page
from atlas_app.ui.i18n import N_, _, public_page, to
from atlas_app.ui.staff.user_group.whats_new import WhatsNewBannerState, whats_new_banner


@public_page("/", N_("Atlas · Book your driver course"))
def index() -> rx.Component:
    return public_shell(
        rx.heading(_("Book your driver course"), size="8", as_="h1"),
        rx.text(
            _("If the police have offered you a course instead of penalty points, you can book and pay for it "
              "here, at any time of day, before the date in your offer letter."),
            size="4",
        ),
        rx.hstack(
            rx.link(_("Book your course"), href=to("/book"), id="book-course", underline="none", weight="bold",
                    style={"display": "inline-flex", "align_items": "center", "min_height": "48px",
                           "padding": "0 1.25em", "border_radius": "var(--radius-3)", "color": "white",
                           "background": "var(--accent-9)", "_hover": {"background": "var(--accent-10)",
                                                                        "color": "white"}}),
            rx.link(_("Manage a booking"), href=to("/booking/manage"), id="manage-booking",
                    style={"display": "inline-flex", "min_height": "44px", "align_items": "center"}),
            spacing="5", align="center", wrap="wrap",
        ),
        rx.text(_("Staff of participating councils and police areas sign in to manage courses and casework."),
                color_scheme="gray"),
        rx.link(_("Staff sign in"), href="/login"),
    )


def _tile(label: str, href: str, icon: str, permission: str | None) -> rx.Component:
    card = rx.link(
        rx.card(rx.hstack(rx.icon(icon, aria_hidden="true"), rx.text(label, weight="medium"), align="center"),
                size="2", width="100%"),
        href=href,
        underline="none",
        color="inherit",
    )
    return rx.cond(AuthState.permissions.contains(permission), card) if permission else card


@staff_page("/staff", "Home", on_load=WhatsNewBannerState.load)
def staff_home() -> rx.Component:
    tiles = [_tile(i.label, i.href, i.icon, i.permission) for _, items in NAV for i in items if i.href != "/staff"]
    return rx.vstack(
        whats_new_banner(),
        rx.text("Signed in as ", rx.text.strong(AuthState.full_name), " (", AuthState.username, ") for ",
                AuthState.organisation_name, "."),
        rx.grid(*tiles, columns=rx.breakpoints(initial="1", sm="2", lg="3"), spacing="3", width="100%"),
        spacing="4",
        width="100%",
    )
