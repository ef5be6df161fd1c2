"""Letters: each organisation's templates, merged with a client's offer, booking and payment details, and printed
to PDF one at a time or as one PDF for a filtered set of bookings; optionally emailed through the outbox.

Templates use the platform's template engine (``services/platform/templating.py``): no code runs, the cost of a
render is bounded, and a template may only use the merge fields listed in ``MERGE_FIELDS`` (``{{ client.name }}``, ``{{ booking.reference }}``...). A template naming
anything else is refused with the field named, both when it is saved and when it is previewed.

Every letter produced is written on the client's timeline (``ClientEvent`` kind ``letter``) and in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont
from fpdf import FPDF
from sqlalchemy import func
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, PaymentStatus, PayState
from atlas_app.models import (
    Booking,
    Client,
    ClientEvent,
    CourseSession,
    CourseType,
    Offer,
    Organisation,
    Venue,
)
from atlas_app.models.letters import LetterTemplate
from atlas_app.models.payments import Payment
from atlas_app.services.payments import payment_summaries
from atlas_app.services.platform import audit, bounds, i18n, outbox, templating, welsh
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, london_date, london_midnight

MAX_BULK = 2000
MAX_BODY = 20_000

# The merge fields: group -> field -> what it holds.
MERGE_FIELDS: dict[str, dict[str, str]] = {
    "client": {
        "name": "Full name", "first_name": "First name", "last_name": "Last name",
        "address": "Postal address (one line per part)", "postcode": "Postcode", "email": "Email address",
        "offer_reference": "Police offer reference", "critical_date": "Date the course must be completed by",
        "police_force": "Referring police force",
    },
    "booking": {
        "reference": "Booking reference", "course_type": "Course name", "course_code": "Course code",
        "venue": "Venue name", "venue_address": "Venue address", "date": "Course date", "time": "Start time",
        "end_time": "Finish time", "status": "Booking status",
    },
    "payment": {
        "fee": "Course fee", "amount_paid": "Amount paid", "payment_date": "Date of the last payment",
        "balance": "Balance to pay", "state": "Payment state", "due_date": "Date payment is due",
    },
    "organisation": {"name": "Organisation name"},
    "today": {"": "Today's date"},
}

SHIPPED_TEMPLATES: list[tuple[str, str, str, str]] = [
    ("booking_confirmation", "Booking confirmation", "Your course booking {{ booking.reference }}",
     "Dear {{ client.name }},\n\n"
     "Thank you for booking your {{ booking.course_type }}. Your booking reference is {{ booking.reference }}.\n\n"
     "Date: {{ booking.date }} at {{ booking.time }}\n"
     "Venue: {{ booking.venue }}, {{ booking.venue_address }}\n"
     "Offer reference: {{ client.offer_reference }}\n"
     "You must complete the course by {{ client.critical_date }}.\n\n"
     "Course fee: {{ payment.fee }}. Paid: {{ payment.amount_paid }}. Balance: {{ payment.balance }}.\n\n"
     "Please bring your photocard driving licence.\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
    ("payment_receipt", "Payment receipt", "Receipt for booking {{ booking.reference }}",
     "Dear {{ client.name }},\n\n"
     "We received your payment of {{ payment.amount_paid }} on {{ payment.payment_date }} for your "
     "{{ booking.course_type }} on {{ booking.date }} (booking {{ booking.reference }}).\n\n"
     "Course fee: {{ payment.fee }}\nBalance to pay: {{ payment.balance }}\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
    ("unpaid_reminder", "Unpaid reminder", "Payment due for booking {{ booking.reference }}",
     "Dear {{ client.name }},\n\n"
     "Our records show that the fee for your {{ booking.course_type }} on {{ booking.date }} at {{ booking.time }} "
     "has not been paid in full.\n\n"
     "Course fee: {{ payment.fee }}\nPaid so far: {{ payment.amount_paid }}\nBalance to pay: {{ payment.balance }}\n"
     "Payment is due by {{ payment.due_date }}.\n\n"
     "If the balance is not paid your place may be released. Your offer reference is {{ client.offer_reference }} "
     "and the course must be completed by {{ client.critical_date }}.\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
    ("course_reminder", "Course reminder", "Your course on {{ booking.date }}",
     "Dear {{ client.name }},\n\n"
     "This is a reminder that your {{ booking.course_type }} is on {{ booking.date }} from {{ booking.time }} to "
     "{{ booking.end_time }} at {{ booking.venue }}, {{ booking.venue_address }}.\n\n"
     "Please arrive 15 minutes early and bring your photocard driving licence. Booking reference: "
     "{{ booking.reference }}.\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
    ("transfer_confirmation", "Transfer confirmation", "Your course booking has moved: {{ booking.reference }}",
     "Dear {{ client.name }},\n\n"
     "Your course booking has been moved. Your new booking reference is {{ booking.reference }}.\n\n"
     "Date: {{ booking.date }} at {{ booking.time }}\nVenue: {{ booking.venue }}, {{ booking.venue_address }}\n\n"
     "You must still complete the course by {{ client.critical_date }}.\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
    ("did_not_attend", "Did not attend", "You did not attend your course",
     "Dear {{ client.name }},\n\n"
     "Our records show that you did not attend your {{ booking.course_type }} on {{ booking.date }} "
     "(booking {{ booking.reference }}).\n\n"
     "If you believe this is wrong, please contact us straight away, quoting offer reference "
     "{{ client.offer_reference }}. The course must be completed by {{ client.critical_date }}.\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
    ("offer_returned", "Offer expired / returned to the police", "Your course offer {{ client.offer_reference }}",
     "Dear {{ client.name }},\n\n"
     "The course offered to you under reference {{ client.offer_reference }} was not completed by "
     "{{ client.critical_date }}. The offer has now expired and has been returned to {{ client.police_force }}, "
     "who will contact you about what happens next.\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
]

# --- validating and rendering ------------------------------------------------------------------------------------


# Other families of letters (a module type's): template code prefix -> (merge fields, shipped templates). A module
# type registers its family when its services are imported; its templates are kept, edited and checked here like
# the booking letters, against the family's own merge fields.
FAMILIES: dict[str, tuple[dict[str, dict[str, str]], list[tuple[str, str, str, str]]]] = {}


def register_family(prefix: str, fields: dict[str, dict[str, str]],
                    shipped: list[tuple[str, str, str, str]]) -> None:
    FAMILIES[prefix] = (fields, shipped)


def _families() -> dict[str, tuple[dict[str, dict[str, str]], list[tuple[str, str, str, str]]]]:
    """Every family, whatever has been imported so far (the module types register theirs when imported)."""
    from atlas_app.services.modules.rent_arrears import tenancies  # noqa: F401  (registers the rent letters)

    return FAMILIES


def fields_for(code: str) -> dict[str, dict[str, str]]:
    """The merge fields a template of this code may use: a module type's letters (their codes start with the
    type's prefix) have the module's own fields; every other template has ``MERGE_FIELDS``."""
    for prefix, (fields, _shipped) in _families().items():
        if str(code or "").startswith(prefix):
            return fields
    from atlas_app.services.modules.utilities_servicing import letters as utilities_letters

    if str(code or "").startswith(utilities_letters.CODE_PREFIX):
        return utilities_letters.MERGE_FIELDS
    return MERGE_FIELDS


def check_template(source: str, what: str = "body", fields: dict[str, dict[str, str]] | None = None) -> None:
    """Refuse a template that does not parse, or that names anything but the merge fields (see templating)."""
    if len(source) > MAX_BODY:
        raise ValidationFailed(f"The {what} is longer than {MAX_BODY} characters.", {what: "too long"})
    templating.check(source, fields or MERGE_FIELDS, what)


def render(source: str, context: dict[str, Any], what: str = "body",
           fields: dict[str, dict[str, str]] | None = None) -> str:
    check_template(source, what, fields)
    return templating.render(source, context, fields or MERGE_FIELDS, what)


# --- the merge data -------------------------------------------------------------------------------------------


def _money(pence: int | None, language: str = "en") -> str:
    return i18n.money(pence or 0, language)


def _day(value: date | datetime | None, language: str = "en") -> str:
    """``3 December 2026`` / ``3 Rhagfyr 2026``, the London day (Babel's ``en_GB`` or ``cy`` locale)."""
    return i18n.day_text(value, language)


@dataclass(frozen=True)
class Target:
    """One letter's subject: a client's offer, and the booking the letter is about (if any)."""

    offer_id: int
    booking_id: int | None
    client_id: int
    client_email: str
    reference: str  # the booking reference, else the offer reference
    context: dict[str, Any] = field(default_factory=dict)
    # "cy" when the client asked for Welsh and the organisation offers it: the template's Welsh is used.
    language: str = "en"


def _contexts(s: Session, organisation_id: int, pairs: list[tuple[int, int | None]]) -> list[Target]:
    """Merge data for each (offer id, booking id or None), in the order given, in a few batched queries."""
    if not pairs:
        return []
    org = s.get(Organisation, organisation_id)
    offer_ids = sorted({o for o, _ in pairs})
    booking_ids = sorted({b for _, b in pairs if b})
    offers: dict[int, tuple[Offer, Client]] = {}
    for chunk in _chunks(offer_ids):
        for offer, client in s.exec(select(Offer, Client).join(Client, Client.id == Offer.client_id)
                                    .where(Offer.id.in_(chunk), Offer.organisation_id == organisation_id)).all():
            offers[offer.id] = (offer, client)
    bookings: dict[int, tuple[Booking, CourseSession, CourseType, Venue | None]] = {}
    summaries = {}
    paid_on: dict[int, datetime] = {}
    for chunk in _chunks(booking_ids):
        rows = s.exec(
            select(Booking, CourseSession, CourseType, Venue)
            .join(CourseSession, CourseSession.id == Booking.session_id)
            .join(CourseType, CourseType.id == CourseSession.course_type_id)
            .outerjoin(Venue, Venue.id == CourseSession.venue_id)
            .where(Booking.id.in_(chunk), Booking.organisation_id == organisation_id)
        ).all()
        for b, cs, ct, v in rows:
            bookings[b.id] = (b, cs, ct, v)
        summaries.update(payment_summaries(s, list(chunk)))
        for bid, at in s.exec(select(Payment.booking_id, func.max(Payment.received_at))
                              .where(Payment.booking_id.in_(chunk), Payment.status == PaymentStatus.SUCCEEDED)
                              .group_by(Payment.booking_id)).all():
            paid_on[bid] = at
    today_date = london_date(utcnow())
    out: list[Target] = []
    for offer_id, booking_id in pairs:
        if offer_id not in offers:
            continue
        offer, client = offers[offer_id]
        language = welsh.correspondence_language(client.language, org is not None and org.welsh_enabled)
        today = _day(today_date, language)
        address = "\n".join(x for x in [client.address_line1, client.address_line2, client.town, client.postcode] if x)
        ctx: dict[str, Any] = {
            "client": {
                "name": f"{client.first_name} {client.last_name}", "first_name": client.first_name,
                "last_name": client.last_name, "address": address, "postcode": client.postcode,
                "email": client.email, "offer_reference": offer.offer_reference,
                "critical_date": _day(offer.critical_date, language),
                "police_force": offer.police_force or i18n._("the police", language),
            },
            "booking": dict.fromkeys(MERGE_FIELDS["booking"], ""),
            "payment": dict.fromkeys(MERGE_FIELDS["payment"], ""),
            "organisation": {"name": org.name if org else ""},
            "today": today,
        }
        reference = offer.offer_reference
        if booking_id and booking_id in bookings:
            b, cs, ct, v = bookings[booking_id]
            online = v is None or v.is_online or cs.delivery_mode == "online"
            venue_address = "Online" if online else ", ".join(
                x for x in [v.address_line1, v.address_line2, v.town, v.postcode] if x)
            start, end = cs.starts_at.astimezone(LONDON), cs.ends_at.astimezone(LONDON)
            ctx["booking"] = {
                "reference": b.reference, "course_type": welsh.pick(ct.name, ct.name_cy, language),
                "course_code": ct.code, "venue": welsh.pick(v.name, v.name_cy, language) if v else "Online",
                "venue_address": venue_address,
                "date": i18n.long_date(start, "cy") if language == "cy" else f"{start:%A} {_day(start.date())}",
                "time": f"{start:%H:%M}", "end_time": f"{end:%H:%M}",
                "status": b.status.replace("_", " "),
            }
            summary = summaries.get(b.id)
            ctx["payment"] = {
                "fee": _money(b.fee_pence, language),
                "amount_paid": _money(summary.paid_pence if summary else 0, language),
                "payment_date": _day(paid_on.get(b.id), language) or i18n._("no payment yet", language),
                "balance": _money(summary.outstanding_pence if summary else b.fee_pence, language),
                "state": summary.label if summary else "",
                "due_date": _day(b.payment_due_at, language) or i18n._("before the course", language),
            }
            reference = b.reference
        out.append(Target(offer_id=offer.id, booking_id=booking_id if booking_id in bookings else None,
                          client_id=client.id, client_email=client.email, reference=reference, context=ctx,
                          language=language))
    return out


def _chunks(ids: list[int], size: int = 500):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


# --- templates ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateView:
    id: int
    code: str
    name: str
    subject: str
    body: str
    updated_by: str
    updated_at: datetime | None
    subject_cy: str = ""
    body_cy: str = ""


def _view(t: LetterTemplate) -> TemplateView:
    return TemplateView(t.id, t.code, t.name, t.subject, t.body, t.updated_by, t.updated_at, t.subject_cy, t.body_cy)


def ensure_templates(s: Session, organisation_id: int) -> int:
    """Add any shipped template the organisation does not have yet; returns how many were added."""
    have = set(s.exec(select(LetterTemplate.code).where(LetterTemplate.organisation_id == organisation_id)).all())
    added = 0
    shipped = list(SHIPPED_TEMPLATES) + [t for _fields, family in _families().values() for t in family]
    for code, name, subject, body in shipped:
        if code not in have:
            s.add(LetterTemplate(organisation_id=organisation_id, code=code, name=name, subject=subject, body=body,
                                 updated_by="atlas"))
            added += 1
    s.flush()
    return added


def list_templates(actor: Actor) -> list[TemplateView]:
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        rows = s.exec(select(LetterTemplate).where(LetterTemplate.organisation_id == org_id)
                      .order_by(LetterTemplate.name)).all()
        if rows:
            return [_view(t) for t in rows]
    with write_session() as s:
        ensure_templates(s, org_id)
        return [_view(t) for t in s.exec(select(LetterTemplate).where(LetterTemplate.organisation_id == org_id)
                                         .order_by(LetterTemplate.name)).all()]


def _template(s: Session, organisation_id: int, code: str) -> LetterTemplate:
    row = s.exec(select(LetterTemplate).where(LetterTemplate.organisation_id == organisation_id,
                                              LetterTemplate.code == str(code or "")[:40])).first()
    if row is None:
        raise NotFound("No such letter template.")
    return row


def save_template(actor: Actor, code: str, name: str, subject: str, body: str, *, subject_cy: str | None = None,
                  body_cy: str | None = None) -> TemplateView:
    """Change a template's name, subject and body (and their Welsh, sent to clients who asked for Welsh; kept as it
    was when not given), after checking each parses and uses only the merge fields."""
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    name, subject, body = str(name or "").strip(), str(subject or "").strip(), str(body or "")
    if not name:
        raise ValidationFailed("Give the template a name.", {"name": "required"})
    if len(name) > 150 or len(subject) > 300:
        raise ValidationFailed("The name or subject is too long.", {"name": "too long"})
    if not body.strip():
        raise ValidationFailed("The letter needs some text.", {"body": "required"})
    check_template(subject, "subject", fields_for(code))
    check_template(body, "body", fields_for(code))
    welsh_values: dict[str, str] = {}
    if subject_cy is not None:
        welsh_values["subject_cy"] = str(subject_cy).strip()
        if len(welsh_values["subject_cy"]) > 300:
            raise ValidationFailed("The Welsh subject is too long.", {"subject_cy": "too long"})
        check_template(welsh_values["subject_cy"], "Welsh subject", fields_for(code))
    if body_cy is not None:
        welsh_values["body_cy"] = str(body_cy)
        check_template(welsh_values["body_cy"], "Welsh body", fields_for(code))
    with write_session() as s:
        row = _template(s, org_id, code)
        before = {"name": row.name, "subject": row.subject, "body": row.body,
                  **{k: getattr(row, k) for k in welsh_values}}
        row.name, row.subject, row.body = name, subject, body
        for key, value in welsh_values.items():
            setattr(row, key, value)
        row.updated_by, row.updated_at = actor.username, utcnow()
        s.add(row)
        s.flush()
        audit.record(s, actor, "letter_template", row.code, "updated", before=before,
                     after={"name": name, "subject": subject, "body": body, **welsh_values})
        return _view(row)


def _resolve_reference(s: Session, organisation_id: int, reference: str) -> tuple[int, int | None]:
    """A booking reference, or an offer reference (then its latest booking, if any)."""
    ref = str(reference or "").strip().upper()[:40]
    if not ref:
        raise ValidationFailed("Enter a booking or offer reference.", {"reference": "required"})
    b = s.exec(select(Booking).where(Booking.organisation_id == organisation_id,
                                     func.upper(Booking.reference) == ref)).first()
    if b is not None:
        return b.offer_id, b.id
    offer = s.exec(select(Offer).where(Offer.organisation_id == organisation_id,
                                       func.upper(Offer.offer_reference) == ref)).first()
    if offer is None:
        raise NotFound(f"No booking or offer {ref}.")
    latest = s.exec(select(Booking.id).where(Booking.offer_id == offer.id).order_by(Booking.id.desc())).first()
    return offer.id, latest


@dataclass(frozen=True)
class Preview:
    reference: str
    client_name: str
    subject: str
    body: str
    language: str = "en"  # the client's letters' language: "cy" shows the Welsh wording with Welsh dates and money


def preview(actor: Actor, subject: str, body: str, reference: str = "", subject_cy: str = "",
            body_cy: str = "") -> Preview:
    """The letter as it would read for a real client (``reference``, else the organisation's latest booking), in
    the client's language: a client written to in Welsh sees the Welsh wording (when written) with Welsh dates and
    money, as the printed letter has them."""
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    check_template(str(subject or ""), "subject")
    check_template(str(body or ""), "body")
    subject_cy, body_cy = str(subject_cy or ""), str(body_cy or "")
    if body_cy.strip():
        if subject_cy.strip():
            check_template(subject_cy, "subject")
        check_template(body_cy, "body")
    with read_session() as s:
        if str(reference or "").strip():
            pair = _resolve_reference(s, org_id, reference)
        else:
            b = s.exec(select(Booking).where(Booking.organisation_id == org_id).order_by(Booking.id.desc())).first()
            if b is None:
                raise NotFound("There are no bookings yet to preview with; enter an offer reference.")
            pair = (b.offer_id, b.id)
        target = _contexts(s, org_id, [pair])[0]
    if target.language == i18n.CY and body_cy.strip():
        subject, body = subject_cy.strip() or subject, body_cy
    return Preview(target.reference, target.context["client"]["name"], render(subject, target.context, "subject"),
                   render(body, target.context, "body"), target.language)


# --- choosing the bookings for a bulk run --------------------------------------------------------------------

PAYMENT_FILTERS = ("any", "unpaid", "paid")
STATUS_FILTERS = ("active", BookingStatus.CONFIRMED, BookingStatus.AWAITING_PAYMENT, BookingStatus.ATTENDED,
                  BookingStatus.DID_NOT_ATTEND, "any")
_UNPAID = PayState.UNPAID


@dataclass(frozen=True)
class BulkFilter:
    session_from: date | None = None
    session_to: date | None = None
    course_type_id: int | None = None
    venue_id: int | None = None
    status: str = "active"
    payment: str = "any"


def _parse_date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value)[:10])
        except ValueError:
            raise ValidationFailed(f"{name} must be a date (YYYY-MM-DD).", {name: "invalid"}) from None
    return bounds.filter_date(value, name)


