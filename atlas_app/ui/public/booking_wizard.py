"""The public booking wizard: one question per page.

/book           1  find your offer (reference, date of birth, postcode)
/book/how       2  how to attend (delivery modes that have bookable sessions)
/book/where     3  venue, nearest first (skipped for online courses)
/book/when      4  date and time; choosing one holds the seat for a few minutes
/book/needs     5  interpreter, accessibility and language needs
/book/check     6  check your answers, then book (the booking then awaits payment)
/book/done         confirmation with the booking reference

Security: the state is public, so any browser may call any handler with any arguments. The verified offer and
organisation ids, and the ids of the options offered, live only in backend (underscore) vars; a choice is accepted
only if it is one of the options the server offered, and the services re-check everything. Public vars hold display
strings for the client in this tab and nothing else.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, timedelta
from typing import Any

import reflex as rx
from reflex_base.utils.imports import ImportVar

from atlas_app.domain.statuses import BookingStatus
from atlas_app.services import payments as payments_service
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import offers as offers_service
from atlas_app.services.booking import self_service
from atlas_app.services.booking.catalogue import normalise_postcode
from atlas_app.services.payments import checkout
from atlas_app.services.platform import i18n
from atlas_app.services.platform.errors import AtlasError, ValidationFailed
from atlas_app.services.platform.i18n import money as pounds
from atlas_app.timeutil import LONDON, utcnow
from atlas_app.ui.components.paid_flag import demo_banner
from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.i18n import N_, _, follow_organisation, interpolate, public_page, to
from atlas_app.ui.format import end_clock

from atlas_app.ui.session import client_ip, public

# English msgids, translated where shown.
MODE_LABELS = {
    "classroom": N_("In a classroom"),
    "online": N_("Online, by live video"),
    "practical": N_("Practical, on the road"),
}
MODE_HINTS = {
    "classroom": N_("A course in a training room at a venue near you."),
    "online": N_("A live course on a video call. You need a camera, a microphone and a quiet room."),
    "practical": N_("Time in the classroom and driving with an instructor."),
}
SESSION_LIMIT = 60
# The page offers more time this long before the hold ends.
HOLD_WARNING = timedelta(minutes=2)
# The hold may be reported as run out this many seconds early, to allow for the browser's clock.
CLOCK_SLACK = timedelta(seconds=5)

FOCUS_HEADING_JS = "setTimeout(() => { const h = document.getElementById('step-heading'); if (h) h.focus(); }, 60)"
# Focus the error summary, and start the page title with "Error: " so the problem is announced with the page.
FOCUS_ERRORS_JS = ("setTimeout(() => { const e = document.getElementById('error-summary'); "
                   "if (e) { e.focus(); e.scrollIntoView({block: 'start'}); "
                   "if (!document.title.startsWith('Error: ')) document.title = 'Error: ' + document.title; } }, 60)")
FOCUS_ALREADY_BOOKED_JS = ("setTimeout(() => { document.title = document.title.replace(/^Error: /, ''); "
                           "const e = document.getElementById('already-booked'); "
                           "if (e) { e.focus(); e.scrollIntoView({block: 'start'}); } }, 60)")


# --- formatting ------------------------------------------------------------------------------------------------


def long_date(dt: datetime | date) -> str:
    """``Tuesday 3 December 2026`` / ``dydd Mawrth 3 Rhagfyr 2026``, in the current language."""
    return i18n.long_date(dt)


def clock(dt: datetime) -> str:
    return i18n.clock(dt)


def end_time(starts_at: datetime, ends_at: datetime) -> str:
    """The end of something that started at ``starts_at``: "midnight" (not "00:00") for an end at the next day's
    start, "(next day)" after a later end, in the current language."""
    said = end_clock(starts_at, ends_at)
    if said == "midnight":
        return _("midnight")
    if said.endswith("(next day)"):
        return _("{time} (next day)").format(time=clock(ends_at))
    return clock(ends_at)


def session_text(starts_at: datetime, ends_at: datetime) -> str:
    return _("{date}, {start} to {end}").format(date=long_date(starts_at), start=clock(starts_at),
                                                 end=end_time(starts_at, ends_at))


# How a current booking's payment state (``payments.payment_state``, the rule staff pages show) reads to a client.
BOOKED_TEXT = {
    "paid": N_("booked and paid"),
    "waived": N_("booked (the fee is waived)"),
    "part_paid": N_("booked and part-paid"),
    "awaiting_payment": N_("booked, waiting for payment"),
    "overdue": N_("booked, but the payment is overdue"),
    "refunded": N_("booked; a payment was refunded"),
}


def booked_text(state: str) -> str:
    return _(BOOKED_TEXT.get(state, N_("booked")))


def payment_text(summary) -> str:
    """The sentence about paying for a booking, from its ``payments.PaymentSummary``."""
    due = summary.payment_due_at
    by = _(" by {date} at {time}").format(date=long_date(due), time=clock(due)) if due is not None else ""
    if summary.state == "paid":
        return _("Paid.")
    if summary.state == "waived":
        return _("The fee has been waived: there is nothing to pay.")
    still = _("{amount} is still to pay").format(amount=pounds(summary.outstanding_pence))
    paid = pounds(summary.paid_pence)
    if summary.state == "part_paid":
        if summary.plan_active:
            nxt = f". {summary.due_text}" if summary.due_text else ""
            return _("Part-paid: {paid} paid; {still} on your payment plan{next}.").format(
                paid=paid, still=still, next=nxt)
        return _("Part-paid: {paid} paid; {still}{by}.").format(paid=paid, still=still, by=by)
    if summary.state == "overdue":
        return _("The payment is overdue: {still}. Please pay now or telephone us, or the place may be "
                 "released.").format(still=still)
    if summary.state == "refunded":
        return _("{amount} was refunded to you.").format(amount=pounds(summary.refunded_pence))
    if summary.plan_active and summary.due_text:
        return _("Not paid yet: {still}. {due}.").format(still=still, due=summary.due_text)
    return _("Not paid yet. The fee must be paid{by}.").format(by=by) if by else _("Not paid yet.")


def dates_available(count: int) -> str:
    return _("1 date available") if count == 1 else _("{count} dates available").format(count=count)


def seats_text(free: int) -> str:
    return _("1 place left") if free == 1 else _("{count} places left").format(count=free)


def mask_email(email: str) -> str:
    name, _, domain = (email or "").partition("@")
    if not name or not domain:
        return ""
    return f"{name[:2]}{'*' * max(3, len(name) - 2)}@{domain}"


def parse_date_of_birth(day: Any, month: Any, year: Any, errors: dict[str, str]) -> date | None:
    """Three boxes (GOV.UK pattern); adds a message to ``errors['dob']`` when they are not a real past date."""
    parts = [str(x or "").strip() for x in (day, month, year)]
    if not all(parts):
        errors["dob"] = _("Enter your date of birth, for example 14 3 1985.") if not any(parts) else \
            _("Your date of birth must include a day, a month and a year.")
        return None
    if not all(re.fullmatch(r"\d{1,4}", p) for p in parts) or len(parts[2]) != 4:
        errors["dob"] = _("Date of birth must be a real date, with the year as 4 digits, for example 14 3 1985.")
        return None
    try:
        value = date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        errors["dob"] = _("Date of birth must be a real date, for example 14 3 1985.")
        return None
    today = utcnow().astimezone(LONDON).date()
    if value >= today or value.year < 1900:
        errors["dob"] = _("Date of birth must be in the past.")
        return None
    return value


def check_postcode(value: Any, errors: dict[str, str]) -> str:
    text = str(value or "").strip()[:12]
    if not text:
        errors["postcode"] = _("Enter your postcode.")
        return ""
    try:
        return normalise_postcode(text)
    except ValidationFailed:
        errors["postcode"] = _("Enter a real postcode, for example TS24 7QS.")
        return ""


# --- the hold countdown ----------------------------------------------------------------------------------------

COUNTDOWN_JS = r"""
function atlasHoldText(texts, key, fallback) {
  return (texts && texts[key]) || fallback;
}
function atlasHoldClock(secs, texts) {
  const m = Math.floor(secs / 60), s = secs % 60;
  return atlasHoldText(texts, "clock", "{m} min {s} s").replace("{m}", m).replace("{s}", (s < 10 ? "0" : "") + s);
}
function atlasHoldSay(mark, texts) {
  if (mark === 0) return atlasHoldText(texts, "ended", "Your seat hold has ended and the seat has been freed. Choose a date again to book.");
  if (mark < 60) return atlasHoldText(texts, "seconds", "{n} seconds left to finish your booking before the seat is freed.").replace("{n}", mark);
  const m = mark / 60;
  return atlasHoldText(texts, m === 1 ? "minute" : "minutes", "{n} minutes left to finish your booking before the seat is freed.").replace("{n}", m);
}
function AtlasHoldCountdown({expiresAt, onExpire, onWarn, id, texts}) {
  const end = Date.parse(expiresAt || "");
  const [now, setNow] = useState(() => Date.now());
  const [said, setSaid] = useState("");
  const level = useRef(undefined);
  const fired = useRef(false);
  const warned = useRef(false);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = isNaN(end) ? 0 : Math.max(0, Math.ceil((end - now) / 1000));
  useEffect(() => {
    if (isNaN(end)) return;
    // Announce only when a threshold is crossed, never every second.
    const mark = [0, 30, 60, 120, 300, 600].find((m) => left <= m);
    if (level.current === undefined) {
      level.current = mark === undefined ? null : mark;
    } else if (mark !== undefined && mark !== level.current) {
      level.current = mark;
      setSaid(atlasHoldSay(mark, texts));
    }
    // Two minutes before the end, once: the page offers more time (WCAG 2.2.1).
    if (left > 0 && left <= 120 && !warned.current) {
      warned.current = true;
      if (onWarn) onWarn();
    }
    if (left === 0 && !fired.current) {
      fired.current = true;
      if (onExpire) onExpire();
    }
  }, [left, end]);
  return createElement("div", {id: id, className: "atlas-hold-countdown"},
    createElement("p", {style: {margin: 0}},
      atlasHoldText(texts, "left", "Time left: "),
      createElement("strong", {role: "timer", "aria-live": "off", "aria-atomic": "true",
                               style: {fontVariantNumeric: "tabular-nums"}},
                    left > 0 ? atlasHoldClock(left, texts) : atlasHoldText(texts, "none", "none, the hold has ended"))),
    createElement("p", {className: "sr-only", "aria-live": "polite", "aria-atomic": "true"}, said));
}
"""


class HoldCountdown(rx.Component):
    """A client-side countdown to ``expires_at`` (ISO 8601). Screen readers hear it at 10, 5, 2 and 1 minutes,
    30 seconds and at the end (a polite live region), not every second. ``on_expire`` fires once at zero."""

    tag = "AtlasHoldCountdown"
    library = None

    expires_at: rx.Var[str]
    # The words, in the page's language (see hold_texts).
    texts: rx.Var[dict]
    on_expire: rx.EventHandler[rx.event.no_args_event_spec]
    on_warn: rx.EventHandler[rx.event.no_args_event_spec]

    def add_imports(self) -> dict:
        return {"react": [ImportVar(tag="useEffect"), ImportVar(tag="useState"), ImportVar(tag="useRef"),
                          ImportVar(tag="createElement")]}

    def add_custom_code(self) -> list[str]:
        return [COUNTDOWN_JS]


hold_countdown = HoldCountdown.create


def hold_texts() -> dict[str, str]:
    """The countdown's words in the current language ({m}, {s}, {n} are filled in by the browser)."""
    return {
        "clock": _("{m} min {s} s"),
        "left": _("Time left: "),
        "none": _("none, the hold has ended"),
        "ended": _("Your seat hold has ended and the seat has been freed. Choose a date again to book."),
        "seconds": _("{n} seconds left to finish your booking before the seat is freed."),
        "minute": _("1 minute left to finish your booking before the seat is freed."),
        "minutes": _("{n} minutes left to finish your booking before the seat is freed."),
    }


