"""The compliance view: the share of homes with every required check in date (the Tenant Satisfaction Measure for
gas safety), homes overdue and days overdue, no-access cases, remedial work, and the XmR capability chart of days
from each check's due date to its certificate, with its special causes listed in words."""

from __future__ import annotations

import asyncio

import plotly.graph_objects as go
import reflex as rx

from atlas_app.services.modules.utilities_servicing import compliance as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components import dashboard_charts as charts
from atlas_app.ui.components.forms import form_error
from atlas_app.ui.components.kit import section
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require
from atlas_app.ui.staff.modules.utilities_servicing.programme import MODULE, SECTION

register_nav(SECTION, NavItem("Compliance", "/utilities/compliance", "shield-check", Perm.CASES_VIEW,
                              module_type=MODULE))

REGIMES = [("", "All checks"), ("Gas safety check", "Gas safety checks"),
           ("Electrical installation condition report", "Electrical installation condition reports")]


@private
class ComplianceState(rx.State):
    figures: list[dict[str, str]] = []
    regime: str = ""
    chart_fig: go.Figure = charts.figure()
    has_chart: bool = False
    signals: list[dict[str, str]] = []
    error: str = ""

    async def _refresh(self) -> None:
        actor = await require(self, Perm.CASES_VIEW)
        try:
            c = await asyncio.to_thread(service.compliance, actor, self.regime)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self.figures = [
            {"id": "share", "label": "Homes with every required check in date", "value": f"{c.share_in_date:g}%",
             "detail": f"{c.in_date:,} of {c.homes:,} homes"},
            {"id": "overdue", "label": "Homes overdue", "value": f"{c.overdue:,}",
             "detail": f"{c.uncertified:,} with no certificate on record"},
            {"id": "days", "label": "Days overdue", "value": f"{c.days_overdue_total:,}",
             "detail": f"mean {c.days_overdue_mean:g}, longest {c.days_overdue_max:,}"},
            {"id": "no-access", "label": "Homes with no access", "value": f"{c.no_access:,}",
             "detail": f"{c.legal_stage:,} at the legal-access stage"},
            {"id": "remedial", "label": "Open remedial tasks", "value": f"{c.remedial_open:,}",
             "detail": f"{c.remedial_late:,} past their target time"},
        ]
        if c.chart is not None:
            hover = [f"Check #{p.check_id} on {p.checked_on:%d %b %Y}: {p.days:+d} days from due {p.due_on:%d %b %Y}"
                     for p in c.points]
            self.chart_fig, self.signals = charts.xmr_chart(c.chart, hover, "Days from due date to certificate",
                                                            "Checks in the order they were done", "Days")
            self.has_chart = True
        else:
            self.chart_fig, self.signals, self.has_chart = charts.figure(), [], False

    @rx.event
    async def load(self):
        await self._refresh()

    @rx.event
    async def set_regime(self, value: str):
        self.regime = value if value in dict(REGIMES) else ""
        await self._refresh()


def _figure(f: rx.Var) -> rx.Component:
    return rx.card(rx.vstack(
        rx.text(f["label"], size="2", weight="medium"),
        rx.text(f["value"], size="7", weight="bold", id="figure-" + f["id"]),
        rx.text(f["detail"], size="2", color_scheme="gray"),
        spacing="1"), min_width="14em", flex="1")


@staff_page("/utilities/compliance", "Servicing compliance", on_load=ComplianceState.load)
def compliance_page() -> rx.Component:
    S = ComplianceState
    return rx.vstack(
        form_error(S.error),
        rx.el.div(rx.foreach(S.figures, _figure), role="group", aria_label="Compliance figures",
                  style={"display": "flex", "flex-wrap": "wrap", "gap": "0.6em", "width": "100%"}),
        section(
            "Days from due date to certificate",
            rx.vstack(
                rx.el.label("Checks", html_for="compliance-regime", font_weight="500"),
                rx.el.select(*[rx.el.option(label, value=value) for value, label in REGIMES], id="compliance-regime",
                             value=S.regime, on_change=S.set_regime),
                spacing="1",
            ),
            rx.text("Each point is one check: negative values were done before the due date, positive ones late. "
                    "Points outside the process limits or in runs are special causes, drawn as diamonds and listed "
                    "below.", size="2"),
            rx.cond(S.has_chart, rx.box(
                rx.plotly.basic(data=S.chart_fig, config={"displaylogo": False, "responsive": True},
                                style={"width": "100%"}),
                id="chart-due-to-certificate", role="figure",
                aria_label="Control chart of days from due date to certificate; special causes are listed below.",
                width="100%"), rx.text("No checks with a due date recorded yet.")),
            data_table(["Point", "Days", "Check", "Rules"], S.signals,
                       lambda r: [r["n"], r["value"], r["what"], r["rules"]], caption="Special causes",
                       empty="No special causes: the process is stable."),
            section_id="capability",
        ),
        spacing="4", width="100%", align_items="stretch",
    )
