"""Instructor records: who they are, what they may deliver, in which roles and vehicles, where and when they work,
their leave, and the organisation's travel buffer between sessions."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

import reflex as rx

from atlas_app.services.booking import catalogue as catalogue_service
from atlas_app.services.instructors import assignments as service
from atlas_app.services.platform import users as users_service
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON
from atlas_app.ui.components.kit import (
    checkbox_field,
    error_text,
    fieldset,
    phone_cards,
    record_form,
    section,
    select_field,
    table_or_cards,
)
from atlas_app.ui.components.forms import field, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Instructors", NavItem("Instructors", "/instructors", "graduation-cap", Perm.INSTRUCTORS_MANAGE))

DAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
ROLES = [("classroom", "Classroom trainer"), ("practical", "Practical instructor")]
VEHICLES = [("manual", "Manual car"), ("automatic", "Automatic car"), ("client_own", "Client's own car")]
BLANK = {"id": "", "full_name": "", "email": "", "phone": "", "home_region_id": "", "user_id": "",
         "max_sessions_per_day": "2", "is_active": "1"}


@private
class InstructorsState(rx.State):
    rows: list[dict[str, str]] = []
    options: list[dict[str, str]] = []
    course_types: list[dict[str, str]] = []
    regions: list[dict[str, str]] = []
    users: list[dict[str, str]] = []
    editing: dict[str, str] = dict(BLANK)
    # Checked boxes of the form being edited, as "kind:value" strings.
    checked: list[str] = ["day:0", "day:1", "day:2", "day:3", "day:4"]
    form_key: int = 0
    error: str = ""
    notice: str = ""
    buffer: str = "0"
    leave_error: str = ""
    leave_notice: str = ""

    async def _refresh(self, actor) -> None:
        people = await asyncio.to_thread(service.list_instructors, actor)
        self._people = {p.id: p for p in people}
        self.rows = [
            {"id": str(p.id), "name": p.full_name, "email": p.email, "courses": ", ".join(p.course_codes) or "None",
             "roles": ", ".join(p.roles), "vehicles": ", ".join(service.VEHICLE_LABELS[v] for v in p.vehicle_types),
             "region": p.home_region or "—", "days": " ".join(n for d, n in DAYS if d in p.working_days),
             "max": str(p.max_sessions_per_day), "login": p.username or "—",
             "status": "Active" if p.is_active else "Inactive"}
            for p in people
        ]
        self.options = [{"value": str(p.id), "label": p.full_name} for p in people]

    _people: dict = {}

    @rx.event
    async def load(self):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        types = await asyncio.to_thread(catalogue_service.list_course_types, actor)
        regions = await asyncio.to_thread(catalogue_service.list_regions, actor)
        users = await asyncio.to_thread(users_service.list_users, actor) if actor.can(Perm.USERS_MANAGE) else []
        self.course_types = [{"value": str(t.id), "label": f"{t.code}: {t.name}"} for t in types]
        self.regions = [{"value": str(r.id), "label": r.name} for r in regions]
        self.users = [{"value": str(u.id), "label": f"{u.full_name} ({u.username})"} for u in users]
        self.buffer = str(await asyncio.to_thread(service.get_travel_buffer_minutes, actor))
        self.error = self.notice = self.leave_error = self.leave_notice = ""
        await self._refresh(actor)

    @rx.event
    async def edit(self, instructor_id: str):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        if not self._people:
            await self._refresh(actor)
        p = self._people.get(int(instructor_id)) if str(instructor_id).isdigit() else None
        if p is None:
            return
        self.editing = {"id": str(p.id), "full_name": p.full_name, "email": p.email, "phone": p.phone,
                        "home_region_id": str(p.home_region_id or ""), "user_id": str(p.user_id or ""),
                        "max_sessions_per_day": str(p.max_sessions_per_day), "is_active": "1" if p.is_active else ""}
        self.checked = ([f"ct:{c}" for c in p.course_type_ids] + [f"role:{r}" for r in p.roles]
                        + [f"vehicle:{v}" for v in p.vehicle_types] + [f"day:{d}" for d in p.working_days])
        self.form_key += 1
        self.error = self.notice = ""

    @rx.event
    async def new(self):
        await require(self, Perm.INSTRUCTORS_MANAGE)
        self.editing = dict(BLANK)
        self.checked = ["day:0", "day:1", "day:2", "day:3", "day:4"]
        self.form_key += 1
        self.error = self.notice = ""

    @rx.event
    async def save(self, form: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        data = {
            "full_name": form.get("full_name"), "email": form.get("email"), "phone": form.get("phone"),
            "home_region_id": form.get("home_region_id"), "user_id": form.get("user_id"),
            "max_sessions_per_day": form.get("max_sessions_per_day"),
            "is_active": bool(form.get("is_active")),
            "course_type_ids": [k[3:] for k, v in form.items() if str(k).startswith("ct_") and v],
            "roles": [k[5:] for k, v in form.items() if str(k).startswith("role_") and v],
            "vehicle_types": [k[8:] for k, v in form.items() if str(k).startswith("vehicle_") and v],
            "working_days": [k[4:] for k, v in form.items() if str(k).startswith("day_") and v],
        }
        if not actor.can(Perm.USERS_MANAGE):
            data["user_id"] = self.editing.get("user_id") or None
        current = int(self.editing["id"]) if self.editing.get("id", "").isdigit() else None
        try:
            await asyncio.to_thread(service.save_instructor, actor, current, data)
        except AtlasError as exc:
            self.error = str(exc)
            self.notice = ""
            return
        self.error = ""
        self.notice = f"{str(data['full_name']).strip()} saved."
        await self._refresh(actor)
        self.editing = dict(BLANK)
        self.checked = ["day:0", "day:1", "day:2", "day:3", "day:4"]
        self.form_key += 1

    @rx.event
    async def save_buffer(self, form: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        try:
            await asyncio.to_thread(service.set_travel_buffer, actor, form.get("travel_buffer_minutes"))
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.buffer = str(form.get("travel_buffer_minutes")).strip()
        self.error = ""
        self.notice = f"Travel buffer set to {self.buffer} minutes."

    @rx.event
    async def add_leave(self, form: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        try:
            iid = int(str(form.get("instructor_id") or "0"))
            first = date.fromisoformat(str(form.get("from") or "")[:10])
            last = date.fromisoformat(str(form.get("to") or "")[:10])
        except ValueError:
            self.leave_error = "Choose the instructor and the first and last days of leave."
            return
        try:
            if last < first:
                raise ValidationFailed("The last day is before the first.")
            await asyncio.to_thread(service.add_leave, actor, iid,
                                    datetime.combine(first, time.min, tzinfo=LONDON),
                                    datetime.combine(last + timedelta(days=1), time.min, tzinfo=LONDON),
                                    str(form.get("reason") or ""))
        except AtlasError as exc:
            self.leave_error = str(exc)
            self.leave_notice = ""
            return
        self.leave_error = ""
        self.leave_notice = f"Leave recorded from {first:%d %b %Y} to {last:%d %b %Y}."


def _checks(prefix: str, kind: str, options, legend: str) -> rx.Component:
    if isinstance(options, rx.Var):
        boxes = rx.foreach(options, lambda o: checkbox_field(
            o["label"], f"{prefix}_" + o["value"], input_id=f"i-{prefix}-" + o["value"],
            default_checked=InstructorsState.checked.contains(f"{kind}:" + o["value"])))
        return fieldset(legend, rx.flex(boxes, wrap="wrap", spacing="3"))
    return fieldset(legend, rx.flex(*[checkbox_field(lab, f"{prefix}_{val}", input_id=f"i-{prefix}-{val}",
                                                     default_checked=InstructorsState.checked.contains(f"{kind}:{val}"))
                                      for val, lab in options], wrap="wrap", spacing="3"))


def _form() -> rx.Component:
    e = InstructorsState.editing
    return record_form(
        InstructorsState,
        rx.cond(e["id"] != "", "Change instructor", "Add an instructor"),
        rx.grid(
            field("Name", "full_name", required=True, input_id="i-name", default_value=e["full_name"]),
            field("Email (for confirmations)", "email", type="email", required=True, input_id="i-email",
                  default_value=e["email"]),
            field("Phone", "phone", input_id="i-phone", default_value=e["phone"]),
            select_field("Home region", "home_region_id", InstructorsState.regions, input_id="i-region",
                         default_value=e["home_region_id"], blank="None"),
            field("Most sessions a day", "max_sessions_per_day", type="number", input_id="i-max",
                  default_value=e["max_sessions_per_day"], min="1", max="6"),
            select_field("Sign-in account (sees own schedule)", "user_id", InstructorsState.users,
                         input_id="i-user", default_value=e["user_id"], blank="None"),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="3",
            width="100%",
        ),
        _checks("role", "role", ROLES, "Roles"),
        _checks("vehicle", "vehicle", VEHICLES, "Vehicles (practical work)"),
        _checks("ct", "ct", InstructorsState.course_types, "Course types they may deliver"),
        _checks("day", "day", [(str(d), n) for d, n in DAYS], "Working days"),
        checkbox_field("Active", "is_active", input_id="i-active", default_checked=e["is_active"] != ""),
        save=("Save instructor", "i-save"),
        new_label="New instructor",
        aria_label="Instructor details",
        heading_id="h-instructor-form",
    )


def _leave_and_buffer() -> rx.Component:
    return rx.grid(
        section(
            "Record leave",
            error_text(InstructorsState.leave_error),
            form_notice(InstructorsState.leave_notice),
            rx.form(
                rx.vstack(
                    select_field("Instructor", "instructor_id",
                                 InstructorsState.options,
                                 input_id="leave-instructor", blank="Choose"),
                    field("First day", "from", type="date", input_id="leave-from", required=True),
                    field("Last day", "to", type="date", input_id="leave-to", required=True),
                    field("Reason", "reason", input_id="leave-reason"),
                    rx.button("Record leave", type="submit", size="3", id="leave-save"),
                    spacing="2",
                    align_items="stretch",
                ),
                on_submit=InstructorsState.add_leave,
                reset_on_submit=True,
                aria_label="Record leave",
            ),
        ),
        section(
            "Travel buffer",
            rx.text("Time an instructor needs after a session before the next can start. Assignments closer "
                    "together than this are refused.", size="2"),
            rx.form(
                rx.vstack(
                    field("Minutes", "travel_buffer_minutes", type="number", input_id="buffer-minutes",
                          default_value=InstructorsState.buffer, min="0", max="480"),
                    rx.button("Save buffer", type="submit", size="3", id="buffer-save"),
                    spacing="2",
                    align_items="start",
                ),
                on_submit=InstructorsState.save_buffer,
                aria_label="Travel buffer",
                key=InstructorsState.buffer,
            ),
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="3",
        width="100%",
    )


@staff_page("/instructors", "Instructors", on_load=InstructorsState.load)
def instructors_page() -> rx.Component:
    return rx.vstack(
        table_or_cards(
            data_table(
                ["Name", "Courses", "Roles and vehicles", "Works", "Status", ""],
                InstructorsState.rows,
                lambda r: [rx.vstack(rx.text(r["name"], weight="bold"), rx.text(r["email"], size="1"),
                                     rx.text("Sign-in: ", r["login"], size="1"), spacing="0"),
                           r["courses"], rx.text(r["roles"], rx.el.br(), r["vehicles"]),
                           rx.text(r["days"], rx.el.br(), "at most ", r["max"], " a day; ", r["region"]),
                           r["status"],
                           rx.button("Change", size="1", variant="soft", on_click=InstructorsState.edit(r["id"]),
                                     aria_label="Change " + r["name"])],
                caption="Instructors",
                row_id=lambda r: "instructor-" + r["id"],
                empty="No instructors yet.",
            ),
            phone_cards(InstructorsState.rows, lambda r: rx.vstack(
                rx.text(r["name"], weight="bold"), rx.text(r["email"], size="2"), rx.text(r["courses"], size="2"),
                rx.text(r["roles"], " ", r["vehicles"], size="2"), rx.text(r["days"], "; ", r["status"], size="2"),
                rx.button("Change", size="2", variant="soft", on_click=InstructorsState.edit(r["id"]),
                          aria_label="Change " + r["name"]), spacing="1"),
                label="Instructors", empty="No instructors yet."),
        ),
        _form(),
        _leave_and_buffer(),
        spacing="4",
        width="100%",
        align_items="stretch",
    )