# --- the state -------------------------------------------------------------------------------------------------


@public
class BookingWizardState(rx.State):
    # Display strings for the client in this tab. Never ids the server relies on.
    error: str = ""
    errors: dict[str, str] = {}
    error_fields: list[dict[str, str]] = []
    offer_reference: str = ""
    course_text: str = ""
    organisation_name: str = ""
    critical_date_text: str = ""
    fee_text: str = ""
    existing_reference: str = ""
    existing_text: str = ""
    existing_status: str = ""
    modes: list[dict[str, str]] = []
    venues: list[dict[str, str]] = []
    sessions: list[dict[str, str]] = []
    sessions_more: bool = False
    mode: str = ""
    mode_label: str = ""
    venue_id: str = ""
    venue_text: str = ""
    venue_address: str = ""
    session_id: str = ""
    session_label: str = ""
    hold_expires_iso: str = ""
    hold_until_text: str = ""
    hold_minutes: int = 15
    change_terms_text: str = ""
    # The organisation's own booking terms, in the page's language ("" for none).
    conditions_text: str = ""
    late_warning: str = ""
    hold_expired: bool = False
    hold_warning: bool = False
    hold_notice: str = ""
    needs_answered: bool = False
    interpreter: str = ""
    interpreter_language: str = ""
    accessibility: str = ""
    language: str = ""
    other_needs: str = ""
    done_reference: str = ""
    done_session: str = ""
    done_where: str = ""
    done_fee: str = ""
    done_due: str = ""
    done_email: str = ""
    pay_error: str = ""
    paying: bool = False
    demo_payments: bool = False

    # Server-side only.
    _org_id: int = 0
    _offer_id: int = 0
    # The booking just made, so the client can pay for it from the confirmation page.
    _paying_org_id: int = 0
    _paying_offer_id: int = 0
    _mode_options: list[str] = []
    _venue_options: list[int] = []
    _session_options: list[int] = []
    _mode: str = ""
    _venue_id: int = 0
    _session_id: int = 0
    _hold_reference: str = ""
    _hold_expires_at: datetime | None = None
    _needs: dict[str, Any] = {}
    _email: str = ""
    _change_cutoff_hours: int = 72

    # --- helpers (not callable from the browser) ---

    def _clear_errors(self) -> None:
        self.error = ""
        self.errors = {}
        self.error_fields = []

    def _fail(self, errors: dict[str, str], order: list[tuple[str, str]], message: str = ""):
        """Show an error summary (linking to each field) and inline errors, and move focus to the summary."""
        self.errors = dict(errors)
        self.error_fields = [{"href": "#" + target, "message": errors[key]} for key, target in order if key in errors]
        self.error = message
        return rx.call_script(FOCUS_ERRORS_JS)

    async def _release_hold(self) -> None:
        """Let a seat this tab is holding go straight away, rather than at the end of the hold."""
        if self._hold_reference and self._org_id and self._offer_id:
            try:
                current = await asyncio.to_thread(offers_service.booking_for_client, self._org_id, self._offer_id,
                                                  self._hold_reference)
                # Only a seat still merely held is let go; never a booking.
                if current.reference == self._hold_reference and current.status == BookingStatus.HELD:
                    await asyncio.to_thread(booking_service.cancel, self._org_id, self._hold_reference,
                                            client=booking_service.ClientProof(self._org_id, self._offer_id),
                                            reason="The client started again.")
            except AtlasError:
                pass  # already expired or released: nothing to give back
        self._hold_reference = ""
        self._hold_expires_at = None

    def _hold_has_run_out(self) -> bool:
        return self._hold_expires_at is not None and utcnow() >= self._hold_expires_at

    def _guard(self, step: str) -> str | None:
        """Where to send a browser that reached ``step`` without the answers it needs (reload, direct visit)."""
        if not self._offer_id or not self._org_id:
            return to("/book")
        if step in ("where", "when", "needs", "check") and not self._mode:
            return to("/book/how")
        if step == "where" and self._mode == "online":
            return to("/book/when")
        if step in ("when", "needs", "check") and self._mode != "online" and not self._venue_id:
            return to("/book/where")
        if step in ("needs", "check") and not self._hold_reference:
            return to("/book/when")
        if step == "check" and not self.needs_answered:
            return to("/book/needs")
        return None

    def _on_step(self, step: str):
        self._clear_errors()
        target = self._guard(step)
        if target:
            return rx.redirect(target)
        return None

    # --- step 1: find your offer ---

    @rx.event
    async def start(self):
        """Every visit to the first step starts again: a held seat is let go and every answer forgotten."""
        await self._release_hold()
        self.reset()

    @rx.event
    async def find(self, form: dict):
        await self._release_hold()
        self.reset()
        form = form if isinstance(form, dict) else {}
        errors: dict[str, str] = {}
        reference = str(form.get("reference") or "").strip()[:40]
        if not reference:
            errors["reference"] = _("Enter your offer reference.")
        dob = parse_date_of_birth(form.get("dob_day"), form.get("dob_month"), form.get("dob_year"), errors)
        postcode = check_postcode(form.get("postcode"), errors)
        # The language we write to the client in (asked here; the radio starts on the page's language).
        writing = str(form.get("correspondence") or "")
        if writing and writing not in ("en", "cy"):
            errors["correspondence"] = _("Select the language we should write to you in.")
        order = [("reference", "f-reference"), ("dob", "f-dob-day"), ("postcode", "f-postcode"),
                 ("correspondence", "correspondence-en")]
        if errors:
            return self._fail(errors, order)
        try:
            view = await asyncio.to_thread(offers_service.find_offer, reference, dob, postcode,
                                         client_ip(self))
        except ValidationFailed as exc:
            return self._fail({}, [], _(str(exc)))
        if view.active_booking_reference:
            existing = await asyncio.to_thread(offers_service.booking_for_client, view.organisation_id, view.id,
                                               view.active_booking_reference)
            if existing.status != BookingStatus.HELD:
                self.existing_reference = existing.reference
                self.existing_text = session_text(existing.starts_at, existing.ends_at) + ", " + (
                    existing.venue_name if existing.delivery_mode != "online" else _("online"))
                summary = await asyncio.to_thread(
                    payments_service.client_payment_summary,
                    booking_service.ClientProof(view.organisation_id, view.id), existing.reference)
                self.existing_status = booked_text(summary.state)
                self.offer_reference = view.offer_reference
                return rx.call_script(FOCUS_ALREADY_BOOKED_JS)
            # A seat this offer is holding (in another tab, say) is let go when a session is chosen here.
        if writing:
            await asyncio.to_thread(offers_service.set_client_language, writing,
                                    proof=booking_service.ClientProof(view.organisation_id, view.id))
        counts = await asyncio.to_thread(offers_service.delivery_modes_available, view.organisation_id, view.id)
        await follow_organisation(self, view.welsh_enabled)  # then English on, if it offers no Welsh
        self._org_id = view.organisation_id
        self._offer_id = view.id
        self._email = view.client_email
        self.offer_reference = view.offer_reference
        self.course_text = f"{view.course_name} ({view.course_code})"
        self.organisation_name = view.organisation_name
        self.critical_date_text = long_date(view.critical_date)
        self.fee_text = pounds(view.fee_pence)
        self._set_modes(counts)
        terms = await asyncio.to_thread(self_service.client_terms, view.organisation_id)
        self._change_cutoff_hours = max(terms.transfer_cutoff_hours, terms.cancel_cutoff_hours)
        self.change_terms_text = _(
            "After booking, you can move the booking to another date online up to {move} hours before the "
            "course, and cancel it online up to {cancel} hours before. After that, please telephone us."
        ).format(move=terms.transfer_cutoff_hours, cancel=terms.cancel_cutoff_hours)
        self.conditions_text = terms.conditions
        if not self._mode_options:  # nothing bookable before the critical date: offer the waiting list
            return rx.redirect(to("/book/waiting-list"))
        return rx.redirect(to("/book/how"))

    def _set_modes(self, counts: dict[str, int]) -> None:
        order = [m for m in ("classroom", "online", "practical") if m in counts] + \
                sorted(m for m in counts if m not in MODE_LABELS)
        self._mode_options = [m for m in order if counts.get(m, 0) > 0]
        self.modes = [
            {"value": m, "label": _(MODE_LABELS.get(m, m.capitalize())), "hint": _(MODE_HINTS.get(m, "")),
             "count": dates_available(counts[m])}
            for m in self._mode_options
        ]

    # --- step 2: how ---

    @rx.event
    async def load_how(self):
        redirect = self._on_step("how")
        if redirect:
            return redirect
        counts = await asyncio.to_thread(offers_service.delivery_modes_available, self._org_id, self._offer_id)
        self._set_modes(counts)
        if self._mode and self._mode not in self._mode_options:
            self.mode = ""
        if not self._mode_options:
            self.error = _("There are no courses left that you can book before your critical date. Please "
                           "telephone us.")
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def choose_mode(self, form: dict):
        self._clear_errors()
        if self._guard("how"):
            return rx.redirect(to("/book"))
        value = str((form or {}).get("mode") or "") if isinstance(form, dict) else ""
        if value not in self._mode_options:
            return self._fail({"mode": _("Select how you would like to attend the course.")},
                              [("mode", f"mode-{self._mode_options[0]}" if self._mode_options else "main")])
        if value != self._mode:
            await self._release_hold()
            self._venue_id, self.venue_id, self.venue_text, self.venue_address = 0, "", "", ""
            self._session_id, self.session_id, self.session_label = 0, "", ""
            self.hold_expires_iso, self.hold_until_text, self.hold_expired = "", "", False
        self._mode = value
        self.mode = value
        self.mode_label = _(MODE_LABELS.get(value, value.capitalize()))
        return rx.redirect(to("/book/when" if value == "online" else "/book/where"))

    # --- step 3: where ---

    @rx.event
    async def load_where(self):
        redirect = self._on_step("where")
        if redirect:
            return redirect
        choices = await asyncio.to_thread(offers_service.venue_choices, self._org_id, self._offer_id, self._mode)
        self._venue_options = [c.id for c in choices]
        self.venues = [
            {"id": str(c.id), "name": c.name, "address": ", ".join(x for x in (c.address, c.postcode) if x),
             "notes": c.accessibility_notes or _("No accessibility information has been given for this venue."),
             "count": dates_available(c.sessions_available)}
            for c in choices
        ]
        if not choices:
            self.error = _("There are no dates left at any venue for this kind of course. Choose another way to "
                           "attend.")
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def choose_venue(self, form: dict):
        self._clear_errors()
        if self._guard("where"):
            return rx.redirect(self._guard("where"))  # already in the client's language
        raw = str((form or {}).get("venue") or "") if isinstance(form, dict) else ""
        venue_id = int(raw) if raw.isdigit() else 0
        if venue_id not in self._venue_options:
            first = f"venue-{self._venue_options[0]}" if self._venue_options else "main"
            return self._fail({"venue": _("Select a venue.")}, [("venue", first)])
        if venue_id != self._venue_id:
            await self._release_hold()
            self._session_id, self.session_id, self.session_label = 0, "", ""
            self.hold_expires_iso, self.hold_until_text, self.hold_expired = "", "", False
        self._venue_id = venue_id
        self.venue_id = str(venue_id)
        chosen = next((v for v in self.venues if v["id"] == str(venue_id)), None)
        self.venue_text = chosen["name"] if chosen else ""
        self.venue_address = chosen["address"] if chosen else ""
        return rx.redirect(to("/book/when"))

    # --- step 4: when (choosing holds the seat) ---

    async def _load_sessions(self) -> None:
        rows = await asyncio.to_thread(offers_service.session_choices, self._org_id, self._offer_id, self._mode,
                                       self._venue_id or None)
        rows = [r for r in rows if r.free > 0]
        self.sessions_more = len(rows) > SESSION_LIMIT
        rows = rows[:SESSION_LIMIT]
        self._session_options = [r.id for r in rows]
        self.sessions = [
            {"id": str(r.id), "date": long_date(r.starts_at),
             "time": _("{start} to {end}").format(start=clock(r.starts_at), end=end_time(r.starts_at, r.ends_at)),
             "seats": seats_text(r.free)}
            for r in rows
        ]

    @rx.event
    async def load_when(self):
        redirect = self._on_step("when")
        if redirect:
            return redirect
        await self._load_sessions()
        if self.hold_expired or self._hold_has_run_out():
            self.hold_expired = False
            self._hold_reference = ""
            self._hold_expires_at = None
            self.hold_expires_iso = ""
            self.session_id = ""
            self.error = _("Your seat hold ran out, so the seat was freed. Choose a date again.")
        if not self.sessions:
            self.error = _("There are no dates left online before your critical date. Choose another way to "
                           "attend.") if self._mode == "online" else \
                _("There are no dates left at this venue before your critical date. Choose another venue or way "
                  "to attend.")
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def choose_session(self, form: dict):
        self._clear_errors()
        target = self._guard("when")
        if target:
            return rx.redirect(target)
        raw = str((form or {}).get("session") or "") if isinstance(form, dict) else ""
        session_id = int(raw) if raw.isdigit() else 0
        if session_id not in self._session_options:
            first = f"session-{self._session_options[0]}" if self._session_options else "main"
            return self._fail({"session": _("Select a date and time.")}, [("session", first)])
        try:
            view = await asyncio.to_thread(booking_service.hold_seat, self._org_id, self._offer_id, session_id,
                                           self._needs)
        except booking_service.SessionFull as exc:
            await self._load_sessions()
            return self._fail({}, [], _(str(exc)))
        except AtlasError as exc:
            return self._fail({}, [], _(str(exc)))
        self._session_id = session_id
        self.session_id = str(session_id)
        self.session_label = session_text(view.starts_at, view.ends_at)
        self._hold_reference = view.reference
        self._hold_expires_at = view.hold_expires_at
        self.hold_expired = False
        self.hold_warning, self.hold_notice = False, ""
        hours_away = (view.starts_at - utcnow()).total_seconds() / 3600
        self.late_warning = (
            _("This course starts in less than {hours} hours, so once it is booked you cannot move or cancel it "
              "online.").format(hours=self._change_cutoff_hours) if hours_away < self._change_cutoff_hours else "")
        if view.hold_expires_at is not None:
            self.hold_expires_iso = view.hold_expires_at.isoformat()
            self.hold_until_text = clock(view.hold_expires_at)
            self.hold_minutes = max(1, round((view.hold_expires_at - utcnow()).total_seconds() / 60))
        return rx.redirect(to("/book/needs"))

    @rx.event
    def hold_nearly_over(self):
        """The countdown reached two minutes in the browser: offer more time, if the server's clock agrees."""
        if self._hold_expires_at is not None and self._hold_reference and \
                utcnow() + HOLD_WARNING + CLOCK_SLACK >= self._hold_expires_at > utcnow():
            self.hold_warning = True

    @rx.event
    async def extend_hold(self):
        """"Give me more time": the booking service moves this tab's own hold on by the organisation's hold length
        (it refuses past the limit, or once the hold has ended). Nothing from the browser names the hold."""
        if not (self._hold_reference and self._org_id and self._offer_id) or self.hold_expired:
            return
        try:
            ext = await asyncio.to_thread(booking_service.extend_hold, self._org_id, self._hold_reference,
                                          client=booking_service.ClientProof(self._org_id, self._offer_id))
        except AtlasError as exc:
            self.hold_notice = _(str(exc))
            return
        self._hold_expires_at = ext.hold_expires_at
        self.hold_expires_iso = ext.hold_expires_at.isoformat()
        self.hold_until_text = clock(ext.hold_expires_at)
        self.hold_warning = False
        self.hold_notice = _("We will hold your place until {time}. You can ask for more time {count} more "
                             "times.").format(time=self.hold_until_text, count=ext.extensions_left) \
            if ext.extensions_left else \
            _("We will hold your place until {time}. You cannot ask for more time again.").format(
                time=self.hold_until_text)

    @rx.event
    def hold_ran_out(self):
        """The countdown reached zero in the browser. Believed only if the server's clock agrees."""
        if self._hold_expires_at is not None and utcnow() + CLOCK_SLACK >= self._hold_expires_at:
            self.hold_expired = True

    # --- step 5: needs ---

    @rx.event
    def load_needs(self):
        redirect = self._on_step("needs")
        if redirect:
            return redirect
        if self._hold_has_run_out():
            self.hold_expired = True
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    def save_needs(self, form: dict):
        self._clear_errors()
        target = self._guard("needs")
        if target:
            return rx.redirect(target)
        form = form if isinstance(form, dict) else {}
        interpreter = str(form.get("interpreter") or "")
        language_needed = str(form.get("interpreter_language") or "").strip()[:100]
        accessibility = str(form.get("accessibility") or "").strip()[:300]
        course_language = str(form.get("language") or "")
        other = str(form.get("other") or "").strip()[:300]
        errors: dict[str, str] = {}
        if interpreter not in ("yes", "no"):
            errors["interpreter"] = _("Select yes if you need an interpreter, or no if you do not.")
        elif interpreter == "yes" and not language_needed:
            errors["interpreter_language"] = _("Enter the language you need an interpreter for.")
        if course_language not in ("English", "Welsh"):
            errors["language"] = _("Select the language you would like the course in.")
        # Keep what was typed, so nothing is lost when there is a problem.
        self.interpreter = interpreter if interpreter in ("yes", "no") else ""
        self.interpreter_language = language_needed if interpreter == "yes" else ""
        self.accessibility = accessibility
        self.language = course_language if course_language in ("English", "Welsh") else ""
        self.other_needs = other
        if errors:
            return self._fail(errors, [("interpreter", "interpreter-yes"),
                                       ("interpreter_language", "f-interpreter-language"),
                                       ("language", "language-English")])
        self._needs = booking_service.clean_needs({
            "interpreter": interpreter == "yes",
            "interpreter_language": self.interpreter_language,
            "accessibility": accessibility,
            "language": course_language,
            "other": other,
        })
        self.needs_answered = True
        return rx.redirect(to("/book/check"))

    # --- step 6: check and book ---

    @rx.event
    def load_check(self):
        redirect = self._on_step("check")
        if redirect:
            return redirect
        if self._hold_has_run_out():
            self.hold_expired = True
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def book(self):
        self._clear_errors()
        target = self._guard("check")
        if target:
            return rx.redirect(target)
        if self._hold_has_run_out():
            self.hold_expired = True
            return self._fail({}, [], _("Your seat hold ran out, so the seat was freed. Choose a date again."))
        try:
            view = await asyncio.to_thread(booking_service.confirm_hold, self._org_id, self._offer_id,
                                           self._hold_reference, self._needs)
        except AtlasError as exc:
            return self._fail({}, [], _(str(exc)))
        email = self._email
        org_id, offer_id = self._org_id, self._offer_id
        self.reset()
        self._paying_org_id, self._paying_offer_id = org_id, offer_id
        self.demo_payments = await asyncio.to_thread(checkout.provider_for, org_id) == "demo"
        self.done_reference = view.reference
        self.done_session = session_text(view.starts_at, view.ends_at)
        self.done_where = _("Online, by live video") if view.delivery_mode == "online" else \
            f"{view.venue_name}, {view.venue_address}"
        self.done_fee = pounds(view.fee_pence)
        self.done_due = _("{date} at {time}").format(date=long_date(view.payment_due_at),
                                                     time=clock(view.payment_due_at)) \
            if view.payment_due_at else _("before the course")
        self.done_email = mask_email(email)
        return rx.redirect(to("/book/done"))

    @rx.event
    def load_done(self):
        if not self.done_reference:
            return rx.redirect(to("/book"))
        return rx.call_script(FOCUS_HEADING_JS)

    @rx.event
    async def pay_now(self):
        """Pay for the booking just made: to Stripe's page, or the demo card page when Stripe is not set up."""
        if self.paying:
            return
        self.pay_error = ""
        if not (self.done_reference and self._paying_org_id and self._paying_offer_id):
            yield rx.redirect(to("/book"))
            return
        self.paying = True
        yield
        try:
            start = await asyncio.to_thread(checkout.start_checkout, self._paying_org_id, self._paying_offer_id,
                                            self.done_reference, to(checkout.DEFAULT_SUCCESS_PATH),
                                            to("/book/done"))
        except AtlasError as exc:
            self.pay_error = _(str(exc))
            self.paying = False
            return
        # The card page opens in this tab (a new tab looks like nothing happened and phone browsers may block it).
        # The demo card page is this site's own: open it in the client's language (Stripe's page is Stripe's).
        yield rx.redirect(to(start.url) if start.url.startswith("/") else start.url)

    # --- what the pages show ---

    @rx.var
    def steps_total(self) -> int:
        return 5 if self.mode == "online" else 6

    @rx.var
    def step_when(self) -> int:
        return 3 if self.mode == "online" else 4

    @rx.var
    def step_needs(self) -> int:
        return 4 if self.mode == "online" else 5

    @rx.var
    def step_check(self) -> int:
        return 5 if self.mode == "online" else 6

    @rx.var
    def hold_minutes_text(self) -> str:
        return _("1 minute") if self.hold_minutes == 1 else _("{count} minutes").format(count=self.hold_minutes)

    @rx.var
    def needs_interpreter_text(self) -> str:
        if self.interpreter == "yes":
            return _("Yes, {language}").format(language=self.interpreter_language)
        return _("No") if self.interpreter == "no" else ""


