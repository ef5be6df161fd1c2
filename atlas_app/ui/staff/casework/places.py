"""Places: gazetteer import with progress, place search, and the place page (people and cases there)."""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from atlas_app.services.casework import places
from atlas_app.services.casework import gazetteer
from atlas_app.services.platform.errors import AtlasError, NotFound
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.badges import status_badge
from atlas_app.ui.components.casework_ui import lookup_select
from atlas_app.ui.components.kit import section
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui import uploads
from atlas_app.ui.session import private, require

register_nav("Casework", NavItem("Places and gazetteer", "/casework/places", "map-pin", Perm.CASES_VIEW))

FORMAT_OPTIONS = [{"id": k, "name": v} for k, v in gazetteer.FORMATS.items()]
JOB_COLOURS = {"done": "green", "running": "blue", "failed": "red"}
MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024


@private
class PlacesState(rx.State):
    rows: list[dict[str, str]] = []
    searched: bool = False
    jobs: list[dict[str, str]] = []
    job_errors: list[str] = []
    importing: bool = False
    progress: int = 0
    progress_text: str = ""
    import_error: str = ""
    import_notice: str = ""
    format: str = "abp-plus"
    skip_bad_rows: bool = False
    refused: bool = False
    can_manage: bool = False
    _upload_path: str = ""
    _upload_name: str = ""

    async def _jobs(self, actor) -> None:
        jobs = await asyncio.to_thread(gazetteer.recent_imports, actor)
        self.jobs = [{"id": str(j.id), "file": j.filename, "status": j.status, "rows": f"{j.rows_done:,}",
                      "added": f"{j.created:,}", "changed": f"{j.updated:,}", "errors": str(j.error_count),
                      "by": j.started_by, "at": london(j.started_at)} for j in jobs]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        if not self.importing:
            self.import_error = ""
        await self._jobs(actor)

    @rx.event
    async def search(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        rows = await asyncio.to_thread(places.search_places, actor, str(form.get("q", ""))[:120])
        self.searched = True
        self.rows = [{"uprn": str(p.uprn), "address": p.address, "class": p.classification or "—",
                      "status": p.status} for p in rows]

    @rx.event
    def set_skip_bad_rows(self, value: bool):
        if not self.importing:
            self.skip_bad_rows = bool(value)

    @rx.event
    def set_format(self, value: str):
        self.format = value if value in gazetteer.FORMATS else "abp-plus"

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        actor = await require(self, Perm.CASES_MANAGE)
        if self.importing:
            return
        if not files:
            self.import_error = "Choose a file first."
            return
        upload = files[0]
        suffix = ".zip" if (upload.name or "").lower().endswith(".zip") else ".csv"
        path = await uploads.spool(upload, "gazetteer", actor.organisation_id, MAX_UPLOAD_BYTES, suffix)
        if path is None:
            self.import_error = "That file is too large to upload here; use the import-gazetteer command."
            return
        self._upload_path = str(path)
        self._upload_name = uploads.file_name(upload, "upload.csv")
        self.import_error = self.import_notice = ""
        self.job_errors = []
        self.importing = True
        self.progress = 0
        self.progress_text = "Starting…"
        return PlacesState.run_import

    @rx.event(background=True)
    async def run_import(self):
        async with self:
            actor = await require(self, Perm.CASES_MANAGE)
            path, name, fmt, skip = self._upload_path, self._upload_name, self.format, self.skip_bad_rows
        seen = {"done": 0, "total": 0}

        def progress(done: int, total: int) -> None:
            seen["done"], seen["total"] = done, total

        task = asyncio.create_task(asyncio.to_thread(gazetteer.import_gazetteer, actor, path, fmt, filename=name,
                                                     progress=progress, skip_bad_rows=skip))
        last = 0.0
        while not task.done():
            await asyncio.sleep(0.2)
            if time.monotonic() - last > 0.5 and seen["total"]:
                last = time.monotonic()
                async with self:
                    self.progress = min(99, int(seen["done"] * 100 / max(seen["total"], 1)))
                    self.progress_text = f"{seen['done']:,} of about {seen['total']:,} rows read"
        refused = False
        try:
            report = task.result()
            error, notice, errors = "", f"Imported {name}: {report.summary}", report.errors
        except gazetteer.ImportRefused as exc:
            refused = True
            error, notice, errors = f"Nothing imported from {name}: {exc.report.summary}", "", exc.report.errors
        except AtlasError as exc:
            error, notice, errors = f"Nothing imported: {exc}", "", []
        except Exception as exc:  # noqa: BLE001 - the import was rolled back; say so
            error, notice, errors = f"The import failed and nothing was changed ({type(exc).__name__}).", "", []
        finally:
            try:
                import os

                os.unlink(path)
            except OSError:
                pass
        async with self:
            self.importing = False
            self.progress = 100 if not error else 0
            self.progress_text = ""
            self.import_error, self.import_notice, self.job_errors = error, notice, errors
            self.refused = refused
            await self._jobs(actor)


@staff_page("/casework/places", "Places and gazetteer", on_load=PlacesState.load)
def places_page() -> rx.Component:
    S = PlacesState
    return rx.vstack(
        section("Find a place", rx.form(rx.hstack(
            rx.el.label("UPRN, postcode or address", html_for="place-q"),
            rx.input(id="place-q", name="q"),
            rx.button("Search", type="submit", variant="soft", id="place-search"), spacing="2", wrap="wrap",
            align="end"), on_submit=S.search),
            rx.cond(S.searched, data_table(
                ["UPRN", "Address", "Class", "Status"], S.rows,
                lambda r: [rx.link(r["uprn"], href="/casework/place/" + r["uprn"]), r["address"], r["class"],
                           r["status"]],
                caption="Places found", row_id=lambda r: "place-row-" + r["uprn"], empty="No places match.")),
            section_id="find-place"),
        rx.cond(S.can_manage, section(
            "Import a gazetteer file",
            rx.text("AddressBase Plus or Premium, OS Open UPRN, or your LLPG's DTF 7.3 export. The whole file is "
                    "applied or none of it: a malformed row refuses the file, and every malformed row is listed "
                    "with its line number. AddressBase Premium or DTF 7.3 split into one file per record type "
                    "(ID15_StreetDesc_Records.csv, ID21_BLPU_Records.csv ...) is uploaded as one .zip of those "
                    "files.", size="2", color_scheme="gray"),
            form_error(S.import_error),
            form_notice(S.import_notice),
            lookup_select("Format", "format", FORMAT_OPTIONS, input_id="gazetteer-format", required=True,
                          placeholder="Choose the format", value=S.format, on_change=S.set_format),
            rx.upload.root(
                rx.vstack(
                    rx.button("Choose file", type="button", variant="soft", id="gazetteer-choose"),
                    rx.foreach(rx.selected_files("gazetteer"), lambda f: rx.text(f, size="2", id="gazetteer-file")),
                    spacing="1",
                ),
                id="gazetteer",
                multiple=False,
                accept={"text/csv": [".csv"], "application/zip": [".zip"]},
                border="1px dashed var(--gray-8)",
                padding="1em",
                width="100%",
            ),
            rx.hstack(
                rx.checkbox(id="gazetteer-skip-bad-rows", checked=S.skip_bad_rows, on_change=S.set_skip_bad_rows,
                            disabled=S.importing),
                rx.el.label("Import the other rows when some are malformed", html_for="gazetteer-skip-bad-rows"),
                spacing="2", align="center"),
            rx.button("Import", id="gazetteer-import", disabled=S.importing,
                      on_click=S.upload(rx.upload_files(upload_id="gazetteer"))),
            rx.cond(S.importing, rx.vstack(
                rx.el.label("Import progress", html_for="gazetteer-progress"),
                rx.el.progress(value=S.progress, max=100, id="gazetteer-progress", style={"width": "100%"}),
                rx.text(S.progress_text, size="2", role="status", aria_live="polite"),
                width="100%",
            )),
            rx.cond(S.job_errors.length() > 0, rx.vstack(
                rx.text(rx.cond(S.refused, "Malformed rows (correct them, or tick the box to skip them):",
                                "Malformed rows skipped:"), weight="bold"),
                rx.el.ul(rx.foreach(S.job_errors, lambda e: rx.el.li(e)), id="gazetteer-errors"),
                spacing="1")),
            section_id="import"),
        ),
        section("Recent imports", data_table(
            ["Started", "File", "Status", "Rows", "Added", "Changed", "Malformed", "By"], S.jobs,
            lambda j: [j["at"], j["file"], status_badge(j["status"], JOB_COLOURS), j["rows"], j["added"],
                       j["changed"], j["errors"], j["by"]],
            caption="Recent gazetteer imports", row_id=lambda j: "job-" + j["id"], empty="No imports yet."),
            section_id="imports"),
        spacing="4", width="100%",
    )


@private
class PlaceState(rx.State):
    found: bool = True
    uprn: str = ""
    address: str = ""
    details: list[dict[str, str]] = []
    people_rows: list[dict[str, str]] = []
    case_rows: list[dict[str, str]] = []
    children: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.uprn = str(self.router.page.params.get("id", "") or "")[:12]
        try:
            p = await asyncio.to_thread(places.get_place, actor, self.uprn)
        except NotFound:
            self.found = False
            return
        self.found = True
        self.address = p.address
        self.details = [{"k": k, "v": v} for k, v in (
            ("UPRN", str(p.uprn)), ("Postcode", p.postcode or "—"), ("Classification", p.classification or "—"),
            ("Status", p.status), ("Parent UPRN", str(p.parent_uprn or "—")), ("USRN", str(p.usrn or "—")),
            ("Easting / northing", f"{p.x_coordinate or '—'} / {p.y_coordinate or '—'}"),
            ("Latitude / longitude", f"{p.latitude or '—'} / {p.longitude or '—'}"), ("Source", p.source or "—"))]
        self.people_rows = [{"id": str(r.id), "name": r.label, "ref": r.value, "span": r.extra or "—"}
                            for r in p.people]
        self.case_rows = [{"id": str(c.id), "ref": c.ref, "title": c.title, "module": c.module, "status": c.status}
                          for c in p.cases]
        self.children = [{"uprn": str(c.uprn), "address": c.address} for c in p.children]


@staff_page("/casework/place/[id]", "Place", on_load=PlaceState.load)
def place_page() -> rx.Component:
    S = PlaceState
    return rx.cond(S.found, rx.vstack(
        rx.heading(S.address, size="5", as_="h2", id="place-heading"),
        rx.el.dl(rx.foreach(S.details, lambda d: rx.hstack(rx.el.dt(d["k"] + ":", style={"font-weight": "600"}),
                                                          rx.el.dd(d["v"], style={"margin": "0"}), spacing="2"))),
        section("People (address history)", data_table(
            ["Person", "When"], S.people_rows,
            lambda r: [rx.link(r["name"] + " (" + r["ref"] + ")", href="/casework/person/" + r["id"]), r["span"]],
            caption="People who live or lived here", empty="Nobody recorded."), section_id="place-people"),
        section("Cases", data_table(
            ["Case", "Title", "Module", "Status"], S.case_rows,
            lambda c: [rx.link(c["ref"], href="/casework/case/" + c["id"]), c["title"], c["module"], c["status"]],
            caption="Cases about this place", empty="No cases."), section_id="place-cases"),
        rx.cond(S.children.length() > 0, section("Within this property", data_table(
            ["UPRN", "Address"], S.children,
            lambda c: [rx.link(c["uprn"], href="/casework/place/" + c["uprn"]), c["address"]],
            caption="Places whose parent is this UPRN"), section_id="place-children")),
        spacing="4", width="100%",
    ), rx.callout("No such place in your gazetteer.", icon="info", role="status"))
