"""/demo: the demo organisation's sign-in page, with a login for each role (they are public: the demo holds only
generated data) and when it was last reset; /admin/demo: the platform administrator's reset button and the nightly
reset (off by default; on, at a London time)."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.user_group import demo_org
from atlas_app.ui.components.forms import field, form_error, form_notice, native_form
from atlas_app.ui.components.kit import checkbox_field, section, submit
from atlas_app.ui.components.shell import public_shell, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.runtime import page
from atlas_app.ui.session import private, public, require
from atlas_app.web_session import safe_next

LOGINS = [{"role": d.role, "username": d.username, "password": d.password, "name": d.full_name}
          for d in demo_org.logins()]


@public
class DemoSignInState(rx.State):
    last_reset: str = ""
    # Filled when the page loads: the logins are for this page only, not in every anonymous tab's first state.
    logins: list[dict[str, str]] = []
    next_path: str = "/staff"

    @rx.event
    async def load(self):
        self.logins = LOGINS
        self.next_path = safe_next(self.router.url.query_parameters.get("next"), "/staff")
        at = await asyncio.to_thread(demo_org.last_reset_at)
        self.last_reset = london(at) if at is not None else ""


@page(route="/demo", title=f"{demo_org.NAME} · Atlas", on_load=DemoSignInState.load)
def demo_sign_in_page() -> rx.Component:
    return public_shell(
        rx.heading(f"Try Atlas: {demo_org.NAME}", size="7", as_="h1"),
        rx.text(f"{demo_org.NAME} is a demonstration organisation full of made-up people, courses, bookings, cases "
                "and dashboards. Sign in with any of the logins below and try anything: every feature in preview "
                "is switched on here. Nothing you do reaches a real council, and the service provider resets it "
                "from time to time, which signs everyone out."),
        rx.cond(DemoSignInState.last_reset != "",
                rx.text("Last reset: " + DemoSignInState.last_reset + ".", size="2", id="demo-last-reset")),
        data_table(["Role", "Username", "Password"], DemoSignInState.logins,
                   lambda r: [r["role"], rx.code(r["username"]), rx.code(r["password"])],
                   caption=f"Demo logins for {demo_org.NAME}", row_id=lambda r: "demo-login-" + r["username"].to(str)),
        native_form(
            rx.vstack(
                field("Username", "username", required=True, autocomplete="username", input_id="username"),
                field("Password", "password", type="password", required=True, autocomplete="current-password",
                      input_id="password"),
                rx.el.input(type="hidden", name="next", value=DemoSignInState.next_path),
                rx.button("Sign in to the demo", type="submit", size="3", width="100%", id="sign-in"),
                spacing="4", width="100%",
            ),
            action="/api/auth/login",
            method="post",
            aria_label=f"Sign in to {demo_org.NAME}",
        ),
        width="44em",
    )


@private
class DemoResetState(rx.State):
    last_reset: str = ""
    error: str = ""
    notice: str = ""
    running: bool = False
    nightly_on: bool = False
    nightly_at: str = "03:00"
    nightly_error: str = ""
    nightly_notice: str = ""

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = "" if actor.is_platform_admin else "Only the platform administrator can reset the demo."
        self.nightly_error = self.nightly_notice = ""
        at = await asyncio.to_thread(demo_org.last_reset_at)
        self.last_reset = london(at) if at is not None else "never"
        setting = await asyncio.to_thread(demo_org.nightly_setting)
        self.nightly_on, self.nightly_at = setting.on, setting.at_text

    @rx.event
    async def save_nightly(self, form: dict):
        actor = await require(self)
        on = str(form.get("nightly", "")) in ("on", "true", "1")
        try:
            setting = await asyncio.to_thread(demo_org.set_nightly, actor, on, str(form.get("at", ""))[:10])
        except AtlasError as exc:
            self.nightly_error, self.nightly_notice = str(exc), ""
            return
        self.nightly_on, self.nightly_at = setting.on, setting.at_text
        self.nightly_error = ""
        self.nightly_notice = (f"{demo_org.NAME} will be reset every night at {setting.at_text} (London time)."
                               if setting.on else "The nightly reset is off.")

    @rx.event
    async def reset_demo(self):
        actor = await require(self)
        if self.running:
            return
        self.running = True
        try:
            report = await asyncio.to_thread(demo_org.reset, actor)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        finally:
            self.running = False
        at = await asyncio.to_thread(demo_org.last_reset_at)
        self.last_reset = london(at) if at is not None else ""
        self.error = ""
        self.notice = (f"{demo_org.NAME} reset: {report.deleted:,} rows deleted and made afresh, "
                       f"{report.users} demo logins, in {report.seconds:.1f} s.")


@staff_page("/admin/demo", "Demo organisation", on_load=DemoResetState.load)
def demo_reset_page() -> rx.Component:
    S = DemoResetState
    return rx.vstack(
        rx.text(f"Resetting {demo_org.NAME} deletes every row of it (people, courses, bookings, cases, audit trail, "
                "users and their sessions) and generates them afresh. No other organisation is touched. Everyone "
                "signed in to the demo is signed out and told why when they next sign in."),
        rx.text("Last reset: " + S.last_reset, id="demo-last-reset"),
        form_error(S.error),
        form_notice(S.notice),
        rx.hstack(
            rx.button("Reset the demo organisation", on_click=S.reset_demo, loading=S.running, color_scheme="red",
                      id="reset-demo"),
            rx.link("Its sign-in page", href="/demo"),
            spacing="4", align="center", wrap="wrap",
        ),
        section(
            "Reset every night",
            rx.text("Off unless you switch it on. Once a night, at the time given (London time), one worker resets "
                    "the demo organisation as the button above does.", size="2"),
            form_error(S.nightly_error),
            form_notice(S.nightly_notice),
            rx.form(
                rx.vstack(
                    checkbox_field("Reset the demo organisation every night", "nightly", input_id="nightly-on",
                                   default_checked=S.nightly_on, value="on"),
                    field("At (London time, HH:MM)", "at", type="time", input_id="nightly-at", required=True,
                          default_value=S.nightly_at),
                    submit("Save the nightly reset", "nightly-save"),
                    spacing="3", align_items="start",
                ),
                on_submit=S.save_nightly,
                reset_on_submit=False,
                aria_label="The nightly reset",
                key=S.nightly_at + rx.cond(S.nightly_on, "-on", "-off"),
            ),
            section_id="demo-nightly",
        ),
        spacing="4", width="100%",
    )