def _parse_id(value: Any, name: str) -> int | None:
    if value in (None, "", "all"):
        return None
    return bounds.parse_id(value, name)


def parse_filter(values: dict[str, Any]) -> BulkFilter:
    status = str(values.get("status") or "active")
    payment = str(values.get("payment") or "any")
    if status not in STATUS_FILTERS:
        raise ValidationFailed("Choose a booking status.", {"status": "invalid"})
    if payment not in PAYMENT_FILTERS:
        raise ValidationFailed("Choose a payment state.", {"payment": "invalid"})
    f = BulkFilter(session_from=_parse_date(values.get("session_from"), "session_from"),
                   session_to=_parse_date(values.get("session_to"), "session_to"),
                   course_type_id=_parse_id(values.get("course_type_id"), "course_type_id"),
                   venue_id=_parse_id(values.get("venue_id"), "venue_id"), status=status, payment=payment)
    if f.session_from and f.session_to and f.session_to < f.session_from:
        raise ValidationFailed("The end date is before the start date.", {"session_to": "before start"})
    return f


def select_bookings(s: Session, organisation_id: int, f: BulkFilter) -> list[tuple[int, int]]:
    """(offer id, booking id) of the organisation's bookings matching the filter, by session then client."""
    q = (select(Booking.offer_id, Booking.id)
         .join(CourseSession, CourseSession.id == Booking.session_id)
         .join(Offer, Offer.id == Booking.offer_id)
         .join(Client, Client.id == Offer.client_id)
         .where(Booking.organisation_id == organisation_id))
    if f.status == "active":
        q = q.where(Booking.status.in_(BookingStatus.BOOKED))
    elif f.status != "any":
        q = q.where(Booking.status == f.status)
    if f.session_from:
        q = q.where(CourseSession.starts_at >= london_midnight(f.session_from))
    if f.session_to:
        q = q.where(CourseSession.starts_at < london_midnight(f.session_to + timedelta(days=1)))
    if f.course_type_id:
        q = q.where(CourseSession.course_type_id == f.course_type_id)
    if f.venue_id:
        q = q.where(CourseSession.venue_id == f.venue_id)
    q = q.order_by(CourseSession.starts_at, Client.last_name, Client.first_name, Booking.id)
    pairs = [(o, b) for o, b in s.exec(q).all()]
    if f.payment != "any" and pairs:
        states: dict[int, str] = {}
        for chunk in _chunks([b for _, b in pairs]):
            states.update({bid: x.state for bid, x in payment_summaries(s, chunk).items()})
        wanted = _UNPAID if f.payment == "unpaid" else PayState.SETTLED
        pairs = [(o, b) for o, b in pairs if states.get(b) in wanted]
    return pairs


