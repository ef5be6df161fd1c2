"""The waiting list for staff: a course type's list in order, or one session's (whom a seat is held for, then who
would be offered the next freed seat), with removal; and adding a client to the list by offer reference, as the
contact centre does on the telephone.

/bookings/waiting-list                  course type chosen on the page
/bookings/waiting-list?session=ID       that session's list
/bookings/waiting-list?offer=REF        the add form filled in with the offer reference (from the client record)

Every handler re-checks the signed-in user (``require``); ids and references from the browser go to the services,
which scope them to the user's organisation in SQL.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from atlas_app.domain.statuses import WaitingStatus
from atlas_app.services.booking import catalogue as catalogue_service
from atlas_app.services.booking import referrals, waiting_list
from atlas_app.services.platform import bounds
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import field, form_notice
from atlas_app.ui.components.kit import error_text, phone_cards, section, select_field, table_or_cards
from atlas_app.ui.components.shell import AuthState, NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

register_nav("Bookings", NavItem("Waiting list", "/bookings/waiting-list", "list-ordered", Perm.BOOKINGS_VIEW))

STATUS_LABELS = {WaitingStatus.WAITING: "Waiting", WaitingStatus.OFFERED: "Seat held"}


def _row(v: waiting_list.WaitingView) -> dict[str, str]:
    return {
        "id": str(v.id), "position": str(v.position) if v.position else "", "name": v.client_name,
        "offer_reference": v.offer_reference, "status": STATUS_LABELS.get(v.status, v.status.capitalize()),
        "dates": f"{v.date_from:%d %b %Y} to {v.date_to:%d %b %Y}",
        "venues": ", ".join(v.venue_names) if v.venue_names else "Any venue",
        "channel": waiting_list.CHANNELS.get(v.channel, v.channel),
        "held": (f"{v.booking_reference}, until {london(v.hold_expires_at)}" if v.hold_expires_at else ""),
        "joined": london(v.joined_at),
    }


@private
class WaitingListState(rx.State):
    course_types: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    course_type_id: str = ""
    session_id: str = ""
    heading: str = "Waiting list"
    rows: list[dict[str, str]] = []
    offer_reference: str = ""
    notice: str = ""
    error: str = ""
    add_error: str = ""
    form_key: int = 0

    async def _refresh(self, actor) -> None:
        self.error = ""
        try:
            if self.session_id:
                views = await asyncio.to_thread(waiting_list.list_for_session, actor, int(self.session_id))
                self.heading = "Waiting list for session " + self.session_id
            elif self.course_type_id:
                views = await asyncio.to_thread(waiting_list.list_for_course_type, actor, int(self.course_type_id))
                name = next((c["label"] for c in self.course_types if c["value"] == self.course_type_id), "")
                self.heading = f"Waiting list: {name}"
            else:
                views = []
                self.heading = "Waiting list"
        except AtlasError as exc:
            self.error, self.rows = str(exc), []
            return
        self.rows = [_row(v) for v in views]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        cts = await asyncio.to_thread(catalogue_service.list_course_types, actor, False)
        self.course_types = [{"value": str(c.id), "label": f"{c.name} ({c.code})"} for c in cts]
        venues = await asyncio.to_thread(catalogue_service.list_venues, actor)
        self.venues = [{"id": str(v.id), "name": v.name} for v in venues if v.is_active and not v.is_online]
        query = self.router.url.query_parameters
        sid = bounds.id_or_none(query.get("session", ""))
        self.session_id = str(sid) if sid else ""
        self.offer_reference = str(query.get("offer", "") or "")[:40]
        if not self.course_type_id and self.course_types and not self.session_id:
            self.course_type_id = self.course_types[0]["value"]
        self.notice = self.add_error = ""
        await self._refresh(actor)

    @rx.event
    async def choose(self, form: dict[str, Any]):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        value = str((form or {}).get("course_type_id", "")) if isinstance(form, dict) else ""
        if value not in {c["value"] for c in self.course_types}:
            self.error = "Choose a course type from the list."
            return
        self.course_type_id, self.session_id, self.notice = value, "", ""
        await self._refresh(actor)

    @rx.event
    async def remove(self, entry_offer_reference: str):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        reference = str(entry_offer_reference or "")[:40]
        try:
            offer_id = await asyncio.to_thread(referrals.offer_id_for_reference, actor, reference)
            await asyncio.to_thread(waiting_list.leave, actor.require_org(), offer_id, actor=actor,
                                    reason="Removed by staff")
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = f"Offer {reference} was taken off the waiting list."
        await self._refresh(actor)

    @rx.event
    async def add(self, form: dict[str, Any]):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        form = form if isinstance(form, dict) else {}
        self.add_error = self.notice = ""
        reference = str(form.get("offer_reference", "")).strip()[:40]
        venue_ids = [int(v["id"]) for v in self.venues if form.get("venue-" + v["id"]) in ("on", "true", True)]
        channel = str(form.get("channel", "email"))
        try:
            offer_id = await asyncio.to_thread(referrals.offer_id_for_reference, actor, reference)
            view = await asyncio.to_thread(
                waiting_list.join, actor.require_org(), offer_id, venue_ids=venue_ids,
                date_from=str(form.get("date_from", "")).strip()[:10] or None,
                date_to=str(form.get("date_to", "")).strip()[:10] or None, channel=channel, actor=actor)
        except AtlasError as exc:
            self.add_error = str(exc)
            return
        self.notice = (f"Offer {view.offer_reference} is on the waiting list"
                       + (f" (number {view.position})." if view.position else "; a seat is held for them."))
        self.offer_reference = ""
        self.form_key += 1
        self.course_type_id, self.session_id = str(view.course_type_id), ""
        await self._refresh(actor)


W = WaitingListState


def _remove_button(r: rx.Var) -> rx.Component:
    return rx.cond(
        AuthState.permissions.contains(Perm.BOOKINGS_MANAGE),
        rx.button("Remove", size="1", variant="soft", color_scheme="red", on_click=W.remove(r["offer_reference"]),
                  aria_label="Remove offer " + r["offer_reference"] + " from the waiting list",
                  id="remove-" + r["offer_reference"]),
    )


def _card(r: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.text(rx.cond(r["position"] != "", r["position"] + ". ", ""), r["name"], weight="bold"),
                  rx.badge(r["status"]), justify="between", width="100%"),
        rx.text("Offer ", r["offer_reference"], " · ", r["dates"], size="2"),
        rx.text(r["venues"], " · ", r["channel"], size="2", color_scheme="gray"),
        rx.cond(r["held"] != "", rx.text("Seat held: ", r["held"], size="2")),
        _remove_button(r),
        spacing="1", width="100%",
    )


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            error_text(W.add_error),
            rx.grid(
                field("Offer reference", "offer_reference", input_id="wl-offer", required=True,
                      default_value=W.offer_reference),
                field("First day (optional)", "date_from", type="date", input_id="wl-from"),
                field("Last day (optional, at most the critical date)", "date_to", type="date", input_id="wl-to"),
                select_field("Tell them by", "channel", list(waiting_list.CHANNELS.items()), input_id="wl-channel",
                             default_value="email"),
                columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
            ),
            rx.el.fieldset(
                rx.el.legend("Venues (none ticked for any venue)", style={"font_weight": "500"}),
                rx.flex(rx.foreach(W.venues, lambda v: rx.el.label(
                    rx.el.input(type="checkbox", name="venue-" + v["id"], id="wl-venue-" + v["id"]), v["name"],
                    html_for="wl-venue-" + v["id"],
                    style={"display": "flex", "gap": "0.4em", "align_items": "center", "min_height": "44px",
                           "margin_right": "1em"})), wrap="wrap"),
                style={"border": "none", "padding": "0", "margin": "0"},
            ),
            rx.button("Add to the waiting list", type="submit", id="wl-add"),
            spacing="3", align_items="start", width="100%",
        ),
        on_submit=W.add,
        key=W.form_key.to_string(),
        aria_label="Add an offer to the waiting list",
        width="100%",
    )


@staff_page("/bookings/waiting-list", "Waiting list", on_load=W.load)
def waiting_list_page() -> rx.Component:
    return rx.vstack(
        form_notice(W.notice),
        error_text(W.error),
        rx.form(
            rx.hstack(
                select_field("Course type", "course_type_id", W.course_types, input_id="wl-course",
                             default_value=W.course_type_id),
                rx.button("Show the list", type="submit", id="wl-show"),
                align="end", spacing="3", wrap="wrap",
            ),
            on_submit=W.choose,
            aria_label="Choose a course type",
        ),
        section(
            W.heading,
            rx.text("The first waiting client whose choices match gets a freed seat, held for them for the time in "
                    "the booking terms, and is emailed a link to confirm it and pay.", size="2",
                    color_scheme="gray"),
            table_or_cards(
                data_table(
                    ["#", "Client", "Offer", "Status", "Dates", "Venues", "Told by", "Seat held", ""],
                    W.rows,
                    lambda r: [r["position"], r["name"], r["offer_reference"], r["status"], r["dates"],
                               r["venues"], r["channel"], r["held"], _remove_button(r)],
                    caption="Clients on the waiting list, in order",
                    row_id=lambda r: "wl-" + r["offer_reference"],
                    empty="Nobody is waiting.",
                ),
                phone_cards(W.rows, _card, label="Clients on the waiting list", empty="Nobody is waiting."),
            ),
            section_id="waiting-list",
        ),
        rx.cond(AuthState.permissions.contains(Perm.BOOKINGS_MANAGE),
                section("Add a client to the waiting list", _add_form(), section_id="waiting-add")),
        spacing="4",
        width="100%",
    )
