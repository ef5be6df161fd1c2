"""Track a report (public): its status timeline, the council's public updates, adding information or photos, and
stopping updates in one click.

/track/ENV-000123?token=...   from the confirmation page or the emailed link
/track                        reference + the email address given with the report (limited per reference and IP)

The token is held in a backend var once read; the page only ever shows the report that token opens. Photos are
shown through /api/report-photos, which checks the same token. The page text is in ``TEXT``.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from urllib.parse import quote

import reflex as rx

from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import i18n, images, welsh
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.ui.public.report import label_upload_js, pending_dir
from atlas_app.ui.public.booking_wizard import (
    FOCUS_ERRORS_JS,
    continue_button,
    error_summary,
    focus_style,
    inline_error,
    input_style,
    step_heading,
    text_input,
    wizard_page,
)
from atlas_app.ui.i18n import N_, Texts, _, follow_organisation, interpolate, language_of_state, public_page, to
from atlas_app.ui.session import client_ip, public

TEXT = Texts({
    "find": N_("Find your report"),
    "find_intro": N_("Enter the reference from your confirmation and the email address you gave."),
    "reference": N_("Report reference"),
    "reference_hint": N_("For example ENV-000123."),
    "email": N_("Email address"),
    "find_button": N_("Find my report"),
    "not_found": N_("We could not find that report. Use the link in your confirmation email, or find it by its "
                    "reference and your email address."),
    "status": N_("Status"),
    "progress": N_("Progress"),
    "updates": N_("Updates"),
    "no_updates": N_("No updates yet."),
    "add": N_("Add information"),
    "add_hint": N_("Tell the council anything new about the problem. 2000 characters at most."),
    "add_button": N_("Send information"),
    "added": N_("Thank you. Your information has been added to the report."),
    "closed_note": N_("This report is closed, so information can no longer be added."),
    "stop": N_("Stop email updates"),
    "stopped": N_("You will not get any more email updates about this report."),
    "following": N_("You get email updates about this report."),
    "photos": N_("Photos"),
})

UPLOAD_ID = "track-photos"
# The report statuses as the public reads them (domain.statuses.REPORT_LABELS), for the catalogue.
STATUS_MSGIDS = (N_("Received"), N_("With the team"), N_("In progress"), N_("Fixed"), N_("Closed"))


def _when(at) -> str:
    """``Tue 3 Dec 2026 14:05`` / ``Maw 3 Rhag 2026 14:05``: in the current language, London time."""
    if at is None:
        return ""
    from babel.dates import format_datetime

    return format_datetime(at.astimezone(i18n.LONDON), "EEE d MMM y HH:mm", locale=i18n.BABEL_LOCALE[i18n.current()])


@public
class TrackState(rx.State):
    error: str = ""
    errors: dict[str, str] = {}
    error_fields: list[dict[str, str]] = []
    found: bool = False
    notice: str = ""
    reference: str = ""
    organisation: str = ""
    category: str = ""
    promise: str = ""
    status_label: str = ""
    close_reason: str = ""
    location: str = ""
    description: str = ""
    reported: str = ""
    steps: list[dict[str, str]] = []
    timeline: list[dict[str, str]] = []
    photos: list[dict[str, str]] = []
    is_open: bool = False
    following: str = ""  # "yes", "no" or "" (not a follower's token)
    photo_names: list[str] = []

    _token: str = ""
    _reference: str = ""
    _photo_files: list[str] = []

    def _fail(self, errors: dict[str, str], order: list[tuple[str, str]], message: str = ""):
        self.errors = dict(errors)
        self.error_fields = [{"href": "#" + t, "message": errors[k]} for k, t in order if k in errors]
        self.error = message
        return rx.call_script(FOCUS_ERRORS_JS)

    def _clear(self) -> None:
        self.error, self.errors, self.error_fields = "", {}, []

    def _show(self, view: reports.TrackView) -> None:
        token = quote(self._token, safe="")
        ref = quote(view.reference, safe="")

        def photo(p: reports.PhotoRef) -> dict[str, str]:
            return {"src": f"/api/report-photos/{p.id}?ref={ref}&token={token}", "alt": _("Photo of the problem")}

        self.found = True
        self.reference, self.organisation, self.category = view.reference, view.organisation, view.category
        self.promise, self.status_label, self.close_reason = view.promise, _(view.status_label), view.close_reason
        self.location, self.description = view.location, view.description
        self.reported = _when(view.created_at)
        self.steps = [{"label": _(label), "when": _when(at) if at else "",
                       "state": _("done") if at else _("to do"), "marker": "✓" if at else "○"}
                      for step, label, at in view.steps if not (at is None and step in ("fixed", "closed")
                                                             and view.status in ("fixed", "closed"))]
        self.timeline = [{"when": _when(e.at), "title": _(e.status_label) if e.kind == "status" else
                          (_("Information you added") if e.kind == "resident" else _("Update from the council")),
                          "body": welsh.pick(e.body, e.body_cy, i18n.current()),
                          "photos": ",".join(str(p.id) for p in e.photos)}
                         for e in view.timeline if e.body or e.kind == "status"]
        self.photos = [photo(p) for p in view.photos] + [photo(p) for e in view.timeline for p in e.photos]
        self.is_open = view.is_open
        self.following = "" if view.following is None else ("yes" if view.following else "no")

    @rx.event
    async def load(self):
        self._clear()
        self.notice = ""
        path = self.router.url.path or ""
        reference = path.rstrip("/").rsplit("/", 1)[-1][:20]
        token = str(self.router.url.query_parameters.get("token", "") or "")[:100]
        if token:
            self._token, self._reference = token, reference
        elif reference.upper() != self._reference.upper():
            self._token, self._reference = "", reference
        if not self._token:
            self.found = False
            return rx.redirect(to("/track"))
        try:
            view = await asyncio.to_thread(reports.track, self._reference, self._token)
        except AtlasError:
            self.found = False
            self._token = ""
            return self._fail({}, [], TEXT["not_found"])
        if await follow_organisation(self, view.welsh_enabled) != language_of_state(self):
            return rx.redirect(to(self.router.url.path + "?token=" + quote(self._token, safe="")))
        self._show(view)
        return rx.call_script(label_upload_js(UPLOAD_ID, _("Photos to add")))

    @rx.event
    def start_find(self):
        self._clear()

    @rx.event
    async def find(self, form: dict):
        self._clear()
        form = form if isinstance(form, dict) else {}
        reference = str(form.get("reference") or "").strip()[:20]
        email = str(form.get("email") or "").strip()[:200]
        errors = {}
        if not reference:
            errors["reference"] = _("Enter the report reference.")
        if not email:
            errors["email"] = _("Enter your email address.")
        if errors:
            return self._fail(errors, [("reference", "f-reference"), ("email", "f-email")])
        try:
            view, token = await asyncio.to_thread(reports.track_by_email, reference, email, client_ip(self))
        except ValidationFailed as exc:
            return self._fail({}, [], str(exc))
        self._token, self._reference = token, view.reference
        language = await follow_organisation(self, view.welsh_enabled)
        self._show(view)
        return rx.redirect(to(f"/track/{view.reference}", language))

    @rx.event
    async def add_photos(self, files: list[rx.UploadFile]):
        self._clear()
        if not self._token:
            return None
        if len(self._photo_files) + len(files or []) > reports.MAX_PHOTOS:
            return self._fail({"photos": _("Add at most {count} photos.").format(count=reports.MAX_PHOTOS)},
                              [("photos", UPLOAD_ID)])
        for upload in files or []:
            data = await upload.read(images.MAX_BYTES + 1)
            try:
                clean = await asyncio.to_thread(images.clean_image, data)
            except ValidationFailed as exc:
                return self._fail({"photos": f"{(upload.name or 'photo')[-60:]}: {exc}"}, [("photos", UPLOAD_ID)])
            folder = pending_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{secrets.token_hex(16)}.img"
            await asyncio.to_thread(path.write_bytes, clean.data)
            self._photo_files = [*self._photo_files, str(path)]
            self.photo_names = [*self.photo_names, (upload.name or "photo").rsplit("/", 1)[-1][-60:]]
        return None

    @rx.event
    async def add_information(self, form: dict):
        self._clear()
        self.notice = ""
        if not self._token:
            return rx.redirect(to("/track"))
        text = str((form or {}).get("information") or "")[:5000]
        try:
            photos = [await asyncio.to_thread(Path(p).read_bytes) for p in self._photo_files]
            await asyncio.to_thread(reports.add_information, self._reference, self._token, text,
                                    photos, ip=client_ip(self))
            view = await asyncio.to_thread(reports.track, self._reference, self._token)
        except OSError:
            self._photo_files, self.photo_names = [], []
            return self._fail({}, [], _("Your photos could not be read; add them again."))
        except AtlasError as exc:
            errors = dict(getattr(exc, "errors", {}) or {})
            if "information" in errors:
                return self._fail({"information": str(exc)}, [("information", "f-information")])
            return self._fail({}, [], str(exc))
        for path in self._photo_files:
            Path(path).unlink(missing_ok=True)
        self._photo_files, self.photo_names = [], []
        self._show(view)
        self.notice = TEXT["added"]
        return rx.set_value("f-information", "")

    @rx.event
    async def stop_updates(self):
        self._clear()
        if not self._token:
            return rx.redirect(to("/track"))
        try:
            await asyncio.to_thread(reports.stop_updates, self._reference, self._token)
            view = await asyncio.to_thread(reports.track, self._reference, self._token)
        except AtlasError as exc:
            return self._fail({}, [], str(exc))
        self._show(view)
        self.notice = TEXT["stopped"]
        return None


T = TrackState


@public_page("/track", N_("Find your report · Atlas"), on_load=T.start_find)
def track_find() -> rx.Component:
    return wizard_page(
        error_summary(T),
        step_heading(TEXT["find"]),
        rx.text(TEXT["find_intro"]),
        rx.form(
            rx.vstack(
                text_input(T, TEXT["reference"], "reference", hint=TEXT["reference_hint"], auto_complete="off",
                           auto_capitalize="characters", spell_check=False, width="12em", max_length=20),
                text_input(T, TEXT["email"], "email", auto_complete="email", input_mode="email", spell_check=False,
                           max_length=200),
                continue_button(TEXT["find_button"], "find-report"),
                spacing="5", width="100%", align_items="stretch",
            ),
            on_submit=T.find, aria_label=TEXT["find"], no_validate=True,
        ),
    )


def _step(s) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.text(s["marker"], aria_hidden="true", weight="bold", style={"width": "1.2em"}),
            rx.box(rx.text(s["label"], weight="bold"),
                   rx.text(rx.cond(s["when"] != "", s["when"], _("Not yet")), size="2", color_scheme="gray"),
                   rx.el.span(" (", s["state"], ")", class_name="sr-only")),
            align="start",
        ),
        style={"padding": "0.4em 0", "border_left": rx.cond(s["when"] != "", "4px solid var(--green-9)",
                                                            "4px dashed var(--gray-7)"),
               "padding_left": "0.75em", "list_style": "none"},
    )


def _entry(e) -> rx.Component:
    return rx.el.li(
        rx.text(e["title"], weight="bold"),
        rx.text(e["when"], size="2", color_scheme="gray"),
        rx.cond(e["body"] != "", rx.text(e["body"], style={"white_space": "pre-wrap"})),
        style={"padding": "0.6em 0", "border_bottom": "1px solid var(--gray-6)", "list_style": "none"},
    )


@public_page("/track/[reference]", N_("Your report · Atlas"), on_load=T.load)
def track_report() -> rx.Component:
    return wizard_page(
        error_summary(T),
        rx.cond(
            T.found,
            rx.vstack(
                step_heading(_("Report") + " " + T.reference),
                rx.text(T.category, " · ", T.location, weight="bold"),
                rx.text(*interpolate(_("Reported to {council} on {date}."), council=T.organisation, date=T.reported),
                        size="2"),
                rx.box(rx.text(TEXT["status"], ": ", rx.text.strong(T.status_label, id="report-status")),
                       rx.cond(T.close_reason != "",
                               rx.text(*interpolate(_("Reason: {reason}"), reason=T.close_reason))),
                       rx.cond(T.promise != "", rx.text(T.promise, size="2")),
                       style={"border_left": "4px solid var(--accent-9)", "padding": "0.25em 0 0.25em 0.75em"}),
                rx.cond(T.notice != "", rx.callout(T.notice, icon="info", role="status", id="track-notice")),
                rx.heading(TEXT["progress"], size="5", as_="h2"),
                rx.el.ol(rx.foreach(T.steps, _step), id="steps", style={"padding": "0", "margin": "0"}),
                rx.heading(TEXT["updates"], size="5", as_="h2"),
                rx.el.ul(rx.foreach(T.timeline, _entry), id="timeline", style={"padding": "0", "margin": "0"}),
                rx.cond(T.photos.length() > 0, rx.vstack(
                    rx.heading(TEXT["photos"], size="5", as_="h2"),
                    rx.hstack(rx.foreach(T.photos, lambda p: rx.el.img(src=p["src"], alt=p["alt"],
                                                                       style={"max_width": "9em",
                                                                              "border_radius": "var(--radius-2)"})),
                              wrap="wrap", spacing="2"),
                    width="100%")),
                rx.cond(
                    T.is_open,
                    rx.vstack(
                        rx.heading(TEXT["add"], size="5", as_="h2"),
                        rx.upload.root(
                            rx.button(_("Choose photos"), type="button", variant="soft", id="track-choose-photos",
                                      style={"min_height": "44px", **focus_style()}),
                            rx.foreach(rx.selected_files(UPLOAD_ID), lambda f: rx.text(f, size="2")),
                            id=UPLOAD_ID, multiple=True, max_files=3,
                            accept={"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"],
                                    "image/webp": [".webp"]},
                            border="1px dashed var(--gray-8)", padding="0.75em", width="100%",
                        ),
                        inline_error(T, "photos", "photos-error"),
                        rx.button(_("Add the chosen photos"), type="button", variant="outline", id="track-add-photos",
                                  on_click=T.add_photos(rx.upload_files(upload_id=UPLOAD_ID)),
                                  style={"min_height": "44px", "width": "fit-content", **focus_style()}),
                        rx.cond(T.photo_names.length() > 0, rx.text(
                            *interpolate(_("Photos to send: {names}"), names=T.photo_names.join(", ")), size="2")),
                        rx.form(
                            rx.vstack(
                                rx.el.label(TEXT["add"], html_for="f-information", style={"font_weight": "600"}),
                                rx.text(TEXT["add_hint"], id="f-information-hint", size="2", color_scheme="gray"),
                                inline_error(T, "information", "f-information-error"),
                                rx.el.textarea(id="f-information", name="information", rows=4, max_length=2000,
                                               aria_describedby="f-information-hint",
                                               style=input_style(T.errors.contains("information"))),
                                continue_button(TEXT["add_button"], "send-information"),
                                spacing="2", width="100%", align_items="stretch",
                            ),
                            on_submit=T.add_information, aria_label=TEXT["add"], no_validate=True,
                        ),
                        spacing="3", width="100%", align_items="stretch",
                    ),
                    rx.text(TEXT["closed_note"]),
                ),
                rx.cond(T.following == "yes", rx.vstack(
                    rx.text(TEXT["following"]),
                    rx.button(TEXT["stop"], on_click=T.stop_updates, variant="outline", id="stop-updates",
                              style={"min_height": "44px", **focus_style()}),
                    width="100%")),
                spacing="4", width="100%", align_items="stretch",
            ),
            rx.vstack(
                step_heading(TEXT["find"]),
                rx.link(TEXT["find_button"], href=to("/track"), id="find-instead",
                        style={"display": "inline-flex", "min_height": "44px", "align_items": "center"}),
            ),
        ),
    )