S = BookingWizardState


# --- building blocks -------------------------------------------------------------------------------------------


def focus_style() -> dict:
    return {"&:focus-visible": {"outline": "3px solid var(--accent-9)", "outline_offset": "2px"}}


def step_indicator(number: Any, total: Any) -> rx.Component:
    return rx.text(*interpolate(_("Step {number} of {total}"), number=number, total=total), size="2", color_scheme="gray", weight="medium",
                   id="step-indicator")


def step_heading(text: str) -> rx.Component:
    return rx.heading(text, size="7", as_="h1", id="step-heading", tab_index=-1,
                      style={"outline": "none", "scroll_margin_top": "1em"})


def back_link(href: Any, label: str | None = None) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("chevron-left", size=16, aria_hidden="true"), rx.text(label or _("Back")), spacing="1",
                  align="center"),
        href=href,
        style={"display": "inline-flex", "min_height": "44px", "align_items": "center", **focus_style()},
    )


def error_summary(state: type[rx.State]) -> rx.Component:
    """GOV.UK-style error summary: a heading, then a link to each field with a problem."""
    return rx.cond(
        (state.error != "") | (state.error_fields.length() > 0),
        rx.box(
            rx.heading(_("There is a problem"), size="4", as_="h2", margin_bottom="0.4em"),
            rx.cond(state.error != "", rx.text(state.error, id="error-message")),
            rx.el.ul(
                rx.foreach(
                    state.error_fields,
                    lambda f: rx.el.li(rx.el.a(f["message"], href=f["href"],
                                               style={"color": "var(--red-11)", "font_weight": "600",
                                                      "text_decoration": "underline", **focus_style()})),
                ),
                style={"margin": "0.4em 0 0 1.2em", "padding": "0"},
            ),
            id="error-summary",
            role="alert",
            tab_index=-1,
            style={"border": "4px solid var(--red-9)", "padding": "1em", "border_radius": "var(--radius-2)",
                   "background": "var(--color-background)", **focus_style()},
        ),
    )


