"""/letters: edit the organisation's letter templates (previewed with a real client's data before saving), and
print letters as PDF, for one client or for a filtered set of bookings, optionally emailing each client their copy.
Its "Emails" section edits the wording of the emails Atlas sends clients (booking confirmations, receipts...).

The PDFs come from the ``/api/letters/pdf`` route (a same-origin form post with the session cookie), which calls the
letters service; every handler here re-checks the actor and the permission on the server.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import reflex as rx

from atlas_app.services.booking import emails
from atlas_app.services.insight import letters, reports
from atlas_app.services.platform import bounds, templating, welsh
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date, utcnow
from atlas_app.ui.components.badges import welsh_missing
from atlas_app.ui.components.kit import select_field
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.session import private, require

register_nav("Letters and reports", NavItem("Letters", "/letters", "file_text", Perm.LETTERS_MANAGE))

STATUS_OPTIONS = [("active", "Awaiting payment or confirmed"), ("confirmed", "Confirmed"),
                  ("awaiting_payment", "Awaiting payment"), ("attended", "Attended"),
                  ("did_not_attend", "Did not attend"), ("any", "Any status")]
PAYMENT_OPTIONS = [("any", "Any payment state"), ("unpaid", "Not paid in full"), ("paid", "Paid in full")]
INPUT_STYLE = {"padding": "0.5em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
               "min-height": "2.5em", "width": "100%", "font-size": "1em"}


def _fields_help() -> list[dict[str, str]]:
    out = []
    for group, fields in letters.MERGE_FIELDS.items():
        for name, what in fields.items():
            out.append({"field": "{{ " + (f"{group}.{name}" if name else group) + " }}", "what": what})
    return out


FIELDS_HELP = _fields_help()


@private
class LettersState(rx.State):
    templates: list[dict[str, str]] = []
    code: str = ""
    name: str = ""
    subject: str = ""
    body: str = ""
    # The Welsh, sent to clients who asked for Welsh while the organisation offers it.
    subject_cy: str = ""
    body_cy: str = ""
    welsh_on: bool = False
    updated: str = ""
    preview_reference: str = ""
    preview_subject: str = ""
    preview_body: str = ""
    preview_for: str = ""
    error: str = ""
    notice: str = ""
    download_error: str = ""
    download_notice: str = ""
    course_types: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    next_week_from: str = ""
    next_week_to: str = ""
    match_count: str = ""
    one_reference: str = ""

    def _show(self, views: list, code: str) -> None:
        self.templates = [{"value": v.code, "label": v.name} for v in views]
        chosen = next((v for v in views if v.code == code), views[0] if views else None)
        if chosen is None:
            return
        self.code, self.name, self.subject, self.body = chosen.code, chosen.name, chosen.subject, chosen.body
        self.subject_cy, self.body_cy = chosen.subject_cy, chosen.body_cy
        self.templates = [{"value": v.code, "label": v.name + (" (Welsh missing)" if self.welsh_on and
                                                               welsh.is_missing(v.body, v.body_cy) else "")}
                          for v in views]
        self.updated = f"Last changed by {chosen.updated_by}" if chosen.updated_by else ""
        self.preview_subject = self.preview_body = self.preview_for = ""

    @rx.event
    async def load(self):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = self.match_count = ""
        # "Write a letter" on a client's record opens this page with the offer or booking reference filled in.
        self.one_reference = self.router.url.query_parameters.get("reference", "").strip().upper()[:40]
        self.welsh_on = await asyncio.to_thread(welsh.offers_welsh, actor.require_org())
        views = await asyncio.to_thread(letters.list_templates, actor)
        self._show(views, self.code)
        options: dict[str, Any] = {"course_types": [], "venues": []}
        if actor.can(Perm.REPORTS_VIEW):
            options = await asyncio.to_thread(reports.filter_options, actor)
        self.course_types = [{"value": v, "label": t} for v, t in options["course_types"]]
        self.venues = [{"value": v, "label": t} for v, t in options["venues"]]
        today = london_date(utcnow())
        monday = today + timedelta(days=7 - today.weekday())
        self.next_week_from, self.next_week_to = monday.isoformat(), (monday + timedelta(days=6)).isoformat()

    @rx.event
    async def choose(self, code: str):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        views = await asyncio.to_thread(letters.list_templates, actor)
        self._show(views, str(code)[:40])

    @rx.event
    async def set_name(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.name = str(value)[:150]

    @rx.event
    async def set_subject(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.subject = str(value)[:300]

    @rx.event
    async def set_body(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.body = str(value)[:letters.MAX_BODY + 1]

    @rx.event
    async def set_subject_cy(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.subject_cy = str(value)[:300]

    @rx.event
    async def set_body_cy(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.body_cy = str(value)[:letters.MAX_BODY + 1]

    @rx.var
    def welsh_missing(self) -> bool:
        return self.welsh_on and bool(self.body.strip()) and not self.body_cy.strip()

    @rx.event
    async def set_preview_reference(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.preview_reference = str(value)[:40]

    @rx.event
    async def preview(self):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        try:
            p = await templating.render_off_loop(letters.preview, actor, self.subject, self.body,
                                                 self.preview_reference, self.subject_cy, self.body_cy)
        except AtlasError as exc:
            self.error = str(exc)
            self.preview_subject = self.preview_body = self.preview_for = ""
            return
        self.preview_subject, self.preview_body = p.subject, p.body
        self.preview_for = f"Preview for {p.client_name} ({p.reference})" + (", in Welsh" if p.language == "cy"
                                                                              else "")

    @rx.event
    async def save(self):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        try:
            view = await asyncio.to_thread(letters.save_template, actor, self.code, self.name, self.subject,
                                           self.body, subject_cy=self.subject_cy, body_cy=self.body_cy)
        except AtlasError as exc:
            self.error = str(exc)
            return
        views = await asyncio.to_thread(letters.list_templates, actor)
        self._show(views, view.code)
        self.notice = f"Template “{view.name}” saved."

    @rx.event
    async def downloaded(self, outcome: Any):
        """What the page's download of a PDF answered (the browser reports it; nothing here is trusted)."""
        await require(self, Perm.LETTERS_MANAGE)
        outcome = outcome if isinstance(outcome, dict) else {}
        if not outcome.get("ok"):
            self.download_notice = ""
            self.download_error = str(outcome.get("message") or "")[:300]
            return
        letters_n, emailed = (bounds.id_or_none(outcome.get(k)) or 0 for k in ("letters", "emailed"))
        self.download_error = ""
        self.download_notice = (f"{letters_n} letter{'s' if letters_n != 1 else ''} downloaded"
                                + (f"; {emailed} emailed." if emailed else "."))

    @rx.event
    async def count(self, form: dict[str, Any]):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = ""
        values = {k: str(v)[:100] for k, v in (form or {}).items() if isinstance(v, (str, int))}
        try:
            n = await asyncio.to_thread(letters.count_matching, actor, values)
        except AtlasError as exc:
            self.error, self.match_count = str(exc), ""
            return
        self.match_count = f"{n} booking{'s' if n != 1 else ''} match{'es' if n == 1 else ''} these filters."


