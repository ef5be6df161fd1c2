"""The login report: who is signed in now, when each user last acted, and the sign-in history."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import users as users_service
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import OUTCOME_COLOURS, USER_STATUS_COLOURS, status_badge
from atlas_app.ui.components.shell import staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require


def browser_name(user_agent: str) -> str:
    """A short, readable name for a browser's user agent ("Chrome on Windows")."""
    ua = user_agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                                           ("Safari/", "Safari")) if key in ua), "")
    system = next((name for key, name in (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iPhone"),
                                          ("iPad", "iPad"), ("Mac OS", "macOS"), ("Linux", "Linux")) if key in ua), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (ua[:40] if ua else "unknown")


@private
class LoginReportState(rx.State):
    signed_in: list[dict[str, str]] = []
    users: list[dict[str, str]] = []
    history: list[dict[str, str]] = []
    outcome: str = ""

    async def _refresh(self, actor) -> None:
        report = await asyncio.to_thread(users_service.login_report, actor, 200, self.outcome or None)
        self.signed_in = [
            {"id": f"signed-in-{r.username}-{r.session_id}", "username": r.username, "full_name": r.full_name,
             "since": london(r.signed_in_at), "last_action": london(r.last_action_at, with_seconds=True),
             "ip": r.ip, "agent": browser_name(r.user_agent)}
            for r in report.signed_in
        ]
        self.users = [
            {"username": r.username, "full_name": r.full_name, "status": r.status,
             "last_login": london(r.last_login_at) or "never",
             "last_action": london(r.last_action_at, with_seconds=True) or "never",
             "now": "Signed in" if r.signed_in_now else "Not signed in"}
            for r in report.users
        ]
        self.history = [
            {"at": london(r.at, with_seconds=True), "username": r.username, "outcome": r.outcome, "ip": r.ip,
             "agent": r.user_agent[:80]}
            for r in report.history
        ]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.LOGIN_REPORT_VIEW)
        await self._refresh(actor)

    @rx.event
    async def filter_outcome(self, outcome: str):
        actor = await require(self, Perm.LOGIN_REPORT_VIEW)
        self.outcome = outcome if outcome in OUTCOME_COLOURS else ""
        await self._refresh(actor)


@staff_page("/admin/logins", "Login report", on_load=LoginReportState.load)
def login_report_page() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading("Signed in now", size="5", as_="h2"),
                  rx.button(rx.icon("refresh-cw", aria_hidden="true"), "Refresh", variant="soft", size="1",
                            on_click=LoginReportState.load), align="center"),
        data_table(
            ["User", "Name", "Signed in", "Last action", "From", "Browser"],
            LoginReportState.signed_in,
            lambda r: [r["username"], r["full_name"], r["since"], r["last_action"], r["ip"], r["agent"]],
            caption="Users signed in now (one row per signed-in browser)",
            row_id=lambda r: r["id"],
            empty="Nobody is signed in.",
        ),
        rx.heading("Every user's last action", size="5", as_="h2"),
        data_table(
            ["User", "Name", "Account", "Now", "Last sign-in", "Last action"],
            LoginReportState.users,
            lambda r: [r["username"], r["full_name"], status_badge(r["status"], USER_STATUS_COLOURS), r["now"],
                       r["last_login"], r["last_action"]],
            caption="Last action of every user",
        ),
        rx.hstack(
            rx.heading("Sign-in history", size="5", as_="h2"),
            rx.el.label("Outcome", html_for="outcome-filter", class_name="sr-only"),
            rx.el.select(
                rx.el.option("All outcomes", value=""),
                *[rx.el.option(o, value=o) for o in OUTCOME_COLOURS],
                id="outcome-filter",
                value=LoginReportState.outcome,
                on_change=LoginReportState.filter_outcome,
                style={"padding": "0.3em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
                       "background": "var(--color-background)"},
            ),
            align="center",
            spacing="3",
        ),
        data_table(
            ["When", "Username tried", "Outcome", "From", "Browser"],
            LoginReportState.history,
            lambda r: [r["at"], r["username"], status_badge(r["outcome"], OUTCOME_COLOURS), r["ip"], r["agent"]],
            caption="Sign-in attempts, newest first",
        ),
        spacing="4",
        width="100%",
    )
