"""The live strategic-measures dashboard: casework measures (demand, capability, one-stop, system conditions) and
booking measures, for a chosen module, team and date range.

While the page is open a background task polls one cheap change marker every ``POLL_SECONDS`` and recomputes the
figures only when it moved, so every open dashboard follows changes made anywhere (any worker, any browser) within
a few seconds. The task ends when the tab closes or leaves the page, when the filters start a new one, or when the
staff session ends (it reads the session without extending it, so an open dashboard does not keep a session alive).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import reflex as rx

from atlas_app.domain.money import format_pence
from atlas_app.services.platform import auth, pollers
from atlas_app.services.insight import dashboards
from atlas_app.services.platform.actor import Actor
from atlas_app.services.casework.cases import case_ref
from atlas_app.services.platform.errors import AtlasError, PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON
from atlas_app.ui.components import dashboard_charts as charts
from atlas_app.ui.components.casework_ui import lookup_select
from atlas_app.ui.components.kit import section
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.components.when_visible import when_visible
from atlas_app.ui import runtime
from atlas_app.ui.session import private, request_token, require

log = logging.getLogger("atlas.dashboards")

ROUTE = "/dashboards"
POLL_SECONDS = 1.0
CHECK_SECONDS = 10.0
CHARTS = ("capability", "volume", "value_failure", "one_stop", "conditions_count", "conditions_minutes")

register_nav("Dashboards", NavItem("Strategic measures", ROUTE, "chart-line", Perm.DASHBOARDS_VIEW))

GRAIN_OPTIONS = [{"id": "day", "name": "Day"}, {"id": "week", "name": "Week"}, {"id": "month", "name": "Month"}]


def _money(pence: int) -> str:
    return format_pence(pence)


def _target(value: Any) -> float | None:
    raw = str(value or "").strip()
    if not raw:
        return None
    try:
        out = float(raw)
    except ValueError:
        raise ValidationFailed("Enter the target as a number of days.", {"target": "invalid"}) from None
    if not 0 <= out <= 3650:
        raise ValidationFailed("Enter a target between 0 and 3650 days.", {"target": "range"})
    return out


def _sig(data: Any) -> str:
    return hashlib.sha256(repr(data).encode()).hexdigest()


# The figures computed for a change marker, shared by every tab of this process showing the same organisation and
# filters: when the marker moves, the first tab to notice computes and the others take its result.
SHARED_RESULTS = 32
_shared: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_shared_locks: dict[tuple, threading.Lock] = {}
_shared_guard = threading.Lock()


def compute(actor: Actor, f: dashboards.Filters, target: float | None,
            previous: dict[str, str] | None = None, marker: str | None = None) -> dict[str, Any]:
    """Every figure of the dashboard (run in a thread: the services query the database), without the figures whose
    data did not change since ``previous`` (signatures of the data): those are not sent to the browser again.

    With the organisation's change ``marker`` read just before, the result is computed once for every viewer of
    the same organisation and filters (and the same access to client names) until the marker moves."""
    actor.require(Perm.DASHBOARDS_VIEW)
    if marker is None:
        return _compute(actor, f, target, previous)
    key = (actor.organisation_id, actor.can(Perm.BOOKINGS_VIEW), f, target, marker)
    with _shared_guard:
        lock = _shared_locks.setdefault(key, threading.Lock())
    with lock:
        with _shared_guard:
            full = _shared.get(key)
            if full is not None:
                _shared.move_to_end(key)
        if full is None:
            full = _compute(actor, f, target)
            with _shared_guard:
                _shared[key] = full
                while len(_shared) > SHARED_RESULTS:
                    old, _ = _shared.popitem(last=False)
                    _shared_locks.pop(old, None)
    previous = previous or {}
    names = {"capability": ("capability", "mr"), "demand": ("volume", "value_failure", "one_stop"),
             "conditions": ("conditions_count", "conditions_minutes"), "bookings": ("channel", "fill", "income")}
    unchanged = {fig for group, figs in names.items() if full["sigs"].get(group) == previous.get(group)
                 for fig in figs}
    out = dict(full)
    out["figures"] = {k: v for k, v in full["figures"].items() if k not in unchanged}
    if "capability" in unchanged:
        out.pop("signals", None)
    return out


def _compute(actor: Actor, f: dashboards.Filters, target: float | None,
             previous: dict[str, str] | None = None) -> dict[str, Any]:
    previous = previous or {}
    out: dict[str, Any] = {}
    figures: dict[str, go.Figure] = {}
    clicks: dict[str, list[list[Any]]] = {}
    sigs: dict[str, str] = {}
    cap = dashboards.capability(actor, f)
    sigs["capability"] = _sig((cap.points, cap.change_points, target))
    if sigs["capability"] != previous.get("capability"):
        figures["capability"], figures["mr"], clicks["capability"], out["signals"] = charts.capability_charts(
            cap, target)
    dm = dashboards.demand_measures(actor, f)
    sigs["demand"] = _sig(dm)
    if sigs["demand"] != previous.get("demand"):
        figures["volume"], figures["value_failure"], figures["one_stop"], more = charts.demand_charts(dm)
        clicks.update(more)
    conds = dashboards.system_conditions(actor, f)
    sigs["conditions"] = _sig(conds)
    if sigs["conditions"] != previous.get("conditions"):
        figures["conditions_count"], figures["conditions_minutes"], more = charts.condition_charts(conds)
        clicks.update(more)
    bm = dashboards.booking_measures(actor, f, include_clients=actor.can(Perm.BOOKINGS_VIEW))
    sigs["bookings"] = _sig((bm.periods, bm.online, bm.telephone, bm.other, bm.fill, bm.income_periods,
                             bm.income_pence))
    if sigs["bookings"] != previous.get("bookings"):
        figures["channel"], figures["fill"], figures["income"] = charts.booking_charts(bm)
    seg = cap.chart.segments[-1] if cap.chart.segments else None
    outcome = bm.attended + bm.did_not_attend + bm.turned_away
    made = sum(bm.online) + sum(bm.telephone) + sum(bm.other)
    out["kpis"] = {
        "demands": f"{dm.value_total + dm.failure_total:,}",
        "failure": f"{dm.failure_pct}%",
        "failure_detail": f"{dm.failure_total:,} failure, {dm.value_total:,} value",
        "one_stop": f"{dm.one_stop_pct}%",
        "cap_points": f"{len(cap.points):,}",
        "cap_mean": f"{seg.mean:.1f} days" if seg else "—",
        "cap_limits": (f"{seg.lpl:.1f} to {seg.upl:.1f} days" if seg else "—"),
        "signals": f"{len(cap.chart.special_points)}",
        "bookings": f"{made:,}",
        "online_share": f"{round(100 * sum(bm.online) / max(1, made), 1)}%",
        "paid": f"{bm.payment['paid']['count']:,}",
        "awaiting": f"{bm.payment['awaiting']['count']:,}",
        "overdue": f"{bm.payment['overdue']['count']:,}",
        "outstanding": _money(sum(max(0, v["fee_pence"] - v["settled_pence"])
                                  for k, v in bm.payment.items() if k != "paid")),
        "attendance": f"{bm.attendance_pct}%",
        "dna": f"{bm.dna_pct}%",
        "outcomes": f"{bm.attended:,} attended, {bm.did_not_attend:,} did not attend of {outcome:,}",
        "income": _money(bm.income_total_pence),
        "near_critical": f"{bm.near_critical:,}",
    }
    out["figures"] = figures
    out["click"] = clicks
    out["sigs"] = sigs
    out["cap_rows"] = [{"n": str(i + 1), "case_id": str(p.case_id), "ref": case_ref(p.case_id), "days": f"{p.days:g}",
                        "met": p.need_met_at.astimezone(LONDON).strftime("%d %b %Y %H:%M"),
                        "rules": ", ".join(dashboards.control_chart.RULE_LABELS[r]
                                           for r in sorted(cap.chart.signals[i])) or "—"}
                       for i, p in enumerate(cap.points)][::-1][:50]
    out["truncated"] = (f"The latest {cap.limit} completed demands in the range are shown." if cap.truncated else "")
    out["change_points"] = [{"id": str(c["id"]), "at": c["changed_at"].astimezone(LONDON).strftime("%d %b %Y"),
                             "note": c["note"] or "—", "scope": "This module" if c["module_id"] else "All modules"}
                            for c in cap.change_points]
    out["top_failure"] = [{"name": t["name"], "count": f"{t['count']:,}", "pct": f"{t['pct']}%"}
                          for t in dm.top_failure]
    out["conditions"] = [{"id": str(r.category_id), "name": r.name, "count": f"{r.count:,}",
                          "minutes": f"{r.minutes:,}"} for r in conds]
    out["fill_rows"] = [{"course": r["course"], "venue": r["venue"], "sessions": str(r["sessions"]),
                         "seats": f"{r['taken']} of {r['capacity']}", "pct": f"{r['pct']}%"} for r in bm.fill]
    out["near_rows"] = [{**{k: str(v) for k, v in r.items()}} for r in bm.near_critical_rows]
    return out


@private
class DashboardState(rx.State):
    # filters (strings as the form sends them)
    start: str = ""
    end: str = ""
    grain: str = "week"
    module_id: str = ""
    team_id: str = ""
    demand_type_id: str = ""
    target: str = ""
    modules: list[dict[str, str]] = []
    teams: list[dict[str, str]] = []
    demand_types: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    loaded: bool = False
    kpis: dict[str, str] = {}
    capability_fig: go.Figure = charts.figure()
    mr_fig: go.Figure = charts.figure()
    volume_fig: go.Figure = charts.figure()
    value_failure_fig: go.Figure = charts.figure()
    one_stop_fig: go.Figure = charts.figure()
    conditions_count_fig: go.Figure = charts.figure()
    conditions_minutes_fig: go.Figure = charts.figure()
    channel_fig: go.Figure = charts.figure()
    fill_fig: go.Figure = charts.figure()
    income_fig: go.Figure = charts.figure()
    signals: list[dict[str, str]] = []
    cap_rows: list[dict[str, str]] = []
    truncated: str = ""
    change_points: list[dict[str, str]] = []
    top_failure: list[dict[str, str]] = []
    conditions: list[dict[str, str]] = []
    fill_rows: list[dict[str, str]] = []
    near_rows: list[dict[str, str]] = []
    behind_title: str = ""
    behind: list[dict[str, str]] = []
    live: bool = False
    updated: str = ""
    refreshes: int = 0
    _marker: str = ""
    _organisation_id: int = 0
    _poll: int = 0
    _click: dict[str, list[list[Any]]] = {}
    _sigs: dict[str, str] = {}

    def _filter_data(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "grain": self.grain, "module_id": self.module_id,
                "team_id": self.team_id, "demand_type_id": self.demand_type_id}

    def _apply(self, result: dict[str, Any]) -> None:
        self.kpis = result["kpis"]
        for name, fig in result["figures"].items():
            setattr(self, f"{name}_fig", fig)
        self._click = {**self._click, **result["click"]}
        self._sigs = result["sigs"]
        for key in ("signals", "cap_rows", "truncated", "change_points", "top_failure", "conditions", "fill_rows",
                    "near_rows"):
            if key in result:
                setattr(self, key, result[key])
        self.updated = datetime.now(LONDON).strftime("%H:%M:%S")
        self.refreshes += 1
        self.loaded = True

    async def _recompute(self, actor: Actor) -> None:
        f = dashboards.parse_filters(self._filter_data())
        target = _target(self.target)
        marker = await asyncio.to_thread(dashboards.change_marker, actor)
        result = await asyncio.to_thread(compute, actor, f, target, self._sigs, marker)
        self._marker = marker
        self._organisation_id = actor.organisation_id or 0
        self._apply(result)

    @rx.event
    async def load(self):
        actor = await require(self, Perm.DASHBOARDS_VIEW)
        opts = await asyncio.to_thread(dashboards.filter_options, actor)
        self.modules = [{"id": str(i), "name": n} for i, n in opts["modules"]]
        self.teams = [{"id": str(i), "name": n} for i, n in opts["teams"]]
        self.demand_types = [{"id": str(i), "name": n} for i, n in opts["demand_types"]]
        if not self.start:
            f = dashboards.parse_filters({})
            self.start, self.end = f.start.isoformat(), f.end.isoformat()
        self.error = self.notice = ""
        self.behind, self.behind_title = [], ""
        try:
            await self._recompute(actor)
        except AtlasError as exc:
            self.error = str(exc)
        self._poll += 1
        self.live = True
        return DashboardState.poll

    @rx.event
    async def apply_filters(self, form: dict):
        actor = await require(self, Perm.DASHBOARDS_VIEW)
        data = {k: str(form.get(k, "") or "")[:20] for k in ("start", "end", "grain", "module_id", "team_id",
                                                             "demand_type_id", "target")}
        try:
            dashboards.parse_filters(data)
            _target(data["target"])
        except AtlasError as exc:
            self.error = str(exc)
            return
        for k, v in data.items():
            setattr(self, k, v)
        self.error = ""
        self.behind, self.behind_title = [], ""
        await self._recompute(actor)
        if not self.live:
            self._poll += 1
            self.live = True
            return DashboardState.poll

    @rx.event(background=True)
    async def poll(self):
        """Follow changes while this tab shows the dashboard, in one of the few poller slots its staff session may
        hold (``pollers``); with none free the tab says live updates are paused."""
        async with self:
            mine = self._poll
            token = request_token()
        holder = await asyncio.to_thread(pollers.claim, token)
        if holder is None:
            async with self:
                if self._poll == mine:
                    self.live, self.notice = False, pollers.TOO_MANY
            return
        follow = asyncio.ensure_future(self._follow())
        try:
            while not follow.done():
                await asyncio.wait({follow}, timeout=pollers.HEARTBEAT_SECONDS)
                if not follow.done():
                    await asyncio.to_thread(pollers.touch, holder)
            await follow
        finally:
            follow.cancel()
            await asyncio.to_thread(pollers.release, holder)

    async def _follow(self):
        """While this tab shows the dashboard: recompute when the change marker moves.

        Each tick costs one indexed query; the tab's state (and the session) are read only when the marker moved,
        or every ``CHECK_SECONDS`` to notice that the tab left the page or the session ended."""
        async with self:
            mine = self._poll
            token = request_token()
            client = self.router.session.client_token
            last, org = self._marker, self._organisation_id
        checked = time.monotonic()
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if runtime.tab_connected(client) is not True:  # gone, or cannot be told: stop
                return
            try:
                marker = await asyncio.to_thread(dashboards.change_marker_for, org) if org else None
            except Exception:  # noqa: BLE001 - retried at the next tick
                log.exception("dashboard change marker failed")
                continue
            if marker == last and time.monotonic() - checked < CHECK_SECONDS:
                continue
            checked = time.monotonic()
            async with self:
                path = "/" + (self.router.url.path or "").strip("/")
                if self._poll != mine or path != ROUTE:
                    return
                data, target, last, org = self._filter_data(), self.target, self._marker, self._organisation_id
                sigs = dict(self._sigs)
            try:
                actor = await asyncio.to_thread(auth.resolve, token, False) if token else None
            except PermissionDenied:  # must change their password first
                actor = None
            if actor is None or not actor.can(Perm.DASHBOARDS_VIEW) or actor.organisation_id != org:
                async with self:
                    if self._poll == mine:
                        self.live = False
                return
            if marker == last:
                continue
            try:
                marker = await asyncio.to_thread(dashboards.change_marker, actor)
                result = await asyncio.to_thread(compute, actor, dashboards.parse_filters(data), _target(target),
                                                 sigs, marker)
            except Exception:  # noqa: BLE001 - a failed refresh is retried at the next tick
                log.exception("dashboard refresh failed")
                continue
            async with self:
                if self._poll != mine:
                    return
                self._marker = last = marker
                self._apply(result)

    @rx.event
    async def resume(self):
        await require(self, Perm.DASHBOARDS_VIEW)
        self.notice = "" if self.notice == pollers.TOO_MANY else self.notice
        self._poll += 1
        self.live = True
        return DashboardState.poll

    @rx.event
    async def open_point(self, chart: str, points: list):
        """A click on a chart: a control-chart point opens its case; a bar lists the cases behind it."""
        actor = await require(self, Perm.DASHBOARDS_VIEW)
        actor.require(Perm.CASES_VIEW)
        if chart not in CHARTS or not isinstance(points, list) or not points or not isinstance(points[0], dict):
            return
        point = points[0]
        try:
            curve = int(point.get("curveNumber"))
            index = int(point.get("pointIndex", point.get("pointNumber")))
        except (TypeError, ValueError):
            return
        traces = self._click.get(chart, [])
        if not (0 <= curve < len(traces)) or not (0 <= index < len(traces[curve])):
            return
        key = traces[curve][index]
        if key is None:
            return
        if chart == "capability":
            return rx.redirect(f"/casework/case/{int(key)}")
        kind, _, rest = str(key).partition("|")
        bar, _, period = rest.partition("|")
        f = dashboards.parse_filters(self._filter_data())
        rows = await asyncio.to_thread(dashboards.cases_behind, actor, f, kind, bar or None, period or None)
        label = str(point.get("x") or "")
        titles = {"demand_type": "Cases with demands of this type", "value": "Cases with value demand",
                  "failure": "Cases with failure demand", "not_one_stop": "Cases with demands not resolved at first "
                  "contact", "condition": "Cases where this system condition was recorded"}
        self.behind_title = f"{titles[kind]}{' · ' + label if label else ''}"
        self.behind = [{"id": str(r.case_id), "ref": case_ref(r.case_id), "title": r.title, "detail": r.detail}
                       for r in rows]
        return rx.scroll_to("behind")

    @rx.event
    async def add_change_point(self, form: dict):
        actor = await require(self, Perm.DASHBOARDS_VIEW)
        try:
            await asyncio.to_thread(dashboards.add_change_point, actor, str(form.get("changed_at", ""))[:20],
                                    str(form.get("note", ""))[:300], self.module_id or None)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.error, self.notice = "", "Limits recalculated from the change."
        await self._recompute(actor)

    @rx.event
    async def remove_change_point(self, change_point_id: str):
        actor = await require(self, Perm.DASHBOARDS_VIEW)
        try:
            await asyncio.to_thread(dashboards.remove_change_point, actor, str(change_point_id)[:12])
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.error, self.notice = "", "Change point removed."
        await self._recompute(actor)


# --- the page ------------------------------------------------------------------------------------------------------

S = DashboardState


def kpi(label: str, key: str, detail: str | None = None) -> rx.Component:
    return rx.box(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(S.kpis[key], size="6", weight="bold", id=f"kpi-{key.replace('_', '-')}"),
        rx.text(S.kpis[detail], size="1", color_scheme="gray") if detail else rx.fragment(),
        style={"border": "1px solid var(--gray-5)", "border-radius": "var(--radius-3)", "padding": "0.6em 0.8em",
               "min-width": "9.5em", "flex": "1 1 9.5em"},
    )


def kpi_row(*items: rx.Component, label: str) -> rx.Component:
    return rx.el.div(*items, role="group", aria_label=label,
                     style={"display": "flex", "flex-wrap": "wrap", "gap": "0.6em", "width": "100%"})


def chart(fig: rx.Var, chart_id: str, label: str, name: str | None = None, height: int = charts.HEIGHT,
          first: bool = False) -> rx.Component:
    """A chart in a box that keeps its height. Only the ``first`` charts (those at the top of the page) are drawn
    with the page; each of the others is drawn when it comes near the viewport, so the page is usable at once."""
    props: dict[str, Any] = {}
    if name:
        props["on_click"] = lambda points: S.open_point(name, points)
    plot = rx.plotly.basic(data=fig, config={"displaylogo": False, "responsive": True}, style={"width": "100%"},
                           **props)
    return rx.box(
        plot if first else when_visible(plot, min_height=f"{height}px", width="100%"),
        id=chart_id, role="img", aria_label=label, width="100%", min_height=f"{height}px",
    )


def _filters() -> rx.Component:
    def date_input(label: str, name: str, value: rx.Var) -> rx.Component:
        return rx.vstack(rx.el.label(label, html_for=f"dash-{name}", font_weight="500", font_size="0.95em"),
                         rx.input(id=f"dash-{name}", name=name, type="date", default_value=value, required=True),
                         spacing="1")

    return rx.form(
        rx.el.div(
            date_input("From", "start", S.start),
            date_input("To", "end", S.end),
            lookup_select("Period", "grain", GRAIN_OPTIONS, input_id="dash-grain", placeholder="Week",
                          default_value=S.grain),
            lookup_select("Module", "module_id", S.modules, input_id="dash-module", placeholder="All modules",
                          default_value=S.module_id),
            lookup_select("Team", "team_id", S.teams, input_id="dash-team", placeholder="All teams",
                          default_value=S.team_id),
            lookup_select("Demand type (capability)", "demand_type_id", S.demand_types, input_id="dash-type",
                          placeholder="All types", default_value=S.demand_type_id),
            rx.vstack(rx.el.label("Target (days)", html_for="dash-target", font_weight="500", font_size="0.95em"),
                      rx.input(id="dash-target", name="target", default_value=S.target, input_mode="decimal"),
                      spacing="1"),
            rx.button("Show", type="submit", id="dash-apply", align_self="end"),
            style={"display": "grid", "grid-template-columns": "repeat(auto-fit, minmax(10em, 1fr))", "gap": "0.75em",
                   "align-items": "end", "width": "100%"},
        ),
        on_submit=S.apply_filters,
        width="100%",
    )


def _live_status() -> rx.Component:
    return rx.hstack(
        rx.cond(S.live,
                rx.badge("Live", color_scheme="green", variant="soft"),
                rx.hstack(rx.badge("Paused", color_scheme="gray", variant="soft"),
                          rx.button("Resume live updates", size="1", variant="soft", on_click=S.resume,
                                    id="dash-resume"))),
        rx.text("Updated ", rx.el.span(S.updated, id="dash-updated"), size="2", color_scheme="gray"),
        rx.el.span(S.refreshes, id="dash-refreshes", class_name="sr-only"),
        role="status", aria_live="polite", id="dash-live", spacing="2", align="center",
    )


def _case_link(row: rx.Var) -> rx.Component:
    return rx.link(row["ref"], href="/casework/case/" + row["id"])


@staff_page(ROUTE, "Strategic measures", on_load=S.load)
def dashboards_page() -> rx.Component:
    return rx.cond(S.loaded, _content(), rx.text("Loading the measures…", role="status"))


def _content() -> rx.Component:
    return rx.vstack(
        _live_status(),
        _filters(),
        form_error(S.error),
        form_notice(S.notice),
        section(
            "Capability: end-to-end time",
            rx.text("Each demand whose need was met in the range, in order of completion, from the customer's "
                    "point of view: received to need met. Limits are the mean ± 2.66 × the average moving range. "
                    "Diamonds mark special causes; click a point to open its case.", size="2", color_scheme="gray"),
            kpi_row(kpi("Demands on the chart", "cap_points"), kpi("Mean", "cap_mean"),
                    kpi("Process limits", "cap_limits"), kpi("Special-cause points", "signals"),
                    label="Capability figures"),
            rx.cond(S.truncated != "", rx.text(S.truncated, size="2")),
            chart(S.capability_fig, "chart-capability", "Control chart of end-to-end days; the special-cause "
                  "points and every plotted demand are listed in the tables below", "capability",
                  height=charts.CAPABILITY_HEIGHT, first=True),
            chart(S.mr_fig, "chart-moving-range", "Moving-range chart with its upper range limit",
                  height=charts.RANGE_HEIGHT, first=True),
            rx.heading("Special-cause points", size="3", as_="h3"),
            data_table(["#", "Case", "Days", "Need met", "Rule"], S.signals,
                       lambda r: [r["n"], _case_link(r), r["days"], r["met"], r["rules"]],
                       caption="Special-cause points", row_id=lambda r: "signal-" + r["n"],
                       empty="No special causes: the process is stable."),
            rx.el.details(
                rx.el.summary("The latest demands on the chart, as a table", id="cap-table-toggle",
                              style={"cursor": "pointer", "font-weight": "600"}),
                data_table(["#", "Case", "Days", "Need met", "Signals"], S.cap_rows,
                           lambda r: [r["n"], _case_link(r), r["days"], r["met"], r["rules"]],
                           caption="Demands on the control chart", row_id=lambda r: "cap-row-" + r["n"],
                           empty="No demand had its need met in this range."),
            ),
            rx.el.details(
                rx.el.summary("The system was changed: recalculate the limits", id="change-toggle",
                              style={"cursor": "pointer", "font-weight": "600"}),
                rx.form(rx.hstack(
                    rx.vstack(rx.el.label("Changed on", html_for="change-at"),
                              rx.input(id="change-at", name="changed_at", type="date", required=True), spacing="1"),
                    rx.vstack(rx.el.label("What changed", html_for="change-note"),
                              rx.input(id="change-note", name="note", max_length=300), spacing="1"),
                    rx.button("Recalculate from here", type="submit", id="change-add"),
                    wrap="wrap", align="end", spacing="2"), on_submit=S.add_change_point, reset_on_submit=True),
                data_table(["From", "What changed", "Applies to", ""], S.change_points,
                           lambda c: [c["at"], c["note"], c["scope"],
                                      rx.button("Remove", size="1", variant="soft", color_scheme="red",
                                                on_click=S.remove_change_point(c["id"]),
                                                aria_label="Remove the change point of " + c["at"])],
                           caption="Change points", empty="No change points: one set of limits."),
            ),
            section_id="capability",
        ),
        section(
            "Demand",
            kpi_row(kpi("Demands received", "demands"), kpi("Failure demand", "failure", "failure_detail"),
                    kpi("One-stop", "one_stop"), label="Demand figures"),
            rx.text("Click a bar to list the cases behind it.", size="2", color_scheme="gray"),
            rx.heading("Volume by demand type", size="3", as_="h3"),
            chart(S.volume_fig, "chart-volume", "Demands received by type and period", "volume"),
            rx.heading("Value and failure demand", size="3", as_="h3"),
            chart(S.value_failure_fig, "chart-value-failure", "Value and failure demand by period",
                  "value_failure"),
            data_table(["Failure demand type", "Demands", "Share of failure"], S.top_failure,
                       lambda t: [t["name"], t["count"], t["pct"]], caption="Top failure-demand types",
                       empty="No failure demand in this range."),
            rx.heading("One-stop: resolved at first contact", size="3", as_="h3"),
            chart(S.one_stop_fig, "chart-one-stop", "Percentage of demands resolved at first contact by period",
                  "one_stop"),
            section_id="demand",
        ),
        rx.cond(S.behind_title != "", section(
            "Cases behind the chart",
            rx.text(S.behind_title, weight="bold", id="behind-what"),
            data_table(["Case", "Title", ""], S.behind, lambda r: [_case_link(r), r["title"], r["detail"]],
                       caption="Cases behind the chosen bar", row_id=lambda r: "behind-" + r["id"],
                       empty="No cases."),
            section_id="behind",
        )),
        section(
            "System conditions",
            rx.text("What got in the way, as a Pareto: the vital few first.", size="2", color_scheme="gray"),
            rx.el.div(
                chart(S.conditions_count_fig, "chart-conditions-count", "System conditions by times recorded",
                      "conditions_count"),
                chart(S.conditions_minutes_fig, "chart-conditions-minutes", "System conditions by minutes lost",
                      "conditions_minutes"),
                style={"display": "grid", "grid-template-columns": "repeat(auto-fit, minmax(20em, 1fr))",
                       "gap": "0.75em", "width": "100%"},
            ),
            data_table(["Category", "Times recorded", "Minutes lost"], S.conditions,
                       lambda r: [r["name"], r["count"], r["minutes"]], caption="System conditions",
                       empty="No system conditions recorded in this range."),
            section_id="conditions",
        ),
        section(
            "Bookings and payments",
            kpi_row(kpi("Bookings made", "bookings"), kpi("Online share", "online_share"), kpi("Paid", "paid"),
                    kpi("Awaiting payment", "awaiting"), kpi("Overdue", "overdue"),
                    kpi("Outstanding", "outstanding"), label="Booking and payment figures"),
            kpi_row(kpi("Attended", "attendance", "outcomes"), kpi("Did not attend", "dna"),
                    kpi("Income", "income"), kpi("Near critical date, no booking", "near_critical"),
                    label="Attendance, income and offers near their critical date"),
            rx.heading("Bookings by channel", size="3", as_="h3"),
            chart(S.channel_fig, "chart-channel", "Bookings made online and by telephone, with the online share"),
            rx.heading("Fill rate by course and venue", size="3", as_="h3"),
            chart(S.fill_fig, "chart-fill", "Seats taken as a percentage of capacity by course and venue", height=200),
            data_table(["Course", "Venue", "Sessions", "Seats taken", "Fill"], S.fill_rows,
                       lambda r: [r["course"], r["venue"], r["sessions"], r["seats"], r["pct"]],
                       caption="Fill rate by course and venue", empty="No sessions in this range."),
            rx.heading("Income", size="3", as_="h3"),
            chart(S.income_fig, "chart-income", "Income received by period"),
            rx.heading("Clients approaching their critical date without a booking", size="3", as_="h3"),
            data_table(["Client", "Offer", "Critical date"], S.near_rows,
                       lambda r: [rx.link(r["name"], href="/bookings/client/" + r["client_id"]),
                                  r["reference"], r["critical_date"]],
                       caption="Clients near their critical date without a booking",
                       empty="None in the next 14 days."),
            section_id="bookings",
        ),
        spacing="4",
        width="100%",
        align_items="stretch",
    )