def inline_error(state: type[rx.State], key: str, error_id: str) -> rx.Component:
    return rx.cond(
        state.errors.contains(key),
        rx.text(rx.el.span(_("Error: "), class_name="sr-only"), state.errors.get(key, ""), id=error_id,
                color_scheme="red", weight="bold", size="2"),
    )


def text_input(state: type[rx.State], label: str, name: str, *, error_key: str | None = None,
               hint: str | None = None, input_id: str | None = None, width: str = "100%",
               **props) -> rx.Component:
    """A labelled text box with an optional hint and inline error, both tied to it with aria-describedby."""
    fid = input_id or f"f-{name}"
    key = error_key or name
    has_error = state.errors.contains(key)
    described = [f"{fid}-hint"] if hint else []
    return rx.vstack(
        rx.el.label(label, html_for=fid, style={"font_weight": "600"}),
        rx.text(hint, id=f"{fid}-hint", size="2", color_scheme="gray") if hint else rx.fragment(),
        inline_error(state, key, f"{fid}-error"),
        rx.el.input(
            id=fid,
            name=name,
            type="text",
            aria_invalid=rx.cond(has_error, "true", "false"),
            aria_describedby=rx.cond(has_error, " ".join([*described, f"{fid}-error"]), " ".join(described)),
            style=input_style(has_error, width),
            **props,
        ),
        spacing="1",
        width="100%",
        align_items="stretch",
    )


