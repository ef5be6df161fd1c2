"""User maintenance for administrators: create, edit, disable, unlock, reset password or two-factor sign-in,
assign roles, and who must use two-factor sign-in."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import two_factor as two_factor_service
from atlas_app.services.platform import users as users_service
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import USER_STATUS_COLOURS, status_badge
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.shell import AuthState, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require


def _role_ids_from_form(form: dict) -> list[int]:
    ids = []
    for key, value in form.items():
        if key.startswith("role_") and value in (True, "on", "true", "1"):
            try:
                ids.append(int(key[5:]))
            except ValueError:
                continue
    return ids


@private
class UsersState(rx.State):
    rows: list[dict[str, str]] = []
    roles: list[dict[str, str]] = []
    search: str = ""
    notice: str = ""
    # The create / edit dialog
    dialog_open: bool = False
    editing_id: str = ""
    form_key: int = 0
    form_username: str = ""
    form_full_name: str = ""
    form_email: str = ""
    form_role_ids: list[str] = []
    form_error: str = ""
    # The reset-password dialog
    reset_open: bool = False
    reset_user_id: str = ""
    reset_username: str = ""
    reset_error: str = ""
    # Who in the organisation must use two-factor sign-in
    two_factor_rule: str = ""  # filled in by load; nothing of the organisation before the gate lets it

    async def _refresh(self, actor) -> None:
        rows = await asyncio.to_thread(users_service.list_users, actor, self.search)
        roles = await asyncio.to_thread(users_service.list_roles, actor)
        self.rows = [
            {
                "id": str(r.id),
                "username": r.username,
                "full_name": r.full_name,
                "email": r.email,
                "status": r.status,
                "roles": ", ".join(r.roles) or "—",
                "role_ids": ",".join(str(i) for i in r.role_ids),
                "last_login": london(r.last_login_at) or "never",
                "two_factor": "on" if r.two_factor else "",
            }
            for r in rows
        ]
        self.roles = [{"id": str(r.id), "name": r.name} for r in roles]
        self.two_factor_rule = await asyncio.to_thread(two_factor_service.requirement, actor)

    @rx.event
    async def load(self):
        actor = await require(self, Perm.USERS_MANAGE)
        self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def apply_search(self, form: dict):
        actor = await require(self, Perm.USERS_MANAGE)
        self.search = str(form.get("search", ""))[:100]
        await self._refresh(actor)

    @rx.event
    async def open_create(self):
        await require(self, Perm.USERS_MANAGE)
        self.editing_id = ""
        self.form_username = self.form_full_name = self.form_email = ""
        self.form_role_ids = []
        self.form_error = ""
        self.form_key += 1
        self.dialog_open = True

    @rx.event
    async def open_edit(self, user_id: str):
        await require(self, Perm.USERS_MANAGE)
        row = next((r for r in self.rows if r["id"] == str(user_id)), None)
        if row is None:
            return
        self.editing_id = row["id"]
        self.form_username = row["username"]
        self.form_full_name = row["full_name"]
        self.form_email = row["email"]
        self.form_role_ids = [i for i in row["role_ids"].split(",") if i]
        self.form_error = ""
        self.form_key += 1
        self.dialog_open = True

    @rx.event
    def set_dialog_open(self, open_: bool):
        self.dialog_open = bool(open_)

    @rx.event
    async def save(self, form: dict):
        actor = await require(self, Perm.USERS_MANAGE)
        role_ids = _role_ids_from_form(form)
        try:
            if self.editing_id:
                await asyncio.to_thread(
                    users_service.update_user, actor, int(self.editing_id),
                    full_name=str(form.get("full_name", "")), email=str(form.get("email", "")), role_ids=role_ids,
                )
                self.notice = f"Saved {self.form_username}."
            else:
                await asyncio.to_thread(
                    users_service.create_user, actor,
                    username=str(form.get("username", "")), full_name=str(form.get("full_name", "")),
                    email=str(form.get("email", "")), password=str(form.get("password", "")), role_ids=role_ids,
                )
                self.notice = f"Created {str(form.get('username', '')).strip().lower()}."
        except ValidationFailed as exc:
            details = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in exc.errors.items())
            self.form_error = f"{exc} {details}".strip() if details and details not in str(exc) else str(exc)
            return
        except AtlasError as exc:
            self.form_error = str(exc)
            return
        self.dialog_open = False
        await self._refresh(actor)

    async def _act(self, fn, user_id: str, done: str, *args):
        actor = await require(self, Perm.USERS_MANAGE)
        try:
            await asyncio.to_thread(fn, actor, int(user_id), *args)
        except (AtlasError, ValueError) as exc:
            await self._refresh(actor)
            return rx.toast.error(str(exc) if isinstance(exc, AtlasError) else "That user cannot be found.")
        self.notice = done
        await self._refresh(actor)

    @rx.event
    async def disable(self, user_id: str):
        return await self._act(users_service.set_active, user_id, "User disabled; their sessions have ended.", False)

    @rx.event
    async def enable(self, user_id: str):
        return await self._act(users_service.set_active, user_id, "User enabled.", True)

    @rx.event
    async def unlock(self, user_id: str):
        return await self._act(users_service.unlock, user_id, "User unlocked.")

    @rx.event
    async def reset_two_factor(self, user_id: str):
        return await self._act(users_service.reset_two_factor, user_id,
                               "Two-factor sign-in reset; the user has been emailed and can set it up again.")

    @rx.event
    async def set_two_factor_rule(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        try:
            await asyncio.to_thread(two_factor_service.set_requirement, actor, str(form.get("rule", ""))[:10])
        except AtlasError as exc:
            return rx.toast.error(str(exc))
        self.notice = "Two-factor sign-in requirement saved."
        await self._refresh(actor)

    @rx.event
    def set_two_factor_rule_value(self, value: str):
        self.two_factor_rule = str(value)[:10]

    @rx.event
    async def open_reset(self, user_id: str):
        await require(self, Perm.USERS_MANAGE)
        row = next((r for r in self.rows if r["id"] == str(user_id)), None)
        if row is None:
            return
        self.reset_user_id = row["id"]
        self.reset_username = row["username"]
        self.reset_error = ""
        self.reset_open = True

    @rx.event
    def set_reset_open(self, open_: bool):
        self.reset_open = bool(open_)

    @rx.event
    async def reset_password(self, form: dict):
        actor = await require(self, Perm.USERS_MANAGE)
        password = str(form.get("password", ""))
        if password != str(form.get("confirm", "")):
            self.reset_error = "The two passwords do not match."
            return
        try:
            await asyncio.to_thread(users_service.reset_password, actor, int(self.reset_user_id), password,
                                    bool(form.get("must_change")))
        except (AtlasError, ValueError) as exc:
            self.reset_error = str(exc)
            return
        self.reset_open = False
        self.notice = f"Password reset for {self.reset_username}; the account is unlocked and their sessions ended."
        await self._refresh(actor)


def _actions(row: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=UsersState.open_edit(row["id"]),
                  aria_label="Edit " + row["username"]),
        rx.button("Reset password", size="1", variant="soft", on_click=UsersState.open_reset(row["id"]),
                  aria_label="Reset password of " + row["username"]),
        rx.cond(
            row["two_factor"] == "on",
            rx.button("Reset two-factor", size="1", variant="soft", color_scheme="orange",
                      on_click=UsersState.reset_two_factor(row["id"]),
                      aria_label="Reset two-factor sign-in of " + row["username"]),
        ),
        rx.cond(
            row["status"] == "locked",
            rx.button("Unlock", size="1", color_scheme="orange", high_contrast=True,
                      on_click=UsersState.unlock(row["id"]), aria_label="Unlock " + row["username"]),
        ),
        rx.cond(
            row["status"] == "disabled",
            rx.button("Enable", size="1", variant="soft", color_scheme="green",
                      on_click=UsersState.enable(row["id"]), aria_label="Enable " + row["username"]),
            rx.button("Disable", size="1", variant="soft", color_scheme="gray",
                      on_click=UsersState.disable(row["id"]), aria_label="Disable " + row["username"]),
        ),
        spacing="2",
        wrap="wrap",
    )


def _user_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(UsersState.editing_id != "", "Edit user", "New user")),
            rx.dialog.description("Fields marked required must be filled in.", size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    form_error(UsersState.form_error),
                    rx.cond(
                        UsersState.editing_id == "",
                        field("Username", "username", required=True, input_id="user-username",
                              hint="Lower-case letters, digits, dot, dash or underscore."),
                        rx.text("Username: ", rx.text.strong(UsersState.form_username)),
                    ),
                    field("Full name", "full_name", required=True, default_value=UsersState.form_full_name,
                          input_id="user-full-name"),
                    field("Email", "email", type="email", default_value=UsersState.form_email,
                          input_id="user-email"),
                    rx.cond(
                        UsersState.editing_id == "",
                        field("Initial password", "password", type="password", required=True,
                              autocomplete="new-password", input_id="user-password",
                              hint="At least 7 characters with letters and digits; they change it at first sign-in."),
                    ),
                    rx.el.fieldset(
                        rx.el.legend("Roles", style={"font-weight": "500"}),
                        rx.vstack(
                            rx.foreach(
                                UsersState.roles,
                                lambda role: rx.text(
                                    rx.hstack(
                                        rx.checkbox(name="role_" + role["id"],
                                                    default_checked=UsersState.form_role_ids.contains(role["id"]),
                                                    id="role-" + role["id"]),
                                        rx.el.label(role["name"], html_for="role-" + role["id"]),
                                        spacing="2",
                                        align="center",
                                    ),
                                    as_="div",
                                ),
                            ),
                            spacing="1",
                        ),
                        style={"border": "1px solid var(--gray-6)", "border-radius": "var(--radius-2)",
                               "padding": "0.5em 0.75em"},
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Save", type="submit", id="save-user"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=UsersState.save,
                key=UsersState.form_key,
            ),
            max_width="30em",
        ),
        open=UsersState.dialog_open,
        on_open_change=UsersState.set_dialog_open,
    )


def _reset_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Reset password"),
            rx.dialog.description(
                rx.text("Set a new password for ", rx.text.strong(UsersState.reset_username),
                        ". Their sessions end and the account is unlocked."),
                size="2",
            ),
            rx.form(
                rx.vstack(
                    form_error(UsersState.reset_error),
                    field("New password", "password", type="password", required=True, autocomplete="new-password",
                          input_id="reset-password", hint="At least 7 characters, with letters and digits."),
                    field("New password again", "confirm", type="password", required=True,
                          autocomplete="new-password", input_id="reset-confirm"),
                    rx.text(
                        rx.hstack(rx.checkbox(name="must_change", default_checked=True, id="reset-must-change"),
                                  rx.el.label("They must change it when they next sign in",
                                              html_for="reset-must-change"),
                                  spacing="2", align="center"),
                        as_="div",
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Reset password", type="submit", id="confirm-reset"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=UsersState.reset_password,
                reset_on_submit=True,
            ),
            max_width="30em",
        ),
        open=UsersState.reset_open,
        on_open_change=UsersState.set_reset_open,
    )


def _two_factor_rule_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.label("Two-factor sign-in required for", html_for="two-factor-rule"),
            rx.el.select(
                rx.el.option("Nobody", value="none"),
                rx.el.option("Administrators (users who manage users)", value="admins"),
                rx.el.option("All staff", value="all"),
                id="two-factor-rule", name="rule", value=UsersState.two_factor_rule,
                on_change=UsersState.set_two_factor_rule_value,
            ),
            rx.button("Save", type="submit", variant="soft", id="save-two-factor-rule"),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        on_submit=UsersState.set_two_factor_rule,
    )


@staff_page("/admin/users", "Users", on_load=UsersState.load)
def users_page() -> rx.Component:
    return rx.vstack(
        form_notice(UsersState.notice),
        rx.hstack(
            rx.form(
                rx.hstack(
                    rx.el.label("Search users", html_for="user-search", class_name="sr-only"),
                    rx.input(id="user-search", name="search", placeholder="Name, username or email",
                             default_value=UsersState.search),
                    rx.button("Search", type="submit", variant="soft"),
                    spacing="2",
                ),
                on_submit=UsersState.apply_search,
            ),
            rx.spacer(),
            rx.cond(AuthState.permissions.contains(Perm.USERS_MANAGE),
                    rx.button(rx.icon("plus", aria_hidden="true"), "New user", on_click=UsersState.open_create,
                              id="new-user")),
            width="100%",
            wrap="wrap",
        ),
        data_table(
            ["Username", "Name", "Email", "Roles", "Status", "Two-factor", "Last sign-in", "Actions"],
            UsersState.rows,
            lambda row: [
                rx.text(row["username"], weight="medium"),
                row["full_name"],
                row["email"],
                row["roles"],
                status_badge(row["status"], USER_STATUS_COLOURS),
                rx.cond(row["two_factor"] == "on", "on", "off"),
                row["last_login"],
                _actions(row),
            ],
            caption="Users of this organisation",
            row_id=lambda row: "user-row-" + row["username"],
        ),
        rx.cond(AuthState.permissions.contains(Perm.SETTINGS_MANAGE), _two_factor_rule_form()),
        _user_dialog(),
        _reset_dialog(),
        spacing="4",
        width="100%",
    )
