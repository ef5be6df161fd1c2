"""Client emails: each organisation's templates (subject and plain-text body per kind and language, edited by its
administrators on the letters page), rendered by the platform's template engine with the merge fields of the kind
(``email_defaults.KINDS``) and queued through the outbox in the caller's transaction.

An organisation without a row for a kind gets the shipped wording. A stored template that cannot be filled in (it
was checked when saved, so this means a limit was hit) falls back to the shipped wording too, so the client is
always told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import func
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BOOKING_CLIENT_LABELS, BookingStatus
from atlas_app.models import Booking, BookingTerms, Client, CourseSession, CourseType, Offer, Organisation
from atlas_app.models.letters import EmailTemplate
from atlas_app.services.booking.email_defaults import DEFAULT_LANGUAGE, GROUPS, KINDS, Kind, shipped
from atlas_app.services.booking.names import in_language
from atlas_app.services.platform import audit, i18n, outbox, templating
from atlas_app.services.platform import welsh as welsh_rules
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, london_text

log = logging.getLogger(__name__)

MAX_BODY = 20_000
DEMO_SUBJECT = "[DEMO] "


def _kind(code: str) -> Kind:
    kind = KINDS.get(str(code or ""))
    if kind is None:
        raise NotFound("No such kind of email.")
    return kind


def check(kind: Kind, subject: str, body: str) -> None:
    """Refuse, naming the field, a subject or body that is empty, too long, or not a valid template of the kind."""
    if not subject.strip():
        raise ValidationFailed("The email needs a subject.", {"subject": "required"})
    if not body.strip():
        raise ValidationFailed("The email needs some text.", {"body": "required"})
    if len(subject) > 300:
        raise ValidationFailed("The subject is longer than 300 characters.", {"subject": "too long"})
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"The body is longer than {MAX_BODY} characters.", {"body": "too long"})
    templating.check(subject, kind.fields, "subject")
    templating.check(body, kind.fields, "body")


# --- the merge data ------------------------------------------------------------------------------------------


def booking_context(view: Any, offer: Any, client: Any, organisation_name: str) -> dict[str, Any]:
    """The client, booking and organisation groups, from a booking view (``bookings.BookingView``), its offer (for
    the critical date) and the client's names, in the current language: the course and venue names and the
    directions from ``names.in_language`` (the Welsh ones where written), dates and money by Babel's ``cy`` locale
    ("dydd Mawrth 1 Rhagfyr 2026 am 09:30")."""
    welsh = i18n.current() == i18n.CY
    wording = getattr(view, "names", None)
    if wording is not None and (wording.course_name or wording.venue_name):
        named = in_language(wording, i18n.current())
        course_name = named.course_name or view.course_name
        venue = named.venue_name if view.venue_name != "Online" and named.venue_name else view.venue_name
        directions = named.directions
    else:
        course_name, venue, directions = view.course_name, view.venue_name, ""
    where = venue + (", " + view.venue_address if view.venue_address != "Online" else "")
    return {
        "client": {"name": f"{client.first_name} {client.last_name}", "first_name": client.first_name,
                   "last_name": client.last_name, "offer_reference": view.offer_reference,
                   "critical_date": i18n.long_date(offer.critical_date) if welsh else f"{offer.critical_date:%d %B %Y}"},
        "booking": {"reference": view.reference, "course_name": course_name, "course_code": view.course_code,
                    "when": moment(view.starts_at), "ends": f"{view.ends_at.astimezone(LONDON):%H:%M}",
                    "venue": venue, "where": where, "directions": directions, "terms": "",
                    "fee": i18n.money(view.fee_pence),
                    "payment_due": moment(view.payment_due_at) if view.payment_due_at else i18n._("before the course"),
                    "awaiting_payment": view.status == BookingStatus.AWAITING_PAYMENT,
                    "status": status_word(view.status)},
        "organisation": {"name": organisation_name},
    }


def client_language(s: Session, organisation_id: int, client: Any, offer: Any = None) -> str:
    """The language to write to the client in (``welsh.correspondence_language``): their choice, Welsh only while
    the organisation offers it. The busy booking path's offer row carries the switch; otherwise it is read."""
    choice = getattr(client, "language", None)
    if i18n.normalise(choice) != i18n.CY:
        return i18n.EN
    switch = getattr(offer, "welsh_enabled", None) if offer is not None else None
    if switch is not None:
        return welsh_rules.correspondence_language(choice, switch)
    return welsh_rules.correspondence_language_in(s, organisation_id, choice)


def _organisation_name(s: Session, organisation_id: int) -> str:
    org = s.get(Organisation, organisation_id)
    return org.name if org else ""