def input_style(has_error: Any, width: str = "100%") -> dict:
    return {
        "width": width,
        "max_width": "100%",
        "min_height": "44px",
        "padding": "0.5em 0.6em",
        "font_size": "1.05em",
        "border": rx.cond(has_error, "3px solid var(--red-9)", "2px solid var(--gray-9)"),
        "border_radius": "var(--radius-2)",
        "background": "var(--color-background)",
        "color": "var(--gray-12)",
        **focus_style(),
    }


def radio_option(name: str, value: Any, option_id: Any, checked: Any, *children: rx.Component,
                 described_by: Any = None) -> rx.Component:
    """One radio button in a large card (the whole card is the label, at least 44px high). Checked is shown by
    the radio's own dot and a thicker border, not by colour alone."""
    extra = {"aria_describedby": described_by} if described_by is not None else {}
    return rx.el.label(
        rx.el.input(type="radio", name=name, value=value, id=option_id, default_checked=checked,
                    style={"width": "1.4em", "height": "1.4em", "margin": "0.15em 0 0 0", "flex_shrink": "0",
                           "accent_color": "var(--accent-9)", "cursor": "pointer"},
                    **extra),
        rx.box(*children, style={"flex": "1", "min_width": "0"}),
        html_for=option_id,
        style={
            "display": "flex",
            "gap": "0.75em",
            "align_items": "flex-start",
            "padding": "0.75em 0.9em",
            "min_height": "44px",
            "border": "2px solid var(--gray-7)",
            "border_radius": "var(--radius-3)",
            "cursor": "pointer",
            "background": "var(--color-background)",
            "&:has(input:checked)": {"border": "4px solid var(--accent-9)", "padding": "calc(0.75em - 2px) "
                                     "calc(0.9em - 2px)", "background": "var(--accent-2)"},
            "&:has(input:focus-visible)": {"outline": "3px solid var(--accent-9)", "outline_offset": "2px"},
            "&:hover": {"border_color": "var(--gray-9)"},
        },
    )


