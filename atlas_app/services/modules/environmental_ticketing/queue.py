"""The staff queue of Environmental Services Ticketing: open reports with filters, sorted by age or by time left
against the category's promise, a page at a time; the filter choices; and the module's dashboard figures.

Read-only: every change to a report goes through the module's report services
(``services/modules/environmental_ticketing``). Every query is scoped by the actor's organisation, and ids from the
browser are matched in the SQL itself, so another organisation's category, team or officer simply matches nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import aliased

from atlas_app.db import read_session, utcnow
from atlas_app.domain.statuses import REPORT_LABELS, ReportStatus
from atlas_app.models import User
from atlas_app.models.casework import CaseLookup, CaseTeam, Place
from atlas_app.models.environmental import Report, ReportCategory
from atlas_app.models.environmental_queue import OPEN_SQL
from atlas_app.services.platform import bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.services.platform.permissions import Perm

PAGE_SIZE = 50
COUNT_CAP = 10_000
MAX_PAGE = 2000
SORTS = ("age", "time_left")
OPEN_STATUSES = tuple(s.value for s in ReportStatus.OPEN)
AGE_BANDS = ((1, "Under a day"), (3, "1–3 days"), (7, "3–7 days"), (28, "1–4 weeks"), (None, "Over 4 weeks"))


@dataclass(frozen=True)
class QueueFilter:
    category_id: int | None = None
    team_id: int | None = None
    officer_id: int | None = None
    status: str | None = None  # one open status; None = every open one
    area: str = ""  # a postcode district or sector of the place ("TS24", "TS24 8")
    overdue: bool = False
    unassigned: bool = False
    sort: str = "age"
    page: int = 1

    @staticmethod
    def parse(data: dict[str, Any]) -> QueueFilter:
        """From the browser: every id checked as a number (its organisation is checked in the query), the rest
        from fixed lists."""
        status = str(data.get("status") or "").strip() or None
        if status is not None and status not in OPEN_STATUSES:
            raise ValidationFailed("Choose a status from the list.", {"status": "unknown"})
        sort = str(data.get("sort") or "age").strip()
        if sort not in SORTS:
            sort = "age"
        area = re.sub(r"\s+", "", str(data.get("area") or "")).upper()[:8]
        if area and not re.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9]?", area):
            raise ValidationFailed("Give the area as a postcode district or sector, such as TS24 or TS24 8.",
                                   {"area": "invalid"})
        try:
            page = max(1, min(MAX_PAGE, int(str(data.get("page") or 1))))
        except ValueError:
            page = 1
        return QueueFilter(category_id=bounds.id_or_none(data.get("category_id") or None),
                           team_id=bounds.id_or_none(data.get("team_id") or None),
                           officer_id=bounds.id_or_none(data.get("officer_id") or None), status=status, area=area,
                           overdue=str(data.get("overdue") or "").lower() in ("1", "true", "on", "yes"),
                           unassigned=str(data.get("unassigned") or "").lower() in ("1", "true", "on", "yes"),
                           sort=sort, page=page)


@dataclass(frozen=True)
class QueueRow:
    id: int
    reference: str
    category: str
    status: str
    status_label: str
    team: str
    officer: str
    location: str
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    repeat_count: int


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int  # at most COUNT_CAP
    page: int
    pages: int
    more: bool = False  # more than COUNT_CAP match


@dataclass(frozen=True)
class Choice:
    id: int
    name: str


@dataclass(frozen=True)
class QueueChoices:
    categories: list[Choice]
    teams: list[Choice]
    officers: list[Choice]
    statuses: list[tuple[str, str]] = field(default_factory=lambda: [(s, REPORT_LABELS[ReportStatus(s)])
                                                                     for s in OPEN_STATUSES])


# The categories' demand type, aliased once (an alias built per call costs more than the query it is in).
_LOOKUP = aliased(CaseLookup, name="category_type")


def _org(actor: Actor) -> int:
    actor.require(Perm.CASES_VIEW)
    return actor.require_org()


def category_name_expr(category, lookup):
    return func.coalesce(func.nullif(category.public_name, ""), lookup.name)


def _conditions(org_id: int, f: QueueFilter, now: datetime) -> list:
    # The open condition as the queue indexes' literal SQL (models/environmental_queue.py), so they are used.
    where = [Report.organisation_id == org_id, text("env_report." + OPEN_SQL)]
    if f.status:
        where.append(Report.status == f.status)
    if f.category_id is not None:
        where.append(Report.category_id == f.category_id)
    if f.team_id is not None:
        where.append(Report.team_id == f.team_id)
    if f.officer_id is not None:
        where.append(Report.officer_id == f.officer_id)
    if f.unassigned:
        where.append(and_(Report.team_id.is_(None), Report.officer_id.is_(None)))
    if f.overdue:
        where.append(text("env_report.due_at IS NOT NULL"))
        where.append(Report.due_at < now)
    if f.sort == "time_left":
        where.append(text("env_report.due_at IS NOT NULL"))
    if f.area:
        # A prefix as a range (an index range on both databases, unlike LIKE).
        places = select(Place.id).where(Place.organisation_id == org_id, Place.postcode_key >= f.area,
                                        Place.postcode_key < f.area + "~")
        where.append(Report.place_id.in_(places))
    return where


def queue(actor: Actor, f: QueueFilter, page_size: int = PAGE_SIZE) -> QueuePage:
    """One page of the open reports matching ``f``: oldest first (age) or soonest due first (time left: the
    reports whose category makes a promise)."""
    org_id = _org(actor)
    now = utcnow()
    where = _conditions(org_id, f, now)
    lookup = _LOOKUP
    order = [Report.created_at, Report.id] if f.sort == "age" else [Report.due_at, Report.id]
    with read_session() as s:
        # Counted up to the cap: beyond it the page says "more than", and counting costs no more.
        capped = select(Report.id).where(*where).limit(COUNT_CAP + 1).subquery()
        total = s.execute(select(func.count()).select_from(capped)).scalar_one()
        more = total > COUNT_CAP
        total = min(total, COUNT_CAP)
        pages = max(1, -(-total // page_size))
        page = min(f.page, pages)
        ids = select(Report.id).where(*where).order_by(*order).limit(page_size).offset((page - 1) * page_size)
        ids = ids.subquery()
        query = (select(Report.id, Report.reference, category_name_expr(ReportCategory, lookup), Report.status,
                        CaseTeam.name, User.full_name, Report.location_text, Report.created_at, Report.due_at,
                        Report.repeat_count)
                 .join(ids, ids.c.id == Report.id)
                 .join(ReportCategory, ReportCategory.id == Report.category_id)
                 .join(lookup, lookup.id == ReportCategory.demand_type_id)
                 .outerjoin(CaseTeam, CaseTeam.id == Report.team_id)
                 .outerjoin(User, User.id == Report.officer_id)
                 .order_by(*order))
        rows = [QueueRow(id=r[0], reference=r[1], category=r[2] or "", status=r[3],
                         status_label=REPORT_LABELS.get(ReportStatus(r[3]), r[3]), team=r[4] or "",
                         officer=r[5] or "", location=r[6] or "", created_at=r[7], due_at=r[8],
                         overdue=r[8] is not None and r[8] < now, repeat_count=r[9] or 0)
                for r in s.execute(query).all()]
    return QueuePage(rows, total, page, pages, more)


MAP_LIMIT = 500


@dataclass(frozen=True)
class MapPoint:
    id: int
    reference: str
    category: str
    status_label: str
    latitude: float
    longitude: float
    overdue: bool


@dataclass(frozen=True)
class MapPoints:
    points: list[MapPoint]
    # More reports of the filter are in the box than were sent (the oldest MAP_LIMIT are).
    more: bool


def map_points(actor: Actor, f: QueueFilter, bbox, limit: int = MAP_LIMIT) -> MapPoints:
    """The open reports of the queue's filter ``f`` inside the map's visible box ``bbox`` (WGS84 west, south,
    east, north), oldest first, at most ``limit``: only what the map can show is sent. The box is read from the
    open reports' grid index (easting, northing)."""
    from atlas_app.services.modules.environmental_ticketing.reports import bbox_to_grid

    org_id = _org(actor)
    e0, n0, e1, n1 = bbox_to_grid(bbox)
    if (e1 - e0) * (n1 - n0) > 100_000.0 ** 2:
        raise ValidationFailed("Zoom in: the map shows reports for at most 100 km by 100 km.", {"bbox": "too large"})
    limit = max(1, min(int(limit), MAP_LIMIT))
    now = utcnow()
    where = [*_conditions(org_id, f, now), Report.easting.between(e0, e1), Report.northing.between(n0, n1),
             Report.latitude.is_not(None)]
    lookup = _LOOKUP
    with read_session() as s:
        rows = s.execute(select(Report.id, Report.reference, category_name_expr(ReportCategory, lookup),
                                Report.status, Report.latitude, Report.longitude, Report.due_at)
                         .join(ReportCategory, ReportCategory.id == Report.category_id)
                         .join(lookup, lookup.id == ReportCategory.demand_type_id)
                         .where(*where).order_by(Report.created_at, Report.id).limit(limit + 1)).all()
    points = [MapPoint(r[0], r[1], r[2] or "", REPORT_LABELS.get(ReportStatus(r[3]), r[3]), float(r[4]),
                       float(r[5]), r[6] is not None and r[6] < now) for r in rows[:limit]]
    return MapPoints(points, len(rows) > limit)


