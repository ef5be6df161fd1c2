"""Strategic-measures dashboards: casework measures (demand, capability, one-stop, system conditions) and booking
measures (channel, fill rate, payment, attendance, income, offers near their critical date).

Every figure is aggregated by the database and scoped to the actor's organisation in SQL; Python only shapes the
few aggregated rows and, for the capability chart, the latest completed demands (at most ``CAPABILITY_POINTS``) that
the XmR arithmetic needs. Demand, channel, payment, attendance and income figures are sums over the daily totals that
database triggers keep in step with the rows (``atlas_app/dashboard_rollups.py``), so a year costs a few hundred
rows whatever the volume; days are London days on both databases. The capability chart, system conditions, the cases
behind a bar, fill rates and offers near their critical date read the rows through their indexes, as does the
overdue share of unpaid bookings (it depends on the time of asking).

``change_marker`` is one small query the live dashboards poll: it changes whenever anything the organisation does
is recorded (every change writes an audit entry), so the figures are recomputed only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from atlas_app import dashboard_rollups
from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, OfferStatus, PaymentStatus, SessionStatus, sql_list
from atlas_app.models.casework import CaseLookup, CaseModule, CaseTeam
from atlas_app.models.dashboards import CapabilityChangePoint
from atlas_app.services.platform import audit, bounds
from atlas_app.services.insight import control_chart
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, london_date, london_midnight

GRAINS = ("day", "week", "month")
CAPABILITY_POINTS = 250
MAX_RANGE_DAYS = 3 * 366
CRITICAL_WINDOW_DAYS = 14
BEHIND_LIMIT = 50


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    module_id: int | None = None
    team_id: int | None = None
    demand_type_id: int | None = None
    grain: str = "week"

    @property
    def start_at(self) -> datetime:
        return london_midnight(self.start)

    @property
    def end_at(self) -> datetime:
        return london_midnight(self.end + timedelta(days=1))


def _opt_int(value: Any, name: str) -> int | None:
    if value in (None, "", "all"):
        return None
    out = bounds.id_or_none(value)
    if out is None:
        raise ValidationFailed(f"Choose a valid {name}.", {name: "invalid"})
    return out


def _date(value: Any, name: str) -> date:
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value or "")[:10])
        except ValueError:
            raise ValidationFailed(f"Enter the {name} date as YYYY-MM-DD.", {name: "invalid"}) from None
    return bounds.filter_date(value, name)


def parse_filters(data: dict[str, Any], today: date | None = None) -> Filters:
    """Validated filters from untrusted input; defaults: the last 12 weeks, by week."""
    today = today or london_date(utcnow())
    start = _date(data.get("start"), "start") if data.get("start") else today - timedelta(days=83)
    end = _date(data.get("end"), "end") if data.get("end") else today
    if end < start:
        raise ValidationFailed("The end date must not be before the start date.", {"end": "early"})
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValidationFailed("Choose a range of at most three years.", {"start": "range"})
    grain = str(data.get("grain") or "week")
    if grain not in GRAINS:
        raise ValidationFailed("Choose day, week or month.", {"grain": "invalid"})
    return Filters(start=start, end=end, module_id=_opt_int(data.get("module_id"), "module"),
                   team_id=_opt_int(data.get("team_id"), "team"),
                   demand_type_id=_opt_int(data.get("demand_type_id"), "demand type"), grain=grain)


def _view(actor: Actor) -> int:
    actor.require(Perm.DASHBOARDS_VIEW)
    return actor.require_org()


def _pg(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def _period(s: Session, column: str, grain: str) -> str:
    """SQL for the start date of the period holding the London day ``column`` (a rollup table's ``day``)."""
    assert grain in GRAINS
    if _pg(s):
        return column if grain == "day" else f"CAST(date_trunc('{grain}', CAST({column} AS timestamp)) AS date)"
    if grain == "day":
        return column
    if grain == "week":
        return f"date({column}, '-' || ((CAST(strftime('%w', {column}) AS integer) + 6) % 7) || ' days')"
    return f"strftime('%Y-%m-01', {column})"


def _day_range(f: Filters, org: int, alias: str) -> tuple[str, dict]:
    """WHERE conditions and params for a rollup table's rows of the organisation in the filters' days."""
    return (f"{alias}.organisation_id = :org AND {alias}.day >= :start_day AND {alias}.day <= :end_day",
            {"org": org, "start_day": f.start, "end_day": f.end})


def _day_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _case_scope(f: Filters, org: int, alias: str, time_column: str) -> tuple[str, list[str], dict]:
    """(JOIN, WHERE conditions, params) for rows of a case-owned table (``alias``) that the module, team and
    date filters select."""
    params: dict[str, Any] = {"org": org, "start": f.start_at, "end": f.end_at}
    where = [f"{alias}.organisation_id = :org", f"{time_column} >= :start", f"{time_column} < :end"]
    join = ""
    if f.module_id or f.team_id:
        join = f"JOIN case_file c ON c.id = {alias}.case_id AND c.organisation_id = :org"
    if f.module_id:
        where.append("c.module_id = :module")
        params["module"] = f.module_id
    if f.team_id:
        where.append("EXISTS (SELECT 1 FROM case_team_member m WHERE m.team_id = :team "
                     "AND m.organisation_id = :org AND m.user_id = c.opened_by_id)")
        params["team"] = f.team_id
    return join, where, params


def _demand_scope(f: Filters, org: int, *, time_column: str = "d.received_at") -> tuple[str, str, dict]:
    """(JOIN, WHERE, params) for the demands the filters select."""
    join, where, params = _case_scope(f, org, "d", time_column)
    if f.demand_type_id:
        where.append("d.demand_type_id = :dtype")
        params["dtype"] = f.demand_type_id
    return join, " AND ".join(where), params


def _bind(s: Session, params: dict) -> dict:
    """SQLite stores UTC datetimes without a zone, as the models do, and dates as ISO text."""
    if _pg(s):
        return params
    return {k: (v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime)
                else v.isoformat() if isinstance(v, date) else v) for k, v in params.items()}


