"""Clients and telephone bookings: search, the client record, booking a session for an offer by telephone,
transfers, cancellations, returning an offer to the police, the call log and special-circumstance requests."""

from __future__ import annotations

import asyncio
from datetime import date

import reflex as rx

from atlas_app.domain.statuses import BookingStatus, OfferStatus, RequestStatus
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import offers as offers_service
from atlas_app.services import payments as payments_service
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.services.booking.registers import needs_text
from atlas_app.timeutil import london_date, utcnow
from atlas_app.ui.components.booking_ui import BOOKING_STATUS, OFFER_STATUS, REQUEST_STATUS
from atlas_app.ui.components.kit import (
    checkbox_field,
    coded_badge,
    detail_list,
    error_text,
    fieldset,
    phone_cards,
    route_id,
    section,
    select_field,
    table_or_cards,
    textarea_field,
    two_columns,
)
from atlas_app.ui.components.forms import field, form_error
from atlas_app.ui.components.shell import AuthState, NavItem, register_nav, staff_page
from atlas_app.ui.components.paid_flag import paid_flag_cell
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import end_clock, london, pounds
from atlas_app.ui.session import private, require

register_nav("Bookings", NavItem("Clients & telephone", "/bookings/clients", "contact", Perm.BOOKINGS_VIEW))

CALL_TYPE_LABELS = {
    "booking": "Booking", "enquiry": "Enquiry", "payment": "Payment", "transfer": "Transfer",
    "cancellation": "Cancellation", "complaint": "Complaint", "special_circumstances": "Special circumstances",
}
CALL_OUTCOME_LABELS = {
    "resolved": "Resolved", "booked": "Booked", "transferred": "Transferred", "cancelled": "Cancelled",
    "payment_taken": "Payment taken", "call_back": "Call back needed", "referred": "Referred for a decision",
    "no_action": "No action",
}
REQUEST_KIND_LABELS = {"part_payment": "Part payment", "extension": "Extension of time", "medical": "Medical",
                       "other": "Other"}
MODE_LABELS = {"classroom": "Classroom", "online": "Online", "practical": "Practical"}
EVENT_LABELS = {
    "referred": "Referred by the police", "seat_held": "Seat held", "hold_released": "Hold released",
    "hold_expired": "Hold ran out", "hold_extended": "Hold extended", "booked": "Booked", "transferred": "Transferred", "cancelled": "Cancelled",
    "attended": "Attended", "did_not_attend": "Did not attend", "turned_away": "Turned away",
    "offer_expired": "Offer expired", "returned": "Returned to police", "special_request": "Special request",
    "paid": "Paid", "payment": "Payment", "session_moved": "Course changed (client told)",
    "session_cancelled": "Course cancelled (client told)",
}
CHANNEL_LABELS = {"telephone": "Telephone", "online": "Online", "api": "API"}
MAX_CHOICES = 80


def _day(d: date | None) -> str:
    return f"{d:%d %b %Y}" if d else ""


def _parse_date(value: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("Enter the date of birth as a date, for example 14/03/1985.",
                               {"date_of_birth": "invalid"}) from None


def _message(exc: AtlasError) -> str:
    return str(exc)


def _choice_rows(rows) -> list[dict[str, str]]:
    return [
        {
            "id": str(r.id),
            "when": london(r.starts_at),
            "ends": end_clock(r.starts_at, r.ends_at),
            "venue": r.venue_name,
            "venue_id": str(r.venue_id or ""),
            "mode": MODE_LABELS.get(r.delivery_mode, r.delivery_mode),
            "free": f"{r.free} of {r.capacity} seats free",
            "label": f"{london(r.starts_at)}, {r.venue_name} ({MODE_LABELS.get(r.delivery_mode, r.delivery_mode)}),"
                     f" {r.free} of {r.capacity} seats free",
        }
        for r in rows
    ]


# --- search --------------------------------------------------------------------------------------------------


@private
class ClientSearchState(rx.State):
    query: str = ""
    date_of_birth: str = ""
    postcode: str = ""
    hits: list[dict[str, str]] = []
    searched: bool = False
    error: str = ""

    @rx.var
    def hit_count_text(self) -> str:
        n = len(self.hits)
        return f"{n} offer found" if n == 1 else f"{n} offers found"

    @rx.event
    async def load(self):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        self.error = ""
        q = (self.router.url.query_parameters.get("q") or "").strip()[:100]
        if q:
            self.query, self.date_of_birth, self.postcode = q, "", ""
            await self._search(actor)

    async def _search(self, actor) -> None:
        try:
            dob = _parse_date(self.date_of_birth)
            hits = await asyncio.to_thread(offers_service.search_clients, actor, query=self.query,
                                           date_of_birth=dob, postcode=self.postcode)
        except AtlasError as exc:
            self.error = _message(exc)
            self.hits = []
            self.searched = False
            return
        self.error = ""
        self.searched = True
        self.hits = [
            {
                "client_id": str(h.client_id), "name": h.name, "date_of_birth": _day(h.date_of_birth),
                "postcode": h.postcode, "offer_reference": h.offer_reference, "course_code": h.course_code,
                "critical_date": _day(h.critical_date), "offer_status": h.offer_status,
                "pay_state": "", "pay_label": "", "pay_amount": "", "pay_due": "", **h.paid_flag,
            }
            for h in hits
        ]

    @rx.event
    async def search(self, form: dict):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        self.query = str(form.get("query", "") or "").strip()[:100]
        self.date_of_birth = str(form.get("date_of_birth", "") or "").strip()[:10]
        self.postcode = str(form.get("postcode", "") or "").strip()[:10]
        await self._search(actor)


NO_MATCH = "No client matches. Check the reference, or search by name, date of birth or postcode."


def _hit_card(h: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(h["name"], href="/bookings/client/" + h["client_id"], weight="bold"),
            rx.hstack(coded_badge(h["offer_status"], OFFER_STATUS),
                      paid_flag_cell(h, "card-hit-paid-" + h["offer_reference"]), spacing="2", align="center"),
            justify="between", width="100%", align="center", wrap="wrap",
        ),
        rx.text("Offer ", h["offer_reference"], " · ", h["course_code"], " · critical date ", h["critical_date"],
                size="2"),
        rx.text("Born ", h["date_of_birth"], " · ", h["postcode"], size="2", color_scheme="gray"),
        spacing="1", width="100%",
    )


