"""The kit of general widgets every staff page uses: labelled native selects, checkboxes and text areas,
fieldsets with legends, titled sections and disclosure panels, badges from a table of codes, description lists,
tables that become cards on a phone, and the add-or-change form of a record page. Text inputs and form messages are
in ``forms``; area-specific pieces (status words, colours) stay in the area's module."""

from __future__ import annotations

import reflex as rx

from atlas_app.ui.components.forms import form_notice

SELECT_STYLE = {
    "padding": "0.5em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
    "background": "var(--color-background)", "min-height": "2.5em", "width": "100%", "font-size": "1em",
}
TEXTAREA_STYLE = {
    "padding": "0.5em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
    "background": "var(--color-background)", "width": "100%", "font": "inherit", "min-height": "4.5em",
}
FIELDSET_STYLE = {"border": "1px solid var(--gray-6)", "border-radius": "var(--radius-2)",
                  "padding": "0.5em 0.75em 0.75em", "margin": "0", "min-width": "0", "width": "100%"}


def coded_badge(code: rx.Var, table: dict[str, tuple[str, str]], badge_id: rx.Var | str | None = None
                ) -> rx.Component:
    """A badge whose words and colour both come from the status code."""
    words = rx.match(code, *[(k, v[0]) for k, v in table.items()], code)
    colour = rx.match(code, *[(k, v[1]) for k, v in table.items()], "gray")
    props = {"id": badge_id} if badge_id is not None else {}
    return rx.badge(words, color_scheme=colour, variant="soft", high_contrast=True, size="2", radius="full",
                    **props)


def label(text: str, html_for: str) -> rx.Component:
    return rx.el.label(text, html_for=html_for, font_weight="500", font_size="0.95em")


def select_field(text: str | rx.Var, name: str, options: list | rx.Var, *, input_id: str | rx.Var,
                 value: rx.Var | str | None = None, default_value: rx.Var | str | None = None,
                 on_change=None, blank: str | None = None, hint: str | None = None, required: bool = False,
                 keys: tuple[str, str] = ("value", "label"), **props) -> rx.Component:
    """A labelled native select (works with the keyboard, screen readers and phone pickers).

    ``options`` is a list of (value, label) pairs, or a list (or Var list) of dicts whose value and label are under
    ``keys``; ``blank`` is the words of an empty first choice."""
    value_key, label_key = keys
    if isinstance(options, rx.Var) or (options and isinstance(options[0], dict)):
        opts = [rx.foreach(options, lambda o: rx.el.option(o[label_key], value=o[value_key]))]
    else:
        opts = [rx.el.option(lab, value=val) for val, lab in options]
    if blank is not None:
        opts.insert(0, rx.el.option(blank, value=""))
    props = {"id": input_id, "name": name, "style": SELECT_STYLE, "required": required, **props}
    if value is not None:
        props["value"] = value
    if default_value is not None:
        props["default_value"] = default_value
    if on_change is not None:
        props["on_change"] = on_change
    parts = [label(text, input_id)]
    if hint:
        parts.append(rx.text(hint, id=f"{input_id}-hint", size="2", color_scheme="gray"))
        props["aria-describedby"] = f"{input_id}-hint"
    parts.append(rx.el.select(*opts, **props))
    return rx.vstack(*parts, spacing="1", width="100%", align_items="stretch")


def textarea_field(text: str, name: str, *, input_id: str, default_value: rx.Var | str | None = None,
                   hint: str | None = None, required: bool = False, max_length: int = 1000) -> rx.Component:
    props: dict = {"id": input_id, "name": name, "style": TEXTAREA_STYLE, "required": required,
                   "max_length": max_length, "rows": 3}
    if default_value is not None:
        props["default_value"] = default_value
    parts = [label(text, input_id)]
    if hint:
        parts.append(rx.text(hint, id=f"{input_id}-hint", size="2", color_scheme="gray"))
        props["aria-describedby"] = f"{input_id}-hint"
    parts.append(rx.el.textarea(**props))
    return rx.vstack(*parts, spacing="1", width="100%", align_items="stretch")


def checkbox_field(text: str | rx.Var, name: str, *, input_id: str | rx.Var,
                   default_checked: rx.Var | bool | None = None, value: str | rx.Var | None = None
                   ) -> rx.Component:
    """A native checkbox with its label beside it (a big enough target on a phone)."""
    props: dict = {"type": "checkbox", "id": input_id, "name": name,
                   "style": {"width": "1.25em", "height": "1.25em", "margin": "0", "flex-shrink": "0"}}
    if default_checked is not None:
        props["default_checked"] = default_checked
    if value is not None:
        props["value"] = value
    return rx.el.div(
        rx.el.input(**props),
        rx.el.label(text, html_for=input_id),
        style={"display": "flex", "gap": "0.5em", "align-items": "center", "min-height": "2em"},
    )


def fieldset(legend: str, *children, legend_id: str | None = None) -> rx.Component:
    props = {"id": legend_id} if legend_id else {}
    return rx.el.fieldset(
        rx.el.legend(legend, style={"font-weight": "500", "padding": "0 0.25em"}, **props),
        rx.vstack(*children, spacing="2", width="100%", align_items="stretch"),
        style=FIELDSET_STYLE,
    )