def _names(s: Session, org: int, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = s.exec(select(CaseLookup.id, CaseLookup.name).where(CaseLookup.organisation_id == org,
                                                               CaseLookup.id.in_(ids))).all()
    return {i: n for i, n in rows}


# --- the daily totals --------------------------------------------------------------------------------------------


def compact_rollups() -> int:
    """Fold the pending rows the triggers appended into the settled daily totals (the figures are the same either
    way; fewer rows are quicker to sum). One compactor at a time on PostgreSQL; returns the tables compacted."""
    with read_session() as s:
        busy = [t for t in dashboard_rollups.ROLLUP_TABLES
                if s.execute(text(f"SELECT EXISTS (SELECT 1 FROM {t} WHERE pending)")).scalar()]
    if not busy:
        return 0
    with write_session() as s:
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql" and not s.execute(text(
                "SELECT pg_try_advisory_xact_lock(hashtext('atlas.dashboard_rollups'))")).scalar():
            return 0
        for table in busy:
            for statement in dashboard_rollups.compact_statements(dialect, table):
                s.execute(text(statement))
    return len(busy)


# --- the change marker ---------------------------------------------------------------------------------------------


def change_marker(actor: Actor) -> str:
    """Changes whenever the organisation's data changes (or a system-level change is recorded, such as a payment
    confirmed by the card processor)."""
    return change_marker_for(_view(actor))


def change_marker_for(org: int) -> str:
    """The marker of an organisation, for a poller that has already checked the actor (it reveals only ids)."""
    with read_session() as s:
        row = s.execute(text(
            "SELECT (SELECT max(id) FROM audit_entry WHERE organisation_id = :org), "
            "(SELECT max(id) FROM audit_entry WHERE organisation_id IS NULL)"), {"org": org}).one()
    return f"{row[0] or 0}:{row[1] or 0}"


# --- casework measures ---------------------------------------------------------------------------------------------


@dataclass
class DemandMeasures:
    periods: list[str]
    # per demand type: name, class, counts per period
    by_type: list[dict[str, Any]]
    value: list[int]
    failure: list[int]
    one_stop: list[int]
    total: list[int]
    value_total: int
    failure_total: int
    failure_pct: float
    one_stop_pct: float
    top_failure: list[dict[str, Any]]


