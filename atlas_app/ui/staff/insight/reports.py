"""/reports: the reports suite. Choose a report and its filters; see a chart and the first rows, and download the
whole report as CSV or XLSX (streamed by ``/api/reports/<report>.<csv|xlsx>``, which checks the session cookie and
the permission again and scopes to the organisation). Links lead to the payments reports and, when that area is
installed, the instructor workload report.
"""

from __future__ import annotations

import asyncio
from itertools import islice
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
import reflex as rx

from atlas_app.services.insight import reports
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.kit import select_field
from atlas_app.ui.components.forms import form_error
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.session import private, require

register_nav("Letters and reports", NavItem("Reports", "/reports", "chart_column", Perm.REPORTS_VIEW))

PAGE_ROWS = 300
FILTER_KEYS = ("date_from", "date_to", "course_type_id", "venue_id", "region_id", "channel", "period", "view")
CHANNEL_OPTIONS = [("online", "Online"), ("telephone", "Telephone"), ("api", "API")]
PERIOD_OPTIONS = [("week", "Week"), ("month", "Month"), ("day", "Day")]
VIEW_OPTIONS = [("type_outcome", "By type and outcome"), ("hour", "By hour of the day"),
                ("weekday", "By day of the week")]
INPUT_STYLE = {"padding": "0.5em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
               "min-height": "2.5em", "width": "100%", "font-size": "1em"}
# Which filters each report uses (the others are hidden).
REPORT_FILTERS = {
    "courses": {"course_type_id", "venue_id", "region_id"},
    "venues": {"course_type_id", "venue_id", "region_id"},
    "pre_attendance": {"course_type_id", "venue_id"},
    "channels": {"course_type_id", "channel", "period"},
    "calls": {"view"},
}


def other_reports() -> list[tuple[str, str]]:
    """Reports that live with their own areas, listed in the suite's menu."""
    return [("Payments: reconciliation, refunds and payments needing attention", "/bookings/payments"),
            ("Instructor workload: sessions and hours per instructor, by role", "/instructors/workload")]


@private
class ReportsState(rx.State):
    report: str = "courses"
    filters: dict[str, str] = {}
    columns: list[str] = []
    rows: list[list[str]] = []
    row_note: str = ""
    chart_title: str = ""
    error: str = ""
    course_types: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    regions: list[dict[str, str]] = []
    links: list[dict[str, str]] = []
    _chart: list[dict[str, Any]] = []

    @rx.var
    def figure(self) -> go.Figure:
        fig = go.Figure()
        for trace in self._chart:
            fig.add_trace(go.Bar(x=trace.get("x", []), y=trace.get("y", []), name=trace.get("name", "")))
        fig.update_layout(barmode="group", margin={"l": 40, "r": 10, "t": 10, "b": 80}, height=340,
                          autosize=True, legend={"orientation": "h"})
        return fig

    @rx.var
    def has_chart(self) -> bool:
        return bool(self._chart)

    @rx.var
    def query(self) -> str:
        return urlencode({k: v for k, v in self.filters.items() if v})

    @rx.var
    def uses(self) -> list[str]:
        return sorted(REPORT_FILTERS.get(self.report, set()))

    async def _run(self, actor) -> None:
        self.error = ""
        try:
            report = await asyncio.to_thread(reports.run, actor, self.report, dict(self.filters))
            rows = await asyncio.to_thread(lambda: list(islice(report.rows, PAGE_ROWS + 1)))
        except AtlasError as exc:
            self.error = str(exc)
            self.columns, self.rows, self._chart, self.chart_title, self.row_note = [], [], [], "", ""
            return
        self.columns = list(report.columns)
        self.rows = [["" if c is None else str(c) for c in r] for r in rows[:PAGE_ROWS]]
        self.row_note = (f"The first {PAGE_ROWS} rows are shown; download the report for all of them."
                         if len(rows) > PAGE_ROWS else f"{len(rows)} row{'s' if len(rows) != 1 else ''}.")
        self._chart = report.chart
        self.chart_title = report.chart_title

    @rx.event
    async def load(self):
        actor = await require(self, Perm.REPORTS_VIEW)
        key = str(self.router.url.query_parameters.get("report") or self.report)
        self.report = key if key in reports.REPORTS else "courses"
        options = await asyncio.to_thread(reports.filter_options, actor)
        self.course_types = [{"value": v, "label": t} for v, t in options["course_types"]]
        self.venues = [{"value": v, "label": t} for v, t in options["venues"]]
        self.regions = [{"value": v, "label": t} for v, t in options["regions"]]
        self.links = [{"label": label, "href": href} for label, href in other_reports()]
        self._defaults()
        await self._run(actor)

    def _defaults(self) -> None:
        f = reports.parse_filters({}, self.report)
        self.filters = {"date_from": f.date_from.isoformat(), "date_to": f.date_to.isoformat(), "period": "week",
                        "view": "type_outcome"}

    @rx.event
    async def choose(self, key: str):
        actor = await require(self, Perm.REPORTS_VIEW)
        self.report = key if key in reports.REPORTS else "courses"
        self._defaults()
        await self._run(actor)

    @rx.event
    async def apply(self, form: dict[str, Any]):
        actor = await require(self, Perm.REPORTS_VIEW)
        self.filters = {k: str(form.get(k) or "")[:40] for k in FILTER_KEYS if isinstance(form.get(k, ""), str)}
        await self._run(actor)


