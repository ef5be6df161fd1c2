"""The queue of open reports: filters (category, area, team, officer, status, overdue against the promise), sort by
age or time left, a page at a time, and bulk assign to a team or an officer."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import reflex as rx

from atlas_app.timeutil import utcnow
from atlas_app.services.modules.environmental_ticketing import queue as q
from atlas_app.services.modules.environmental_ticketing import staff as staff
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import status_badge
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.kit import checkbox_field, section, select_field
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

MODULE = "environmental_ticketing"
register_nav("Environmental services", NavItem("Report queue", "/environmental/queue", "list-todo", Perm.CASES_VIEW,
                                               module_type=MODULE))

STATUS_COLOURS = {"Received": "blue", "With the team": "purple", "In progress": "amber", "Fixed": "green",
                  "Closed": "gray"}
MAX_BULK = 200


def span_text(delta: timedelta) -> str:
    """'3 days', '5 hours', 'under an hour'."""
    seconds = abs(delta.total_seconds())
    if seconds >= 86400:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds >= 3600:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return "under an hour"


def time_left(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "No promise"
    if due < now:
        return "Overdue by " + span_text(now - due)
    return span_text(due - now) + " left"


def row_dict(r: q.QueueRow, now: datetime) -> dict[str, str]:
    return {"id": str(r.id), "ref": r.reference, "category": r.category, "status": r.status_label,
            "location": r.location or "—", "age": span_text(now - r.created_at), "received": london(r.created_at),
            "left": time_left(r.due_at, now), "overdue": "yes" if r.overdue else "",
            "team": r.team or "—", "officer": r.officer or "—",
            "repeats": str(r.repeat_count) if r.repeat_count else ""}


def _opts(choices) -> list[dict[str, str]]:
    return [{"value": str(c.id), "label": c.name} for c in choices]


@private
class QueueState(rx.State):
    rows: list[dict[str, str]] = []
    total: int = 0
    count_text: str = ""
    page: int = 1
    pages: int = 1
    categories: list[dict[str, str]] = []
    teams: list[dict[str, str]] = []
    officers: list[dict[str, str]] = []
    statuses: list[dict[str, str]] = []
    filters: dict[str, str] = {}
    selected: list[str] = []
    error: str = ""
    notice: str = ""
    can_manage: bool = False

    async def _refresh(self, actor) -> None:
        try:
            f = q.QueueFilter.parse({**self.filters, "page": self.page})
        except AtlasError as exc:
            self.error = str(exc)
            return
        result = await asyncio.to_thread(q.queue, actor, f)
        now = utcnow()
        self.rows = [row_dict(r, now) for r in result.rows]
        self.total, self.page, self.pages = result.total, result.page, result.pages
        self.count_text = (f"More than {result.total:,} open reports match" if result.more
                           else f"{result.total:,} open report{'s' if result.total != 1 else ''} match")
        visible = {r["id"] for r in self.rows}
        self.selected = [i for i in self.selected if i in visible]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.error = self.notice = ""
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        try:
            c = await asyncio.to_thread(q.choices, actor)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.categories, self.teams, self.officers = _opts(c.categories), _opts(c.teams), _opts(c.officers)
        self.statuses = [{"value": v, "label": lab} for v, lab in c.statuses]
        params = self.router.page.params
        if params.get("category"):
            self.filters = {"category_id": str(params.get("category"))[:12]}
        await self._refresh(actor)

    @rx.event
    async def apply(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        keep = ("category_id", "team_id", "officer_id", "status", "area", "overdue", "unassigned", "sort")
        self.filters = {k: str(form.get(k, "") or "")[:20] for k in keep}
        self.page = 1
        self.error = self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def go_page(self, step: int):
        actor = await require(self, Perm.CASES_VIEW)
        try:
            step = int(step)
        except (TypeError, ValueError):
            return
        self.page = max(1, min(self.pages, self.page + (1 if step > 0 else -1)))
        await self._refresh(actor)

    @rx.event
    def toggle(self, report_id: str, checked: bool):
        report_id = str(report_id)[:12]
        if checked and report_id not in self.selected and len(self.selected) < MAX_BULK:
            self.selected = [*self.selected, report_id]
        elif not checked:
            self.selected = [i for i in self.selected if i != report_id]

    @rx.event
    async def bulk_assign(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        self.error = self.notice = ""
        if not self.selected:
            self.error = "Tick the reports to assign first."
            return
        team = str(form.get("bulk_team_id", "") or "") or None
        officer = str(form.get("bulk_officer_id", "") or "") or None
        try:
            n = await asyncio.to_thread(staff.bulk_assign, actor, list(self.selected), team_id=team,
                                        officer_id=officer)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = f"{n} report{'s' if n != 1 else ''} assigned."
        self.selected = []
        await self._refresh(actor)


def _left(r: rx.Var) -> rx.Component:
    return rx.cond(r["overdue"] == "yes",
                   rx.text(r["left"], color_scheme="red", weight="bold", as_="span"),
                   rx.text(r["left"], as_="span"))


def _tick(r: rx.Var) -> rx.Component:
    return rx.el.input(type="checkbox", id="pick-" + r["id"], aria_label="Select " + r["ref"],
                       checked=QueueState.selected.contains(r["id"]),
                       on_change=lambda v: QueueState.toggle(r["id"], v),
                       style={"width": "1.25em", "height": "1.25em"})


def _filters() -> rx.Component:
    S = QueueState
    return rx.form(
        rx.grid(
            select_field("Category", "category_id", S.categories, input_id="f-category", blank="All categories",
                         default_value=S.filters.get("category_id", "")),
            select_field("Status", "status", S.statuses, input_id="f-status", blank="Every open status"),
            select_field("Team", "team_id", S.teams, input_id="f-team", blank="Any team"),
            select_field("Officer", "officer_id", S.officers, input_id="f-officer", blank="Any officer"),
            rx.vstack(rx.el.label("Area (postcode district or sector)", html_for="f-area"),
                      rx.input(id="f-area", name="area", placeholder="TS24", max_length=8),
                      spacing="1", width="100%"),
            select_field("Sort by", "sort", [("age", "Age (oldest first)"), ("time_left", "Time left (soonest due; categories with a promise)")],
                         input_id="f-sort"),
            columns=rx.breakpoints(initial="1", sm="2", md="3"), spacing="3", width="100%",
        ),
        rx.hstack(checkbox_field("Overdue against the category's promise", "overdue", input_id="f-overdue",
                                 value="1"),
                  checkbox_field("Not assigned", "unassigned", input_id="f-unassigned", value="1"),
                  spacing="4", wrap="wrap"),
        rx.button("Apply filters", type="submit", id="queue-apply"),
        on_submit=S.apply, width="100%",
    )


def _bulk() -> rx.Component:
    S = QueueState
    return rx.form(
        rx.hstack(
            select_field("Assign to team", "bulk_team_id", S.teams, input_id="bulk-team", blank="Keep the team"),
            select_field("Assign to officer", "bulk_officer_id", S.officers, input_id="bulk-officer",
                         blank="Keep the officer"),
            rx.button("Assign " + S.selected.length().to_string() + " selected", type="submit", id="bulk-assign"),
            spacing="3", align="end", wrap="wrap", width="100%",
        ),
        on_submit=S.bulk_assign, width="100%",
    )


@staff_page("/environmental/queue", "Report queue", on_load=QueueState.load)
def queue_page() -> rx.Component:
    S = QueueState
    return rx.vstack(
        section("Filter the queue", _filters(), section_id="queue-filters"),
        section(
            "Open reports",
            form_error(S.error),
            form_notice(S.notice),
            rx.text(S.count_text + " · page " + S.page.to_string() + " of " + S.pages.to_string(),
                    id="queue-count", role="status"),
            data_table(
                ["", "Reference", "Category", "Status", "Where", "Age", "Time left", "Team", "Officer"],
                S.rows,
                lambda r: [_tick(r), rx.link(r["ref"], href="/environmental/report/" + r["ref"]), r["category"],
                           status_badge(r["status"], STATUS_COLOURS), r["location"], r["age"], _left(r),
                           r["team"], r["officer"]],
                caption="Open reports", row_id=lambda r: "queue-row-" + r["ref"],
                empty="No open reports match these filters."),
            rx.hstack(
                rx.button("Previous page", on_click=S.go_page(-1), disabled=S.page <= 1, variant="soft",
                          id="queue-prev"),
                rx.button("Next page", on_click=S.go_page(1), disabled=S.page >= S.pages, variant="soft",
                          id="queue-next"),
                spacing="3"),
            rx.cond(S.can_manage, _bulk()),
            section_id="queue",
        ),
        spacing="4", width="100%",
    )
