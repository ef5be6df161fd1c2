"""Roles: configurable sets of permissions, managed by administrators."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import users as users_service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import PERMISSION_LABELS, Perm
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.shell import AuthState, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

PERMISSION_CHOICES = [{"code": str(code), "label": label} for code, label in PERMISSION_LABELS.items()]


@private
class RolesState(rx.State):
    rows: list[dict[str, str]] = []
    notice: str = ""
    dialog_open: bool = False
    editing_id: str = ""
    form_key: int = 0
    form_name: str = ""
    form_description: str = ""
    form_permissions: list[str] = []
    form_error: str = ""

    async def _refresh(self, actor) -> None:
        roles = await asyncio.to_thread(users_service.list_roles, actor)
        self.rows = [
            {
                "id": str(r.id),
                "name": r.name,
                "description": r.description,
                "permissions": ",".join(r.permissions),
                "permission_count": str(len(r.permissions)),
                "users": str(r.user_count),
            }
            for r in roles
        ]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.ROLES_MANAGE)
        self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def open_create(self):
        await require(self, Perm.ROLES_MANAGE)
        self.editing_id = self.form_name = self.form_description = self.form_error = ""
        self.form_permissions = []
        self.form_key += 1
        self.dialog_open = True

    @rx.event
    async def open_edit(self, role_id: str):
        await require(self, Perm.ROLES_MANAGE)
        row = next((r for r in self.rows if r["id"] == str(role_id)), None)
        if row is None:
            return
        self.editing_id = row["id"]
        self.form_name = row["name"]
        self.form_description = row["description"]
        self.form_permissions = [p for p in row["permissions"].split(",") if p]
        self.form_error = ""
        self.form_key += 1
        self.dialog_open = True

    @rx.event
    def set_dialog_open(self, open_: bool):
        self.dialog_open = bool(open_)

    @rx.event
    async def save(self, form: dict):
        actor = await require(self, Perm.ROLES_MANAGE)
        perms = [k[5:] for k, v in form.items() if k.startswith("perm_") and v in (True, "on", "true", "1")]
        try:
            await asyncio.to_thread(
                users_service.save_role, actor, int(self.editing_id) if self.editing_id else None,
                name=str(form.get("name", "")), description=str(form.get("description", "")), permissions=perms,
            )
        except AtlasError as exc:
            self.form_error = str(exc)
            return
        self.dialog_open = False
        self.notice = f"Saved the role {str(form.get('name', '')).strip()}."
        await self._refresh(actor)

    @rx.event
    async def delete(self, role_id: str):
        actor = await require(self, Perm.ROLES_MANAGE)
        try:
            await asyncio.to_thread(users_service.delete_role, actor, int(role_id))
        except (AtlasError, ValueError) as exc:
            return rx.toast.error(str(exc))
        self.notice = "Role deleted."
        await self._refresh(actor)


def _role_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(RolesState.editing_id != "", "Edit role", "New role")),
            rx.dialog.description("Tick what people holding this role may do.", size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    form_error(RolesState.form_error),
                    field("Name", "name", required=True, default_value=RolesState.form_name, input_id="role-name"),
                    field("Description", "description", default_value=RolesState.form_description,
                          input_id="role-description"),
                    rx.el.fieldset(
                        rx.el.legend("Permissions", style={"font-weight": "500"}),
                        rx.vstack(
                            *[
                                rx.text(
                                    rx.hstack(
                                        rx.checkbox(name=f"perm_{p['code']}", id=f"perm-{p['code']}",
                                                    default_checked=RolesState.form_permissions.contains(p["code"])),
                                        rx.el.label(p["label"], html_for=f"perm-{p['code']}"),
                                        spacing="2",
                                        align="center",
                                    ),
                                    as_="div",
                                )
                                for p in PERMISSION_CHOICES
                            ],
                            spacing="1",
                        ),
                        style={"border": "1px solid var(--gray-6)", "border-radius": "var(--radius-2)",
                               "padding": "0.5em 0.75em"},
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Save", type="submit", id="save-role"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=RolesState.save,
                key=RolesState.form_key,
            ),
            max_width="34em",
        ),
        open=RolesState.dialog_open,
        on_open_change=RolesState.set_dialog_open,
    )


@staff_page("/admin/roles", "Roles", on_load=RolesState.load)
def roles_page() -> rx.Component:
    return rx.vstack(
        form_notice(RolesState.notice),
        rx.cond(AuthState.permissions.contains(Perm.ROLES_MANAGE),
                rx.hstack(rx.spacer(), rx.button(rx.icon("plus", aria_hidden="true"), "New role",
                                                 on_click=RolesState.open_create, id="new-role"), width="100%")),
        data_table(
            ["Role", "Description", "Permissions", "Users", "Actions"],
            RolesState.rows,
            lambda row: [
                rx.text(row["name"], weight="medium"),
                row["description"],
                row["permission_count"],
                row["users"],
                rx.hstack(
                    rx.button("Edit", size="1", variant="soft", on_click=RolesState.open_edit(row["id"]),
                              aria_label="Edit role " + row["name"]),
                    rx.button("Delete", size="1", variant="soft", color_scheme="red",
                              on_click=RolesState.delete(row["id"]), aria_label="Delete role " + row["name"]),
                    spacing="2",
                ),
            ],
            caption="Roles of this organisation",
        ),
        _role_dialog(),
        spacing="4",
        width="100%",
    )
