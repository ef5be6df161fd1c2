"""Servicing set-up: engineers (with their daily limits), installation types and their certificate regimes, and the
stock-list import (all or nothing; every bad row listed)."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.modules.utilities_servicing import imports as import_service
from atlas_app.services.modules.utilities_servicing import installations as inst_service
from atlas_app.services.modules.utilities_servicing import programme as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.kit import checkbox_field, section
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require
from atlas_app.ui.staff.modules.utilities_servicing.programme import MODULE, SECTION

register_nav(SECTION, NavItem("Servicing set-up", "/utilities/setup", "wrench", Perm.CASES_MANAGE,
                              module_type=MODULE))

MAX_UPLOAD = 50 * 1024 * 1024


@private
class SetupState(rx.State):
    engineers: list[dict[str, str]] = []
    types: list[dict[str, str]] = []
    editing_type: dict[str, str] = {}
    error: str = ""
    notice: str = ""
    import_errors: list[str] = []
    form_key: int = 0

    async def _refresh(self, actor) -> None:
        engineers = await asyncio.to_thread(service.list_engineers, actor)
        self.engineers = [{"id": str(e.id), "name": e.full_name, "email": e.email, "registration": e.registration,
                           "limit": str(e.max_appointments_per_day),
                           "status": "Active" if e.is_active else "Inactive"} for e in engineers]
        types = await asyncio.to_thread(inst_service.list_types, actor)
        self.types = [{"id": str(t.id), "code": t.code, "name": t.name, "regime": t.regime,
                       "interval": str(t.interval_months), "window": str(t.early_window_months),
                       "required": "Yes" if t.is_required else "No"} for t in types]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_MANAGE)
        self.error = self.notice = ""
        self.import_errors = []
        self.editing_type = {}
        await self._refresh(actor)

    @rx.event
    async def add_engineer(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        try:
            await asyncio.to_thread(service.save_engineer, actor, None, full_name=form.get("full_name"),
                                    email=form.get("email"), phone=form.get("phone") or "",
                                    registration=form.get("registration") or "",
                                    max_appointments_per_day=form.get("max_appointments_per_day") or 6)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", f"Engineer {str(form.get('full_name') or '').strip()} added."
        self.form_key += 1
        await self._refresh(actor)

    @rx.event
    async def edit_type(self, type_id: str):
        await require(self, Perm.CASES_MANAGE)
        row = next((t for t in self.types if t["id"] == str(type_id)), None)
        self.editing_type = dict(row) if row else {}
        self.form_key += 1

    @rx.event
    async def save_type(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        current = self.editing_type.get("id") or None
        try:
            view = await asyncio.to_thread(
                inst_service.save_type, actor, current, code=form.get("code") or "", name=form.get("name"),
                regime=form.get("regime") or "", interval_months=form.get("interval_months"),
                early_window_months=form.get("early_window_months"), is_required=bool(form.get("is_required")))
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error, self.notice = "", f"Installation type {view.name} saved."
        self.editing_type = {}
        self.form_key += 1
        await self._refresh(actor)

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        actor = await require(self, Perm.CASES_MANAGE)
        if not files:
            self.error = "Choose the stock-list file first."
            return
        chunks, size = [], 0
        while chunk := await files[0].read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                self.error = "That file is too large to upload here; use the import-installations command."
                return
            chunks.append(chunk)
        try:
            report = await asyncio.to_thread(import_service.import_installations, actor, b"".join(chunks))
        except import_service.ImportRefused as exc:
            self.error, self.notice = str(exc), ""
            self.import_errors = list(exc.report.errors)
            return
        except AtlasError as exc:
            self.error, self.notice, self.import_errors = str(exc), "", []
            return
        self.error, self.import_errors = "", []
        self.notice = f"Imported: {report.summary}."
        await self._refresh(actor)


@staff_page("/utilities/setup", "Servicing set-up", on_load=SetupState.load)
def setup_page() -> rx.Component:
    S = SetupState
    e = S.editing_type
    return rx.vstack(
        form_error(S.error),
        form_notice(S.notice),
        section("Engineers", data_table(
            ["Name", "Email", "Registration", "Most a day", "Status"], S.engineers,
            lambda r: [r["name"], r["email"], r["registration"], r["limit"], r["status"]],
            caption="Engineers", row_id=lambda r: "engineer-" + r["id"], empty="No engineers yet."),
            rx.form(rx.vstack(
                rx.heading("Add an engineer", size="3", as_="h3"),
                field("Name", "full_name", required=True, input_id="engineer-name"),
                field("Email", "email", type="email", required=True, input_id="engineer-email"),
                field("Phone", "phone", input_id="engineer-phone"),
                field("Gas Safe or scheme registration", "registration", input_id="engineer-registration"),
                field("Most appointments a day", "max_appointments_per_day", type="number", default_value="6",
                      input_id="engineer-limit", min="1", max="20"),
                rx.button("Add engineer", type="submit", id="engineer-save"),
                spacing="3", width="100%", align_items="stretch"),
                on_submit=S.add_engineer, key=S.form_key.to_string()),
            section_id="engineers"),
        section("Installation types", data_table(
            ["Type", "Check", "Every (months)", "Early window (months)", "Required", ""], S.types,
            lambda t: [t["name"], t["regime"], t["interval"], t["window"], t["required"],
                       rx.button("Change", size="1", variant="soft", on_click=S.edit_type(t["id"]),
                                 aria_label="Change the installation type " + t["name"])],
            caption="Installation types", row_id=lambda t: "type-" + t["code"], empty="No types."),
            rx.form(rx.vstack(
                rx.heading(rx.cond(e.contains("id"), "Change " + e["name"], "Add a type"), size="3", as_="h3"),
                field("Name", "name", required=True, input_id="type-name", default_value=e.get("name", "")),
                field("Check (regime)", "regime", input_id="type-regime", default_value=e.get("regime", "")),
                field("Check every (months)", "interval_months", type="number", required=True,
                      input_id="type-interval", default_value=e.get("interval", "12"), min="1", max="240"),
                field("Early window (months)", "early_window_months", type="number", required=True,
                      input_id="type-window", default_value=e.get("window", "2"), min="0", max="239",
                      hint="A check this many months before the due date keeps the old anniversary."),
                checkbox_field("Counts towards compliance", "is_required", input_id="type-required",
                               default_checked=e.get("required", "Yes") == "Yes"),
                rx.button("Save type", type="submit", id="type-save"),
                spacing="3", width="100%", align_items="stretch"),
                on_submit=S.save_type, key=S.form_key.to_string()),
            section_id="types"),
        section(
            "Import a stock list",
            rx.text("A CSV file with columns uprn, type, location, make, model, ownership (landlord or tenant) and "
                    "last_certificate (YYYY-MM-DD or DD/MM/YYYY). The whole file is imported or none of it; every "
                    "bad row is listed. Rows for installations already recorded update them.", size="2"),
            # The label around the drop zone names its file input (and clicking it opens the file chooser).
            rx.el.label(
                rx.upload.root(
                    rx.vstack(rx.text("Stock-list CSV file: choose it (press Enter), or drop it here", size="2"),
                              rx.foreach(rx.selected_files("stock"), lambda f: rx.text(f, size="2")), spacing="1"),
                    id="stock", multiple=False, accept={"text/csv": [".csv"]}, border="1px dashed var(--gray-8)",
                    padding="1em", width="100%"),
                style={"display": "block", "width": "100%"}),
            rx.button("Import", id="stock-import", on_click=S.upload(rx.upload_files(upload_id="stock"))),
            rx.cond(S.import_errors.length() > 0,
                    rx.el.ul(rx.foreach(S.import_errors, lambda x: rx.el.li(x)), id="stock-errors")),
            section_id="import"),
        spacing="4", width="100%", align_items="stretch",
    )