@private
class EmailsState(rx.State):
    """The "Emails" section: one kind of client email at a time."""

    kinds: list[dict[str, str]] = []
    kind: str = ""
    subject: str = ""
    body: str = ""
    updated: str = ""
    fields: list[dict[str, str]] = []
    preview_reference: str = ""
    preview_to: str = ""
    preview_subject: str = ""
    preview_body: str = ""
    error: str = ""
    notice: str = ""
    # "en" or "cy": which wording is being edited (the Welsh goes to clients who asked for Welsh).
    language: str = "en"
    # Kinds whose English the organisation changed without writing its Welsh ("Welsh missing"), while it offers Welsh.
    welsh_missing_kinds: list[str] = []

    async def _views(self, actor) -> list:
        if self.language == "en":
            status = await asyncio.to_thread(welsh.status, actor)
            labels = {m.item for m in status.missing if m.area == "Email templates"} if status.enabled else set()
            self.welsh_missing_kinds = [k for k, kind in emails.KINDS.items() if kind.label in labels]
        return await asyncio.to_thread(emails.list_templates, actor, self.language)

    def _show(self, views: list, kind: str) -> None:
        self.kinds = [{"value": v.kind, "label": v.label + ("" if v.is_default else " (changed)")
                       + (" (Welsh missing)" if v.kind in self.welsh_missing_kinds else "")} for v in views]
        chosen = next((v for v in views if v.kind == kind), views[0] if views else None)
        if chosen is None:
            return
        self.kind, self.subject, self.body = chosen.kind, chosen.subject, chosen.body
        self.updated = (f"Last changed by {chosen.updated_by}" if chosen.updated_by and not chosen.is_default
                        else "The wording Atlas ships with")
        self.fields = [{"field": f, "what": w} for f, w in emails.fields_of(chosen.kind)]
        self.preview_to = self.preview_subject = self.preview_body = ""

    @rx.event
    async def load(self):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        self._show(await self._views(actor), self.kind)

    @rx.event
    async def choose(self, kind: str):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        self._show(await self._views(actor), str(kind)[:40])

    @rx.event
    async def choose_language(self, value: str):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        self.language = "cy" if value == "cy" else "en"
        self._show(await self._views(actor), self.kind)

    @rx.var
    def welsh_missing(self) -> bool:
        return self.language == "en" and self.kind in self.welsh_missing_kinds

    @rx.event
    async def set_subject(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.subject = str(value)[:300]

    @rx.event
    async def set_body(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.body = str(value)[:emails.MAX_BODY + 1]

    @rx.event
    async def set_preview_reference(self, value: str):
        await require(self, Perm.LETTERS_MANAGE)
        self.preview_reference = str(value)[:40]

    @rx.event
    async def preview(self):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        try:
            p = await templating.render_off_loop(emails.preview, actor, self.kind, self.subject, self.body,
                                                 self.preview_reference, self.language)
        except AtlasError as exc:
            self.error = str(exc)
            self.preview_to = self.preview_subject = self.preview_body = ""
            return
        self.preview_to = f"To {p.to} (booking {p.reference})"
        self.preview_subject, self.preview_body = p.subject, p.body

    @rx.event
    async def save(self):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        try:
            view = await asyncio.to_thread(emails.save_template, actor, self.kind, self.subject, self.body,
                                           self.language)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self._show(await self._views(actor), view.kind)
        self.notice = f"Email “{view.label}” saved."

    @rx.event
    async def restore(self):
        actor = await require(self, Perm.LETTERS_MANAGE)
        self.error = self.notice = ""
        try:
            view = await asyncio.to_thread(emails.restore_default, actor, self.kind, self.language)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self._show(await self._views(actor), view.kind)
        self.notice = f"Email “{view.label}” has its shipped wording again."


def _emails_editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Emails", size="4", as_="h2", id="emails-heading"),
            rx.text("The emails clients are sent when they book, pay, are refunded, or their course changes. Each "
                    "is plain text with merge fields, checked like letters.", size="2"),
            select_field("Email", "email-kind", EmailsState.kinds, input_id="email-kind",
                         value=EmailsState.kind, on_change=EmailsState.choose),
            select_field("Language", "email-language", [{"value": "en", "label": "English"},
                                                         {"value": "cy", "label": "Welsh (Cymraeg)"}],
                         input_id="email-language", value=EmailsState.language,
                         on_change=EmailsState.choose_language),
            welsh_missing(EmailsState.welsh_missing, "this email's Welsh wording"),
            rx.text(EmailsState.updated, size="2", color_scheme="gray"),
            rx.el.label("Subject", html_for="email-subject", font_weight="500"),
            rx.input(id="email-subject", value=EmailsState.subject, on_change=EmailsState.set_subject,
                     width="100%"),
            rx.el.label("Email text", html_for="email-body", font_weight="500"),
            rx.text_area(id="email-body", value=EmailsState.body, on_change=EmailsState.set_body, rows="14",
                         width="100%", aria_describedby="email-fields", style={"font-family": "monospace"}),
            rx.el.details(
                rx.el.summary("Merge fields of this email", style={"cursor": "pointer", "font-weight": "500"}),
                rx.el.dl(rx.foreach(EmailsState.fields, lambda f: rx.fragment(
                    rx.el.dt(rx.code(f["field"])), rx.el.dd(f["what"], margin_bottom="0.4em")))),
                id="email-fields",
            ),
            rx.el.label("Preview with booking or offer reference (blank: the latest booking)",
                        html_for="email-preview-reference", font_weight="500"),
            rx.input(id="email-preview-reference", value=EmailsState.preview_reference,
                     on_change=EmailsState.set_preview_reference, width="100%"),
            form_error(EmailsState.error),
            form_notice(EmailsState.notice),
            rx.hstack(
                rx.button("Preview", id="email-preview-button", on_click=EmailsState.preview, variant="soft"),
                rx.button("Save email", id="email-save-button", on_click=EmailsState.save),
                rx.button("Restore the shipped wording", id="email-restore-button", on_click=EmailsState.restore,
                          variant="outline", color_scheme="gray"),
                spacing="3", wrap="wrap",
            ),
            rx.cond(
                EmailsState.preview_subject != "",
                rx.box(
                    rx.text(EmailsState.preview_to, size="2", color_scheme="gray"),
                    rx.text(EmailsState.preview_subject, weight="bold", id="email-preview-subject"),
                    rx.el.pre(EmailsState.preview_body, id="email-preview-body",
                              style={"white-space": "pre-wrap", "font-family": "inherit"}),
                    role="region", aria_label="Email preview", padding="1em",
                    border="1px solid var(--gray-7)", border_radius="var(--radius-3)", width="100%",
                ),
            ),
            spacing="2", width="100%", align_items="stretch",
        ),
        width="100%",
    )


