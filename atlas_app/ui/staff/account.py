"""My account: change my own password, sign out everywhere."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import auth as auth_service
from atlas_app.services.platform.errors import NotAuthenticated, ValidationFailed
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.shell import AuthState, staff_page
from atlas_app.ui.session import before_password_change, client_ip, private, require


@private
class AccountState(rx.State):
    error: str = ""
    notice: str = ""

    @rx.event
    async def change_password(self, form: dict):
        actor = await require(self)
        self.error = self.notice = ""
        new = str(form.get("new_password", ""))
        if new != str(form.get("confirm", "")):
            self.error = "The two new passwords do not match."
            return
        try:
            await asyncio.to_thread(auth_service.change_own_password, actor, str(form.get("current_password", "")),
                                    new, client_ip(self),
                                    self.router.headers.user_agent or "")
        except ValidationFailed as exc:
            self.error = str(exc)
            return
        except NotAuthenticated:  # the third wrong current password locked the account
            return rx.redirect("/login?locked=1", is_external=True)
        self.notice = "Your password has been changed. Your other sessions have been signed out."
        (await self.get_state(AuthState)).must_change_password = False
        return rx.set_value("current-password", "")


before_password_change(AccountState, "change_password")


@staff_page("/account", "My account")
def account_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            AuthState.must_change_password,
            rx.callout("Your password was set by an administrator. Choose your own password to continue.",
                       icon="key-round", color_scheme="amber", role="alert"),
        ),
        rx.card(
            rx.vstack(
                rx.heading("Change my password", size="4", as_="h2"),
                form_error(AccountState.error),
                form_notice(AccountState.notice),
                rx.form(
                    rx.vstack(
                        field("Current password", "current_password", type="password", required=True,
                              autocomplete="current-password", input_id="current-password"),
                        field("New password", "new_password", type="password", required=True,
                              autocomplete="new-password", hint="At least 7 characters, with both letters and digits.",
                              input_id="new-password"),
                        field("New password again", "confirm", type="password", required=True,
                              autocomplete="new-password", input_id="confirm-password"),
                        rx.button("Change password", type="submit", id="change-password"),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=AccountState.change_password,
                    reset_on_submit=True,
                ),
                spacing="3",
                width="100%",
            ),
            max_width="32em",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Sign out everywhere", size="4", as_="h2"),
                rx.text("Ends every session of your account, on every device, including this one."),
                rx.button("Sign out everywhere", color_scheme="red", variant="soft",
                          on_click=AuthState.sign_out_everywhere, id="sign-out-everywhere"),
                spacing="3",
            ),
            max_width="32em",
        ),
        spacing="4",
        width="100%",
    )
