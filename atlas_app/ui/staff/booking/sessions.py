"""Sessions: the list with filters and a clear FULL label, and one session's page with who is booked, the
attendance register and the completions export for the police."""

from __future__ import annotations

import asyncio
from datetime import date, time, timedelta

import reflex as rx

from atlas_app.domain.statuses import OUTCOME_LABELS, BookingStatus, SessionStatus
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import catalogue as catalogue_service
from atlas_app.services.booking import completions as completions_service
from atlas_app.services.instructors import assignments as instructors_service
from atlas_app.services.booking import registers
from atlas_app.services.platform import bounds
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, at_london, london_date, london_midnight, utcnow
from atlas_app.ui.components.booking_ui import (
    BOOKING_STATUS,
    SESSION_FULL,
    SESSION_STATUS,
)
from atlas_app.ui.components.kit import (
    coded_badge,
    detail_list,
    error_text,
    phone_cards,
    route_id,
    section,
    select_field,
    table_or_cards,
)
from atlas_app.ui.components.forms import field, form_notice
from atlas_app.ui.components.shell import AuthState, NavItem, register_nav, staff_page
from atlas_app.ui.components.paid_flag import paid_flag_cell
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import end_clock, london
from atlas_app.ui.session import private, require

register_nav("Bookings", NavItem("Sessions", "/bookings/sessions", "calendar-days", Perm.BOOKINGS_VIEW))

MODE_LABELS = {"classroom": "Classroom", "online": "Online", "practical": "Practical"}
# The page's filter: a stored status, or one of two views of scheduled sessions (with seats free, full).
FREE = "free"
STATUS_FILTERS = [
    ("", "Any status"),
    (SessionStatus.SCHEDULED.value, "Open (scheduled)"),
    (FREE, "Open with free seats"),
    (SESSION_FULL, "Full"),
    (SessionStatus.CANCELLED.value, "Cancelled"),
    (SessionStatus.COMPLETED.value, "Completed"),
]
_OUTCOME_COLOURS = {BookingStatus.ATTENDED: "green", BookingStatus.DID_NOT_ATTEND: "red",
                    BookingStatus.TURNED_AWAY: "orange"}
OUTCOME_BUTTONS = [(o.value, OUTCOME_LABELS[o], _OUTCOME_COLOURS[o]) for o in BookingStatus.OUTCOMES]
EDIT_STATUSES = [(SessionStatus.SCHEDULED.value, "Open for booking"), (SessionStatus.COMPLETED.value, "Completed"),
                 (SessionStatus.CANCELLED.value, "Cancelled")]


def _parse_day(value: str, what: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"Enter the {what} as a date.", {what: "invalid"}) from None
    return bounds.filter_date(day, what)


def _status_code(status: str, seats_taken: int, capacity: int) -> str:
    return SESSION_FULL if status == SessionStatus.SCHEDULED and seats_taken >= capacity else status


def _download(actor, date_from: date, date_to: date, session_id: int | None) -> tuple[str, str]:
    text = "".join(completions_service.export_csv(actor, date_from, date_to, session_id=session_id))
    return text, completions_service.filename(date_from, date_to, session_id)


# --- the list ------------------------------------------------------------------------------------------------