def demand_measures(actor: Actor, f: Filters) -> DemandMeasures:
    org = _view(actor)
    compact_rollups()
    with read_session() as s:
        where, params = _day_range(f, org, "r")
        if f.module_id:
            where += " AND r.module_id = :module"
            params["module"] = f.module_id
        if f.team_id:
            where += (" AND r.opened_by_id IN (SELECT m.user_id FROM case_team_member m WHERE m.team_id = :team "
                      "AND m.organisation_id = :org)")
            params["team"] = f.team_id
        if f.demand_type_id:
            where += " AND r.demand_type_id = :dtype"
            params["dtype"] = f.demand_type_id
        period = _period(s, "r.day", f.grain)
        rows = s.execute(text(
            f"SELECT {period} AS p, r.demand_type_id, r.demand_class, sum(r.demands), sum(r.one_stop) "
            f"FROM dashboard_demand_day r WHERE {where} GROUP BY 1, 2, 3 HAVING sum(r.demands) > 0 ORDER BY 1"),
            _bind(s, params)).all()
        names = _names(s, org, [r[1] for r in rows])
    periods = sorted({_day_text(r[0]) for r in rows})
    index = {p: i for i, p in enumerate(periods)}
    n = len(periods)
    types: dict[tuple[int, str], dict[str, Any]] = {}
    value, failure, one_stop, total = [0] * n, [0] * n, [0] * n, [0] * n
    for p, type_id, cls, count, ones in rows:
        i, count = index[_day_text(p)], int(count)
        key = (type_id, cls)
        t = types.setdefault(key, {"id": type_id, "name": names.get(type_id, "Unknown"), "class": cls,
                                   "counts": [0] * n, "total": 0})
        t["counts"][i] += count
        t["total"] += count
        (failure if cls == "failure" else value)[i] += count
        one_stop[i] += int(ones or 0)
        total[i] += count
    value_total, failure_total = sum(value), sum(failure)
    all_total = value_total + failure_total
    top = sorted((t for t in types.values() if t["class"] == "failure"), key=lambda t: -t["total"])[:5]
    return DemandMeasures(
        periods=periods,
        by_type=sorted(types.values(), key=lambda t: -t["total"]),
        value=value, failure=failure, one_stop=one_stop, total=total,
        value_total=value_total, failure_total=failure_total,
        failure_pct=round(100 * failure_total / all_total, 1) if all_total else 0.0,
        one_stop_pct=round(100 * sum(one_stop) / all_total, 1) if all_total else 0.0,
        top_failure=[{"id": t["id"], "name": t["name"], "count": t["total"],
                      "pct": round(100 * t["total"] / failure_total, 1) if failure_total else 0.0} for t in top],
    )


@dataclass
class CapabilityPoint:
    demand_id: int
    case_id: int
    received_at: datetime
    need_met_at: datetime
    days: float


@dataclass
class Capability:
    points: list[CapabilityPoint]
    chart: control_chart.XmR
    change_points: list[dict[str, Any]]
    truncated: bool = False
    limit: int = CAPABILITY_POINTS


def capability(actor: Actor, f: Filters, limit: int = CAPABILITY_POINTS) -> Capability:
    """End-to-end days of each demand whose need was met in the range, in order of completion (the latest
    ``limit``), as an XmR chart with limits recalculated from each saved change point."""
    org = _view(actor)
    with read_session() as s:
        join, where, params = _demand_scope(f, org, time_column="d.need_met_at")
        params["limit"] = limit + 1
        rows = s.execute(text(
            f"SELECT d.id, d.case_id, d.received_at, d.need_met_at FROM case_demand d {join} WHERE {where} "
            f"ORDER BY d.need_met_at DESC, d.id DESC LIMIT :limit"), _bind(s, params)).all()
        changes = _change_points(s, org, f.module_id)
    truncated = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    points = []
    for demand_id, case_id, received, met in rows:
        received, met = _aware(received), _aware(met)
        points.append(CapabilityPoint(demand_id, case_id, received, met,
                                      round((met - received).total_seconds() / 86400, 2)))
    cuts = control_chart.change_indices([p.need_met_at for p in points], [c["changed_at"] for c in changes])
    chart = control_chart.xmr([p.days for p in points], cuts)
    return Capability(points=points, chart=chart, change_points=changes, truncated=truncated, limit=limit)


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _change_points(s: Session, org: int, module_id: int | None) -> list[dict[str, Any]]:
    q = select(CapabilityChangePoint).where(CapabilityChangePoint.organisation_id == org)
    if module_id:
        q = q.where((CapabilityChangePoint.module_id == module_id) | (CapabilityChangePoint.module_id.is_(None)))
    else:
        q = q.where(CapabilityChangePoint.module_id.is_(None))
    return [{"id": c.id, "changed_at": c.changed_at, "note": c.note, "module_id": c.module_id}
            for c in s.exec(q.order_by(CapabilityChangePoint.changed_at)).all()]


