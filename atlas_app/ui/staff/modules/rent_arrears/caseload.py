"""The income officer's caseload: tenancies in arrears, most urgent first, filtered by stage and patch; the measures
(total arrears, rent collected as a share of rent due, cases at each stage, failure demand among contacts); and the
weekly import of rent transactions.

Threat model: every handler re-checks the session (``require``); filter values are only used as filters in the
service's organisation-scoped query (an unknown stage or patch finds nothing); the upload is written to a private
file, imported for the actor's organisation only, and removed.
"""

from __future__ import annotations

import asyncio
import os

import reflex as rx

from atlas_app.services.modules.rent_arrears import imports, tenancies
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.kit import file_drop, section, select_field
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui import uploads
from atlas_app.ui.session import private, require

register_nav("Rent arrears", NavItem("Caseload", "/rent-arrears", "wallet", Perm.CASES_VIEW,
                                     module_type="rent_arrears"))

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


@private
class CaseloadState(rx.State):
    rows: list[dict[str, str]] = []
    stage_options: list[dict[str, str]] = []
    patch_options: list[dict[str, str]] = []
    stage: str = ""
    patch: str = ""
    search: str = ""
    measures: list[dict[str, str]] = []
    by_stage: list[dict[str, str]] = []
    can_manage: bool = False
    error: str = ""
    import_error: str = ""
    import_notice: str = ""
    import_errors: list[str] = []
    importing: bool = False
    _upload_path: str = ""
    _upload_name: str = ""
    can_configure: bool = False
    stages: list[dict[str, str]] = []
    letter_options: list[dict[str, str]] = []
    intention_options: list[dict[str, str]] = []
    stage_error: str = ""
    stage_notice: str = ""

    async def _refresh(self, actor) -> None:
        rows = await asyncio.to_thread(tenancies.caseload, actor, stage=self.stage, patch=self.patch,
                                       search=self.search)
        self.rows = [{"id": str(r.id), "account": r.rent_account, "tenants": r.tenants, "address": r.address,
                      "patch": r.patch or "—", "balance": r.balance, "weeks": r.arrears_weeks, "trend": r.trend_4w,
                      "trend13": r.trend_13w, "stage": r.stage or "Not yet at a stage",
                      "broken": "Broken arrangement" if r.arrangement_broken else "",
                      "contact": r.last_contact, "priority": str(r.priority)} for r in rows]
        m = await asyncio.to_thread(tenancies.measures, actor)
        self.measures = [{"k": k, "v": v} for k, v in (
            ("Total arrears", f"{m.total_arrears} ({m.in_arrears:,} of {m.tenancies:,} tenancies)"),
            (f"Rent collected, last {m.weeks} weeks", f"{m.collection_rate} ({m.collected} of {m.rent_due} due)"),
            ("Contacts that were failure demand", f"{m.failure_share} ({m.failure_contacts:,} of {m.contacts:,})"))]
        self.by_stage = [{"stage": name, "count": f"{n:,}"} for name, n in m.by_stage]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        self.error = ""
        try:
            stages = await asyncio.to_thread(tenancies.list_stages, actor)
            patches = await asyncio.to_thread(tenancies.patches, actor)
            self.stage_options = [{"id": "none", "name": "In arrears, no stage yet"}] + [
                {"id": st.code, "name": st.name} for st in stages if st.is_active]
            self.can_configure = actor.can(Perm.SETTINGS_MANAGE)
            if self.can_configure:
                await self._stages(actor, stages)
            self.patch_options = [{"id": p, "name": p} for p in patches]
            await self._refresh(actor)
        except AtlasError as exc:
            self.rows, self.error = [], str(exc)

    async def _stages(self, actor, stages=None) -> None:
        stages = stages if stages is not None else await asyncio.to_thread(tenancies.list_stages, actor)
        self.stages = [{"id": str(st.id), "name": st.name, "weeks": st.min_arrears_weeks,
                        "days": str(st.min_days_in_previous), "letter": st.letter_code,
                        "intention": str(st.intention_type_id or ""), "due": str(st.intention_due_days),
                        "active": "yes" if st.is_active else ""} for st in stages]
        codes = [st.letter_code for st in stages if st.letter_code]
        self.letter_options = [{"id": code, "name": name} for code, name, _s, _b in tenancies.RENT_TEMPLATES] + [
            {"id": c, "name": c} for c in codes if c not in {x[0] for x in tenancies.RENT_TEMPLATES}]
        options = await asyncio.to_thread(tenancies.intention_types, actor)
        self.intention_options = [{"id": str(i), "name": n} for i, n in options]

    @rx.event
    async def save_stage(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.stage_error = self.stage_notice = ""
        try:
            await asyncio.to_thread(tenancies.save_stage, actor, str(form.get("stage_id", "")),
                                    name=str(form.get("name", "")), min_arrears_weeks=form.get("weeks", ""),
                                    min_days_in_previous=form.get("days", "0"),
                                    letter_code=str(form.get("letter", "")),
                                    intention_type_id=form.get("intention", ""), intention_due_days=form.get("due", "0"),
                                    is_active=bool(form.get("active")))
            await self._stages(actor)
        except AtlasError as exc:
            self.stage_error = str(exc)
            return
        self.stage_notice = "Stage saved: the next recompute applies it."

    @rx.event
    async def filter(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        self.stage = str(form.get("stage", ""))[:30]
        self.patch = str(form.get("patch", ""))[:60]
        self.search = str(form.get("q", ""))[:60]
        try:
            await self._refresh(actor)
        except AtlasError as exc:
            self.error = str(exc)

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        actor = await require(self, Perm.CASES_MANAGE)
        if self.importing:
            return
        if not files:
            self.import_error = "Choose a file first."
            return
        upload = files[0]
        path = await uploads.spool(upload, "rent", actor.organisation_id, MAX_UPLOAD_BYTES)
        if path is None:
            self.import_error = "That file is too large to upload here; use import-rent-transactions."
            return
        self._upload_path = str(path)
        self._upload_name = uploads.file_name(upload, "rent.csv")
        self.importing = True
        self.import_error = self.import_notice = ""
        self.import_errors = []
        return CaseloadState.run_import

    @rx.event(background=True)
    async def run_import(self):
        async with self:
            actor = await require(self, Perm.CASES_MANAGE)
            path, name = self._upload_path, self._upload_name
        error, notice, errors = "", "", []
        try:
            report = await asyncio.to_thread(imports.import_transactions, actor, path, filename=name)
            notice = f"Imported {name}: {report.summary} {report.recompute.summary}"
        except imports.ImportRefused as exc:
            error, errors = f"Nothing imported from {name}: {exc.report.summary}", exc.report.errors
        except AtlasError as exc:
            error = f"Nothing imported: {exc}"
        except Exception as exc:  # noqa: BLE001 - the import was rolled back; say so
            error = f"The import failed and nothing was changed ({type(exc).__name__})."
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        async with self:
            self.importing = False
            self.import_error, self.import_notice, self.import_errors = error, notice, errors
            await self._refresh(actor)


@staff_page("/rent-arrears", "Rent arrears caseload", on_load=CaseloadState.load)
def caseload_page() -> rx.Component:
    S = CaseloadState
    return rx.vstack(
        form_error(S.error),
        section("Measures", rx.el.dl(rx.foreach(S.measures, lambda m: rx.fragment(
            rx.el.dt(m["k"], style={"font-weight": "500"}), rx.el.dd(m["v"], style={"margin": "0 0 0.5em 0"})))),
            data_table(["Stage", "Tenancies"], S.by_stage, lambda r: [r["stage"], r["count"]],
                       caption="Tenancies at each stage", empty="No stages."), section_id="rent-measures"),
        section("Caseload", rx.form(rx.hstack(
            rx.box(select_field("Stage", "stage", S.stage_options, input_id="rent-stage", blank="Any stage",
                                keys=("id", "name")), min_width="12em"),
            rx.box(select_field("Patch", "patch", S.patch_options, input_id="rent-patch", blank="Any patch",
                                keys=("id", "name")), min_width="10em"),
            rx.vstack(rx.el.label("Rent account or tenant", html_for="rent-q", font_weight="500"),
                      rx.input(id="rent-q", name="q"), spacing="1"),
            rx.button("Show", type="submit", id="rent-filter"), spacing="3", wrap="wrap", align="end"),
            on_submit=S.filter),
            data_table(["Priority", "Rent account", "Tenants", "Balance", "Weeks", "4 weeks", "Stage", "Last contact",
                        "Patch"], S.rows,
                       lambda r: [r["priority"], rx.link(r["account"], href="/rent-arrears/tenancy/" + r["id"]),
                                  rx.vstack(rx.text(r["tenants"]), rx.text(r["address"], size="1", color_scheme="gray"),
                                            spacing="0"),
                                  r["balance"], r["weeks"], r["trend"],
                                  rx.vstack(rx.text(r["stage"]), rx.cond(r["broken"] != "", rx.badge(
                                      r["broken"], color_scheme="red", variant="soft", high_contrast=True)),
                                            spacing="1"),
                                  r["contact"], r["patch"]],
                       caption="Tenancies in arrears, most urgent first",
                       row_id=lambda r: "tenancy-row-" + r["account"], empty="No tenancies in arrears."),
            section_id="rent-caseload"),
        rx.cond(S.can_configure, section(
            "Recovery stages",
            rx.text("A tenancy enters a stage when its arrears are more than the stage's weeks of rent and it has been "
                    "at the stage before for the days given; it moves one stage at each recompute. Each stage sends "
                    "its letter and sets its intention for the officer.", size="2", color_scheme="gray"),
            form_error(S.stage_error), form_notice(S.stage_notice),
            rx.foreach(S.stages, lambda st: rx.form(
                rx.el.input(type="hidden", name="stage_id", value=st["id"]),
                rx.hstack(
                    rx.vstack(rx.el.label("Stage", html_for="stage-name-" + st["id"], font_weight="500"),
                              rx.input(id="stage-name-" + st["id"], name="name", default_value=st["name"]),
                              spacing="1"),
                    rx.vstack(rx.el.label("More than (weeks of rent)", html_for="stage-weeks-" + st["id"],
                                          font_weight="500"),
                              rx.input(id="stage-weeks-" + st["id"], name="weeks", default_value=st["weeks"],
                                       input_mode="decimal", width="6em"), spacing="1"),
                    rx.vstack(rx.el.label("Days at the stage before", html_for="stage-days-" + st["id"],
                                          font_weight="500"),
                              rx.input(id="stage-days-" + st["id"], name="days", default_value=st["days"],
                                       input_mode="numeric", width="6em"), spacing="1"),
                    rx.box(select_field("Letter", "letter", S.letter_options, input_id="stage-letter-" + st["id"],
                                        default_value=st["letter"], blank="No letter", keys=("id", "name")),
                           min_width="12em"),
                    rx.box(select_field("Intention", "intention", S.intention_options,
                                        input_id="stage-intention-" + st["id"], default_value=st["intention"],
                                        blank="No intention", keys=("id", "name")), min_width="12em"),
                    rx.vstack(rx.el.label("Due in (days)", html_for="stage-due-" + st["id"], font_weight="500"),
                              rx.input(id="stage-due-" + st["id"], name="due", default_value=st["due"],
                                       input_mode="numeric", width="5em"), spacing="1"),
                    rx.el.div(rx.el.input(type="checkbox", id="stage-active-" + st["id"], name="active",
                                          default_checked=st["active"] == "yes"),
                              rx.el.label("In use", html_for="stage-active-" + st["id"]),
                              style={"display": "flex", "gap": "0.4em", "align-items": "center"}),
                    rx.button("Save", type="submit", id="stage-save-" + st["id"], variant="soft"),
                    spacing="3", wrap="wrap", align="end"),
                on_submit=S.save_stage, reset_on_submit=False, width="100%")),
            section_id="rent-stages")),
        rx.cond(S.can_manage, section(
            "Import rent transactions",
            rx.text("The weekly CSV from the rent system: transaction_id, rent_account, date, type, method, amount. "
                    "The whole file is imported or none of it, and every malformed row is listed; transactions "
                    "already imported are skipped. Balances, arrears and stages are worked out again afterwards.",
                    size="2", color_scheme="gray"),
            form_error(S.import_error), form_notice(S.import_notice),
            file_drop(
                rx.vstack(
                    rx.icon("file-up", size=28, aria_hidden="true"),
                    rx.text("Drop the CSV file here, or click to choose it"),
                    rx.foreach(rx.selected_files("rent_csv"), lambda f: rx.text(f, size="2", weight="bold")),
                    align="center", spacing="2"),
                id="rent_csv", label="Rent transactions CSV file", accept={"text/csv": [".csv"], "application/vnd.ms-excel": [".csv"]}, max_files=1,
                multiple=False, disabled=S.importing, border="2px dashed var(--gray-7)",
                border_radius="var(--radius-3)", padding="1.5em", width="100%"),
            rx.button("Import", id="rent-import", disabled=S.importing,
                      on_click=S.upload(rx.upload_files(upload_id="rent_csv"))),
            rx.cond(S.importing, rx.text("Importing…", role="status", aria_live="polite")),
            rx.cond(S.import_errors.length() > 0, rx.el.ul(rx.foreach(S.import_errors, lambda e: rx.el.li(e)),
                                                           id="rent-import-errors")),
            section_id="rent-upload")),
        spacing="4", width="100%",
    )