@private
class SessionsState(rx.State):
    filters: dict[str, str] = {"course_type_id": "", "venue_id": "", "date_from": "", "date_to": "", "status": ""}
    course_types: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    rows: list[dict[str, str]] = []
    shown: str = ""
    error: str = ""
    export_from: str = ""
    export_to: str = ""
    export_error: str = ""
    export_notice: str = ""

    async def _refresh(self, actor) -> None:
        f = self.filters
        try:
            start = _parse_day(f.get("date_from", ""), "first date")
            end = _parse_day(f.get("date_to", ""), "last date")
            if start and end and end < start:
                raise ValidationFailed("The last date is before the first.")
        except AtlasError as exc:
            self.error = str(exc)
            return
        status = f.get("status", "")
        filters = {
            "course_type_id": int(f["course_type_id"]) if f.get("course_type_id", "").isdigit() else None,
            "venue_id": int(f["venue_id"]) if f.get("venue_id", "").isdigit() else None,
            "date_from": london_midnight(start) if start else None,
            "date_to": london_midnight(end + timedelta(days=1)) if end else None,
            "status": SessionStatus.SCHEDULED if status in (FREE, SESSION_FULL) else (status or None),
            "only_free": status == FREE,
        }
        rows = await asyncio.to_thread(catalogue_service.list_sessions, actor, **filters)
        if status == SESSION_FULL:
            rows = [r for r in rows if r.seats_taken >= r.capacity]
        self.error = ""
        self.rows = [
            {
                "id": str(r.id),
                "when": london(r.starts_at),
                "ends": end_clock(r.starts_at, r.ends_at),
                "course": r.course_code,
                "course_name": r.course_name,
                "venue": r.venue_name,
                "mode": MODE_LABELS.get(r.delivery_mode, r.delivery_mode),
                "seats": f"{r.seats_taken} of {r.capacity}",
                "status": _status_code(r.status, r.seats_taken, r.capacity),
            }
            for r in rows
        ]
        self.shown = (f"{len(rows)} sessions" if len(rows) < 500
                      else "The first 500 sessions: narrow the filters to see the rest")

    @rx.event
    async def load(self):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        types = await asyncio.to_thread(catalogue_service.list_course_types, actor)
        venues = await asyncio.to_thread(catalogue_service.list_venues, actor)
        self.course_types = [{"value": str(t.id), "label": f"{t.code}: {t.name}"} for t in types]
        self.venues = [{"value": str(v.id), "label": v.name} for v in venues]
        today = london_date(utcnow())
        if not self.filters.get("date_from") and not self.filters.get("date_to"):
            self.filters = {**self.filters, "date_from": today.isoformat(),
                            "date_to": (today + timedelta(days=28)).isoformat()}
        if not self.export_from:
            first = today.replace(day=1)
            last_month_end = first - timedelta(days=1)
            self.export_from = last_month_end.replace(day=1).isoformat()
            self.export_to = last_month_end.isoformat()
        self.export_error = self.export_notice = ""
        await self._refresh(actor)

    @rx.event
    async def apply(self, form: dict):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        keys = ("course_type_id", "venue_id", "date_from", "date_to", "status")
        self.filters = {k: str(form.get(k, "") or "").strip()[:12] for k in keys}
        await self._refresh(actor)

    @rx.event
    async def export(self, form: dict):
        actor = await require(self, Perm.REPORTS_VIEW)
        self.export_from = str(form.get("export_from", "") or "")[:10]
        self.export_to = str(form.get("export_to", "") or "")[:10]
        try:
            start = _parse_day(self.export_from, "first date")
            end = _parse_day(self.export_to, "last date")
            text, name = await asyncio.to_thread(_download, actor, start, end, None)
        except AtlasError as exc:
            self.export_error = str(exc)
            self.export_notice = ""
            return
        self.export_error = ""
        self.export_notice = f"{max(0, text.count(chr(10)) - 1)} completions exported to {name}."
        return rx.download(data=text, filename=name, mime_type="text/csv")


def _filters() -> rx.Component:
    f = SessionsState.filters
    return rx.form(
        rx.vstack(
            error_text(SessionsState.error),
            rx.grid(
                select_field("Course type", "course_type_id", SessionsState.course_types, input_id="filter-course",
                             default_value=f["course_type_id"], blank="Any course"),
                select_field("Venue", "venue_id", SessionsState.venues, input_id="filter-venue",
                             default_value=f["venue_id"], blank="Any venue"),
                field("From", "date_from", type="date", input_id="filter-from", default_value=f["date_from"]),
                field("To", "date_to", type="date", input_id="filter-to", default_value=f["date_to"]),
                select_field("Status", "status", STATUS_FILTERS, input_id="filter-status", default_value=f["status"]),
                columns=rx.breakpoints(initial="1", sm="2", lg="5"),
                spacing="3",
                width="100%",
            ),
            rx.button(rx.icon("list-filter", aria_hidden="true"), "Show sessions", type="submit", size="3",
                      id="apply-filters"),
            spacing="3",
            align_items="start",
            width="100%",
        ),
        on_submit=SessionsState.apply,
        aria_label="Filter sessions",
        width="100%",
    )


