"""The servicing programme (homes due in the next N days, overdue, or with no access) and one home's record: its
installations, booking an engineer, recording a failed access attempt (which produces the letter) or a check with
its certificate, the letters, checks and remedial work."""

from __future__ import annotations

import asyncio
from datetime import date

import reflex as rx

from atlas_app.services.modules.utilities_servicing.installations import OUTCOME_LABELS
from atlas_app.services.modules.utilities_servicing import installations as inst_service
from atlas_app.services.modules.utilities_servicing import programme as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.kit import (
    phone_cards,
    section,
    select_field,
    table_or_cards,
    textarea_field,
)
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

MODULE = "utilities_servicing"
SECTION = "Utilities servicing"
register_nav(SECTION, NavItem("Servicing programme", "/utilities/programme", "flame", Perm.CASES_VIEW,
                              module_type=MODULE))

VIEW_OPTIONS = [("due", "Due soon"), ("overdue", "Overdue or no certificate"), ("no_access", "No access")]
OUTCOME_OPTIONS = list(OUTCOME_LABELS.items())
PAGE = 50
MAX_CERTIFICATE = 20 * 1024 * 1024


@private
class ProgrammeState(rx.State):
    view: str = "due"
    days: str = "30"
    rows: list[dict[str, str]] = []
    total: int = 0
    offset: int = 0
    error: str = ""

    async def _refresh(self) -> None:
        actor = await require(self, Perm.CASES_VIEW)
        try:
            page = await asyncio.to_thread(service.programme, actor, self.view, self.days, PAGE, self.offset)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self.total = page.total
        self.rows = [{k: str(v) for k, v in r.as_dict().items()} for r in page.rows]

    @rx.event
    async def load(self):
        self.offset = 0
        await self._refresh()

    @rx.event
    async def apply(self, form: dict):
        view = str(form.get("view") or "due")
        self.view = view if view in service.VIEWS else "due"
        self.days = str(form.get("days") or "30")[:4]
        self.offset = 0
        await self._refresh()

    @rx.event
    async def page(self, step: int):
        self.offset = max(0, min(self.offset + int(step) * PAGE, max(0, self.total - 1)))
        await self._refresh()

    @rx.var
    def range_text(self) -> str:
        if not self.total:
            return "No homes."
        return f"Homes {self.offset + 1} to {self.offset + len(self.rows)} of {self.total:,}"


def _row_cells(r: rx.Var) -> list:
    return [rx.link(r["address"], href="/utilities/home/" + r["uprn"], id="home-link-" + r["uprn"]), r["uprn"],
            r["next_due_text"], r["status_text"], r["stage_text"], rx.cond(r["booked"] != "", r["booked"], "—")]


@staff_page("/utilities/programme", "Servicing programme", on_load=ProgrammeState.load)
def programme_page() -> rx.Component:
    S = ProgrammeState
    return rx.vstack(
        rx.text("Homes whose gas and electrical checks fall due, are overdue, or where the engineer could not get "
                "in. Open a home to book an engineer or record a visit.", size="2"),
        section(
            "Show",
            rx.form(
                rx.hstack(
                    select_field("Homes", "view", VIEW_OPTIONS, input_id="programme-view", default_value=S.view),
                    field("Due within (days)", "days", type="number", input_id="programme-days",
                          default_value=S.days, min="1", max="730"),
                    rx.button("Show", type="submit", id="programme-show"),
                    align="end", spacing="3", wrap="wrap",
                ),
                on_submit=S.apply,
            ),
            section_id="programme-filter",
        ),
        form_error(S.error),
        rx.text(S.range_text, id="programme-count", role="status", aria_live="polite"),
        table_or_cards(
            data_table(["Home", "UPRN", "Next due", "Status", "Access", "Booked"], S.rows, _row_cells,
                       caption="Servicing programme", row_id=lambda r: "programme-" + r["uprn"],
                       empty="No homes in this view."),
            phone_cards(S.rows, lambda r: rx.vstack(
                rx.link(r["address"], href="/utilities/home/" + r["uprn"], weight="bold"),
                rx.text(r["status_text"], " · ", r["stage_text"], size="2"),
                rx.text(rx.cond(r["booked"] != "", r["booked"], "Not booked"), size="2"), spacing="1"),
                label="Servicing programme", empty="No homes in this view."),
        ),
        rx.hstack(
            rx.button("Previous", variant="soft", on_click=S.page(-1), disabled=S.offset == 0, id="programme-prev"),
            rx.button("Next", variant="soft", on_click=S.page(1), disabled=S.offset + PAGE >= S.total,
                      id="programme-next"),
            spacing="2",
        ),
        spacing="4", width="100%", align_items="stretch",
    )


