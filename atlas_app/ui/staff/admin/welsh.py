"""/admin/welsh: the organisation's Welsh public service. Administrators (settings.manage) turn it on or off
(audited); every member of staff sees which of the organisation's own texts have no Welsh yet, each with a link to
the screen where it is written (services/platform/welsh.py). The menu lists the page under Administration for
administrators; the screens where the texts are written mark each missing Welsh text for whoever writes them."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import welsh as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Administration", NavItem("Welsh language", "/admin/welsh", "languages", Perm.SETTINGS_MANAGE))


@private
class WelshState(rx.State):
    enabled: bool = False
    can_switch: bool = False
    missing: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        status = await asyncio.to_thread(service.status, actor)
        self.enabled = status.enabled
        self.can_switch = actor.can(Perm.SETTINGS_MANAGE)
        self.missing = [{"area": m.area, "item": m.item, "field": m.field, "href": m.href, "key": str(i)}
                        for i, m in enumerate(status.missing)]

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def switch(self, on: bool):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        try:
            changed = await asyncio.to_thread(service.set_welsh, actor, bool(on))
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        self.notice = (("Welsh is now offered on your public pages." if on else
                        "Your public pages no longer offer Welsh.") if changed else "Nothing changed.")
        await self._refresh(actor)


S = WelshState


@staff_page("/admin/welsh", "Welsh language", on_load=S.load)
def welsh_page() -> rx.Component:
    return rx.vstack(
        rx.text("When Welsh is on, every public page of your organisation links to its Welsh version, clients may "
                "ask to be written to in Welsh, and your own texts are shown in Welsh where you have written them. "
                "Every change is in the audit trail."),
        rx.cond(S.error != "", rx.callout(S.error, icon="triangle_alert", color_scheme="red", role="alert")),
        rx.cond(S.notice != "", rx.callout(S.notice, icon="check", color_scheme="green", role="status")),
        rx.hstack(
            rx.text("Welsh public service: ", rx.text.strong(rx.cond(S.enabled, "on", "off"), id="welsh-state")),
            rx.cond(
                S.can_switch,
                rx.cond(
                    S.enabled,
                    rx.button("Turn Welsh off", on_click=S.switch(False), variant="soft", color_scheme="red",
                              id="welsh-off", style={"min_height": "44px"}),
                    rx.button("Turn Welsh on", on_click=S.switch(True), id="welsh-on", style={"min_height": "44px"}),
                ),
                rx.text("An administrator can change this.", size="2", color_scheme="gray"),
            ),
            spacing="4", align="center", wrap="wrap",
        ),
        rx.heading("Texts without Welsh", size="4", as_="h2"),
        rx.text(rx.cond(S.missing.length() > 0,
                        rx.text(S.missing.length(), " of your texts have no Welsh yet. Until they have, the English "
                                "is shown on the Welsh pages."),
                        "Every text the public sees has its Welsh."), id="welsh-missing-count"),
        data_table(["Where", "Item", "Text", ""], S.missing,
                   lambda m: [m["area"], m["item"], m["field"],
                              rx.link("Write the Welsh", rx.el.span(" for ", m["item"], " (", m["field"], ")",
                                                                  class_name="sr-only"), href=m["href"])],
                   caption="Texts without Welsh", row_id=lambda m: "missing-" + m["key"].to(str),
                   empty="Nothing is missing."),
        spacing="4",
        width="100%",
        align_items="stretch",
    )
