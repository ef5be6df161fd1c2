"""Status badges: every state has a colour AND a text label, so colour never carries meaning alone."""

from __future__ import annotations

import reflex as rx

USER_STATUS_COLOURS = {"active": "green", "locked": "orange", "disabled": "gray"}
OUTCOME_COLOURS = {"success": "green", "failure": "orange", "lockout": "red", "locked": "red", "disabled": "gray"}
EMAIL_STATUS_COLOURS = {"sent": "green", "queued": "blue", "held": "gray", "sending": "blue", "failed": "red",
                        "cancelled": "gray"}


def status_badge(label: rx.Var | str, colours: dict[str, str], default: str = "gray") -> rx.Component:
    """A badge whose colour is looked up from its label."""
    colour = rx.match(label, *[(k, v) for k, v in colours.items()], default)
    return rx.badge(label, color_scheme=colour, variant="soft", high_contrast=True, size="2", radius="full")


def welsh_missing(shown: rx.Var | bool, what: str | rx.Var = "") -> rx.Component:
    """"Welsh missing" beside a text the public sees that has no Welsh yet, while the organisation offers Welsh:
    an icon and the words (never colour alone), read out with what it is about."""
    return rx.cond(
        shown,
        rx.hstack(
            rx.icon("languages", size=14, aria_hidden="true"),
            rx.text("Welsh missing", weight="bold", size="1"),
            rx.el.span(": ", what, class_name="sr-only") if (not isinstance(what, str) or what) else rx.fragment(),
            spacing="1", align="center", class_name="welsh-missing",
            style={"color": "var(--amber-11)", "border": "1px solid var(--amber-8)", "padding": "0 0.4em",
                   "border_radius": "var(--radius-2)", "width": "fit-content"},
        ),
    )
