"""Training cars: the organisation's fleet of manual and automatic cars for practical sessions. Add and change
cars, retire one (it is offered for nothing new; a car still booked for an upcoming session is not retired) or
bring it back."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.booking import catalogue as catalogue_service
from atlas_app.services.instructors import vehicles as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.kit import phone_cards, record_form, select_field, table_or_cards, textarea_field
from atlas_app.ui.components.forms import field
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Instructors", NavItem("Training cars", "/instructors/cars", "car", Perm.INSTRUCTORS_MANAGE))

TYPES = [("manual", "Manual"), ("automatic", "Automatic")]
BLANK = {"id": "", "registration": "", "vehicle_type": "manual", "home_region_id": "", "home_venue_id": "",
         "notes": ""}


@private
class CarsState(rx.State):
    rows: list[dict[str, str]] = []
    regions: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    editing: dict[str, str] = dict(BLANK)
    form_key: int = 0
    error: str = ""
    notice: str = ""

    async def _refresh(self, actor) -> None:
        cars = await asyncio.to_thread(service.list_vehicles, actor)
        self.rows = [
            {"id": str(c.id), "registration": c.registration, "type": c.vehicle_label,
             "vehicle_type": c.vehicle_type, "home_region_id": str(c.home_region_id or ""),
             "home_venue_id": str(c.home_venue_id or ""),
             "base": ", ".join(p for p in (c.home_venue, c.home_region) if p) or "—", "notes": c.notes,
             "status": "Active" if c.is_active else "Retired", "active": "1" if c.is_active else ""}
            for c in cars
        ]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        regions = await asyncio.to_thread(catalogue_service.list_regions, actor)
        venues = await asyncio.to_thread(catalogue_service.list_venues, actor)
        self.regions = [{"value": str(r.id), "label": r.name} for r in regions]
        self.venues = [{"value": str(v.id), "label": v.name} for v in venues]
        self.error = self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def edit(self, vehicle_id: str):
        await require(self, Perm.INSTRUCTORS_MANAGE)
        row = next((r for r in self.rows if r["id"] == str(vehicle_id)), None)
        if row is None:
            return
        self.editing = {k: row[k] for k in BLANK}
        self.form_key += 1
        self.error = self.notice = ""

    @rx.event
    async def new(self):
        await require(self, Perm.INSTRUCTORS_MANAGE)
        self.editing = dict(BLANK)
        self.form_key += 1
        self.error = self.notice = ""

    @rx.event
    async def save(self, form: dict):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        current = int(self.editing["id"]) if self.editing.get("id", "").isdigit() else None
        data = {k: form.get(k) for k in ("registration", "vehicle_type", "home_region_id", "home_venue_id", "notes")}
        try:
            await asyncio.to_thread(service.save_vehicle, actor, current, data)
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        self.notice = f"Car {service.normalise_registration(data['registration'])} saved."
        self.editing = dict(BLANK)
        self.form_key += 1
        await self._refresh(actor)

    @rx.event
    async def set_active(self, vehicle_id: str, active: bool):
        actor = await require(self, Perm.INSTRUCTORS_MANAGE)
        row = next((r for r in self.rows if r["id"] == str(vehicle_id)), None)
        if row is None:
            return
        try:
            await asyncio.to_thread(service.set_vehicle_active, actor, int(row["id"]), bool(active))
        except AtlasError as exc:
            self.error, self.notice = str(exc), ""
            return
        self.error = ""
        self.notice = f"Car {row['registration']} {'back in service' if active else 'retired'}."
        await self._refresh(actor)


def _actions(r: rx.Var, size: str) -> rx.Component:
    return rx.hstack(
        rx.button("Change", size=size, variant="soft", on_click=CarsState.edit(r["id"]),
                  aria_label="Change car " + r["registration"]),
        rx.cond(
            r["active"] != "",
            rx.button("Retire", size=size, variant="outline", color_scheme="red",
                      on_click=CarsState.set_active(r["id"], False), id="retire-" + r["id"],
                      aria_label="Retire car " + r["registration"]),
            rx.button("Bring back", size=size, variant="outline", on_click=CarsState.set_active(r["id"], True),
                      aria_label="Bring car " + r["registration"] + " back into service"),
        ),
        spacing="2",
        wrap="wrap",
    )


def _form() -> rx.Component:
    e = CarsState.editing
    return record_form(
        CarsState,
        rx.cond(e["id"] != "", "Change car", "Add a car"),
        rx.grid(
            field("Registration", "registration", required=True, input_id="car-registration",
                  default_value=e["registration"], hint="For example AB12 CDE."),
            select_field("Gearbox", "vehicle_type", TYPES, input_id="car-type",
                         default_value=e["vehicle_type"]),
            select_field("Based at venue", "home_venue_id", CarsState.venues, input_id="car-venue",
                         default_value=e["home_venue_id"], blank="No venue"),
            select_field("Home region", "home_region_id", CarsState.regions, input_id="car-region",
                         default_value=e["home_region_id"], blank="None"),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        textarea_field("Notes", "notes", input_id="car-notes", default_value=e["notes"], max_length=500),
        save=("Save car", "car-save"),
        new_label="New car",
        aria_label="Car details",
        heading_id="h-car-form",
    )


@staff_page("/instructors/cars", "Training cars", on_load=CarsState.load)
def cars_page() -> rx.Component:
    return rx.vstack(
        rx.text("The cars practical sessions in a manual or automatic car are taught in. A car can be booked for "
                "one session at a time, allowing the travel buffer after each.", size="2"),
        table_or_cards(
            data_table(
                ["Registration", "Gearbox", "Based", "Notes", "Status", ""],
                CarsState.rows,
                lambda r: [rx.text(r["registration"], weight="bold"), r["type"], r["base"], r["notes"], r["status"],
                           _actions(r, "1")],
                caption="Training cars",
                row_id=lambda r: "car-" + r["id"],
                empty="No training cars yet.",
            ),
            phone_cards(CarsState.rows, lambda r: rx.vstack(
                rx.text(r["registration"], weight="bold"), rx.text(r["type"], "; ", r["status"], size="2"),
                rx.text(r["base"], size="2"), rx.text(r["notes"], size="2"), _actions(r, "2"), spacing="1"),
                label="Training cars", empty="No training cars yet."),
        ),
        _form(),
        spacing="4",
        width="100%",
        align_items="stretch",
    )