def _template_editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Edit a template", size="4", as_="h2", id="edit-heading"),
            select_field("Template", "template", LettersState.templates, input_id="template-choice",
                         value=LettersState.code, on_change=LettersState.choose),
            rx.text(LettersState.updated, size="2", color_scheme="gray"),
            rx.el.label("Name", html_for="template-name", font_weight="500"),
            rx.input(id="template-name", value=LettersState.name, on_change=LettersState.set_name, width="100%"),
            rx.el.label("Subject", html_for="template-subject", font_weight="500"),
            rx.input(id="template-subject", value=LettersState.subject, on_change=LettersState.set_subject,
                     width="100%"),
            rx.el.label("Letter text", html_for="template-body", font_weight="500"),
            rx.text("Use merge fields such as {{ client.name }}; see the list of fields below.",
                    id="template-body-hint", size="2", color_scheme="gray"),
            rx.text_area(id="template-body", value=LettersState.body, on_change=LettersState.set_body,
                         rows="14", width="100%", aria_describedby="template-body-hint",
                         style={"font-family": "monospace"}),
            rx.heading("In Welsh", size="3", as_="h3"),
            rx.text("Sent instead to clients who asked to be written to in Welsh. Left empty, they get the English.",
                    id="template-welsh-hint", size="2", color_scheme="gray"),
            welsh_missing(LettersState.welsh_missing, "the letter text"),
            rx.el.label("Subject in Welsh", html_for="template-subject-cy", font_weight="500"),
            rx.input(id="template-subject-cy", value=LettersState.subject_cy, on_change=LettersState.set_subject_cy,
                     width="100%"),
            rx.el.label("Letter text in Welsh", html_for="template-body-cy", font_weight="500"),
            rx.text_area(id="template-body-cy", value=LettersState.body_cy, on_change=LettersState.set_body_cy,
                         rows="10", width="100%", aria_describedby="template-welsh-hint",
                         style={"font-family": "monospace"}),
            rx.el.label("Preview with the client of booking or offer reference (blank: the latest booking)",
                        html_for="preview-reference", font_weight="500"),
            rx.input(id="preview-reference", value=LettersState.preview_reference,
                     on_change=LettersState.set_preview_reference, width="100%"),
            form_error(LettersState.error),
            form_notice(LettersState.notice),
            rx.hstack(
                rx.button("Preview", id="preview-button", on_click=LettersState.preview, variant="soft"),
                rx.button("Save template", id="save-button", on_click=LettersState.save),
                spacing="3", wrap="wrap",
            ),
            rx.cond(
                LettersState.preview_for != "",
                rx.box(
                    rx.heading(LettersState.preview_for, size="3", as_="h3"),
                    rx.text(LettersState.preview_subject, weight="bold", id="preview-subject"),
                    rx.el.pre(LettersState.preview_body, id="preview-body",
                              style={"white-space": "pre-wrap", "font-family": "inherit"}),
                    role="region", aria_label="Letter preview", padding="1em",
                    border="1px solid var(--gray-7)", border_radius="var(--radius-3)", width="100%",
                ),
            ),
            spacing="2", width="100%", align_items="stretch",
        ),
        width="100%",
    )


