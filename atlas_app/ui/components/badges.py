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
