"""The reports suite: courses, venue utilisation, clients before attendance, bookings by course type and channel
over time, and the telephone call analysis. Every report is scoped to the actor's organisation in SQL, needs
``reports.view``, and is one ``Report``: a header and rows (a generator, so exports stream), plus a small chart
figure for the page.

Exports (CSV and XLSX) neutralise any text cell a spreadsheet would read as a formula (one beginning with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) by putting an apostrophe in front of it.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import select

from atlas_app.db import read_session, utcnow
from atlas_app.domain.statuses import BookingStatus, PayState, SessionStatus
from atlas_app.models import Booking, CallLog, Client, CourseSession, CourseType, Offer, Region, Venue
from atlas_app.services.platform import bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed  # noqa: F401  (NotFound re-used by the export routes)
from atlas_app.services.booking.offers import ONLINE_CAPABLE_CALL_TYPES
from atlas_app.services.payments import payment_summaries
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, london_date, london_midnight

REPORTS: dict[str, str] = {
    "courses": "Courses: capacity, booked, paid and fill rate",
    "venues": "Venue utilisation",
    "pre_attendance": "Clients before attendance",
    "channels": "Bookings by course type and channel",
    "calls": "Telephone call analysis",
}
PERIODS = ("day", "week", "month")
CHANNELS = ("online", "telephone", "api")
CALL_VIEWS = ("type_outcome", "hour", "weekday")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
MAX_RANGE_DAYS = 800
_PAID_STATES = PayState.SETTLED


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    course_type_id: int | None = None
    venue_id: int | None = None
    region_id: int | None = None
    channel: str | None = None
    period: str = "week"
    session_id: int | None = None
    view: str = "type_outcome"


@dataclass
class Report:
    key: str
    title: str
    columns: list[str]
    rows: Iterator[list[Any]]
    # Plotly traces for the page: [{"type": "bar", "x": [...], "y": [...], "name": ...}]
    chart: list[dict[str, Any]] = field(default_factory=list)
    chart_title: str = ""


def _date(value: Any, name: str, default: date) -> date:
    if value in (None, ""):
        return default
    if isinstance(value, date):
        return bounds.filter_date(value, name)
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} must be a date (YYYY-MM-DD).",
                               {name: "invalid"}) from None
    return bounds.filter_date(day, name)


def _id(value: Any, name: str) -> int | None:
    if value in (None, "", "all"):
        return None
    return bounds.parse_id(value, name)


def parse_filters(values: dict[str, Any], report: str = "courses") -> Filters:
    today = london_date(utcnow())
    past = report in ("channels", "calls")
    default_from = today - timedelta(days=90) if past else today - timedelta(days=30)
    default_to = today if past else today + timedelta(days=60)
    f_from = _date(values.get("date_from"), "date_from", default_from)
    f_to = _date(values.get("date_to"), "date_to", default_to)
    if f_to < f_from:
        raise ValidationFailed("The end date is before the start date.", {"date_to": "before start"})
    if (f_to - f_from).days > MAX_RANGE_DAYS:
        raise ValidationFailed(f"Choose a period of at most {MAX_RANGE_DAYS} days.", {"date_to": "too long"})
    channel = str(values.get("channel") or "") or None
    if channel is not None and channel not in CHANNELS:
        raise ValidationFailed("Choose a booking channel.", {"channel": "invalid"})
    period = str(values.get("period") or "week")
    if period not in PERIODS:
        raise ValidationFailed("Choose day, week or month.", {"period": "invalid"})
    view = str(values.get("view") or "type_outcome")
    if view not in CALL_VIEWS:
        raise ValidationFailed("Choose how to group the calls.", {"view": "invalid"})
    return Filters(date_from=f_from, date_to=f_to, course_type_id=_id(values.get("course_type_id"), "course_type_id"),
                   venue_id=_id(values.get("venue_id"), "venue_id"), region_id=_id(values.get("region_id"), "region_id"),
                   channel=channel, period=period, session_id=_id(values.get("session_id"), "session_id"), view=view)


def _bounds(f: Filters) -> tuple[datetime, datetime]:
    return london_midnight(f.date_from), london_midnight(f.date_to + timedelta(days=1))


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _session_query(org_id: int, f: Filters):
    start, end = _bounds(f)
    q = (select(CourseSession, CourseType, Venue, Region)
         .join(CourseType, CourseType.id == CourseSession.course_type_id)
         .outerjoin(Venue, Venue.id == CourseSession.venue_id)
         .outerjoin(Region, Region.id == Venue.region_id)
         .where(CourseSession.organisation_id == org_id, CourseSession.starts_at >= start,
                CourseSession.starts_at < end, CourseSession.status != SessionStatus.CANCELLED))
    if f.course_type_id:
        q = q.where(CourseSession.course_type_id == f.course_type_id)
    if f.venue_id:
        q = q.where(CourseSession.venue_id == f.venue_id)
    if f.region_id:
        q = q.where(Venue.region_id == f.region_id)
    return q.order_by(CourseSession.starts_at, CourseSession.id)


def _booked_and_paid(s, session_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    booked: dict[int, int] = defaultdict(int)
    paid: dict[int, int] = defaultdict(int)
    for i in range(0, len(session_ids), 500):
        chunk = session_ids[i:i + 500]
        rows = s.exec(select(Booking.id, Booking.session_id).where(Booking.session_id.in_(chunk),
                                                                   Booking.status.in_(BookingStatus.HOLDS_SEAT))).all()
        for _bid, sid in rows:
            booked[sid] += 1
        ids = [bid for bid, _ in rows]
        for j in range(0, len(ids), 500):
            sums = payment_summaries(s, ids[j:j + 500])
            for bid, sid in rows[j:j + 500]:
                if bid in sums and sums[bid].state in _PAID_STATES:
                    paid[sid] += 1
    return booked, paid


def _courses(org_id: int, f: Filters) -> Report:
    columns = ["Date", "Time", "Course code", "Course", "Venue", "Region", "Capacity", "Booked", "Paid",
               "Fill rate %"]
    with read_session() as s:
        sessions = s.exec(_session_query(org_id, f)).all()
        booked, paid = _booked_and_paid(s, [cs.id for cs, *_ in sessions])
    rows = []
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for cs, ct, v, r in sessions:
        start = cs.starts_at.astimezone(LONDON)
        n = booked.get(cs.id, 0)
        rows.append([start.date().isoformat(), f"{start:%H:%M}", ct.code, ct.name, v.name if v else "Online",
                     r.name if r else "", cs.capacity, n, paid.get(cs.id, 0), _pct(n, cs.capacity)])
        by_type[ct.code][0] += cs.capacity
        by_type[ct.code][1] += n
    codes = sorted(by_type)
    chart = [{"type": "bar", "name": "Capacity", "x": codes, "y": [by_type[c][0] for c in codes]},
             {"type": "bar", "name": "Booked", "x": codes, "y": [by_type[c][1] for c in codes]}]
    return Report("courses", REPORTS["courses"], columns, iter(rows), chart, "Capacity and seats booked by course")


def _venues(org_id: int, f: Filters) -> Report:
    columns = ["Venue", "Region", "Sessions", "Capacity", "Booked", "Utilisation %"]
    with read_session() as s:
        sessions = s.exec(_session_query(org_id, f)).all()
        booked, _paid = _booked_and_paid(s, [cs.id for cs, *_ in sessions])
    agg: dict[str, list[Any]] = {}
    for cs, _ct, v, r in sessions:
        name = v.name if v else "Online"
        row = agg.setdefault(name, [name, r.name if r else "", 0, 0, 0])
        row[2] += 1
        row[3] += cs.capacity
        row[4] += booked.get(cs.id, 0)
    rows = [row + [_pct(row[4], row[3])] for _, row in sorted(agg.items())]
    chart = [{"type": "bar", "name": "Utilisation %", "x": [r[0] for r in rows], "y": [r[5] for r in rows]}]
    return Report("venues", REPORTS["venues"], columns, iter(rows), chart, "Utilisation by venue (%)")


def _pre_attendance(org_id: int, f: Filters) -> Report:
    columns = ["Session date", "Time", "Course", "Venue", "Booking", "Client", "Offer", "Status", "Payment",
               "Balance £", "Needs", "Phone", "Email"]

    def rows() -> Iterator[list[Any]]:
        start, end = _bounds(f)
        q = (select(Booking, CourseSession, CourseType, Venue, Offer, Client)
             .join(CourseSession, CourseSession.id == Booking.session_id)
             .join(CourseType, CourseType.id == CourseSession.course_type_id)
             .outerjoin(Venue, Venue.id == CourseSession.venue_id)
             .join(Offer, Offer.id == Booking.offer_id)
             .join(Client, Client.id == Offer.client_id)
             .where(Booking.organisation_id == org_id, Booking.status.in_(BookingStatus.BOOKED),
                    CourseSession.starts_at >= start, CourseSession.starts_at < end))
        if f.session_id:
            q = q.where(CourseSession.id == f.session_id)
        if f.course_type_id:
            q = q.where(CourseSession.course_type_id == f.course_type_id)
        if f.venue_id:
            q = q.where(CourseSession.venue_id == f.venue_id)
        q = q.order_by(CourseSession.starts_at, CourseSession.id, Client.last_name, Client.first_name)
        with read_session() as s:
            batch: list[tuple] = []
            for row in s.exec(q.execution_options(yield_per=500)):
                batch.append(tuple(row))
                if len(batch) == 500:
                    yield from _pre_rows(s, batch)
                    batch = []
            if batch:
                yield from _pre_rows(s, batch)

    return Report("pre_attendance", REPORTS["pre_attendance"], columns, rows())


def _needs_text(needs: dict[str, Any]) -> str:
    parts = []
    for key, value in (needs or {}).items():
        label = key.replace("_", " ")
        parts.append(label if value is True else f"{label}: {value}")
    return "; ".join(parts)


def _pre_rows(s, batch: list[tuple]) -> Iterator[list[Any]]:
    sums = payment_summaries(s, [b.id for b, *_ in batch])
    for b, cs, ct, v, offer, client in batch:
        start = cs.starts_at.astimezone(LONDON)
        summary = sums.get(b.id)
        yield [start.date().isoformat(), f"{start:%H:%M}", ct.code, v.name if v else "Online", b.reference,
               f"{client.first_name} {client.last_name}", offer.offer_reference, b.status.replace("_", " "),
               summary.label if summary else "", round((summary.outstanding_pence if summary else 0) / 100, 2),
               _needs_text(b.needs), client.phone, client.email]


def _bucket(day: date, period: str) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return f"{day:%Y-%m}"


def _channels(org_id: int, f: Filters) -> Report:
    columns = [{"day": "Day", "week": "Week beginning", "month": "Month"}[f.period], "Course code", "Course",
               "Channel", "Bookings"]
    start, end = _bounds(f)
    q = (select(Booking.created_at, Booking.channel, CourseType.code, CourseType.name)
         .join(CourseSession, CourseSession.id == Booking.session_id)
         .join(CourseType, CourseType.id == CourseSession.course_type_id)
         .where(Booking.organisation_id == org_id, Booking.created_at >= start, Booking.created_at < end,
                Booking.status != BookingStatus.HELD))
    if f.course_type_id:
        q = q.where(CourseSession.course_type_id == f.course_type_id)
    if f.channel:
        q = q.where(Booking.channel == f.channel)
    counts: Counter = Counter()
    with read_session() as s:
        for created, channel, code, name in s.exec(q.execution_options(yield_per=1000)):
            counts[(_bucket(london_date(created), f.period), code, name, channel)] += 1
    rows = [[b, code, name, channel, n] for (b, code, name, channel), n in sorted(counts.items())]
    buckets = sorted({r[0] for r in rows})
    chart = []
    for channel in CHANNELS:
        per = Counter()
        for r in rows:
            if r[3] == channel:
                per[r[0]] += r[4]
        if per:
            chart.append({"type": "bar", "name": channel.capitalize(), "x": buckets, "y": [per[b] for b in buckets]})
    return Report("channels", REPORTS["channels"], columns, iter(rows), chart, "Bookings by channel over time")


def _calls(org_id: int, f: Filters) -> Report:
    start, end = _bounds(f)
    q = select(CallLog.at, CallLog.call_type, CallLog.outcome).where(
        CallLog.organisation_id == org_id, CallLog.at >= start, CallLog.at < end)
    by_type: Counter = Counter()
    by_hour: Counter = Counter()
    by_day: Counter = Counter()
    with read_session() as s:
        for at, call_type, outcome in s.exec(q.execution_options(yield_per=1000)):
            local = at.astimezone(LONDON)
            by_type[(call_type, outcome)] += 1
            by_hour[local.hour] += 1
            by_day[local.weekday()] += 1
    total = sum(by_type.values())
    if f.view == "hour":
        columns = ["Hour", "Calls", "Share %"]
        rows = [[f"{h:02d}:00", by_hour[h], _pct(by_hour[h], total)] for h in sorted(by_hour)]
        chart = [{"type": "bar", "name": "Calls", "x": [r[0] for r in rows], "y": [r[1] for r in rows]}]
        title = "Calls by hour of the day"
    elif f.view == "weekday":
        columns = ["Day", "Calls", "Share %"]
        rows = [[WEEKDAYS[d], by_day[d], _pct(by_day[d], total)] for d in sorted(by_day)]
        chart = [{"type": "bar", "name": "Calls", "x": [r[0] for r in rows], "y": [r[1] for r in rows]}]
        title = "Calls by day of the week"
    else:
        columns = ["Call type", "Outcome", "Calls", "Share %", "Could have been online"]
        rows = [[t.replace("_", " "), o.replace("_", " "), n, _pct(n, total),
                 "Yes" if t in ONLINE_CAPABLE_CALL_TYPES else "No"]
                for (t, o), n in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))]
        types = Counter()
        for (t, _o), n in by_type.items():
            types[t] += n
        names = sorted(types, key=lambda t: -types[t])
        chart = [{"type": "bar", "name": "Calls", "x": [t.replace("_", " ") for t in names],
                  "y": [types[t] for t in names]}]
        online = sum(n for (t, _o), n in by_type.items() if t in ONLINE_CAPABLE_CALL_TYPES)
        title = f"Calls by type: {online} of {total} ({_pct(online, total)}%) could have been done online"
    return Report("calls", REPORTS["calls"], columns, iter(rows), chart, title)


_BUILDERS = {"courses": _courses, "venues": _venues, "pre_attendance": _pre_attendance, "channels": _channels,
             "calls": _calls}


def run(actor: Actor, report: str, values: dict[str, Any] | Filters) -> Report:
    """Build a report for the actor's organisation. ``values`` are the raw filter values (from a page or a URL)."""
    actor.require(Perm.REPORTS_VIEW)
    org_id = actor.require_org()
    if report not in _BUILDERS:
        raise NotFound("No such report.")
    f = values if isinstance(values, Filters) else parse_filters(values, report)
    return _BUILDERS[report](org_id, f)


