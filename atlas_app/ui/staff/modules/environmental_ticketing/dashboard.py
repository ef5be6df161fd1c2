"""The module's dashboard: open reports by category and age, time to close against the category's promise (the
capability XmR chart of the insight dashboards, for the category's demand type), and repeat reports (failure
demand) per category. Every figure is also a table, so nothing is shown by colour or shape alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import plotly.graph_objects as go
import reflex as rx

from atlas_app.services.insight import dashboards
from atlas_app.services.modules.environmental_ticketing import queue as q
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date, utcnow
from atlas_app.ui.components import dashboard_charts as charts
from atlas_app.ui.components.forms import form_error
from atlas_app.ui.components.kit import phone_cards, section, select_field, table_or_cards
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Environmental services", NavItem("Reports dashboard", "/environmental/dashboard", "chart-line",
                                               Perm.CASES_VIEW, module_type="environmental_ticketing"))

PERIOD_DAYS = 90
BAND_KEYS = [f"b{i}" for i in range(len(q.AGE_BANDS))]


def build(actor, category_id: str) -> dict:
    """Everything the page shows (run in a thread)."""
    d = q.dashboard(actor, days=PERIOD_DAYS)
    ages = [{"category": a.category, "total": str(a.total), **{k: str(v) for k, v in zip(BAND_KEYS, a.bands)}}
            for a in d.open_by_age]
    repeats = [{"id": str(c.category_id), "category": c.category, "reports": str(c.reports),
                "repeats": str(c.repeats), "share": f"{(100 * c.repeats / (c.reports + c.repeats)):.0f}%"
                if c.reports + c.repeats else "—", "promise": str(c.promise_days)} for c in d.categories]
    chosen = next((c for c in d.categories if str(c.category_id) == category_id), None) or (
        d.categories[0] if d.categories else None)
    out = {"ages": ages, "repeats": repeats, "category_id": str(chosen.category_id) if chosen else "",
           "fig": charts.figure(), "points": 0, "within": "", "signals": []}
    if chosen is not None and actor.can(Perm.DASHBOARDS_VIEW):
        today = london_date(utcnow())
        f = dashboards.Filters(start=today - timedelta(days=PERIOD_DAYS), end=today, module_id=d.module_id,
                               demand_type_id=chosen.demand_type_id)
        cap = dashboards.capability(actor, f)
        target = float(chosen.promise_days) * 7 / 5 if chosen.promise_days else None  # working days → days
        fig, _mr, _click, signals = charts.capability_charts(cap, target)
        within = sum(1 for p in cap.points if target is not None and p.days <= target)
        out.update(fig=fig, points=len(cap.points), signals=signals,
                   within=f"{within} of {len(cap.points)} closed within the promise" if target and cap.points
                   else "")
    return out


def _age_card(a: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(a["category"] + ": " + a["total"] + " open", weight="bold"),
        rx.text(*[rx.fragment(label + " " + a[k] + ("; " if i < len(BAND_KEYS) - 1 else ""))
                  for i, (k, (_, label)) in enumerate(zip(BAND_KEYS, q.AGE_BANDS))], size="2"),
        spacing="1", width="100%")


@private
class EnvDashboardState(rx.State):
    ages: list[dict[str, str]] = []
    repeats: list[dict[str, str]] = []
    category_id: str = ""
    categories: list[dict[str, str]] = []
    fig: go.Figure = charts.figure()
    points: int = 0
    within: str = ""
    signals: list[dict[str, str]] = []
    can_chart: bool = False
    error: str = ""

    async def _refresh(self, actor) -> None:
        try:
            data = await asyncio.to_thread(build, actor, self.category_id)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.ages, self.repeats, self.category_id = data["ages"], data["repeats"], data["category_id"]
        self.categories = [{"value": r["id"], "label": r["category"]} for r in data["repeats"]]
        self.fig, self.points, self.within, self.signals = data["fig"], data["points"], data["within"], \
            data["signals"]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.error = ""
        self.can_chart = actor.can(Perm.DASHBOARDS_VIEW)
        await self._refresh(actor)

    @rx.event
    async def choose(self, value: str):
        actor = await require(self, Perm.CASES_VIEW)
        self.category_id = str(value)[:12]
        await self._refresh(actor)


@staff_page("/environmental/dashboard", "Reports dashboard", on_load=EnvDashboardState.load)
def env_dashboard_page() -> rx.Component:
    S = EnvDashboardState
    return rx.vstack(
        form_error(S.error),
        section("Open reports by category and age", table_or_cards(data_table(
            ["Category", *[label for _, label in q.AGE_BANDS], "Open"], S.ages,
            lambda a: [a["category"], *[a[k] for k in BAND_KEYS], rx.text(a["total"], weight="bold")],
            caption="Open reports by category and age", empty="No open reports."),
            phone_cards(S.ages, _age_card, label="Open reports by category and age", empty="No open reports.")),
            section_id="env-ages"),
        section(
            "Time to close against the promise",
            rx.cond(S.can_chart, rx.vstack(
                select_field("Category", "category", S.categories, input_id="env-chart-category",
                             value=S.category_id, on_change=S.choose),
                rx.text(f"Days from report to fixed or closed, last {PERIOD_DAYS} days, in order of closing; the "
                        "dotted line is the category's promise (working days as calendar days). ",
                        S.within, size="2", color_scheme="gray", id="env-chart-summary"),
                rx.box(rx.plotly.basic(data=S.fig, config={"displaylogo": False, "responsive": True},
                                       style={"width": "100%"}),
                       role="img", aria_label="XmR chart of the days to close each report of the category",
                       width="100%", id="env-capability"),
                phone_cards(S.signals, lambda r: rx.text("#" + r["n"] + " · " + r["ref"] + " · " + r["days"]
                                                         + " days · closed " + r["met"] + " · " + r["rules"]),
                            label="Special-cause points", empty="No special-cause points."),
                width="100%"),
                rx.text("The chart needs the dashboards permission.", color_scheme="gray")),
            section_id="env-capability-section"),
        section("Repeat reports (failure demand)", table_or_cards(data_table(
            ["Category", f"Reports (last {PERIOD_DAYS} days)", "Repeat reports",
             "Share of contacts that were repeats", "Promise (working days)"], S.repeats,
            lambda r: [r["category"], r["reports"], r["repeats"], r["share"], r["promise"]],
            caption="Repeat reports per category", empty="No categories yet."),
            phone_cards(S.repeats, lambda r: rx.vstack(
                rx.text(r["category"], weight="bold"),
                rx.text(r["reports"] + f" reports in the last {PERIOD_DAYS} days, " + r["repeats"]
                        + " repeat reports (" + r["share"] + "); promise " + r["promise"] + " working days",
                        size="2"), spacing="1"),
                label="Repeat reports per category", empty="No categories yet.")), section_id="env-repeats"),
        spacing="4", width="100%",
    )