def radio_group(state: type[rx.State], legend: rx.Component, key: str, *options: rx.Component,
                hint: str | None = None) -> rx.Component:
    error_id = f"{key}-error"
    hint_id = f"{key}-hint"
    described = rx.cond(state.errors.contains(key), f"{hint_id} {error_id}" if hint else error_id,
                        hint_id if hint else "")
    return rx.el.fieldset(
        rx.el.legend(legend, style={"padding": "0", "margin_bottom": "0.5em"}),
        rx.text(hint, id=hint_id, color_scheme="gray", margin_bottom="0.5em") if hint else rx.fragment(),
        inline_error(state, key, error_id),
        rx.vstack(*options, spacing="3", width="100%", align_items="stretch", margin_top="0.5em"),
        aria_describedby=described,
        style={"border": "none", "padding": "0", "margin": "0", "min_width": "0"},
    )


def continue_button(label: str | None = None, button_id: str = "continue") -> rx.Component:
    return rx.button(label or _("Continue"), type="submit", size="3", id=button_id,
                     style={"min_height": "48px", "width": "100%", "max_width": "20em", "font_weight": "600",
                            "cursor": "pointer", **focus_style()})


def offer_summary() -> rx.Component:
    return rx.box(
        rx.text(rx.text.strong(S.course_text), size="2"),
        rx.text(*interpolate(_("Offer {reference}. Book a course that ends on or before {date}."),
                             reference=S.offer_reference, date=rx.text.strong(S.critical_date_text)), size="2"),
        style={"border_left": "4px solid var(--accent-9)", "padding": "0.25em 0 0.25em 0.75em"},
    )


def hold_panel() -> rx.Component:
    """The seat hold: when it ends, a live countdown, and what happens if it runs out."""
    return rx.cond(
        S.hold_expired,
        rx.box(
            rx.heading(_("Your seat hold has ended"), size="4", as_="h2"),
            rx.text(*interpolate(_("We held your seat for {minutes}. The hold ran out, so the seat was freed for "
                                   "someone else. You have not been booked."), minutes=S.hold_minutes_text)),
            rx.link(_("Choose a date again"), href=to("/book/when"), id="choose-again",
                    style={"display": "inline-flex", "min_height": "44px", "align_items": "center",
                           "font_weight": "600", **focus_style()}),
            id="hold-expired",
            role="alert",
            style={"border": "4px solid var(--red-9)", "padding": "1em", "border_radius": "var(--radius-2)"},
        ),
        rx.cond(
            S.hold_expires_iso != "",
            rx.box(
                rx.text(rx.text.strong(*interpolate(_("We are holding a place for you until {time}."),
                                                    time=S.hold_until_text))),
                hold_countdown(expires_at=S.hold_expires_iso, on_expire=S.hold_ran_out, on_warn=S.hold_nearly_over,
                               id="hold-countdown", texts=hold_texts(),
                               key=S.hold_expires_iso),
                rx.text(_("If you do not finish booking by then, the hold ends and the place is freed for "
                          "someone else. You can then choose a date again."), size="2"),
                # Always on the page, so what appears in it is announced once (not the countdown's every second).
                rx.box(
                    rx.cond(
                        S.hold_warning,
                        rx.vstack(
                            rx.text(rx.text.strong(_("Your place is held for less than 2 more minutes.")),
                                    " ", _("Do you need more time to finish booking?")),
                            rx.button(_("Give me more time"), on_click=S.extend_hold, id="more-time", size="3",
                                      type="button",
                                      style={"min_height": "44px", "font_weight": "600", **focus_style()}),
                            spacing="2", align_items="start", id="hold-warning",
                            style={"border_left": "4px solid var(--amber-9)", "padding_left": "0.75em",
                                   "margin_top": "0.5em"},
                        ),
                    ),
                    rx.cond(S.hold_notice != "", rx.text(S.hold_notice, id="hold-notice", size="2",
                                                         weight="medium", margin_top="0.5em")),
                    aria_live="polite",
                    id="hold-live",
                ),
                id="hold-panel",
                style={"border": "2px solid var(--accent-9)", "background": "var(--accent-2)", "padding": "0.75em 1em",
                       "border_radius": "var(--radius-2)"},
            ),
        ),
    )


def waiting_list_link() -> rx.Component:
    """When no date suits: the waiting list, for a place that becomes free before the critical date."""
    return rx.text(*interpolate(_("No date that suits you? {link} and we will hold the next free place for you."),
                                link=rx.link(_("Join the waiting list"), href=to("/book/waiting-list"),
                                             id="waiting-list-link", style={"font_weight": "600", **focus_style()})),
                   size="2")


def wizard_page(*children: rx.Component) -> rx.Component:
    return public_shell(*children, width="40em")


# --- pages -----------------------------------------------------------------------------------------------------


def _dob_box(label: str, name: str, width: str, max_length: int) -> rx.Component:
    fid = f"f-dob-{name}"
    has_error = S.errors.contains("dob")
    return rx.vstack(
        rx.el.label(label, html_for=fid, style={"font_weight": "500"}),
        rx.el.input(id=fid, name=f"dob_{name}", type="text", input_mode="numeric", max_length=max_length,
                    auto_complete=f"bday-{name}", aria_invalid=rx.cond(has_error, "true", "false"),
                    style=input_style(has_error, width)),
        spacing="1",
    )


