"""The planning calendar: sessions (or instructors' assignments, one column per instructor) by day, week or month,
filtered by region, venue, course type or instructor. Dragging a session moves it; dragging an assignment to another
instructor's column reassigns it. The server decides every drop; a refused one springs back with the reason.

Choosing a session opens its panel: what it still needs, who is assigned, qualified and available instructors (the
least recently assigned first), one-click confirmations, and a keyboard way to move the session.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

import reflex as rx

from atlas_app.services.booking import catalogue as catalogue_service
from atlas_app.services.instructors import assignments as service
from atlas_app.services.instructors import vehicles as vehicle_service
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, london_date, utcnow
from atlas_app.ui.components.kit import detail_list, error_text, section, select_field
from atlas_app.ui.components.forms import field, form_notice
from atlas_app.ui.components.planning_calendar import planning_calendar
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

register_nav("Instructors", NavItem("Planning calendar", "/instructors/calendar", "calendar-range",
                                    Perm.INSTRUCTORS_MANAGE))

VIEWS = ("day", "week", "month")
LAYOUTS = [("sessions", "Sessions"), ("instructors", "Instructors as columns")]
ROLE_OPTIONS = [("classroom", "Classroom trainer"), ("practical", "Practical instructor")]
VEHICLE_OPTIONS = [("manual", "Manual car"), ("automatic", "Automatic car"), ("client_own", "Client's own car")]


def _range(view: str, day: date) -> tuple[datetime, datetime]:
    if view == "day":
        start = day
        end = day + timedelta(days=1)
    elif view == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        first = day.replace(day=1)
        start = first - timedelta(days=first.weekday())
        end = start + timedelta(days=42)
    return (datetime.combine(start, time.min, tzinfo=LONDON), datetime.combine(end, time.min, tzinfo=LONDON))


def _int_or_none(value) -> int | None:
    value = str(value or "").strip()
    return int(value) if value.isdigit() and len(value) <= 12 else None


def _parse_instant(value) -> datetime:
    try:
        dt = datetime.fromisoformat(str(value or "").replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("That drop did not give a time.") from None
    if dt.tzinfo is None:
        raise ValidationFailed("That drop did not give a time.")
    return dt


@private
class PlanningState(rx.State):
    view: str = "week"
    day: str = ""
    layout: str = "sessions"
    filters: dict[str, str] = {"region_id": "", "venue_id": "", "course_type_id": "", "instructor_id": ""}
    regions: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    course_types: list[dict[str, str]] = []
    instructor_options: list[dict[str, str]] = []
    events: list[dict] = []
    resources: list[dict] = []
    revision: int = 0
    error: str = ""
    notice: str = ""
    summary: str = ""
    # The chosen session's panel.
    session_id: int = 0
    detail: dict[str, str] = {}
    assignments: list[dict[str, str]] = []
    eligible: list[dict[str, str]] = []
    # Free training cars of the chosen type, for practical work in a school car.
    cars: list[dict[str, str]] = []
    role_choices: list[dict[str, str]] = []
    assign_role: str = "classroom"
    assign_vehicle: str = "manual"
    panel_error: str = ""
    panel_notice: str = ""

    async def _refresh(self, actor) -> None:
        day = date.fromisoformat(self.day)
        start, end = _range(self.view, day)
        f = {k: _int_or_none(v) for k, v in self.filters.items()}
        data = await asyncio.to_thread(service.calendar_data, actor, start, end, **f)
        events = []
        if self.layout == "instructors":
            by_session = {s["id"]: s for s in data["sessions"]}
            for a in data["assignments"]:
                s = by_session.get(a["session_id"])
                if s is None:
                    continue
                events.append({
                    "id": f"a{a['id']}", "kind": "assignment", "draggable": True,
                    "title": f"{s['course_code']} · {s['venue']} · {a['role']}"
                             + (f" · car {a['vehicle']}" if a["vehicle"] else ""),
                    "tooltip": f"{a['instructor']}: {s['course_code']} at {s['venue']}, {a['role']}"
                               + (f", car {a['vehicle']}" if a["vehicle"] else ""),
                    "start": s["starts_at"].isoformat(), "end": s["ends_at"].isoformat(),
                    "resourceId": a["instructor_id"], "unfilled": bool(s["unfilled"]),
                })
            wanted = _int_or_none(self.filters.get("instructor_id"))
            self.resources = [{"id": int(o["value"]), "title": o["label"]} for o in self.instructor_options
                              if not wanted or int(o["value"]) == wanted][:12]
        else:
            for s in data["sessions"]:
                events.append({
                    "id": f"s{s['id']}", "kind": "session", "draggable": True,
                    "title": f"{s['course_code']} · {s['venue']} · {s['seats_taken']}/{s['capacity']} seats · "
                             f"{s['unfilled_text']}",
                    "tooltip": f"{s['course_code']} at {s['venue']}: {s['seats_taken']} of {s['capacity']} seats "
                               f"taken; {s['unfilled_text']}",
                    "start": s["starts_at"].isoformat(), "end": s["ends_at"].isoformat(),
                    "unfilled": bool(s["unfilled"]),
                })
            self.resources = []
        self.events = events
        unfilled = sum(1 for s in data["sessions"] if s["unfilled"])
        self.summary = (f"{len(data['sessions'])} sessions from {start:%d %b} to {(end - timedelta(days=1)):%d %b %Y}"
                        f", {unfilled} with roles unfilled.")

    async def _load_panel(self, actor) -> None:
        if not self.session_id:
            self.detail, self.assignments, self.eligible = {}, [], []
            return
        d = await asyncio.to_thread(service.session_staffing, actor, self.session_id)
        self.detail = {"id": str(d["id"]), "course": d["course"], "venue": d["venue"], "when": d["when"],
                       "seats": d["seats"], "unfilled": d["unfilled_text"], "status": d["status"],
                       "move_date": london_date(d["starts_at"]).isoformat(),
                       "move_time": d["starts_at"].astimezone(LONDON).strftime("%H:%M")}
        self.assignments = [
            {"id": str(a["id"]), "instructor": a["instructor"], "role": a["role"],
             "vehicle": " ".join(p for p in (service.VEHICLE_LABELS.get(a["vehicle_type"], ""), a["vehicle"]) if p),
             "confirmed": (f"Sent {london(a['confirmation_sent_at'])}" if a["confirmation_sent_at"]
                           else "Not sent")}
            for a in d["assignments"]]
        self.role_choices = [{"value": r, "label": dict(ROLE_OPTIONS).get(r, r)} for r in d["roles"]]
        if self.assign_role not in d["roles"]:
            self.assign_role = d["roles"][0]
        await self._load_eligible(actor)

    async def _load_eligible(self, actor) -> None:
        vehicle = self.assign_vehicle if self.assign_role == "practical" else ""
        rows = await asyncio.to_thread(service.eligible_instructors, actor, self.session_id, self.assign_role,
                                       vehicle)
        self.eligible = [{"value": str(r["id"]),
                          "label": f"{r['name']} (last assigned {london(r['last_assigned_at'])})"
                          if r["last_assigned_at"] else f"{r['name']} (not yet assigned)"} for r in rows]
        cars = await asyncio.to_thread(vehicle_service.eligible_vehicles, actor, self.session_id, vehicle)
        self.cars = [{"value": str(c["id"]), "label": c["label"]} for c in cars]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        regions = await asyncio.to_thread(catalogue_service.list_regions, actor)
        venues = await asyncio.to_thread(catalogue_service.list_venues, actor)
        types = await asyncio.to_thread(catalogue_service.list_course_types, actor)
        people = await asyncio.to_thread(service.list_instructors, actor, False)
        self.regions = [{"value": str(r.id), "label": r.name} for r in regions]
        self.venues = [{"value": str(v.id), "label": v.name} for v in venues]
        self.course_types = [{"value": str(t.id), "label": f"{t.code}: {t.name}"} for t in types]
        self.instructor_options = [{"value": str(i.id), "label": i.full_name} for i in people]
        params = self.router.url.query_parameters
        asked_day = str(params.get("day") or "")[:10]
        try:
            self.day = date.fromisoformat(asked_day).isoformat()
        except ValueError:
            if not self.day:
                self.day = london_date(utcnow()).isoformat()
        asked_venue = _int_or_none(params.get("venue"))
        if asked_venue:
            self.filters = {**self.filters, "venue_id": str(asked_venue)}
        asked_session = _int_or_none(params.get("session"))
        self.error = self.notice = self.panel_error = self.panel_notice = ""
        if asked_session:
            self.session_id = asked_session
        try:
            await self._load_panel(actor)
        except AtlasError as exc:
            self.session_id = 0
            self.detail = {}
            self.error = str(exc)
        await self._refresh(actor)

    @rx.event
    async def range_change(self, payload: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        view = str((payload or {}).get("view") or "")
        if view in VIEWS:
            self.view = view
        try:
            self.day = date.fromisoformat(str((payload or {}).get("date") or "")[:10]).isoformat()
        except ValueError:
            pass
        await self._refresh(actor)

    @rx.event
    async def apply_filters(self, form: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        self.filters = {k: str(form.get(k, "") or "")[:12] for k in self.filters}
        layout = str(form.get("layout") or "sessions")
        self.layout = layout if layout in dict(LAYOUTS) else "sessions"
        view = str(form.get("view") or self.view)
        self.view = view if view in VIEWS else "week"
        try:
            self.day = date.fromisoformat(str(form.get("day") or "")[:10]).isoformat()
        except ValueError:
            pass
        self.error = self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def drop(self, payload: dict):
        """A drop on the calendar. Whatever happens the events are sent again with a new revision, so the
        calendar shows exactly what the server holds: a refused drop springs back."""
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        payload = payload if isinstance(payload, dict) else {}
        ident = str(payload.get("id") or "")
        self.error = self.notice = ""
        try:
            new_start = _parse_instant(payload.get("start"))
            if ident.startswith("s") and ident[1:].isdigit():
                result = await asyncio.to_thread(service.move_session, actor, int(ident[1:]), new_start)
                self.notice = (f"Session #{ident[1:]} moved to {result['when']}." if result["moved"]
                               else "The session is where it was.")
                if self.session_id == int(ident[1:]):
                    await self._load_panel(actor)
            elif ident.startswith("a") and ident[1:].isdigit():
                await self._drop_assignment(actor, int(ident[1:]), new_start, str(payload.get("resourceId") or ""))
            else:
                raise ValidationFailed("That is not something that can be moved.")
        except AtlasError as exc:
            self.error = f"Not moved. {exc}"
        self.revision += 1
        await self._refresh(actor)

    async def _drop_assignment(self, actor, assignment_id: int, new_start: datetime, resource: str) -> None:
        data = await asyncio.to_thread(service.calendar_data, actor, *_range(self.view, date.fromisoformat(self.day)))
        current = next((a for a in data["assignments"] if a["id"] == assignment_id), None)
        if current is None:
            raise ValidationFailed("That assignment is no longer on the calendar.")
        session = next(s for s in data["sessions"] if s["id"] == current["session_id"])
        new_instructor = _int_or_none(resource)
        moved_in_time = abs((new_start - session["starts_at"]).total_seconds()) >= 60
        if new_instructor and new_instructor != current["instructor_id"]:
            if moved_in_time:
                raise ValidationFailed("Move the session and change the instructor one at a time.")
            await asyncio.to_thread(service.reassign, actor, assignment_id, new_instructor)
            self.notice = f"Session #{session['id']} reassigned."
        elif moved_in_time:
            result = await asyncio.to_thread(service.move_session, actor, session["id"], new_start)
            self.notice = f"Session #{session['id']} moved to {result['when']}."
        if self.session_id == session["id"]:
            await self._load_panel(actor)

    @rx.event
    async def select_event(self, event_id: str):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        ident = str(event_id or "")
        session_id = None
        if ident.startswith("s") and ident[1:].isdigit():
            session_id = int(ident[1:])
        elif ident.startswith("a") and ident[1:].isdigit():
            data = await asyncio.to_thread(service.calendar_data, actor,
                                           *_range(self.view, date.fromisoformat(self.day)))
            session_id = next((a["session_id"] for a in data["assignments"] if a["id"] == int(ident[1:])), None)
        if session_id is None:
            return
        self.session_id = session_id
        self.panel_error = self.panel_notice = ""
        try:
            await self._load_panel(actor)
        except AtlasError as exc:
            self.session_id = 0
            self.panel_error = str(exc)

    @rx.event
    async def close_panel(self):
        await require(self, Perm.INSTRUCTORS_MANAGE)
        self.session_id = 0
        self.detail, self.assignments, self.eligible = {}, [], []

    @rx.event
    async def set_assign_role(self, role: str):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        if role in dict(ROLE_OPTIONS):
            self.assign_role = role
            await self._load_eligible(actor)

    @rx.event
    async def set_assign_vehicle(self, vehicle: str):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        if vehicle in dict(VEHICLE_OPTIONS):
            self.assign_vehicle = vehicle
            await self._load_eligible(actor)

    async def _after_change(self, actor, notice: str = "") -> None:
        self.panel_notice = notice
        self.panel_error = ""
        await self._load_panel(actor)
        self.revision += 1
        await self._refresh(actor)

    @rx.event
    async def assign(self, form: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        try:
            instructor_id = _int_or_none(form.get("instructor_id"))
            if not instructor_id:
                raise ValidationFailed("Choose an instructor.")
            role = str(form.get("role") or self.assign_role)
            vehicle = str(form.get("vehicle_type") or "") if role == "practical" else ""
            car = _int_or_none(form.get("vehicle_id")) if vehicle in ("manual", "automatic") else None
            await asyncio.to_thread(service.assign, actor, self.session_id, instructor_id, role, vehicle, car)
        except AtlasError as exc:
            self.panel_error = f"Not assigned. {exc}"
            self.panel_notice = ""
            return
        name = next((o["label"].split(" (")[0] for o in self.eligible if o["value"] == str(instructor_id)), "")
        await self._after_change(actor, f"{name or 'Instructor'} assigned.")

    @rx.event
    async def unassign(self, assignment_id: str):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        try:
            await asyncio.to_thread(service.unassign, actor, int(assignment_id))
        except (AtlasError, ValueError) as exc:
            self.panel_error = str(exc)
            return
        await self._after_change(actor, "Assignment removed.")

    @rx.event
    async def confirm(self, assignment_id: str):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        try:
            sent = await asyncio.to_thread(service.send_confirmation, actor, int(assignment_id))
        except (AtlasError, ValueError) as exc:
            self.panel_error = str(exc)
            return
        await self._after_change(actor, f"Confirmation emailed to {sent['to']}.")

    @rx.event
    async def confirm_all(self):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        try:
            n = await asyncio.to_thread(service.send_session_confirmations, actor, self.session_id)
        except AtlasError as exc:
            self.panel_error = str(exc)
            return
        await self._after_change(actor, f"{n} confirmation{'s' if n != 1 else ''} emailed." if n
                                 else "Every instructor on this session already has a confirmation.")

    @rx.event
    async def move(self, form: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        try:
            day = date.fromisoformat(str(form.get("move_date") or "")[:10])
            hhmm = time.fromisoformat(str(form.get("move_time") or "")[:5])
        except ValueError:
            self.panel_error = "Give the new date and start time."
            return
        try:
            result = await asyncio.to_thread(service.move_session, actor, self.session_id,
                                             datetime.combine(day, hhmm, tzinfo=LONDON))
        except AtlasError as exc:
            self.panel_error = f"Not moved. {exc}"
            self.panel_notice = ""
            return
        await self._after_change(actor, f"Moved to {result['when']}." if result.get("moved") else "")


def _filters() -> rx.Component:
    f = PlanningState.filters
    return rx.form(
        rx.vstack(
            rx.grid(
                select_field("Region", "region_id", PlanningState.regions, input_id="cal-region",
                             default_value=f["region_id"], blank="Any region"),
                select_field("Venue", "venue_id", PlanningState.venues, input_id="cal-venue",
                             default_value=f["venue_id"], blank="Any venue"),
                select_field("Course type", "course_type_id", PlanningState.course_types, input_id="cal-course",
                             default_value=f["course_type_id"], blank="Any course"),
                select_field("Instructor", "instructor_id", PlanningState.instructor_options,
                             input_id="cal-instructor", default_value=f["instructor_id"], blank="Any instructor"),
                select_field("Show", "layout", LAYOUTS, input_id="cal-layout", default_value=PlanningState.layout),
                select_field("View", "view", [("day", "Day"), ("week", "Week"), ("month", "Month")],
                             input_id="cal-view", default_value=PlanningState.view),
                field("Date", "day", type="date", input_id="cal-day", default_value=PlanningState.day),
                columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                spacing="3",
                width="100%",
            ),
            rx.button(rx.icon("list-filter", aria_hidden="true"), "Show", type="submit", size="3",
                      id="cal-apply"),
            spacing="3",
            align_items="start",
            width="100%",
        ),
        on_submit=PlanningState.apply_filters,
        aria_label="Filter the calendar",
        width="100%",
        key=PlanningState.revision.to_string() + PlanningState.day + PlanningState.view,
    )


def _assignment_row(a: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.vstack(
                rx.text(a["instructor"], weight="bold"),
                rx.text(a["role"], " ", a["vehicle"], size="2"),
                rx.text("Confirmation: ", a["confirmed"], size="2", color_scheme="gray"),
                spacing="0",
            ),
            rx.spacer(),
            rx.button(rx.icon("mail", aria_hidden="true"), "Send confirmation", size="2", variant="soft",
                      on_click=PlanningState.confirm(a["id"]), id="confirm-" + a["id"],
                      aria_label="Send confirmation to " + a["instructor"]),
            rx.button("Remove", size="2", variant="outline", color_scheme="red",
                      on_click=PlanningState.unassign(a["id"]), id="unassign-" + a["id"],
                      aria_label="Remove " + a["instructor"]),
            width="100%",
            align="center",
            wrap="wrap",
            spacing="2",
        ),
        class_name="assignment",
        style={"padding": "0.5em 0", "border-bottom": "1px solid var(--gray-4)", "list-style": "none"},
    )


def _panel() -> rx.Component:
    d = PlanningState.detail
    return rx.cond(
        PlanningState.session_id > 0,
        section(
            "Session",
            detail_list([("Course", d["course"]), ("Venue", d["venue"]), ("When", d["when"]),
                         ("Seats", d["seats"]), ("Instructors", rx.text(d["unfilled"], id="session-unfilled"))]),
            error_text(PlanningState.panel_error),
            form_notice(PlanningState.panel_notice),
            rx.heading("Assigned", size="3", as_="h3"),
            rx.cond(PlanningState.assignments.length() == 0, rx.text("Nobody yet.", color_scheme="gray")),
            rx.el.ul(rx.foreach(PlanningState.assignments, _assignment_row), id="assignments",
                     style={"padding": "0", "margin": "0"}),
            rx.cond(PlanningState.assignments.length() > 0,
                    rx.button(rx.icon("mails", aria_hidden="true"), "Confirm everyone not yet sent", size="2",
                              variant="soft", on_click=PlanningState.confirm_all, id="confirm-all")),
            rx.heading("Assign an instructor", size="3", as_="h3"),
            rx.form(
                rx.vstack(
                    select_field("Role", "role", PlanningState.role_choices, input_id="assign-role",
                                 value=PlanningState.assign_role, on_change=PlanningState.set_assign_role),
                    rx.cond(
                        PlanningState.assign_role == "practical",
                        select_field("Vehicle", "vehicle_type", VEHICLE_OPTIONS, input_id="assign-vehicle",
                                     value=PlanningState.assign_vehicle, on_change=PlanningState.set_assign_vehicle),
                    ),
                    rx.cond(
                        (PlanningState.assign_role == "practical") & (PlanningState.assign_vehicle != "client_own"),
                        select_field("Training car", "vehicle_id", PlanningState.cars, input_id="assign-car",
                                     blank="Choose a free car",
                                     hint="Only the organisation's cars of this type that are free then are listed; "
                                          "cars based at this venue first."),
                    ),
                    select_field("Instructor", "instructor_id", PlanningState.eligible, input_id="assign-instructor",
                                 blank="Choose a qualified, available instructor",
                                 hint="Only qualified, available instructors are listed, the least recently "
                                      "assigned first."),
                    rx.button(rx.icon("user-plus", aria_hidden="true"), "Assign", type="submit", size="3",
                              id="assign-submit"),
                    spacing="2",
                    align_items="start",
                    width="100%",
                ),
                on_submit=PlanningState.assign,
                reset_on_submit=True,
                aria_label="Assign an instructor",
                width="100%",
            ),
            rx.heading("Move the session", size="3", as_="h3"),
            rx.form(
                rx.hstack(
                    field("New date", "move_date", type="date", input_id="move-date", default_value=d["move_date"]),
                    field("New start time", "move_time", type="time", input_id="move-time",
                          default_value=d["move_time"]),
                    rx.button("Move", type="submit", size="3", id="move-submit"),
                    align="end",
                    wrap="wrap",
                    spacing="2",
                    width="100%",
                ),
                on_submit=PlanningState.move,
                aria_label="Move the session",
                key=d["move_date"] + d["move_time"],
                width="100%",
            ),
            rx.button("Close", variant="outline", on_click=PlanningState.close_panel, id="close-panel"),
            heading_id="h-session-panel",
        ),
    )


@staff_page("/instructors/calendar", "Planning calendar", on_load=PlanningState.load)
def planning_page() -> rx.Component:
    return rx.vstack(
        _filters(),
        rx.cond(PlanningState.error != "",
                rx.callout(PlanningState.error, icon="triangle_alert", color_scheme="red", role="alert",
                           id="calendar-error", width="100%", high_contrast=True)),
        rx.cond(PlanningState.notice != "",
                rx.callout(PlanningState.notice, icon="info", color_scheme="green", role="status",
                           id="calendar-notice", width="100%")),
        rx.text(PlanningState.summary, size="2", color_scheme="gray", id="calendar-summary"),
        rx.text("Drag a session to move it, or drag an assignment to another instructor's column. Choose a session "
                "to assign instructors, send confirmations or move it with the keyboard.", size="2"),
        rx.box(
            planning_calendar(
                events=PlanningState.events,
                resources=PlanningState.resources,
                view=PlanningState.view,
                date=PlanningState.day,
                revision=PlanningState.revision,
                height=760,
                on_event_move=PlanningState.drop,
                on_select_event=PlanningState.select_event,
                on_range_change=PlanningState.range_change,
            ),
            width="100%",
            overflow_x="auto",
            id="planning-calendar",
        ),
        _panel(),
        spacing="3",
        width="100%",
        align_items="stretch",
    )