def count_matching(actor: Actor, values: dict[str, Any]) -> int:
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    f = parse_filter(values)
    with read_session() as s:
        return len(select_bookings(s, org_id, f))


# --- PDF ------------------------------------------------------------------------------------------------------


FONT_DIR = Path(__file__).resolve().parents[2] / "fonts"
FONT_FAMILY = "DejaVuSans"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


@lru_cache(maxsize=1)
def _font_characters() -> frozenset[int]:
    """Code points both letter fonts can draw (the bundled DejaVu Sans covers Latin, Greek and Cyrillic scripts,
    Welsh included)."""
    covered: frozenset[int] | None = None
    for name in _FONT_FILES.values():
        with TTFont(FONT_DIR / name, lazy=True) as font:
            points = frozenset(font.getBestCmap())
        covered = points if covered is None else covered & points
    return covered or frozenset()


def _printable(text: str) -> str:
    """Text as the letter fonts can draw it: a character outside them becomes "?" (never an error, never a blank);
    line breaks and tabs are kept."""
    covered = _font_characters()
    return "".join(ch if ch in "\n\t" or ord(ch) in covered else "?" for ch in text)


class _LetterPdf(FPDF):
    def __init__(self, organisation: str) -> None:
        super().__init__(format="A4", unit="mm")
        for style, name in _FONT_FILES.items():
            self.add_font(FONT_FAMILY, style, str(FONT_DIR / name))
        self.organisation = _printable(organisation)
        self.set_auto_page_break(True, margin=20)
        self.set_margins(20, 20, 20)
        self.set_title("Letters")
        self.set_author(self.organisation)
        self.set_creator("Atlas")
        self.set_lang("en-GB")


