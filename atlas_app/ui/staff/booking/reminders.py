"""Reminders: each course type's reminder points (channel and time before the course) and the organisation's
GOV.UK Notify template ids. The reminder wording itself is the "Course reminder" client emails on the letters page.

Threat model: every handler re-checks the session and permission on the server (``require``); course type ids and
kinds from the browser are checked by the services against the actor's organisation; no secret is held in state.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.booking import reminders
from atlas_app.services.booking.email_defaults import KINDS
from atlas_app.services.platform import notify_templates
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Bookings", NavItem("Reminders", "/bookings/reminders", "bell", Perm.CATALOGUE_MANAGE))

KIND_OPTIONS = [{"code": k.code, "label": k.label} for k in KINDS.values()]
_SELECT_STYLE = {"padding": "0.5em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
                 "width": "100%", "background": "var(--color-background)", "min-height": "2.5em"}


def _whole(value, what: str) -> int:
    text = str(value or "0").strip() or "0"
    if not text.isdigit():
        raise ValueError(f"Give the {what} as a whole number.")
    return int(text)


@private
class RemindersState(rx.State):
    courses: list[dict[str, str]] = []
    course_id: str = ""
    points: list[dict[str, str]] = []
    notify_rows: list[dict[str, str]] = []
    notify_configured: bool = False
    can_edit_notify: bool = False
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        schedules = await asyncio.to_thread(reminders.schedules, actor)
        self.courses = [{"id": str(c.course_type_id), "name": c.course_name,
                         "summary": ", ".join(p.label for p in c.points) or "No reminders",
                         "source": "Shipped schedule" if c.is_default else "Own schedule"} for c in schedules]
        if self.course_id not in {c["id"] for c in self.courses}:
            self.course_id = self.courses[0]["id"] if self.courses else ""
        chosen = next((c for c in schedules if str(c.course_type_id) == self.course_id), None)
        self.points = [{"key": f"{p.channel}:{p.hours_before}", "label": p.label} for p in
                       (chosen.points if chosen else [])]
        self.notify_configured = bool(get_settings().notify_api_key)
        self.can_edit_notify = actor.can(Perm.LETTERS_MANAGE)
        if self.can_edit_notify:
            rows = await asyncio.to_thread(notify_templates.list_templates, actor)
            labels = {k.code: k.label for k in KINDS.values()}
            self.notify_rows = [{"kind": r.kind, "label": labels.get(r.kind, r.kind),
                                 "channel": "Email" if r.channel == "email" else "Text message",
                                 "channel_code": r.channel, "template_id": r.template_id} for r in rows]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        self.error = self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def choose(self, course_id: str):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        self.course_id = str(course_id)
        self.error = self.notice = ""
        await self._refresh(actor)

    async def _save(self, actor, points: list[tuple[str, int]], notice: str):
        try:
            await asyncio.to_thread(reminders.set_schedule, actor, self.course_id, points)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", notice
        await self._refresh(actor)

    def _current(self) -> list[tuple[str, int]]:
        out = []
        for p in self.points:
            channel, _, hours = p["key"].partition(":")
            out.append((channel, int(hours)))
        return out

    @rx.event
    async def add_point(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        try:
            hours = _whole(form.get("days"), "days") * 24 + _whole(form.get("hours"), "hours")
        except ValueError as exc:
            self.error, self.notice = str(exc), ""
            return
        channel = str(form.get("channel") or "")
        await self._save(actor, [*self._current(), (channel, hours)], "Reminder added.")

    @rx.event
    async def remove_point(self, key: str):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        await self._save(actor, [p for p in self._current() if f"{p[0]}:{p[1]}" != str(key)], "Reminder removed.")

    @rx.event
    async def use_shipped(self):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        try:
            await asyncio.to_thread(reminders.reset_schedule, actor, self.course_id)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", "Back to the shipped schedule."
        await self._refresh(actor)

    @rx.event
    async def save_notify(self, form: dict):
        actor = await require(self, Perm.LETTERS_MANAGE)
        try:
            await asyncio.to_thread(notify_templates.set_template, actor, str(form.get("kind") or ""),
                                    str(form.get("channel") or ""), str(form.get("template_id") or ""))
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", "Notify template saved."
        await self._refresh(actor)


def _schedule_editor() -> rx.Component:
    return rx.vstack(
        rx.heading("Schedule", as_="h2", size="4"),
        rx.vstack(
            rx.el.label("Course type", html_for="reminder-course", font_weight="500"),
            rx.el.select(rx.foreach(RemindersState.courses, lambda c: rx.el.option(c["name"], value=c["id"])),
                         id="reminder-course", value=RemindersState.course_id, on_change=RemindersState.choose,
                         style=_SELECT_STYLE),
            spacing="1", width="100%", max_width="30em",
        ),
        data_table(["Reminder", ""], RemindersState.points,
                   lambda p: [p["label"], rx.button("Remove", size="1", variant="soft", color_scheme="red",
                                                    on_click=RemindersState.remove_point(p["key"]),
                                                    aria_label="Remove " + p["label"])],
                   caption="This course type's reminders"),
        rx.form(
            rx.hstack(
                rx.vstack(rx.el.label("Channel", html_for="reminder-channel", font_weight="500"),
                          rx.el.select(rx.el.option("Email", value="email"), rx.el.option("Text message", value="sms"),
                                       id="reminder-channel", name="channel", style=_SELECT_STYLE),
                          spacing="1"),
                field("Days before", "days", input_id="reminder-days", type="number", min=0, max=60,
                      default_value="1"),
                field("and hours", "hours", input_id="reminder-hours", type="number", min=0, max=23,
                      default_value="0"),
                rx.button("Add reminder", type="submit", size="3"),
                align="end", spacing="3", wrap="wrap",
            ),
            on_submit=RemindersState.add_point, reset_on_submit=True, width="100%",
        ),
        rx.button("Use the shipped schedule", variant="outline", on_click=RemindersState.use_shipped),
        rx.text("Texts go only to clients who agreed to them and gave a mobile number; emails only to clients who "
                "agreed to email. The wording is the “Course reminder” emails on the Letters page.", size="2"),
        spacing="3", width="100%",
    )


def _notify_editor() -> rx.Component:
    return rx.vstack(
        rx.heading("GOV.UK Notify templates", as_="h2", size="4"),
        rx.cond(RemindersState.notify_configured,
                rx.callout("GOV.UK Notify is configured: messages with a template here go through Notify.",
                           icon="info"),
                rx.callout("GOV.UK Notify is not configured (NOTIFY_API_KEY): emails go by the mail server and text "
                           "messages are held in the outbox.", icon="info", color_scheme="amber")),
        rx.text("A Notify template receives every merge field as ((client_first_name)), ((booking_when)) and so on, "
                "and Atlas's own wording as ((subject)) and ((body)).", size="2"),
        data_table(["Message", "Channel", "Template id"], RemindersState.notify_rows,
                   lambda r: [r["label"], r["channel"], r["template_id"]], caption="Notify template ids"),
        rx.form(
            rx.hstack(
                rx.vstack(rx.el.label("Message", html_for="notify-kind", font_weight="500"),
                          rx.el.select(*[rx.el.option(k["label"], value=k["code"]) for k in KIND_OPTIONS],
                                       id="notify-kind", name="kind", style=_SELECT_STYLE), spacing="1"),
                rx.vstack(rx.el.label("Channel", html_for="notify-channel", font_weight="500"),
                          rx.el.select(rx.el.option("Email", value="email"), rx.el.option("Text message", value="sms"),
                                       id="notify-channel", name="channel", style=_SELECT_STYLE), spacing="1"),
                field("Template id (blank to remove)", "template_id", input_id="notify-template-id", max_length=36),
                rx.button("Save template id", type="submit", size="3"),
                align="end", spacing="3", wrap="wrap",
            ),
            on_submit=RemindersState.save_notify, width="100%",
        ),
        spacing="3", width="100%",
    )


@staff_page("/bookings/reminders", "Reminders", on_load=RemindersState.load)
def reminders_page() -> rx.Component:
    return rx.vstack(
        form_error(RemindersState.error),
        form_notice(RemindersState.notice),
        data_table(["Course type", "Reminders", ""], RemindersState.courses,
                   lambda c: [c["name"], c["summary"], c["source"]], caption="Reminder schedules"),
        _schedule_editor(),
        rx.cond(RemindersState.can_edit_notify, _notify_editor()),
        spacing="5", width="100%",
    )
