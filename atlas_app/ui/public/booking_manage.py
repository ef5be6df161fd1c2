"""Manage my booking (public): find a booking by its reference, date of birth and postcode, see it, move it to
another date or cancel it, within the organisation's terms.

/booking/manage          find the booking
/booking/manage/view     the booking and what can be done with it
/booking/manage/move     choose another date (the service enforces the cut-off and the critical date)
/booking/manage/cancel   confirm the cancellation

The state is public: the proved organisation and offer ids, the booking reference and the ids of the sessions
offered are kept in backend vars only; a new session is accepted only from the list the server offered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from atlas_app.domain.statuses import BOOKING_CLIENT_LABELS
from atlas_app.services import payments as payments_service
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import self_service
from atlas_app.services.platform import welsh
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.i18n import money as pounds
from atlas_app.ui.components.paid_flag import paid_flag
from atlas_app.ui.i18n import N_, _, follow_organisation, interpolate, public_page, to
from atlas_app.ui.public.booking_wizard import end_time

from atlas_app.ui.public.booking_wizard import (
    FOCUS_ERRORS_JS,
    FOCUS_HEADING_JS,
    MODE_LABELS,
    back_link,
    check_postcode,
    clock,
    continue_button,
    error_summary,
    focus_style,
    inline_error,
    input_style,
    long_date,
    parse_date_of_birth,
    payment_text,
    radio_group,
    radio_option,
    seats_text,
    session_text,
    step_heading,
    text_input,
    wizard_page,
)
from atlas_app.ui.session import client_ip, public

STATUS_TEXT = {status.value: text for status, text in BOOKING_CLIENT_LABELS.items()}
# The same words as catalogue entries (the page shows them translated; tests/test_i18n.py checks they agree).
STATUS_MSGIDS = (N_("Booked"), N_("Booked and confirmed"), N_("Not booked yet (a place is being held)"),
                 N_("Cancelled"), N_("Moved to another date"), N_("Not booked (the hold ran out)"), N_("Attended"),
                 N_("Did not attend"), N_("Turned away"))
SESSION_LIMIT = 60


def _paying(cb: self_service.ClientBooking) -> payments_service.PaymentSummary | None:
    """The payment summary of a current booking (the one payment rule), else None."""
    if cb.booking.status not in ("awaiting_payment", "confirmed"):
        return None
    return payments_service.client_payment_summary(cb.proof, cb.booking.reference)


@public
class ManageBookingState(rx.State):
    error: str = ""
    errors: dict[str, str] = {}
    error_fields: list[dict[str, str]] = []
    notice: str = ""
    found: bool = False
    reference: str = ""
    status_text: str = ""
    course_text: str = ""
    when_text: str = ""
    where_text: str = ""
    fee_text: str = ""
    payment_text: str = ""
    pay_state: str = ""
    critical_date_text: str = ""
    needs_text: str = ""
    terms_text: str = ""
    conditions_text: str = ""  # the organisation's own booking terms in the page's language
    change_note: str = ""
    # An online course's joining details: set only when the services say this client may see them now (booked on
    # the session, inside the organisation's window before the start).
    joining_link: str = ""
    joining_meeting_id: str = ""
    joining_passcode: str = ""
    joining_note: str = ""
    what_to_bring: str = ""
    can_transfer: bool = False
    can_cancel: bool = False
    cancel_money_text: str = ""
    filter_options: list[dict[str, str]] = []
    place: str = ""
    sessions: list[dict[str, str]] = []
    sessions_more: bool = False

    _org_id: int = 0
    _offer_id: int = 0
    _reference: str = ""
    _venue_name: str = ""
    _mode: str = ""
    _rows: list[dict[str, Any]] = []
    _session_options: list[int] = []

    # --- helpers ---

    def _clear_errors(self) -> None:
        self.error = ""
        self.errors = {}
        self.error_fields = []

    def _fail(self, errors: dict[str, str], order: list[tuple[str, str]], message: str = ""):
        self.errors = dict(errors)
        self.error_fields = [{"href": "#" + target, "message": errors[key]} for key, target in order if key in errors]
        self.error = message
        return rx.call_script(FOCUS_ERRORS_JS)

    def _proof(self) -> booking_service.ClientProof:
        """The proof, from the public lookup, that this is the client's booking (what the services ask for)."""
        return booking_service.ClientProof(self._org_id, self._offer_id)

    def _show(self, cb: self_service.ClientBooking, paying: payments_service.PaymentSummary | None) -> None:
        """``paying``: the booking's payment summary, for a current booking (awaiting payment or confirmed)."""
        b = cb.booking
        self._org_id = cb.organisation_id
        self._offer_id = cb.offer_id
        self._reference = b.reference
        self._venue_name = b.venue_name
        self._mode = b.delivery_mode
        self.found = True
        self.reference = b.reference
        # The status says where the booking stands; the paid flag says where its money stands.
        self.status_text = _(STATUS_TEXT.get(b.status, b.status.replace("_", " ").capitalize()))
        self.pay_state = paying.state if paying is not None else ""
        self.course_text = f"{b.course_name} ({b.course_code})"
        self.when_text = session_text(b.starts_at, b.ends_at)
        self.where_text = _("Online, by live video") if b.delivery_mode == "online" else \
            f"{b.venue_name}, {b.venue_address}"
        self.fee_text = pounds(b.fee_pence)
        self.payment_text = payment_text(paying) if paying is not None else ""
        self.critical_date_text = long_date(cb.critical_date)
        needs = b.needs or {}
        parts = []
        if needs.get("interpreter"):
            parts.append(_("Interpreter: {language}").format(
                language=needs.get("interpreter_language") or _("yes")))
        if needs.get("accessibility"):
            parts.append(_("Access needs: {needs}").format(needs=needs["accessibility"]))
        if needs.get("language"):
            course_language = {"English": _("English"), "Welsh": _("Welsh (Cymraeg)")}.get(
                needs["language"], needs["language"])
            parts.append(_("Course language: {language}").format(language=course_language))
        if needs.get("other"):
            parts.append(_("Other: {other}").format(other=needs["other"]))
        self.needs_text = "; ".join(parts) or _("None given")
        t = cb.terms
        fee_move = _(" A fee of {fee} is charged for each move.").format(fee=pounds(t.transfer_fee_pence)) \
            if t.transfer_fee_pence else ""
        self.terms_text = _(
            "You can move this booking online up to {move} hours before the course (at most {most} times; used "
            "{used}), and cancel it online up to {cancel} hours before. A new date must still be on or before "
            "{date}.{fee}"
        ).format(move=t.transfer_cutoff_hours, most=t.max_transfers, used=cb.transfers_used,
                 cancel=t.cancel_cutoff_hours, date=long_date(cb.critical_date), fee=fee_move)
        self.conditions_text = t.conditions
        self.change_note = _(cb.change_note) if cb.change_note else ""
        joining = cb.joining
        self.joining_link = joining.link if joining else ""
        self.joining_meeting_id = joining.meeting_id if joining else ""
        self.joining_passcode = joining.passcode if joining else ""
        self.joining_note = cb.joining_note
        self.what_to_bring = cb.what_to_bring
        self.can_transfer = cb.can_transfer
        self.can_cancel = cb.can_cancel

    async def _refresh(self) -> bool:
        if not (self._org_id and self._offer_id and self._reference):
            return False
        try:
            cb = await asyncio.to_thread(self_service.client_booking, self._org_id, self._offer_id, self._reference)
            paying = await asyncio.to_thread(_paying, cb)
        except AtlasError:
            self.reset()
            return False
        self._show(cb, paying)
        return True

    # --- find ---

    @rx.event
    def start(self):
        self.reset()

    @rx.event
    async def find(self, form: dict):
        self.reset()
        form = form if isinstance(form, dict) else {}
        errors: dict[str, str] = {}
        reference = str(form.get("reference") or "").strip()[:30]
        if not reference:
            errors["reference"] = _("Enter your booking reference.")
        dob = parse_date_of_birth(form.get("dob_day"), form.get("dob_month"), form.get("dob_year"), errors)
        postcode = check_postcode(form.get("postcode"), errors)
        if errors:
            return self._fail(errors, [("reference", "f-reference"), ("dob", "f-dob-day"),
                                       ("postcode", "f-postcode")])
        try:
            cb = await asyncio.to_thread(self_service.find_booking, reference, dob, postcode,
                                       client_ip(self))
            paying = await asyncio.to_thread(_paying, cb)
        except ValidationFailed as exc:
            return self._fail({}, [], _(str(exc)))
        await follow_organisation(self, await asyncio.to_thread(welsh.offers_welsh, cb.organisation_id))
        self._show(cb, paying)
        return rx.redirect(to("/booking/manage/view"))

    # --- view ---

    @rx.event
    async def load_view(self):
        self._clear_errors()
        if not await self._refresh():
            return rx.redirect(to("/booking/manage"))
        return rx.call_script(FOCUS_HEADING_JS)

    # --- move ---

    @rx.event
    async def load_move(self):
        self._clear_errors()
        self.notice = ""
        if not await self._refresh():
            return rx.redirect(to("/booking/manage"))
        if not self.can_transfer:
            return rx.redirect(to("/booking/manage/view"))
        rows = await asyncio.to_thread(self_service.transfer_options, self._org_id, self._offer_id, self._reference)
        self._rows = [
            {"id": r.id, "place": f"v{r.venue_id}" if r.delivery_mode != "online" else "online",
             "place_name": _("Online, by live video") if r.delivery_mode == "online" else r.venue_name,
             "mode": r.delivery_mode, "date": long_date(r.starts_at),
             "time": _("{start} to {end}").format(start=clock(r.starts_at), end=end_time(r.starts_at, r.ends_at)),
             "seats": seats_text(r.free)}
            for r in rows if r.free > 0
        ]
        places: dict[str, str] = {}
        for r in self._rows:
            label = r["place_name"] if r["mode"] != "practical" else f"{r['place_name']} ({_(MODE_LABELS['practical'])})"
            places.setdefault(r["place"], label)
        order = sorted(places, key=lambda k: (k == "online", places[k]))
        self.filter_options = [{"value": k, "label": places[k]} for k in order]
        if self.place not in places:
            # Start with the place already booked, when it has other dates.
            current = "online" if self._mode == "online" and "online" in places else next(
                (r["place"] for r in self._rows if r["mode"] != "online" and r["place_name"] == self._venue_name), "")
            self.place = current or next(iter(order), "")
        self._filter()
        if not self._rows:
            self.error = _("There are no other dates with places before your deadline. Please telephone us.")
        return rx.call_script(FOCUS_HEADING_JS)

    def _filter(self) -> None:
        rows = [r for r in self._rows if r["place"] == self.place]
        self.sessions_more = len(rows) > SESSION_LIMIT
        rows = rows[:SESSION_LIMIT]
        self._session_options = [r["id"] for r in rows]
        self.sessions = [{"id": str(r["id"]), "date": r["date"], "time": r["time"], "seats": r["seats"]}
                         for r in rows]

    @rx.event
    def choose_place(self, value: str):
        value = str(value or "")
        if any(o["value"] == value for o in self.filter_options):
            self.place = value
            self._filter()

    @rx.event
    async def move(self, form: dict):
        self._clear_errors()
        if not (self._org_id and self._offer_id and self._reference):
            return rx.redirect(to("/booking/manage"))
        raw = str((form or {}).get("session") or "") if isinstance(form, dict) else ""
        session_id = int(raw) if raw.isdigit() else 0
        if session_id not in self._session_options:
            first = f"session-{self._session_options[0]}" if self._session_options else "main"
            return self._fail({"session": _("Select the new date and time.")}, [("session", first)])
        try:
            view = await asyncio.to_thread(booking_service.transfer, self._org_id, self._reference, session_id,
                                           client=self._proof())
        except AtlasError as exc:
            return self._fail({}, [], _(str(exc)))
        self._reference = view.reference
        self.notice = _("Your booking has moved to {when}. Your new booking reference is {reference}. We are "
                        "emailing you the details.").format(when=session_text(view.starts_at, view.ends_at),
                                                           reference=view.reference)
        return rx.redirect(to("/booking/manage/view"))

    # --- cancel ---

    @rx.event
    async def load_cancel(self):
        self._clear_errors()
        self.notice = ""
        if not await self._refresh():
            return rx.redirect(to("/booking/manage"))
        if not self.can_cancel:
            return rx.redirect(to("/booking/manage/view"))
        try:
            money = await asyncio.to_thread(payments_service.cancel_preview, self._org_id, self._reference,
                                            self._proof())
        except AtlasError as exc:
            return self._fail({}, [], _(str(exc)))
        self.cancel_money_text = money.text
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def cancel(self):
        self._clear_errors()
        if not (self._org_id and self._offer_id and self._reference):
            return rx.redirect(to("/booking/manage"))
        try:
            outcome = await asyncio.to_thread(payments_service.cancel_booking, self._org_id, self._reference,
                                              client=self._proof(), reason="Cancelled by the client online.")
        except AtlasError as exc:
            return self._fail({}, [], _(str(exc)))
        self.notice = " ".join([_("Your booking {reference} is cancelled.").format(reference=self._reference),
                                *outcome.money.lines(),
                                _("We are emailing you to confirm. You can book again before your deadline with "
                                  "your offer reference.")])
        return rx.redirect(to("/booking/manage/view"))


