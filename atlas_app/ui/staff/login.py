"""Sign in, forgotten password, and setting a new password from an emailed link (all public)."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.web_session import safe_next
from atlas_app.services.platform import auth as auth_service
from atlas_app.services.platform.auth import (
    ACCOUNT_LOCKED_NOW,
    SECOND_FACTOR_EXPIRED,
    SECOND_FACTOR_FAILED,
    SIGN_IN_FAILED,
)
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.ui.components.forms import field, form_error, form_notice, native_form
from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.runtime import page
from atlas_app.ui.format import london
from atlas_app.ui.session import clear_staff_state, client_ip, public, request_token

SIGN_IN_PAUSED = ("Too many failed sign-in attempts have come from your network, so sign-in from it is paused for "
                  "up to 15 minutes. Please try again later.")


@public
class LoginState(rx.State):
    error: str = ""
    notice: str = ""
    next_path: str = "/staff"

    @rx.event
    async def on_load(self):
        # Whoever used this tab before, their staff data goes now.
        await clear_staff_state(self)
        params = self.router.url.query_parameters
        self.next_path = safe_next(params.get("next"), "/staff")
        self.error = ""
        self.notice = ""
        if params.get("failed") == "origin":
            self.error = "Sign-in was refused because the form did not come from this site. Please try again."
        elif params.get("failed") == "throttled":
            self.error = SIGN_IN_PAUSED
        elif params.get("failed") == "expired":
            self.error = SECOND_FACTOR_EXPIRED
        elif params.get("failed"):
            self.error = SIGN_IN_FAILED
        elif params.get("locked"):
            self.error = ACCOUNT_LOCKED_NOW
        elif params.get("signed_out"):
            self.notice = "You have signed out."
        elif params.get("reset"):
            self.notice = "Your password has been changed. Sign in with the new password."
        elif params.get("unlocked"):
            self.notice = "Your account is unlocked. Sign in with your password."
        elif params.get("next"):
            from atlas_app.services.user_group import demo_org

            reset_at = await asyncio.to_thread(demo_org.signed_out_by_reset, request_token())
            if reset_at is not None:
                self.notice = (f"{demo_org.NAME} was reset at {london(reset_at)}: its data was made afresh and "
                               "everyone working in it was signed out. Sign in again with a demo login.")


@page(route="/login", title="Sign in · Atlas", on_load=LoginState.on_load)
def login_page() -> rx.Component:
    return public_shell(
        rx.heading("Staff sign in", size="7", as_="h1"),
        form_error(LoginState.error),
        form_notice(LoginState.notice),
        native_form(
            rx.vstack(
                field("Username", "username", required=True, autocomplete="username", input_id="username"),
                field("Password", "password", type="password", required=True, autocomplete="current-password",
                      input_id="password"),
                rx.el.input(type="hidden", name="next", value=LoginState.next_path),
                rx.button("Sign in", type="submit", size="3", width="100%", id="sign-in"),
                spacing="4",
                width="100%",
            ),
            action="/api/auth/login",
            method="post",
            aria_label="Sign in",
        ),
        rx.link("Forgotten your password?", href="/forgot-password"),
        rx.text(
            "Accounts lock after 3 failed attempts. The owner is emailed a link to unlock it; an administrator can "
            "unlock it too.",
            size="2",
            color_scheme="gray",
        ),
    )


@public
class SecondFactorState(rx.State):
    error: str = ""
    next_path: str = "/staff"

    @rx.event
    async def on_load(self):
        await clear_staff_state(self)
        params = self.router.url.query_parameters
        self.next_path = safe_next(params.get("next"), "/staff")
        failed = params.get("failed")
        self.error = {"": "", "throttled": SIGN_IN_PAUSED,
                      "origin": "The code was refused because the form did not come from this site. Please try "
                                "again."}.get(failed or "", SECOND_FACTOR_FAILED)


@page(route="/login/code", title="Enter your code · Atlas", on_load=SecondFactorState.on_load)
def second_factor_page() -> rx.Component:
    return public_shell(
        rx.heading("Enter your code", size="7", as_="h1"),
        rx.text("Your account uses two-factor sign-in. Enter the 6-digit code from your authenticator app, or one "
                "of your recovery codes."),
        form_error(SecondFactorState.error),
        native_form(
            rx.vstack(
                field("Code", "code", required=True, autocomplete="one-time-code", input_id="code",
                      hint="6 digits, or a recovery code such as ABCD-EFGH-JKLM."),
                rx.el.input(type="hidden", name="next", value=SecondFactorState.next_path),
                rx.button("Continue", type="submit", size="3", width="100%", id="send-code"),
                spacing="4",
                width="100%",
            ),
            action="/api/auth/second-factor",
            method="post",
            aria_label="Second factor",
        ),
        rx.link("Start again", href="/login"),
    )


@public
class ForgotPasswordState(rx.State):
    message: str = ""
    error: str = ""

    @rx.event
    async def submit(self, form: dict):
        self.error = ""
        try:
            self.message = await asyncio.to_thread(
                auth_service.request_password_reset, str(form.get("identifier", ""))[:254], client_ip(self)
            )
        except ValidationFailed as exc:
            self.error = str(exc)


@page(route="/forgot-password", title="Forgotten password · Atlas")
def forgot_password_page() -> rx.Component:
    return public_shell(
        rx.heading("Forgotten password", size="7", as_="h1"),
        rx.text("Enter your username or email address. We will email you a link to set a new password."),
        form_error(ForgotPasswordState.error),
        form_notice(ForgotPasswordState.message),
        rx.form(
            rx.vstack(
                field("Username or email address", "identifier", required=True, autocomplete="username",
                      input_id="identifier"),
                rx.button("Email me a link", type="submit", size="3", width="100%", id="send-reset"),
                spacing="4",
                width="100%",
            ),
            on_submit=ForgotPasswordState.submit,
        ),
        rx.link("Back to sign in", href="/login"),
    )


@public
class ResetPasswordState(rx.State):
    error: str = ""
    _token: str = ""

    @rx.event
    def on_load(self):
        self._token = self.router.url.query_parameters.get("token", "")[:200]
        self.error = ""

    @rx.event
    async def submit(self, form: dict):
        password = str(form.get("password", ""))
        if password != str(form.get("confirm", "")):
            self.error = "The two passwords do not match."
            return
        try:
            await asyncio.to_thread(auth_service.reset_password_with_token, self._token, password)
        except ValidationFailed as exc:
            self.error = str(exc)
            return
        self._token = ""
        return rx.redirect("/login?reset=1")


@page(route="/reset-password", title="Set a new password · Atlas", on_load=ResetPasswordState.on_load)
def reset_password_page() -> rx.Component:
    return public_shell(
        rx.heading("Set a new password", size="7", as_="h1"),
        form_error(ResetPasswordState.error),
        rx.form(
            rx.vstack(
                field("New password", "password", type="password", required=True, autocomplete="new-password",
                      hint="At least 7 characters, with both letters and digits.", input_id="new-password"),
                field("New password again", "confirm", type="password", required=True,
                      autocomplete="new-password", input_id="confirm-password"),
                rx.button("Set password", type="submit", size="3", width="100%", id="set-password"),
                spacing="4",
                width="100%",
            ),
            on_submit=ResetPasswordState.submit,
        ),
    )


@public
class UnlockAccountState(rx.State):
    error: str = ""
    _token: str = ""

    @rx.event
    def on_load(self):
        self._token = self.router.url.query_parameters.get("token", "")[:200]
        self.error = ""

    @rx.event
    async def submit(self, _form: dict):
        # A button, not the link itself: mail scanners that open links must not use up the link.
        try:
            await asyncio.to_thread(auth_service.unlock_with_token, self._token)
        except ValidationFailed as exc:
            self.error = str(exc)
            return
        self._token = ""
        return rx.redirect("/login?unlocked=1")


@page(route="/unlock-account", title="Unlock your account · Atlas", on_load=UnlockAccountState.on_load)
def unlock_account_page() -> rx.Component:
    return public_shell(
        rx.heading("Unlock your account", size="7", as_="h1"),
        rx.text("Your account was locked after 3 wrong passwords. Unlock it here, then sign in. If you did not try "
                "to sign in, change your password after signing in."),
        form_error(UnlockAccountState.error),
        rx.form(
            rx.button("Unlock my account", type="submit", size="3", width="100%", id="unlock-account"),
            on_submit=UnlockAccountState.submit,
        ),
        rx.link("Back to sign in", href="/login"),
    )
