"""/user-group: every change request of the user group (sorted by votes, status or area; filtered by status and
area) and the form to raise one, with optional attachments; /user-group/requests/[id]: one request, its
attachments (downloaded through /api/change-request-attachments/<id>, which checks who asks), votes, history and
comments, the vote buttons, following, comments (a feature in preview) and, for the service provider, the status
moves. Every handler
goes through the change-request service, which checks membership, permission and previews again."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.domain.statuses import CHANGE_REQUEST_LABELS
from atlas_app.services.platform.errors import AtlasError, NotFound
from atlas_app.services.user_group import AREAS, attachments
from atlas_app.services.user_group import change_requests as service
from atlas_app.ui import uploads
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.kit import (
    coded_badge,
    file_drop,
    section,
    select_field,
    submit,
    textarea_field,
)
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

register_nav("User group", NavItem("Change requests", "/user-group", "messages-square"))

STATUS_TABLE = {str(k): (v, c) for (k, v), c in zip(CHANGE_REQUEST_LABELS.items(),
                                                    ("gray", "blue", "violet", "amber", "green", "red"))}
AREA_OPTIONS = list(AREAS.items())
FREQUENCY_OPTIONS = list(service.FREQUENCIES.items())
SORT_OPTIONS = [("votes", "Most votes first"), ("status", "Status"), ("area", "Area"), ("newest", "Newest first")]
STATUS_OPTIONS = [(str(k), v) for k, v in CHANGE_REQUEST_LABELS.items()]


def _row_dict(r: service.RequestRow) -> dict[str, str]:
    mine = {1: "For", -1: "Against"}.get(r.my_vote, "—")
    return {"id": str(r.id), "title": r.title, "area": r.area_label, "status": r.status, "org": r.organisation_name,
            "for": str(r.votes_for), "against": str(r.votes_against), "score": str(r.score),
            "comments": str(r.comments), "mine": mine, "release": r.target_release or "—",
            "raised": london(r.created_at)}


@private
class ChangeRequestsState(rx.State):
    rows: list[dict[str, str]] = []
    sort: str = "votes"
    status: str = ""
    area: str = ""
    error: str = ""
    notice: str = ""
    form_error: str = ""
    can_raise: bool = False
    refused: str = ""

    async def _refresh(self, actor) -> None:
        rows = await asyncio.to_thread(service.list_requests, actor, self.sort, self.status, self.area)
        self.rows = [_row_dict(r) for r in rows]

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = self.notice = self.form_error = self.refused = ""
        self.can_raise = actor.can(service.Perm.CHANGE_REQUESTS) and not actor.is_platform_admin
        try:
            await self._refresh(actor)
        except AtlasError as exc:
            self.rows, self.refused = [], str(exc)

    @rx.event
    async def apply_filters(self, form: dict):
        actor = await require(self)
        sort = str(form.get("sort", "votes"))
        self.sort = sort if sort in service.SORTS else "votes"
        status = str(form.get("status", ""))
        self.status = status if status in STATUS_TABLE else ""
        area = str(form.get("area", ""))
        self.area = area if area in AREAS else ""
        try:
            await self._refresh(actor)
        except AtlasError as exc:
            self.rows, self.error = [], str(exc)

    @rx.event
    async def raise_request(self, files: list[rx.UploadFile], form: dict):
        """The raise form's submit: its fields and the files chosen in its upload zone, sent together."""
        actor = await require(self)
        form = form if isinstance(form, dict) else {}
        files = list(files or [])
        if len(files) > attachments.MAX_FILES:
            self.form_error, self.notice = f"Attach at most {attachments.MAX_FILES} files.", ""
            return
        pairs = []
        for upload in files:
            name = uploads.file_name(upload, "attachment")
            data = await uploads.read(upload, attachments.MAX_BYTES)
            if data is None:
                self.form_error = f"{attachments.clean_name(name)} is larger than {attachments.MAX_BYTES >> 20} MB."
                self.notice = ""
                return
            pairs.append((name, data))
        try:
            rid = await asyncio.to_thread(
                service.raise_request, actor, title=str(form.get("title", ""))[:400],
                problem=str(form.get("problem", ""))[:10000], affects=str(form.get("affects", ""))[:1000],
                frequency=str(form.get("frequency", "")), area=str(form.get("area", "")), files=pairs)
        except AtlasError as exc:
            self.form_error, self.notice = str(exc), ""
            return
        self.form_error = ""
        self.notice = f"Change request #{rid} raised. Every member organisation can now see and vote on it."
        await self._refresh(actor)
        return [rx.clear_selected_files(ATTACH_UPLOAD_ID), rx.redirect(f"/user-group/requests/{rid}")]