def _export_form(state, from_value, to_value) -> rx.Component:
    return rx.form(
        rx.vstack(
            error_text(state.export_error),
            form_notice(state.export_notice),
            rx.grid(
                field("Sessions from", "export_from", type="date", input_id="export-from",
                      default_value=from_value, required=True),
                field("Sessions to", "export_to", type="date", input_id="export-to", default_value=to_value,
                      required=True),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            rx.button(rx.icon("download", aria_hidden="true"), "Download completions (CSV)", type="submit",
                      variant="soft", id="export-completions"),
            spacing="3",
            align_items="start",
            width="100%",
        ),
        on_submit=state.export,
        width="100%",
    )


def _session_card(r: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(r["when"], "–", r["ends"], href="/bookings/session/" + r["id"], weight="bold"),
            coded_badge(r["status"], SESSION_STATUS),
            justify="between", width="100%", align="center", wrap="wrap",
        ),
        rx.text(r["course_name"], " (", r["course"], ")"),
        rx.text(r["venue"], " · ", r["mode"], size="2", color_scheme="gray"),
        rx.text("Seats taken: ", r["seats"], size="2"),
        spacing="1", width="100%",
    )


@staff_page("/bookings/sessions", "Sessions", on_load=SessionsState.load)
def sessions_page() -> rx.Component:
    return rx.vstack(
        _filters(),
        rx.text(SessionsState.shown, role="status", id="sessions-count", weight="medium"),
        table_or_cards(
            data_table(
                ["Date and time", "Course", "Venue", "Delivery", "Seats taken", "Status"],
                SessionsState.rows,
                lambda r: [
                    rx.link(r["when"], "–", r["ends"], href="/bookings/session/" + r["id"], weight="medium",
                            aria_label="Session " + r["when"] + " " + r["course"] + " at " + r["venue"]),
                    rx.text(r["course"], title=r["course_name"]),
                    r["venue"],
                    r["mode"],
                    rx.text(r["seats"], id="seats-" + r["id"]),
                    coded_badge(r["status"], SESSION_STATUS, badge_id="status-" + r["id"]),
                ],
                caption="Course sessions matching the filters",
                row_id=lambda r: "session-row-" + r["id"],
                empty="No sessions match these filters.",
            ),
            phone_cards(SessionsState.rows, _session_card, label="Course sessions matching the filters",
                        empty="No sessions match these filters."),
        ),
        rx.cond(
            AuthState.permissions.contains(Perm.REPORTS_VIEW),
            section(
                "Completions for the police",
                rx.text("Everyone marked on a register (attended, did not attend, turned away) for sessions between "
                        "two dates: offer reference, course type, session date and outcome.", size="2",
                        color_scheme="gray"),
                _export_form(SessionsState, SessionsState.export_from, SessionsState.export_to),
            ),
        ),
        spacing="4",
        width="100%",
    )


# --- one session ---------------------------------------------------------------------------------------------


