"""Course completions for return to the police: who attended, did not attend or was turned away, and when.

Rows are read from the database in batches (``yield_per``) and handed on one at a time, so an export of a busy
year never holds every row in memory. Every export is scoped to the actor's organisation and written to the audit
trail (which filters, how it was asked for; never the rows themselves).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime, timedelta

from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.domain.statuses import BookingStatus
from atlas_app.models import Booking, CourseSession, CourseType, Offer
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, london_date, london_midnight

OUTCOMES = BookingStatus.OUTCOMES
MAX_DAYS = 731
BATCH = 500


@dataclass(frozen=True)
class CompletionRow:
    offer_reference: str
    police_force: str
    course_code: str
    course_name: str
    session_date: date
    session_start: str  # HH:MM, London time
    outcome: str  # attended, did_not_attend, turned_away
    completed: str  # "yes" when the course was completed, else "no"
    booking_reference: str
    recorded_at: str  # when the register was marked, London time


CSV_HEADER = tuple(f.name for f in fields(CompletionRow))


def _check_range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    if not isinstance(date_from, date) or not isinstance(date_to, date):
        raise ValidationFailed("Give the first and last session dates of the export.", {"date_from": "required"})
    if date_to < date_from:
        raise ValidationFailed("The last date is before the first.", {"date_to": "before first"})
    if (date_to - date_from).days > MAX_DAYS:
        raise ValidationFailed("An export can cover two years at most.", {"date_to": "too far"})
    return date_from, date_to


def iter_completions(actor: Actor, date_from: date, date_to: date, *, session_id: int | None = None,
                     batch_size: int = BATCH) -> Iterator[CompletionRow]:
    """Marked-register bookings of the actor's organisation whose session started between the two London dates
    (both included), oldest session first. ``session_id`` narrows it to one session (which must be the
    organisation's). Permission, dates and the session are checked at once, before any row is read."""
    actor.require(Perm.REPORTS_VIEW)
    org_id = actor.require_org()
    date_from, date_to = _check_range(date_from, date_to)
    if session_id is not None:
        with read_session() as s:
            session_id = _own_session(s, org_id, session_id)
    return _rows(org_id, date_from, date_to, session_id, batch_size)


def _rows(org_id: int, date_from: date, date_to: date, session_id: int | None,
          batch_size: int) -> Iterator[CompletionRow]:
    start, end = london_midnight(date_from), london_midnight(date_to + timedelta(days=1))
    query = (
        select(Offer.offer_reference, Offer.police_force, CourseType.code, CourseType.name, CourseSession.starts_at,
               Booking.status, Booking.reference, Booking.updated_at)
        .join(CourseSession, CourseSession.id == Booking.session_id)
        .join(Offer, Offer.id == Booking.offer_id)
        .join(CourseType, CourseType.id == CourseSession.course_type_id)
        .where(Booking.organisation_id == org_id, CourseSession.organisation_id == org_id,
               Offer.organisation_id == org_id, Booking.status.in_(OUTCOMES),
               CourseSession.starts_at >= start, CourseSession.starts_at < end)
        .order_by(CourseSession.starts_at, CourseSession.id, Booking.id)
        .execution_options(yield_per=max(1, int(batch_size)))
    )
    if session_id is not None:
        query = query.where(CourseSession.id == session_id)
    with read_session() as s:
        for ref, force, code, name, starts_at, status, booking_ref, marked_at in s.exec(query):
            yield CompletionRow(
                offer_reference=ref,
                police_force=force,
                course_code=code,
                course_name=name,
                session_date=london_date(starts_at),
                session_start=starts_at.astimezone(LONDON).strftime("%H:%M"),
                outcome=status,
                completed="yes" if status == BookingStatus.ATTENDED else "no",
                booking_reference=booking_ref,
                recorded_at=_london_stamp(marked_at),
            )


def _own_session(s, org_id: int, session_id: object) -> int:
    sid = bounds.id_or_none(session_id)
    if sid is None:
        raise NotFound("No such session.")
    if s.exec(select(CourseSession.id).where(CourseSession.id == sid,
                                             CourseSession.organisation_id == org_id)).first() is None:
        raise NotFound("No such session.")
    return sid


def _london_stamp(dt: datetime | None) -> str:
    return dt.astimezone(LONDON).strftime("%Y-%m-%d %H:%M") if dt else ""


def _safe(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = value.isoformat() if isinstance(value, date) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: Iterator[CompletionRow]) -> Iterator[str]:
    """The CSV text, one line at a time (header first), for streaming or joining."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_safe(c) for c in cells])
        return buffer.getvalue()

    yield line(CSV_HEADER)
    for row in rows:
        yield line(astuple(row))


def export_csv(actor: Actor, date_from: date, date_to: date, *, session_id: int | None = None,
               channel: str = "ui") -> Iterator[str]:
    """Audit the export, then stream its CSV lines. Permission, tenancy and the dates are checked before anything
    is recorded or read."""
    actor.require(Perm.REPORTS_VIEW)
    org_id = actor.require_org()
    date_from, date_to = _check_range(date_from, date_to)
    with write_session() as s:
        if session_id is not None:
            session_id = _own_session(s, org_id, session_id)
        audit.record(s, actor, "completions", session_id or "", "exported",
                     after={"date_from": date_from, "date_to": date_to, "session_id": session_id,
                            "channel": channel}, organisation_id=org_id)
    return csv_lines(iter_completions(actor, date_from, date_to, session_id=session_id))


def filename(date_from: date, date_to: date, session_id: int | None = None) -> str:
    if session_id is not None:
        return f"completions-session-{int(session_id)}-{date_from:%Y%m%d}.csv"
    return f"completions-{date_from:%Y%m%d}-{date_to:%Y%m%d}.csv"


__all__ = ["CSV_HEADER", "CompletionRow", "csv_lines", "export_csv", "filename", "iter_completions"]