@staff_page("/bookings/clients", "Clients & telephone bookings", on_load=ClientSearchState.load)
def clients_page() -> rx.Component:
    return rx.vstack(
        rx.text("Find a client by offer reference, name, date of birth or postcode (any combination), then book, "
                "transfer or cancel for them and log the call.", color_scheme="gray"),
        rx.el.div(
            rx.form(
                rx.vstack(
                    form_error(ClientSearchState.error),
                    rx.grid(
                        field("Offer reference or name", "query", input_id="client-query",
                              default_value=ClientSearchState.query, hint="For example CLE-260005 or Jo Smith",
                              auto_focus=True),
                        field("Date of birth", "date_of_birth", type="date", input_id="client-dob",
                              default_value=ClientSearchState.date_of_birth),
                        field("Postcode", "postcode", input_id="client-postcode",
                              default_value=ClientSearchState.postcode, autocomplete="off"),
                        columns=rx.breakpoints(initial="1", md="3"),
                        spacing="3",
                        width="100%",
                    ),
                    rx.button(rx.icon("search", aria_hidden="true"), "Search", type="submit", size="3",
                              id="client-search-submit"),
                    spacing="3",
                    align_items="start",
                    width="100%",
                ),
                on_submit=ClientSearchState.search,
            ),
            role="search",
            aria_label="Search clients",
            style={"width": "100%"},
        ),
        rx.cond(
            ClientSearchState.searched,
            rx.vstack(
                rx.text(ClientSearchState.hit_count_text, role="status",
                        id="client-hit-count", weight="medium"),
                table_or_cards(
                    data_table(
                        ["Client", "Offer", "Course", "Critical date", "Offer status", "Paid", "Date of birth",
                         "Postcode"],
                        ClientSearchState.hits,
                        lambda h: [
                            rx.link(h["name"], href="/bookings/client/" + h["client_id"], weight="medium"),
                            h["offer_reference"],
                            h["course_code"],
                            h["critical_date"],
                            coded_badge(h["offer_status"], OFFER_STATUS),
                            paid_flag_cell(h, "hit-paid-" + h["offer_reference"]),
                            h["date_of_birth"],
                            h["postcode"],
                        ],
                        caption="Clients and offers matching the search",
                        row_id=lambda h: "hit-" + h["offer_reference"],
                        empty=NO_MATCH,
                    ),
                    phone_cards(ClientSearchState.hits, _hit_card, label="Clients and offers matching the search",
                                empty=NO_MATCH),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )


# --- the client record ---------------------------------------------------------------------------------------


@private
class ClientState(rx.State):
    """The client record on show: what the page lists, and (in backend vars) what this tab may act on. Each dialog
    is its own small state below, which reads this one with ``get_state`` when it needs the record."""

    client_id: str = ""
    not_found: str = ""
    details: dict[str, str] = {}
    offers: list[dict[str, str]] = []
    bookings: list[dict[str, str]] = []
    timeline: list[dict[str, str]] = []
    calls: list[dict[str, str]] = []
    requests: list[dict[str, str]] = []
    notice: str = ""
    suggest_call: bool = False

    # What this tab may act on, from the record last loaded (never taken from the browser).
    _offer_ids: set[int] = set()
    _bookable_offer_ids: set[int] = set()
    _active_refs: dict[str, int] = {}
    _transferable_refs: set[str] = set()
    _open_requests: set[int] = set()

    def _id(self) -> int | None:
        try:
            return int(self.client_id)
        except (TypeError, ValueError):
            return None

    def _offer_row(self, offer_id: int | str) -> dict[str, str] | None:
        return next((o for o in self.offers if o["id"] == str(offer_id)), None)

    async def _refresh(self, actor) -> None:
        cid = self._id()
        if cid is None:
            self.not_found = "No such client."
            return
        try:
            record = await asyncio.to_thread(offers_service.client_record, actor, cid)
        except AtlasError as exc:
            self.not_found = _message(exc)
            self.details, self.offers, self.bookings, self.timeline, self.calls, self.requests = {}, [], [], [], [], []
            self._offer_ids, self._bookable_offer_ids, self._active_refs = set(), set(), {}
            self._transferable_refs, self._open_requests = set(), set()
            return
        today = london_date(utcnow())
        self.not_found = ""
        self.details = {
            "name": record.name, "date_of_birth": _day(record.date_of_birth),
            "licence_number": record.licence_number or "Not given", "address": record.address or "Not given",
            "postcode": record.postcode, "email": record.email or "Not given", "phone": record.phone or "Not given",
            "language": record.language,
            "language_text": offers_service.LANGUAGES.get(record.language, record.language),
        }
        self.offers = []
        bookable = set()
        for o in record.offers:
            can_book = o.status == OfferStatus.REFERRED and not o.active_booking_reference and o.critical_date >= today
            if can_book:
                bookable.add(o.id)
            days = (o.critical_date - today).days
            self.offers.append({
                "id": str(o.id), "reference": o.offer_reference, "course": f"{o.course_name} ({o.course_code})",
                "course_code": o.course_code, "fee": pounds(o.fee_pence), "offence_date": _day(o.offence_date),
                "critical_date": _day(o.critical_date),
                "days_left": (f"{days} days left" if days > 1 else "1 day left" if days == 1 else "today"
                              if days == 0 else "passed"),
                "police_force": o.police_force or "Not given", "status": o.status,
                "active_booking": o.active_booking_reference, "can_book": "yes" if can_book else "",
                "can_return": "yes" if (o.status == OfferStatus.REFERRED and not o.active_booking_reference) else "",
            })
        self.bookings = [
            {
                "reference": b.reference, "status": b.status, "channel": CHANNEL_LABELS.get(b.channel, b.channel),
                "offer_reference": b.offer_reference,
                "session_id": str(b.session_id), "session": b.session_text, "fee": pounds(b.fee_pence),
                "needs": needs_text(b.needs) or "None", "course_code": b.course_code,
                "can_transfer": "yes" if b.status in BookingStatus.CHANGEABLE else "",
                "can_cancel": "yes" if b.status in BookingStatus.ACTIVE else "",
                "made": london(b.created_at),
                "pay_state": "", "pay_label": "", "pay_amount": "", "pay_due": "", **record.paid_flags.get(b.id, {}),
            }
            for b in record.bookings
        ]
        self.timeline = [
            {"at": london(e.at), "what": EVENT_LABELS.get(e.kind, e.kind.replace("_", " ").capitalize()),
             "detail": e.detail, "by": e.username or "Atlas"}
            for e in record.timeline
        ]
        self.calls = [
            {"at": london(c.at), "type": CALL_TYPE_LABELS.get(c.call_type, c.call_type),
             "outcome": CALL_OUTCOME_LABELS.get(c.outcome, c.outcome), "notes": c.notes or "", "by": c.username}
            for c in record.calls
        ]
        self.requests = [
            {"id": str(r.id), "kind": REQUEST_KIND_LABELS.get(r.kind, r.kind), "details": r.details,
             "status": r.status, "opened": london(r.created_at), "note": r.decision_note or ""}
            for r in record.requests
        ]
        self._offer_ids = {o.id for o in record.offers}
        self._bookable_offer_ids = bookable
        self._active_refs = {b.reference: b.offer_id for b in record.bookings
                             if b.status in BookingStatus.ACTIVE}
        self._transferable_refs = {b.reference for b in record.bookings
                                   if b.status in BookingStatus.CHANGEABLE}
        self._open_requests = {r.id for r in record.requests if r.status == RequestStatus.OPEN}

    @rx.event
    async def set_language(self, value: str):
        """Staff record the language the client wants emails and letters in (audited by the service)."""
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        cid = self._id()
        if cid is None:
            return
        try:
            kept = await asyncio.to_thread(offers_service.set_client_language, str(value or "")[:8], actor=actor,
                                           client_id=cid)
        except AtlasError as exc:
            self.notice = _message(exc)
            return
        self.notice = f"Emails and letters to this client will be in {offers_service.LANGUAGES[kept]}."
        await self._refresh(actor)

    @rx.event
    async def load(self):
        actor = await require(self, Perm.BOOKINGS_VIEW)
        # A notice is about the change just made: coming back to the record later starts without one.
        self.notice = ""
        self.suggest_call = False
        self.client_id = route_id(self.router.url.path, "/bookings/client/")
        for dialog in DIALOGS:
            (await self.get_state(dialog)).is_open = False
        await self._refresh(actor)


class DialogState(rx.State, mixin=True):
    """What every dialog of the record has: whether it is open, why its last submission failed, and a key that
    empties its form each time it opens."""

    is_open: bool = False
    error: str = ""
    form_key: int = 0

    def _show(self) -> None:
        self.error = ""
        self.form_key += 1
        self.is_open = True

    @rx.event
    def set_open(self, value: bool):
        self.is_open = bool(value)

    async def _record(self) -> ClientState:
        return await self.get_state(ClientState)


async def _suggest_call(state: rx.State, call_type: str, outcome: str, offer_id: int | None,
                        open_now: bool = False, follows_change: bool = True) -> None:
    """After a change made on the telephone: fill in the call dialog for it, and open it at once or offer it. A
    call logged for a change adds to that change's notice; a call logged on its own (``follows_change`` False)
    replaces whatever notice was there."""
    call = await state.get_state(CallDialogState)
    call.call_type, call.outcome = call_type, outcome
    call.offer_id = str(offer_id or "")
    (await state.get_state(ClientState)).suggest_call = follows_change
    if open_now:
        call._show()


@private
class BookDialogState(DialogState, rx.State):
    """Booking a session for an offer by telephone."""

    offer_id: str = ""
    offer_label: str = ""
    mode: str = ""
    venue: str = ""
    modes: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    choices: list[dict[str, str]] = []
    choices_more: int = 0
    _choice_ids: set[int] = set()

    async def _load_choices(self, actor) -> None:
        org_id = actor.require_org()
        offer_id = int(self.offer_id)
        venue = int(self.venue) if self.venue.isdigit() else None
        rows = await asyncio.to_thread(offers_service.session_choices, org_id, offer_id, self.mode, venue)
        self._choice_ids = {r.id for r in rows}
        self.choices_more = max(0, len(rows) - MAX_CHOICES)
        self.choices = _choice_rows(rows[:MAX_CHOICES])

    @rx.event
    async def show(self, offer_id: str):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        try:
            oid = int(offer_id)
        except (TypeError, ValueError):
            return
        record = await self._record()
        if oid not in record._bookable_offer_ids:
            return rx.toast.error("This offer cannot be booked now.")
        row = record._offer_row(oid)
        self.offer_id = str(oid)
        self.offer_label = f"{row['reference']}: {row['course']}, critical date {row['critical_date']}"
        self.mode, self.venue = "", ""
        every = await asyncio.to_thread(offers_service.session_choices, actor.require_org(), oid, "", None)
        modes = sorted({r.delivery_mode for r in every})
        self.modes = [{"value": m, "label": MODE_LABELS.get(m, m)} for m in modes]
        venues = sorted({(r.venue_id, r.venue_name) for r in every if r.venue_id and r.delivery_mode != "online"},
                        key=lambda v: v[1])
        self.venues = [{"value": str(i), "label": n} for i, n in venues]
        await self._load_choices(actor)
        self._show()

    @rx.event
    async def set_mode(self, mode: str):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        if not self.offer_id:
            return
        self.mode = mode if mode in MODE_LABELS else ""
        if self.mode == "online":
            self.venue = ""
        await self._load_choices(actor)

    @rx.event
    async def set_venue(self, venue: str):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        if not self.offer_id:
            return
        self.venue = venue if venue in {v["value"] for v in self.venues} else ""
        await self._load_choices(actor)

    @rx.event
    async def book(self, form: dict):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        try:
            offer_id = int(self.offer_id)
            session_id = int(str(form.get("session_id", "")))
        except (TypeError, ValueError):
            self.error = "Choose a session from the list."
            return
        record = await self._record()
        if offer_id not in record._bookable_offer_ids or session_id not in self._choice_ids:
            self.error = "Choose a session from the list."
            return
        needs = {
            "interpreter": form.get("interpreter") in (True, "on", "true", "1"),
            "interpreter_language": str(form.get("interpreter_language", "") or ""),
            "language": str(form.get("language", "") or ""),
            "accessibility": str(form.get("accessibility", "") or ""),
            "other": str(form.get("other", "") or ""),
        }
        try:
            view = await asyncio.to_thread(booking_service.book, actor, offer_id, session_id, needs,
                                           channel="telephone")
        except AtlasError as exc:
            self.error = _message(exc)
            await self._load_choices(actor)
            return
        self.is_open = False
        record.notice = (f"Booked by telephone: {view.reference}, {view.session_text}. "
                         f"Fee {pounds(view.fee_pence)}, awaiting payment.")
        await record._refresh(actor)
        await _suggest_call(self, "booking", "booked", offer_id, open_now=True)


@private
class TransferDialogState(DialogState, rx.State):
    """Moving a current booking to another session."""

    reference: str = ""
    label: str = ""
    choices: list[dict[str, str]] = []
    _choice_ids: set[int] = set()

    @rx.event
    async def show(self, reference: str):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        reference = str(reference)
        record = await self._record()
        if reference not in record._transferable_refs:
            return rx.toast.error("Only a current booking can be transferred.")
        row = next(b for b in record.bookings if b["reference"] == reference)
        offer_id = record._active_refs[reference]
        rows = await asyncio.to_thread(offers_service.session_choices, actor.require_org(), offer_id, "", None)
        rows = [r for r in rows if str(r.id) != row["session_id"]]
        self._choice_ids = {r.id for r in rows}
        self.choices = _choice_rows(rows[:MAX_CHOICES])
        self.reference = reference
        self.label = f"{reference}: {row['session']}"
        self._show()

    @rx.event
    async def transfer(self, form: dict):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        try:
            session_id = int(str(form.get("session_id", "")))
        except (TypeError, ValueError):
            self.error = "Choose the session to move to."
            return
        record = await self._record()
        if self.reference not in record._transferable_refs or session_id not in self._choice_ids:
            self.error = "Choose the session to move to."
            return
        offer_id = record._active_refs[self.reference]
        try:
            view = await asyncio.to_thread(booking_service.transfer, actor.require_org(), self.reference,
                                           session_id, actor=actor)
        except AtlasError as exc:
            self.error = _message(exc)
            return
        self.is_open = False
        record.notice = f"Moved {self.reference} to {view.reference}: {view.session_text}."
        await record._refresh(actor)
        await _suggest_call(self, "transfer", "transferred", offer_id)


@private
class CancelDialogState(DialogState, rx.State):
    """Cancelling a current booking, saying first what will be refunded."""

    reference: str = ""
    label: str = ""
    money: str = ""

    @rx.event
    async def show(self, reference: str):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        reference = str(reference)
        record = await self._record()
        if reference not in record._active_refs:
            return rx.toast.error("This booking is not current.")
        row = next(b for b in record.bookings if b["reference"] == reference)
        self.reference = reference
        self.label = f"{reference}: {row['session']}"
        self.error = ""
        try:
            money = await asyncio.to_thread(payments_service.cancel_preview, actor.require_org(), reference,
                                            actor=actor)
        except AtlasError as exc:
            return rx.toast.error(_message(exc))
        self.money = money.staff_text
        self._show()

    @rx.event
    async def cancel(self, form: dict):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        reason = str(form.get("reason", "") or "").strip()[:300]
        if not reason:
            self.error = "Give the reason for cancelling."
            return
        record = await self._record()
        if self.reference not in record._active_refs:
            self.error = "This booking is not current."
            return
        offer_id = record._active_refs[self.reference]
        try:
            outcome = await asyncio.to_thread(payments_service.cancel_booking, actor.require_org(), self.reference,
                                              actor=actor, reason=reason)
        except AtlasError as exc:
            self.error = _message(exc)
            return
        self.is_open = False
        record.notice = outcome.summary + " The offer can be booked again."
        await record._refresh(actor)
        await _suggest_call(self, "cancellation", "cancelled", offer_id)


@private
class ReturnDialogState(DialogState, rx.State):
    """Returning an unbooked offer to the police."""

    offer_id: str = ""
    label: str = ""

    @rx.event
    async def show(self, offer_id: str):
        await require(self, Perm.BOOKINGS_MANAGE)
        row = (await self._record())._offer_row(offer_id)
        if row is None or not row["can_return"]:
            return rx.toast.error("Only an unbooked, open offer can be returned to the police.")
        self.offer_id = row["id"]
        self.label = f"{row['reference']}: {row['course']}"
        self._show()

    @rx.event
    async def return_to_police(self, form: dict):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        try:
            offer_id = int(self.offer_id)
        except ValueError:
            return
        record = await self._record()
        if offer_id not in record._offer_ids:
            return
        try:
            await asyncio.to_thread(booking_service.return_to_police, actor, offer_id, str(form.get("reason", "")))
        except AtlasError as exc:
            self.error = _message(exc)
            return
        self.is_open = False
        record.notice = "The offer has been returned to the police."
        await record._refresh(actor)


@private
class CallDialogState(DialogState, rx.State):
    """Logging a call with the client (and opening a special-circumstances request from it)."""

    call_type: str = "enquiry"
    outcome: str = "resolved"
    offer_id: str = ""

    @rx.event
    async def show(self, offer_id: str = ""):
        await require(self, Perm.CALLS_LOG)
        record = await self._record()
        oid = int(offer_id) if str(offer_id).isdigit() and int(offer_id) in record._offer_ids else None
        if oid is None and len(record._offer_ids) == 1:
            oid = next(iter(record._offer_ids))  # a client with one offer is calling about it
        await _suggest_call(self, "enquiry", "resolved", oid, open_now=True, follows_change=False)

    @rx.event
    async def show_suggested(self):
        await require(self, Perm.CALLS_LOG)
        self._show()

    @rx.event
    def set_call_type(self, value: str):
        self.call_type = value if value in CALL_TYPE_LABELS else "enquiry"

    @rx.event
    async def log_call(self, form: dict):
        actor = await require(self, Perm.CALLS_LOG)
        record = await self._record()
        cid = record._id()
        offer_raw = str(form.get("offer_id", "") or "")
        offer_id = int(offer_raw) if offer_raw.isdigit() else None
        if offer_id is not None and offer_id not in record._offer_ids:
            self.error = "Choose one of this client's offers."
            return
        try:
            await asyncio.to_thread(
                offers_service.log_call, actor, client_id=cid, offer_id=offer_id,
                call_type=str(form.get("call_type", "")), outcome=str(form.get("outcome", "")),
                notes=str(form.get("notes", "") or ""), request_details=str(form.get("request_details", "") or ""),
                request_kind=str(form.get("request_kind", "") or "other"),
            )
        except AtlasError as exc:
            self.error = _message(exc)
            return
        self.is_open = False
        opened = " A special-circumstances request is open for a decision." \
            if form.get("call_type") == "special_circumstances" else ""
        record.notice = (record.notice + " " if record.suggest_call and record.notice else "") + "Call logged." \
            + opened
        record.suggest_call = False
        await record._refresh(actor)


@private
class DecideDialogState(DialogState, rx.State):
    """Approving or declining an open special-circumstances request."""

    request_id: str = ""
    approve: bool = True
    label: str = ""

    @rx.event
    async def show(self, request_id: str, approve: bool):
        await require(self, Perm.BOOKINGS_MANAGE)
        record = await self._record()
        rid = int(request_id) if str(request_id).isdigit() else None
        if rid not in record._open_requests:
            return rx.toast.error("This request has already been decided.")
        row = next(r for r in record.requests if r["id"] == str(rid))
        self.request_id = str(rid)
        self.approve = bool(approve)
        self.label = f"{row['kind']}: {row['details']}"
        self._show()

    @rx.event
    async def decide(self, form: dict):
        actor = await require(self, Perm.BOOKINGS_MANAGE)
        record = await self._record()
        rid = int(self.request_id) if self.request_id.isdigit() else None
        if rid not in record._open_requests:
            self.error = "This request has already been decided."
            return
        try:
            await asyncio.to_thread(offers_service.decide_request, actor, rid, self.approve,
                                    str(form.get("note", "") or ""))
        except AtlasError as exc:
            self.error = _message(exc)
            return
        self.is_open = False
        record.notice = "Request approved." if self.approve else "Request declined."
        await record._refresh(actor)


DIALOGS = (BookDialogState, TransferDialogState, CancelDialogState, ReturnDialogState, CallDialogState,
           DecideDialogState)


# --- record page pieces --------------------------------------------------------------------------------------


def _can(permission: str) -> rx.Var:
    return AuthState.permissions.contains(permission)


def _offer_card(o: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(o["reference"], size="3", as_="h3"),
                coded_badge(o["status"], OFFER_STATUS, badge_id="offer-status-" + o["reference"]),
                spacing="3", align="center", wrap="wrap",
            ),
            detail_list([
                ("Course", o["course"]),
                ("Fee", o["fee"]),
                ("Offence date", o["offence_date"]),
                ("Critical date", rx.text(o["critical_date"], " (", o["days_left"], ")", as_="span",
                                          weight="bold")),
                ("Police force", o["police_force"]),
                ("Current booking", rx.cond(o["active_booking"] != "", o["active_booking"], "None")),
            ]),
            rx.hstack(
                rx.cond(
                    (o["can_book"] != "") & _can(Perm.BOOKINGS_MANAGE),
                    rx.button(rx.icon("phone", aria_hidden="true"), "Book by telephone", size="2",
                              on_click=BookDialogState.show(o["id"]), id="book-" + o["reference"],
                              aria_label="Book by telephone for offer " + o["reference"]),
                ),
                rx.cond(
                    (o["can_book"] != "") & _can(Perm.BOOKINGS_MANAGE),
                    rx.link("Waiting list", href="/bookings/waiting-list?offer=" + o["reference"],
                            id="waiting-" + o["reference"],
                            aria_label="Add offer " + o["reference"] + " to the waiting list"),
                ),
                rx.cond(
                    _can(Perm.CALLS_LOG),
                    rx.button("Log a call", size="2", variant="soft", on_click=CallDialogState.show(o["id"]),
                              aria_label="Log a call about offer " + o["reference"]),
                ),
                rx.cond(
                    _can(Perm.LETTERS_MANAGE),
                    rx.button(rx.link("Write a letter", href="/letters?reference=" + o["reference"],
                                      aria_label="Write a letter about offer " + o["reference"]),
                              as_child=True, size="2", variant="soft"),
                ),
                rx.cond(
                    (o["can_return"] != "") & _can(Perm.BOOKINGS_MANAGE),
                    rx.button("Return to police", size="2", variant="soft", color_scheme="orange",
                              on_click=ReturnDialogState.show(o["id"]),
                              aria_label="Return offer " + o["reference"] + " to the police"),
                ),
                spacing="2", wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="offer-" + o["reference"],
    )


def _booking_actions(b: rx.Var) -> rx.Component:
    return rx.cond(
        _can(Perm.BOOKINGS_MANAGE),
        rx.hstack(
            rx.cond(b["can_transfer"] != "",
                    rx.button("Transfer", size="1", variant="soft", on_click=TransferDialogState.show(b["reference"]),
                              aria_label="Transfer booking " + b["reference"])),
            rx.cond(b["can_cancel"] != "",
                    rx.button("Cancel", size="1", variant="soft", color_scheme="red",
                              on_click=CancelDialogState.show(b["reference"]),
                              aria_label="Cancel booking " + b["reference"])),
            spacing="2", wrap="wrap",
        ),
    )


def _booking_card(b: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(b["reference"], weight="bold"),
            rx.hstack(coded_badge(b["status"], BOOKING_STATUS), paid_flag_cell(b, "card-paid-" + b["reference"]),
                      spacing="2", align="center"),
            justify="between", width="100%", align="center", wrap="wrap",
        ),
        rx.link(b["session"], href="/bookings/session/" + b["session_id"], size="2"),
        rx.text("Offer ", b["offer_reference"], " · ", b["channel"], " · ", b["fee"], " · made ", b["made"], size="2",
                color_scheme="gray"),
        rx.text("Needs: ", b["needs"], size="2"),
        _booking_actions(b),
        spacing="2", width="100%",
    )


def _request_actions(r: rx.Var) -> rx.Component:
    return rx.cond(
        (r["status"] == RequestStatus.OPEN.value) & _can(Perm.BOOKINGS_MANAGE),
        rx.hstack(
            rx.button("Approve", size="1", variant="soft", color_scheme="green",
                      on_click=DecideDialogState.show(r["id"], True), aria_label="Approve request: " + r["kind"]),
            rx.button("Decline", size="1", variant="soft", color_scheme="red",
                      on_click=DecideDialogState.show(r["id"], False), aria_label="Decline request: " + r["kind"]),
            spacing="2", wrap="wrap",
        ),
        rx.text(r["note"]),
    )


def _request_card(r: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.text(r["kind"], weight="bold"), coded_badge(r["status"], REQUEST_STATUS),
                  justify="between", width="100%", align="center", wrap="wrap"),
        rx.text(r["details"], size="2"),
        rx.text("Opened ", r["opened"], size="2", color_scheme="gray"),
        _request_actions(r),
        spacing="2", width="100%",
    )


def _call_card(c: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(rx.text.strong(c["type"]), ": ", c["outcome"]),
        rx.cond(c["notes"] != "", rx.text(c["notes"], size="2")),
        rx.text(c["at"], " · ", c["by"], size="2", color_scheme="gray"),
        spacing="1", width="100%",
    )


def _session_radios(rows: rx.Var, name: str, prefix: str) -> rx.Component:
    return rx.el.div(
        rx.foreach(
            rows,
            lambda c: rx.el.label(
                rx.el.input(type="radio", name=name, value=c["id"], id=prefix + c["id"], required=True,
                            style={"width": "1.2em", "height": "1.2em", "margin": "0.2em 0 0 0",
                                   "flex-shrink": "0"}),
                rx.el.span(
                    rx.el.strong(c["when"], "–", c["ends"]),
                    rx.el.br(),
                    c["venue"], " · ", c["mode"], " · ", c["free"],
                ),
                html_for=prefix + c["id"],
                style={"display": "flex", "gap": "0.6em", "align-items": "flex-start", "padding": "0.5em",
                       "border": "1px solid var(--gray-5)", "border-radius": "var(--radius-2)",
                       "cursor": "pointer"},
            ),
        ),
        style={"display": "flex", "flex-direction": "column", "gap": "0.4em", "max-height": "20em",
               "overflow-y": "auto"},
        id=prefix + "list",
        tab_index=-1,
    )


def _dialog_buttons(submit: str, submit_id: str, colour: str = "accent", error: rx.Var | None = None
                    ) -> rx.Component:
    """The dialog's buttons, with the reason a submission failed right above them (where the eye is)."""
    buttons = rx.hstack(
        rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", type="button", size="3")),
        rx.button(submit, type="submit", id=submit_id, size="3",
                  **({} if colour == "accent" else {"color_scheme": colour})),
        justify="end", width="100%", spacing="3", wrap="wrap",
    )
    return rx.vstack(error_text(error), buttons, spacing="2", width="100%") if error is not None else buttons


def _book_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Book by telephone"),
            rx.dialog.description(BookDialogState.offer_label, size="2", margin_bottom="0.75em", color_scheme="gray"),
            rx.vstack(
                rx.grid(
                    select_field("Delivery", "mode_filter", BookDialogState.modes, input_id="book-mode",
                                 value=BookDialogState.mode, on_change=BookDialogState.set_mode, blank="Any"),
                    select_field("Venue", "venue_filter", BookDialogState.venues, input_id="book-venue",
                                 value=BookDialogState.venue, on_change=BookDialogState.set_venue,
                                 blank="Any venue"),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                ),
                rx.form(
                    rx.vstack(
                        fieldset(
                            "Choose a session (before the critical date, with free seats)",
                            rx.cond(
                                BookDialogState.choices.length() > 0,
                                _session_radios(BookDialogState.choices, "session_id", "choice-"),
                                rx.text("No session with free seats before the critical date matches. Try another "
                                        "delivery or venue, or return the offer to the police.", role="status"),
                            ),
                            rx.cond(BookDialogState.choices_more > 0,
                                    rx.text(BookDialogState.choices_more.to_string()
                                            + " later sessions not shown: choose a venue or delivery to narrow.",
                                            size="2", color_scheme="gray")),
                        ),
                        fieldset(
                            "Needs at the course",
                            checkbox_field("Needs an interpreter", "interpreter", input_id="need-interpreter"),
                            field("Interpreter's language", "interpreter_language", input_id="need-interpreter-lang"),
                            field("Course language (for example Welsh)", "language", input_id="need-language"),
                            field("Access needs", "accessibility", input_id="need-access",
                                  hint="For example wheelchair user, hearing loop, breaks"),
                            field("Anything else", "other", input_id="need-other"),
                        ),
                        _dialog_buttons("Book this session", "confirm-book", error=BookDialogState.error),
                        spacing="3", width="100%",
                    ),
                    on_submit=BookDialogState.book,
                    key=BookDialogState.form_key,
                    width="100%",
                ),
                spacing="3", width="100%",
            ),
            max_width="40em",
        ),
        open=BookDialogState.is_open,
        on_open_change=BookDialogState.set_open,
    )


