"""/admin/previews: the features in preview and whether each is on for the organisation; an administrator (settings
permission) switches one on or off for their organisation. The service checks the permission and audits."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import previews as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.services.user_group import AREAS
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("User group", NavItem("Feature previews", "/admin/previews", "flask-conical"))


@private
class PreviewsState(rx.State):
    rows: list[dict[str, str]] = []
    can_switch: bool = False
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        rows = await asyncio.to_thread(service.list_for_organisation, actor)
        self.rows = [{"code": r.code, "name": r.name, "area": AREAS.get(r.area, r.area), "about": r.description,
                      "on": "on" if r.enabled else "off",
                      "how": "chosen by your organisation" if r.chosen else "default"} for r in rows]

    @rx.event
    async def load(self):
        actor = await require(self)
        self.can_switch = actor.can(Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        try:
            await self._refresh(actor)
        except AtlasError as exc:
            self.rows, self.error = [], str(exc)

    @rx.event
    async def switch(self, code: str, on: bool):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        try:
            changed = await asyncio.to_thread(service.set_enabled, actor, str(code)[:60], bool(on))
            await self._refresh(actor)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        self.notice = ("Switched " + ("on" if on else "off") + " for your organisation.") if changed else \
            "Nothing changed."


def _switch(r: rx.Var) -> rx.Component:
    S = PreviewsState
    return rx.cond(
        S.can_switch,
        rx.cond(r["on"] == "on",
                rx.button("Switch off", size="1", variant="soft", color_scheme="red", on_click=S.switch(r["code"], False),
                          aria_label="Switch off " + r["name"].to(str), id="preview-off-" + r["code"].to(str)),
                rx.button("Switch on", size="1", variant="soft", on_click=S.switch(r["code"], True),
                          aria_label="Switch on " + r["name"].to(str), id="preview-on-" + r["code"].to(str))),
        rx.text("Your administrator can change this.", size="1", color_scheme="gray"),
    )


@staff_page("/admin/previews", "Feature previews", on_load=PreviewsState.load)
def previews_page() -> rx.Component:
    S = PreviewsState
    return rx.vstack(
        rx.text("Features in preview are finished enough to try but not yet for everyone. Each is off for your "
                "organisation until an administrator switches it on here (they are all on in the demo "
                "organisation). Every switch is in the audit trail."),
        form_error(S.error),
        form_notice(S.notice),
        data_table(["Feature", "Area", "What it does", "For your organisation", ""], S.rows,
                   lambda r: [r["name"], r["area"], r["about"],
                              rx.text(rx.cond(r["on"] == "on", "On", "Off"), " (" + r["how"].to(str) + ")"),
                              _switch(r)],
                   caption="Features in preview", row_id=lambda r: "preview-" + r["code"].to(str),
                   empty="No feature is in preview."),
        spacing="4", width="100%",
    )
