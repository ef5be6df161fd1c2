"""Building blocks of the casework pages: labelled selects, fieldset sections and disclosure panels."""

from __future__ import annotations

import reflex as rx

from atlas_app.ui.components.forms import field

DEMAND_CLASS_COLOURS = {"value": "green", "failure": "orange"}


def select_field(label: str, name: str, options: rx.Var, *, input_id: str, required: bool = False,
                 placeholder: str = "Choose…", hint: str | None = None, **props) -> rx.Component:
    """A native select with a visible label; ``options`` is a list of {"id", "name"} dicts."""
    parts = [rx.el.label(label, html_for=input_id, font_weight="500", font_size="0.95em")]
    if hint:
        parts.append(rx.text(hint, id=f"{input_id}-hint", size="2", color_scheme="gray"))
    parts.append(
        rx.el.select(
            rx.el.option(placeholder, value=""),
            rx.foreach(options, lambda o: rx.el.option(o["name"], value=o["id"])),
            id=input_id,
            name=name,
            required=required,
            aria_describedby=f"{input_id}-hint" if hint else None,
            style={"padding": "0.45em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-8)",
                   "background": "var(--color-background)", "width": "100%", "font-size": "1em"},
            **props,
        )
    )
    return rx.vstack(*parts, spacing="1", width="100%", align_items="stretch")


def check_field(label: str, name: str, input_id: str) -> rx.Component:
    return rx.hstack(rx.checkbox(name=name, id=input_id), rx.el.label(label, html_for=input_id), spacing="2",
                     align="center")


def section(title: str, *children, section_id: str) -> rx.Component:
    """A titled region of a page (an h2 that names it for screen readers)."""
    return rx.el.section(
        rx.vstack(rx.heading(title, size="4", as_="h2", id=f"{section_id}-title"), *children, spacing="2",
                  width="100%", align_items="stretch"),
        aria_labelledby=f"{section_id}-title",
        id=section_id,
        style={"border": "1px solid var(--gray-5)", "border-radius": "var(--radius-3)", "padding": "1em",
               "width": "100%"},
    )


def panel(summary: str, *children, panel_id: str) -> rx.Component:
    """A native disclosure (details/summary): keyboard and screen-reader friendly without scripts."""
    return rx.el.details(
        rx.el.summary(summary, id=f"{panel_id}-toggle",
                      style={"cursor": "pointer", "font-weight": "600", "padding": "0.4em 0"}),
        rx.box(*children, padding_top="0.5em"),
        id=panel_id,
        style={"width": "100%"},
    )


def fieldset(legend: str, *children) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(legend, style={"font-weight": "500", "padding": "0 0.3em"}),
        rx.vstack(*children, spacing="2", width="100%"),
        style={"border": "1px solid var(--gray-6)", "border-radius": "var(--radius-2)", "padding": "0.5em 0.75em",
               "width": "100%"},
    )


def submit(label: str, button_id: str) -> rx.Component:
    return rx.button(label, type="submit", id=button_id)


__all__ = ["DEMAND_CLASS_COLOURS", "check_field", "field", "fieldset", "panel", "section", "select_field", "submit"]