def add_change_point(actor: Actor, changed_at: Any, note: str = "", module_id: Any = None) -> int:
    """Record that the system was changed at ``changed_at`` (a date or datetime in London time)."""
    org = _view(actor)
    if isinstance(changed_at, datetime):
        when = changed_at if changed_at.tzinfo else changed_at.replace(tzinfo=LONDON)
    else:
        raw = str(changed_at or "").strip()
        try:
            when = (datetime.fromisoformat(raw) if "T" in raw or " " in raw
                    else datetime.combine(date.fromisoformat(raw), time(0)))
        except ValueError:
            raise ValidationFailed("Enter when the system was changed as a date.", {"changed_at": "invalid"}) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=LONDON)
    when = when.astimezone(UTC)
    if when > utcnow() + timedelta(days=1):
        raise ValidationFailed("The change cannot be in the future.", {"changed_at": "future"})
    note = (note or "").strip()[:300]
    mid = _opt_int(module_id, "module")
    with write_session() as s:
        if mid is not None and s.exec(select(CaseModule.id).where(CaseModule.id == mid,
                                                                  CaseModule.organisation_id == org)).first() is None:
            raise NotFound("No such module.")
        row = CapabilityChangePoint(organisation_id=org, module_id=mid, changed_at=when, note=note,
                                    created_by_id=actor.user_id)
        s.add(row)
        s.flush()
        audit.record(s, actor, "capability_change_point", row.id, "created",
                     after={"changed_at": when, "note": note, "module_id": mid})
        return row.id


def remove_change_point(actor: Actor, change_point_id: Any) -> None:
    org = _view(actor)
    cid = _opt_int(change_point_id, "change point")
    with write_session() as s:
        row = s.exec(select(CapabilityChangePoint).where(CapabilityChangePoint.id == cid,
                                                         CapabilityChangePoint.organisation_id == org)).first()
        if row is None:
            raise NotFound("No such change point.")
        before = {"changed_at": row.changed_at, "note": row.note, "module_id": row.module_id}
        s.delete(row)
        s.flush()
        audit.record(s, actor, "capability_change_point", cid, "deleted", before=before)


@dataclass
class ConditionRow:
    category_id: int
    name: str
    count: int
    minutes: int


def system_conditions(actor: Actor, f: Filters) -> list[ConditionRow]:
    """System-condition categories recorded in the range, most frequent first."""
    org = _view(actor)
    with read_session() as s:
        join, where, params = _case_scope(f, org, "sc", "sc.recorded_at")
        rows = s.execute(text(
            f"SELECT sc.category_id, count(*), coalesce(sum(sc.minutes_lost), 0) FROM case_system_condition sc "
            f"{join} WHERE {' AND '.join(where)} GROUP BY sc.category_id"), _bind(s, params)).all()
        names = _names(s, org, [r[0] for r in rows])
    out = [ConditionRow(r[0], names.get(r[0], "Unknown"), int(r[1]), int(r[2])) for r in rows]
    return sorted(out, key=lambda r: (-r.count, r.name))


def pareto(rows: list[tuple[str, float]]) -> list[tuple[str, float, float]]:
    """(label, value, cumulative percentage) in descending order of value."""
    rows = sorted(rows, key=lambda r: -r[1])
    total = sum(v for _, v in rows)
    out, running = [], 0.0
    for label, v in rows:
        running += v
        out.append((label, v, round(100 * running / total, 1) if total else 0.0))
    return out


@dataclass
class CaseBehind:
    case_id: int
    title: str
    detail: str


