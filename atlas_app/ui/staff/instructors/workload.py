"""An instructor's own schedule, and the instructor workload report (sessions and hours per instructor, by role)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import reflex as rx

from atlas_app.services.instructors import assignments as service
from atlas_app.services.platform import bounds
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date, london_midnight, utcnow
from atlas_app.ui.components.kit import error_text, phone_cards, table_or_cards
from atlas_app.ui.components.forms import field
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Instructors", NavItem("Instructor workload", "/instructors/workload", "chart-bar", Perm.REPORTS_VIEW))
register_nav("You", NavItem("My teaching schedule", "/my-schedule", "calendar-check", Perm.OWN_SCHEDULE_VIEW))


@private
class MyScheduleState(rx.State):
    instructor: str = ""
    rows: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        actor = await require(self, Perm.OWN_SCHEDULE_VIEW)
        today = london_midnight(london_date(utcnow()))
        data = await asyncio.to_thread(service.my_schedule, actor, today, today + timedelta(days=92))
        self.instructor = data["instructor"]
        self.rows = [{**{k: str(v) for k, v in r.items()}, "confirmed": "Confirmation sent" if r["confirmed"]
                      else "Not yet confirmed"} for r in data["rows"]]


@staff_page("/my-schedule", "My teaching schedule", on_load=MyScheduleState.load)
def my_schedule_page() -> rx.Component:
    return rx.vstack(
        rx.cond(MyScheduleState.instructor == "",
                rx.text("Your sign-in is not linked to an instructor record. Ask your administrator to link it.",
                        id="no-instructor"),
                rx.text("Sessions for ", MyScheduleState.instructor, " in the next three months.", id="schedule-for")),
        table_or_cards(
            data_table(
                ["When", "Course", "Venue", "Role", "Vehicle", "Confirmation"],
                MyScheduleState.rows,
                lambda r: [r["when"], r["course"], r["venue"], r["role"], r["vehicle"], r["confirmed"]],
                caption="My teaching schedule",
                row_id=lambda r: "my-session-" + r["session_id"],
                empty="No sessions assigned.",
            ),
            phone_cards(MyScheduleState.rows, lambda r: rx.vstack(
                rx.text(r["when"], weight="bold"), rx.text(r["course"]), rx.text(r["venue"]),
                rx.text(r["role"], " ", r["vehicle"]), rx.text(r["confirmed"], size="2"), spacing="1"),
                label="My teaching schedule", empty="No sessions assigned."),
        ),
        spacing="3",
        width="100%",
        align_items="stretch",
    )


@private
class WorkloadState(rx.State):
    date_from: str = ""
    date_to: str = ""
    rows: list[dict[str, str]] = []
    total: str = ""
    error: str = ""

    async def _refresh(self, actor) -> None:
        try:
            start, end = date.fromisoformat(self.date_from), date.fromisoformat(self.date_to)
            bounds.filter_date(start, "date_from"), bounds.filter_date(end, "date_to")
        except (ValueError, ValidationFailed):
            self.error = "Give the first and last days as dates."
            return
        try:
            if end < start:
                raise ValidationFailed("The last day is before the first.")
            rows = await asyncio.to_thread(service.workload_report, actor, start, end + timedelta(days=1))
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self.rows = [{"id": str(r.instructor_id), "instructor": r.instructor, "role": r.role,
                      "sessions": str(r.sessions), "hours": f"{r.hours:g}"} for r in rows]
        self.total = (f"{sum(r.sessions for r in rows)} sessions, {sum(r.minutes for r in rows) / 60:g} hours "
                      f"from {start:%d %b %Y} to {end:%d %b %Y}.")

    @rx.event
    async def load(self):
        actor = await require(self, Perm.REPORTS_VIEW)
        if not self.date_from:
            today = london_date(utcnow())
            first = today.replace(day=1)
            self.date_from = first.isoformat()
            self.date_to = ((first + timedelta(days=32)).replace(day=1) - timedelta(days=1)).isoformat()
        await self._refresh(actor)

    @rx.event
    async def apply(self, form: dict):
        actor = await require(self, Perm.REPORTS_VIEW)
        self.date_from = str(form.get("date_from") or "")[:10]
        self.date_to = str(form.get("date_to") or "")[:10]
        await self._refresh(actor)


@staff_page("/instructors/workload", "Instructor workload", on_load=WorkloadState.load)
def workload_page() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.hstack(
                field("From", "date_from", type="date", input_id="wl-from", default_value=WorkloadState.date_from),
                field("To", "date_to", type="date", input_id="wl-to", default_value=WorkloadState.date_to),
                rx.button("Show", type="submit", size="3", id="wl-apply"),
                align="end",
                wrap="wrap",
                spacing="3",
            ),
            on_submit=WorkloadState.apply,
            aria_label="Report period",
        ),
        error_text(WorkloadState.error),
        rx.text(WorkloadState.total, id="wl-total"),
        table_or_cards(
            data_table(
                ["Instructor", "Role", "Sessions", "Hours"],
                WorkloadState.rows,
                lambda r: [r["instructor"], r["role"], r["sessions"], r["hours"]],
                caption="Sessions and hours per instructor and role",
                empty="No instructors.",
            ),
            phone_cards(WorkloadState.rows, lambda r: rx.vstack(
                rx.text(r["instructor"], weight="bold"),
                rx.text(r["role"], ": ", r["sessions"], " sessions, ", r["hours"], " hours"), spacing="1"),
                label="Sessions and hours per instructor and role", empty="No instructors."),
        ),
        spacing="3",
        width="100%",
        align_items="stretch",
    )
