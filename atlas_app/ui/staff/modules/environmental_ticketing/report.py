"""One report for staff: claim or assign, move it on with the category's template response (sent to followers
through the outbox), public updates, internal notes, photos, close with a resolution code, merge a duplicate, and the
whole timeline. Every action is a report service call, audited there."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.timeutil import utcnow
from atlas_app.domain.statuses import REPORT_LABELS, ReportStatus
from atlas_app.services.modules.environmental_ticketing import queue as q
from atlas_app.services.modules.environmental_ticketing import staff as staff
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform.errors import AtlasError, NotFound
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import status_badge
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.kit import (
    checkbox_field,
    detail_list,
    phone_cards,
    section,
    select_field,
    table_or_cards,
    textarea_field,
)
from atlas_app.ui.components.shell import staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require
from atlas_app.ui.staff.modules.environmental_ticketing.queue import (
    STATUS_COLOURS,
    span_text,
    time_left,
)

# The reasons a report is closed: the resolution codes the dashboards and the public timeline use.
RESOLUTION_CODES = ("Cleared", "Repaired", "Not the council's responsibility", "No further action needed",
                    "Could not be found", "Referred to another organisation", "Duplicate")
KIND_LABELS = {"status": "Status", "public": "Public update", "internal": "Internal note", "repeat": "Repeat report",
               "resident": "From the resident"}
PHOTO_URL = "/api/report-photos/"  # staff of the organisation, by their session cookie


@private
class ReportState(rx.State):
    found: bool = False
    ref: str = ""
    info: dict[str, str] = {}
    timeline: list[dict[str, str]] = []
    photos: list[dict[str, str]] = []
    next_statuses: list[dict[str, str]] = []
    teams: list[dict[str, str]] = []
    officers: list[dict[str, str]] = []
    templates: dict[str, str] = {}
    chosen_status: str = ""
    photo_open: str = ""
    error: str = ""
    notice: str = ""
    can_manage: bool = False
    _report_id: int = 0

    async def _refresh(self, actor) -> None:
        try:
            d = await asyncio.to_thread(reports.get_report, actor, self.ref)
        except NotFound:
            self.found = False
            return
        r = d.row
        now = utcnow()
        self.found = True
        self._report_id = r.id
        self.info = {"ref": r.reference, "case_id": str(r.case_id), "category": r.category, "status": r.status,
                     "status_label": r.status_label, "location": r.location or "—",
                     "uprn": str(r.uprn) if r.uprn else "—", "received": london(r.created_at),
                     "age": span_text(now - r.created_at), "left": time_left(r.due_at, now) if r.status in
                     tuple(ReportStatus.OPEN) else "—", "overdue": "yes" if r.overdue else "",
                     "team": r.team or "Not assigned", "officer": r.officer or "Not assigned",
                     "team_id": str(r.team_id or ""), "officer_id": str(r.officer_id or ""),
                     "channel": r.channel, "repeats": str(r.repeat_count), "followers": str(d.followers),
                     "description": d.description, "reporter": d.reporter_name or "Not given",
                     "email": d.reporter_email or "Not given", "phone": d.reporter_phone or "Not given",
                     "close_reason": d.close_reason or ""}
        self.timeline = [{"id": str(t.id), "at": london(t.at), "kind": KIND_LABELS.get(t.kind, t.kind),
                          "status": t.status_label, "body": t.body or "—", "author": t.author or "—",
                          "seen": "Public" if t.is_public else "Staff only"} for t in reversed(d.timeline)]
        self.photos = [{"id": str(p.id), "url": f"{PHOTO_URL}{p.id}", "size": f"{p.width} × {p.height}"}
                       for p in d.photos]
        self.next_statuses = [{"value": s, "label": REPORT_LABELS[ReportStatus(s)]} for s in d.next_statuses]
        if self.chosen_status not in d.next_statuses:
            self.chosen_status = d.next_statuses[0] if d.next_statuses else ""
        cats = await asyncio.to_thread(reports.list_categories, actor)
        mine = next((c for c in cats if c.id == r.category_id), None)
        self.templates = dict(mine.responses) if mine else {}

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.error = self.notice = ""
        self.photo_open = ""
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        self.ref = str(self.router.page.params.get("ref", "") or "")[:20]
        c = await asyncio.to_thread(q.choices, actor)
        self.teams = [{"value": str(t.id), "label": t.name} for t in c.teams]
        self.officers = [{"value": str(u.id), "label": u.name} for u in c.officers]
        await self._refresh(actor)

    async def _do(self, fn, *args, notice: str, **kwargs):
        actor = await require(self, Perm.CASES_MANAGE)
        self.error = self.notice = ""
        if not self.found:
            return
        try:
            await asyncio.to_thread(fn, actor, self._report_id, *args, **kwargs)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = notice
        await self._refresh(actor)

    @rx.event
    async def claim(self):
        await self._do(staff.claim, notice="You have taken this report.")

    @rx.event
    async def assign(self, form: dict):
        await self._do(reports.assign, team_id=str(form.get("team_id", "") or "")[:12] or None,
                       officer_id=str(form.get("officer_id", "") or "")[:12] or None, notice="Assignment saved.")

    @rx.event
    def choose_status(self, value: str):
        self.chosen_status = str(value)[:20]

    @rx.event
    async def change_status(self, form: dict):
        status = str(form.get("status", "") or "")[:20]
        reason = str(form.get("reason", "") or "")[:200]
        if status == ReportStatus.CLOSED and reason not in RESOLUTION_CODES:
            self.error = "Choose the resolution code the report is closed with."
            return
        await self._do(reports.change_status, status, reason=reason if status == ReportStatus.CLOSED else "",
                       message=str(form.get("message", "") or "")[:2000],
                       notify=bool(form.get("notify")), notice="Status changed.")

    @rx.event
    async def public_update(self, form: dict):
        await self._do(reports.public_update, str(form.get("body", "") or "")[:2000],
                       notify=bool(form.get("notify")), notice="Public update added.")

    @rx.event
    async def note(self, form: dict):
        await self._do(reports.internal_note, str(form.get("note", "") or "")[:2000], notice="Note added.")

    @rx.event
    async def merge(self, form: dict):
        into = str(form.get("into", "") or "")[:20]
        await self._do(staff.merge, into, notice=f"Merged into {into.upper()}.")

    @rx.event
    def open_photo(self, photo_id: str):
        ids = {p["id"] for p in self.photos}
        self.photo_open = str(photo_id) if str(photo_id) in ids else ""

    @rx.event
    def close_photo(self):
        self.photo_open = ""


def _summary() -> rx.Component:
    i = ReportState.info
    return section(
        i["ref"] + " · " + i["category"],
        rx.hstack(status_badge(i["status_label"], STATUS_COLOURS),
                  rx.cond(i["overdue"] == "yes", rx.badge("Overdue", color_scheme="red", variant="solid")),
                  spacing="2"),
        detail_list([("Where", i["location"]), ("UPRN", i["uprn"]), ("Received", i["received"] + " (" + i["age"]
                                                                     + " ago)"),
                     ("Time left", i["left"]), ("Team", i["team"]), ("Officer", i["officer"]),
                     ("Came by", i["channel"]), ("Repeat reports", i["repeats"]), ("Followers", i["followers"]),
                     ("Reporter", i["reporter"]), ("Email", i["email"]), ("Phone", i["phone"]),
                     ("Case", rx.link("C" + i["case_id"], href="/casework/case/" + i["case_id"]))]),
        rx.text(i["description"], white_space="pre-wrap"),
        rx.cond(i["close_reason"] != "", rx.text("Closed: " + i["close_reason"], weight="bold")),
        section_id="report-summary",
    )


def _photos() -> rx.Component:
    S = ReportState
    return section(
        "Photos",
        rx.cond(S.photos.length() == 0, rx.text("No photos.", color_scheme="gray")),
        rx.hstack(rx.foreach(S.photos, lambda p: rx.button(
            rx.image(src=p["url"], alt="Photo " + p["id"] + " of the report", width="8em", height="6em",
                     object_fit="cover"),
            on_click=S.open_photo(p["id"]), variant="ghost", aria_label="Open photo " + p["id"],
            id="photo-" + p["id"], height="auto")), wrap="wrap", spacing="3"),
        rx.dialog.root(
            rx.dialog.content(
                rx.dialog.title("Photo"),
                rx.image(src=PHOTO_URL + S.photo_open, alt="The report's photo, full size", width="100%"),
                rx.dialog.close(rx.button("Close", on_click=S.close_photo, id="photo-close")),
                max_width="60em"),
            open=S.photo_open != ""),
        section_id="report-photos",
    )


def _actions() -> rx.Component:
    S = ReportState
    resolution = [(c, c) for c in RESOLUTION_CODES]
    return rx.vstack(
        section(
            "Assign",
            rx.button("Claim it myself", on_click=S.claim, id="report-claim", variant="soft"),
            rx.form(rx.hstack(
                select_field("Team", "team_id", S.teams, input_id="assign-team", blank="No team",
                             default_value=S.info["team_id"]),
                select_field("Officer", "officer_id", S.officers, input_id="assign-officer", blank="No officer",
                             default_value=S.info["officer_id"]),
                rx.button("Save assignment", type="submit", id="assign-save"),
                spacing="3", align="end", wrap="wrap", width="100%"), on_submit=S.assign, width="100%"),
            section_id="report-assign"),
        rx.cond(S.next_statuses.length() > 0, section(
            "Change the status",
            rx.form(rx.vstack(
                select_field("New status", "status", S.next_statuses, input_id="status-new",
                             value=S.chosen_status, on_change=S.choose_status),
                rx.cond(S.chosen_status == "closed",
                        select_field("Resolution code", "reason", resolution, input_id="status-reason",
                                     blank="Choose the resolution", required=True)),
                rx.text("The category's template response: ", rx.el.q(S.templates.get(S.chosen_status, "")),
                        size="2", color_scheme="gray", id="status-template"),
                textarea_field("Message to followers (leave empty to send the template response)", "message",
                               input_id="status-message", max_length=2000),
                checkbox_field("Email the followers", "notify", input_id="status-notify", default_checked=True,
                               value="1"),
                rx.button("Change status", type="submit", id="status-save"),
                spacing="3", width="100%", align_items="start"), on_submit=S.change_status, width="100%"),
            section_id="report-status")),
        section(
            "Public update",
            rx.form(rx.vstack(
                textarea_field("Update (shown on the tracking page and sent to Open311 sites)", "body",
                               input_id="public-body", required=True, max_length=2000),
                checkbox_field("Email the followers", "notify", input_id="public-notify", default_checked=True,
                               value="1"),
                rx.button("Add public update", type="submit", id="public-save"),
                spacing="3", width="100%", align_items="start"), on_submit=S.public_update, reset_on_submit=True,
                width="100%"),
            section_id="report-public"),
        section(
            "Internal note",
            rx.form(rx.vstack(
                textarea_field("Note (staff only: never shown to the public)", "note", input_id="note-body",
                               required=True, max_length=2000),
                rx.button("Add note", type="submit", id="note-save"),
                spacing="3", width="100%", align_items="start"), on_submit=S.note, reset_on_submit=True,
                width="100%"),
            section_id="report-note"),
        section(
            "Merge a duplicate",
            rx.text("If this report repeats another open one, merge it: this one is closed as a duplicate, its "
                    "followers follow the other, which counts a repeat report.", size="2", color_scheme="gray"),
            rx.form(rx.hstack(
                rx.vstack(rx.el.label("Reference of the report it repeats", html_for="merge-into"),
                          rx.input(id="merge-into", name="into", placeholder="ENV-000123", required=True,
                                   max_length=20), spacing="1"),
                rx.button("Merge into that report", type="submit", id="merge-save", color_scheme="orange"),
                spacing="3", align="end", wrap="wrap"), on_submit=S.merge, width="100%"),
            section_id="report-merge"),
        spacing="4", width="100%",
    )


def _timeline_card(t: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(t["at"] + " · " + t["kind"] + rx.cond(t["status"] != "", " · " + t["status"], ""), weight="bold",
                size="2"),
        rx.text(t["body"], white_space="pre-wrap"),
        rx.text(t["author"] + " · " + t["seen"], size="1", color_scheme="gray"),
        spacing="1", width="100%")


@staff_page("/environmental/report/[ref]", "Report", on_load=ReportState.load)
def report_page() -> rx.Component:
    S = ReportState
    return rx.cond(
        S.found,
        rx.vstack(
            rx.link("← Back to the queue", href="/environmental/queue"),
            form_error(S.error),
            form_notice(S.notice),
            _summary(),
            _photos(),
            rx.cond(S.can_manage, _actions()),
            section("Timeline", table_or_cards(data_table(
                ["When", "What", "Status", "Text", "By", "Seen by"], S.timeline,
                lambda t: [t["at"], t["kind"], t["status"], rx.text(t["body"], white_space="pre-wrap"), t["author"],
                           t["seen"]],
                caption="The report's timeline, newest first", row_id=lambda t: "timeline-" + t["id"]),
                phone_cards(S.timeline, _timeline_card, label="The report's timeline, newest first")),
                section_id="report-timeline"),
            spacing="4", width="100%",
        ),
        rx.vstack(rx.heading("No such report", as_="h2", size="5"),
                  rx.text("There is no report with that reference in your organisation."),
                  rx.link("Back to the queue", href="/environmental/queue")),
    )
