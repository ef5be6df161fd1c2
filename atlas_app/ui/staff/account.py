"""My account: change my own password, two-factor sign-in, sign out everywhere."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import auth as auth_service
from atlas_app.services.platform import two_factor as two_factor_service
from atlas_app.services.platform.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationFailed
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


@private
class TwoFactorState(rx.State):
    """Two-factor sign-in on My account. The QR code and key are held only while setting up, and the recovery codes
    only until the user says they have saved them."""

    enabled: bool = False
    required: bool = False
    codes_left: int = 0
    enrolling: bool = False
    qr: str = ""
    manual_key: str = ""
    recovery_codes: list[str] = []
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        st = await asyncio.to_thread(two_factor_service.status, actor)
        self.enabled, self.required, self.codes_left = st.enabled, st.required, st.recovery_codes_left

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = self.notice = ""
        self.enrolling, self.qr, self.manual_key, self.recovery_codes = False, "", "", []
        await self._refresh(actor)

    @rx.event
    async def start(self):
        actor = await require(self)
        self.error = self.notice = ""
        try:
            enrolment = await asyncio.to_thread(two_factor_service.start_enrolment, actor)
        except Conflict as exc:
            self.error = str(exc)
            return
        self.enrolling, self.qr, self.manual_key = True, enrolment.qr_svg_data_uri, enrolment.manual_key

    @rx.event
    async def cancel(self):
        self.enrolling, self.qr, self.manual_key, self.error = False, "", "", ""

    @rx.event
    async def confirm(self, form: dict):
        actor = await require(self)
        self.error = self.notice = ""
        try:
            codes = await asyncio.to_thread(two_factor_service.confirm_enrolment, actor, str(form.get("code", ""))[:40])
        except (ValidationFailed, Conflict) as exc:
            self.error = str(exc)
            return
        self.enrolling, self.qr, self.manual_key, self.recovery_codes = False, "", "", codes
        self.notice = "Two-factor sign-in is on. You will be asked for a code each time you sign in."
        (await self.get_state(AuthState)).must_enrol_two_factor = False
        await self._refresh(actor)

    @rx.event
    async def new_codes(self, form: dict):
        actor = await require(self)
        self.error = self.notice = ""
        try:
            self.recovery_codes = await asyncio.to_thread(two_factor_service.new_recovery_codes, actor,
                                                          str(form.get("code", ""))[:40])
        except (ValidationFailed, Conflict) as exc:
            self.error = str(exc)
            return
        self.notice = "New recovery codes made; the old ones no longer work."
        await self._refresh(actor)

    @rx.event
    async def saved_codes(self):
        self.recovery_codes = []

    @rx.event
    async def disable(self, form: dict):
        actor = await require(self)
        self.error = self.notice = ""
        try:
            await asyncio.to_thread(two_factor_service.disable, actor, str(form.get("current_password", "")),
                                    str(form.get("code", ""))[:40], client_ip(self),
                                    self.router.headers.user_agent or "")
        except NotAuthenticated:  # the third wrong password or code locked the account
            return rx.redirect("/login?locked=1", is_external=True)
        except (ValidationFailed, Conflict, PermissionDenied) as exc:
            self.error = str(exc)
            return
        self.notice = "Two-factor sign-in is off."
        await self._refresh(actor)


# Someone whose organisation requires two-factor sign-in sets it up before anything else works.
before_password_change(TwoFactorState, "load", "start", "cancel", "confirm", "saved_codes")


def _recovery_codes() -> rx.Component:
    return rx.cond(
        TwoFactorState.recovery_codes.length() > 0,
        rx.callout.root(
            rx.callout.text(
                rx.vstack(
                    rx.text("Your recovery codes. Each works once, in place of a code, if you lose your phone. Save "
                            "them somewhere safe now: they will not be shown again.", weight="medium"),
                    rx.el.ul(rx.foreach(TwoFactorState.recovery_codes,
                                        lambda c: rx.el.li(rx.code(c))), id="recovery-codes"),
                    rx.button("I have saved them", on_click=TwoFactorState.saved_codes, size="2",
                              id="saved-recovery-codes"),
                    spacing="2",
                )
            ),
            color_scheme="green",
        ),
    )


def _two_factor_card() -> rx.Component:
    code_field = field("Code from your app", "code", required=True, autocomplete="one-time-code", input_id="tf-code")
    return rx.card(
        rx.vstack(
            rx.heading("Two-factor sign-in", size="4", as_="h2"),
            rx.cond(
                AuthState.must_enrol_two_factor,
                rx.callout("Your organisation requires two-factor sign-in. Set it up to continue.",
                           icon="shield-check", color_scheme="amber", role="alert"),
            ),
            form_error(TwoFactorState.error),
            form_notice(TwoFactorState.notice),
            _recovery_codes(),
            rx.cond(
                TwoFactorState.enabled,
                rx.vstack(
                    rx.text("On. Recovery codes left: ", TwoFactorState.codes_left, "."),
                    rx.form(
                        rx.vstack(code_field, rx.button("Make new recovery codes", type="submit", variant="soft",
                                                        id="new-recovery-codes"), spacing="2"),
                        on_submit=TwoFactorState.new_codes, reset_on_submit=True,
                    ),
                    rx.cond(
                        TwoFactorState.required,
                        rx.text("Your organisation requires it, so it cannot be turned off.", size="2",
                                color_scheme="gray"),
                        rx.form(
                            rx.vstack(
                                rx.heading("Turn off", size="3", as_="h3"),
                                field("Current password", "current_password", type="password", required=True,
                                      autocomplete="current-password", input_id="tf-password"),
                                field("Code from your app, or a recovery code", "code", required=True,
                                      autocomplete="one-time-code", input_id="tf-off-code"),
                                rx.button("Turn off two-factor sign-in", type="submit", color_scheme="red",
                                          variant="soft", id="disable-two-factor"),
                                spacing="2",
                            ),
                            on_submit=TwoFactorState.disable, reset_on_submit=True,
                        ),
                    ),
                    spacing="3",
                ),
                rx.cond(
                    TwoFactorState.enrolling,
                    rx.vstack(
                        rx.text("Scan this QR code with an authenticator app (for example Microsoft Authenticator "
                                "or Google Authenticator), then enter the 6-digit code it shows."),
                        rx.image(src=TwoFactorState.qr, alt="QR code to add Atlas to an authenticator app",
                                 width="14em", height="14em", id="two-factor-qr"),
                        rx.text("Or type this key into the app: ", rx.code(TwoFactorState.manual_key, id="manual-key")),
                        rx.form(
                            rx.vstack(code_field, rx.hstack(
                                rx.button("Turn on", type="submit", id="confirm-two-factor"),
                                rx.button("Cancel", type="button", variant="soft", on_click=TwoFactorState.cancel),
                                spacing="2"), spacing="2"),
                            on_submit=TwoFactorState.confirm, reset_on_submit=True,
                        ),
                        spacing="3",
                    ),
                    rx.vstack(
                        rx.text("Off. With it on, signing in needs a code from an app on your phone as well as "
                                "your password."),
                        rx.button("Set up two-factor sign-in", on_click=TwoFactorState.start, id="start-two-factor"),
                        spacing="3",
                    ),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        max_width="32em",
    )


@staff_page("/account", "My account", on_load=TwoFactorState.load)
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
        _two_factor_card(),
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