def _stored(s: Session, organisation_id: int, kind: str, language: str) -> EmailTemplate | None:
    return s.exec(select(EmailTemplate).where(EmailTemplate.organisation_id == organisation_id,
                                              EmailTemplate.kind == kind,
                                              EmailTemplate.language == language)).first()


LOOK_UP: Any = object()  # compose()/send(): read the organisation's template


def compose(s: Session, organisation_id: int, kind: str, context: dict[str, Any],
            language: str = DEFAULT_LANGUAGE, template: Any = LOOK_UP) -> tuple[str, str]:
    """(subject, body) of the organisation's email of ``kind`` for this merge data. ``template``: its (subject,
    body) when the caller read them already, None for the shipped wording."""
    k = _kind(kind)
    if template is LOOK_UP:
        # The organisation's wording in the client's language, else the shipped wording in that language.
        row = _stored(s, organisation_id, kind, language)
        template = (row.subject, row.body) if row is not None else None
    row = template
    shipped_subject, shipped_body = shipped(k, language)
    subject, body = template if template is not None else (shipped_subject, shipped_body)
    try:
        return (templating.render(subject, context, k.fields, "subject"),
                templating.render(body, context, k.fields, "body"))
    except ValidationFailed as exc:
        if row is None:
            raise
        log.warning("Organisation %s's %s email could not be filled in (%s); the shipped wording was sent.",
                    organisation_id, kind, exc)
        return (templating.render(shipped_subject, context, k.fields, "subject"),
                templating.render(shipped_body, context, k.fields, "body"))


def send(s: Session, kind: str, *, view: Any, offer: Any, client: Any,
         extra: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
         demo: bool = False, template: Any = LOOK_UP) -> None:
    """Queue the client's email of ``kind`` about the booking ``view``, inside the caller's transaction. ``client``
    needs first_name, last_name and email; ``extra`` holds the kind's own groups (payment, refund...), or is a
    function giving them, called in the client's language (for dates, money and words written in it)."""
    if not client or not getattr(client, "email", ""):
        return
    organisation_id = offer.organisation_id
    name = getattr(offer, "organisation_name", None)
    language = client_language(s, organisation_id, client, offer)
    if language != DEFAULT_LANGUAGE:
        template = LOOK_UP  # a template the caller read is the English one
    with i18n.using(language):
        context = booking_context(view, offer, client,
                                  _organisation_name(s, organisation_id) if name is None else name)
        context.update((extra() if callable(extra) else extra) or {})
    if "course" in _kind(kind).groups and "course" not in context:
        # The busy booking path's offer row carries it; otherwise it is read.
        wording = getattr(view, "names", None)
        bring = in_language(wording, language).what_to_bring if wording is not None and wording.course_name \
            else getattr(offer, "what_to_bring", None)
        if bring is None:
            bring = s.exec(select(CourseType.what_to_bring).where(CourseType.organisation_id == organisation_id,
                                                                  CourseType.code == view.course_code)).first()
        context["course"] = {"what_to_bring": bring or ""}
    conditions = ""
    if kind in TERMS_KINDS:
        conditions = booking_conditions(s, organisation_id, language, offer)
        context["booking"]["terms"] = conditions
    subject, body = compose(s, organisation_id, kind, context, language=language, template=template)
    if conditions and conditions not in body:
        # A wording without {{ booking.terms }}: the client is still told the terms they booked under.
        body = body.rstrip("\n") + "\n\n" + i18n.gettext("Our booking terms:", language) + "\n" + conditions + "\n"
    outbox.queue(s, to=client.email, subject=(DEMO_SUBJECT if demo else "") + subject, body=body,
                 organisation_id=organisation_id, related=("booking", view.reference), kind=kind,
                 personalisation=context)


TERMS_KINDS = frozenset({"booking_confirmation"})


def booking_conditions(s: Session, organisation_id: int, language: str, offer: Any = None) -> str:
    """The organisation's booking terms as text in ``language`` (its Welsh where written; '' for none). The busy
    booking path's offer row carries them; otherwise they are read."""
    english = getattr(offer, "terms_conditions", None)
    if english is not None:
        welsh_text = getattr(offer, "terms_conditions_cy", "") or ""
    else:
        found = s.exec(select(BookingTerms.conditions, BookingTerms.conditions_cy)
                       .where(BookingTerms.organisation_id == organisation_id)).first()
        english, welsh_text = (found[0], found[1]) if found else ("", "")
    return welsh_rules.pick(english or "", welsh_text or "", language).strip()


