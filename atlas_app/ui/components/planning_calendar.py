"""The planning calendar: react-big-calendar (MIT, with its drag-and-drop addon) wrapped as a Reflex component.

The JavaScript side (``assets/calendar/planning_calendar.jsx``) exposes a narrow, serialisable API: events and
resources as plain dicts with ISO 8601 instants, and three callbacks that hand the server ids and ISO strings only.
The server decides every drop; see the page state for how a refused drop springs back.
"""

from __future__ import annotations

import reflex as rx

RBC = "react-big-calendar@1.20.0"


def _payload(payload: rx.Var[dict]) -> tuple[rx.Var[dict]]:
    return (payload,)


def _event_id(event_id: rx.Var[str]) -> tuple[rx.Var[str]]:
    return (event_id,)


class PlanningCalendar(rx.NoSSRComponent):
    library = rx.asset("calendar/planning_calendar.jsx").importable_path
    tag = "PlanningCalendar"
    is_default = False
    lib_dependencies: list[str] = [RBC, "moment@2.31.0", "moment-timezone@0.5.48"]

    events: rx.Var[list[dict]]
    resources: rx.Var[list[dict]]
    view: rx.Var[str]
    date: rx.Var[str]
    revision: rx.Var[int]
    height: rx.Var[int]

    on_event_move: rx.EventHandler[_payload]
    on_select_event: rx.EventHandler[_event_id]
    on_range_change: rx.EventHandler[_payload]


planning_calendar = PlanningCalendar.create