def _transfer_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Transfer a booking"),
            rx.dialog.description(TransferDialogState.label, size="2", margin_bottom="0.75em", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    fieldset(
                        "Move to",
                        rx.cond(TransferDialogState.choices.length() > 0,
                                _session_radios(TransferDialogState.choices, "session_id", "move-"),
                                rx.text("No other session with free seats before the critical date.", role="status")),
                    ),
                    rx.text("The seat on the current session is freed. Any transfer fee in the booking terms is added.",
                            size="2", color_scheme="gray"),
                    _dialog_buttons("Transfer", "confirm-transfer", error=TransferDialogState.error),
                    spacing="3", width="100%",
                ),
                on_submit=TransferDialogState.transfer,
                key=TransferDialogState.form_key,
            ),
            max_width="40em",
        ),
        open=TransferDialogState.is_open,
        on_open_change=TransferDialogState.set_open,
    )


def _cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Cancel a booking"),
            rx.dialog.description(CancelDialogState.label, size="2", margin_bottom="0.75em", color_scheme="gray"),
            rx.text(CancelDialogState.money, id="cancel-money", size="2", weight="medium", margin_bottom="0.75em"),
            rx.form(
                rx.vstack(
                    textarea_field("Reason for cancelling", "reason", input_id="cancel-reason", required=True,
                                   max_length=300, hint="Shown on the client's timeline and in the audit trail."),
                    _dialog_buttons("Cancel the booking", "confirm-cancel", "red", error=CancelDialogState.error),
                    spacing="3", width="100%",
                ),
                on_submit=CancelDialogState.cancel,
                key=CancelDialogState.form_key,
            ),
            max_width="32em",
        ),
        open=CancelDialogState.is_open,
        on_open_change=CancelDialogState.set_open,
    )