# --- the organisation's templates ----------------------------------------------------------------------------


def ensure_templates(s: Session, organisation_id: int) -> int:
    """Give the organisation the shipped wording of every kind it has no template for; returns how many."""
    have = set(s.exec(select(EmailTemplate.kind).where(EmailTemplate.organisation_id == organisation_id,
                                                       EmailTemplate.language == DEFAULT_LANGUAGE)).all())
    added = 0
    for kind in KINDS.values():
        if kind.code not in have:
            s.add(EmailTemplate(organisation_id=organisation_id, kind=kind.code, language=DEFAULT_LANGUAGE,
                                subject=kind.subject, body=kind.body, updated_by="atlas"))
            added += 1
    s.flush()
    return added


def seed_templates() -> int:
    """Every organisation gets the shipped wording of the kinds it lacks (demo data)."""
    added = 0
    with write_session() as s:
        for org_id in s.exec(select(Organisation.id)).all():
            added += ensure_templates(s, org_id)
    return added


@dataclass(frozen=True)
class EmailTemplateView:
    kind: str
    label: str
    language: str
    subject: str
    body: str
    updated_by: str
    updated_at: datetime | None
    is_default: bool  # the wording is the shipped one


def _view(row: EmailTemplate) -> EmailTemplateView:
    k = KINDS[row.kind]
    return EmailTemplateView(row.kind, k.label, row.language, row.subject, row.body, row.updated_by, row.updated_at,
                             row.subject == k.subject and row.body == k.body)


def _welsh_view(kind: Kind, row: EmailTemplate | None) -> EmailTemplateView:
    """The Welsh wording of ``kind``: the organisation's own, else the shipped Welsh (not stored)."""
    subject, body = shipped(kind, i18n.CY)
    if row is None:
        return EmailTemplateView(kind.code, kind.label, i18n.CY, subject, body, "", None, True)
    return EmailTemplateView(kind.code, kind.label, i18n.CY, row.subject, row.body, row.updated_by, row.updated_at,
                             (row.subject, row.body) == (subject, body))


def list_templates(actor: Actor, language: str = DEFAULT_LANGUAGE) -> list[EmailTemplateView]:
    """Every kind's wording in ``language`` ("en", or "cy": the Welsh sent to clients who asked for Welsh)."""
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    language = i18n.normalise(language)
    with write_session() as s:
        ensure_templates(s, org_id)
        rows = {r.kind: r for r in s.exec(select(EmailTemplate).where(EmailTemplate.organisation_id == org_id,
                                                                      EmailTemplate.language == language))}
        if language == i18n.CY:
            return [_welsh_view(kind, rows.get(code)) for code, kind in KINDS.items()]
        return [_view(rows[code]) for code in KINDS if code in rows]


def fields_of(kind: str) -> list[tuple[str, str]]:
    """("{{ group.field }}", what it holds) for each merge field of the kind."""
    return [("{{ " + f"{g}.{name}" + " }}", what) for g, fields in _kind(kind).fields.items()
            for name, what in fields.items()]


def save_template(actor: Actor, kind: str, subject: str, body: str,
                  language: str = DEFAULT_LANGUAGE) -> EmailTemplateView:
    """Change the organisation's wording of one kind of email in ``language``, after checking it (refused with the
    field named)."""
    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    k = _kind(kind)
    language = i18n.normalise(language)
    subject, body = str(subject or "").strip(), str(body or "")
    check(k, subject, body)
    with write_session() as s:
        ensure_templates(s, org_id)
        row = _stored(s, org_id, k.code, language)
        if row is None:  # the first Welsh wording of its own
            row = EmailTemplate(organisation_id=org_id, kind=k.code, language=language, subject="", body="")
        before = {"subject": row.subject, "body": row.body}
        row.subject, row.body, row.updated_by, row.updated_at = subject, body, actor.username, utcnow()
        s.add(row)
        s.flush()
        audit.record(s, actor, "email_template", f"{k.code}/{row.language}", "updated", before=before,
                     after={"subject": subject, "body": body})
        return _welsh_view(k, row) if language == i18n.CY else _view(row)


def restore_default(actor: Actor, kind: str, language: str = DEFAULT_LANGUAGE) -> EmailTemplateView:
    """Put the shipped wording back (audited)."""
    k = _kind(kind)
    subject, body = shipped(k, i18n.normalise(language))
    return save_template(actor, k.code, subject, body, language)


# --- preview --------------------------------------------------------------------------------------------------