def cases_behind(actor: Actor, f: Filters, kind: str, key: Any = None, period: Any = None) -> list[CaseBehind]:
    """The cases behind a bar or point: ``kind`` is ``demand_type`` (key = type id, optional period),
    ``failure``/``value`` (optional period), ``not_one_stop`` (optional period) or ``condition`` (key = category
    id)."""
    org = _view(actor)
    actor.require(Perm.CASES_VIEW)
    if kind not in ("demand_type", "failure", "value", "not_one_stop", "condition"):
        raise ValidationFailed("Unknown measure.", {"kind": "invalid"})
    key_id = _opt_int(key, "bar") if kind in ("demand_type", "condition") else None
    if kind in ("demand_type", "condition") and key_id is None:
        raise ValidationFailed("Choose a bar.", {"key": "missing"})
    with read_session() as s:
        if kind == "condition":
            params: dict[str, Any] = {"org": org, "start": f.start_at, "end": f.end_at, "key": key_id,
                                      "limit": BEHIND_LIMIT}
            extra = ""
            if f.module_id:
                extra = " AND c.module_id = :module"
                params["module"] = f.module_id
            rows = s.execute(text(
                "SELECT c.id, c.title, count(*), coalesce(sum(sc.minutes_lost), 0) FROM case_system_condition sc "
                "JOIN case_file c ON c.id = sc.case_id AND c.organisation_id = :org "
                "WHERE sc.organisation_id = :org AND sc.category_id = :key AND sc.recorded_at >= :start "
                f"AND sc.recorded_at < :end{extra} GROUP BY c.id, c.title ORDER BY max(sc.recorded_at) DESC "
                "LIMIT :limit"), _bind(s, params)).all()
            return [CaseBehind(r[0], r[1], f"{r[2]} recorded, {r[3]} minutes lost") for r in rows]
        join, where, params = _demand_scope(f, org)
        if "JOIN case_file" not in join:
            join = "JOIN case_file c ON c.id = d.case_id AND c.organisation_id = :org"
        if kind == "demand_type":
            where += " AND d.demand_type_id = :key"
            params["key"] = key_id
        elif kind in ("failure", "value"):
            where += " AND d.demand_class = :cls"
            params["cls"] = kind
        else:
            where += " AND NOT d.one_stop"
        if period:
            p_start = _date(period, "period")
            p_end = p_start + {"day": timedelta(days=1), "week": timedelta(days=7)}.get(f.grain, timedelta(0))
            if f.grain == "month":
                p_end = (p_start.replace(day=28) + timedelta(days=4)).replace(day=1)
            where += " AND d.received_at >= :pstart AND d.received_at < :pend"
            params["pstart"], params["pend"] = london_midnight(p_start), london_midnight(p_end)
        params["limit"] = BEHIND_LIMIT
        rows = s.execute(text(
            f"SELECT c.id, c.title, count(*) FROM case_demand d {join} WHERE {where} "
            f"GROUP BY c.id, c.title ORDER BY max(d.received_at) DESC LIMIT :limit"), _bind(s, params)).all()
    return [CaseBehind(r[0], r[1], f"{r[2]} demand{'s' if r[2] != 1 else ''}") for r in rows]


def filter_options(actor: Actor) -> dict[str, list[tuple[int, str]]]:
    org = _view(actor)
    with read_session() as s:
        modules = s.exec(select(CaseModule.id, CaseModule.name).where(CaseModule.organisation_id == org)
                         .order_by(CaseModule.sort_order, CaseModule.name)).all()
        teams = s.exec(select(CaseTeam.id, CaseTeam.name).where(CaseTeam.organisation_id == org)
                       .order_by(CaseTeam.name)).all()
        types = s.exec(select(CaseLookup.id, CaseLookup.name).where(CaseLookup.organisation_id == org,
                                                                     CaseLookup.kind == "demand_type")
                       .order_by(CaseLookup.sort_order, CaseLookup.name)).all()
    return {"modules": list(modules), "teams": list(teams), "demand_types": list(types)}


# --- booking measures ----------------------------------------------------------------------------------------------


@dataclass
class BookingMeasures:
    periods: list[str]
    online: list[int]
    telephone: list[int]
    other: list[int]
    online_share: list[float | None]
    fill: list[dict[str, Any]]
    payment: dict[str, dict[str, int]]
    attended: int
    did_not_attend: int
    turned_away: int
    attendance_pct: float
    dna_pct: float
    income_periods: list[str]
    income_pence: list[int]
    income_total_pence: int
    near_critical: int
    near_critical_rows: list[dict[str, Any]] = field(default_factory=list)


