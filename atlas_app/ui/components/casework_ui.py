"""Pieces of the casework pages: the colours of demand classes and the select over a casework lookup list.
General widgets are in ``kit``."""

from __future__ import annotations

import reflex as rx

from atlas_app.ui.components.kit import select_field

DEMAND_CLASS_COLOURS = {"value": "green", "failure": "orange"}

# Casework's lookup lists (modules, teams, demand types, people found...) reach the page as {"id", "name"} rows.
LOOKUP_KEYS = ("id", "name")


def lookup_select(text: str | rx.Var, name: str, options: list | rx.Var, *, input_id: str | rx.Var,
                  placeholder: str = "Choose…", **props) -> rx.Component:
    """A labelled select over a lookup list, with an empty first choice worded by ``placeholder``."""
    return select_field(text, name, options, input_id=input_id, blank=placeholder, keys=LOOKUP_KEYS, **props)