def choices(actor: Actor) -> QueueChoices:
    """The module's categories, the organisation's active teams and its active staff, for the filters and the
    assign controls."""
    org_id = _org(actor)
    lookup = _LOOKUP
    with read_session() as s:
        cats = s.execute(select(ReportCategory.id, category_name_expr(ReportCategory, lookup))
                         .join(lookup, lookup.id == ReportCategory.demand_type_id)
                         .where(ReportCategory.organisation_id == org_id)
                         .order_by(ReportCategory.sort_order, lookup.name)).all()
        teams = s.execute(select(CaseTeam.id, CaseTeam.name).where(CaseTeam.organisation_id == org_id,
                                                                   CaseTeam.is_active == True)
                          .order_by(CaseTeam.name)).all()
        users = s.execute(select(User.id, User.full_name).where(User.organisation_id == org_id,
                                                                User.is_active == True)
                          .order_by(User.full_name)).all()
    return QueueChoices([Choice(i, n) for i, n in cats], [Choice(i, n) for i, n in teams],
                        [Choice(i, n) for i, n in users])


# --- the module's dashboard -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryAge:
    category: str
    bands: list[int]  # open reports per AGE_BANDS entry
    total: int


@dataclass(frozen=True)
class CategoryRepeats:
    category_id: int
    demand_type_id: int
    category: str
    promise_days: int
    reports: int
    repeats: int  # failure demand: residents who reported it again


