"""/admin/organisations: the platform administrator's list of organisations, with the switch that lets an
organisation take demo card payments (demo organisations only). Everyone else is refused by the service."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import organisations as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.ui.components.shell import staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require


@private
class OrganisationsState(rx.State):
    rows: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        rows = await asyncio.to_thread(service.list_organisations, actor)
        self.rows = [{"id": str(r.id), "name": r.name, "slug": r.slug, "active": "yes" if r.is_active else "no",
                      "demo": "on" if r.payments_demo else "off"} for r in rows]

    @rx.event
    async def load(self):
        actor = await require(self)
        self.error = self.notice = ""
        try:
            await self._refresh(actor)
        except AtlasError as exc:
            self.rows, self.error = [], str(exc)

    @rx.event
    async def set_demo(self, organisation_id: str, on: bool):
        actor = await require(self)
        try:
            changed = await asyncio.to_thread(service.set_payments_demo, actor, organisation_id, bool(on))
            await self._refresh(actor)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        self.notice = ("Demo card payments switched " + ("on." if on else "off.")) if changed else "Nothing changed."


def _switch(r: rx.Var) -> rx.Component:
    return rx.cond(
        r["demo"] == "on",
        rx.button("Switch off", size="1", variant="soft", color_scheme="red",
                  on_click=OrganisationsState.set_demo(r["id"], False), aria_label="Switch off demo payments for " +
                  r["name"].to(str)),
        rx.button("Switch on", size="1", variant="soft",
                  on_click=OrganisationsState.set_demo(r["id"], True), aria_label="Switch on demo payments for " +
                  r["name"].to(str)),
    )


@staff_page("/admin/organisations", "Organisations", on_load=OrganisationsState.load)
def organisations_page() -> rx.Component:
    S = OrganisationsState
    return rx.vstack(
        rx.text("Demo card payments: the labelled demo provider takes an organisation's card payments only when it "
                "is switched on here (for demonstration organisations) or the whole deployment is a demo. No real "
                "money moves. Every change is in the audit trail."),
        rx.cond(S.error != "", rx.callout(S.error, icon="triangle_alert", color_scheme="red", role="alert")),
        rx.cond(S.notice != "", rx.callout(S.notice, icon="check", color_scheme="green", role="status")),
        data_table(["Organisation", "Short name", "Active", "Demo card payments", ""], S.rows,
                   lambda r: [r["name"], r["slug"], r["active"], r["demo"], _switch(r)],
                   caption="Organisations", row_id=lambda r: "org-" + r["id"].to(str),
                   empty="No organisations to show."),
        spacing="4",
        width="100%",
    )
