"""Course reminders: each organisation's schedule per course type and channel, and the job that queues them.

A schedule point is a channel and a number of hours before the course starts. A course type without points of its
own has the shipped schedule: email 7 days and 2 days before, a text message 1 day before. A client gets a channel's
reminder only when they agreed to that channel (``client.email_consent`` / ``sms_consent``) and have an address or a
mobile number for it.

The job (``queue_due``, run by the housekeeping loop and ``python -m atlas_app send-reminders``) finds the booked
clients (awaiting payment or confirmed) of scheduled sessions whose point has come, and for each channel queues the
latest point passed, if the booking was made before it (a client who booked yesterday is not reminded of last
week's point). Each reminder is claimed first as a ``reminder_dispatch`` row, unique per booking, session and point,
in the transaction that queues the message: several workers at once, a second run, or a run after a restart find
the row there and queue nothing twice. A booking moved to another session is reminded of its new session; a
reminder already queued for the old one, or for a booking since cancelled, is not sent (``outbox.STILL_WANTED``).
The texts are the organisation's client email templates ``course_reminder`` and ``course_reminder_sms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects import sqlite
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, SessionStatus
from atlas_app.models import (
    Booking,
    Client,
    CourseSession,
    CourseType,
    EmailMessage,
    Offer,
    Organisation,
    Venue,
)
from atlas_app.models.letters import EmailTemplate
from atlas_app.models.reminders import ReminderDispatch, ReminderSchedule
from atlas_app.services.booking import emails
from atlas_app.services.booking.email_defaults import DEFAULT_LANGUAGE, KINDS, shipped
from atlas_app.services.booking.names import CourseNames, in_language
from atlas_app.services.platform import audit, bounds, i18n, outbox, templating, welsh
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON

CHANNELS = ("email", "sms")
DEFAULT_SCHEDULE: tuple[tuple[str, int], ...] = (("email", 168), ("email", 48), ("sms", 24))
KIND_BY_CHANNEL = {"email": "course_reminder", "sms": "course_reminder_sms"}
MAX_HOURS = 24 * 60  # the earliest point: 60 days before
MAX_POINTS = 10
BATCH = 2000  # booking ids per range: one transaction each
LOCK_KEY = 1_917_000  # PostgreSQL advisory lock class of the reminder job's ranges


def point_name(channel: str, hours: int) -> str:
    return f"{channel}:{hours}"


# --- the schedule ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulePoint:
    channel: str
    hours_before: int

    @property
    def label(self) -> str:
        days, hours = divmod(self.hours_before, 24)
        when = (f"{days} day{'s' if days != 1 else ''}" if days else "") + \
            (f"{' ' if days else ''}{hours} hour{'s' if hours != 1 else ''}" if hours else "")
        return f"{'Email' if self.channel == 'email' else 'Text message'} {when} before"


@dataclass(frozen=True)
class CourseSchedule:
    course_type_id: int
    course_name: str
    points: list[SchedulePoint]
    is_default: bool


def _course_type(s: Session, org_id: int, course_type_id: Any) -> CourseType:
    ct = s.exec(select(CourseType).where(CourseType.id == bounds.query_id(course_type_id),
                                         CourseType.organisation_id == org_id)).first()
    if ct is None:
        raise NotFound("That course type is not in your organisation.")
    return ct


def _points(s: Session, course_type_id: int) -> list[SchedulePoint]:
    rows = s.exec(select(ReminderSchedule).where(ReminderSchedule.course_type_id == course_type_id)).all()
    return sorted((SchedulePoint(r.channel, r.hours_before) for r in rows),
                  key=lambda p: (p.channel, -p.hours_before))


def schedules(actor: Actor) -> list[CourseSchedule]:
    """Every active course type of the organisation with its reminder points (the shipped ones where it has none)."""
    actor.require(Perm.CATALOGUE_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        types = s.exec(select(CourseType).where(CourseType.organisation_id == org_id, CourseType.is_active)
                       .order_by(CourseType.name)).all()
        out = []
        for ct in types:
            points = _points(s, ct.id)
            shown = [p for p in points if p.hours_before > 0] if points else \
                [SchedulePoint(c, h) for c, h in DEFAULT_SCHEDULE]
            out.append(CourseSchedule(ct.id, f"{ct.name} ({ct.code})", shown, not points))
        return out


def set_schedule(actor: Actor, course_type_id: Any, points: list[tuple[str, int]]) -> CourseSchedule:
    """Replace a course type's reminder points. An empty list means no reminders for it."""
    actor.require(Perm.CATALOGUE_MANAGE)
    org_id = actor.require_org()
    clean: set[tuple[str, int]] = set()
    for channel, hours in points:
        if channel not in CHANNELS:
            raise ValidationFailed("A reminder goes by email or text message.", {"channel": "invalid"})
        try:
            hours = int(hours)
        except (TypeError, ValueError):
            raise ValidationFailed("Give the hours before the course as a whole number.", {"hours": "invalid"}) \
                from None
        if not 1 <= hours <= MAX_HOURS:
            raise ValidationFailed(f"A reminder is between 1 hour and {MAX_HOURS // 24} days before the course.",
                                   {"hours": "out of range"})
        clean.add((channel, hours))
    if len(clean) > MAX_POINTS:
        raise ValidationFailed(f"At most {MAX_POINTS} reminders per course type.", {"points": "too many"})
    with write_session() as s:
        ct = _course_type(s, org_id, course_type_id)
        before = [point_name(p.channel, p.hours_before) for p in _points(s, ct.id)]
        for row in s.exec(select(ReminderSchedule).where(ReminderSchedule.course_type_id == ct.id)).all():
            s.delete(row)
        s.flush()
        if not clean:
            # "No reminders" is stored as a point no booking reaches, so it is not mistaken for "the shipped ones".
            clean = {("email", 0)}
        for channel, hours in sorted(clean):
            s.add(ReminderSchedule(organisation_id=org_id, course_type_id=ct.id, channel=channel,
                                   hours_before=hours))
        audit.record(s, actor, "reminder_schedule", ct.id, "update", before={"points": before},
                     after={"points": [point_name(c, h) for c, h in sorted(clean)]}, organisation_id=org_id)
        s.flush()
        points = [p for p in _points(s, ct.id) if p.hours_before > 0]
        return CourseSchedule(ct.id, f"{ct.name} ({ct.code})", points, False)