def filter_options(actor: Actor) -> dict[str, list[tuple[str, str]]]:
    """The organisation's course types, venues and regions, for the filter menus."""
    actor.require(Perm.REPORTS_VIEW)
    org_id = actor.require_org()
    with read_session() as s:
        types = s.exec(select(CourseType).where(CourseType.organisation_id == org_id).order_by(CourseType.code)).all()
        venues = s.exec(select(Venue).where(Venue.organisation_id == org_id).order_by(Venue.name)).all()
        regions = s.exec(select(Region).where(Region.organisation_id == org_id).order_by(Region.sort_order)).all()
    return {"course_types": [(str(t.id), f"{t.code} – {t.name}") for t in types],
            "venues": [(str(v.id), v.name) for v in venues],
            "regions": [(str(r.id), r.name) for r in regions]}


# --- exports ---------------------------------------------------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """A value a spreadsheet will not run: text beginning =, +, -, @, tab or CR gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(_DANGEROUS):
        return "'" + text
    return text


def csv_chunks(report: Report, rows_per_chunk: int = 200) -> Iterator[bytes]:
    """The report as CSV (UTF-8 with a byte-order mark, for Excel), a chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([safe_cell(c) for c in report.columns])
    n = 0
    for row in report.rows:
        writer.writerow([safe_cell(c) for c in row])
        n += 1
        if n % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate(0)
    yield buffer.getvalue().encode("utf-8")


def xlsx_chunks(report: Report, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The report as an XLSX workbook. Rows go straight to openpyxl's write-only sheet (kept on disk, not in
    memory); the saved file is then streamed and removed."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=report.key[:31])
    header = []
    for c in report.columns:
        cell = WriteOnlyCell(ws, value=safe_cell(c))
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in report.rows:
        ws.append([_xlsx_value(ws, c) for c in row])
    fd, path = tempfile.mkstemp(prefix="atlas-report-", suffix=".xlsx")
    os.close(fd)
    try:
        wb.save(path)
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk
    finally:
        os.unlink(path)


def _xlsx_value(ws, value: Any):
    from openpyxl.cell import WriteOnlyCell

    safe = safe_cell(value)
    if isinstance(safe, str) and safe.startswith("'"):
        # Stored as text, never as a formula: openpyxl would otherwise treat a leading "=" as one.
        cell = WriteOnlyCell(ws, value=safe)
        cell.data_type = "s"
        return cell
    return safe


def export_filename(report: Report, fmt: str) -> str:
    return f"{report.key}-{london_date(utcnow()).isoformat()}.{fmt}"
