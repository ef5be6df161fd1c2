"""Casework configuration for administrators: every lookup list of every module, and teams."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.casework import cases
from atlas_app.services.casework import config
from atlas_app.services.casework.config import LOOKUP_KINDS, MODULE_KINDS
from atlas_app.services.modules import GENERIC, MODULE_TYPES
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import status_badge
from atlas_app.ui.components.casework_ui import lookup_select
from atlas_app.ui.components.kit import section, submit
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Casework", NavItem("Casework settings", "/casework/settings", "settings", Perm.SETTINGS_MANAGE))

KIND_OPTIONS = [{"id": k, "name": v} for k, v in LOOKUP_KINDS.items()]
TYPE_OPTIONS = [{"id": t.code, "name": t.name} for t in MODULE_TYPES.values()]
CLASS_OPTIONS = [{"id": "value", "name": "Value demand"}, {"id": "failure", "name": "Failure demand"}]
ACTIVE_COLOURS = {"active": "green", "retired": "gray"}


@private
class CaseSettingsState(rx.State):
    kind: str = "task_category"
    module_id: str = ""
    modules: list[dict[str, str]] = []
    module_rows: list[dict[str, str]] = []
    editing_module: str = ""
    rows: list[dict[str, str]] = []
    teams: list[dict[str, str]] = []
    team_types: list[dict[str, str]] = []
    staff: list[dict[str, str]] = []
    editing_id: str = ""
    error: str = ""
    notice: str = ""
    form_key: int = 0

    @rx.var
    def module_kind(self) -> bool:
        return self.kind in MODULE_KINDS

    @rx.var
    def needs_reverse(self) -> bool:
        return self.kind == "relationship_type"

    @rx.var
    def needs_class(self) -> bool:
        return self.kind in ("demand_type", "demand_category")

    async def _refresh(self, actor) -> None:
        def fetch():
            modules = config.list_modules(actor, include_inactive=True)
            values = config.list_lookups(actor, self.kind)
            return modules, values, config.list_teams(actor), config.options(actor, "team_type"), \
                cases.staff_options(actor)

        modules, values, teams, team_types, staff = await asyncio.to_thread(fetch)
        self.modules = [{"id": str(m.id), "name": m.name + (" (read-only)" if m.is_read_only else "")}
                        for m in modules]
        self.module_rows = [{"id": str(m.id), "name": m.name, "description": m.description,
                             "read_only": "yes" if m.is_read_only else "",
                             "use": ("Read-only consumer" if m.is_read_only else "Records casework")
                             + ("" if m.module_type == GENERIC else f" · {MODULE_TYPES[m.module_type].name} screens"),
                             "state": "active" if m.is_active else "retired"} for m in modules]
        if self.kind in MODULE_KINDS and not self.module_id and modules:
            self.module_id = str(modules[0].id)
        if self.kind in MODULE_KINDS:
            values = [v for v in values if str(v.module_id) == self.module_id]
        self.rows = [{"id": str(v.id), "name": v.name, "reverse": v.reverse_name, "class": v.demand_class,
                      "module": v.module_name, "state": "active" if v.is_active else "retired"} for v in values]
        self.teams = [{"id": str(t.id), "name": t.name, "type": f"{t.team_type} ({t.module_name})",
                       "members": ", ".join(t.members) or "—", "member_ids": ",".join(str(i) for i in t.member_ids)}
                      for t in teams]
        self.team_types = [{"id": str(v.id), "name": f"{v.name} ({v.module_name})"} for v in team_types]
        self.staff = [{"id": str(i), "name": n} for i, n in staff]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        self.editing_id = ""
        await self._refresh(actor)

    @rx.event
    async def choose(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        kind = str(form.get("kind", ""))
        self.kind = kind if kind in LOOKUP_KINDS else "task_category"
        self.module_id = str(form.get("module_id", "") or self.module_id)[:12]
        self.editing_id = ""
        await self._refresh(actor)

    async def _do(self, fn, done: str, *args, **kwargs):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        try:
            await asyncio.to_thread(fn, actor, *args, **kwargs)
        except (AtlasError, ValueError) as exc:
            self.error = str(exc) if isinstance(exc, AtlasError) else "That could not be done."
            self.notice = ""
        else:
            self.error, self.notice = "", done
            self.form_key += 1
            self.editing_id = ""
        await self._refresh(actor)

    @rx.event
    async def add(self, form: dict):
        name = str(form.get("name", ""))
        await self._do(config.add_lookup, f"Added '{name.strip()}'.", self.kind, name,
                       module_id=self.module_id if self.kind in MODULE_KINDS else None,
                       reverse_name=str(form.get("reverse_name", "")), demand_class=str(form.get("demand_class", "")))

    @rx.event
    async def start_rename(self, value_id: str):
        await require(self, Perm.SETTINGS_MANAGE)
        self.editing_id = str(value_id)[:12]

    @rx.event
    async def cancel_rename(self):
        self.editing_id = ""

    @rx.event
    async def rename(self, form: dict):
        await self._do(config.rename_lookup, "Renamed.", self.editing_id, str(form.get("name", "")),
                       reverse_name=form.get("reverse_name") if self.kind == "relationship_type" else None,
                       demand_class=form.get("demand_class") if self.kind in ("demand_type", "demand_category")
                       else None)

    @rx.event
    async def move(self, value_id: str, direction: int):
        await self._do(config.move_lookup, "Moved.", str(value_id)[:12], -1 if int(direction) < 0 else 1)

    @rx.event
    async def retire(self, value_id: str):
        await self._do(config.set_lookup_active, "Retired: kept on old records, no longer offered.",
                       str(value_id)[:12], False)

    @rx.event
    async def restore(self, value_id: str):
        await self._do(config.set_lookup_active, "Restored.", str(value_id)[:12], True)

    @rx.event
    async def add_module(self, form: dict):
        name = str(form.get("name", ""))
        await self._do(config.save_module, f"Module '{name.strip()}' added: add its lists below.", None,
                       name=name, description=str(form.get("description", "")),
                       is_read_only=bool(form.get("read_only")),
                       module_type=str(form.get("module_type") or GENERIC)[:40])

    @rx.event
    async def start_module_edit(self, module_id: str):
        await require(self, Perm.SETTINGS_MANAGE)
        self.editing_module = str(module_id)[:12]

    @rx.event
    async def cancel_module_edit(self):
        self.editing_module = ""

    @rx.event
    async def save_module(self, form: dict):
        module = next((m for m in self.module_rows if m["id"] == self.editing_module), None)
        if module is None:
            self.error = "Choose a module to change."
            return
        await self._do(config.save_module, "Module saved.", int(module["id"]), name=str(form.get("name", "")),
                       description=str(form.get("description", "")), is_read_only=bool(form.get("read_only")),
                       is_active=module["state"] == "active")
        if not self.error:
            self.editing_module = ""

    @rx.event
    async def set_module_active(self, module_id: str, active: bool):
        module = next((m for m in self.module_rows if m["id"] == str(module_id)), None)
        if module is None:
            self.error = "Choose a module to change."
            return
        await self._do(config.save_module, "Module restored." if active else
                       "Module retired: its cases and values stay, it is no longer offered.", int(module["id"]),
                       name=module["name"], description=module["description"],
                       is_read_only=module["read_only"] == "yes", is_active=bool(active))

    @rx.event
    async def add_team(self, form: dict):
        await self._do(config.save_team, "Team added.", None, name=str(form.get("name", "")),
                       team_type_id=form.get("team_type_id"))

    @rx.event
    async def add_member(self, form: dict):
        team = next((t for t in self.teams if t["id"] == str(form.get("team_id", ""))), None)
        if team is None:
            self.error = "Choose a team."
            return
        ids = [int(i) for i in team["member_ids"].split(",") if i]
        user = str(form.get("user_id", ""))
        if not user.isdigit():
            self.error = "Choose a member of staff."
            return
        if form.get("remove"):
            ids = [i for i in ids if i != int(user)]
        else:
            ids.append(int(user))
        await self._do(config.set_team_members, "Team members saved.", int(team["id"]), ids)


def _value_actions(r: rx.Var) -> rx.Component:
    S = CaseSettingsState
    return rx.hstack(
        rx.button("↑", size="1", variant="soft", on_click=S.move(r["id"], -1), aria_label="Move up: " + r["name"]),
        rx.button("↓", size="1", variant="soft", on_click=S.move(r["id"], 1), aria_label="Move down: " + r["name"]),
        rx.button("Rename", size="1", variant="soft", on_click=S.start_rename(r["id"]),
                  aria_label="Rename " + r["name"]),
        rx.cond(r["state"] == "active",
                rx.button("Retire", size="1", variant="soft", color_scheme="gray", on_click=S.retire(r["id"]),
                          aria_label="Retire " + r["name"]),
                rx.button("Restore", size="1", variant="soft", color_scheme="green", on_click=S.restore(r["id"]),
                          aria_label="Restore " + r["name"])),
        spacing="1", wrap="wrap",
    )


def _name_cell(r: rx.Var) -> rx.Component:
    S = CaseSettingsState
    return rx.cond(
        S.editing_id == r["id"],
        rx.form(rx.hstack(
            rx.el.label("New name", html_for="rename-" + r["id"], class_name="sr-only"),
            rx.input(name="name", id="rename-" + r["id"], default_value=r["name"], size="1"),
            rx.cond(S.needs_reverse, rx.fragment(
                rx.el.label("Other direction", html_for="rename-rev-" + r["id"], class_name="sr-only"),
                rx.input(name="reverse_name", id="rename-rev-" + r["id"], default_value=r["reverse"], size="1"))),
            rx.button("Save", size="1", type="submit", id="rename-save"),
            rx.button("Cancel", size="1", type="button", variant="soft", on_click=S.cancel_rename),
            spacing="1", wrap="wrap"), on_submit=S.rename),
        rx.text(r["name"] + rx.cond(r["reverse"] != "", " / " + r["reverse"], "")
                + rx.cond(r["class"] != "", " — " + r["class"] + " demand", "")),
    )


def _module_cell(m: rx.Var) -> rx.Component:
    S = CaseSettingsState
    return rx.cond(
        S.editing_module == m["id"],
        rx.form(rx.vstack(
            field("Name", "name", required=True, input_id="module-edit-name", default_value=m["name"]),
            field("Description", "description", input_id="module-edit-description", default_value=m["description"]),
            rx.hstack(rx.checkbox(name="read_only", id="module-edit-read-only", default_checked=m["read_only"] != ""),
                      rx.el.label("Read-only consumer (reads other modules' data, records no cases)",
                                  html_for="module-edit-read-only"), spacing="2", align="center"),
            rx.hstack(rx.button("Save", size="1", type="submit", id="module-edit-save"),
                      rx.button("Cancel", size="1", type="button", variant="soft", on_click=S.cancel_module_edit),
                      spacing="1"),
            spacing="2", align_items="start"), on_submit=S.save_module),
        rx.vstack(rx.text(m["name"], weight="bold"), rx.text(m["description"], size="2"), spacing="0"),
    )


def _module_actions(m: rx.Var) -> rx.Component:
    S = CaseSettingsState
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=S.start_module_edit(m["id"]),
                  aria_label="Edit module " + m["name"]),
        rx.cond(m["state"] == "active",
                rx.button("Retire", size="1", variant="soft", color_scheme="gray",
                          on_click=S.set_module_active(m["id"], False), aria_label="Retire module " + m["name"]),
                rx.button("Restore", size="1", variant="soft", color_scheme="green",
                          on_click=S.set_module_active(m["id"], True), aria_label="Restore module " + m["name"])),
        spacing="1", wrap="wrap",
    )


@staff_page("/casework/settings", "Casework settings", on_load=CaseSettingsState.load)
def casework_settings_page() -> rx.Component:
    S = CaseSettingsState
    return rx.vstack(
        form_error(S.error),
        form_notice(S.notice),
        section("Modules", rx.text(
            "A module is a department's configuration: its demand types and categories, task categories, tasks, "
            "intention types and team types. Add a module, then its lists below.", size="2"),
            data_table(["Module", "Use", "State", "Actions"], S.module_rows,
                       lambda m: [_module_cell(m), m["use"], status_badge(m["state"], ACTIVE_COLOURS),
                                  _module_actions(m)],
                       caption="Departmental modules", row_id=lambda m: "module-" + m["id"], empty="No modules."),
            rx.form(rx.vstack(
                rx.heading("Add a module", size="3", as_="h3"),
                field("Name", "name", required=True, input_id="module-name"),
                field("Description", "description", input_id="module-description"),
                lookup_select("Screens of its own", "module_type", TYPE_OPTIONS, input_id="module-type",
                              default_value=GENERIC, placeholder="Generic module"),
                rx.hstack(rx.checkbox(name="read_only", id="module-read-only"),
                          rx.el.label("Read-only consumer (reads other modules' data, records no cases)",
                                      html_for="module-read-only"), spacing="2", align="center"),
                submit("Add module", "add-module"), spacing="2", align_items="start", width="100%"),
                on_submit=S.add_module, key="module-" + S.form_key.to_string()),
            section_id="modules"),
        section("Lookup lists", rx.form(rx.hstack(
            lookup_select("List", "kind", KIND_OPTIONS, input_id="settings-kind", default_value=S.kind,
                          placeholder="Choose a list"),
            lookup_select("Module", "module_id", S.modules, input_id="settings-module", default_value=S.module_id,
                          hint="For module lists only."),
            rx.button("Show", type="submit", variant="soft", id="settings-show"),
            spacing="2", align="end", wrap="wrap", width="100%"), on_submit=S.choose, key=S.kind + S.module_id),
            data_table(["Value", "Module", "State", "Actions"], S.rows,
                       lambda r: [_name_cell(r), rx.cond(r["module"] != "", r["module"], "All modules"),
                                  status_badge(r["state"], ACTIVE_COLOURS), _value_actions(r)],
                       caption="Values of the chosen list, in the order offered",
                       row_id=lambda r: "value-" + r["id"], empty="No values yet."),
            rx.form(rx.vstack(
                rx.heading("Add a value", size="3", as_="h3"),
                field("Name", "name", required=True, input_id="value-name"),
                rx.cond(S.needs_reverse, field("Read the other way", "reverse_name", input_id="value-reverse",
                                               hint="e.g. 'Child of' for 'Parent of'.")),
                rx.cond(S.needs_class, lookup_select("Value or failure demand", "demand_class", CLASS_OPTIONS,
                                                     input_id="value-class")),
                submit("Add value", "add-value"), spacing="2", align_items="start", width="100%"),
                on_submit=S.add, key="add-" + S.form_key.to_string()),
            section_id="lookups"),
        section("Teams", data_table(
            ["Team", "Team type (module)", "Members"], S.teams, lambda t: [t["name"], t["type"], t["members"]],
            caption="Teams", row_id=lambda t: "team-" + t["id"], empty="No teams."),
            rx.form(rx.hstack(
                field("New team name", "name", required=True, input_id="team-name"),
                lookup_select("Team type", "team_type_id", S.team_types, input_id="team-type", required=True),
                submit("Add team", "add-team"), spacing="2", align="end", wrap="wrap", width="100%"),
                on_submit=S.add_team, key="team-" + S.form_key.to_string()),
            rx.form(rx.hstack(
                lookup_select("Team", "team_id", S.teams, input_id="member-team", required=True),
                lookup_select("Staff member", "user_id", S.staff, input_id="member-user", required=True),
                rx.hstack(rx.checkbox(name="remove", id="member-remove"),
                          rx.el.label("Remove instead of add", html_for="member-remove"), spacing="1"),
                submit("Save membership", "save-member"), spacing="2", align="end", wrap="wrap", width="100%"),
                on_submit=S.add_member, key="member-" + S.form_key.to_string()),
            section_id="teams"),
        spacing="4", width="100%",
    )