def _add_letter(pdf: _LetterPdf, target: Target, subject: str, body: str) -> None:
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 14)
    pdf.cell(0, 8, pdf.organisation, new_x="LMARGIN", new_y="NEXT", align="R")
    pdf.set_font(FONT_FAMILY, "", 10)
    pdf.cell(0, 6, _printable(target.context["today"]), new_x="LMARGIN", new_y="NEXT", align="R")
    pdf.ln(6)
    client = target.context["client"]
    pdf.set_font(FONT_FAMILY, "", 11)
    pdf.multi_cell(90, 5, _printable("\n".join([client["name"], client["address"]]).strip()),
                   align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.multi_cell(0, 6, _printable(subject), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FONT_FAMILY, "", 11)
    pdf.multi_cell(0, 5.5, _printable(body), align="L", new_x="LMARGIN", new_y="NEXT")


def addressed_pdf(organisation: str, letters: list[tuple[str, str, str, str]]) -> bytes:
    """One PDF of letters, each (recipient's name, their address in lines, subject, body), dated today, in the
    same layout as the booking letters (for module types' letters to tenants and residents)."""
    today = _day(london_date(utcnow()))
    targets = [(Target(0, None, 0, "", "", {"today": today, "client": {"name": name, "address": address}}),
                subject, body) for name, address, subject, body in letters]
    return _pdf(organisation, targets)


def _pdf(organisation: str, letters: list[tuple[Target, str, str]]) -> bytes:
    pdf = _LetterPdf(organisation)
    for target, subject, body in letters:
        _add_letter(pdf, target, subject, body)
    return bytes(pdf.output())


# --- producing letters -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LetterRun:
    pdf: bytes
    filename: str
    count: int
    emailed: int
    no_email: int
    references: list[str]


def _produce(actor: Actor, code: str, pairs: list[tuple[int, int | None]], email: bool, label: str) -> LetterRun:
    org_id = actor.require_org()
    if not pairs:
        raise ValidationFailed("No bookings match: there is nothing to print.", {"filter": "empty"})
    if len(pairs) > MAX_BULK:
        raise ValidationFailed(f"{len(pairs)} letters is more than {MAX_BULK} at once; narrow the filter.",
                               {"filter": "too many"})
    with write_session() as s:
        template = _template(s, org_id, code)
        org = s.get(Organisation, org_id)
        targets = _contexts(s, org_id, pairs)
        check_template(template.subject, "subject")
        check_template(template.body, "body")
        # Clients who asked for Welsh get the template's Welsh when it has been written (else its English).
        use_welsh = [t.language == "cy" and bool(template.body_cy.strip()) for t in targets]
        rendered: dict[int, tuple[str, str]] = {}
        for welsh_group, subject_source, body_source in (
                (False, template.subject, template.body),
                (True, template.subject_cy.strip() or template.subject, template.body_cy)):
            indexes = [i for i, w in enumerate(use_welsh) if w == welsh_group]
            if not indexes:
                continue
            if welsh_group:
                check_template(subject_source, "subject")
                check_template(body_source, "body")
            contexts = [targets[i].context for i in indexes]
            for i, subject, body in zip(indexes, templating.render_many(subject_source, contexts, MERGE_FIELDS,
                                                                        "subject"),
                                        templating.render_many(body_source, contexts, MERGE_FIELDS, "body")):
                rendered[i] = (subject, body)
        merged = [(t, *rendered[i]) for i, t in enumerate(targets)]
        pdf = _pdf(org.name if org else "", merged)
        emailed = no_email = 0
        for t, subject, body in merged:
            sent = False
            if email:
                if t.client_email and "@" in t.client_email:
                    outbox.queue(s, to=t.client_email, subject=subject, body=body, organisation_id=org_id,
                                 attachments=[(f"letter-{t.reference}.pdf", "application/pdf",
                                               _pdf(org.name if org else "", [(t, subject, body)]))],
                                 related=("letter", t.reference))
                    emailed += 1
                    sent = True
                else:
                    no_email += 1
            s.add(ClientEvent(organisation_id=org_id, client_id=t.client_id, offer_id=t.offer_id,
                              booking_id=t.booking_id, kind="letter",
                              detail=f"{template.name} letter produced{' and emailed' if sent else ''} "
                                     f"({t.reference})"[:500], username=actor.username))
        s.flush()
        for t, _subject, _body in merged:
            audit.record(s, actor, "letter", t.reference, "produced",
                         after={"template": template.code, "client_id": t.client_id, "booking_id": t.booking_id,
                                "emailed": email and bool(t.client_email), "run": label},
                                subject=audit.about_client(t.client_id))
    stamp = london_date(utcnow()).isoformat()
    return LetterRun(pdf=pdf, filename=f"letters-{template.code}-{label}-{stamp}.pdf", count=len(merged),
                     emailed=emailed, no_email=no_email, references=[t.reference for t, _, _ in merged])


def produce_one(actor: Actor, code: str, reference: str, email: bool = False) -> LetterRun:
    """One letter for the client with this booking or offer reference."""
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        _template(s, org_id, code)
        pair = _resolve_reference(s, org_id, reference)
    return _produce(actor, code, [pair], email, "single")


def produce_bulk(actor: Actor, code: str, values: dict[str, Any], email: bool = False) -> LetterRun:
    """One PDF, a letter per booking matching the filter (for example unpaid bookings for next week)."""
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    f = parse_filter(values)
    with read_session() as s:
        _template(s, org_id, code)
        pairs = select_bookings(s, org_id, f)
    return _produce(actor, code, list(pairs), email, "bulk")


def seed_templates() -> int:
    """Give every organisation the shipped templates it does not have (demo data)."""
    added = 0
    with write_session() as s:
        for org_id in s.exec(select(Organisation.id)).all():
            added += ensure_templates(s, org_id)
    return added