BOOKING_QUERIES = ("channel", "fill", "payment", "attendance", "income", "near_critical", "near_clients")


def _booking_query(s: Session, name: str, org: int, f: Filters, now: datetime) -> list:
    """One of the booking measures' queries (each a single aggregate statement)."""
    base = {"org": org, "start": f.start_at, "end": f.end_at}
    today = london_date(now)
    if name == "channel":
        where, params = _day_range(f, org, "r")
        period = _period(s, "r.day", f.grain)
        return s.execute(text(
            f"SELECT {period} AS p, r.channel, sum(r.bookings) FROM dashboard_booking_day r WHERE {where} AND r.made "
            "GROUP BY 1, 2 HAVING sum(r.bookings) > 0 ORDER BY 1"), _bind(s, params)).all()
    if name == "fill":
        return s.execute(text(
            "SELECT ct.name, coalesce(v.name, 'Online'), count(*), sum(cs.seats_taken), sum(cs.capacity) "
            "FROM course_session cs JOIN course_type ct ON ct.id = cs.course_type_id "
            "LEFT JOIN venue v ON v.id = cs.venue_id "
            "WHERE cs.organisation_id = :org AND cs.starts_at >= :start AND cs.starts_at < :end "
            f"AND cs.status <> '{SessionStatus.CANCELLED}' GROUP BY ct.name, v.name ORDER BY ct.name, v.name"),
            _bind(s, base)).all()
    if name == "payment":
        return _payment_states(s, org, f, now)
    if name == "attendance":
        # By the sessions' dates: the per-session outcome totals of the sessions in the range.
        return s.execute(text(
            "SELECT so.status, sum(so.bookings) FROM course_session cs "
            "JOIN dashboard_session_outcome so ON so.session_id = cs.id "
            "WHERE cs.organisation_id = :org AND cs.starts_at >= :start AND cs.starts_at < :end "
            "GROUP BY so.status HAVING sum(so.bookings) > 0"), _bind(s, base)).all()
    if name == "income":
        where, params = _day_range(f, org, "r")
        period = _period(s, "r.day", f.grain)
        return s.execute(text(
            f"SELECT {period} AS p, sum(r.amount_pence) FROM dashboard_income_day r WHERE {where} "
            "GROUP BY 1 HAVING sum(r.payments) > 0 ORDER BY 1"), _bind(s, params)).all()
    near_params = {"org": org, "today": today, "until": today + timedelta(days=CRITICAL_WINDOW_DAYS)}
    near_where = (
        f"o.organisation_id = :org AND o.status = '{OfferStatus.REFERRED}' AND o.critical_date >= :today "
        "AND o.critical_date <= :until AND NOT EXISTS (SELECT 1 FROM booking b WHERE b.offer_id = o.id "
        f"AND b.status IN {sql_list(BookingStatus.ACTIVE)})")
    if name == "near_critical":
        return s.execute(text(f"SELECT count(*) FROM offer o WHERE {near_where}"), near_params).all()
    if name == "near_clients":
        return s.execute(text(
            "SELECT c.id, c.first_name, c.last_name, o.offer_reference, o.critical_date FROM offer o "
            f"JOIN client c ON c.id = o.client_id WHERE {near_where} ORDER BY o.critical_date, o.id "
            "LIMIT 20"), near_params).all()
    raise ValueError(name)


