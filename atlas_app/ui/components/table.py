"""An accessible, phone-friendly table: a caption, header cells with scope, and horizontal scrolling in a
focusable region when the screen is narrow."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx


def data_table(
    headers: list[str],
    rows: rx.Var,
    cells: Callable[[rx.Var], list],
    *,
    caption: str,
    row_id: Callable[[rx.Var], rx.Var] | None = None,
    empty: str = "Nothing to show.",
) -> rx.Component:
    def _row(row: rx.Var) -> rx.Component:
        props = {"id": row_id(row)} if row_id else {}
        return rx.table.row(*[rx.table.cell(c) for c in cells(row)], **props)

    return rx.box(
        rx.table.root(
            rx.el.caption(caption, class_name="sr-only"),
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h, scope="col") for h in headers])),
            rx.table.body(rx.foreach(rows, _row)),
            variant="surface",
            size="2",
            width="100%",
        ),
        rx.cond(rows.length() == 0, rx.text(empty, color_scheme="gray", padding="0.75em")),
        overflow_x="auto",
        width="100%",
        tab_index=0,
        role="region",
        aria_label=caption,
    )