@public_page("/book", N_("Find your offer · Book a course · Atlas"), on_load=S.start)
def find_page() -> rx.Component:
    dob_error = S.errors.contains("dob")
    return wizard_page(
        step_indicator(1, 6),
        error_summary(S),
        rx.cond(
            S.existing_reference != "",
            rx.box(
                rx.heading(_("This offer is already booked"), size="5", as_="h2"),
                rx.text(*interpolate(_("Offer {offer} has a booking: {booking}, {when}. It is {status}."),
                                     offer=S.offer_reference, booking=rx.text.strong(S.existing_reference),
                                     when=S.existing_text, status=S.existing_status)),
                rx.text(_("You can view, move or cancel it on the manage your booking page. You will need the "
                          "booking reference, your date of birth and your postcode.")),
                rx.link(_("Manage your booking"), href=to("/booking/manage"), id="manage-existing",
                        style={"display": "inline-flex", "min_height": "44px", "align_items": "center",
                               "font_weight": "600", **focus_style()}),
                id="already-booked",
                role="status",
                tab_index=-1,
                style={"border": "4px solid var(--accent-9)", "padding": "1em", "border_radius": "var(--radius-2)",
                       **focus_style()},
            ),
        ),
        step_heading(_("Find your offer")),
        rx.text(_("Enter the details from the letter the police sent you offering a course.")),
        rx.form(
            rx.vstack(
                text_input(S, _("Offer reference"), "reference", hint=_("For example CLE-1234-5678."),
                           auto_complete="off", spell_check=False, auto_capitalize="characters"),
                rx.el.fieldset(
                    rx.el.legend(_("Date of birth"), style={"font_weight": "600", "padding": "0"}),
                    rx.text(_("For example, 14 3 1985"), id="dob-hint", size="2", color_scheme="gray"),
                    inline_error(S, "dob", "dob-error"),
                    rx.hstack(_dob_box(_("Day"), "day", "3.5em", 2), _dob_box(_("Month"), "month", "3.5em", 2),
                              _dob_box(_("Year"), "year", "5em", 4), spacing="3", margin_top="0.25em"),
                    aria_describedby=rx.cond(dob_error, "dob-hint dob-error", "dob-hint"),
                    style={"border": "none", "padding": "0", "margin": "0", "min_width": "0"},
                ),
                text_input(S, _("Postcode"), "postcode", hint=_("The postcode of the address on your letter."),
                           auto_complete="postal-code", width="10em", auto_capitalize="characters"),
                radio_group(
                    S,
                    rx.text(_("Which language should we write to you in?"), weight="bold"),
                    "correspondence",
                    radio_option("correspondence", "en", "correspondence-en", i18n.current() == i18n.EN,
                                 rx.text("English", lang="en-GB")),
                    radio_option("correspondence", "cy", "correspondence-cy", i18n.current() == i18n.CY,
                                 rx.text("Cymraeg", lang="cy")),
                    hint=_("Your booking confirmation and any letters or emails about your course."),
                ),
                continue_button(_("Find my offer"), "find-offer"),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
            on_submit=S.find,
            aria_label=_("Find your offer"),
            no_validate=True,
        ),
        rx.text(*interpolate(_("Already booked? {link}."),
                             link=rx.link(_("Manage your booking"), href=to("/booking/manage"), underline="always"))),
    )


@public_page("/book/how", N_("How would you like to attend? · Book a course · Atlas"), on_load=S.load_how)
def how_page() -> rx.Component:
    return wizard_page(
        back_link(to("/book"), _("Back to find your offer")),
        step_indicator(2, S.steps_total),
        error_summary(S),
        offer_summary(),
        rx.form(
            rx.vstack(
                radio_group(
                    S,
                    step_heading(_("How would you like to attend?")),
                    "mode",
                    rx.foreach(
                        S.modes,
                        lambda m: radio_option(
                            "mode", m["value"], "mode-" + m["value"], S.mode == m["value"],
                            rx.text(m["label"], weight="bold"),
                            rx.text(m["hint"], size="2"),
                            rx.text(m["count"], size="2", color_scheme="gray"),
                        ),
                    ),
                ),
                continue_button(),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
            on_submit=S.choose_mode,
            no_validate=True,
        ),
    )


@public_page("/book/where", N_("Where would you like to go? · Book a course · Atlas"), on_load=S.load_where)
def where_page() -> rx.Component:
    return wizard_page(
        back_link(to("/book/how")),
        step_indicator(3, S.steps_total),
        error_summary(S),
        offer_summary(),
        rx.form(
            rx.vstack(
                radio_group(
                    S,
                    step_heading(_("Where would you like to go?")),
                    "venue",
                    rx.foreach(
                        S.venues,
                        lambda v: radio_option(
                            "venue", v["id"], "venue-" + v["id"], S.venue_id == v["id"],
                            rx.text(v["name"], weight="bold"),
                            rx.text(v["address"], size="2"),
                            rx.text(rx.el.span(_("Access: "), style={"font_weight": "600"}), v["notes"], size="2"),
                            rx.text(v["count"], size="2", color_scheme="gray"),
                        ),
                    ),
                    hint=_("Nearest to your postcode first."),
                ),
                continue_button(),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
            on_submit=S.choose_venue,
            no_validate=True,
        ),
    )


@public_page("/book/when", N_("When would you like to go? · Book a course · Atlas"), on_load=S.load_when)
def when_page() -> rx.Component:
    return wizard_page(
        back_link(rx.cond(S.mode == "online", to("/book/how"), to("/book/where"))),
        step_indicator(S.step_when, S.steps_total),
        error_summary(S),
        offer_summary(),
        rx.cond(S.mode != "online", rx.text(*interpolate(_("Venue: {venue}"), venue=rx.text.strong(S.venue_text)),
                                            size="2")),
        rx.form(
            rx.vstack(
                radio_group(
                    S,
                    step_heading(_("When would you like to go?")),
                    "session",
                    rx.foreach(
                        S.sessions,
                        lambda s: radio_option(
                            "session", s["id"], "session-" + s["id"], S.session_id == s["id"],
                            rx.text(s["date"], weight="bold"),
                            rx.text(s["time"], size="2"),
                            rx.text(s["seats"], size="2", color_scheme="gray"),
                        ),
                    ),
                    hint=_("Only courses that finish before your deadline and still have places are shown. When "
                           "you continue, we hold a place for you for a few minutes while you finish booking."),
                ),
                rx.cond(S.sessions_more,
                        rx.text(_("Only the first 60 dates are shown. To see later dates, telephone us."), size="2")),
                waiting_list_link(),
                continue_button(_("Hold this place and continue"), "hold-session"),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
            on_submit=S.choose_session,
            no_validate=True,
        ),
    )


def _yes_no(name: str, value: str, label: str) -> rx.Component:
    return radio_option(name, value, f"{name}-{value}", S.interpreter == value, rx.text(label))


@public_page("/book/needs", N_("Support at the course · Book a course · Atlas"), on_load=S.load_needs)
def needs_page() -> rx.Component:
    return wizard_page(
        back_link(to("/book/when")),
        step_indicator(S.step_needs, S.steps_total),
        error_summary(S),
        hold_panel(),
        step_heading(_("Do you need any support at the course?")),
        rx.text(_("Tell us now so that we can arrange it. You must tell us about an interpreter or a disability "
                  "before the course.")),
        rx.form(
            rx.vstack(
                radio_group(
                    S,
                    rx.text(_("Do you need an interpreter?"), weight="bold", size="4"),
                    "interpreter",
                    _yes_no("interpreter", "yes", _("Yes")),
                    _yes_no("interpreter", "no", _("No")),
                ),
                text_input(S, _("If yes, which language?"), "interpreter_language",
                           input_id="f-interpreter-language", default_value=S.interpreter_language,
                           hint=_("For example, Polish or British Sign Language.")),
                rx.vstack(
                    rx.el.label(_("Access or disability needs (optional)"), html_for="f-accessibility",
                                style={"font_weight": "600"}),
                    rx.text(_("For example, step-free access, a hearing loop, or large print."),
                            id="f-accessibility-hint",
                            size="2", color_scheme="gray"),
                    rx.el.textarea(id="f-accessibility", name="accessibility", rows="3", max_length=300,
                                   default_value=S.accessibility, aria_describedby="f-accessibility-hint",
                                   style=input_style(False)),
                    spacing="1", width="100%", align_items="stretch",
                ),
                radio_group(
                    S,
                    rx.text(_("Which language would you like the course in?"), weight="bold", size="4"),
                    "language",
                    radio_option("language", "English", "language-English", S.language == "English",
                                 rx.text(_("English"))),
                    radio_option("language", "Welsh", "language-Welsh", S.language == "Welsh",
                                 rx.text(_("Welsh (Cymraeg)"))),
                ),
                rx.vstack(
                    rx.el.label(_("Anything else we should know? (optional)"), html_for="f-other",
                                style={"font_weight": "600"}),
                    rx.el.textarea(id="f-other", name="other", rows="3", max_length=300, default_value=S.other_needs,
                                   style=input_style(False)),
                    spacing="1", width="100%", align_items="stretch",
                ),
                continue_button(),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
            on_submit=S.save_needs,
            no_validate=True,
        ),
    )


def _answer(label: str, value: Any, change_href: str, change_what: str, row_id: str) -> rx.Component:
    return rx.el.div(
        rx.el.dt(label, style={"font_weight": "600"}),
        rx.el.dd(value, style={"margin": "0"}),
        rx.el.dd(
            rx.link(_("Change"), rx.el.span(f" {change_what}", class_name="sr-only"), href=to(change_href),
                    id=f"change-{row_id}",
                    style={"display": "inline-flex", "min_height": "44px", "min_width": "44px",
                           "align_items": "center", **focus_style()}),
            style={"margin": "0"},
        ),
        id=f"answer-{row_id}",
        style={"display": "grid", "grid_template_columns": "minmax(0, 1fr)", "gap": "0.15em",
               "padding": "0.6em 0", "border_bottom": "1px solid var(--gray-6)",
               "@media (min-width: 40em)": {"grid_template_columns": "12em minmax(0, 1fr) auto",
                                            "align_items": "center"}},
    )


@public_page("/book/check", N_("Check your answers · Book a course · Atlas"), on_load=S.load_check)
def check_page() -> rx.Component:
    return wizard_page(
        back_link(to("/book/needs")),
        step_indicator(S.step_check, S.steps_total),
        error_summary(S),
        hold_panel(),
        step_heading(_("Check your answers before booking")),
        rx.el.dl(
            _answer(_("Offer"), rx.fragment(S.offer_reference, rx.el.br(), S.course_text), "/book", _("offer"),
                    "offer"),
            _answer(_("How"), S.mode_label, "/book/how", _("how you will attend"), "mode"),
            rx.cond(S.mode != "online",
                    _answer(_("Where"), rx.fragment(S.venue_text, rx.el.br(), S.venue_address), "/book/where",
                            _("venue"), "venue")),
            _answer(_("When"), S.session_label, "/book/when", _("date and time"), "session"),
            _answer(_("Interpreter"), S.needs_interpreter_text, "/book/needs", _("interpreter"), "interpreter"),
            _answer(_("Access needs"), rx.cond(S.accessibility != "", S.accessibility, _("None")), "/book/needs",
                    _("access needs"), "accessibility"),
            _answer(_("Course language"),
                    rx.match(S.language, ("English", _("English")), ("Welsh", _("Welsh (Cymraeg)")), S.language),
                    "/book/needs", _("course language"), "language"),
            _answer(_("Anything else"), rx.cond(S.other_needs != "", S.other_needs, _("Nothing")), "/book/needs",
                    _("anything else"), "other"),
            style={"margin": "0"},
        ),
        rx.heading(_("Paying for your course"), size="5", as_="h2"),
        rx.text(*interpolate(_("The course fee is {fee}. When you book, your place is reserved and the booking "
                               "waits for payment. We will contact you about paying; the booking confirmation email "
                               "tells you the date by which the fee must be paid."),
                             fee=rx.text.strong(S.fee_text))),
        rx.heading(_("Changing your booking later"), size="5", as_="h2"),
        rx.text(S.change_terms_text),
        rx.cond(S.conditions_text != "", rx.fragment(
            rx.heading(_("Booking terms"), size="5", as_="h2"),
            rx.text(S.conditions_text, id="booking-conditions", white_space="pre-line"))),
        rx.cond(S.late_warning != "",
                rx.text(rx.el.span(_("Important: "), style={"font_weight": "700"}), S.late_warning, id="late-warning",
                        style={"border_left": "4px solid var(--amber-9)", "padding_left": "0.75em"})),
        rx.text(_("Changing the offer reference starts again and lets the held place go."), size="2",
                color_scheme="gray"),
        rx.cond(
            ~S.hold_expired,
            rx.button(_("Book this course"), on_click=S.book, size="3", id="book",
                      style={"min_height": "48px", "width": "100%", "max_width": "20em", "font_weight": "600",
                             "cursor": "pointer", **focus_style()}),
        ),
    )


@public_page("/book/done", N_("Place booked · Book a course · Atlas"), on_load=S.load_done)
def done_page() -> rx.Component:
    return wizard_page(
        rx.box(
            step_heading(_("Your place is booked")),
            rx.text(_("Your booking reference is"), margin_top="0.5em"),
            rx.text(S.done_reference, id="booking-reference", size="8", weight="bold",
                    style={"letter_spacing": "0.05em"}),
            style={"border": "4px solid var(--green-9)", "padding": "1.25em", "border_radius": "var(--radius-3)",
                   "background": "var(--green-2)"},
            id="confirmation",
        ),
        rx.el.dl(
            rx.el.dt(_("When"), style={"font_weight": "600"}),
            rx.el.dd(S.done_session, id="done-session", style={"margin": "0 0 0.5em 0"}),
            rx.el.dt(_("Where"), style={"font_weight": "600"}),
            rx.el.dd(S.done_where, style={"margin": "0 0 0.5em 0"}),
            rx.el.dt(_("Fee"), style={"font_weight": "600"}),
            rx.el.dd(*interpolate(_("{fee} (not paid yet)"), fee=S.done_fee), style={"margin": "0 0 0.5em 0"}),
        ),
        rx.heading(_("What happens next"), size="5", as_="h2"),
        rx.text(*interpolate(_("Your booking is made and is {waiting}. The fee of {fee} must be paid by {due}. You "
                               "can pay now by card, or later from Manage your booking or by telephone. If it is "
                               "not paid in time, the place may be released."),
                             waiting=rx.text.strong(_("waiting for payment")), fee=S.done_fee,
                             due=rx.text.strong(S.done_due))),
        rx.cond(S.demo_payments, demo_banner()),
        rx.cond(S.pay_error != "", rx.callout(S.pay_error, icon="triangle_alert", color_scheme="red", role="alert",
                                              high_contrast=True)),
        rx.button(*interpolate(_("Pay {fee} now by card"), fee=S.done_fee), on_click=S.pay_now, size="3", id="pay-now",
                  loading=S.paying, disabled=S.paying, style={"min_height": "44px"}),
        rx.cond(S.done_email != "",
                rx.text(*interpolate(_("We are sending a confirmation email to {email}."), email=S.done_email))),
        rx.text(_("Bring your photocard driving licence to the course. Keep your booking reference: you need it, "
                  "with your date of birth and postcode, to move or cancel the booking.")),
        rx.link(_("Manage your booking"), href=to("/booking/manage"),
                style={"display": "inline-flex", "min_height": "44px", "align_items": "center", **focus_style()}),
    )