# --- one home ----------------------------------------------------------------------------------------------------


@private
class HomeState(rx.State):
    found: bool = True
    uprn: str = ""
    address: str = ""
    next_due: str = ""
    access: str = ""
    installations: list[dict[str, str]] = []
    checks: list[dict[str, str]] = []
    remedial: list[dict[str, str]] = []
    appointments: list[dict[str, str]] = []
    letters: list[dict[str, str]] = []
    engineers: list[dict[str, str]] = []
    can_manage: bool = False
    error: str = ""
    notice: str = ""
    form_key: int = 0

    async def _refresh(self, actor) -> None:
        try:
            h = await asyncio.to_thread(inst_service.home, actor, self.uprn)
        except AtlasError as exc:
            self.found, self.error = False, str(exc)
            return
        self.found = True
        self.address = h.address
        self.next_due = h.next_due_on.isoformat() if h.next_due_on else "No certificate on record"
        self.access = (f"{h.no_access_count} failed access attempt{'' if h.no_access_count == 1 else 's'}"
                       + (f" ({service.letters.STAGE_LABELS[h.access_stage]})" if h.access_stage else "")
                       ) if h.no_access_count else "No failed access attempts"
        self.installations = [{k: str(v) for k, v in i.as_dict().items()} for i in h.installations]
        self.checks = [{k: str(v) for k, v in c.items()} for c in h.checks]
        self.remedial = [{"id": str(t["id"]), "description": t["description"], "severity": t["severity"],
                          "target": t["target_at"].strftime("%d %b %Y %H:%M"), "status": t["status"]}
                         for t in h.remedial]
        self.appointments = [{k: ("1" if v is True else "" if v is False else str(v)) for k, v in a.items()}
                             for a in h.appointments]
        self.letters = [{k: str(v) for k, v in x.items()} for x in h.letters]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.uprn = str(self.router.page.params.get("id", "") or "")[:12]
        self.error = self.notice = ""
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        await self._refresh(actor)
        if self.found:
            engineers = await asyncio.to_thread(service.list_engineers, actor, True)
            self.engineers = [{"value": str(e.id), "label": e.full_name} for e in engineers]

    @rx.event
    async def book(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        try:
            booked = await asyncio.to_thread(service.book_appointment, actor, self.uprn, form.get("engineer_id"),
                                             form.get("starts_at"), form.get("minutes") or 60)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        self.notice = f"Engineer booked for {booked.when}; the appointment letter is ready below."
        self.form_key += 1
        await self._refresh(actor)

    @rx.event
    async def no_access(self, appointment_id: str):
        actor = await require(self, Perm.CASES_MANAGE)
        try:
            result = await asyncio.to_thread(service.record_no_access, actor, appointment_id)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        self.notice = (f"No access recorded (attempt {result.attempts}): {result.stage_label} produced.")
        await self._refresh(actor)

    attached: str = ""
    _certificate: bytes = b""
    _certificate_type: str = ""

    @rx.event
    async def attach(self, files: list[rx.UploadFile]):
        """Hold the chosen certificate file (in a backend var) for the check about to be recorded."""
        await require(self, Perm.CASES_MANAGE)
        if not files:
            self.error = "Choose the certificate file first."
            return
        upload = files[0]
        chunks, size = [], 0
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_CERTIFICATE:
                self.error, self.notice = "The certificate file is larger than 20 MB.", ""
                return
            chunks.append(chunk)
        self._certificate = b"".join(chunks)
        self._certificate_type = str(getattr(upload, "content_type", "") or "application/octet-stream")[:100]
        self.attached = (upload.name or "certificate").rsplit("/", 1)[-1][:200]
        self.error = ""

    @rx.event
    async def record_check(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        defects = [d for d in str(form.get("defects") or "").splitlines() if d.strip()]
        try:
            result = await asyncio.to_thread(
                inst_service.record_check, actor, form.get("installation_id"), checked_on=form.get("checked_on"),
                outcome=form.get("outcome"), certificate=self._certificate or None,
                certificate_name=self.attached if self._certificate else "",
                certificate_type=self._certificate_type, certificate_number=form.get("certificate_number") or "",
                defects=defects[:50], appointment_id=form.get("appointment_id") or None)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        tasks = len(result.remedial_task_ids)
        self.notice = (f"Check recorded; next due {result.next_due_on.isoformat()}"
                       + (" (anniversary kept)" if result.kept_anniversary else "")
                       + (f"; {tasks} remedial task{'' if tasks == 1 else 's'} raised." if tasks else "."))
        self._certificate, self._certificate_type, self.attached = b"", "", ""
        self.form_key += 1
        await self._refresh(actor)

    @rx.event
    async def download_letter(self, letter_id: str):
        actor = await require(self, Perm.CASES_VIEW)
        try:
            pdf, name = await asyncio.to_thread(service.letter_file, actor, letter_id)
        except AtlasError as exc:
            self.error = str(exc)
            return
        return rx.download(data=pdf, filename=name, mime_type="application/pdf")

    @rx.event
    async def download_certificate(self, check_id: str):
        actor = await require(self, Perm.CASES_VIEW)
        try:
            data, name, kind = await asyncio.to_thread(inst_service.certificate_file, actor, check_id)
        except AtlasError as exc:
            self.error = str(exc)
            return
        return rx.download(data=data, filename=name, mime_type=kind)


def _booking_form() -> rx.Component:
    S = HomeState
    return section(
        "Book an engineer",
        rx.form(
            rx.vstack(
                select_field("Engineer", "engineer_id", S.engineers, input_id="book-engineer", required=True,
                             blank="Choose an engineer"),
                field("Date and time", "starts_at", type="datetime-local", required=True, input_id="book-start",
                      hint="UK time."),
                field("Length (minutes)", "minutes", type="number", input_id="book-minutes", default_value="60",
                      min="15", max="600"),
                rx.button("Book and produce the letter", type="submit", id="book-submit"),
                spacing="3", width="100%", align_items="stretch",
            ),
            on_submit=S.book, key=S.form_key.to_string(), reset_on_submit=False,
        ),
        section_id="book",
    )


def _check_form() -> rx.Component:
    S = HomeState
    return section(
        "Record a check",
        rx.form(
            rx.vstack(
                select_field("Installation", "installation_id", S.installations, input_id="check-installation",
                             required=True, blank="Choose the installation", keys=("id", "type_name")),
                field("Date of the check", "checked_on", type="date", required=True, input_id="check-date",
                      default_value=date.today().isoformat()),
                select_field("Outcome", "outcome", OUTCOME_OPTIONS, input_id="check-outcome", required=True),
                field("Certificate number", "certificate_number", input_id="check-number", max_length=60),
                textarea_field("Defects (one a line)", "defects", input_id="check-defects", max_length=2000,
                               hint="Each defect raises a remedial task with a target time."),
                # The label around the drop zone names its file input (and clicking it opens the file chooser).
                rx.el.label(
                    rx.text("Certificate file", weight="medium"),
                    rx.upload.root(
                        rx.vstack(
                            rx.text("Choose the certificate file (press Enter), or drop it here", size="2"),
                            rx.foreach(rx.selected_files("certificate"),
                                       lambda f: rx.text(f, size="2", id="certificate-file")),
                            spacing="1",
                        ),
                        id="certificate", multiple=False, border="1px dashed var(--gray-8)", padding="1em",
                        width="100%",
                    ),
                    style={"display": "block", "width": "100%"},
                ),
                rx.hstack(
                    rx.button("Attach the file", type="button", variant="soft", id="certificate-attach",
                              on_click=S.attach(rx.upload_files(upload_id="certificate"))),
                    rx.text(rx.cond(S.attached != "", "Attached: " + S.attached, "No file attached"), size="2",
                            id="certificate-attached", role="status", aria_live="polite"),
                    spacing="2", align="center", wrap="wrap",
                ),
                rx.button("Record the check", type="submit", id="check-submit"),
                spacing="3", width="100%", align_items="stretch",
            ),
            on_submit=S.record_check, key=S.form_key.to_string(), reset_on_submit=False,
        ),
        section_id="check",
    )


def _appointment_actions(a: rx.Var) -> rx.Component:
    return rx.cond(
        (a["open"] != "") & HomeState.can_manage,
        rx.button("No access", size="1", variant="outline", color_scheme="red",
                  on_click=HomeState.no_access(a["id"]), id="no-access-" + a["id"],
                  aria_label="Record no access for the appointment " + a["when"]),
        rx.text(""),
    )


@staff_page("/utilities/home/[id]", "Home servicing", on_load=HomeState.load)
def home_page() -> rx.Component:
    S = HomeState
    return rx.cond(
        S.found,
        rx.vstack(
            rx.heading(S.address, size="5", as_="h2", id="home-address"),
            rx.text("UPRN ", S.uprn, " · Next check due: ", S.next_due, " · ", S.access, size="2", id="home-summary"),
            form_error(S.error),
            form_notice(S.notice),
            section("Installations", data_table(
                ["Installation", "Location", "Make and model", "Owned by", "Last check", "Next due"],
                S.installations,
                lambda i: [i["type_name"], i["location"], i["make"] + " " + i["model"], i["ownership_label"],
                           i["last_check_text"], i["next_due_text"]],
                caption="Installations", row_id=lambda i: "installation-" + i["id"],
                empty="No installations recorded."), section_id="installations"),
            section("Appointments", data_table(
                ["When", "Engineer", "Outcome", ""], S.appointments,
                lambda a: [a["when"], a["engineer"], a["outcome"], _appointment_actions(a)],
                caption="Appointments", row_id=lambda a: "appointment-" + a["id"], empty="No appointments."),
                section_id="appointments"),
            rx.cond(S.can_manage, rx.vstack(_booking_form(), _check_form(), width="100%", spacing="4")),
            section("Letters", data_table(
                ["Produced", "Letter", ""], S.letters,
                lambda x: [x["produced"], x["subject"],
                           rx.button("Download", size="1", variant="soft", on_click=S.download_letter(x["id"]),
                                     id="letter-" + x["id"], aria_label="Download the letter " + x["subject"])],
                caption="Letters", row_id=lambda x: "letter-row-" + x["id"], empty="No letters yet."),
                section_id="letters"),
            section("Checks", data_table(
                ["Date", "Installation", "Outcome", "Next due", "Certificate"], S.checks,
                lambda c: [c["checked_on"], c["type"], c["outcome_label"], c["next_due_on"],
                           rx.cond(c["has_certificate"] == "True",
                                   rx.button("Download", size="1", variant="soft",
                                             on_click=S.download_certificate(c["id"]), id="certificate-" + c["id"],
                                             aria_label="Download the certificate of the check on " +
                                             c["checked_on"]),
                                   rx.text("None"))],
                caption="Checks", row_id=lambda c: "check-" + c["id"], empty="No checks recorded."),
                section_id="checks"),
            section("Remedial work", data_table(
                ["Defect", "Severity", "Target", "Status"], S.remedial,
                lambda t: [t["description"], t["severity"], t["target"], t["status"]],
                caption="Remedial work", row_id=lambda t: "remedial-" + t["id"], empty="No remedial work."),
                section_id="remedial"),
            spacing="4", width="100%", align_items="stretch",
        ),
        rx.vstack(form_error(S.error), rx.link("Back to the programme", href="/utilities/programme"), width="100%"),
    )