@private
class SessionState(rx.State):
    session_id: str = ""
    not_found: str = ""
    info: dict[str, str] = {}
    entries: list[dict[str, str]] = []
    register_open: bool = False
    notice: str = ""
    error: str = ""
    export_error: str = ""
    export_notice: str = ""
    edit_open: bool = False
    edit_error: str = ""
    edit_form: dict[str, str] = {}
    cancel_effect: str = ""  # what cancelling the session would do, from the service
    cancel_needs_confirm: bool = False
    form_key: int = 0
    # A client not paid, refused "attended" until staff confirm: the warning and the booking it is for.
    unpaid_warning: str = ""
    unpaid_reference: str = ""
    _refs: set[str] = set()
    _day: str = ""
    _fixed: dict = {}

    async def _refresh(self, actor) -> None:
        try:
            detail = await asyncio.to_thread(registers.session_detail, actor, self.session_id)
        except AtlasError as exc:
            self.not_found = str(exc)
            self.info, self.entries, self._refs = {}, [], set()
            return
        self.not_found = ""
        starts = detail.starts_at.astimezone(LONDON)
        self._day = starts.date().isoformat()
        self.register_open = detail.register_open
        self.info = {
            "title": f"{detail.course_name} ({detail.course_code})",
            "when": f"{london(detail.starts_at)} to {end_clock(detail.starts_at, detail.ends_at)}",
            "where": detail.venue_name + (f", {detail.venue_address}" if detail.venue_address else ""),
            "mode": MODE_LABELS.get(detail.delivery_mode, detail.delivery_mode),
            "region": detail.region_name or "None",
            "seats": f"{detail.seats_taken} of {detail.capacity} seats taken",
            "free": str(max(0, detail.capacity - detail.seats_taken)),
            "status": _status_code(detail.status, detail.seats_taken, detail.capacity),
            "access": detail.accessibility_notes or "None recorded",
            "link": detail.online_link,
            "meeting": " · ".join(x for x in [f"Meeting id {detail.meeting_id}" if detail.meeting_id else "",
                                               f"passcode {detail.meeting_passcode}" if detail.meeting_passcode
                                               else ""] if x),
            "bring": detail.what_to_bring or "Nothing set for this course type",
            "notes": detail.notes or "",
        }
        staffing = await asyncio.to_thread(instructors_service.session_staffing, actor, self.session_id)
        self.info["instructors"] = ", ".join(f"{a['instructor']} ({a['role']})" for a in staffing["assignments"]) \
            or "Nobody assigned"
        self.info["unfilled"] = staffing["unfilled_text"]
        self.entries = [
            {
                "reference": e.reference, "status": e.status,
                "channel": {"telephone": "Telephone", "online": "Online", "api": "API"}.get(e.channel, e.channel),
                "client_id": str(e.client_id),
                "name": e.client_name, "offer_reference": e.offer_reference, "needs": e.needs_text or "None",
                "markable": "yes" if e.status in BookingStatus.ON_REGISTER else "",
                "identity": "yes" if e.identity_checked else "",
                **e.paid_flag,
            }
            for e in detail.entries
        ]
        self._refs = {e["reference"] for e in self.entries if e["markable"]}
        # What a change of the session keeps as it is (course, venue, delivery): never taken from the browser.
        self._fixed = {"course_type_id": detail.course_type_id, "venue_id": detail.venue_id,
                       "delivery_mode": detail.delivery_mode, "seats_taken": detail.seats_taken,
                       "duration": detail.ends_at - detail.starts_at}
        self.edit_form = {
            "day": starts.date().isoformat(), "start": starts.strftime("%H:%M"), "capacity": str(detail.capacity),
            "status": detail.status, "online_link": detail.online_link, "notes": detail.notes,
            "meeting_id": detail.meeting_id, "meeting_passcode": detail.meeting_passcode,
            "booked": str(detail.seats_taken),
        }

    @rx.event
    async def load(self):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        new_id = route_id(self.router.url.path, "/bookings/session/")
        if new_id != self.session_id:
            self.notice = self.error = self.export_error = self.export_notice = ""
        self.session_id = new_id
        await self._refresh(actor)
        if self.router.url.query_parameters.get("created") == "1" and not self.not_found:
            self.notice = "Session created. It is open for booking now."

    @rx.event
    async def mark(self, reference: str, outcome: str):
        return await self._mark(reference, outcome, override=False)

    @rx.event
    async def check_identity(self, reference: str):
        """Record (or undo) that the trainer checked this client's identity."""
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        reference = str(reference)
        entry = next((e for e in self.entries if e["reference"] == reference), None)
        if reference not in self._refs or entry is None:
            return rx.toast.error("That booking is not on this register.")
        try:
            await asyncio.to_thread(booking_service.set_identity_checked, actor, reference, not entry["identity"])
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        await self._refresh(actor)

    @rx.event
    async def confirm_unpaid(self):
        """Mark attended the unpaid client the warning is about (the service records the override and who)."""
        reference, self.unpaid_reference, self.unpaid_warning = self.unpaid_reference, "", ""
        if reference:
            return await self._mark(reference, BookingStatus.ATTENDED.value, override=True)

    @rx.event
    def cancel_unpaid(self):
        self.unpaid_reference, self.unpaid_warning = "", ""

    async def _mark(self, reference: str, outcome: str, override: bool):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        reference = str(reference)
        if reference not in self._refs or outcome not in booking_service.ATTENDANCE_OUTCOMES:
            return rx.toast.error("That booking is not on this register.")
        try:
            view = await asyncio.to_thread(booking_service.record_attendance, actor, reference, outcome,
                                           override_unpaid=override)
        except booking_service.UnpaidAttendance as exc:
            self.unpaid_reference, self.unpaid_warning = reference, str(exc)
            self.notice = self.error = ""
            return
        except AtlasError as exc:
            self.error = str(exc)
            self.notice = ""
            return
        label = OUTCOME_LABELS[outcome].lower()
        self.error = ""
        self.notice = f"{view.client_name} ({view.reference}) marked {label}."
        await self._refresh(actor)

    @rx.event
    async def open_edit(self):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        if not self.info:
            return
        try:
            effect = await asyncio.to_thread(catalogue_service.session_cancel_effect, actor, int(self.session_id))
        except AtlasError as exc:
            return rx.toast.error(str(exc))
        self.cancel_effect, self.cancel_needs_confirm = effect.text, effect.needs_confirmation
        self.edit_error = ""
        self.form_key += 1
        self.edit_open = True

    @rx.event
    def set_edit_open(self, value: bool):
        self.edit_open = bool(value)

    @rx.event
    async def save_edit(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        if not self._fixed:
            return
        status = str(form.get("status", "") or SessionStatus.SCHEDULED)
        confirm_booked = str(form.get("confirm_booked", "") or "") in ("on", "true", "yes")
        try:
            day = _parse_day(str(form.get("day", "")), "date")
            if day is None:
                raise ValidationFailed("Give the date.", {"date": "required"})
            start_text = str(form.get("start", "") or "")
            try:
                hour, minute = (int(x) for x in start_text.split(":")[:2])
                starts = at_london(day, time(hour, minute))
            except ValueError:
                raise ValidationFailed("Give the start time, like 09:30.", {"start": "invalid"}) from None
            data = {**{k: self._fixed[k] for k in ("course_type_id", "venue_id", "delivery_mode")},
                    "starts_at": starts, "ends_at": starts + self._fixed["duration"],
                    "capacity": form.get("capacity") or "", "status": status,
                    "online_link": str(form.get("online_link", "") or ""), "notes": str(form.get("notes", "") or ""),
                    "meeting_id": str(form.get("meeting_id", "") or ""),
                    "meeting_passcode": str(form.get("meeting_passcode", "") or "")}
            await asyncio.to_thread(catalogue_service.save_session, actor, int(self.session_id), data,
                                    confirm_booked=confirm_booked)
        except AtlasError as exc:
            self.edit_error = str(exc)
            return
        self.edit_open, self.edit_error = False, ""
        self.notice = ("Session cancelled; each booked client is being emailed." if status == "cancelled"
                       and self.cancel_needs_confirm else "Session changed.")
        await self._refresh(actor)

    @rx.event
    async def export(self):
        actor = await require(self, Perm.REPORTS_VIEW)
        try:
            day = date.fromisoformat(self._day)
            text, name = await asyncio.to_thread(_download, actor, day, day, int(self.session_id))
        except (AtlasError, ValueError) as exc:
            self.export_error = str(exc) if isinstance(exc, AtlasError) else "No such session."
            return
        self.export_error = ""
        self.export_notice = f"{max(0, text.count(chr(10)) - 1)} completions exported to {name}."
        return rx.download(data=text, filename=name, mime_type="text/csv")


def _register_buttons(e: rx.Var, prefix: str) -> rx.Component:
    return rx.cond(
        (e["markable"] != "") & SessionState.register_open & AuthState.permissions.contains(Perm.BOOKINGS_MANAGE),
        rx.hstack(
            *[
                rx.button(text, size="1", variant=rx.cond(e["status"] == code, "solid", "soft"),
                          color_scheme=colour, on_click=SessionState.mark(e["reference"], code),
                          aria_pressed=rx.cond(e["status"] == code, "true", "false"),
                          aria_label=text + ": " + e["name"], id=prefix + code + "-" + e["reference"])
                for code, text, colour in OUTCOME_BUTTONS
            ],
            spacing="2",
            wrap="wrap",
        ),
        rx.text("—", aria_hidden="true"),
    )


def _identity_button(e: rx.Var, prefix: str) -> rx.Component:
    checked = e["identity"] != ""
    return rx.cond(
        (e["markable"] != "") & SessionState.register_open & AuthState.permissions.contains(Perm.BOOKINGS_MANAGE),
        rx.button(rx.cond(checked, "Identity checked ✓", "Check identity"), size="1",
                  variant=rx.cond(checked, "solid", "outline"), aria_pressed=rx.cond(checked, "true", "false"),
                  aria_label="Identity checked: " + e["name"], id=prefix + e["reference"],
                  on_click=SessionState.check_identity(e["reference"])),
        rx.text(rx.cond(checked, "Checked", "—")),
    )


def _pay_cell(e: rx.Var, prefix: str) -> rx.Component:
    return paid_flag_cell(e, prefix + e["reference"])


def _unpaid_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Not paid"),
            rx.alert_dialog.description(rx.text(SessionState.unpaid_warning, role="alert", id="unpaid-warning")),
            rx.text("Your name is recorded against letting this client attend unpaid.", size="2",
                    color_scheme="gray"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Go back", variant="soft", color_scheme="gray",
                                                 on_click=SessionState.cancel_unpaid, id="cancel-unpaid")),
                rx.alert_dialog.action(rx.button("Mark attended anyway", color_scheme="amber",
                                                 on_click=SessionState.confirm_unpaid, id="confirm-unpaid")),
                spacing="3", justify="end", margin_top="1em",
            ),
        ),
        open=SessionState.unpaid_warning != "",
    )


