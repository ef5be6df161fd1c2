"""The module's categories: which demand types the public may report, what they read about each, the council's
promise, and the template response sent to followers at each status (merge fields in the letters' sandbox); and the
map tiles of the organisation's report pages and queue map (``services/platform/maps.py``)."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from atlas_app.domain.statuses import REPORT_LABELS, ReportStatus
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import i18n, maps, welsh
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import welsh_missing
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.kit import checkbox_field, panel, section
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.session import private, require

register_nav("Environmental services", NavItem("Report categories", "/environmental/categories", "tags",
                                               Perm.SETTINGS_MANAGE, module_type="environmental_ticketing"))

STATUSES = [s.value for s in ReportStatus]
MERGE_FIELDS = ("{{ report.reference }}, {{ report.category }}, {{ report.location }}, {{ report.status }}, "
                "{{ report.reason }}, {{ report.promise }}, {{ report.tracking_link }}, {{ organisation.name }}, "
                "{{ name }}")


@dataclasses.dataclass
class ResponseView:
    status: str
    label: str
    body: str
    key: str
    # The Welsh sent to followers written to in Welsh, and whether it is missing (Welsh on, own English, no Welsh).
    body_cy: str = ""
    welsh_missing: bool = False
    shipped_cy: str = ""


@dataclasses.dataclass
class CategoryView:
    id: str
    demand_type_id: str
    demand_type: str
    public_name: str
    description: str
    promise_days: str
    promise: str
    order: str
    public: str
    shown: str
    responses: list[ResponseView]
    name_cy: str = ""
    description_cy: str = ""
    # What the public sees without Welsh while the organisation offers Welsh ("" when nothing).
    welsh_missing: str = ""


def _row(c: reports.CategoryRow, welsh_on: bool) -> CategoryView:
    missing = [what for what, en, cy in (("public name", c.public_name or c.demand_type, c.public_name_cy),
                                         ("description", c.public_description_en, c.public_description_cy))
               if welsh.is_missing(en, cy)] if welsh_on and c.is_public else []
    return CategoryView(str(c.id), str(c.demand_type_id), c.demand_type, c.public_name,
                        c.public_description_en, str(c.promise_days), c.promise, str(c.sort_order),
                        "yes" if c.is_public else "", "Public" if c.is_public else "Staff only (not on the public "
                        "pages or Open311)",
                        [ResponseView(s, REPORT_LABELS[ReportStatus(s)], c.responses.get(s, ""), f"{c.id}-{s}",
                                      c.responses_cy_own.get(s, ""),
                                      welsh_on and c.is_public and s in c.responses_cy_missing,
                                      i18n.gettext(reports.DEFAULT_RESPONSES[s], i18n.CY))
                         for s in STATUSES], c.public_name_cy, c.public_description_cy, ", ".join(missing))


@private
class CategoriesState(rx.State):
    rows: list[CategoryView] = []
    error: str = ""
    notice: str = ""
    tile_url: str = ""
    attribution: str = ""

    async def _refresh(self, actor) -> None:
        welsh_on = await asyncio.to_thread(welsh.offers_welsh, actor.require_org())
        self.rows = [_row(c, welsh_on) for c in await asyncio.to_thread(reports.list_categories, actor)]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        try:
            await asyncio.to_thread(reports.ensure_categories, actor)
            await self._refresh(actor)
            self.tile_url, self.attribution = await asyncio.to_thread(maps.own_tiles, actor)
        except AtlasError as exc:
            self.error = str(exc)

    @rx.event
    async def save_map(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        url, credit = str(form.get("map_tile_url", ""))[:600], str(form.get("map_attribution", ""))[:400]
        try:
            await asyncio.to_thread(maps.set_tiles, actor, url, credit)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.tile_url, self.attribution = await asyncio.to_thread(maps.own_tiles, actor)
        self.notice = "Map tiles saved." if self.tile_url else "Map tiles cleared."

    @rx.event
    async def save(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        try:
            await asyncio.to_thread(
                reports.save_category, actor, str(form.get("demand_type_id", ""))[:12],
                is_public=bool(form.get("is_public")), public_name=str(form.get("public_name", ""))[:120],
                public_description=str(form.get("public_description", ""))[:500],
                promise_days=str(form.get("promise_days", "0"))[:4], sort_order=str(form.get("sort_order", "0"))[:6],
                public_name_cy=str(form.get("public_name_cy", ""))[:120],
                public_description_cy=str(form.get("public_description_cy", ""))[:500])
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = "Category saved."
        await self._refresh(actor)

    @rx.event
    async def save_response(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        try:
            await asyncio.to_thread(reports.set_response, actor, str(form.get("category_id", ""))[:12],
                                    str(form.get("status", ""))[:20], str(form.get("body", ""))[:4000],
                                    str(form.get("body_cy", ""))[:4000])
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = "Template response saved."
        await self._refresh(actor)


_AREA = {"width": "100%", "padding": "0.4em", "border": "1px solid var(--gray-8)", "border-radius": "4px"}


def _response_form(c: rx.Var, r: rx.Var) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.input(type="hidden", name="category_id", value=c.id),
            rx.el.input(type="hidden", name="status", value=r.status),
            rx.el.label("When it becomes “" + r.label + "”", html_for="resp-" + r.key),
            rx.el.textarea(id="resp-" + r.key, name="body", default_value=r.body, rows=3, max_length=4000,
                           style=_AREA),
            welsh_missing(r.welsh_missing, "the Welsh of the " + r.label + " response"),
            rx.el.label("In Welsh (empty: the shipped Welsh, or the English above once it is your own)",
                        html_for="resp-cy-" + r.key),
            rx.el.textarea(id="resp-cy-" + r.key, name="body_cy", default_value=r.body_cy, rows=3, max_length=4000,
                           lang="cy", placeholder=r.shipped_cy, style=_AREA),
            rx.button("Save the " + r.label + " response", type="submit", variant="soft",
                      id="resp-save-" + r.key),
            spacing="1", width="100%", align_items="start"),
        on_submit=CategoriesState.save_response, width="100%")


def _category(c: rx.Var) -> rx.Component:
    def text_input(label: str, name: str, value, **props) -> rx.Component:
        return rx.vstack(rx.el.label(label, html_for=name + "-" + c.id),
                         rx.input(id=name + "-" + c.id, name=name, default_value=value, **props),
                         spacing="1", width="100%")

    return rx.card(rx.vstack(
        rx.heading(c.demand_type, as_="h3", size="3", id="cat-title-" + c.id),
        rx.text(c.shown + " · " + c.promise, size="2", color_scheme="gray"),
        rx.form(rx.vstack(
            rx.el.input(type="hidden", name="demand_type_id", value=c.demand_type_id),
            checkbox_field("Residents may report this", "is_public", input_id="public-" + c.id,
                           default_checked=c.public == "yes", value="1"),
            text_input("Name shown to the public (empty: the demand type's name)", "public_name", c.public_name,
                       max_length=120),
            text_input("Description shown to the public", "public_description", c.description, max_length=500),
            welsh_missing(c.welsh_missing != "", c.welsh_missing),
            text_input("Name in Welsh (empty: the English name)", "public_name_cy", c.name_cy, max_length=120),
            text_input("Description in Welsh (empty: the English description)", "public_description_cy",
                       c.description_cy, max_length=500),
            rx.hstack(text_input("Promise (working days; 0 for none)", "promise_days", c.promise_days,
                                 type="number", min=0, max=365),
                      text_input("Order", "sort_order", c.order, type="number"), spacing="3", width="100%"),
            rx.button("Save category", type="submit", id="cat-save-" + c.id),
            spacing="2", width="100%", align_items="start"), on_submit=CategoriesState.save, width="100%"),
        panel("Template responses", rx.vstack(
            rx.text("Sent to followers when a report of this category changes status. Merge fields: " + MERGE_FIELDS,
                    size="2", color_scheme="gray"),
            rx.foreach(c.responses, lambda r: _response_form(c, r)), spacing="3", width="100%"),
            panel_id="responses-" + c.id),
        spacing="3", width="100%"), width="100%", id="category-" + c.id)


@staff_page("/environmental/categories", "Report categories", on_load=CategoriesState.load)
def categories_page() -> rx.Component:
    S = CategoriesState
    return rx.vstack(
        section("Report categories",
                rx.text("Each demand type of the Environmental Services module is a category. Mark the ones "
                        "residents may report on the public pages (and report-it sites through Open311).",
                        size="2", color_scheme="gray"),
                form_error(S.error), form_notice(S.notice),
                rx.cond(S.rows.length() == 0, rx.text("The module has no demand types yet: add them in casework "
                                                      "settings.", color_scheme="gray")),
                rx.foreach(S.rows, _category), section_id="categories"),
        section("Map",
                rx.text("The tile address (with {z}, {x} and {y}) of the map residents drop a pin on and the queue's "
                        "map, and the credit its provider requires. Leave it empty to use the site's own setting; "
                        "with neither, residents find the place by address only.", size="2", color_scheme="gray"),
                rx.form(rx.vstack(
                    rx.el.label("Tile address", html_for="map-tile-url"),
                    rx.input(id="map-tile-url", name="map_tile_url", default_value=S.tile_url, max_length=500,
                             placeholder="https://tiles.example.org/{z}/{x}/{y}.png", width="100%"),
                    rx.el.label("Attribution", html_for="map-attribution"),
                    rx.input(id="map-attribution", name="map_attribution", default_value=S.attribution,
                             max_length=300, width="100%"),
                    rx.button("Save map tiles", type="submit", id="map-save"),
                    spacing="2", width="100%", align_items="start"), on_submit=S.save_map, width="100%"),
                section_id="map-settings"),
        width="100%",
    )