def moment(dt: datetime, language: str | None = None) -> str:
    """A date and time in ``language`` (default: the current one), as every client email writes them."""
    if (i18n.normalise(language) if language is not None else i18n.current()) == i18n.CY:
        return i18n._("{date} at {time}", language).format(date=i18n.long_date(dt, language),
                                                           time=i18n.clock(dt, language))
    return london_text(dt)


def status_word(status: str, language: str | None = None) -> str:
    """A booking's status as the client is told it (``{{ booking.status }}``), in ``language``."""
    return i18n._(BOOKING_CLIENT_LABELS.get(status, status.replace("_", " ")), language)


def _sample_extra(kind: Kind, view: Any, previously: str) -> dict[str, Any]:
    """Plausible values for the kind's own groups, drawn from the booking where they can be, in the current
    language (Welsh dates and money for a Welsh template); ``previously``: the booking's session described in it."""
    fee = i18n.money(view.fee_pence)
    samples = {
        "change": {"previously": previously},
        "cancellation": {"money": i18n._("You paid {fee}. {fee} is being refunded to the card you paid with; card "
                                         "refunds usually reach your account within 5 to 10 working days.")
                         .format(fee=fee)},
        "payment": {"amount": fee, "method": i18n._("card (online)"), "received": moment(utcnow()),
                    "reference": "pi_example", "outstanding": i18n.money(0), "paid_in_full": True, "demo": False},
        "refund": {"amount": fee, "reason": i18n._("Booking cancelled"), "demo": False},
        "plan": {"instalments": "  " + i18n._("{amount} by {date}").format(
            amount=fee, date=i18n.day_text(view.starts_at))},
        "reminder": {"outstanding": fee, "on_plan": False},
        "waiting": {"link": "https://booking.example/waiting-list/seat?token=example",
                    "hold_until": moment(utcnow() + timedelta(days=1))},
        "course": {"what_to_bring": i18n._("Your photocard driving licence and any glasses you need for reading")},
        "joining": {"online": True, "link": "https://meet.example.org/j/123456", "meeting_id": "123 456",
                    "passcode": "road-safe"},
    }
    return {g: samples[g] for g in kind.groups if g in samples}


@dataclass(frozen=True)
class EmailPreview:
    reference: str
    to: str
    subject: str
    body: str


def _preview_booking(s: Session, org_id: int, reference: str) -> Booking:
    ref = str(reference or "").strip().upper()[:40]
    q = select(Booking).where(Booking.organisation_id == org_id)
    if ref:
        b = s.exec(q.where(func.upper(Booking.reference) == ref)).first()
        if b is None:
            offer = s.exec(select(Offer).where(Offer.organisation_id == org_id,
                                               func.upper(Offer.offer_reference) == ref)).first()
            b = s.exec(q.where(Booking.offer_id == offer.id).order_by(Booking.id.desc())).first() if offer else None
        if b is None:
            raise NotFound(f"No booking {ref} (or offer with a booking).")
        return b
    b = s.exec(q.order_by(Booking.id.desc())).first()
    if b is None:
        raise NotFound("There are no bookings yet to preview with.")
    return b


def preview(actor: Actor, kind: str, subject: str, body: str, reference: str = "",
            language: str = DEFAULT_LANGUAGE) -> EmailPreview:
    """The email as a real client would get it: the booking ``reference`` (else the latest booking) and sample
    values for what only the event itself knows (amounts paid or refunded...), in the template's ``language``
    (a Welsh template shows Welsh names, dates and money, Babel's ``cy`` locale)."""
    from atlas_app.services.booking.bookings import booking_view, session_texts

    actor.require(Perm.LETTERS_MANAGE)
    org_id = actor.require_org()
    k = _kind(kind)
    subject, body = str(subject or "").strip(), str(body or "")
    check(k, subject, body)
    with read_session() as s:
        b = _preview_booking(s, org_id, reference)
        view = booking_view(s, b)
        offer = s.get(Offer, b.offer_id)
        client = s.get(Client, offer.client_id)
        previously = session_texts(s, s.get(CourseSession, b.session_id))[i18n.normalise(language)]
        with i18n.using(language):
            context = booking_context(view, offer, client, _organisation_name(s, org_id))
            context.update(_sample_extra(k, view, previously))
        if k.code in TERMS_KINDS:
            context["booking"]["terms"] = booking_conditions(s, org_id, i18n.normalise(language))
    return EmailPreview(view.reference, client.email or "(no email address)",
                        templating.render(subject, context, k.fields, "subject"),
                        templating.render(body, context, k.fields, "body"))


__all__ = ["GROUPS", "KINDS", "compose", "send", "ensure_templates", "list_templates", "save_template", "preview"]