def _edit_dialog() -> rx.Component:
    f = SessionState.edit_form
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Change this session"),
            rx.dialog.description("The course, venue and delivery stay as they are; the end time moves with the "
                                  "start.", size="2", color_scheme="gray", margin_bottom="0.75em"),
            rx.form(
                rx.vstack(
                    rx.grid(
                        field("Date", "day", type="date", input_id="edit-day", default_value=f["day"],
                              required=True),
                        field("Start time", "start", type="time", input_id="edit-start", default_value=f["start"],
                              required=True),
                        field("Capacity", "capacity", type="number", input_id="edit-capacity",
                              default_value=f["capacity"], required=True, min=1,
                              hint="Not fewer than the seats already taken"),
                        select_field("Status", "status", EDIT_STATUSES,
                                     input_id="edit-status", default_value=f["status"]),
                        columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                    ),
                    field("Video link (online)", "online_link", type="url", input_id="edit-link",
                          default_value=f["online_link"]),
                    rx.grid(
                        field("Meeting id (online)", "meeting_id", input_id="edit-meeting-id",
                              default_value=f["meeting_id"], max_length=100),
                        field("Passcode (online)", "meeting_passcode", input_id="edit-passcode",
                              default_value=f["meeting_passcode"], max_length=100),
                        columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                    ),
                    rx.text("Booked clients are emailed when the joining details change.", size="2",
                            color_scheme="gray"),
                    field("Notes", "notes", input_id="edit-notes", default_value=f["notes"]),
                    rx.callout(
                        rx.vstack(
                            rx.text("If you cancel this session: ", SessionState.cancel_effect, size="2"),
                            rx.cond(
                                SessionState.cancel_needs_confirm,
                                rx.el.label(
                                    rx.el.input(type="checkbox", name="confirm_booked", id="edit-confirm-booked",
                                                style={"width": "1.2em", "height": "1.2em"}),
                                    " Yes: cancel it and tell the booked clients",
                                    html_for="edit-confirm-booked",
                                    style={"display": "flex", "gap": "0.5em", "alignItems": "center"},
                                ),
                            ),
                            spacing="2",
                        ),
                        icon="info", color_scheme="amber", size="1", width="100%",
                    ),
                    error_text(SessionState.edit_error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", type="button",
                                                  size="3")),
                        rx.button("Save", type="submit", id="save-session-edit", size="3"),
                        justify="end", width="100%", spacing="3",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=SessionState.save_edit,
                key=SessionState.form_key,
            ),
            max_width="34em",
        ),
        open=SessionState.edit_open,
        on_open_change=SessionState.set_edit_open,
    )