def _fields_list() -> rx.Component:
    return rx.el.details(
        rx.el.summary("Merge fields you can use", style={"cursor": "pointer", "font-weight": "500"}),
        rx.el.dl(*[rx.fragment(rx.el.dt(rx.code(f["field"])), rx.el.dd(f["what"], margin_bottom="0.4em"))
                   for f in FIELDS_HELP]),
        rx.text("Also: {% if payment.balance != '£0.00' %} … {% endif %}, and filters such as {{ client.name | upper }}."
                " Nothing else is allowed: a template naming an unknown field is refused.", size="2"),
    )


def _check_box(name: str, input_id: str, text: str) -> rx.Component:
    return rx.hstack(rx.el.input(type="checkbox", id=input_id, name=name, value="1"),
                     rx.el.label(text, html_for=input_id), spacing="2", align="center")


def _date_input(label: str, name: str, input_id: str, value: rx.Var) -> rx.Component:
    return rx.vstack(rx.el.label(label, html_for=input_id, font_weight="500"),
                     rx.el.input(type="date", id=input_id, name=name, default_value=value, key=value,
                                 style=INPUT_STYLE),
                     spacing="1", width="100%")


# The PDF is fetched and saved from the page itself: a form post that answers with a download would make the
# browser start leaving the page, and Reflex closes its websocket then, so the next button press would do nothing.
# The route's answer is unchanged (the PDF as an attachment, or the API's JSON error).
_DOWNLOAD = """(async () => {
  const form = document.getElementById(%r);
  if (!form.reportValidity()) return {ok: false, message: ""};
  let answer;
  try {
    answer = await fetch("/api/letters/pdf", {method: "POST", body: new FormData(form), credentials: "same-origin",
                                              headers: {"Accept": "application/json"}});
  } catch (e) { return {ok: false, message: "Atlas could not be reached: try again."}; }
  if (!answer.ok) {
    let message = "The letters could not be produced.";
    try { message = (await answer.json()).error || message; } catch (e) {}
    return {ok: false, message};
  }
  const named = /filename="?([^";]+)"?/.exec(answer.headers.get("Content-Disposition") || "");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await answer.blob());
  link.download = named ? named[1] : "letters.pdf";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return {ok: true, letters: answer.headers.get("X-Atlas-Letters") || "0",
          emailed: answer.headers.get("X-Atlas-Emailed") || "0"};
})()"""