def _return_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Return the offer to the police"),
            rx.dialog.description(ReturnDialogState.label, size="2", margin_bottom="0.75em", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    textarea_field("Reason", "reason", input_id="return-reason", required=True, max_length=300,
                                   hint="For example: the client cannot attend before the critical date."),
                    _dialog_buttons("Return to police", "confirm-return", "orange", error=ReturnDialogState.error),
                    spacing="3", width="100%",
                ),
                on_submit=ReturnDialogState.return_to_police,
                key=ReturnDialogState.form_key,
            ),
            max_width="32em",
        ),
        open=ReturnDialogState.is_open,
        on_open_change=ReturnDialogState.set_open,
    )


def _call_dialog() -> rx.Component:
    offer_options = rx.foreach(ClientState.offers, lambda o: rx.el.option(o["reference"] + " (" + o["course_code"]
                                                                          + ")", value=o["id"]))
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Log a call"),
            rx.dialog.description(rx.text("Call with ", ClientState.details["name"], "."),
                                  size="2", margin_bottom="0.75em",
                                  color_scheme="gray"),
            rx.form(
                rx.vstack(
                    rx.vstack(
                        rx.el.label("About offer", html_for="call-offer", font_weight="500", font_size="0.95em"),
                        rx.el.select(rx.el.option("Not about a particular offer", value=""), offer_options,
                                     id="call-offer", name="offer_id", default_value=CallDialogState.offer_id,
                                     style={"padding": "0.5em", "border-radius": "var(--radius-2)",
                                            "border": "1px solid var(--gray-7)", "width": "100%",
                                            "background": "var(--color-background)", "min-height": "2.5em"}),
                        spacing="1", width="100%", align_items="stretch",
                    ),
                    two_columns(
                        select_field("Type of call", "call_type", list(CALL_TYPE_LABELS.items()),
                                     input_id="call-type", value=CallDialogState.call_type,
                                     on_change=CallDialogState.set_call_type),
                        select_field("Outcome", "outcome", list(CALL_OUTCOME_LABELS.items()), input_id="call-outcome",
                                     default_value=CallDialogState.outcome),
                    ),
                    textarea_field("Notes", "notes", input_id="call-notes", max_length=4000),
                    rx.cond(
                        CallDialogState.call_type == "special_circumstances",
                        fieldset(
                            "Special-circumstances request",
                            select_field("Kind of request", "request_kind", list(REQUEST_KIND_LABELS.items()),
                                         input_id="call-request-kind"),
                            textarea_field("What the client asks for", "request_details", input_id="call-request",
                                           required=True, max_length=4000,
                                           hint="The request is opened on the client record for a decision."),
                        ),
                    ),
                    _dialog_buttons("Log the call", "confirm-call", error=CallDialogState.error),
                    spacing="3", width="100%",
                ),
                on_submit=CallDialogState.log_call,
                key=CallDialogState.form_key,
            ),
            max_width="36em",
        ),
        open=CallDialogState.is_open,
        on_open_change=CallDialogState.set_open,
    )


