"""The waiting list on the booking site.

/book/waiting-list   join: offered by the wizard when no session before the critical date has a place in the
                     client's choices; venues (none for any), the last day (never past the critical date), and how
                     to be told
/waiting-list/seat   the link in the email: the place held for the client, confirmed here, then paid for

Security: the states are public. The join page acts only for the offer the wizard verified (its backend vars, read
with ``get_state``); the venue ids accepted are only those offered. The seat page's token comes from the address,
is kept in a backend var, and every handler hands it back to the service, which checks it again.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import reflex as rx

from atlas_app.services.booking import waiting_list
from atlas_app.services.booking.bookings import ClientProof
from atlas_app.services.payments import checkout
from atlas_app.services.platform import welsh
from atlas_app.services.platform.errors import AtlasError, NotFound
from atlas_app.timeutil import LONDON
from atlas_app.ui.components.paid_flag import demo_banner
from atlas_app.ui.format import pounds
from atlas_app.ui.public.booking_wizard import (
    FOCUS_ERRORS_JS,
    FOCUS_HEADING_JS,
    BookingWizardState,
    back_link,
    continue_button,
    error_summary,
    focus_style,
    long_date,
    step_heading,
    wizard_page,
)
from atlas_app.ui.i18n import N_, _, follow_organisation, interpolate, language_of_state, public_page, to
from atlas_app.ui.session import public


@public
class WaitingJoinState(rx.State):
    error: str = ""
    errors: dict[str, str] = {}
    error_fields: list[dict[str, str]] = []
    offer_reference: str = ""
    course_text: str = ""
    critical_date_text: str = ""
    critical_date_iso: str = ""
    today_iso: str = ""
    venues: list[dict[str, str]] = []
    has_email: bool = True
    joined: bool = False
    joined_text: str = ""
    position_text: str = ""
    _org_id: int = 0
    _offer_id: int = 0
    _venue_options: list[int] = []

    @rx.event
    async def load(self):
        wizard = await self.get_state(BookingWizardState)
        if not (wizard._org_id and wizard._offer_id):
            return rx.redirect(to("/book"))
        self._org_id, self._offer_id = wizard._org_id, wizard._offer_id
        self.error, self.errors, self.error_fields, self.joined = "", {}, [], False
        self.offer_reference, self.course_text = wizard.offer_reference, wizard.course_text
        info = await asyncio.to_thread(waiting_list.join_choices, ClientProof(self._org_id, self._offer_id))
        self.critical_date_text = long_date(info.critical_date)
        self.critical_date_iso = info.critical_date.isoformat()
        self.today_iso = info.today.isoformat()
        self.has_email = info.has_email
        self._venue_options = [v[0] for v in info.venues]
        self.venues = [{"id": str(i), "name": name} for i, name in info.venues]
        current = info.entry
        if current is not None:
            self._show_joined(current)
        return rx.call_script(FOCUS_HEADING_JS)

    def _show_joined(self, view: waiting_list.WaitingView) -> None:
        self.joined = True
        self.joined_text = _("From {first} to {last}, {where}").format(
            first=long_date(view.date_from), last=long_date(view.date_to),
            where=", ".join(view.venue_names) if view.venue_names else _("at any venue or online"))
        self.position_text = (_("You are number {position} on the waiting list.").format(position=view.position)
                              if view.position else _("A place is being held for you: check your email."))

    @rx.event
    async def join(self, form: dict[str, Any]):
        if not (self._org_id and self._offer_id):
            return rx.redirect(to("/book"))
        form = form if isinstance(form, dict) else {}
        self.error, self.errors, self.error_fields = "", {}, []
        venues = [i for i in self._venue_options if form.get(f"venue-{i}") in ("on", "true", True, str(i))]
        raw_to = str(form.get("date_to") or "").strip()[:10]
        try:
            date_to = date.fromisoformat(raw_to) if raw_to else None
        except ValueError:
            self.errors = {"date_to": _("Enter the last day as a date.")}
            self.error_fields = [{"message": self.errors["date_to"], "href": "#wl-date-to"}]
            return rx.call_script(FOCUS_ERRORS_JS)
        try:
            view = await asyncio.to_thread(waiting_list.join, self._org_id, self._offer_id, venue_ids=venues,
                                           date_to=date_to, channel="email",
                                           client=ClientProof(self._org_id, self._offer_id))
        except AtlasError as exc:
            fields = dict(getattr(exc, "errors", {}) or {})
            if "date_to" in fields:
                self.errors = {"date_to": str(exc)}
                self.error_fields = [{"message": str(exc), "href": "#wl-date-to"}]
            else:
                self.error = str(exc)
            return rx.call_script(FOCUS_ERRORS_JS)
        self._show_joined(view)
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def leave(self):
        if not (self._org_id and self._offer_id):
            return rx.redirect(to("/book"))
        try:
            await asyncio.to_thread(waiting_list.leave, self._org_id, self._offer_id,
                                    client=ClientProof(self._org_id, self._offer_id))
        except NotFound:
            pass
        self.joined = False
        self.joined_text = ""
        self.position_text = _("You have left the waiting list.")
        return rx.call_script(FOCUS_HEADING_JS)


J = WaitingJoinState


@public_page("/book/waiting-list", N_("Join the waiting list · Book a course · Atlas"), on_load=J.load)
def join_page() -> rx.Component:
    return wizard_page(
        back_link(to("/book/how")),
        error_summary(J),
        rx.cond(
            J.joined,
            rx.vstack(
                rx.box(
                    step_heading(_("You are on the waiting list")),
                    rx.text(J.position_text, id="waiting-position", margin_top="0.5em"),
                    style={"border": "4px solid var(--green-9)", "padding": "1.25em",
                           "border_radius": "var(--radius-3)", "background": "var(--green-2)"},
                    id="waiting-joined",
                ),
                rx.text(*interpolate(_("Your choices: {choices}"), choices=J.joined_text), id="waiting-choices"),
                rx.text(_("When a place that suits you becomes free, we hold it for you and email you a link to "
                          "confirm it and pay. If you do not confirm it in time, it goes to the next person.")),
                rx.button(_("Leave the waiting list"), on_click=J.leave, variant="outline", id="waiting-leave",
                          style={"min_height": "44px"}),
                spacing="4", align_items="stretch", width="100%",
            ),
            rx.form(
                rx.vstack(
                    step_heading(_("Join the waiting list")),
                    rx.text(*interpolate(_("{course}. Offer {reference}. There are no places left that you can "
                                           "book before {date}."), course=rx.text.strong(J.course_text),
                                         reference=J.offer_reference, date=rx.text.strong(J.critical_date_text))),
                    rx.text(rx.cond(J.position_text != "", J.position_text, ""), role="status"),
                    rx.el.fieldset(
                        rx.el.legend(_("Which venues could you go to? (optional)"), style={"font_weight": "600"}),
                        rx.text(_("Leave them all unticked for any venue, including online courses."), size="2",
                                color_scheme="gray"),
                        rx.foreach(J.venues, lambda v: rx.el.label(
                            rx.el.input(type="checkbox", name="venue-" + v["id"], id="wl-venue-" + v["id"],
                                        style={"width": "24px", "height": "24px", **focus_style()}),
                            v["name"],
                            html_for="wl-venue-" + v["id"],
                            style={"display": "flex", "gap": "0.6em", "align_items": "center",
                                   "min_height": "44px"})),
                        style={"border": "none", "padding": "0", "margin": "0"},
                    ),
                    rx.vstack(
                        rx.el.label(_("The last day you could do the course"), html_for="wl-date-to",
                                    style={"font_weight": "600"}),
                        rx.text(*interpolate(_("On or before your critical date, {date}."), date=J.critical_date_text),
                                id="wl-date-to-hint", size="2", color_scheme="gray"),
                        rx.cond(J.errors.contains("date_to"),
                                rx.text(rx.el.span(_("Error: "), class_name="sr-only"), J.errors.get("date_to", ""),
                                        id="wl-date-to-error", color_scheme="red", weight="bold", size="2")),
                        rx.el.input(type="date", name="date_to", id="wl-date-to", default_value=J.critical_date_iso,
                                    min=J.today_iso, max=J.critical_date_iso,
                                    aria_describedby="wl-date-to-hint",
                                    style={"min_height": "44px", "padding": "0 0.5em", "font_size": "1rem",
                                           "border": "2px solid var(--gray-12)", **focus_style()}),
                        spacing="1", align_items="start",
                    ),
                    rx.text(_("We will tell you by email."), size="2"),
                    rx.cond(~J.has_email, rx.callout(
                        _("We have no email address for you, so we cannot tell you of a place. Please telephone us "
                          "to join the waiting list."), icon="info", color_scheme="amber", high_contrast=True)),
                    continue_button(_("Join the waiting list"), "join-waiting-list"),
                    spacing="5", width="100%", align_items="stretch",
                ),
                on_submit=J.join,
                no_validate=True,
            ),
        ),
    )


# --- the link in the email --------------------------------------------------------------------------------------


@public
class HeldSeatState(rx.State):
    status: str = "loading"  # loading, open, gone, missing
    first_name: str = ""
    session_text: str = ""
    fee_text: str = ""
    until_text: str = ""
    reference: str = ""
    problem: str = ""
    working: bool = False
    demo_payments: bool = False
    _token: str = ""

    @rx.event
    async def load(self):
        self._token = str(self.router.url.query_parameters.get("token", "") or self._token)[:200]
        self.problem, self.working = "", False
        try:
            seat = await asyncio.to_thread(waiting_list.held_seat, self._token)
        except NotFound:
            self.status = "missing"
            return rx.call_script(FOCUS_HEADING_JS)
        self.first_name = seat.client_first_name
        self.session_text = seat.session_text
        self.fee_text = pounds(seat.fee_pence)
        self.reference = seat.booking_reference
        until = seat.hold_expires_at.astimezone(LONDON)
        self.until_text = _("{time} on {date}").format(time=f"{until:%H:%M}", date=long_date(until))
        self.status = "open" if seat.live else "gone"
        if await follow_organisation(self, await asyncio.to_thread(welsh.offers_welsh, seat.organisation_id)) \
                != language_of_state(self):
            return rx.redirect(to(f"/waiting-list/seat?token={self._token}"))
        self.demo_payments = await asyncio.to_thread(checkout.provider_for, seat.organisation_id) == "demo"
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def confirm(self):
        if self.working or self.status != "open" or not self._token:
            return
        self.working = True
        yield
        try:
            view, proof = await asyncio.to_thread(waiting_list.confirm_seat, self._token)
            start = await asyncio.to_thread(checkout.start_checkout, proof.organisation_id, proof.offer_id,
                                            view.reference)
        except AtlasError as exc:
            self.working, self.problem = False, str(exc)
            return
        self.working = False
        yield rx.redirect(start.url)


H = HeldSeatState


@public_page("/waiting-list/seat", N_("A place held for you · Atlas"), on_load=H.load)
def seat_page() -> rx.Component:
    return wizard_page(
        rx.cond(
            H.status == "open",
            rx.vstack(
                step_heading(_("A place is held for you")),
                rx.text(*interpolate(_("Hello {name}. A place has become free on a course that matches your waiting "
                                       "list choices."), name=H.first_name)),
                rx.el.dl(
                    rx.el.dt(_("Course"), style={"font_weight": "600"}),
                    rx.el.dd(H.session_text, id="seat-session", style={"margin": "0 0 0.5em 0"}),
                    rx.el.dt(_("Fee"), style={"font_weight": "600"}),
                    rx.el.dd(H.fee_text, style={"margin": "0 0 0.5em 0"}),
                    rx.el.dt(_("Held until"), style={"font_weight": "600"}),
                    rx.el.dd(H.until_text, id="seat-until", style={"margin": "0"}),
                ),
                rx.text(_("Confirm the place to book it, then pay by card. If you do not confirm it by then, it "
                          "goes to the next person waiting.")),
                rx.cond(H.demo_payments, demo_banner()),
                rx.cond(H.problem != "", rx.callout(H.problem, icon="triangle_alert", color_scheme="red",
                                                    role="alert", high_contrast=True)),
                rx.button(_("Confirm this place and pay"), on_click=H.confirm, size="3", id="confirm-seat",
                          loading=H.working, disabled=H.working, style={"min_height": "44px"}),
                spacing="4", align_items="stretch", width="100%",
            ),
            rx.cond(
                H.status == "loading",
                rx.text(_("Loading…"), role="status"),
                rx.vstack(
                    step_heading(rx.cond(H.status == "gone", _("This place is no longer held"),
                                         _("This link is not valid"))),
                    rx.text(rx.cond(H.status == "gone",
                                    _("The time to confirm this place has run out, or it has already been "
                                      "confirmed."),
                                    _("The link may have been replaced by a newer one. Use the latest email we "
                                      "sent."))),
                    rx.link(_("Book a course"), href=to("/book"), style={"display": "inline-flex", "min_height": "44px",
                                                                  "align_items": "center", **focus_style()}),
                    spacing="4", align_items="stretch", width="100%",
                ),
            ),
        ),
    )