def two_columns(*children) -> rx.Component:
    """Side by side on wide screens, stacked on a phone."""
    return rx.grid(*children, columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%")


def detail_list(items: list[tuple[str, rx.Var | str | rx.Component]]) -> rx.Component:
    """Terms and their values as a description list."""
    rows = []
    for term, value in items:
        rows.append(rx.el.dt(term, style={"font-weight": "500", "color": "var(--gray-11)"}))
        rows.append(rx.el.dd(value, style={"margin": "0 0 0.5em 0", "min-width": "0", "overflow-wrap": "anywhere"}))
    return rx.el.dl(*rows, style={"display": "grid",
                                  "grid-template-columns": "minmax(6.5em, max-content) minmax(0, 1fr)",
                                  "column-gap": "1em", "row-gap": "0.15em", "margin": "0"})


def section(title: str | rx.Var, *children, section_id: str | None = None, heading_id: str | None = None,
            actions: rx.Component | None = None, landmark: bool = True) -> rx.Component:
    """A titled card; the heading labels the region for screen readers. With ``section_id`` the region has that id
    and its heading ``<section_id>-title``. ``landmark=False`` where the card is already inside a named region (a
    tab panel) and a second region of the same name would only repeat it."""
    hid = heading_id or (f"{section_id}-title" if section_id else
                         "h-" + str(title).lower().replace(" ", "-").replace(",", ""))
    card = rx.card(
        rx.vstack(
            rx.hstack(rx.heading(title, size="4", as_="h2", id=hid), rx.spacer(), actions or rx.fragment(),
                      width="100%", align="center", wrap="wrap"),
            *children,
            spacing="3",
            width="100%",
            align_items="stretch",
        ),
        width="100%",
    )
    if not landmark:
        return card
    props = {"id": section_id} if section_id else {}
    return rx.el.section(card, aria_labelledby=hid, style={"width": "100%"}, **props)


def panel(summary: str, *children, panel_id: str) -> rx.Component:
    """A native disclosure (details/summary): keyboard and screen-reader friendly without scripts."""
    return rx.el.details(
        rx.el.summary(summary, id=f"{panel_id}-toggle",
                      style={"cursor": "pointer", "font-weight": "600", "padding": "0.4em 0"}),
        rx.box(*children, padding_top="0.5em"),
        id=panel_id,
        style={"width": "100%"},
    )


def submit(text: str, button_id: str) -> rx.Component:
    return rx.button(text, type="submit", id=button_id)


def error_text(message: rx.Var) -> rx.Component:
    """A message shown next to (inside) the form it is about."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
    )


def phone_cards(rows: rx.Var, card, *, label: str, empty: str = "Nothing to show.") -> rx.Component:
    """The rows as a list of cards, for narrow screens where a wide table would need sideways scrolling."""
    return rx.vstack(
        rx.el.ul(
            rx.foreach(rows, lambda r: rx.el.li(rx.card(card(r), width="100%"), style={"width": "100%"})),
            aria_label=label,
            style={"list-style": "none", "padding": "0", "margin": "0", "display": "flex",
                   "flex-direction": "column", "gap": "0.5em", "width": "100%"},
        ),
        rx.cond(rows.length() == 0, rx.text(empty, color_scheme="gray")),
        width="100%",
        spacing="2",
    )


def table_or_cards(table: rx.Component, cards: rx.Component) -> rx.Component:
    """A table on wide screens, cards on a phone. Only one is displayed (the other is hidden from everyone)."""
    return rx.fragment(
        rx.box(table, display=["none", "none", "block"], width="100%"),
        rx.box(cards, display=["block", "block", "none"], width="100%"),
    )


def route_id(path: str, prefix: str) -> str:
    """The id at the end of a dynamic route's path ('/bookings/client/42/' -> '42'); '' when it is not digits.
    Only ever a lookup key: services check it against the actor's organisation."""
    rest = (path or "").split("?")[0]
    rest = rest[len(prefix):] if rest.startswith(prefix) else ""
    rest = rest.strip("/")
    return rest if rest.isdigit() and len(rest) <= 12 else ""


def record_form(state, title: rx.Var, *body: rx.Component, save: tuple[str, str], new_label: str, aria_label: str,
                heading_id: str) -> rx.Component:
    """The add-or-change card of an administrator's list page: the error and notice, the fields, then Save and New.
    ``state`` has ``error``, ``notice`` and ``form_key`` (a new key empties the form) and the events ``save`` (the
    form's data) and ``new``."""
    save_label, save_id = save
    return section(
        title,
        error_text(state.error),
        form_notice(state.notice),
        rx.form(
            rx.vstack(
                *body,
                rx.hstack(
                    rx.button(save_label, type="submit", size="3", id=save_id),
                    rx.button(new_label, type="button", variant="outline", size="3", on_click=state.new),
                    spacing="2",
                    wrap="wrap",
                ),
                spacing="3",
                width="100%",
                align_items="stretch",
            ),
            on_submit=state.save,
            aria_label=aria_label,
            key=state.form_key.to_string(),
            width="100%",
        ),
        heading_id=heading_id,
    )


def file_drop(*children, label: str, **props) -> rx.Component:
    """``rx.upload`` whose file input is named for screen readers (Reflex renders that input with no label)."""
    zone = rx.upload(*children, **props)

    def name_the_input(component) -> bool:
        for child in getattr(component, "children", []) or []:
            if getattr(child, "tag", "") == "input" and getattr(child, "type", None) is not None:
                child.custom_attrs["aria-label"] = label
                return True
            if name_the_input(child):
                return True
        return False

    if not name_the_input(zone):
        raise RuntimeError("rx.upload no longer renders a file input where file_drop looks for it")
    return zone