@dataclass(frozen=True)
class Dashboard:
    open_by_age: list[CategoryAge]
    categories: list[CategoryRepeats]  # every category with its reports and repeats in the period
    module_id: int | None


def dashboard(actor: Actor, days: int = 90) -> Dashboard:
    """Open reports by category and age band (counted in SQL, never loaded), and per category the reports made in
    the last ``days`` with their repeat reports (failure demand). Time to close against the promise is the
    existing capability chart (services/insight/dashboards.capability) of the category's demand type."""
    org_id = _org(actor)
    now = utcnow()
    since = now - timedelta(days=max(1, min(int(days), 3650)))
    lookup = _LOOKUP
    with read_session() as s:
        cats = s.execute(select(ReportCategory.id, ReportCategory.demand_type_id,
                                category_name_expr(ReportCategory, lookup), ReportCategory.promise_days,
                                ReportCategory.module_id)
                         .join(lookup, lookup.id == ReportCategory.demand_type_id)
                         .where(ReportCategory.organisation_id == org_id)
                         .order_by(ReportCategory.sort_order, lookup.name)).all()
        names = {c[0]: c[2] for c in cats}
        edges = [now - timedelta(days=d) for d, _ in AGE_BANDS if d is not None]
        ages: dict[int, list[int]] = defaultdict(lambda: [0] * len(AGE_BANDS))
        for i in range(len(AGE_BANDS)):
            cond = [Report.organisation_id == org_id, Report.status.in_(OPEN_STATUSES)]
            if i > 0:
                cond.append(Report.created_at <= edges[i - 1])
            if i < len(edges):
                cond.append(Report.created_at > edges[i])
            for cat_id, n in s.execute(select(Report.category_id, func.count()).where(*cond)
                                       .group_by(Report.category_id)).all():
                ages[cat_id][i] = n
        made = {c: (n, int(r or 0)) for c, n, r in s.execute(
            select(Report.category_id, func.count(), func.sum(Report.repeat_count))
            .where(Report.organisation_id == org_id, Report.created_at >= since)
            .group_by(Report.category_id)).all()}
    open_by_age = sorted((CategoryAge(names.get(c, "?"), bands, sum(bands)) for c, bands in ages.items()),
                         key=lambda a: (-a.total, a.category))
    categories = [CategoryRepeats(c[0], c[1], c[2], c[3], *made.get(c[0], (0, 0))) for c in cats]
    return Dashboard(open_by_age, categories, cats[0][4] if cats else None)


__all__ = [
    "AGE_BANDS",
    "CategoryRepeats",
    "Choice",
    "Dashboard",
    "MapPoint",
    "MapPoints",
    "QueueChoices",
    "QueueFilter",
    "QueuePage",
    "QueueRow",
    "choices",
    "dashboard",
    "map_points",
    "queue",
]