M = ManageBookingState


def _dob_box(label: str, name: str, width: str, max_length: int) -> rx.Component:
    fid = f"f-dob-{name}"
    has_error = M.errors.contains("dob")
    return rx.vstack(
        rx.el.label(label, html_for=fid, style={"font_weight": "500"}),
        rx.el.input(id=fid, name=f"dob_{name}", type="text", input_mode="numeric", max_length=max_length,
                    auto_complete=f"bday-{name}", aria_invalid=rx.cond(has_error, "true", "false"),
                    style=input_style(has_error, width)),
        spacing="1",
    )


def _notice() -> rx.Component:
    return rx.cond(
        M.notice != "",
        rx.box(rx.text(M.notice, weight="medium"), id="manage-notice", role="status",
               style={"border": "4px solid var(--green-9)", "background": "var(--green-2)", "padding": "1em",
                      "border_radius": "var(--radius-2)"}),
    )


@public_page("/booking/manage", N_("Manage your booking · Atlas"), on_load=M.start)
def manage_find_page() -> rx.Component:
    dob_error = M.errors.contains("dob")
    return wizard_page(
        error_summary(M),
        step_heading(_("Manage your booking")),
        rx.text(_("Find your booking to see it, move it to another date or cancel it.")),
        rx.form(
            rx.vstack(
                text_input(M, _("Booking reference"), "reference", hint=_("It is in your booking confirmation "
                           "email, for example HAR-AB23CD4."), auto_complete="off", spell_check=False,
                           auto_capitalize="characters"),
                rx.el.fieldset(
                    rx.el.legend(_("Date of birth"), style={"font_weight": "600", "padding": "0"}),
                    rx.text(_("For example, 14 3 1985"), id="dob-hint", size="2", color_scheme="gray"),
                    inline_error(M, "dob", "dob-error"),
                    rx.hstack(_dob_box(_("Day"), "day", "3.5em", 2), _dob_box(_("Month"), "month", "3.5em", 2),
                              _dob_box(_("Year"), "year", "5em", 4), spacing="3", margin_top="0.25em"),
                    aria_describedby=rx.cond(dob_error, "dob-hint dob-error", "dob-hint"),
                    style={"border": "none", "padding": "0", "margin": "0", "min_width": "0"},
                ),
                text_input(M, _("Postcode"), "postcode", auto_complete="postal-code", width="10em",
                           auto_capitalize="characters"),
                continue_button(_("Find my booking"), "find-booking"),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
            on_submit=M.find,
            aria_label=_("Find your booking"),
            no_validate=True,
        ),
        rx.text(*interpolate(_("Not booked yet? {link}."),
                             link=rx.link(_("Book your course"), href=to("/book"), underline="always"))),
    )


def _row(label: str, value: Any, row_id: str) -> rx.Component:
    return rx.el.div(
        rx.el.dt(label, style={"font_weight": "600"}),
        rx.el.dd(value, id=f"booking-{row_id}", style={"margin": "0"}),
        style={"display": "grid", "grid_template_columns": "minmax(0, 1fr)", "gap": "0.15em", "padding": "0.5em 0",
               "border_bottom": "1px solid var(--gray-6)",
               "@media (min-width: 40em)": {"grid_template_columns": "11em minmax(0, 1fr)"}},
    )


def _action_link(label: str, href: str, link_id: str) -> rx.Component:
    return rx.link(label, href=to(href), id=link_id,
                   style={"display": "inline-flex", "min_height": "44px", "align_items": "center",
                          "font_weight": "600", **focus_style()})


@public_page("/booking/manage/view", N_("Your booking · Atlas"), on_load=M.load_view)
def manage_view_page() -> rx.Component:
    return wizard_page(
        back_link(to("/booking/manage"), _("Find another booking")),
        error_summary(M),
        _notice(),
        step_heading(_("Your booking")),
        rx.el.dl(
            _row(_("Booking reference"), rx.text.strong(M.reference), "reference"),
            _row(_("Status"), M.status_text, "status"),
            _row(_("Course"), M.course_text, "course"),
            _row(_("When"), M.when_text, "when"),
            _row(_("Where"), M.where_text, "where"),
            _row(_("Fee"), rx.fragment(M.fee_text, rx.cond(M.payment_text != "", rx.fragment(". ", M.payment_text))),
                 "fee"),
            rx.cond(M.pay_state != "", _row(_("Payment"), paid_flag(M.pay_state, id="manage-paid-flag"), "payment")),
            rx.cond(M.joining_link != "", _row("Video link", rx.link(M.joining_link, href=M.joining_link,
                                                                     id="joining-link", is_external=True),
                                               "joining")),
            rx.cond(M.joining_meeting_id != "", _row("Meeting id", M.joining_meeting_id, "meeting-id")),
            rx.cond(M.joining_passcode != "", _row("Passcode", M.joining_passcode, "passcode")),
            rx.cond(M.joining_note != "", _row("Joining details", rx.text(M.joining_note, id="joining-note"),
                                               "joining-note-row")),
            rx.cond(M.what_to_bring != "", _row("What to bring", M.what_to_bring, "bring")),
            _row(_("Support needs"), M.needs_text, "needs"),
            _row(_("Deadline"), rx.fragment(*interpolate(_("Complete the course by {date}"),
                                                         date=M.critical_date_text)), "deadline"),
            style={"margin": "0"},
        ),
        rx.heading(_("Changing your booking"), size="5", as_="h2"),
        rx.text(M.terms_text, size="2"),
        rx.cond(M.conditions_text != "", rx.el.details(
            rx.el.summary(_("Booking terms")),
            rx.text(M.conditions_text, id="booking-conditions", size="2", white_space="pre-line"))),
        rx.cond(M.change_note != "", rx.text(M.change_note, id="change-note", weight="medium")),
        rx.hstack(
            rx.cond(M.can_transfer, _action_link(_("Move to another date"), "/booking/manage/move", "move-booking")),
            rx.cond(M.can_cancel, _action_link(_("Cancel this booking"), "/booking/manage/cancel",
                                               "cancel-booking")),
            spacing="5",
            wrap="wrap",
        ),
    )


@public_page("/booking/manage/move", N_("Move your booking · Atlas"), on_load=M.load_move)
def manage_move_page() -> rx.Component:
    return wizard_page(
        back_link(to("/booking/manage/view"), _("Back to your booking")),
        error_summary(M),
        step_heading(_("Move your booking to another date")),
        rx.text(*interpolate(_("Booking {reference} is now on {when}."), reference=rx.text.strong(M.reference),
                             when=M.when_text)),
        rx.vstack(
            rx.el.label(_("Where"), html_for="f-place", style={"font_weight": "600"}),
            rx.text(_("The dates below change when you choose a different place."), id="f-place-hint", size="2",
                    color_scheme="gray"),
            rx.el.select(
                rx.foreach(M.filter_options, lambda o: rx.el.option(o["label"], value=o["value"])),
                id="f-place",
                value=M.place,
                on_change=M.choose_place,
                aria_describedby="f-place-hint",
                style=input_style(False),
            ),
            spacing="1",
            width="100%",
            align_items="stretch",
        ),
        rx.form(
            rx.vstack(
                radio_group(
                    M,
                    rx.text(_("Choose a new date"), weight="bold", size="4"),
                    "session",
                    rx.foreach(
                        M.sessions,
                        lambda s: radio_option(
                            "session", s["id"], "session-" + s["id"], False,
                            rx.text(s["date"], weight="bold"),
                            rx.text(s["time"], size="2"),
                            rx.text(s["seats"], size="2", color_scheme="gray"),
                        ),
                    ),
                ),
                rx.cond(M.sessions_more, rx.text(_("Only the first 60 dates are shown."), size="2")),
                continue_button(_("Move my booking"), "confirm-move"),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
            on_submit=M.move,
            no_validate=True,
            key=M.place,
        ),
    )


@public_page("/booking/manage/cancel", N_("Cancel your booking · Atlas"), on_load=M.load_cancel)
def manage_cancel_page() -> rx.Component:
    return wizard_page(
        back_link(to("/booking/manage/view"), _("Back to your booking")),
        error_summary(M),
        step_heading(_("Are you sure you want to cancel this booking?")),
        rx.el.dl(
            _row(_("Booking reference"), rx.text.strong(M.reference), "reference"),
            _row(_("When"), M.when_text, "when"),
            _row(_("Where"), M.where_text, "where"),
            style={"margin": "0"},
        ),
        rx.text(*interpolate(_("Your place will be given up. You can book again with your offer reference before "
                               "your deadline, {date}. If you do not complete a course by then, the offer goes back "
                               "to the police."), date=rx.text.strong(M.critical_date_text))),
        rx.cond(M.cancel_money_text != "", rx.text(M.cancel_money_text, id="cancel-money", weight="medium")),
        rx.hstack(
            rx.button(_("Yes, cancel my booking"), on_click=M.cancel, size="3", color_scheme="red", id="confirm-cancel",
                      style={"min_height": "48px", "font_weight": "600", "cursor": "pointer",
                             "background": "var(--red-11)", "color": "white",
                             "&:hover": {"background": "var(--red-12)"}, **focus_style()}),
            _action_link(_("No, keep it"), "/booking/manage/view", "keep-booking"),
            spacing="5",
            align="center",
            wrap="wrap",
        ),
    )
