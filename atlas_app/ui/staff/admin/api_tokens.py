"""API tokens: make a token for another system (shown once), see which exist and when they were last used, revoke.

The raw token never enters Reflex state: the server hands it to the browser with ``rx.set_value`` straight into a
read-only field, so it is not kept in the state store, and it is gone from the page when the user dismisses it.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import api_tokens
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import field, form_error
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

register_nav("Administration", NavItem("API tokens", "/admin/api-tokens", "key-round", Perm.SETTINGS_MANAGE))

TOKEN_FIELD = "new-api-token"
NAME_FIELD = "api-token-name"
TOKEN_STATUS = {"active": "green", "revoked": "gray"}


@private
class ApiTokensState(rx.State):
    rows: list[dict[str, str]] = []
    name_error: str = ""
    form_message: str = ""
    # True while the read-only field shows a new token (its value lives only in that field in the browser).
    token_shown: bool = False
    new_token_name: str = ""
    confirm: dict[str, str] = {}

    async def _refresh(self, actor) -> None:
        tokens = await asyncio.to_thread(api_tokens.list_tokens, actor)
        self.rows = [
            {"id": str(t.id), "name": t.name, "prefix": t.prefix + "…", "created_by": t.created_by,
             "created": london(t.created_at), "last_used": london(t.last_used_at) or "Never",
             "status": "active" if t.active else "revoked", "revoked": london(t.revoked_at)}
            for t in tokens
        ]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.token_shown, self.new_token_name, self.confirm = False, "", {}
        self.name_error = self.form_message = ""
        await self._refresh(actor)
        return rx.set_value(TOKEN_FIELD, "")

    @rx.event
    async def create(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.name_error = self.form_message = ""
        try:
            new = await asyncio.to_thread(api_tokens.create, actor, str(form.get("name") or "")[:200])
        except ValidationFailed as exc:
            self.name_error = str(exc)
            return None
        except AtlasError as exc:
            self.form_message = str(exc)
            return None
        self.token_shown = True
        self.new_token_name = new.view.name
        await self._refresh(actor)
        return [rx.set_value(TOKEN_FIELD, new.token), rx.set_value(NAME_FIELD, "")]

    @rx.event
    def dismiss_token(self):
        self.token_shown = False
        self.new_token_name = ""
        return rx.set_value(TOKEN_FIELD, "")

    @rx.event
    async def ask_revoke(self, token_id: str):
        await require(self, Perm.SETTINGS_MANAGE)
        self.confirm = next((r for r in self.rows if r["id"] == str(token_id) and r["status"] == "active"), {})

    @rx.event
    def cancel_revoke(self):
        self.confirm = {}

    @rx.event
    async def revoke(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        token_id = self.confirm.get("id", "")
        self.confirm = {}
        if not token_id:
            return None
        try:
            view = await asyncio.to_thread(api_tokens.revoke, actor, int(token_id))
        except (AtlasError, ValueError) as exc:
            return rx.toast.error(str(exc))
        await self._refresh(actor)
        return rx.toast.success(f"Token '{view.name}' revoked. Requests using it are now refused.")


def _new_token_box() -> rx.Component:
    # Always in the page (hidden until used) so the browser has the field to receive the token.
    return rx.box(
        rx.callout.root(
            rx.callout.icon(rx.icon("key-round", aria_hidden="true")),
            rx.callout.text(
                rx.text("Token for ", rx.text.strong(ApiTokensState.new_token_name),
                        ". Copy it now: it is shown only this once and cannot be seen again."),
            ),
            color_scheme="amber",
            role="status",
        ),
        rx.el.label("New API token", html_for=TOKEN_FIELD, class_name="sr-only"),
        rx.hstack(
            rx.el.input(id=TOKEN_FIELD, read_only=True, type="text", aria_label="New API token",
                        auto_complete="off", spell_check=False,
                        style={"flex": "1", "font-family": "monospace", "padding": "0.5em",
                               "border": "1px solid var(--gray-7)", "border-radius": "var(--radius-2)",
                               "background": "var(--gray-2)", "min-width": "0"}),
            rx.button(rx.icon("copy", aria_hidden="true"), "Copy", type="button", id="copy-api-token",
                      on_click=rx.call_script(
                          f"navigator.clipboard.writeText(document.getElementById('{TOKEN_FIELD}').value)")),
            rx.button("Done", type="button", variant="soft", on_click=ApiTokensState.dismiss_token,
                      id="dismiss-api-token"),
            width="100%",
            spacing="2",
            margin_top="0.5em",
        ),
        rx.text("Other systems send it as the header ", rx.code("Authorization: Bearer <token>"),
                ". The API is described at ", rx.link("/api/openapi.json", href="/api/openapi.json", is_external=True),
                ".", size="2", color_scheme="gray", margin_top="0.5em"),
        display=rx.cond(ApiTokensState.token_shown, "block", "none"),
        width="100%",
        id="new-token-box",
    )


def _create_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading("New token", size="4", as_="h2"),
            form_error(ApiTokensState.form_message),
            field("Name", "name", required=True, input_id=NAME_FIELD, error=ApiTokensState.name_error,
                  hint="What will use it, for example 'Cleveland Police back office'.", max_length=100),
            rx.button("Create token", type="submit", id="create-api-token"),
            spacing="3",
            align_items="start",
            max_width="32em",
        ),
        on_submit=ApiTokensState.create,
    )


@staff_page("/admin/api-tokens", "API tokens", on_load=ApiTokensState.load)
def api_tokens_page() -> rx.Component:
    return rx.vstack(
        rx.text("API tokens let another system (a police back office, a partner's contact centre) read sessions, "
                "send referrals and make bookings for this organisation through the REST API.", size="2"),
        _new_token_box(),
        _create_form(),
        rx.heading("Tokens", size="4", as_="h2"),
        data_table(
            ["Name", "Starts with", "Created", "By", "Last used", "Status", ""],
            ApiTokensState.rows,
            lambda r: [
                r["name"], rx.code(r["prefix"]), r["created"], r["created_by"], r["last_used"],
                rx.badge(rx.cond(r["status"] == "active", "Active", "Revoked " + r["revoked"]),
                         color_scheme=rx.cond(r["status"] == "active", "green", "gray"), variant="soft"),
                rx.cond(r["status"] == "active",
                        rx.button("Revoke", size="1", color_scheme="red", variant="soft",
                                  on_click=ApiTokensState.ask_revoke(r["id"]), aria_label="Revoke " + r["name"])),
            ],
            caption="API tokens of this organisation",
            empty="No API tokens yet.",
        ),
        rx.alert_dialog.root(
            rx.alert_dialog.content(
                rx.alert_dialog.title("Revoke this token?"),
                rx.alert_dialog.description(
                    "Anything using '", ApiTokensState.confirm["name"], "' will be refused from now on. "
                    "This cannot be undone; make a new token instead."),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Keep it", variant="soft",
                                                     on_click=ApiTokensState.cancel_revoke)),
                    rx.alert_dialog.action(rx.button("Revoke", color_scheme="red", on_click=ApiTokensState.revoke,
                                                     id="confirm-revoke")),
                    spacing="3",
                    justify="end",
                    margin_top="1em",
                ),
                max_width="28em",
            ),
            open=ApiTokensState.confirm.length() > 0,
        ),
        spacing="4",
        width="100%",
    )