def _date_input(label: str, name: str) -> rx.Component:
    value = ReportsState.filters[name]
    return rx.vstack(rx.el.label(label, html_for=f"report-{name}", font_weight="500"),
                     rx.el.input(type="date", id=f"report-{name}", name=name, default_value=value, key=value,
                                 style=INPUT_STYLE),
                     spacing="1", width="100%")


def _when_used(name: str, component: rx.Component) -> rx.Component:
    return rx.cond(ReportsState.uses.contains(name), component)


def _filters() -> rx.Component:
    return rx.form(
        rx.grid(
            _date_input("From", "date_from"),
            _date_input("To", "date_to"),
            _when_used("course_type_id", select_field("Course type", "course_type_id", ReportsState.course_types,
                                                      input_id="report-course", blank="All course types")),
            _when_used("venue_id", select_field("Venue", "venue_id", ReportsState.venues, input_id="report-venue",
                                                blank="All venues")),
            _when_used("region_id", select_field("Region", "region_id", ReportsState.regions,
                                                 input_id="report-region", blank="All regions")),
            _when_used("channel", select_field("Booking channel", "channel", CHANNEL_OPTIONS,
                                               input_id="report-channel", blank="All channels")),
            _when_used("period", select_field("Group by", "period", PERIOD_OPTIONS, input_id="report-period")),
            _when_used("view", select_field("Show calls", "view", VIEW_OPTIONS, input_id="report-view")),
            columns=rx.breakpoints(initial="1", sm="2", md="4"), spacing="3", width="100%",
        ),
        rx.button("Show report", type="submit", id="report-apply", margin_top="0.75em"),
        on_submit=ReportsState.apply,
        key=ReportsState.report,
        width="100%",
    )


# Headers keep to one line; cells wrap between words (a long course or venue name takes two lines rather than
# pushing the figures off to the right at desktop width), never inside one.
CELL_STYLE = {"padding": "0.4em 0.6em", "border-bottom": "1px solid var(--gray-6)", "text-align": "left",
              "font-size": "0.9em", "vertical-align": "top"}
HEADER_STYLE = {**CELL_STYLE, "white-space": "nowrap"}


def _table() -> rx.Component:
    # A plain HTML table inside one focusable scrolling region (keyboard users can scroll it sideways).
    return rx.box(
        rx.el.table(
            rx.el.caption("Report rows", class_name="sr-only"),
            rx.el.thead(rx.el.tr(rx.foreach(ReportsState.columns,
                                            lambda c: rx.el.th(c, scope="col", style=HEADER_STYLE)))),
            rx.el.tbody(rx.foreach(ReportsState.rows,
                                   lambda r: rx.el.tr(rx.foreach(r, lambda c: rx.el.td(c, style=CELL_STYLE))))),
            style={"border-collapse": "collapse", "width": "100%"},
        ),
        rx.cond(ReportsState.rows.length() == 0, rx.text("Nothing in this period.", padding="0.75em")),
        overflow_x="auto", width="100%", tab_index=0, role="region", aria_label="Report table", id="report-table",
        border="1px solid var(--gray-6)", border_radius="var(--radius-3)",
    )


def _downloads() -> rx.Component:
    base = "/api/reports/" + ReportsState.report
    return rx.hstack(
        rx.el.a(rx.icon("download", size=16), " Download CSV", href=base + ".csv?" + ReportsState.query,
                download="", id="download-csv", custom_attrs={"reloadDocument": True}, class_name="rt-Button rt-variant-soft rt-r-size-2",
                style={"display": "inline-flex", "gap": "0.4em", "align-items": "center"}),
        rx.el.a(rx.icon("download", size=16), " Download XLSX", href=base + ".xlsx?" + ReportsState.query,
                download="", id="download-xlsx", custom_attrs={"reloadDocument": True}, class_name="rt-Button rt-variant-soft rt-r-size-2",
                style={"display": "inline-flex", "gap": "0.4em", "align-items": "center"}),
        spacing="3", wrap="wrap",
    )


@staff_page("/reports", "Reports", on_load=ReportsState.load)
def reports_page() -> rx.Component:
    return rx.vstack(
        rx.grid(
            select_field("Report", "report", list(reports.REPORTS.items()), input_id="report-choice",
                         value=ReportsState.report, on_change=ReportsState.choose),
            rx.vstack(
                rx.text("Other reports", weight="medium"),
                rx.el.ul(rx.foreach(ReportsState.links, lambda link: rx.el.li(rx.link(link["label"],
                                                                                       href=link["href"])))),
                spacing="1",
            ),
            columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
        ),
        _filters(),
        form_error(ReportsState.error),
        rx.cond(
            ReportsState.has_chart,
            rx.vstack(
                rx.heading(ReportsState.chart_title, size="3", as_="h2", id="chart-title"),
                rx.box(rx.plotly.basic(data=ReportsState.figure, use_resize_handler=True,
                                       config={"responsive": True, "displaylogo": False, "displayModeBar": False},
                                       style={"width": "100%", "height": "340px"}),
                       role="figure", aria_label=ReportsState.chart_title, width="100%"),
                rx.text("The table below holds the same figures.", size="2", color_scheme="gray"),
                width="100%",
            ),
        ),
        _downloads(),
        rx.text(ReportsState.row_note, size="2", role="status"),
        _table(),
        spacing="4", width="100%",
    )