def _download(form_id: str) -> list:
    return [rx.prevent_default, rx.call_script(_DOWNLOAD % form_id, callback=LettersState.downloaded)]


def _produce_forms() -> rx.Component:
    one = rx.el.form(
        rx.vstack(
            rx.heading("One letter", size="4", as_="h2"),
            rx.el.input(type="hidden", name="mode", value="single"),
            select_field("Template", "template", LettersState.templates, input_id="one-template",
                         default_value=LettersState.code),
            rx.el.label("Booking or offer reference", html_for="one-reference", font_weight="500"),
            rx.el.input(id="one-reference", name="reference", required=True, style=INPUT_STYLE,
                        default_value=LettersState.one_reference, key=LettersState.one_reference),
            _check_box("email", "one-email", "Also email it to the client (if they have an email address)"),
            rx.button("Download the letter (PDF)", type="submit", id="one-submit"),
            spacing="2", width="100%", align_items="stretch",
        ),
        id="one-form", on_submit=_download("one-form"),
    )
    bulk = rx.el.form(
        rx.vstack(
            rx.heading("Letters for a set of bookings", size="4", as_="h2"),
            rx.text("One PDF, a page per booking, ready to print. The dates are the course dates (next week's "
                    "are filled in).", size="2"),
            rx.el.input(type="hidden", name="mode", value="bulk"),
            select_field("Template", "template", LettersState.templates, input_id="bulk-template",
                         default_value=LettersState.code),
            rx.grid(
                _date_input("Courses from", "session_from", "bulk-from", LettersState.next_week_from),
                _date_input("Courses to", "session_to", "bulk-to", LettersState.next_week_to),
                select_field("Course type", "course_type_id", LettersState.course_types, input_id="bulk-course",
                             blank="All course types"),
                select_field("Venue", "venue_id", LettersState.venues, input_id="bulk-venue", blank="All venues"),
                select_field("Booking status", "status", STATUS_OPTIONS, input_id="bulk-status"),
                select_field("Payment", "payment", PAYMENT_OPTIONS, input_id="bulk-payment"),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
            ),
            _check_box("email", "bulk-email", "Also email each client their letter (if they have an email address)"),
            rx.hstack(
                rx.button("Count matching bookings", type="button", variant="soft", id="bulk-count",
                          on_click=rx.call_script(
                              "(() => { const f = document.getElementById('bulk-form'); "
                              "return Object.fromEntries(new FormData(f).entries()); })()",
                              callback=LettersState.count)),
                rx.button("Download the letters (PDF)", type="submit", id="bulk-submit"),
                spacing="3", wrap="wrap",
            ),
            rx.cond(LettersState.match_count != "", rx.text(LettersState.match_count, role="status",
                                                            id="bulk-count-result")),
            spacing="2", width="100%", align_items="stretch",
        ),
        id="bulk-form", on_submit=_download("bulk-form"),
    )
    return rx.vstack(form_error(LettersState.download_error), form_notice(LettersState.download_notice),
                     rx.card(one, width="100%"), rx.card(bulk, width="100%"), spacing="4", width="100%")


@staff_page("/letters", "Letters", on_load=[LettersState.load, EmailsState.load])
def letters_page() -> rx.Component:
    return rx.vstack(
        rx.text("Letters are merged with each client's offer, booking and payment details. Every letter produced "
                "is noted on the client's timeline and in the audit trail."),
        rx.grid(
            rx.vstack(_template_editor(), _fields_list(), spacing="3", width="100%"),
            _produce_forms(),
            columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
        ),
        _emails_editor(),
        spacing="4", width="100%",
    )
