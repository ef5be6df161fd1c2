"""The map of residents' reports: Leaflet (from the npm registry) wrapped as a Reflex component.

The JavaScript side (``assets/map/report_map.jsx``) takes plain values only: the tile URL template and its
attribution, the organisation's area (south, west, north, east), a pin ``[lat, lng]`` and markers as dicts
(``lat``, ``lng``, ``status`` code, ``text``, ``overdue``, ``href``); it hands the server a dropped pin as two
numbers and the visible box as a dict (west, south, east, north, zoom). Browser-only, so it is a NoSSR component.

A map is never the only way: the report pages keep their address search, and the staff queue its table.
"""

from __future__ import annotations

import reflex as rx

LEAFLET = "leaflet@1.9.4"


def _point(lat: rx.Var[float], lng: rx.Var[float]) -> tuple[rx.Var[float], rx.Var[float]]:
    return (lat, lng)


def _view(box: rx.Var[dict]) -> tuple[rx.Var[dict]]:
    return (box,)


class ReportMap(rx.NoSSRComponent):
    library = rx.asset("map/report_map.jsx").importable_path
    tag = "ReportMap"
    is_default = False
    lib_dependencies: list[str] = [LEAFLET]

    tile_url: rx.Var[str]
    attribution: rx.Var[str]
    area: rx.Var[list[float]]
    pin: rx.Var[list[float]]
    markers: rx.Var[list[dict]]
    pickable: rx.Var[bool]
    label: rx.Var[str]
    pick_label: rx.Var[str]
    height: rx.Var[int]

    on_pick: rx.EventHandler[_point]
    on_view: rx.EventHandler[_view]


report_map = ReportMap.create