def _entry_card(e: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(e["name"], href="/bookings/client/" + e["client_id"], weight="bold"),
            rx.hstack(coded_badge(e["status"], BOOKING_STATUS), _pay_cell(e, "card-paid-"), spacing="2",
                      align="center"),
            justify="between", width="100%", align="center", wrap="wrap",
        ),
        rx.text("Offer ", e["offer_reference"], " · booking ", e["reference"], " (", e["channel"], ")", size="2",
                color_scheme="gray"),
        rx.text("Needs: ", e["needs"], size="2"),
        _identity_button(e, "card-identity-"),
        _register_buttons(e, "card-mark-"),
        spacing="2", width="100%",
    )


@staff_page("/bookings/session/[id]", "Session", on_load=SessionState.load)
def session_page() -> rx.Component:
    i = SessionState.info
    return rx.vstack(
        rx.link("← Back to sessions", href="/bookings/sessions", size="2"),
        rx.cond(
            SessionState.not_found != "",
            rx.callout(SessionState.not_found, icon="triangle_alert", color_scheme="red", role="alert"),
            rx.vstack(
                rx.hstack(
                    rx.heading(i["title"], size="6", as_="h2", id="session-title"),
                    coded_badge(i["status"], SESSION_STATUS, badge_id="session-status"),
                    spacing="3", align="center", wrap="wrap",
                ),
                form_notice(SessionState.notice),
                error_text(SessionState.error),
                section(
                    "Details",
                    detail_list([
                        ("When", i["when"]),
                        ("Where", i["where"]),
                        ("Delivery", i["mode"]),
                        ("Region", i["region"]),
                        ("Seats", rx.text(i["seats"], " (", i["free"], " free)", as_="span", id="session-seats")),
                        ("Access", i["access"]),
                        ("What to bring", i["bring"]),
                        ("Instructors", rx.text(i["instructors"], ". ", i["unfilled"], ".", as_="span",
                                                id="session-instructors")),
                    ]),
                    rx.cond(AuthState.permissions.contains(Perm.INSTRUCTORS_MANAGE),
                            rx.link("Plan instructors for this session",
                                    href="/instructors/calendar?session=" + SessionState.session_id + "&day="
                                    + SessionState.edit_form["day"], id="plan-instructors")),
                    rx.cond(i["link"] != "", rx.text("Video link: ", rx.link(i["link"], href=i["link"],
                                                                               is_external=True))),
                    rx.cond(i["meeting"] != "", rx.text(i["meeting"], id="session-meeting")),
                    rx.cond(i["notes"] != "", rx.text("Notes: ", i["notes"])),
                    rx.link("Waiting list for this session", href="/bookings/waiting-list?session="
                            + SessionState.session_id, id="session-waiting-list"),
                    actions=rx.cond(AuthState.permissions.contains(Perm.CATALOGUE_MANAGE),
                                    rx.button("Change this session", size="2", variant="soft",
                                              on_click=SessionState.open_edit, id="edit-session")),
                ),
                section(
                    "Who is booked and the register",
                    rx.cond(
                        SessionState.register_open,
                        rx.text("Mark each person attended, did not attend or turned away. The offer's status "
                                "changes with the mark; a mark can be corrected.", size="2", color_scheme="gray"),
                        rx.text("The register opens on the day of the course.", size="2", color_scheme="gray",
                                id="register-closed"),
                    ),
                    table_or_cards(
                        data_table(
                            ["Name", "Offer", "Booking", "Status", "Paid", "Needs", "Identity", "Register"],
                            SessionState.entries,
                            lambda e: [
                                rx.link(e["name"], href="/bookings/client/" + e["client_id"], weight="medium"),
                                e["offer_reference"],
                                rx.vstack(rx.text(e["reference"], white_space="nowrap"),
                                          rx.text(e["channel"], size="1", color_scheme="gray"), spacing="0"),
                                coded_badge(e["status"], BOOKING_STATUS, badge_id="entry-status-" + e["reference"]),
                                _pay_cell(e, "entry-paid-"),
                                e["needs"],
                                _identity_button(e, "identity-"),
                                _register_buttons(e, "mark-"),
                            ],
                            caption="People booked on this session",
                            row_id=lambda e: "entry-" + e["offer_reference"],
                            empty="Nobody is booked on this session yet.",
                        ),
                        phone_cards(SessionState.entries, _entry_card, label="People booked on this session",
                                    empty="Nobody is booked on this session yet."),
                    ),
                ),
                rx.cond(
                    AuthState.permissions.contains(Perm.REPORTS_VIEW),
                    section(
                        "Completions for the police",
                        rx.text("The register of this session as CSV: offer reference, course type, session date "
                                "and outcome.", size="2", color_scheme="gray"),
                        error_text(SessionState.export_error),
                        form_notice(SessionState.export_notice),
                        rx.box(rx.button(rx.icon("download", aria_hidden="true"),
                                         "Download this session's completions", on_click=SessionState.export,
                                         variant="soft", id="export-session")),
                    ),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        _edit_dialog(),
        _unpaid_dialog(),
        spacing="4",
        width="100%",
    )