def _decide_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(DecideDialogState.approve, "Approve the request", "Decline the request")),
            rx.dialog.description(DecideDialogState.label, size="2", margin_bottom="0.75em", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    error_text(DecideDialogState.error),
                    textarea_field("Note of the decision", "note", input_id="decide-note", max_length=1000),
                    rx.hstack(
                        rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", type="button",
                                                  size="3")),
                        rx.button(rx.cond(DecideDialogState.approve, "Approve", "Decline"), type="submit",
                                  id="confirm-decide", size="3",
                                  color_scheme=rx.cond(DecideDialogState.approve, "green", "red")),
                        justify="end", width="100%", spacing="3",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=DecideDialogState.decide,
                key=DecideDialogState.form_key,
            ),
            max_width="32em",
        ),
        open=DecideDialogState.is_open,
        on_open_change=DecideDialogState.set_open,
    )


def _notice() -> rx.Component:
    return rx.cond(
        ClientState.notice != "",
        rx.callout(
            rx.hstack(
                rx.text(ClientState.notice, id="client-notice"),
                rx.cond(
                    ClientState.suggest_call & ~CallDialogState.is_open & _can(Perm.CALLS_LOG),
                    rx.button("Log this call", size="1", on_click=CallDialogState.show_suggested,
                              id="log-suggested-call"),
                ),
                spacing="3", align="center", wrap="wrap",
            ),
            icon="info", color_scheme="green", role="status", width="100%",
        ),
    )


