"""The paid flag: a booking's payment state as a badge with a colour, an icon AND a text label, so colour never
carries the meaning alone. One component for every page that shows whether a booking is paid.

    paid_flag(State.row["payment_state"])    # a Var holding paid, awaiting_payment, part_paid, overdue, ...
    paid_flag("overdue")                     # or a plain string

The state itself comes from ``atlas_app.services.payments.payment_state`` (or ``payment_summaries`` for lists).
"""

from __future__ import annotations

import reflex as rx

from atlas_app.services.platform.i18n import N_, _

# state -> (words, colour, icon)
PAID_FLAGS: dict[str, tuple[str, str, str]] = {
    "paid": (N_("Paid"), "green", "circle_check"),
    "awaiting_payment": (N_("Awaiting payment"), "amber", "clock"),
    "part_paid": (N_("Part-paid"), "blue", "circle_dashed"),
    "overdue": (N_("Overdue"), "red", "triangle_alert"),
    "refunded": (N_("Refunded"), "purple", "undo_2"),
    "waived": (N_("Waived"), "teal", "hand_heart"),
}


def paid_flag(state_var: rx.Var | str, **props) -> rx.Component:
    """A badge for a payment state. Unknown states show their own text in grey."""
    state = state_var if isinstance(state_var, rx.Var) else rx.Var.create(state_var)
    words = rx.match(state, *[(k, _(v[0])) for k, v in PAID_FLAGS.items()], state.to(str))
    colour = rx.match(state, *[(k, v[1]) for k, v in PAID_FLAGS.items()], "gray")
    icon = rx.match(
        state,
        *[(k, rx.icon(v[2], size=14, aria_hidden="true")) for k, v in PAID_FLAGS.items()],
        rx.fragment(),
    )
    # High contrast: the words stay readable (WCAG AA) on every colour.
    return rx.badge(icon, words, color_scheme=colour, variant="soft", high_contrast=True, size="2", radius="full",
                    class_name="paid-flag", **props)


def paid_flag_cell(row: rx.Var, flag_id: rx.Var | str | None = None) -> rx.Component:
    """The paid flag of a page row with the amount and due text beside it, all from one payment summary (the row
    carries ``PaymentSummary.flag()``: pay_state, pay_label, pay_amount, pay_due). A row without a pay_state (a
    booking that gave its seat back) shows a dash."""
    props = {"id": flag_id} if flag_id is not None else {}
    return rx.cond(
        row["pay_state"].to(str) != "",
        rx.vstack(
            paid_flag(row["pay_state"].to(str), **props),
            rx.text(row["pay_amount"], size="1"),
            rx.cond(row["pay_due"].to(str) != "", rx.text(row["pay_due"], size="1", color_scheme="gray")),
            spacing="1", align="start",
        ),
        rx.text("—", aria_hidden="true"),
    )


def demo_banner(message: str | None = None) -> rx.Component:
    """The label every page showing the demo card provider carries (in the page's language)."""
    message = message or _("DEMO — no real money. This is a demonstration: no card is charged and no money moves.")
    return rx.box(
        rx.hstack(
            rx.icon("triangle_alert", size=22, aria_hidden="true"),
            rx.text(rx.text.strong(message)),
            spacing="3",
            align="center",
        ),
        role="note",
        aria_label=_("Demonstration payment"),
        class_name="demo-banner",
        style={"border": "4px dashed var(--amber-9)", "background": "var(--amber-3)", "color": "var(--amber-12)",
               "padding": "0.75em 1em", "border_radius": "var(--radius-2)"},
    )