def _payment_states(s: Session, org: int, f: Filters, now: datetime) -> list[tuple[str, int, int, int]]:
    """(state, bookings, fees, settled) for the seat-holding bookings with a fee made in the range: paid (settled in
    full) and unpaid from the daily totals; of the unpaid, those awaiting payment past their due time (overdue: it
    depends on the time, so it is counted from the few bookings still awaiting payment) are split out."""
    where, params = _day_range(f, org, "r")
    totals = dict.fromkeys(("paid", "unpaid"), (0, 0, 0))
    for state, count, fee, settled in s.execute(text(
            "SELECT r.pay_state, sum(r.bookings), sum(r.fee_pence), sum(r.settled_pence) FROM dashboard_booking_day r "
            f"WHERE {where} AND r.pay_state <> '' GROUP BY r.pay_state"), _bind(s, params)).all():
        totals[state] = (int(count or 0), int(fee or 0), int(settled or 0))
    overdue = s.execute(text(
        "SELECT count(*), coalesce(sum(x.fee), 0), coalesce(sum(x.settled), 0) FROM ("
        "SELECT b.fee_pence AS fee, coalesce(sum(pm.amount_pence - pm.refunded_pence), 0) AS settled FROM booking b "
        "LEFT JOIN payment pm ON pm.booking_id = b.id AND pm.organisation_id = :org "
        f"AND pm.status = '{PaymentStatus.SUCCEEDED}' "
        f"WHERE b.organisation_id = :org AND b.status = '{BookingStatus.AWAITING_PAYMENT}' AND b.created_at >= :start "
        "AND b.created_at < :end AND b.fee_pence > 0 AND b.payment_due_at IS NOT NULL AND b.payment_due_at <= :now "
        "GROUP BY b.id, b.fee_pence) x WHERE x.settled < x.fee"),
        _bind(s, {"org": org, "start": f.start_at, "end": f.end_at, "now": now})).one()
    overdue = tuple(int(v) for v in overdue)
    awaiting = tuple(u - o for u, o in zip(totals["unpaid"], overdue))
    rows = [("paid", *totals["paid"]), ("awaiting", *awaiting), ("overdue", *overdue)]
    return [r for r in rows if r[1]]


def booking_query(actor: Actor, f: Filters, name: str, now: datetime | None = None) -> list:
    """Run one booking-measure query on its own (the benchmark times each)."""
    org = _view(actor)
    if name not in BOOKING_QUERIES:
        raise ValidationFailed("Unknown measure.", {"name": "invalid"})
    with read_session() as s:
        return _booking_query(s, name, org, f, now or utcnow())


def booking_measures(actor: Actor, f: Filters, now: datetime | None = None,
                     include_clients: bool = False) -> BookingMeasures:
    org = _view(actor)
    now = now or utcnow()
    compact_rollups()
    with read_session() as s:
        by_channel, fill, pay, attendance, income = (
            _booking_query(s, name, org, f, now) for name in ("channel", "fill", "payment", "attendance", "income"))
        near = _booking_query(s, "near_critical", org, f, now)[0][0]
        near_rows = []
        if include_clients:
            near_rows = [
                {"client_id": r[0], "name": f"{r[1]} {r[2]}", "reference": r[3], "critical_date": _day_text(r[4])}
                for r in _booking_query(s, "near_clients", org, f, now)]
    periods = sorted({_day_text(r[0]) for r in by_channel})
    index = {p: i for i, p in enumerate(periods)}
    online, phone, other = [0] * len(periods), [0] * len(periods), [0] * len(periods)
    for p, channel, count in by_channel:
        target = online if channel == "online" else phone if channel == "telephone" else other
        target[index[_day_text(p)]] += count
    share = [round(100 * o / (o + t + x), 1) if (o + t + x) else None for o, t, x in zip(online, phone, other)]
    payment = {k: {"count": 0, "fee_pence": 0, "settled_pence": 0} for k in ("paid", "awaiting", "overdue")}
    for state, count, fee, settled in pay:
        payment[state] = {"count": int(count), "fee_pence": int(fee or 0), "settled_pence": int(settled or 0)}
    att = {k: int(v) for k, v in attendance}
    attended, dna, turned = (att.get(BookingStatus.ATTENDED, 0), att.get(BookingStatus.DID_NOT_ATTEND, 0),
                             att.get(BookingStatus.TURNED_AWAY, 0))
    outcome_total = attended + dna + turned
    return BookingMeasures(
        periods=periods, online=online, telephone=phone, other=other, online_share=share,
        fill=[{"course": r[0], "venue": r[1], "sessions": int(r[2]), "taken": int(r[3] or 0),
               "capacity": int(r[4] or 0),
               "pct": round(100 * int(r[3] or 0) / int(r[4]), 1) if r[4] else 0.0} for r in fill],
        payment=payment, attended=attended, did_not_attend=dna, turned_away=turned,
        attendance_pct=round(100 * attended / outcome_total, 1) if outcome_total else 0.0,
        dna_pct=round(100 * dna / outcome_total, 1) if outcome_total else 0.0,
        income_periods=[_day_text(r[0]) for r in income], income_pence=[int(r[1] or 0) for r in income],
        income_total_pence=sum(int(r[1] or 0) for r in income),
        near_critical=int(near), near_critical_rows=near_rows,
    )