@staff_page("/bookings/client/[id]", "Client record", on_load=ClientState.load)
def client_page() -> rx.Component:
    return rx.vstack(
        rx.link("← Back to client search", href="/bookings/clients", size="2"),
        rx.cond(
            ClientState.not_found != "",
            rx.callout(ClientState.not_found, icon="triangle_alert", color_scheme="red", role="alert"),
            rx.vstack(
                rx.heading(ClientState.details["name"], size="6", as_="h2", id="client-name"),
                rx.cond(_can(Perm.AUDIT_VIEW),
                        rx.link(rx.icon("history", size=16, aria_hidden="true"), " History (audit trail)",
                                href="/admin/audit?client=" + ClientState.client_id, size="2",
                                id="client-audit-trail")),
                rx.cond(_can(Perm.SUBJECT_ACCESS), rx.el.a(
                    rx.icon("file-archive", aria_hidden="true", size=16), "Subject access export (ZIP)",
                    href="/api/subject-access/client/" + ClientState.client_id + ".zip", download="",
                    reload_document=True, id="subject-access-export",
                    class_name="rt-reset rt-BaseButton rt-Button rt-r-size-2 rt-variant-soft",
                    style={"gap": "0.5em", "text-decoration": "none"})),
                _notice(),
                rx.grid(
                    section(
                        "Details",
                        detail_list([
                            ("Date of birth", ClientState.details["date_of_birth"]),
                            ("Licence", ClientState.details["licence_number"]),
                            ("Address", ClientState.details["address"]),
                            ("Postcode", ClientState.details["postcode"]),
                            ("Email", ClientState.details["email"]),
                            ("Telephone", ClientState.details["phone"]),
                            ("Language", rx.cond(
                                _can(Perm.BOOKINGS_MANAGE),
                                rx.el.select(
                                    rx.el.option("English", value="en"),
                                    rx.el.option("Welsh (Cymraeg)", value="cy"),
                                    value=ClientState.details["language"],
                                    on_change=ClientState.set_language,
                                    id="client-language",
                                    aria_label="Language for emails and letters",
                                    style={"min_height": "44px"},
                                ),
                                rx.text(ClientState.details["language_text"], id="client-language-text"),
                            )),
                        ]),
                        actions=rx.cond(_can(Perm.CALLS_LOG),
                                        rx.button(rx.icon("phone-call", aria_hidden="true"), "Log a call", size="2",
                                                  variant="soft", on_click=CallDialogState.show(""),
                                                  id="log-call")),
                    ),
                    section("Offers", rx.foreach(ClientState.offers, _offer_card)),
                    columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
                ),
                section(
                    "Bookings",
                    table_or_cards(
                        data_table(
                            ["Booking", "Session", "Status", "Paid", "Channel", "Fee", "Needs", "Made", "Actions"],
                            ClientState.bookings,
                            lambda b: [
                                rx.vstack(rx.text(b["reference"], weight="medium", white_space="nowrap"),
                                          rx.text("Offer " + b["offer_reference"], size="1", color_scheme="gray",
                                                  white_space="nowrap"),
                                          spacing="0"),
                                rx.link(b["session"], href="/bookings/session/" + b["session_id"]),
                                coded_badge(b["status"], BOOKING_STATUS),
                                paid_flag_cell(b, "paid-" + b["reference"]),
                                rx.text(b["channel"], id="channel-" + b["reference"]),
                                b["fee"],
                                b["needs"],
                                b["made"],
                                _booking_actions(b),
                            ],
                            caption="Bookings of this client",
                            row_id=lambda b: "booking-" + b["reference"],
                            empty="No bookings yet.",
                        ),
                        phone_cards(ClientState.bookings, _booking_card, label="Bookings of this client",
                                    empty="No bookings yet."),
                    ),
                ),
                section(
                    "Special-circumstance requests",
                    table_or_cards(
                        data_table(
                            ["Opened", "Kind", "Details", "Status", "Decision"],
                            ClientState.requests,
                            lambda r: [r["opened"], r["kind"], r["details"],
                                       coded_badge(r["status"], REQUEST_STATUS), _request_actions(r)],
                            caption="Special-circumstance requests of this client",
                            row_id=lambda r: "request-" + r["id"],
                            empty="No requests.",
                        ),
                        phone_cards(ClientState.requests, _request_card,
                                    label="Special-circumstance requests of this client", empty="No requests."),
                    ),
                ),
                section(
                    "Call log",
                    table_or_cards(
                        data_table(
                            ["When", "Type", "Outcome", "Notes", "By"],
                            ClientState.calls,
                            lambda c: [c["at"], c["type"], c["outcome"], c["notes"], c["by"]],
                            caption="Calls with this client, newest first",
                            empty="No calls logged.",
                        ),
                        phone_cards(ClientState.calls, _call_card, label="Calls with this client, newest first",
                                    empty="No calls logged."),
                    ),
                    heading_id="h-call-log",
                ),
                section(
                    "Status timeline",
                    rx.el.ol(
                        rx.foreach(
                            ClientState.timeline,
                            lambda e: rx.el.li(
                                rx.text(rx.text.strong(e["what"]), " · ", e["at"], " · ", e["by"], size="2"),
                                rx.text(e["detail"], size="2", color_scheme="gray"),
                                style={"padding": "0.4em 0", "border-bottom": "1px solid var(--gray-4)"},
                            ),
                        ),
                        style={"list-style": "none", "padding": "0", "margin": "0"},
                        aria_label="Status timeline, newest first",
                        id="timeline",
                    ),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        _book_dialog(),
        _transfer_dialog(),
        _cancel_dialog(),
        _return_dialog(),
        _call_dialog(),
        _decide_dialog(),
        spacing="4",
        width="100%",
    )
