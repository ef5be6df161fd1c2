"""Catalogue administration: course types, regions, venues, sessions (one, or a series) and booking terms.

Everything here needs the catalogue permission, checked again on the server by every handler and by the services.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, time

import reflex as rx

from atlas_app.domain.money import pence_decimal
from atlas_app.services.booking import catalogue as catalogue_service
from atlas_app.services.platform import bounds, welsh
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import at_london
from atlas_app.ui.components.kit import (
    checkbox_field,
    error_text,
    fieldset,
    section,
    select_field,
    textarea_field,
    two_columns,
)
from atlas_app.ui.components.forms import field, form_notice
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.badges import welsh_missing
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import pounds
from atlas_app.ui.session import private, require

register_nav("Bookings", NavItem("Course catalogue", "/bookings/catalogue", "library", Perm.CATALOGUE_MANAGE))

MODES = [("classroom", "Classroom"), ("online", "Online"), ("practical", "Practical")]
MODE_LABELS = dict(MODES)
VEHICLES = [("", "Any vehicle"), ("manual", "Manual"), ("automatic", "Automatic"), ("client_own", "Client's own car")]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ON = (True, "on", "true", "1", "yes")
CT_FIELDS = ("code", "name", "is_ndors", "description", "what_to_bring", "duration_minutes", "fee", "default_capacity", "is_active",
             "name_cy", "description_cy", "what_to_bring_cy",
             "mode_classroom", "mode_online", "mode_practical", "role_classroom", "role_classroom_per",
             "role_classroom_min", "role_practical", "role_practical_per", "role_practical_min",
             "role_practical_vehicle")
VENUE_FIELDS = ("name", "region_id", "is_online", "address_line1", "address_line2", "town", "postcode",
                "accessibility_notes", "is_active", "name_cy", "accessibility_notes_cy")
TERMS_FIELDS = ("hold_minutes", "payment_due_hours", "unpaid_action", "transfer_cutoff_hours", "transfer_fee",
                "max_transfers", "cancel_cutoff_hours", "cancel_fee", "bookable_days_ahead", "waiting_hold_minutes",
                "joining_details_hours")


def _on(form: dict, key: str) -> bool:
    return form.get(key) in ON


def _explain(exc: AtlasError) -> str:
    if isinstance(exc, ValidationFailed) and exc.errors:
        where = ", ".join(k.replace("_", " ") for k in exc.errors)
        return f"{exc} (Check: {where}.)"
    return str(exc)


def _parse_day(value, what: str) -> date:
    try:
        day = date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationFailed(f"Enter the {what} as a date.", {what.replace(" ", "_"): "invalid"}) from None
    return bounds.filter_date(day, what.replace(" ", "_"))


def _parse_time(value: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3])[:.]?([0-5]\d)", (value or "").strip())
    if not match:
        raise ValidationFailed(f"'{value}' is not a time like 09:30.", {"start_time": "invalid"})
    return time(int(match.group(1)), int(match.group(2)))


TERMS_FEE_MAX = catalogue_service.TERMS_FIELDS["cancel_fee_pence"][1]


def _pounds(pence: int) -> str:
    return pence_decimal(pence)


def course_type_data(form: dict) -> dict:
    """The service's course type fields from the form's."""
    roles = []
    for role in ("classroom", "practical"):
        if _on(form, f"role_{role}"):
            entry = {"role": role, "clients_per_instructor": form.get(f"role_{role}_per") or 12,
                     "minimum": form.get(f"role_{role}_min") or 1}
            if role == "practical" and form.get("role_practical_vehicle"):
                entry["vehicle"] = str(form["role_practical_vehicle"])
            roles.append(entry)
    return {
        "code": str(form.get("code", "")), "name": str(form.get("name", "")), "is_ndors": _on(form, "is_ndors"),
        "description": str(form.get("description", "") or ""),
        "what_to_bring": str(form.get("what_to_bring", "") or ""),
        **{key: str(form.get(key, "") or "") for key in ("name_cy", "description_cy", "what_to_bring_cy")},
        "duration_minutes": form.get("duration_minutes") or "",
        "fee": str(form.get("fee", "") or ""),
        "delivery_modes": [m for m, _ in MODES if _on(form, f"mode_{m}")],
        "default_capacity": form.get("default_capacity") or "",
        "instructor_roles": roles, "is_active": _on(form, "is_active"),
    }


def session_data(form: dict) -> dict:
    return {
        "course_type_id": form.get("course_type_id") or "",
        "venue_id": form.get("venue_id") or None,
        "delivery_mode": str(form.get("delivery_mode", "") or ""),
        "capacity": form.get("capacity") or None,
        "online_link": str(form.get("online_link", "") or ""),
        "notes": str(form.get("notes", "") or ""),
    }


@private
class CatalogueState(rx.State):
    tab: str = "course-types"
    notice: str = ""
    course_types: list[dict[str, str]] = []
    regions: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    course_type_options: list[dict[str, str]] = []
    venue_options: list[dict[str, str]] = []
    form_key: int = 0

    ct_open: bool = False
    ct_id: str = ""
    ct_form: dict[str, str] = {}
    ct_error: str = ""

    region_open: bool = False
    region_id: str = ""
    region_form: dict[str, str] = {}
    region_error: str = ""

    venue_open: bool = False
    venue_id: str = ""
    venue_form: dict[str, str] = {}
    venue_error: str = ""

    session_error: str = ""
    session_notice: str = ""
    series_error: str = ""
    series_notice: str = ""

    terms: dict[str, str] = {}
    # The organisation offers Welsh: texts without Welsh are marked "Welsh missing".
    welsh_on: bool = False
    terms_error: str = ""
    terms_notice: str = ""

    _ct_ids: set[int] = set()
    _region_ids: set[int] = set()
    _venue_ids: set[int] = set()

    async def _refresh(self, actor) -> None:
        types = await asyncio.to_thread(catalogue_service.list_course_types, actor)
        regions = await asyncio.to_thread(catalogue_service.list_regions, actor)
        venues = await asyncio.to_thread(catalogue_service.list_venues, actor)
        terms = await asyncio.to_thread(catalogue_service.get_terms, actor)
        region_names = {r.id: r.name for r in regions}
        self.welsh_on = await asyncio.to_thread(welsh.offers_welsh, actor.require_org())

        def missing(*pairs: tuple[str, str]) -> str:
            """Which public texts lack Welsh while the organisation offers it ("" when none)."""
            if not self.welsh_on:
                return ""
            return ", ".join(what for what, en, cy in pairs if welsh.is_missing(en, cy))

        self.course_types = []
        for t in types:
            roles = {r.get("role"): r for r in (t.instructor_roles or [])}
            cls, prac = roles.get("classroom", {}), roles.get("practical", {})
            self.course_types.append({
                "id": str(t.id), "code": t.code, "name": t.name, "is_ndors": "yes" if t.is_ndors else "",
                "ndors_text": "NDORS" if t.is_ndors else "Not NDORS", "description": t.description or "",
                "what_to_bring": t.what_to_bring or "",
                "name_cy": t.name_cy or "", "description_cy": t.description_cy or "",
                "what_to_bring_cy": t.what_to_bring_cy or "",
                "welsh_missing": missing(("name", t.name, t.name_cy), ("description", t.description, t.description_cy),
                                         ("what to bring", t.what_to_bring, t.what_to_bring_cy)),
                "duration_minutes": str(t.duration_minutes),
                "duration_text": f"{t.duration_minutes // 60} h {t.duration_minutes % 60:02d} min",
                "fee": _pounds(t.fee_pence), "fee_text": pounds(t.fee_pence),
                "modes_text": ", ".join(MODE_LABELS.get(m, m) for m in t.delivery_modes or []),
                "default_capacity": str(t.default_capacity),
                "is_active": "yes" if t.is_active else "", "active_text": "Active" if t.is_active else "Inactive",
                **{f"mode_{m}": "yes" if m in (t.delivery_modes or []) else "" for m, _ in MODES},
                "role_classroom": "yes" if cls else "",
                "role_classroom_per": str(cls.get("clients_per_instructor", 12)),
                "role_classroom_min": str(cls.get("minimum", 1)),
                "role_practical": "yes" if prac else "",
                "role_practical_per": str(prac.get("clients_per_instructor", 2)),
                "role_practical_min": str(prac.get("minimum", 1)),
                "role_practical_vehicle": str(prac.get("vehicle", "")),
                "roles_text": "; ".join(
                    f"{r['role']} (1 per {r.get('clients_per_instructor')}, at least {r.get('minimum')}"
                    + (f", {r['vehicle'].replace('_', ' ')}" if r.get("vehicle") else "") + ")"
                    for r in t.instructor_roles or []) or "None",
            })
        self.regions = [{"id": str(r.id), "name": r.name, "is_active": "yes" if r.is_active else "",
                         "active_text": "Active" if r.is_active else "Inactive"} for r in regions]
        self.venues = [
            {
                "id": str(v.id), "name": v.name, "region_id": str(v.region_id or ""),
                "region": region_names.get(v.region_id, "None"), "is_online": "yes" if v.is_online else "",
                "address_line1": v.address_line1, "address_line2": v.address_line2, "town": v.town,
                "postcode": v.postcode, "accessibility_notes": v.accessibility_notes or "",
                "name_cy": v.name_cy or "", "accessibility_notes_cy": v.accessibility_notes_cy or "",
                "welsh_missing": missing(("name", v.name, v.name_cy),
                                         ("accessibility notes", v.accessibility_notes, v.accessibility_notes_cy)),
                "where": "Online" if v.is_online else ", ".join(x for x in [v.address_line1, v.town, v.postcode]
                                                               if x),
                "is_active": "yes" if v.is_active else "", "active_text": "Active" if v.is_active else "Inactive",
            }
            for v in venues
        ]
        self.terms = {
            "hold_minutes": str(terms.hold_minutes), "payment_due_hours": str(terms.payment_due_hours),
            "unpaid_action": terms.unpaid_action, "transfer_cutoff_hours": str(terms.transfer_cutoff_hours),
            "transfer_fee": _pounds(terms.transfer_fee_pence), "max_transfers": str(terms.max_transfers),
            "cancel_cutoff_hours": str(terms.cancel_cutoff_hours), "cancel_fee": _pounds(terms.cancel_fee_pence),
            "bookable_days_ahead": str(terms.bookable_days_ahead),
            "waiting_hold_minutes": str(terms.waiting_hold_minutes),
            "joining_details_hours": str(terms.joining_details_hours),
            "conditions": terms.conditions, "conditions_cy": terms.conditions_cy,
            "welsh_missing": "terms" if welsh.is_missing(terms.conditions, terms.conditions_cy) else "",
        }
        self.course_type_options = [{"value": str(t.id), "label": f"{t.code}: {t.name}"} for t in types
                                    if t.is_active]
        self.venue_options = [{"value": str(v.id), "label": v.name} for v in venues if v.is_active]
        self._ct_ids = {t.id for t in types}
        self._region_ids = {r.id for r in regions}
        self._venue_ids = {v.id for v in venues}

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        self.notice = self.session_notice = self.series_notice = self.terms_notice = ""
        self.session_error = self.series_error = self.terms_error = ""
        tab = self.router.url.query_parameters.get("tab", "")
        self.tab = tab if tab in ("course-types", "regions", "venues", "sessions", "terms") else "course-types"
        await self._refresh(actor)

    @rx.event
    def set_tab(self, tab: str):
        if tab in ("course-types", "regions", "venues", "sessions", "terms"):
            self.tab = tab

    # --- course types ---

    @rx.event
    async def open_course_type(self, ct_id: str):
        await require(self, Perm.CATALOGUE_MANAGE)
        row = next((r for r in self.course_types if r["id"] == str(ct_id)), None)
        if row is None:
            self.ct_id = ""
            self.ct_form = {"is_ndors": "yes", "is_active": "yes", "duration_minutes": "165", "fee": "95.00",
                            "welsh_missing": "", "default_capacity": "24", "mode_classroom": "yes",
                            "role_classroom": "yes",
                            "role_classroom_per": "12", "role_classroom_min": "1", "role_practical_per": "2",
                            "role_practical_min": "1"}
        else:
            self.ct_id = row["id"]
            self.ct_form = {k: row.get(k, "") for k in (*CT_FIELDS, "welsh_missing")}
        self.ct_error = ""
        self.form_key += 1
        self.ct_open = True

    @rx.event
    def set_ct_open(self, value: bool):
        self.ct_open = bool(value)

    @rx.event
    async def save_course_type(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        ct_id = int(self.ct_id) if self.ct_id.isdigit() and int(self.ct_id) in self._ct_ids else None
        data = course_type_data(form)
        try:
            await asyncio.to_thread(catalogue_service.save_course_type, actor, ct_id, data)
        except AtlasError as exc:
            self.ct_error = _explain(exc)
            return
        self.ct_open = False
        self.notice = f"Saved course type {data['code'].strip().upper()}."
        await self._refresh(actor)

    # --- regions ---

    @rx.event
    async def open_region(self, region_id: str):
        await require(self, Perm.CATALOGUE_MANAGE)
        row = next((r for r in self.regions if r["id"] == str(region_id)), None)
        self.region_id = row["id"] if row else ""
        self.region_form = dict(row) if row else {"name": "", "is_active": "yes"}
        self.region_error = ""
        self.form_key += 1
        self.region_open = True

    @rx.event
    def set_region_open(self, value: bool):
        self.region_open = bool(value)

    @rx.event
    async def save_region(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        region_id = int(self.region_id) if self.region_id.isdigit() and int(self.region_id) in self._region_ids \
            else None
        try:
            await asyncio.to_thread(catalogue_service.save_region, actor, region_id, str(form.get("name", "")),
                                    _on(form, "is_active"))
        except AtlasError as exc:
            self.region_error = _explain(exc)
            return
        self.region_open = False
        self.notice = f"Saved region {str(form.get('name', '')).strip()}."
        await self._refresh(actor)

    # --- venues ---

    @rx.event
    async def open_venue(self, venue_id: str):
        await require(self, Perm.CATALOGUE_MANAGE)
        row = next((r for r in self.venues if r["id"] == str(venue_id)), None)
        self.venue_id = row["id"] if row else ""
        self.venue_form = ({k: row.get(k, "") for k in (*VENUE_FIELDS, "welsh_missing")} if row
                           else {"is_active": "yes", "welsh_missing": ""})
        self.venue_error = ""
        self.form_key += 1
        self.venue_open = True

    @rx.event
    def set_venue_open(self, value: bool):
        self.venue_open = bool(value)

    @rx.event
    async def save_venue(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        venue_id = int(self.venue_id) if self.venue_id.isdigit() and int(self.venue_id) in self._venue_ids else None
        data = {k: form.get(k, "") for k in VENUE_FIELDS if k not in ("is_online", "is_active")}
        data["is_online"] = _on(form, "is_online")
        data["is_active"] = _on(form, "is_active")
        try:
            await asyncio.to_thread(catalogue_service.save_venue, actor, venue_id, data)
        except AtlasError as exc:
            self.venue_error = _explain(exc)
            return
        self.venue_open = False
        self.notice = f"Saved venue {str(form.get('name', '')).strip()}."
        await self._refresh(actor)

    # --- sessions ---

    @rx.event
    async def create_session(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        try:
            day = _parse_day(form.get("day"), "date")
            start = _parse_time(str(form.get("start_time", "")))
            data = {**session_data(form), "starts_at": at_london(day, start)}
            session_id = await asyncio.to_thread(catalogue_service.save_session, actor, None, data)
        except AtlasError as exc:
            self.session_error = _explain(exc)
            self.session_notice = ""
            return
        self.session_error = ""
        self.session_notice = f"Session created for {day:%a %d %b %Y} at {start:%H:%M}: it is open for booking now."
        self.form_key += 1
        return rx.redirect(f"/bookings/session/{session_id}?created=1")

    @rx.event
    async def create_series(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        try:
            first = _parse_day(form.get("first_day"), "first date")
            last = _parse_day(form.get("last_day"), "last date")
            days = [i for i in range(7) if _on(form, f"weekday_{i}")]
            times = [_parse_time(t) for t in re.split(r"[,\s]+", str(form.get("start_times", "") or "")) if t]
            ids = await asyncio.to_thread(catalogue_service.create_series, actor, session_data(form), first, last,
                                          days, times)
        except AtlasError as exc:
            self.series_error = _explain(exc)
            self.series_notice = ""
            return
        self.series_error = ""
        self.series_notice = (f"Created {len(ids)} sessions from {first:%d %b %Y} to {last:%d %b %Y}; they are open "
                              "for booking now." if ids else "No session falls on those weekdays in that range.")
        self.form_key += 1

    # --- booking terms ---

    @rx.event
    async def save_terms(self, form: dict):
        actor = await require(self, Perm.CATALOGUE_MANAGE)
        data: dict = {k: str(form.get(k, "") or "").strip() for k in TERMS_FIELDS}
        for key in ("conditions", "conditions_cy"):
            if key in form:
                data[key] = str(form.get(key) or "")[:catalogue_service.MAX_CONDITIONS + 1]
        if not data.get("waiting_hold_minutes"):
            data.pop("waiting_hold_minutes", None)
        try:
            data["transfer_fee_pence"] = catalogue_service.pounds_to_pence(data.pop("transfer_fee"), "transfer fee",
                                                                           TERMS_FEE_MAX)
            data["cancel_fee_pence"] = catalogue_service.pounds_to_pence(data.pop("cancel_fee"), "cancellation fee",
                                                                         TERMS_FEE_MAX)
            await asyncio.to_thread(catalogue_service.save_terms, actor, data)
        except AtlasError as exc:
            self.terms_error = _explain(exc)
            self.terms_notice = ""
            return
        self.terms_error = ""
        self.terms_notice = "Booking terms saved. They apply to bookings, transfers and cancellations from now on."
        await self._refresh(actor)
        self.form_key += 1


# --- the page ------------------------------------------------------------------------------------------------


def _card(title: str, *children, **props) -> rx.Component:
    """A titled card inside a tab panel (the panel is already the named region)."""
    return section(title, *children, landmark=False, **props)


def _number(label: str, name: str, value, input_id: str, hint: str | None = None, minimum: int = 0,
            required: bool = True) -> rx.Component:
    return field(label, name, type="number", input_id=input_id, default_value=value, hint=hint, min=minimum,
                 required=required, input_mode="numeric")


def _edit_button(text: rx.Var, on_click, what: str) -> rx.Component:
    return rx.button("Edit", size="1", variant="soft", on_click=on_click, aria_label="Edit " + what + " " + text)


def _buttons(submit_id: str, error: rx.Var) -> rx.Component:
    """Save and close, with the reason saving failed right above them."""
    return rx.vstack(
        error_text(error),
        rx.hstack(
            rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", type="button", size="3")),
            rx.button("Save", type="submit", id=submit_id, size="3"),
            justify="end", width="100%", spacing="3",
        ),
        spacing="2", width="100%",
    )


def _course_type_dialog() -> rx.Component:
    f = CatalogueState.ct_form
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(CatalogueState.ct_id != "", "Edit course type", "New course type")),
            rx.dialog.description("A course type is bookable as soon as it has sessions.",
                                  size="2", margin_bottom="0.75em",
                                  color_scheme="gray"),
            rx.form(
                rx.vstack(
                    two_columns(
                        field("Code", "code", required=True, input_id="ct-code", default_value=f["code"],
                              hint="Capitals, digits, dash: e.g. NSAC", max_length=20),
                        field("Name", "name", required=True, input_id="ct-name", default_value=f["name"],
                              max_length=150),
                    ),
                    checkbox_field("An NDORS course (offered by the police through UKROEd)", "is_ndors",
                                   input_id="ct-ndors", default_checked=f["is_ndors"] == "yes"),
                    textarea_field("Description", "description", input_id="ct-description",
                                   default_value=f["description"]),
                    textarea_field("What to bring (shown on the confirmation, reminders and register)",
                                   "what_to_bring", input_id="ct-bring", default_value=f["what_to_bring"]),
                    fieldset(
                        "In Welsh (shown on the Welsh pages and in Welsh emails; left empty, the English is shown)",
                        welsh_missing(CatalogueState.welsh_on & (f["welsh_missing"] != ""), f["welsh_missing"]),
                        field("Name in Welsh", "name_cy", input_id="ct-name-cy", default_value=f["name_cy"],
                              max_length=150),
                        textarea_field("Description in Welsh", "description_cy", input_id="ct-description-cy",
                                       default_value=f["description_cy"]),
                        textarea_field("What to bring, in Welsh", "what_to_bring_cy", input_id="ct-bring-cy",
                                       default_value=f["what_to_bring_cy"]),
                    ),
                    rx.grid(
                        _number("Duration (minutes)", "duration_minutes", f["duration_minutes"], "ct-duration",
                                minimum=15),
                        field("Fee in pounds", "fee", input_id="ct-fee", default_value=f["fee"], required=True,
                              hint="For example 95.00", input_mode="decimal"),
                        _number("Default capacity", "default_capacity", f["default_capacity"], "ct-capacity",
                                hint="Seats per session", minimum=1),
                        columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
                    ),
                    fieldset(
                        "Delivery modes",
                        *[checkbox_field(text, f"mode_{m}", input_id=f"ct-mode-{m}",
                                         default_checked=f[f"mode_{m}"] == "yes") for m, text in MODES],
                    ),
                    fieldset(
                        "Instructor roles needed",
                        checkbox_field("Classroom instructors", "role_classroom", input_id="ct-role-classroom",
                                       default_checked=f["role_classroom"] == "yes"),
                        two_columns(
                            _number("Clients per classroom instructor", "role_classroom_per",
                                    f["role_classroom_per"], "ct-role-classroom-per", minimum=1, required=False),
                            _number("At least (classroom)", "role_classroom_min", f["role_classroom_min"],
                                    "ct-role-classroom-min", required=False),
                        ),
                        checkbox_field("Practical (in-car) instructors", "role_practical",
                                       input_id="ct-role-practical", default_checked=f["role_practical"] == "yes"),
                        rx.grid(
                            _number("Clients per practical instructor", "role_practical_per",
                                    f["role_practical_per"], "ct-role-practical-per", minimum=1, required=False),
                            _number("At least (practical)", "role_practical_min", f["role_practical_min"],
                                    "ct-role-practical-min", required=False),
                            select_field("Vehicle", "role_practical_vehicle", VEHICLES,
                                         input_id="ct-role-practical-vehicle",
                                         default_value=f["role_practical_vehicle"]),
                            columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
                        ),
                    ),
                    checkbox_field("Active (offered for booking)", "is_active", input_id="ct-active",
                                   default_checked=f["is_active"] == "yes"),
                    _buttons("save-course-type", CatalogueState.ct_error),
                    spacing="3", width="100%",
                ),
                on_submit=CatalogueState.save_course_type,
                key=CatalogueState.form_key,
            ),
            max_width="44em",
        ),
        open=CatalogueState.ct_open,
        on_open_change=CatalogueState.set_ct_open,
    )


def _region_dialog() -> rx.Component:
    f = CatalogueState.region_form
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(CatalogueState.region_id != "", "Edit region", "New region")),
            rx.dialog.description("Regions group venues.", size="2", margin_bottom="0.75em", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    field("Name", "name", required=True, input_id="region-name", default_value=f["name"],
                          max_length=100),
                    checkbox_field("Active", "is_active", input_id="region-active",
                                   default_checked=f["is_active"] == "yes"),
                    _buttons("save-region", CatalogueState.region_error),
                    spacing="3", width="100%",
                ),
                on_submit=CatalogueState.save_region,
                key=CatalogueState.form_key,
            ),
            max_width="28em",
        ),
        open=CatalogueState.region_open,
        on_open_change=CatalogueState.set_region_open,
    )


def _venue_dialog() -> rx.Component:
    f = CatalogueState.venue_form
    regions = rx.foreach(CatalogueState.regions, lambda r: rx.el.option(r["name"], value=r["id"]))
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(CatalogueState.venue_id != "", "Edit venue", "New venue")),
            rx.dialog.description("Clients see the address and the accessibility notes when they choose.",
                                  size="2", margin_bottom="0.75em",
                                  color_scheme="gray"),
            rx.form(
                rx.vstack(
                    field("Name", "name", required=True, input_id="venue-name", default_value=f["name"],
                          max_length=150),
                    rx.vstack(
                        rx.el.label("Region", html_for="venue-region", font_weight="500", font_size="0.95em"),
                        rx.el.select(rx.el.option("No region", value=""), regions, id="venue-region",
                                     name="region_id", default_value=f["region_id"],
                                     style={"padding": "0.5em", "border-radius": "var(--radius-2)",
                                            "border": "1px solid var(--gray-7)", "width": "100%",
                                            "background": "var(--color-background)", "min-height": "2.5em"}),
                        spacing="1", width="100%", align_items="stretch",
                    ),
                    checkbox_field("Online (a video call, no address)", "is_online", input_id="venue-online",
                                   default_checked=f["is_online"] == "yes"),
                    fieldset(
                        "Address (not needed for online)",
                        field("Address line 1", "address_line1", input_id="venue-line1",
                              default_value=f["address_line1"]),
                        field("Address line 2", "address_line2", input_id="venue-line2",
                              default_value=f["address_line2"]),
                        two_columns(
                            field("Town", "town", input_id="venue-town", default_value=f["town"]),
                            field("Postcode", "postcode", input_id="venue-postcode", default_value=f["postcode"]),
                        ),
                    ),
                    textarea_field("Accessibility notes", "accessibility_notes", input_id="venue-access",
                                   default_value=f["accessibility_notes"],
                                   hint="Step-free access, hearing loop, parking, toilets, what online needs."),
                    fieldset(
                        "In Welsh (shown on the Welsh pages; left empty, the English is shown)",
                        welsh_missing(CatalogueState.welsh_on & (f["welsh_missing"] != ""), f["welsh_missing"]),
                        field("Name in Welsh", "name_cy", input_id="venue-name-cy", default_value=f["name_cy"],
                              max_length=150),
                        textarea_field("Accessibility notes in Welsh", "accessibility_notes_cy",
                                       input_id="venue-access-cy", default_value=f["accessibility_notes_cy"]),
                    ),
                    checkbox_field("Active", "is_active", input_id="venue-active",
                                   default_checked=f["is_active"] == "yes"),
                    _buttons("save-venue", CatalogueState.venue_error),
                    spacing="3", width="100%",
                ),
                on_submit=CatalogueState.save_venue,
                key=CatalogueState.form_key,
            ),
            max_width="36em",
        ),
        open=CatalogueState.venue_open,
        on_open_change=CatalogueState.set_venue_open,
    )


def _course_types_tab() -> rx.Component:
    return _card(
        "Course types",
        data_table(
            ["Code", "Name", "Scheme", "Duration", "Fee", "Delivery", "Capacity", "Instructors", "Status", "Actions"],
            CatalogueState.course_types,
            lambda t: [rx.text(t["code"], weight="medium"),
                       rx.vstack(rx.text(t["name"]), welsh_missing(t["welsh_missing"] != "", t["welsh_missing"]),
                                 spacing="1"),
                       t["ndors_text"], t["duration_text"],
                       t["fee_text"], t["modes_text"], t["default_capacity"], t["roles_text"], t["active_text"],
                       _edit_button(t["code"], CatalogueState.open_course_type(t["id"]), "course type")],
            caption="Course types",
            row_id=lambda t: "ct-row-" + t["code"],
            empty="No course types yet.",
        ),
        actions=rx.button(rx.icon("plus", aria_hidden="true"), "New course type",
                          on_click=CatalogueState.open_course_type(""), id="new-course-type"),
    )


def _regions_tab() -> rx.Component:
    return _card(
        "Regions",
        data_table(
            ["Name", "Status", "Actions"],
            CatalogueState.regions,
            lambda r: [r["name"], r["active_text"], _edit_button(r["name"], CatalogueState.open_region(r["id"]),
                                                                 "region")],
            caption="Regions",
            empty="No regions yet.",
        ),
        actions=rx.button(rx.icon("plus", aria_hidden="true"), "New region",
                          on_click=CatalogueState.open_region(""), id="new-region"),
    )


def _venues_tab() -> rx.Component:
    return _card(
        "Venues",
        data_table(
            ["Name", "Region", "Where", "Accessibility", "Status", "Actions"],
            CatalogueState.venues,
            lambda v: [rx.vstack(rx.text(v["name"], weight="medium"),
                                 welsh_missing(v["welsh_missing"] != "", v["welsh_missing"]), spacing="1"),
                       v["region"], v["where"], v["accessibility_notes"],
                       v["active_text"], _edit_button(v["name"], CatalogueState.open_venue(v["id"]), "venue")],
            caption="Venues",
            empty="No venues yet.",
        ),
        actions=rx.button(rx.icon("plus", aria_hidden="true"), "New venue", on_click=CatalogueState.open_venue(""),
                          id="new-venue"),
    )


def _session_common(prefix: str) -> list[rx.Component]:
    types, venues = CatalogueState.course_type_options, CatalogueState.venue_options
    return [
        rx.grid(
            select_field("Course type", "course_type_id", types, input_id=f"{prefix}-course", required=True,
                         blank="Choose a course type"),
            select_field("Delivery", "delivery_mode", MODES, input_id=f"{prefix}-mode"),
            select_field("Venue", "venue_id", venues, input_id=f"{prefix}-venue", blank="No venue (online)"),
            _number("Capacity", "capacity", "", f"{prefix}-capacity", hint="Blank: the course type's default",
                    minimum=1, required=False),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"), spacing="3", width="100%",
        ),
    ]


def _sessions_tab() -> rx.Component:
    return rx.vstack(
        _card(
            "Add one session",
            rx.form(
                rx.vstack(
                    error_text(CatalogueState.session_error),
                    form_notice(CatalogueState.session_notice),
                    *_session_common("one"),
                    rx.grid(
                        field("Date", "day", type="date", input_id="one-day", required=True),
                        field("Start time", "start_time", type="time", input_id="one-start", required=True,
                              hint="London time; the end follows from the course's duration"),
                        field("Video link (online)", "online_link", input_id="one-link", type="url"),
                        field("Notes", "notes", input_id="one-notes"),
                        columns=rx.breakpoints(initial="1", sm="2", lg="4"), spacing="3", width="100%",
                    ),
                    rx.button("Add session", type="submit", id="add-session", size="3"),
                    spacing="3", width="100%", align_items="start",
                ),
                on_submit=CatalogueState.create_session,
                key=CatalogueState.form_key,
                width="100%",
            ),
        ),
        _card(
            "Add a series of sessions",
            rx.form(
                rx.vstack(
                    error_text(CatalogueState.series_error),
                    form_notice(CatalogueState.series_notice),
                    *_session_common("series"),
                    rx.grid(
                        field("First date", "first_day", type="date", input_id="series-first", required=True),
                        field("Last date", "last_day", type="date", input_id="series-last", required=True),
                        field("Start times", "start_times", input_id="series-times", required=True,
                              hint="One or more, for example 09:30, 13:30"),
                        columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
                    ),
                    fieldset(
                        "On these weekdays",
                        rx.grid(*[checkbox_field(day, f"weekday_{i}", input_id=f"series-day-{i}")
                                  for i, day in enumerate(WEEKDAYS)],
                                columns=rx.breakpoints(initial="2", sm="4", lg="7"), spacing="2", width="100%"),
                    ),
                    rx.button("Create the series", type="submit", id="add-series", size="3"),
                    spacing="3", width="100%", align_items="start",
                ),
                on_submit=CatalogueState.create_series,
                key=CatalogueState.form_key,
                width="100%",
            ),
        ),
        rx.link("See and manage sessions →", href="/bookings/sessions"),
        spacing="4", width="100%",
    )


def _terms_tab() -> rx.Component:
    t = CatalogueState.terms
    return _card(
        "Booking terms",
        rx.form(
            rx.vstack(
                error_text(CatalogueState.terms_error),
                form_notice(CatalogueState.terms_notice),
                fieldset(
                    "Holding and paying",
                    rx.grid(
                        _number("Seat hold (minutes)", "hold_minutes", t["hold_minutes"], "terms-hold", minimum=5,
                                hint="How long a seat is held while a client checks and pays online"),
                        _number("Payment due within (hours)", "payment_due_hours", t["payment_due_hours"],
                                "terms-payment-due", minimum=1),
                        _number("Waiting-list seat hold (minutes)", "waiting_hold_minutes",
                                t["waiting_hold_minutes"], "terms-waiting-hold", minimum=30,
                                hint="How long a freed seat is held for the first client on the waiting list"),
                        select_field("When a booking is not paid in time", "unpaid_action",
                                     [("release", "Release the seat"), ("chase", "Keep it and chase payment")],
                                     input_id="terms-unpaid", default_value=t["unpaid_action"]),
                        _number("Bookable up to (days ahead)", "bookable_days_ahead", t["bookable_days_ahead"],
                                "terms-days-ahead", minimum=7),
                        columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                    ),
                ),
                fieldset(
                    "Transfers",
                    rx.grid(
                        _number("Online transfer cut-off (hours before)", "transfer_cutoff_hours",
                                t["transfer_cutoff_hours"], "terms-transfer-cutoff"),
                        field("Transfer fee in pounds", "transfer_fee", input_id="terms-transfer-fee",
                              default_value=t["transfer_fee"], input_mode="decimal"),
                        _number("Most transfers allowed online", "max_transfers", t["max_transfers"],
                                "terms-max-transfers"),
                        columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
                    ),
                ),
                fieldset(
                    "Cancellations",
                    two_columns(
                        _number("Online cancellation cut-off (hours before)", "cancel_cutoff_hours",
                                t["cancel_cutoff_hours"], "terms-cancel-cutoff"),
                        field("Cancellation fee in pounds", "cancel_fee", input_id="terms-cancel-fee",
                              default_value=t["cancel_fee"], input_mode="decimal"),
                    ),
                ),
                fieldset(
                    "Online courses",
                    _number("Show the joining details on Manage your booking from (hours before)",
                            "joining_details_hours", t["joining_details_hours"], "terms-joining-hours"),
                ),
                rx.text("Staff may still transfer or cancel after the cut-offs, by telephone.", size="2",
                        color_scheme="gray"),
                fieldset(
                    "Your terms as text (shown to clients before they book, on Manage your booking and in the "
                    "confirmation email)",
                    textarea_field("Booking terms", "conditions", input_id="terms-conditions",
                                   default_value=t["conditions"], max_length=catalogue_service.MAX_CONDITIONS),
                    welsh_missing(CatalogueState.welsh_on & (t["welsh_missing"] != ""), "booking terms"),
                    textarea_field("Booking terms in Welsh (left empty, the English is shown)", "conditions_cy",
                                   input_id="terms-conditions-cy", default_value=t["conditions_cy"],
                                   max_length=catalogue_service.MAX_CONDITIONS),
                ),
                rx.button("Save booking terms", type="submit", id="save-terms", size="3"),
                spacing="3", width="100%", align_items="start",
            ),
            on_submit=CatalogueState.save_terms,
            key=CatalogueState.form_key,
            width="100%",
        ),
    )


@staff_page("/bookings/catalogue", "Course catalogue", on_load=CatalogueState.load)
def catalogue_page() -> rx.Component:
    tabs = [("course-types", "Course types"), ("regions", "Regions"), ("venues", "Venues"),
            ("sessions", "Sessions"), ("terms", "Booking terms")]
    return rx.vstack(
        form_notice(CatalogueState.notice),
        rx.tabs.root(
            rx.tabs.list(*[rx.tabs.trigger(text, value=value, id=f"tab-{value}") for value, text in tabs],
                         size="2", style={"flex-wrap": "wrap"}),
            rx.tabs.content(_course_types_tab(), value="course-types", padding_top="1em"),
            rx.tabs.content(_regions_tab(), value="regions", padding_top="1em"),
            rx.tabs.content(_venues_tab(), value="venues", padding_top="1em"),
            rx.tabs.content(_sessions_tab(), value="sessions", padding_top="1em"),
            rx.tabs.content(_terms_tab(), value="terms", padding_top="1em"),
            value=CatalogueState.tab,
            on_change=CatalogueState.set_tab,
            width="100%",
        ),
        _course_type_dialog(),
        _region_dialog(),
        _venue_dialog(),
        spacing="4",
        width="100%",
    )
