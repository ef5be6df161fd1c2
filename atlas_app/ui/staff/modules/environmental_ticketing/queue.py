"""The queue of open reports: filters (category, area, team, officer, status, overdue against the promise), sort by
age or time left, a page at a time, bulk assign to a team or an officer, and a map of the same filter (when the
organisation has map tiles) that is sent only the reports inside its visible box."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import reflex as rx

from atlas_app.timeutil import utcnow
from atlas_app.services.modules.environmental_ticketing import queue as q
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.modules.environmental_ticketing import staff as staff
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import status_badge
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.kit import checkbox_field, section, select_field
from atlas_app.ui.components.map import report_map
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
    map_on: bool = False
    map_tile_url: str = ""
    map_attribution: str = ""
    map_area: list[float] = []
    markers: list[dict[str, str | float | bool]] = []
    map_note: str = ""
    _box: list[float] = []

    async def _refresh_map(self, actor) -> None:
        if not self.map_on or len(self._box) != 4:
            return
        try:
            f = q.QueueFilter.parse(self.filters)
            found = await asyncio.to_thread(q.map_points, actor, f, self._box)
        except AtlasError as exc:
            self.markers, self.map_note = [], str(exc)
            return
        self.markers = [{"lat": p.latitude, "lng": p.longitude, "status": status_code(p.status_label),
                         "text": f"{p.reference}: {p.category} ({p.status_label}{', overdue' if p.overdue else ''})",
                         "overdue": p.overdue, "href": "/environmental/report/" + p.reference}
                        for p in found.points]
        n = len(found.points)
        self.map_note = (f"The map shows the oldest {n:,} reports in view; zoom in to see the rest." if found.more
                         else f"{n:,} report{'s' if n != 1 else ''} of this filter in view on the map.")

    @rx.event
    async def map_view(self, box: dict):
        """The map moved: the reports of the filter inside its visible box."""
        actor = await require(self, Perm.CASES_VIEW)
        try:
            self._box = [float(box[k]) for k in ("west", "south", "east", "north")]
        except (KeyError, TypeError, ValueError):
            return
        await self._refresh_map(actor)

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
        found = await asyncio.to_thread(reports.public_map, actor.require_org())
        self.map_on = found is not None
        self.map_tile_url = found.tile_url if found else ""
        self.map_attribution = found.attribution if found else ""
        self.map_area = list(found.area) if found and found.area else []
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
        await self._refresh_map(actor)

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


def status_code(label: str) -> str:
    for value, text in q.QueueChoices([], [], []).statuses:
        if text == label:
            return value
    return ""


def _map() -> rx.Component:
    S = QueueState
    return section(
        "Map of this filter",
        rx.text("Hover over or tap a marker for its report; the table above lists the same reports.", size="2"),
        report_map(tile_url=S.map_tile_url, attribution=S.map_attribution, area=S.map_area, markers=S.markers,
                   pickable=False, label="Map of the open reports of this filter", height=420,
                   on_view=S.map_view),
        rx.text(S.map_note, id="queue-map-note", role="status", size="2"),
        section_id="queue-map",
    )


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
        rx.cond(S.map_on, _map()),
        spacing="4", width="100%",
    )
