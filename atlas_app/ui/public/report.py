"""Report a problem (public, no sign-in): one question per page, check answers, confirmation.

/report?org=SLUG     which council (from the link), then
/report/what         what is the problem (the council's public categories, each with its description and promise)
/report/where        where: search the council's own gazetteer by postcode, street or address
/report/duplicates   "Is it one of these?" (open reports of the same kind within 50 m or at the same address)
/report/repeat       it is one of those: follow it (optional email), recorded as a repeat on that report
/report/details      description, up to 3 photos, optional name / email / phone with consent
/report/check        check your answers
/report/done         the reference and the tracking link (and an email with the same)

The state is public. The organisation, the chosen place and category and the photos' pending files are backend vars;
a category or address is accepted only from the lists the server offered. Every submission goes through
``reports.submit_report``: the limits, the honeypot and the size checks are the service's.
The page text is in ``TEXT`` (one place; each read in the page's language, English or Welsh under ``/cy``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any

import reflex as rx

from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import i18n, images
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.settings import get_settings
from atlas_app.timeutil import london_date
from atlas_app.ui.public.booking_wizard import (
    FOCUS_ERRORS_JS,
    back_link,
    continue_button,
    error_summary,
    focus_style,
    inline_error,
    input_style,
    radio_group,
    radio_option,
    step_heading,
    text_input,
    wizard_page,
)
from atlas_app.ui.components.map import report_map
from atlas_app.ui.i18n import N_, Texts, _, follow_organisation, interpolate, public_page, to
from atlas_app.ui.session import client_ip, public

TEXT = Texts({
    "service": N_("Report a problem"),
    "choose_council": N_("Which council is this for?"),
    "choose_council_intro": N_("Use the link on your council's website, or choose your council."),
    "no_councils": N_("No council takes reports here yet."),
    "what": N_("What is the problem?"),
    "what_error": N_("Choose what you are reporting."),
    "where": N_("Where is the problem?"),
    "where_hint": N_("Enter a postcode, a street name or part of an address."),
    "where_search": N_("Search"),
    "where_label": N_("Postcode, street or address"),
    "where_none": N_("No addresses match. Try the postcode, or a shorter part of the street name."),
    "where_choose": N_("Choose the nearest address"),
    "where_error": N_("Choose an address from the list."),
    "where_search_error": N_("Enter a postcode, a street name or part of an address."),
    "map_off": N_("You can find the place by its address. This council's site does not have a map."),
    "map_label": N_("Map: tap where the problem is to drop a pin"),
    "map_hint": N_("Tap the map where the problem is to drop a pin, or search for the address below. With a "
                   "keyboard, move the map with the arrow keys and zoom with + and -, then drop the pin at its "
                   "centre."),
    "map_drop_centre": N_("Drop the pin at the centre of the map"),
    "map_pinned": N_("Pin dropped:"),
    "map_use_pin": N_("Continue with this pin"),
    "duplicates": N_("Is it one of these?"),
    "duplicates_intro": N_("These problems were reported near that place in the last 14 days. If yours is one of "
                           "them, follow it instead of reporting it again."),
    "duplicates_new": N_("No, my problem is not listed: report it"),
    "repeat": N_("Follow this report"),
    "repeat_intro": N_("We will record that you reported it too. Give your email address if you want updates."),
    "details": N_("Tell us about the problem"),
    "description": N_("Describe the problem"),
    "description_hint": N_("For example, what it is, how big, and exactly where. 2000 characters at most."),
    "photos": N_("Photos (optional)"),
    "photos_hint": N_("Up to 3 photos: JPEG, PNG or WebP, each smaller than 10 MB. We remove the location and "
                      "camera details from them."),
    "add_photos": N_("Add the chosen photos"),
    "choose_photos": N_("Choose photos"),
    "contact": N_("Your details (optional)"),
    "contact_hint": N_("Give an email address to get a confirmation and updates. Leave these out to report "
                       "without giving your details."),
    "consent": N_("I agree that the council may use these details to contact me about this report."),
    "check": N_("Check your answers before sending your report"),
    "send": N_("Send report"),
    "done": N_("Report sent"),
    "done_ref": N_("Your reference is"),
    "track": N_("Track your report"),
    "track_text": N_("Keep this link to see progress, add information or photos:"),
    "emailed": N_("We have sent a confirmation email with the same link to {email}."),
    "not_emailed": N_("You did not give an email address, so keep this page or the link: it is the only way to see "
                      "your report."),
    "added": N_("Thank you: we have added your report"),
})

UPLOAD_ID = "report-photos"


def label_upload_js(upload_id: str, label: str) -> str:
    """Name the file input the upload component draws (it takes no props of its own), once it is on the page."""
    return ("(function name(n) { const i = document.querySelector('#" + upload_id + " input[type=file]'); "
            "if (i) { i.setAttribute('aria-label', " + repr(label) + "); } "
            "else if (n < 40) { setTimeout(() => name(n + 1), 100); } })(0)")
MAX_SEARCH_ROWS = 30


def pending_dir() -> Path:
    """Photos checked and re-encoded, waiting for their report to be sent (removed once it is)."""
    return get_settings().data_dir / "uploads" / "pending"


def _promise(c: reports.CategoryRow) -> str:
    return c.promise


@public
class ReportState(rx.State):
    error: str = ""
    errors: dict[str, str] = {}
    error_fields: list[dict[str, str]] = []
    org_name: str = ""
    org_slug: str = ""
    councils: list[dict[str, str]] = []
    categories: list[dict[str, str]] = []
    category_id: str = ""
    category_name: str = ""
    category_promise: str = ""
    search_text: str = ""
    searched: bool = False
    addresses: list[dict[str, str]] = []
    address_choice: str = ""
    location_label: str = ""
    duplicates: list[dict[str, str]] = []
    description: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    consent: bool = False
    photo_names: list[str] = []
    sending: bool = False
    done_reference: str = ""
    done_link: str = ""
    done_email: str = ""
    map_on: bool = False
    map_tile_url: str = ""
    map_attribution: str = ""
    map_area: list[float] = []
    pin: list[float] = []
    pin_label: str = ""

    _org_id: int = 0
    _category_ids: list[int] = []
    _offered_uprns: list[str] = []
    _uprn: str = ""
    _dupe_refs: list[str] = []
    _repeat_ref: str = ""
    _photo_files: list[str] = []

    # --- helpers ---

    def _clear_errors(self) -> None:
        self.error, self.errors, self.error_fields = "", {}, []

    def _fail(self, errors: dict[str, str], order: list[tuple[str, str]], message: str = ""):
        self.errors = dict(errors)
        self.error_fields = [{"href": "#" + target, "message": errors[key]} for key, target in order if key in errors]
        self.error = message
        return rx.call_script(FOCUS_ERRORS_JS)

    def _drop_photos(self) -> None:
        for path in self._photo_files:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._photo_files, self.photo_names = [], []

    def _need(self, *what: str):
        """Redirect to the first step whose answer is missing (a page opened out of order)."""
        if not self._org_id:
            return rx.redirect(to("/report"))
        if "category" in what and not self.category_id:
            return rx.redirect(to("/report/what"))
        if "where" in what and not self._uprn and not self.pin:
            return rx.redirect(to("/report/where"))
        if "details" in what and not self.description:
            return rx.redirect(to("/report/details"))
        return None

    # --- council ---

    @rx.event
    async def start(self):
        slug = str(self.router.url.query_parameters.get("org", "") or "")[:40]
        self._clear_errors()
        if slug:
            org = await asyncio.to_thread(reports.organisation_by_slug, slug)
            if org is not None:
                if org.id != self._org_id:
                    self._drop_photos()
                    self.reset()
                    self._org_id, self.org_name, self.org_slug = org.id, org.name, org.slug
                return rx.redirect(to("/report/what", await follow_organisation(self, org.welsh_enabled)))
        self.councils = await asyncio.to_thread(_councils)
        return None

    # --- what ---

    @rx.event
    async def load_what(self):
        if not self._org_id:
            return rx.redirect(to("/report"))
        cats = await asyncio.to_thread(reports.public_categories, self._org_id)
        self._category_ids = [c.id for c in cats]
        self.categories = [{"id": str(c.id), "name": c.name, "description": c.public_description,
                            "promise": _promise(c), "option_id": f"category-{c.id}"} for c in cats]
        return None

    @rx.event
    def choose_category(self, form: dict):
        self._clear_errors()
        value = str((form or {}).get("category") or "")
        if not value.isdigit() or int(value) not in self._category_ids:
            return self._fail({"category": TEXT["what_error"]}, [("category", "category-group")])
        chosen = next(c for c in self.categories if c["id"] == value)
        self.category_id, self.category_name, self.category_promise = value, chosen["name"], chosen["promise"]
        return rx.redirect(to("/report/where"))

    # --- where ---

    @rx.event
    async def load_where(self):
        self._clear_errors()
        missing = self._need("category")
        if missing is not None:
            return missing
        found = await asyncio.to_thread(reports.public_map, self._org_id)
        self.map_on = found is not None
        self.map_tile_url = found.tile_url if found else ""
        self.map_attribution = found.attribution if found else ""
        self.map_area = list(found.area) if found and found.area else []
        return None

    @rx.event
    async def drop_pin(self, latitude: float, longitude: float):
        """A pin dropped on the map: matched to the nearest place (or refused as outside the council's area,
        naming who to contact)."""
        self._clear_errors()
        if not self._org_id or not self.map_on:
            return None
        try:
            lat, lng = round(float(latitude), 7), round(float(longitude), 7)
            loc = await asyncio.to_thread(reports.locate, self._org_id, latitude=lat, longitude=lng)
        except (TypeError, ValueError):
            return self._fail({"map": TEXT["where_error"]}, [("map", "report-map-canvas")])
        except ValidationFailed as exc:
            self.pin, self.pin_label = [], ""
            return self._fail({"map": str(exc)}, [("map", "report-map-canvas")])
        self.pin, self.pin_label = [lat, lng], loc.label
        return None

    @rx.event
    async def use_pin(self, form: dict):
        self._clear_errors()
        if not self.pin:
            return self._fail({"map": TEXT["where_error"]}, [("map", "report-map-canvas")])
        try:
            loc = await asyncio.to_thread(reports.locate, self._org_id, latitude=self.pin[0], longitude=self.pin[1])
            dupes = await asyncio.to_thread(reports.find_duplicates, self._org_id, int(self.category_id),
                                            location=loc)
        except ValidationFailed as exc:
            return self._fail({"map": str(exc)}, [("map", "report-map-canvas")])
        self._uprn = ""
        return self._chosen(loc, dupes)

    @rx.event
    async def search(self, form: dict):
        self._clear_errors()
        text = " ".join(str((form or {}).get("q") or "").split())[:120]
        self.search_text = text
        if len(text) < 2:
            self.searched, self.addresses = False, []
            return self._fail({"q": TEXT["where_search_error"]}, [("q", "f-q")])
        rows = await asyncio.to_thread(reports.search_address, self._org_id, text, MAX_SEARCH_ROWS)
        self.searched = True
        self._offered_uprns = [str(r.uprn) for r in rows]
        self.addresses = [{"uprn": str(r.uprn), "address": r.address, "option_id": f"address-{r.uprn}"}
                          for r in rows]
        return None

    @rx.event
    async def choose_address(self, form: dict):
        self._clear_errors()
        value = str((form or {}).get("uprn") or "")
        if value not in self._offered_uprns:
            return self._fail({"uprn": TEXT["where_error"]}, [("uprn", "address-group")])
        try:
            loc = await asyncio.to_thread(reports.locate, self._org_id, uprn=value)
            dupes = await asyncio.to_thread(reports.find_duplicates, self._org_id, int(self.category_id),
                                            location=loc)
        except ValidationFailed as exc:
            return self._fail({"uprn": str(exc)}, [("uprn", "address-group")])
        self._uprn, self.pin, self.pin_label = value, [], ""
        return self._chosen(loc, dupes)

    def _chosen(self, loc: reports.Location, dupes: list[reports.DuplicateRow]):
        self.location_label = loc.label
        self._dupe_refs = [d.reference for d in dupes]
        self.duplicates = [{"reference": d.reference, "status": d.status_label, "location": d.location,
                            "description": d.description,
                            "when": i18n.day_month_year(london_date(d.created_at)).lstrip("0"),
                            "option_id": f"dupe-{d.reference}"} for d in dupes]
        return rx.redirect(to("/report/duplicates" if dupes else "/report/details"))

    # --- duplicates / repeat ---

    @rx.event
    def load_duplicates(self):
        self._clear_errors()
        return self._need("category", "where")

    @rx.event
    def choose_duplicate(self, form: dict):
        self._clear_errors()
        value = str((form or {}).get("dupe") or "")
        if value == "new":
            return rx.redirect(to("/report/details"))
        if value not in self._dupe_refs:
            return self._fail({"dupe": _("Choose one of the reports, or say yours is not listed.")},
                              [("dupe", "dupe-group")])
        self._repeat_ref = value
        return rx.redirect(to("/report/repeat"))

    @rx.event
    def load_repeat(self):
        self._clear_errors()
        if not self._repeat_ref:
            return rx.redirect(to("/report/duplicates"))
        return self._need("category", "where")

    @rx.event
    async def send_repeat(self, form: dict):
        self._clear_errors()
        form = form if isinstance(form, dict) else {}
        data = {"email": str(form.get("email") or "")[:300], "name": str(form.get("name") or "")[:300],
                "website": str(form.get("website") or "")[:300]}
        try:
            followed = await asyncio.to_thread(reports.add_repeat, self._org_id, self._repeat_ref, data,
                                               ip=client_ip(self))
        except AtlasError as exc:
            errors = dict(getattr(exc, "errors", {}) or {})
            return self._fail({"email": str(exc)} if "email" in errors else {}, [("email", "f-email")],
                              "" if "email" in errors else str(exc))
        self.done_reference = self._repeat_ref
        self.done_email = data["email"].strip() if followed else ""
        self.done_link = ""
        return rx.redirect(to("/report/added"))

    # --- details ---

    @rx.event
    def load_details(self):
        self._clear_errors()
        return self._need("category", "where") or rx.call_script(label_upload_js(UPLOAD_ID, TEXT["photos"]))

    @rx.event
    async def add_photos(self, files: list[rx.UploadFile]):
        self._clear_errors()
        if not self._org_id:
            return None
        if len(self._photo_files) + len(files or []) > reports.MAX_PHOTOS:
            return self._fail({"photos": _("Add at most {count} photos.").format(count=reports.MAX_PHOTOS)},
                              [("photos", UPLOAD_ID)])
        folder = pending_dir()
        folder.mkdir(parents=True, exist_ok=True)
        for upload in files or []:
            data = await upload.read(images.MAX_BYTES + 1)
            try:
                clean = await asyncio.to_thread(images.clean_image, data)
            except ValidationFailed as exc:
                return self._fail({"photos": f"{(upload.name or 'photo')[-60:]}: {exc}"}, [("photos", UPLOAD_ID)])
            path = folder / f"{secrets.token_hex(16)}.img"
            await asyncio.to_thread(path.write_bytes, clean.data)
            self._photo_files = [*self._photo_files, str(path)]
            self.photo_names = [*self.photo_names, (upload.name or "photo").rsplit("/", 1)[-1][-60:]]
        return None

    @rx.event
    def remove_photo(self, index: int):
        try:
            i = int(index)
        except (TypeError, ValueError):
            return
        if 0 <= i < len(self._photo_files):
            try:
                os.unlink(self._photo_files[i])
            except OSError:
                pass
            self._photo_files = [p for n, p in enumerate(self._photo_files) if n != i]
            self.photo_names = [p for n, p in enumerate(self.photo_names) if n != i]

    @rx.event
    def save_details(self, form: dict):
        self._clear_errors()
        form = form if isinstance(form, dict) else {}
        errors: dict[str, str] = {}
        description = str(form.get("description") or "").replace("\r\n", "\n").strip()
        if not description:
            errors["description"] = _("Describe the problem.")
        elif len(description) > reports.MAX_DESCRIPTION:
            errors["description"] = _("The description must be 2000 characters or fewer.")
        name = " ".join(str(form.get("name") or "").split())
        email = str(form.get("email") or "").strip()
        phone = " ".join(str(form.get("phone") or "").split())
        consent = str(form.get("consent") or "") in ("on", "true", "yes", "1")
        if len(name) > 120:
            errors["name"] = _("Your name must be 120 characters or fewer.")
        try:
            reports.check_email(email)
        except ValidationFailed as exc:
            errors["email"] = str(exc)
        if phone and (len(phone) > 40 or not all(c in "0123456789+()- " for c in phone)):
            errors["phone"] = _("Enter a telephone number, like 01632 960 001 or 07700 900 982.")
        if (name or email or phone) and not consent:
            errors["consent"] = _("Tick the box to agree, or leave your details out.")
        self.description, self.name, self.email, self.phone, self.consent = \
            description[:reports.MAX_DESCRIPTION], name[:120], email[:200], phone[:40], consent
        if str(form.get("website") or "").strip():
            return self._fail({}, [], _("Your report could not be sent."))
        if errors:
            return self._fail(errors, [("description", "f-description"), ("name", "f-name"), ("email", "f-email"),
                                       ("phone", "f-phone"), ("consent", "f-consent")])
        return rx.redirect(to("/report/check"))

    # --- check and send ---

    @rx.event
    def load_check(self):
        self._clear_errors()
        return self._need("category", "where", "details")

    @rx.event
    async def send(self):
        self._clear_errors()
        missing = self._need("category", "where", "details")
        if missing is not None:
            yield missing
            return
        if self.sending:
            return
        self.sending = True
        yield
        try:
            photos = [await asyncio.to_thread(Path(p).read_bytes) for p in self._photo_files]
            where = {"uprn": self._uprn} if self._uprn else {"latitude": self.pin[0], "longitude": self.pin[1]}
            data = {"category_id": self.category_id, **where, "description": self.description,
                    "name": self.name, "email": self.email, "phone": self.phone, "consent": self.consent}
            done = await asyncio.to_thread(reports.submit_report, self._org_id, data, photos, ip=client_ip(self))
        except (AtlasError, OSError) as exc:
            self.sending = False
            yield self._fail({}, [], str(exc) if isinstance(exc, AtlasError) else
                             _("Your photos could not be read; add them again."))
            return
        self._drop_photos()
        self.sending = False
        self.done_reference = done.reference
        self.done_link = f"{get_settings().base_url}{done.tracking_path}"
        self.done_email = self.email if done.email_queued else ""
        self.description = self.name = self.email = self.phone = ""
        self.consent = False
        self._uprn, self.location_label, self.category_id = "", "", ""
        self.pin, self.pin_label = [], ""
        yield rx.redirect(to("/report/done"))

    @rx.event
    def load_done(self):
        if not self.done_reference:
            return rx.redirect(to("/report"))
        return None


def _councils() -> list[dict[str, str]]:
    return [{"slug": o.slug, "name": o.name, "href": to(f"/report?org={o.slug}")}
            for o in reports.organisations_taking_reports()]


S = ReportState


def _service_line() -> rx.Component:
    return rx.text(*interpolate(_("Report a problem to {council}"), council=rx.text.strong(S.org_name)), size="2",
                   color_scheme="gray")


def _honeypot() -> rx.Component:
    # Hidden from people and assistive technology; robots that fill every field fill it.
    return rx.box(
        rx.el.label(_("Leave this empty"), html_for="f-website"),
        rx.el.input(id="f-website", name="website", type="text", tab_index=-1, auto_complete="off"),
        aria_hidden="true",
        style={"position": "absolute", "left": "-10000px", "width": "1px", "height": "1px", "overflow": "hidden"},
    )


def _link_button(label: str, href: str, link_id: str) -> rx.Component:
    return rx.link(label, href=href, id=link_id,
                   style={"display": "inline-flex", "min_height": "44px", "align_items": "center",
                          "font_weight": "600", **focus_style()})


@public_page("/report", N_("Which council · Report a problem · Atlas"), on_load=S.start)
def report_start() -> rx.Component:
    return wizard_page(
        step_heading(TEXT["choose_council"]),
        rx.text(TEXT["choose_council_intro"]),
        rx.cond(S.councils.length() > 0,
                rx.el.ul(rx.foreach(S.councils, lambda c: rx.el.li(
                    rx.link(c["name"], href=c["href"], style={"display": "inline-flex", "min_height": "44px",
                                                              "align_items": "center", **focus_style()}))),
                    id="councils", style={"padding_left": "1.25em"}),
                rx.text(TEXT["no_councils"])),
    )


@public_page("/report/what", N_("What is the problem · Report a problem · Atlas"), on_load=S.load_what)
def report_what() -> rx.Component:
    return wizard_page(
        _service_line(),
        error_summary(S),
        rx.form(
            rx.vstack(
                radio_group(
                    S, step_heading(TEXT["what"]), "category",
                    rx.box(rx.foreach(S.categories, lambda c: radio_option(
                        "category", c["id"], c["option_id"], S.category_id == c["id"],
                        rx.text(c["name"], weight="bold"),
                        rx.cond(c["description"] != "", rx.text(c["description"], size="2")),
                        rx.cond(c["promise"] != "", rx.text(c["promise"], size="2", color_scheme="gray")),
                    )), id="category-group", style={"display": "flex", "flex_direction": "column",
                                                    "gap": "0.75em"}),
                ),
                continue_button(),
                spacing="5", width="100%", align_items="stretch",
            ),
            on_submit=S.choose_category, aria_label=TEXT["what"], no_validate=True,
        ),
    )


def _where_map() -> rx.Component:
    return rx.vstack(
        rx.text(TEXT["map_hint"], id="map-hint", size="2"),
        inline_error(S, "map", "map-error"),
        report_map(tile_url=S.map_tile_url, attribution=S.map_attribution, area=S.map_area, pin=S.pin,
                   pickable=True, label=TEXT["map_label"], pick_label=TEXT["map_drop_centre"], height=300,
                   on_pick=S.drop_pin),
        rx.cond(S.pin_label != "", rx.form(
            rx.vstack(
                rx.text(TEXT["map_pinned"], " ", rx.text.strong(S.pin_label), id="pin-label", role="status"),
                continue_button(TEXT["map_use_pin"], "use-pin"),
                spacing="3", width="100%", align_items="stretch"),
            on_submit=S.use_pin, aria_label=TEXT["map_use_pin"], no_validate=True)),
        spacing="3", width="100%", align_items="stretch", id="where-map",
    )


@public_page("/report/where", N_("Where is the problem · Report a problem · Atlas"), on_load=S.load_where)
def report_where() -> rx.Component:
    return wizard_page(
        back_link(to("/report/what")),
        _service_line(),
        error_summary(S),
        step_heading(TEXT["where"]),
        rx.text(S.category_name, weight="bold"),
        rx.cond(S.map_on, _where_map(), rx.text(TEXT["map_off"], id="map-off", size="2")),
        rx.form(
            rx.vstack(
                text_input(S, TEXT["where_label"], "q", hint=TEXT["where_hint"], auto_complete="off",
                           default_value=S.search_text),
                rx.button(TEXT["where_search"], type="submit", size="3", id="search", variant="outline",
                          style={"min_height": "44px", "width": "fit-content", **focus_style()}),
                spacing="3", width="100%", align_items="stretch",
            ),
            on_submit=S.search, aria_label=TEXT["where_label"], no_validate=True, role="search",
        ),
        rx.cond(
            S.searched,
            rx.cond(
                S.addresses.length() > 0,
                rx.form(
                    rx.vstack(
                        radio_group(
                            S, rx.heading(TEXT["where_choose"], size="5", as_="h2"), "uprn",
                            rx.box(rx.foreach(S.addresses, lambda a: radio_option(
                                "uprn", a["uprn"], a["option_id"], False, rx.text(a["address"]))),
                                id="address-group", style={"display": "flex", "flex_direction": "column",
                                                           "gap": "0.5em"}),
                        ),
                        continue_button(),
                        spacing="5", width="100%", align_items="stretch",
                    ),
                    on_submit=S.choose_address, aria_label=TEXT["where_choose"], no_validate=True,
                ),
                rx.text(TEXT["where_none"], id="no-addresses", role="status"),
            ),
        ),
    )


@public_page("/report/duplicates", N_("Is it one of these · Report a problem · Atlas"), on_load=S.load_duplicates)
def report_duplicates() -> rx.Component:
    return wizard_page(
        back_link(to("/report/where")),
        _service_line(),
        error_summary(S),
        rx.form(
            rx.vstack(
                radio_group(
                    S, step_heading(TEXT["duplicates"]), "dupe",
                    rx.box(
                        rx.foreach(S.duplicates, lambda d: radio_option(
                            "dupe", d["reference"], d["option_id"], False,
                            rx.text(d["reference"], ": ", d["status"], weight="bold"),
                            rx.text(d["location"], size="2"),
                            rx.text(d["description"], size="2"),
                            rx.text(*interpolate(_("Reported {date}"), date=d["when"]), size="2",
                                    color_scheme="gray"))),
                        radio_option("dupe", "new", "dupe-new", False, rx.text(TEXT["duplicates_new"],
                                                                               weight="bold")),
                        id="dupe-group", style={"display": "flex", "flex_direction": "column", "gap": "0.5em"}),
                    hint=TEXT["duplicates_intro"],
                ),
                continue_button(),
                spacing="5", width="100%", align_items="stretch",
            ),
            on_submit=S.choose_duplicate, aria_label=TEXT["duplicates"], no_validate=True,
        ),
    )


@public_page("/report/repeat", N_("Follow this report · Report a problem · Atlas"), on_load=S.load_repeat)
def report_repeat() -> rx.Component:
    return wizard_page(
        back_link(to("/report/duplicates")),
        _service_line(),
        error_summary(S),
        step_heading(TEXT["repeat"]),
        rx.text(TEXT["repeat_intro"]),
        rx.form(
            rx.vstack(
                text_input(S, _("Your name (optional)"), "name", auto_complete="name"),
                text_input(S, _("Email address (optional)"), "email", auto_complete="email", input_mode="email",
                           spell_check=False),
                _honeypot(),
                continue_button(_("Add my report"), "send-repeat"),
                spacing="5", width="100%", align_items="stretch",
            ),
            on_submit=S.send_repeat, aria_label=TEXT["repeat"], no_validate=True,
        ),
    )


@public_page("/report/added", N_("Report added · Report a problem · Atlas"))
def report_added() -> rx.Component:
    return wizard_page(
        rx.box(step_heading(TEXT["added"]),
               rx.text(*interpolate(_("to report {reference}."),
                                   reference=rx.text.strong(S.done_reference, id="added-reference"))),
               style={"border": "4px solid var(--green-9)", "padding": "1.25em", "border_radius": "var(--radius-3)",
                      "background": "var(--green-2)"}),
        rx.cond(S.done_email != "",
                rx.text(*interpolate(_("We have emailed a link to follow it to {email}."), email=S.done_email)),
                rx.text(_("You did not give an email address, so you will not get updates."))),
        _link_button(_("Report another problem"), to("/report") + "?org=" + S.org_slug, "report-another"),
    )


@public_page("/report/details", N_("Tell us about the problem · Report a problem · Atlas"), on_load=S.load_details)
def report_details() -> rx.Component:
    has_desc_error = S.errors.contains("description")
    return wizard_page(
        back_link(to("/report/where")),
        _service_line(),
        error_summary(S),
        step_heading(TEXT["details"]),
        rx.text(*interpolate(_("{what} at {where}"), what=S.category_name, where=S.location_label), weight="bold"),
        rx.vstack(
            rx.heading(TEXT["photos"], size="4", as_="h2"),
            rx.text(TEXT["photos_hint"], id="photos-hint", size="2", color_scheme="gray"),
            inline_error(S, "photos", "photos-error"),
            rx.upload.root(
                rx.button(TEXT["choose_photos"], type="button", variant="soft", id="choose-photos",
                          style={"min_height": "44px", **focus_style()}),
                rx.foreach(rx.selected_files(UPLOAD_ID), lambda f: rx.text(f, size="2")),
                id=UPLOAD_ID,
                multiple=True,
                max_files=3,
                accept={"image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"], "image/webp": [".webp"]},
                border="1px dashed var(--gray-8)", padding="0.75em", width="100%",
            ),
            rx.button(TEXT["add_photos"], type="button", id="add-photos", variant="outline",
                      on_click=S.add_photos(rx.upload_files(upload_id=UPLOAD_ID)),
                      style={"min_height": "44px", "width": "fit-content", **focus_style()}),
            rx.cond(S.photo_names.length() > 0,
                    rx.el.ul(rx.foreach(S.photo_names, lambda name, i: rx.el.li(
                        rx.hstack(rx.text(name), rx.button(_("Remove"), rx.el.span(" ", name, class_name="sr-only"),
                                                           type="button", variant="ghost", size="1",
                                                           on_click=S.remove_photo(i),
                                                           style={"min_height": "44px", **focus_style()}),
                                  align="center"))),
                             id="photo-list", aria_live="polite")),
            spacing="2", width="100%", align_items="stretch",
        ),
        rx.form(
            rx.vstack(
                rx.vstack(
                    rx.el.label(TEXT["description"], html_for="f-description", style={"font_weight": "600"}),
                    rx.text(TEXT["description_hint"], id="f-description-hint", size="2", color_scheme="gray"),
                    inline_error(S, "description", "f-description-error"),
                    rx.el.textarea(id="f-description", name="description", rows=5, max_length=2000,
                                   default_value=S.description,
                                   aria_invalid=rx.cond(has_desc_error, "true", "false"),
                                   aria_describedby=rx.cond(has_desc_error, "f-description-hint f-description-error",
                                                            "f-description-hint"),
                                   style=input_style(has_desc_error)),
                    spacing="1", width="100%", align_items="stretch",
                ),
                rx.heading(TEXT["contact"], size="4", as_="h2"),
                rx.text(TEXT["contact_hint"], size="2", color_scheme="gray"),
                text_input(S, _("Your name"), "name", auto_complete="name", default_value=S.name, max_length=120),
                text_input(S, _("Email address"), "email", auto_complete="email", input_mode="email", spell_check=False,
                           default_value=S.email, max_length=200),
                text_input(S, _("Telephone number"), "phone", auto_complete="tel", input_mode="tel",
                           default_value=S.phone,
                           max_length=40),
                rx.vstack(
                    inline_error(S, "consent", "f-consent-error"),
                    rx.el.label(
                        rx.el.input(type="checkbox", id="f-consent", name="consent", default_checked=S.consent,
                                    style={"width": "1.4em", "height": "1.4em", "flex_shrink": "0"}),
                        rx.text(TEXT["consent"]),
                        html_for="f-consent",
                        style={"display": "flex", "gap": "0.75em", "align_items": "flex-start", "min_height": "44px",
                               "cursor": "pointer"},
                    ),
                    spacing="1", width="100%",
                ),
                _honeypot(),
                continue_button(),
                spacing="4", width="100%", align_items="stretch",
            ),
            on_submit=S.save_details, aria_label=TEXT["details"], no_validate=True,
        ),
    )


def _answer(label: str, value: Any, href: str, what: str, row_id: str) -> rx.Component:
    return rx.el.div(
        rx.el.dt(label, style={"font_weight": "600"}),
        rx.el.dd(value, style={"margin": "0", "white_space": "pre-wrap", "overflow_wrap": "anywhere"}),
        rx.el.dd(rx.link(_("Change"), rx.el.span(f" {what}", class_name="sr-only"), href=href, id=f"change-{row_id}",
                         style={"display": "inline-flex", "min_height": "44px", "min_width": "44px",
                                "align_items": "center", **focus_style()}), style={"margin": "0"}),
        id=f"answer-{row_id}",
        style={"display": "grid", "grid_template_columns": "minmax(0, 1fr)", "gap": "0.15em", "padding": "0.6em 0",
               "border_bottom": "1px solid var(--gray-6)",
               "@media (min-width: 40em)": {"grid_template_columns": "10em minmax(0, 1fr) auto",
                                            "align_items": "center"}},
    )


@public_page("/report/check", N_("Check your answers · Report a problem · Atlas"), on_load=S.load_check)
def report_check() -> rx.Component:
    return wizard_page(
        back_link(to("/report/details")),
        _service_line(),
        error_summary(S),
        step_heading(TEXT["check"]),
        rx.el.dl(
            _answer(_("What"), S.category_name, to("/report/what"), _("what the problem is"), "what"),
            _answer(_("Where"), S.location_label, to("/report/where"), _("where it is"), "where"),
            _answer(_("Description"), S.description, to("/report/details"), _("the description"), "description"),
            _answer(_("Photos"), rx.cond(S.photo_names.length() > 0, S.photo_names.join(", "), _("None")),
                    to("/report/details"), _("the photos"), "photos"),
            _answer(_("Name"), rx.cond(S.name != "", S.name, _("Not given")), to("/report/details"), _("your name"),
                    "name"),
            _answer(_("Email"), rx.cond(S.email != "", S.email, _("Not given")), to("/report/details"), _("your email"),
                    "email"),
            _answer(_("Telephone"), rx.cond(S.phone != "", S.phone, _("Not given")), to("/report/details"),
                    _("your telephone number"), "phone"),
            style={"margin": "0"},
        ),
        rx.cond(S.category_promise != "", rx.text(S.category_promise)),
        rx.button(TEXT["send"], on_click=S.send, size="3", id="send", loading=S.sending, disabled=S.sending,
                  style={"min_height": "48px", "width": "100%", "max_width": "20em", "font_weight": "600",
                         "cursor": "pointer", **focus_style()}),
    )


@public_page("/report/done", N_("Report sent · Report a problem · Atlas"), on_load=S.load_done)
def report_done() -> rx.Component:
    return wizard_page(
        rx.box(
            step_heading(TEXT["done"]),
            rx.text(TEXT["done_ref"], margin_top="0.5em"),
            rx.text(S.done_reference, id="report-reference", size="8", weight="bold",
                    style={"letter_spacing": "0.05em"}),
            style={"border": "4px solid var(--green-9)", "padding": "1.25em", "border_radius": "var(--radius-3)",
                   "background": "var(--green-2)"},
            id="confirmation",
        ),
        rx.heading(TEXT["track"], size="5", as_="h2"),
        rx.text(TEXT["track_text"]),
        rx.link(S.done_link, href=S.done_link, id="tracking-link",
                style={"overflow_wrap": "anywhere", "min_height": "44px", "display": "inline-flex",
                       "align_items": "center", **focus_style()}),
        rx.cond(S.done_email != "", rx.text(*interpolate(TEXT["emailed"], email=S.done_email)),
                rx.text(TEXT["not_emailed"])),
        _link_button(_("Report another problem"), to("/report") + "?org=" + S.org_slug, "report-another"),
    )
