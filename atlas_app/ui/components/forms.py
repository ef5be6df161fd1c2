"""Form building blocks with visible labels, hints and error messages tied to their fields (WCAG 1.3.1, 3.3.1)."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.forms import Form


class NativeForm(Form):
    """A form the browser submits itself to a server route (no Reflex submit handler, works without scripts)."""

    @classmethod
    def create(cls, *children, **props):
        return super(Form, cls).create(*children, **props)


native_form = NativeForm.create


def field(
    label: str,
    name: str,
    *,
    type: str = "text",
    required: bool = False,
    autocomplete: str | None = None,
    hint: str | None = None,
    error: rx.Var | str | None = None,
    default_value: rx.Var | str | None = None,
    input_id: str | None = None,
    **input_props,
) -> rx.Component:
    """A labelled input. ``error`` (a Var) is shown under the field and announced to screen readers."""
    fid = input_id or f"f-{name}"
    described = []
    parts = [rx.el.label(label, html_for=fid, font_weight="500", font_size="0.95em")]
    if hint:
        parts.append(rx.text(hint, id=f"{fid}-hint", size="2", color_scheme="gray"))
        described.append(f"{fid}-hint")
    props = dict(
        id=fid, name=name, type=type, required=required, size="3", width="100%", **input_props
    )
    if autocomplete:
        props["auto_complete"] = autocomplete
    if default_value is not None:
        props["default_value"] = default_value
    if described:
        props["aria-describedby"] = " ".join(described)
    parts.append(rx.input(**props))
    if error is not None:
        parts.append(
            rx.cond(
                error != "",
                rx.text(error, id=f"{fid}-error", color_scheme="red", size="2", role="alert"),
            )
        )
    return rx.vstack(*parts, spacing="1", width="100%", align_items="stretch")


def form_error(message: rx.Var) -> rx.Component:
    """A form-level problem: an alert box, announced when it appears, with a text label (not colour alone)."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%", high_contrast=True),
    )


def form_notice(message: rx.Var) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="info", color_scheme="green", role="status", width="100%", high_contrast=True),
    )