def _filters() -> rx.Component:
    S = ChangeRequestsState
    return rx.form(
        rx.grid(
            select_field("Sort by", "sort", SORT_OPTIONS, input_id="cr-sort", default_value=S.sort),
            select_field("Status", "status", STATUS_OPTIONS, input_id="cr-status", blank="Any status",
                         default_value=S.status),
            select_field("Area", "area", AREA_OPTIONS, input_id="cr-area", blank="Any area", default_value=S.area),
            rx.box(submit("Show", "cr-filter"), align_self="end"),
            columns=rx.breakpoints(initial="1", sm="4"), spacing="3", width="100%",
        ),
        on_submit=S.apply_filters,
        aria_label="Sort and filter change requests",
    )


ATTACH_UPLOAD_ID = "cr_files"


def _attach_zone() -> rx.Component:
    return rx.vstack(
        rx.text("Attachments (optional)", weight="medium", as_="div"),
        rx.text(f"Up to {attachments.MAX_FILES} files of at most {attachments.MAX_BYTES >> 20} MB each: "
                f"{attachments.ACCEPTED}. Every member organisation can download them, so leave out anyone's "
                "personal data.", size="2", color_scheme="gray", id="cr-files-hint"),
        file_drop(
            rx.vstack(
                rx.icon("paperclip", size=24, aria_hidden="true"),
                rx.text("Drop files here, or click to choose them"),
                rx.foreach(rx.selected_files(ATTACH_UPLOAD_ID), lambda f: rx.text(f, size="2", weight="bold")),
                align="center", spacing="2"),
            id=ATTACH_UPLOAD_ID, label="Attachments for the change request", multiple=True,
            max_files=attachments.MAX_FILES, max_size=attachments.MAX_BYTES,
            accept={"application/pdf": [".pdf"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"],
                    "image/webp": [".webp"], "text/plain": [".txt", ".log"], "text/csv": [".csv"]},
            border="2px dashed var(--gray-7)", border_radius="var(--radius-3)", padding="1.25em", width="100%"),
        spacing="2", width="100%", align_items="stretch",
    )


def _raise_form() -> rx.Component:
    S = ChangeRequestsState
    return section(
        "Raise a change request",
        rx.form(
            rx.vstack(
                form_error(S.form_error),
                field("Title", "title", required=True, input_id="cr-title", max_length=200,
                      hint="A short name for the change, in your own words."),
                textarea_field("The problem", "problem", input_id="cr-problem", required=True, max_length=5000,
                               hint="What gets in the way today. Describe the problem, not only a solution."),
                field("Who it affects", "affects", required=True, input_id="cr-affects", max_length=500,
                      hint="For example: contact-centre staff, clients booking online."),
                select_field("How often it happens", "frequency", FREQUENCY_OPTIONS, input_id="cr-frequency",
                             blank="Choose…", required=True),
                select_field("Area of Atlas", "area", AREA_OPTIONS, input_id="cr-area-new", blank="Choose…",
                             required=True),
                _attach_zone(),
                submit("Raise change request", "cr-raise"),
                spacing="3", width="100%", align_items="stretch",
            ),
            on_submit=lambda form: S.raise_request(rx.upload_files(upload_id=ATTACH_UPLOAD_ID), form),
            reset_on_submit=False,
            aria_label="Raise a change request",
        ),
        section_id="cr-raise-section",
    )


@staff_page("/user-group", "Change requests", on_load=ChangeRequestsState.load)
def change_requests_page() -> rx.Component:
    S = ChangeRequestsState
    return rx.cond(
        S.refused != "",
        rx.callout(S.refused, icon="info", role="status", id="cr-refused"),
        rx.vstack(
            rx.text("Every member organisation of the user group sees every change request, with the name of the "
                    "organisation that raised it, and votes once for its organisation. The service provider moves "
                    "requests through review, planning and preview to a release."),
            rx.hstack(rx.link("What's new", href="/whats-new"), rx.link("Meetings", href="/user-group/meetings"),
                      rx.link("Feature previews", href="/admin/previews"), spacing="4", wrap="wrap"),
            form_notice(S.notice),
            form_error(S.error),
            _filters(),
            data_table(
                ["Request", "Area", "Status", "Raised by", "For", "Against", "Your vote", "Comments"], S.rows,
                lambda r: [rx.link("#" + r["id"] + " " + r["title"], href="/user-group/requests/" + r["id"]),
                           r["area"], coded_badge(r["status"], STATUS_TABLE), r["org"], r["for"], r["against"],
                           r["mine"], r["comments"]],
                caption="Change requests", row_id=lambda r: "cr-" + r["id"].to(str),
                empty="No change requests yet."),
            rx.cond(S.can_raise, _raise_form()),
            spacing="4", width="100%",
        ),
    )


@private
class ChangeRequestState(rx.State):
    found: bool = True
    refused: str = ""
    rid: str = ""
    row: dict[str, str] = {}
    problem: str = ""
    affects: str = ""
    frequency: str = ""
    decline_reason: str = ""
    comments: list[dict[str, str]] = []
    events: list[dict[str, str]] = []
    files: list[dict[str, str]] = []
    following: bool = False
    comments_on: bool = False
    can_vote: bool = False
    moves: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        d = await asyncio.to_thread(service.get_request, actor, self.rid)
        self.found = True
        self.row = _row_dict(d.row)
        self.problem, self.affects, self.frequency = d.problem, d.affects, d.frequency_label
        self.decline_reason = d.decline_reason
        self.comments = [{"who": c.author_name, "org": c.organisation_name, "body": c.body, "at": london(c.created_at)}
                         for c in d.comments]
        self.events = [{"to": CHANGE_REQUEST_LABELS.get(e.to_status, e.to_status), "note": e.note or "—",
                        "at": london(e.at)} for e in d.events]
        self.files = [{"id": str(a.id), "name": a.file_name, "size": _size(a.size_bytes),
                       "kind": a.content_type.split(";")[0], "at": london(a.created_at)} for a in d.attachments]
        self.following, self.comments_on = d.following, d.comments_on
        self.can_vote = (actor.can(service.Perm.CHANGE_REQUESTS) and not actor.is_platform_admin
                         and d.row.status not in service.St.CLOSED)
        self.moves = [{"value": s, "label": CHANGE_REQUEST_LABELS[service.St(s)]} for s in d.next_statuses]

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = self.notice = self.refused = ""
        self.rid = str(self.router.page.params.get("id", "") or "")[:12]
        try:
            await self._refresh(actor)
        except NotFound:
            self.found = False
        except AtlasError as exc:
            self.refused = str(exc)

    async def _act(self, call, *args, notice: str = "", **kwargs):
        actor = await require(self)
        try:
            await asyncio.to_thread(call, actor, self.rid, *args, **kwargs)
            await self._refresh(actor)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", notice

    @rx.event
    async def vote(self, value: int):
        words = {1: "Your organisation votes for this request.", -1: "Your organisation votes against it.",
                 0: "Your organisation's vote is taken back."}
        try:
            value = int(value)
        except (TypeError, ValueError):
            value = 99
        await self._act(service.vote, value, notice=words.get(value, ""))

    @rx.event
    async def set_following(self, on: bool):
        await self._act(service.set_following, bool(on),
                        notice="You will be emailed when its status changes." if on else "You no longer follow it.")

    @rx.event
    async def add_comment(self, form: dict):
        await self._act(service.comment, str(form.get("body", ""))[:10000], notice="Comment added.")

    @rx.event
    async def move(self, form: dict):
        await self._act(service.move, str(form.get("status", "")), target_release=str(form.get("release", ""))[:80],
                        reason=str(form.get("reason", ""))[:10000], note=str(form.get("note", ""))[:10000],
                        notice="Status changed; followers are emailed.")


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def _attachments() -> rx.Component:
    S = ChangeRequestState
    return section(
        "Attachments",
        data_table(["File", "Type", "Size", "Added"], S.files,
                   lambda f: [rx.el.a(f["name"], href="/api/change-request-attachments/" + f["id"].to(str),
                                      download=f["name"].to(str), aria_label="Download " + f["name"].to(str),
                                      custom_attrs={"reloadDocument": True},
                                      style={"color": "var(--accent-11)", "text-decoration": "underline"}),
                              f["kind"], f["size"], f["at"]],
                   caption="Attachments", row_id=lambda f: "attachment-" + f["id"].to(str),
                   empty="No attachments."),
        section_id="cr-attachments",
    )


def _vote_buttons() -> rx.Component:
    S = ChangeRequestState
    return rx.hstack(
        rx.button("Vote for", on_click=S.vote(1), id="vote-for", variant=rx.cond(S.row["mine"] == "For", "solid",
                                                                                 "soft")),
        rx.button("Vote against", on_click=S.vote(-1), id="vote-against", color_scheme="red",
                  variant=rx.cond(S.row["mine"] == "Against", "solid", "soft")),
        rx.cond(S.row["mine"] != "—", rx.button("Take back our vote", on_click=S.vote(0), id="vote-withdraw",
                                                variant="outline")),
        spacing="3", wrap="wrap",
    )


def _move_form() -> rx.Component:
    S = ChangeRequestState
    return section(
        "Move this request (service provider)",
        rx.form(
            rx.vstack(
                select_field("New status", "status", S.moves, input_id="move-status", required=True),
                field("Target release (when planned)", "release", input_id="move-release", max_length=40),
                textarea_field("Reason (when declined)", "reason", input_id="move-reason", max_length=5000),
                textarea_field("Note for followers", "note", input_id="move-note", max_length=5000),
                submit("Change status", "move-submit"),
                spacing="3", width="100%", align_items="stretch",
            ),
            on_submit=S.move,
            aria_label="Change the request's status",
        ),
        section_id="cr-move",
    )


def _comments() -> rx.Component:
    S = ChangeRequestState
    return section(
        "Comments",
        rx.cond(S.comments.length() == 0, rx.text("No comments yet.", color_scheme="gray")),
        rx.el.ul(rx.foreach(S.comments, lambda c: rx.el.li(
            rx.text(rx.text.strong(c["who"]), " (" + c["org"] + "), " + c["at"], size="2"),
            rx.text(c["body"], white_space="pre-wrap"),
            style={"margin-bottom": "0.75em"})), style={"list-style": "none", "padding": "0"}, id="cr-comments"),
        rx.cond(
            S.comments_on,
            rx.form(rx.vstack(textarea_field("Add a comment", "body", input_id="comment-body", required=True,
                                             max_length=5000),
                              submit("Add comment", "comment-submit"), spacing="2", width="100%",
                              align_items="stretch"),
                    on_submit=S.add_comment, reset_on_submit=True, aria_label="Add a comment"),
            rx.text("Comments are a feature in preview; your organisation's administrator can switch them on on "
                    "the Feature previews page.", size="2", color_scheme="gray", id="comments-off"),
        ),
        section_id="cr-comments-section",
    )


@staff_page("/user-group/requests/[id]", "Change request", on_load=ChangeRequestState.load)
def change_request_page() -> rx.Component:
    S = ChangeRequestState
    body = rx.vstack(
        rx.link("← All change requests", href="/user-group"),
        rx.heading("#" + S.row["id"].to(str) + " " + S.row["title"].to(str), size="5", as_="h2", id="cr-heading"),
        rx.hstack(coded_badge(S.row["status"], STATUS_TABLE, badge_id="cr-status-badge"),
                  rx.text("Raised by " + S.row["org"].to(str) + " on " + S.row["raised"].to(str), size="2"),
                  spacing="3", wrap="wrap", align="center"),
        form_notice(S.notice),
        form_error(S.error),
        rx.el.dl(
            *[rx.box(rx.el.dt(k, style={"font-weight": "600"}), rx.el.dd(v, style={"margin": "0 0 0.5em 0",
                                                                                 "white-space": "pre-wrap"}))
              for k, v in (("The problem", S.problem), ("Who it affects", S.affects), ("How often", S.frequency),
                           ("Area", S.row["area"]), ("Target release", S.row["release"]),
                           ("Votes", S.row["for"].to(str) + " for, " + S.row["against"].to(str) + " against"))],
            id="cr-details",
        ),
        _attachments(),
        rx.cond(S.decline_reason != "", rx.callout("Declined: " + S.decline_reason, icon="info", role="status",
                                                   id="cr-declined")),
        rx.cond(S.can_vote, _vote_buttons()),
        rx.cond(S.following,
                rx.button("Stop following", on_click=S.set_following(False), variant="outline", id="unfollow"),
                rx.button("Follow (email me when its status changes)", on_click=S.set_following(True),
                          variant="outline", id="follow")),
        rx.cond(S.moves.length() > 0, _move_form()),
        section("History", data_table(["Became", "Note", "When"], S.events,
                                      lambda e: [e["to"], e["note"], e["at"]], caption="Status history",
                                      empty="Submitted; no change yet."), section_id="cr-history"),
        _comments(),
        spacing="4", width="100%",
    )
    return rx.cond(S.refused != "", rx.callout(S.refused, icon="info", role="status"),
                   rx.cond(S.found, body, rx.callout("No such change request.", icon="info", role="status")))


@private
class MembersState(rx.State):
    """The platform administrator's list of organisations and whether each is a member of the user group."""

    rows: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        from atlas_app.services.platform import organisations

        orgs = await asyncio.to_thread(organisations.list_organisations, actor)
        members = await asyncio.to_thread(service.member_ids)
        self.rows = [{"id": str(o.id), "name": o.name, "member": "yes" if o.id in members else "no",
                      "demo": "yes" if o.slug == service.previews.DEMO_ORG_SLUG else "no"} for o in orgs]

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = self.notice = ""
        try:
            await self._refresh(actor)
        except AtlasError as exc:
            self.rows, self.error = [], str(exc)

    @rx.event
    async def set_member(self, organisation_id: str, on: bool):
        actor = await require(self)
        try:
            await asyncio.to_thread(service.set_member, actor, organisation_id, bool(on))
            await self._refresh(actor)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", "Membership changed."


def _member_switch(r: rx.Var) -> rx.Component:
    S = MembersState
    return rx.cond(
        r["demo"] == "yes", rx.text("Sandbox: never a member", size="1"),
        rx.cond(r["member"] == "yes",
                rx.button("Remove", size="1", variant="soft", color_scheme="red", on_click=S.set_member(r["id"], False),
                          aria_label="Remove " + r["name"].to(str) + " from the user group"),
                rx.button("Add", size="1", variant="soft", on_click=S.set_member(r["id"], True),
                          aria_label="Add " + r["name"].to(str) + " to the user group")))


@staff_page("/admin/user-group-members", "User group members", on_load=MembersState.load)
def members_page() -> rx.Component:
    S = MembersState
    return rx.vstack(
        rx.text("Member organisations raise, vote on and comment on change requests, and see every request. "
                "Only the platform administrator changes who is a member."),
        form_error(S.error),
        form_notice(S.notice),
        data_table(["Organisation", "Member", ""], S.rows, lambda r: [r["name"], r["member"], _member_switch(r)],
                   caption="User group members", row_id=lambda r: "member-" + r["id"].to(str),
                   empty="No organisations to show."),
        spacing="4", width="100%",
    )
