"""/user-group/meetings: the user group's meetings (the service provider sets one up); /user-group/meetings/[id]:
its agenda of change requests, each with a link that opens the feature in the demo organisation, the notes, and
the decisions, each of which moves its change request. Members read; only the service provider changes."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.domain.statuses import CHANGE_REQUEST_LABELS, ChangeRequestStatus
from atlas_app.services.platform.errors import AtlasError, NotFound
from atlas_app.services.user_group import change_requests
from atlas_app.services.user_group import meetings as service
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.kit import (
    coded_badge,
    section,
    select_field,
    submit,
    textarea_field,
)
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require
from atlas_app.ui.staff.user_group.requests import STATUS_TABLE

register_nav("User group", NavItem("Meetings", "/user-group/meetings", "calendar-days"))


@private
class MeetingsState(rx.State):
    rows: list[dict[str, str]] = []
    is_provider: bool = False
    error: str = ""

    @rx.event
    async def load(self):
        actor = await require(self)
        self.is_provider = actor.is_platform_admin
        self.error = ""
        try:
            rows = await asyncio.to_thread(service.list_meetings, actor)
        except AtlasError as exc:
            self.rows, self.error = [], str(exc)
            return
        self.rows = [{"id": str(m.id), "title": m.title, "date": m.held_on.strftime("%d %B %Y"),
                      "items": str(m.items)} for m in rows]

    @rx.event
    async def create(self, form: dict):
        actor = await require(self)
        try:
            mid = await asyncio.to_thread(service.create_meeting, actor, str(form.get("title", ""))[:400],
                                          str(form.get("held_on", ""))[:20])
        except AtlasError as exc:
            self.error = str(exc)
            return
        return rx.redirect(f"/user-group/meetings/{mid}")


@staff_page("/user-group/meetings", "User group meetings", on_load=MeetingsState.load)
def meetings_page() -> rx.Component:
    S = MeetingsState
    return rx.vstack(
        form_error(S.error),
        data_table(["Meeting", "Date", "Agenda items"], S.rows,
                   lambda r: [rx.link(r["title"], href="/user-group/meetings/" + r["id"]), r["date"], r["items"]],
                   caption="User group meetings", empty="No meetings yet."),
        rx.cond(S.is_provider, section("Set up a meeting", rx.form(
            rx.vstack(field("Title", "title", required=True, input_id="meeting-title", max_length=200),
                      field("Date", "held_on", type="date", required=True, input_id="meeting-date"),
                      submit("Set up meeting", "meeting-create"), spacing="3", width="100%", align_items="stretch"),
            on_submit=S.create, aria_label="Set up a meeting"), section_id="meeting-new")),
        spacing="4", width="100%",
    )


@private
class MeetingState(rx.State):
    found: bool = True
    mid: str = ""
    title: str = ""
    date: str = ""
    notes: str = ""
    items: list[dict] = []
    choices: list[dict[str, str]] = []
    is_provider: bool = False
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        m = await asyncio.to_thread(service.get_meeting, actor, self.mid)
        self.found = True
        self.title, self.date, self.notes = m.title, m.held_on.strftime("%d %B %Y"), m.notes
        self.items = [{"id": str(i.id), "cr": str(i.change_request_id), "title": i.title, "status": i.status,
                       "link": i.demo_link, "decision": i.decision or "—",
                       "moves": [{"value": s, "label": CHANGE_REQUEST_LABELS[ChangeRequestStatus(s)]}
                                 for s in i.next_statuses]} for i in m.items]
        self.is_provider = actor.is_platform_admin
        if actor.is_platform_admin:
            on = {i.change_request_id for i in m.items}
            rows = await asyncio.to_thread(change_requests.list_requests, actor, "votes")
            self.choices = [{"value": str(r.id), "label": f"#{r.id} {r.title} ({r.score:+d})"} for r in rows
                            if r.id not in on and r.status not in ChangeRequestStatus.CLOSED]

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = self.notice = ""
        self.mid = str(self.router.page.params.get("id", "") or "")[:12]
        try:
            await self._refresh(actor)
        except NotFound:
            self.found = False
        except AtlasError as exc:
            self.found, self.error = False, str(exc)

    async def _act(self, call, *args, notice: str, **kwargs):
        actor = await require(self)
        try:
            await asyncio.to_thread(call, actor, *args, **kwargs)
            await self._refresh(actor)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", notice

    @rx.event
    async def add_item(self, form: dict):
        await self._act(service.add_item, self.mid, str(form.get("change_request_id", ""))[:12],
                        str(form.get("demo_path", ""))[:300], notice="Added to the agenda.")

    @rx.event
    async def save_notes(self, form: dict):
        await self._act(service.save_notes, self.mid, str(form.get("notes", ""))[:40000], notice="Notes saved.")

    @rx.event
    async def decide(self, form: dict):
        await self._act(service.decide, str(form.get("item_id", ""))[:12], str(form.get("status", ""))[:20],
                        str(form.get("decision", ""))[:10000], target_release=str(form.get("release", ""))[:80],
                        notice="Decision recorded; the change request moved and its followers are emailed.")


def _input(text: str, name: str, input_id: rx.Var, max_length: int, required: bool = False) -> rx.Component:
    """A labelled text input whose id is made from the row (``forms.field`` takes a fixed id)."""
    return rx.vstack(rx.el.label(text, html_for=input_id, font_weight="500", font_size="0.95em"),
                     rx.input(id=input_id, name=name, max_length=max_length, required=required, size="3",
                              width="100%"),
                     spacing="1", width="100%", align_items="stretch")


def _item(i: rx.Var) -> rx.Component:
    S = MeetingState
    return rx.el.li(
        rx.hstack(rx.link("#" + i["cr"].to(str) + " " + i["title"].to(str), href="/user-group/requests/" +
                          i["cr"].to(str)),
                  coded_badge(i["status"].to(str), STATUS_TABLE), spacing="3", wrap="wrap", align="center"),
        rx.link("Open it in the demo organisation", href=i["link"].to(str), is_external=False),
        rx.text("Decision: " + i["decision"].to(str), size="2"),
        rx.cond(S.is_provider & (i["moves"].to(list).length() > 0), rx.form(
            rx.el.input(type="hidden", name="item_id", value=i["id"].to(str)),
            rx.grid(
                select_field("Decision moves it to", "status", i["moves"].to(list[dict[str, str]]),
                             input_id="decide-status-" + i["id"].to(str), required=True),
                _input("Target release (when planned)", "release", "decide-release-" + i["id"].to(str), 40),
                _input("Decision", "decision", "decide-text-" + i["id"].to(str), 5000, required=True),
                columns=rx.breakpoints(initial="1", sm="3"), spacing="2", width="100%"),
            rx.button("Record decision", type="submit", size="2", margin_top="0.5em"),
            on_submit=S.decide, aria_label="Record the decision on #" + i["cr"].to(str))),
        style={"margin-bottom": "1em", "display": "flex", "flex-direction": "column", "gap": "0.25em"},
    )


@staff_page("/user-group/meetings/[id]", "User group meeting", on_load=MeetingState.load)
def meeting_page() -> rx.Component:
    S = MeetingState
    body = rx.vstack(
        rx.link("← All meetings", href="/user-group/meetings"),
        rx.heading(S.title, size="5", as_="h2", id="meeting-heading"),
        rx.text(S.date),
        form_notice(S.notice),
        form_error(S.error),
        section("Agenda",
                rx.cond(S.items.length() == 0, rx.text("Nothing on the agenda yet.", color_scheme="gray")),
                rx.el.ol(rx.foreach(S.items, _item), id="agenda"),
                rx.cond(S.is_provider, rx.form(
                    rx.vstack(select_field("Change request", "change_request_id", S.choices,
                                           input_id="agenda-request", required=True, blank="Choose…"),
                              field("Demo page that shows it", "demo_path", input_id="agenda-demo-path",
                                    hint="A page of Atlas, such as /bookings/sessions; opened in the demo "
                                         "organisation.", max_length=200),
                              submit("Add to the agenda", "agenda-add"), spacing="3", width="100%",
                              align_items="stretch"),
                    on_submit=S.add_item, aria_label="Add a change request to the agenda")),
                section_id="meeting-agenda"),
        section("Notes",
                rx.cond(S.is_provider,
                        rx.form(rx.vstack(textarea_field("Notes", "notes", input_id="meeting-notes",
                                                         default_value=S.notes, max_length=20000),
                                          submit("Save notes", "notes-save"), spacing="2", width="100%",
                                          align_items="stretch"),
                                on_submit=S.save_notes, aria_label="Meeting notes", key=S.notes),
                        rx.text(rx.cond(S.notes != "", S.notes, "No notes yet."), white_space="pre-wrap")),
                section_id="meeting-notes-section"),
        spacing="4", width="100%",
    )
    return rx.cond(S.found, body, rx.callout(rx.cond(S.error != "", S.error, "No such meeting."), icon="info",
                                             role="status"))
