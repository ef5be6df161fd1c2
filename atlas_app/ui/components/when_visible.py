"""``when_visible``: a box whose contents are rendered only once it comes near the viewport (``assets/dashboards/
when_visible.jsx``, an IntersectionObserver), so a long page of charts draws the ones in view first and each of
the others as it is scrolled to. Give it the contents' height (``min_height``) so the page does not jump."""

from __future__ import annotations

import reflex as rx


class WhenVisible(rx.Component):
    library = rx.asset("dashboards/when_visible.jsx").importable_path
    tag = "WhenVisible"
    is_default = False

    margin: rx.Var[str]


when_visible = WhenVisible.create
