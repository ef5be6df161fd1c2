"""Casework home (my work, cases, open a case) and the case workspace."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.casework import cases
from atlas_app.services.casework import config
from atlas_app.services.casework import people
from atlas_app.services.platform.errors import AtlasError, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import status_badge
from atlas_app.ui.components.casework_ui import DEMAND_CLASS_COLOURS, lookup_select
from atlas_app.ui.components.kit import checkbox_field, fieldset, panel, section, submit
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

register_nav("Casework", NavItem("My work and cases", "/casework", "briefcase", Perm.CASES_VIEW))

CASE_STATUS_COLOURS = {"open": "blue", "closed": "gray"}


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationFailed) and exc.errors:
        return str(exc)
    return str(exc) if isinstance(exc, AtlasError) else "That could not be done."


def _opts(rows) -> list[dict[str, str]]:
    return [{"id": str(r.id), "name": r.name} for r in rows]


def _intention_dict(i: cases.IntentionRow) -> dict[str, str]:
    state = "overdue" if i.overdue else ("due today" if i.due_today else ("done" if i.completed_at else "open"))
    return {"id": str(i.id), "case_id": str(i.case_id), "case_ref": i.case_ref, "case_title": i.case_title,
            "type": i.intention_type, "owner": i.owner, "due": i.due_on.strftime("%d %b %Y"), "state": state,
            "note": i.note, "outcome": i.outcome}


INTENTION_COLOURS = {"overdue": "red", "due today": "orange", "open": "blue", "done": "gray"}


@private
class CaseworkHomeState(rx.State):
    work: list[dict[str, str]] = []
    rows: list[dict[str, str]] = []
    modules: list[dict[str, str]] = []
    roles: list[dict[str, str]] = []
    search: str = ""
    status: str = "open"
    error: str = ""
    can_manage: bool = False

    async def _refresh(self, actor) -> None:
        work = await asyncio.to_thread(cases.my_work, actor)
        rows = await asyncio.to_thread(cases.list_cases, actor, search=self.search, status=self.status)
        self.work = [_intention_dict(i) for i in work]
        self.rows = [{"id": str(c.id), "ref": c.ref, "title": c.title, "module": c.module, "status": c.status,
                      "opened": london(c.opened_at), "people": c.people or "—", "demands": str(c.demands)}
                     for c in rows]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.error = ""
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        modules = await asyncio.to_thread(config.list_modules, actor)
        self.modules = [{"id": str(m.id), "name": m.name} for m in modules if not m.is_read_only]
        self.roles = _opts(await asyncio.to_thread(config.options, actor, "case_role"))
        await self._refresh(actor)

    @rx.event
    async def apply_search(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        self.search = str(form.get("search", ""))[:100]
        self.status = str(form.get("status", ""))
        await self._refresh(actor)

    @rx.event
    async def open_case(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        try:
            case_id = await asyncio.to_thread(
                cases.create_case, actor, module_id=form.get("module_id"), title=str(form.get("title", "")),
                person_id=str(form.get("person", "")).strip() or None, role_id=form.get("role_id") or None,
                uprn=str(form.get("uprn", "")).strip() or None)
        except AtlasError as exc:
            self.error = _message(exc)
            return
        return rx.redirect(f"/casework/case/{case_id}")


def _intention_state(row: rx.Var) -> rx.Component:
    return status_badge(row["state"], INTENTION_COLOURS)


def _work_table(rows: rx.Var, caption: str) -> rx.Component:
    return data_table(
        ["Due", "State", "Intention", "Case", "Owner"],
        rows,
        lambda r: [r["due"], _intention_state(r), r["type"],
                   rx.link(r["case_ref"] + " " + r["case_title"], href="/casework/case/" + r["case_id"]),
                   r["owner"]],
        caption=caption,
        row_id=lambda r: "work-" + r["id"],
        empty="Nothing due.",
    )


@staff_page("/casework", "My work and cases", on_load=CaseworkHomeState.load)
def casework_home() -> rx.Component:
    S = CaseworkHomeState
    return rx.vstack(
        section("My work", rx.text("Open intentions owned by you or your teams, soonest first. Overdue ones say "
                                   "so in words as well as in red.", size="2", color_scheme="gray"),
                _work_table(S.work, "My open intentions"), section_id="my-work"),
        rx.cond(
            S.can_manage,
            section("Open a case", rx.form(
                rx.vstack(
                    form_error(S.error),
                    field("Title", "title", required=True, input_id="case-title",
                          hint="A few words about the problem, in the customer's terms."),
                    lookup_select("Module", "module_id", S.modules, input_id="case-module", required=True),
                    rx.grid(
                        field("Person (optional)", "person", input_id="case-person",
                              hint="Their Atlas number, e.g. P000012."),
                        lookup_select("Their role", "role_id", S.roles, input_id="case-role"),
                        field("Place UPRN (optional)", "uprn", input_id="case-uprn", inputmode="numeric"),
                        columns=rx.breakpoints(initial="1", md="3"), spacing="3", width="100%",
                    ),
                    submit("Open case", "open-case"),
                    spacing="3", width="100%", align_items="start",
                ),
                on_submit=S.open_case,
            ), section_id="new-case"),
        ),
        section("Cases", rx.form(
            rx.hstack(
                rx.el.label("Search cases", html_for="case-search", class_name="sr-only"),
                rx.input(id="case-search", name="search", placeholder="Title or case number",
                         default_value=S.search),
                rx.el.label("Status", html_for="case-status", class_name="sr-only"),
                rx.el.select(rx.el.option("Open", value="open"), rx.el.option("Closed", value="closed"),
                             rx.el.option("All", value=""), id="case-status", name="status", default_value="open",
                             style={"padding": "0.4em"}),
                rx.button("Search", type="submit", variant="soft", id="case-search-go"),
                spacing="2", wrap="wrap",
            ),
            on_submit=S.apply_search,
        ), data_table(
            ["Case", "Title", "Module", "People", "Demands", "Opened", "Status"],
            S.rows,
            lambda r: [rx.link(r["ref"], href="/casework/case/" + r["id"]), r["title"], r["module"], r["people"],
                       r["demands"], r["opened"], status_badge(r["status"], CASE_STATUS_COLOURS)],
            caption="Cases",
            row_id=lambda r: "case-row-" + r["id"],
            empty="No cases match.",
        ), section_id="cases"),
        spacing="4", width="100%",
    )


# --- the case workspace ----------------------------------------------------------------------------------------


@private
class CaseState(rx.State):
    case_id: str = ""
    found: bool = True
    ref: str = ""
    title: str = ""
    module: str = ""
    status: str = ""
    opened: str = ""
    people_rows: list[dict[str, str]] = []
    place_rows: list[dict[str, str]] = []
    demands: list[dict[str, str]] = []
    activities: list[dict[str, str]] = []
    intentions: list[dict[str, str]] = []
    conditions: list[dict[str, str]] = []
    # choices offered by the forms
    demand_types: list[dict[str, str]] = []
    categories: list[dict[str, str]] = []
    channels: list[dict[str, str]] = []
    task_categories: list[dict[str, str]] = []
    intention_types: list[dict[str, str]] = []
    condition_types: list[dict[str, str]] = []
    roles: list[dict[str, str]] = []
    staff: list[dict[str, str]] = []
    teams: list[dict[str, str]] = []
    demand_opts: list[dict[str, str]] = []
    case_people: list[dict[str, str]] = []
    person_results: list[dict[str, str]] = []
    task_rows: list[int] = [1]
    form_key: int = 0
    error: str = ""
    notice: str = ""
    can_manage: bool = False

    async def _refresh(self, actor) -> None:
        try:
            detail = await asyncio.to_thread(cases.get_case, actor, int(self.case_id))
        except (NotFound, ValueError):
            self.found = False
            return
        self.found = True
        self.ref, self.title, self.module, self.status = detail.ref, detail.title, detail.module, detail.status
        self.opened = london(detail.opened_at)
        self.people_rows = [{"id": str(p.id), "ref": p.ref, "name": p.name, "role": p.role or "—"}
                            for p in detail.people]
        self.place_rows = [{"uprn": p.ref, "address": p.name} for p in detail.places]
        self.demands = [{
            "id": str(d.id), "type": d.demand_type, "category": d.category or "—", "class": d.demand_class,
            "channel": d.channel or "—", "received": london(d.received_at), "one_stop": "Yes" if d.one_stop else "No",
            "met": london(d.need_met_at) if d.need_met_at else "Not yet", "e2e": d.end_to_end or "—",
            "open": "" if d.need_met_at else "1", "description": d.description,
        } for d in detail.demands]
        self.activities = [{
            "id": str(a.id), "when": london(a.occurred_at), "staff": a.staff or "—", "note": a.note,
            "minutes": str(a.minutes),
            "tasks": "; ".join(f"{t.category}" + (f" with {t.person}" if t.person else "")
                               + f" by {t.staff or '—'} ({t.minutes} min)" for t in a.tasks),
        } for a in detail.activities]
        self.intentions = [_intention_dict(i) for i in detail.intentions]
        self.conditions = [{"id": str(c.id), "category": c.category, "demand": c.demand or "Whole case",
                            "note": c.note, "minutes": str(c.minutes_lost), "when": london(c.recorded_at)}
                           for c in detail.conditions]
        self.demand_opts = [{"id": str(d.id), "name": f"{d.demand_type} ({d.demand_class})"} for d in detail.demands]
        self.case_people = [{"id": str(p.id), "name": p.name} for p in detail.people]
        mid = detail.module_id

        def choices():
            return {
                "demand_types": [{"id": str(v.id), "name": f"{v.name} ({v.demand_class})"}
                                 for v in config.options(actor, "demand_type", mid)],
                "categories": [{"id": str(v.id), "name": f"{v.name} ({v.demand_class})"}
                               for v in config.options(actor, "demand_category", mid)],
                "channels": _opts(config.options(actor, "channel")),
                "task_categories": _opts(config.options(actor, "task_category", mid)),
                "intention_types": _opts(config.options(actor, "intention_type", mid)),
                "condition_types": _opts(config.options(actor, "system_condition", mid)),
                "roles": _opts(config.options(actor, "case_role")),
                "staff": [{"id": str(i), "name": n} for i, n in cases.staff_options(actor)],
                "teams": [{"id": str(t.id), "name": t.name} for t in config.list_teams(actor) if t.is_active],
            }

        for key, value in (await asyncio.to_thread(choices)).items():
            setattr(self, key, value)

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        new_id = str(self.router.page.params.get("id", "") or "")[:12]
        if new_id != self.case_id:
            self.notice = ""
            self.person_results = []
            self.task_rows = [1]
        self.case_id = new_id
        self.error = ""
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        await self._refresh(actor)

    async def _do(self, fn, done: str, *args, **kwargs):
        actor = await require(self, Perm.CASES_MANAGE)
        try:
            await asyncio.to_thread(fn, actor, *args, **kwargs)
        except (AtlasError, ValueError) as exc:
            self.error = _message(exc)
            self.notice = ""
            return
        self.error = ""
        self.notice = done
        self.form_key += 1
        await self._refresh(actor)

    @rx.event
    async def add_demand(self, form: dict):
        data = {k: form.get(k) for k in ("demand_type_id", "category_id", "channel_id", "description",
                                          "received_at", "need_met_at")}
        data["one_stop"] = bool(form.get("one_stop"))
        await self._do(cases.add_demand, "Demand added.", int(self.case_id), data)

    @rx.event
    async def need_met(self, demand_id: str):
        await self._do(cases.set_need_met, "Need marked as met now.", str(demand_id)[:12])

    @rx.event
    async def add_task_row(self):
        await require(self, Perm.CASES_MANAGE)
        if len(self.task_rows) < 10:
            self.task_rows = self.task_rows + [len(self.task_rows) + 1]

    @rx.event
    async def log_activity(self, form: dict):
        tasks = [{"task_category_id": form.get(f"task_{n}_category"), "person_id": form.get(f"task_{n}_person"),
                  "staff_user_id": form.get(f"task_{n}_staff"), "minutes": form.get(f"task_{n}_minutes") or 0}
                 for n in range(1, 11)]
        await self._do(cases.log_activity, "Activity logged.", int(self.case_id),
                       occurred_at=form.get("occurred_at"), note=str(form.get("note", "")), tasks=tasks)
        if not self.error:
            self.task_rows = [1]

    @rx.event
    async def add_intention(self, form: dict):
        await self._do(cases.add_intention, "Intention set.", int(self.case_id),
                       intention_type_id=form.get("intention_type_id"), due_on=form.get("due_on"),
                       owner_user_id=form.get("owner_user_id") or None, team_id=form.get("team_id") or None,
                       note=str(form.get("note", "")))

    @rx.event
    async def complete_intention(self, form: dict):
        await self._do(cases.complete_intention, "Intention completed.", str(form.get("intention_id", ""))[:12],
                       str(form.get("outcome", "")))

    @rx.event
    async def add_condition(self, form: dict):
        await self._do(cases.add_system_condition, "System condition recorded.", int(self.case_id),
                       category_id=form.get("category_id"), note=str(form.get("note", "")),
                       minutes_lost=form.get("minutes_lost") or 0, demand_id=form.get("demand_id") or None)

    @rx.event
    async def find_people(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        try:
            rows = await asyncio.to_thread(people.search_people, actor, name=str(form.get("name", ""))[:100])
        except AtlasError as exc:
            self.error = _message(exc)
            return
        self.person_results = [{"id": str(p.id), "name": f"{p.name} ({p.ref})"
                                + (f", {p.address}" if p.address else "")} for p in rows[:20]]
        if not rows:
            self.error = "Nobody matches that name."

    @rx.event
    async def link_person(self, form: dict):
        await self._do(cases.link_person, "Person added to the case.", int(self.case_id), form.get("person_id"),
                       form.get("role_id") or None)
        if not self.error:
            self.person_results = []

    @rx.event
    async def link_place(self, form: dict):
        await self._do(cases.link_place, "Place added to the case.", int(self.case_id),
                       str(form.get("uprn", "")).strip())

    @rx.event
    async def close_case(self):
        await self._do(cases.set_case_status, "Case closed.", int(self.case_id), "closed")

    @rx.event
    async def reopen_case(self):
        await self._do(cases.set_case_status, "Case reopened.", int(self.case_id), "open")


def _demand_table() -> rx.Component:
    S = CaseState
    return data_table(
        ["Demand", "Class", "Category", "Channel", "Received", "One-stop", "Need met", "End-to-end", ""],
        S.demands,
        lambda d: [rx.vstack(rx.text(d["type"], weight="medium"), rx.text(d["description"], size="1"),
                             spacing="0"),
                   status_badge(d["class"], DEMAND_CLASS_COLOURS), d["category"], d["channel"], d["received"],
                   d["one_stop"], d["met"], d["e2e"],
                   rx.cond((d["open"] == "1") & S.can_manage & (S.status == "open"),
                           rx.button("Need met now", size="1", variant="soft", on_click=S.need_met(d["id"]),
                                     aria_label="Mark need met now: " + d["type"]))],
        caption="Demands with classification and timings",
        row_id=lambda d: "demand-" + d["id"],
        empty="No demands yet.",
    )


def _forms() -> rx.Component:
    S = CaseState
    task_row = lambda n: fieldset(  # noqa: E731
        "Task " + n.to_string(),
        rx.grid(
            lookup_select("Task category", "task_" + n.to_string() + "_category", S.task_categories,
                          input_id="task-" + n.to_string() + "-category"),
            lookup_select("Person involved", "task_" + n.to_string() + "_person", S.case_people,
                          input_id="task-" + n.to_string() + "-person", placeholder="Nobody in particular"),
            lookup_select("Staff member", "task_" + n.to_string() + "_staff", S.staff,
                          input_id="task-" + n.to_string() + "-staff", placeholder="Me"),
            rx.vstack(
                rx.el.label("Minutes", html_for="task-" + n.to_string() + "-minutes", font_weight="500"),
                rx.input(name="task_" + n.to_string() + "_minutes", id="task-" + n.to_string() + "-minutes",
                         type="number", min="0", max="1440", size="3", width="100%"),
                spacing="1", width="100%", align_items="stretch",
            ),
            columns=rx.breakpoints(initial="1", md="4"), spacing="2", width="100%",
        ),
    )
    return section(
        "Quick actions",
        form_error(S.error),
        form_notice(S.notice),
        panel("Add a demand", rx.form(rx.vstack(
            lookup_select("Demand type", "demand_type_id", S.demand_types, input_id="demand-type", required=True),
            lookup_select("Category", "category_id", S.categories, input_id="demand-category",
                          hint="Value or failure demand follows the category, else the type."),
            lookup_select("Channel", "channel_id", S.channels, input_id="demand-channel"),
            field("What the customer said", "description", input_id="demand-description"),
            field("Received at", "received_at", type="datetime-local", input_id="demand-received",
                  hint="Leave empty for now."),
            checkbox_field("Handled at the first point of contact (one-stop)", "one_stop", input_id="demand-one-stop"),
            field("Need met at (if already met)", "need_met_at", type="datetime-local", input_id="demand-met"),
            submit("Add demand", "add-demand"), spacing="2", width="100%", align_items="start",
        ), on_submit=S.add_demand, key="demand-" + S.form_key.to_string()), panel_id="panel-demand"),
        panel("Log an activity", rx.form(rx.vstack(
            field("When", "occurred_at", type="datetime-local", input_id="activity-when",
                  hint="Leave empty for now."),
            field("Note", "note", input_id="activity-note"),
            rx.foreach(S.task_rows, task_row),
            rx.hstack(
                rx.button("Add another task", type="button", variant="soft", on_click=S.add_task_row,
                          id="add-task-row"),
                submit("Log activity", "log-activity"), spacing="2", wrap="wrap",
            ),
            spacing="2", width="100%", align_items="start",
        ), on_submit=S.log_activity, key="activity-" + S.form_key.to_string()), panel_id="panel-activity"),
        panel("Set an intention", rx.form(rx.vstack(
            lookup_select("Intention", "intention_type_id", S.intention_types, input_id="intention-type",
                          required=True),
            field("Due on", "due_on", type="date", required=True, input_id="intention-due"),
            lookup_select("Owner", "owner_user_id", S.staff, input_id="intention-owner", placeholder="Me"),
            lookup_select("Or a team", "team_id", S.teams, input_id="intention-team", placeholder="No team"),
            field("Note", "note", input_id="intention-note"),
            submit("Set intention", "add-intention"), spacing="2", width="100%", align_items="start",
        ), on_submit=S.add_intention, key="intention-" + S.form_key.to_string()), panel_id="panel-intention"),
        panel("Record a system condition", rx.form(rx.vstack(
            lookup_select("Category", "category_id", S.condition_types, input_id="condition-category",
                          required=True),
            lookup_select("Against demand", "demand_id", S.demand_opts, input_id="condition-demand",
                          placeholder="The whole case"),
            field("What got in the way", "note", input_id="condition-note"),
            field("Time lost (minutes)", "minutes_lost", type="number", min="0", input_id="condition-minutes"),
            submit("Record system condition", "add-condition"), spacing="2", width="100%", align_items="start",
        ), on_submit=S.add_condition, key="condition-" + S.form_key.to_string()), panel_id="panel-condition"),
        panel("Add a person", rx.vstack(
            rx.form(rx.hstack(
                rx.el.label("Find by name", html_for="link-find"),
                rx.input(id="link-find", name="name"),
                rx.button("Find", type="submit", variant="soft", id="link-find-go"), spacing="2", align="end",
                wrap="wrap",
            ), on_submit=S.find_people),
            rx.cond(S.person_results.length() > 0, rx.form(rx.vstack(
                lookup_select("Person", "person_id", S.person_results, input_id="link-person", required=True),
                lookup_select("Role", "role_id", S.roles, input_id="link-role"),
                submit("Add to case", "link-person-go"), spacing="2", width="100%", align_items="start",
            ), on_submit=S.link_person)),
            spacing="2", width="100%",
        ), panel_id="panel-person"),
        panel("Add a place", rx.form(rx.hstack(
            field("UPRN", "uprn", required=True, input_id="link-uprn", inputmode="numeric"),
            submit("Add place", "link-place-go"), spacing="2", align="end",
        ), on_submit=S.link_place, key="place-" + S.form_key.to_string()), panel_id="panel-place"),
        section_id="quick-actions",
    )


@staff_page("/casework/case/[id]", "Case", on_load=CaseState.load)
def case_page() -> rx.Component:
    S = CaseState
    return rx.cond(
        S.found,
        rx.vstack(
            rx.hstack(
                rx.heading(S.ref + " · " + S.title, size="5", as_="h2", id="case-heading"),
                status_badge(S.status, CASE_STATUS_COLOURS),
                rx.text(S.module + " · opened " + S.opened, size="2", color_scheme="gray"),
                rx.spacer(),
                rx.cond(S.can_manage, rx.cond(
                    S.status == "open",
                    rx.button("Close case", variant="soft", color_scheme="gray", on_click=S.close_case,
                              id="close-case"),
                    rx.button("Reopen case", variant="soft", on_click=S.reopen_case, id="reopen-case"))),
                wrap="wrap", width="100%", align="center", spacing="3",
            ),
            rx.grid(
                section("People", data_table(
                    ["Person", "Role"], S.people_rows,
                    lambda p: [rx.link(p["name"] + " (" + p["ref"] + ")", href="/casework/person/" + p["id"]),
                               p["role"]],
                    caption="People on this case", empty="No people yet."), section_id="case-people"),
                section("Places", data_table(
                    ["UPRN", "Address"], S.place_rows,
                    lambda p: [rx.link(p["uprn"], href="/casework/place/" + p["uprn"]), p["address"]],
                    caption="Places on this case", empty="No places yet."), section_id="case-places"),
                columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
            ),
            section("Demands", _demand_table(), section_id="case-demands"),
            section("Open and past intentions", data_table(
                ["Due", "State", "Intention", "Owner", "Note / outcome", ""], S.intentions,
                lambda i: [i["due"], status_badge(i["state"], INTENTION_COLOURS), i["type"], i["owner"],
                           rx.cond(i["outcome"] != "", i["outcome"], i["note"]),
                           rx.cond((i["state"] != "done") & S.can_manage, rx.form(
                               rx.hstack(
                                   rx.input(type="hidden", name="intention_id", value=i["id"]),
                                   rx.el.label("Outcome", html_for="outcome-" + i["id"], class_name="sr-only"),
                                   rx.input(name="outcome", id="outcome-" + i["id"], placeholder="Outcome",
                                            size="1"),
                                   rx.button("Done", size="1", type="submit",
                                             aria_label="Complete intention " + i["type"]),
                                   spacing="1"),
                               on_submit=S.complete_intention))],
                caption="Intentions", row_id=lambda i: "intention-" + i["id"], empty="No intentions."),
                section_id="case-intentions"),
            section("Activity timeline", data_table(
                ["When", "By", "Tasks", "Minutes", "Note"], S.activities,
                lambda a: [a["when"], a["staff"], a["tasks"], a["minutes"], a["note"]],
                caption="Activities, newest first", row_id=lambda a: "activity-" + a["id"],
                empty="No activity yet."), section_id="case-activities"),
            section("System conditions", data_table(
                ["Recorded", "Category", "Against", "Time lost (min)", "Note"], S.conditions,
                lambda c: [c["when"], c["category"], c["demand"], c["minutes"], c["note"]],
                caption="System conditions", row_id=lambda c: "condition-" + c["id"],
                empty="None recorded."), section_id="case-conditions"),
            rx.cond(S.can_manage & (S.status == "open"), _forms()),
            spacing="4", width="100%",
        ),
        rx.callout("No such case in your organisation.", icon="info", role="status"),
    )