def reset_schedule(actor: Actor, course_type_id: Any) -> None:
    """Back to the shipped schedule."""
    actor.require(Perm.CATALOGUE_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        ct = _course_type(s, org_id, course_type_id)
        for row in s.exec(select(ReminderSchedule).where(ReminderSchedule.course_type_id == ct.id)).all():
            s.delete(row)
        audit.record(s, actor, "reminder_schedule", ct.id, "reset", organisation_id=org_id)


# --- the job ---------------------------------------------------------------------------------------------------


def _all_points(s: Session) -> dict[int, list[tuple[str, int]]]:
    """course type id -> its points; a course type absent here has the shipped schedule."""
    out: dict[int, list[tuple[str, int]]] = {}
    for ct_id, channel, hours in s.exec(select(ReminderSchedule.course_type_id, ReminderSchedule.channel,
                                               ReminderSchedule.hours_before)).all():
        out.setdefault(ct_id, []).append((channel, hours))
    return out


def _due_points(points: list[tuple[str, int]], starts_at: datetime, booked_at: datetime,
                now: datetime) -> list[tuple[str, int]]:
    """For each channel, the latest point that has come, if the booking was made before it."""
    chosen: dict[str, int] = {}
    for channel, hours in points:
        if hours <= 0:
            continue
        at = starts_at - timedelta(hours=hours)
        if at <= now and booked_at < at and (channel not in chosen or hours < chosen[channel]):
            chosen[channel] = hours
    return sorted(chosen.items())


_CLAIM_PG = text(
    "INSERT INTO reminder_dispatch (organisation_id, booking_id, session_id, point, created_at) "
    "SELECT u.organisation_id, u.booking_id, u.session_id, u.point, :now "
    "FROM unnest(CAST(:organisation_ids AS integer[]), CAST(:booking_ids AS integer[]), "
    "CAST(:session_ids AS integer[]), CAST(:points AS varchar[])) AS u(organisation_id, booking_id, session_id, point) "
    "ON CONFLICT (booking_id, session_id, point) DO NOTHING RETURNING booking_id, point")


def _claim(s: Session, rows: list[dict], now: datetime) -> set[tuple[int, str]]:
    """Insert the dispatch rows, skipping those already there (another run's, held by the unique key); the ones
    this run inserted. On PostgreSQL one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` per range;
    elsewhere a multi-row INSERT."""
    if not rows:
        return set()
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        found = conn.execute(_CLAIM_PG, {
            "now": now, "organisation_ids": [r["organisation_id"] for r in rows],
            "booking_ids": [r["booking_id"] for r in rows], "session_ids": [r["session_id"] for r in rows],
            "points": [r["point"] for r in rows]})
        return {(r.booking_id, r.point) for r in found}
    table = ReminderDispatch.__table__
    statement = sqlite.insert(table).on_conflict_do_nothing(
        index_elements=["booking_id", "session_id", "point"]).returning(table.c.booking_id, table.c.point)
    claimed: set[tuple[int, str]] = set()
    for start in range(0, len(rows), 500):
        claimed.update((r.booking_id, r.point) for r in conn.execute(statement, rows[start:start + 500]))
    return claimed


class _Templates:
    """The organisations' reminder templates, read once per run and compiled once each."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.cache: dict[tuple[int, str, str], tuple[str, str]] = {}
        self.names: dict[int, str] = {}

    def get(self, org_id: int, kind: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
        """The organisation's wording of ``kind`` in ``language``, else the shipped wording in that language."""
        key = (org_id, kind, language)
        if key not in self.cache:
            row = self.s.exec(select(EmailTemplate).where(EmailTemplate.organisation_id == org_id,
                                                          EmailTemplate.kind == kind,
                                                          EmailTemplate.language == language)).first()
            k = KINDS[kind]
            default = shipped(k, language)
            pair = (row.subject, row.body) if row is not None else default
            try:
                templating.compile_template(pair[0], k.fields, "subject")
                templating.compile_template(pair[1], k.fields, "body")
            except ValidationFailed:
                pair = default
            self.cache[key] = pair
        return self.cache[key]

    def organisation(self, org_id: int) -> str:
        if org_id not in self.names:
            org = self.s.get(Organisation, org_id)
            self.names[org_id] = org.name if org else ""
        return self.names[org_id]


def joining_group(session: Any) -> dict[str, Any]:
    online = session.delivery_mode == "online"
    return {"online": online, "link": session.online_link if online else "",
            "meeting_id": session.meeting_id if online else "", "passcode": session.meeting_passcode if online else ""}


def _language(row: Any) -> str:
    """The client's reminders' language (``welsh.correspondence_language``: their choice and the switch)."""
    return welsh.correspondence_language(row.language, row.welsh_enabled)


def _session_part(row: Any, language: str) -> tuple[dict[str, Any], str]:
    """The booking group's fields that every booking on the session shares in one language, and what to bring
    (worked out once per session and language), the names from ``names.in_language``."""
    named = in_language(CourseNames.of_rows(row, row), language)
    venue = named.venue_name or "Online"
    online = row.venue_name is None or row.venue_online
    address = "Online" if online else ", ".join(
        x for x in [row.address_line1, row.address_line2, row.town, row.postcode] if x)
    return {"course_name": named.course_name, "course_code": row.course_code,
            "when": emails.moment(row.starts_at, language),
            "ends": f"{row.ends_at.astimezone(LONDON):%H:%M}", "venue": venue,
            "where": venue + (", " + address if address != "Online" else ""), "directions": named.directions,
            "terms": ""}, named.what_to_bring


def _context(row: Any, org_name: str, session_part: tuple[dict[str, Any], str],
             language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """The same groups as ``emails.booking_context`` gives a client email, plus course and joining, in the client's
    language (Welsh dates and money by Babel's ``cy`` locale)."""
    welsh_text = language == i18n.CY
    part, what_to_bring = session_part
    return {
        "client": {"name": f"{row.first_name} {row.last_name}", "first_name": row.first_name,
                   "last_name": row.last_name, "offer_reference": row.offer_reference,
                   "critical_date": i18n.long_date(row.critical_date, language) if welsh_text
                   else f"{row.critical_date:%d %B %Y}"},
        "booking": {"reference": row.reference, **part,
                    "fee": i18n.money(row.fee_pence, language),
                    "payment_due": emails.moment(row.payment_due_at, language) if row.payment_due_at
                    else i18n._("before the course", language),
                    "awaiting_payment": row.status == BookingStatus.AWAITING_PAYMENT,
                    "status": emails.status_word(row.status, language)},
        "organisation": {"name": org_name},
        "course": {"what_to_bring": what_to_bring},
        "joining": joining_group(row),
    }


def _candidates(s: Session, now: datetime, horizon: datetime, low: int, high: int):
    """The booked clients of sessions ahead within the horizon, booking ids in [low, high)."""
    return s.connection().execute(
        select(Booking.id, Booking.organisation_id, Booking.session_id, Booking.reference, Booking.status,
               Booking.created_at, Booking.fee_pence, Booking.payment_due_at,
               CourseSession.starts_at, CourseSession.ends_at, CourseSession.delivery_mode,
               CourseSession.online_link, CourseSession.meeting_id, CourseSession.meeting_passcode,
               CourseSession.course_type_id, CourseType.name.label("course_name"),
               CourseType.code.label("course_code"), CourseType.what_to_bring,
               CourseType.name_cy.label("course_name_cy"), CourseType.what_to_bring_cy,
               Venue.name.label("venue_name"), Venue.is_online.label("venue_online"), Venue.address_line1,
               Venue.address_line2, Venue.town, Venue.postcode, Venue.name_cy.label("venue_name_cy"),
               Venue.accessibility_notes, Venue.accessibility_notes_cy,
               Offer.offer_reference, Offer.critical_date,
               Client.first_name, Client.last_name, Client.email, Client.phone, Client.email_consent,
               Client.sms_consent, Client.language, Organisation.welsh_enabled)
        .join(CourseSession, CourseSession.id == Booking.session_id)
        .join(CourseType, CourseType.id == CourseSession.course_type_id)
        .outerjoin(Venue, Venue.id == CourseSession.venue_id)
        .join(Offer, Offer.id == Booking.offer_id)
        .join(Client, Client.id == Offer.client_id)
        .join(Organisation, Organisation.id == Booking.organisation_id)
        .where(Booking.status.in_(BookingStatus.BOOKED), CourseSession.status == SessionStatus.SCHEDULED,
               CourseSession.starts_at > now, CourseSession.starts_at <= horizon, Booking.id >= low,
               Booking.id < high)
        .order_by(Booking.id)
    ).all()


@dataclass(frozen=True)
class ReminderRun:
    queued: int
    skipped: int  # due but not sent: no consent, address or mobile number for the channel


def _bucket_is_ours(s: Session, bucket: int) -> bool:
    """On PostgreSQL, several workers share a run out: each range of bookings goes to the first worker that takes
    its lock (held to the end of the transaction), and the others move on to the next range. The unique dispatch
    rows keep "once" either way; on SQLite one writer runs at a time, so every worker simply tries every range."""
    if s.get_bind().dialect.name != "postgresql":
        return True
    return bool(s.connection().execute(text("SELECT pg_try_advisory_xact_lock(:k, :b)"),
                                       {"k": LOCK_KEY, "b": bucket}).scalar())


def _queue_bucket(s: Session, rows: list, points_by_type: dict, now: datetime) -> tuple[int, int]:
    skipped = 0
    wanted: list[tuple[Any, str, int]] = []
    for row in rows:
        points = points_by_type.get(row.course_type_id, DEFAULT_SCHEDULE)
        for channel, hours in _due_points(points, row.starts_at, row.created_at, now):
            if channel == "email" and not (row.email_consent and row.email and "@" in row.email) or channel == "sms" and not (row.sms_consent and outbox.is_mobile(row.phone or "")):
                skipped += 1
            else:
                wanted.append((row, channel, hours))
    claimed = _claim(s, [{"organisation_id": row.organisation_id, "booking_id": row.id,
                          "session_id": row.session_id, "point": point_name(channel, hours),
                          "created_at": now} for row, channel, hours in wanted], now)
    templates = _Templates(s)
    sessions: dict[tuple[int, str], tuple[dict[str, Any], str]] = {}
    # Grouped by organisation, kind and language, so each template is compiled once and rendered many times.
    groups: dict[tuple[int, str, str], list[tuple[Any, str, dict[str, Any]]]] = {}
    for row, channel, hours in wanted:
        if (row.id, point_name(channel, hours)) not in claimed:
            continue
        language = _language(row)
        part = sessions.get((row.session_id, language))
        if part is None:
            part = sessions[(row.session_id, language)] = _session_part(row, language)
        context = _context(row, templates.organisation(row.organisation_id), part, language)
        groups.setdefault((row.organisation_id, KIND_BY_CHANNEL[channel], language), []).append(
            (row, channel, context))
    messages = []
    for (org_id, kind, language), items in groups.items():
        subject_src, body_src = templates.get(org_id, kind, language)
        fields = KINDS[kind].fields
        contexts = [c for _, _, c in items]
        subjects = templating.render_many(subject_src, contexts, fields, "subject")
        bodies = templating.render_many(body_src, contexts, fields, "body")
        for (row, channel, context), subject, body in zip(items, subjects, bodies, strict=True):
            messages.append(outbox.message_row(
                to=row.email if channel == "email" else "", to_phone=row.phone if channel == "sms" else "",
                channel=channel, subject=subject, body=body, organisation_id=org_id,
                related=("booking", row.reference), kind=kind, personalisation=context, now=now,
                session_id=row.session_id))
    outbox.queue_many(s, messages)
    return len(messages), skipped


def queue_due(now: datetime | None = None, batch: int = BATCH) -> ReminderRun:
    """Queue every reminder that has come and was not queued before. Safe to run in several workers at once."""
    now = now or utcnow()
    with read_session() as s:
        points_by_type = _all_points(s)
        longest = max([h for pts in points_by_type.values() for _, h in pts] + [h for _, h in DEFAULT_SCHEDULE])
        horizon = now + timedelta(hours=longest)
        low, high = s.exec(
            select(func.min(Booking.id), func.max(Booking.id))
            .join(CourseSession, CourseSession.id == Booking.session_id)
            .where(Booking.status.in_(BookingStatus.BOOKED), CourseSession.status == SessionStatus.SCHEDULED,
                   CourseSession.starts_at > now, CourseSession.starts_at <= horizon)).one()
    queued = skipped = 0
    if low is None:
        return ReminderRun(0, 0)
    for bucket in range(low // batch, high // batch + 1):
        with write_session() as s:
            if not _bucket_is_ours(s, bucket):
                continue
            rows = _candidates(s, now, horizon, bucket * batch, (bucket + 1) * batch)
            if rows:
                q, k = _queue_bucket(s, rows, points_by_type, now)
                queued, skipped = queued + q, skipped + k
    return ReminderRun(queued, skipped)


def _still_on_session(s: Session, msg: EmailMessage) -> str | None:
    """A reminder is sent only while its booking is still booked on the session it is about, before the start."""
    if msg.session_id is None:
        return None
    found = s.exec(
        select(Booking.status, Booking.session_id, CourseSession.status, CourseSession.starts_at)
        .join(CourseSession, CourseSession.id == Booking.session_id)
        .where(Booking.reference == msg.related_id, Booking.organisation_id == msg.organisation_id)
    ).first()
    if found is None:
        return "The booking no longer exists; not sent."
    status, session_id, session_status, starts_at = found
    if status not in BookingStatus.BOOKED or session_id != msg.session_id:
        return "The booking is no longer on that session; not sent."
    if session_status != SessionStatus.SCHEDULED or starts_at <= utcnow():
        return "The session is no longer ahead; not sent."
    return None


for _kind in ("course_reminder", "course_reminder_sms", "joining_changed"):
    outbox.STILL_WANTED[_kind] = _still_on_session
