"""Import referrals: upload a CSV of police offers, watch it being checked and imported, see every bad row.

The upload handler only stores the file privately (never under the public upload folder) and records an ImportJob;
a background event then runs the import in a worker thread and polls the job for progress, so the page stays
responsive for large files and other users are not held up.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import reflex as rx

from atlas_app.ui.components.kit import file_drop

from atlas_app.services.booking import referrals
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

register_nav("Bookings", NavItem("Import referrals", "/bookings/referrals", "file-up", Perm.BOOKINGS_MANAGE))

UPLOAD_ID = "referrals_csv"
SAMPLE_URL = "/samples/referrals-sample.csv"
MAX_SHOWN_ERRORS = 500
POLL_SECONDS = 0.6
STATUS_TEXT = {
    "queued": "Waiting to start", "checking": "Checking every row", "importing": "Importing",
    "done": "Imported", "failed": "Not imported",
}
STATUS_COLOURS = {"queued": "gray", "checking": "blue", "importing": "blue", "done": "green", "failed": "red"}


def _pending_path(job_id: int) -> Path:
    """Where an uploaded file waits for its import: inside the private data folder."""
    folder = get_settings().data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"referrals-{int(job_id)}.csv"


@private
class ReferralsImportState(rx.State):
    job_id: int = 0
    filename: str = ""
    status: str = ""
    rows_total: int = 0
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    clients_created: int = 0
    errors: list[str] = []
    error_count: int = 0
    message: str = ""
    recent: list[dict[str, str]] = []
    skip_bad_rows: bool = False

    @rx.var
    def running(self) -> bool:
        return self.status in ("queued", "checking", "importing")

    @rx.var
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0

    @rx.var
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, "")

    async def _refresh_recent(self, actor) -> None:
        jobs = await asyncio.to_thread(referrals.recent_jobs, actor, 10)
        self.recent = [
            {"id": str(j.id), "file": j.filename, "status": j.status, "status_text": STATUS_TEXT.get(j.status, j.status),
             "rows": str(j.rows_total), "created": str(j.created), "updated": str(j.updated),
             "problems": str(len(j.errors)) if j.errors else "", "by": j.started_by,
             "when": london(j.started_at)}
            for j in jobs
        ]

    def _reset(self) -> None:
        self.status, self.message, self.errors, self.error_count = "", "", [], 0
        self.rows_total = self.rows_done = self.created = self.updated = self.unchanged = self.clients_created = 0

    @rx.event
    def set_skip_bad_rows(self, value: bool):
        if not self.running:
            self.skip_bad_rows = bool(value)

    @rx.event
    async def load(self):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        if not self.running:
            self._reset()
        await self._refresh_recent(actor)

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        if self.running:
            return rx.toast.info("An import is already running.")
        if not files:
            self.message = "Choose a CSV file first."
            return None
        upload = files[0]
        name = (upload.filename or "referrals.csv").rsplit("/", 1)[-1][:200]
        if not name.lower().endswith(".csv"):
            self.message = "Choose a CSV file (its name ends in .csv)."
            return None
        data = await upload.read()
        if len(data) > referrals.MAX_FILE_BYTES:
            self.message = f"The file is larger than {referrals.MAX_FILE_BYTES // (1024 * 1024)} MB; split it."
            return None
        self._reset()
        job_id = await asyncio.to_thread(referrals.start_job, actor, name)
        await asyncio.to_thread(_pending_path(job_id).write_bytes, data)
        self.job_id, self.filename, self.status = job_id, name, "queued"
        await self._refresh_recent(actor)
        return [rx.clear_selected_files(UPLOAD_ID), ReferralsImportState.run_import(job_id)]

    @rx.event(background=True)
    async def run_import(self, job_id: int):
        async with self:
            actor = await require(self, Perm.BOOKINGS_MANAGE)
            skip_bad_rows = self.skip_bad_rows
        # The job runs once, and only for the user (and organisation) whose upload made it.
        job = await asyncio.to_thread(referrals.claim_job, actor, int(job_id))
        if job is None:
            return
        filename = job.filename
        path = _pending_path(int(job_id))
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError:
            async with self:
                self.status, self.message = "failed", "The uploaded file was lost; please upload it again."
            return
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
        work = asyncio.create_task(asyncio.to_thread(referrals.import_csv, actor, data, filename, int(job_id),
                                                     skip_bad_rows=skip_bad_rows))
        while not work.done():
            await asyncio.wait({work}, timeout=POLL_SECONDS)
            try:
                job = await asyncio.to_thread(referrals.get_job, actor, int(job_id))
            except AtlasError:
                continue
            async with self:
                self.status, self.rows_total, self.rows_done = job.status, job.rows_total, job.rows_done
        try:
            result = work.result()
        except Exception as exc:  # the job records it too; the page says so plainly
            async with self:
                self.status = "failed"
                self.message = str(exc) if isinstance(exc, AtlasError) else \
                    "The import stopped because of an internal error; nothing was imported."
            return
        async with self:
            self.status = "done" if result.ok else "failed"
            self.rows_total = result.rows
            self.rows_done = result.rows if result.ok else 0
            self.created, self.updated, self.unchanged = result.created, result.updated, result.unchanged
            self.clients_created = result.clients_created
            self.error_count = len(result.errors)
            self.errors = [str(e) for e in result.errors[:MAX_SHOWN_ERRORS]]
            self.message = result.summary()
            await self._refresh_recent(actor)


def _problem_list(intro: str) -> rx.Component:
    return rx.cond(
        ReferralsImportState.error_count > 0,
        rx.vstack(
            rx.text(intro, size="2"),
            rx.el.ul(
                rx.foreach(ReferralsImportState.errors, lambda e: rx.el.li(e)),
                id="import-errors",
                style={"max-height": "24em", "overflow-y": "auto", "padding-left": "1.2em", "font-size": "0.9em"},
            ),
            rx.cond(ReferralsImportState.error_count > MAX_SHOWN_ERRORS,
                    rx.text(f"Only the first {MAX_SHOWN_ERRORS} problems are shown.", size="2",
                            color_scheme="gray")),
            width="100%",
        ),
    )


def _progress() -> rx.Component:
    return rx.cond(
        ReferralsImportState.status != "",
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.text(rx.text.strong(ReferralsImportState.filename)),
                    rx.badge(ReferralsImportState.status_text, variant="soft",
                             color_scheme=rx.match(ReferralsImportState.status,
                                                   *[(k, v) for k, v in STATUS_COLOURS.items()], "gray")),
                    spacing="3",
                    align="center",
                ),
                rx.cond(
                    ReferralsImportState.running,
                    rx.vstack(
                        rx.progress(value=ReferralsImportState.percent, max=100, width="100%",
                                    aria_label="Import progress"),
                        rx.text(ReferralsImportState.rows_done.to_string(), " of ",
                                ReferralsImportState.rows_total.to_string(), " rows", size="2",
                                aria_live="polite"),
                        width="100%",
                    ),
                ),
                rx.cond(
                    ReferralsImportState.status == "done",
                    rx.vstack(
                        rx.callout(ReferralsImportState.message, icon="circle_check", color_scheme="green",
                                   role="status", id="import-summary"),
                        _problem_list("These rows were skipped (the others were imported):"),
                        width="100%",
                    ),
                ),
                rx.cond(
                    ReferralsImportState.status == "failed",
                    rx.vstack(
                        rx.callout(ReferralsImportState.message, icon="triangle_alert", color_scheme="red",
                                   role="alert", id="import-failed"),
                        _problem_list("Correct these rows and upload the whole file again:"),
                        width="100%",
                    ),
                ),
                width="100%",
                spacing="3",
            ),
            width="100%",
        ),
    )


@staff_page("/bookings/referrals", "Import referrals", on_load=ReferralsImportState.load)
def referrals_page() -> rx.Component:
    return rx.vstack(
        rx.text("Upload the police's CSV of course offers. Every row is checked first: if any row has a problem, "
                "nothing is imported and each problem is listed with its line number (or, if you tick the box "
                "below, the good rows are imported and the bad ones listed). Importing the same file again updates "
                "offers whose details changed and never duplicates one.", size="2"),
        rx.text("Columns: offer reference, course type (code), first name and last name (or one name column), date "
                "of birth, driving licence number, address line 1, address line 2, town, postcode, email, phone, "
                "offence date, critical date, police force. Dates as YYYY-MM-DD or DD/MM/YYYY. ",
                rx.link("Download a sample file", href=SAMPLE_URL, is_external=True, id="sample-link"), ".",
                size="2", color_scheme="gray"),
        file_drop(
            rx.vstack(
                rx.icon("file-up", size=28, aria_hidden="true"),
                rx.text("Drop a CSV file here, or click to choose one"),
                rx.foreach(rx.selected_files(UPLOAD_ID), lambda f: rx.text(f, size="2", weight="bold")),
                align="center",
                spacing="2",
            ),
            id=UPLOAD_ID,
            label="Referrals CSV file",
            accept={"text/csv": [".csv"], "application/vnd.ms-excel": [".csv"]},
            max_files=1,
            max_size=referrals.MAX_FILE_BYTES,
            multiple=False,
            disabled=ReferralsImportState.running,
            border="2px dashed var(--gray-7)",
            border_radius="var(--radius-3)",
            padding="1.5em",
            width="100%",
        ),
        rx.hstack(
            rx.checkbox(id="skip-bad-rows", checked=ReferralsImportState.skip_bad_rows,
                        on_change=ReferralsImportState.set_skip_bad_rows,
                        disabled=ReferralsImportState.running),
            rx.el.label("Import the good rows and skip the bad ones", html_for="skip-bad-rows"),
            spacing="2",
            align="center",
        ),
        rx.hstack(
            rx.button("Import", id="import-referrals",
                      on_click=ReferralsImportState.upload(rx.upload_files(upload_id=UPLOAD_ID)),
                      loading=ReferralsImportState.running, disabled=ReferralsImportState.running),
            rx.cond((ReferralsImportState.message != "") & (ReferralsImportState.status == ""),
                    rx.text(ReferralsImportState.message, color_scheme="red", role="alert", size="2")),
            align="center",
            spacing="3",
        ),
        _progress(),
        rx.heading("Recent imports", size="4", as_="h2"),
        data_table(
            ["Started", "File", "By", "Status", "Rows", "New", "Updated", "Problems"],
            ReferralsImportState.recent,
            lambda j: [j["when"], j["file"], j["by"],
                       rx.badge(j["status_text"], variant="soft",
                                color_scheme=rx.match(j["status"], *[(k, v) for k, v in STATUS_COLOURS.items()],
                                                      "gray")),
                       j["rows"], j["created"], j["updated"], j["problems"]],
            caption="Recent referral imports",
            empty="No imports yet.",
        ),
        spacing="4",
        width="100%",
    )
