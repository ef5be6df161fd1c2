"""The compliance view: the share of homes with every required check in date (the Tenant Satisfaction Measure for
gas safety: homes with all required landlord checks in date, over homes needing them), how many are overdue and by
how many days, the homes with failed access attempts, open remedial work past its target, and the XmR chart of days
from each check's due date to its certificate (negative: done early) in the order the checks were done.

The figures come from ``servicing_home`` (one row per home, kept in step by the services) in one aggregate
statement (with the open remedial work as subqueries), and the chart from the newest checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import select

from atlas_app.db import read_session, utcnow
from atlas_app.models.utilities import (
    UNCERTIFIED_KEY,
    Installation,
    InstallationCheck,
    InstallationType,
    RemedialTask,
    ServicingHome,
)
from atlas_app.services.insight import control_chart
from atlas_app.services.modules.utilities_servicing.installations import today, viewer
from atlas_app.services.platform.actor import Actor

CHART_POINTS = 200


@dataclass(frozen=True)
class ChartPoint:
    check_id: int
    checked_on: date
    due_on: date
    days: int


@dataclass
class Compliance:
    homes: int
    in_date: int
    overdue: int
    uncertified: int
    share_in_date: float  # percent, one decimal
    days_overdue_total: int
    days_overdue_max: int
    days_overdue_mean: float
    no_access: int
    legal_stage: int
    remedial_open: int
    remedial_late: int
    points: list[ChartPoint] = field(default_factory=list)
    chart: control_chart.XmR | None = None

    def figures(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("homes", "in_date", "overdue", "uncertified", "share_in_date",
                                              "days_overdue_total", "days_overdue_max", "days_overdue_mean",
                                              "no_access", "legal_stage", "remedial_open", "remedial_late")}


def compliance(actor: Actor, regime: str = "", chart_points: int = CHART_POINTS, on: date | None = None) -> Compliance:
    """The figures on ``on`` (today by default). ``regime`` (e.g. "Gas safety check") narrows the chart to checks
    of installation types with that regime."""
    now = on or today()
    with read_session() as s:
        org_id = viewer(s, actor)
        # One pass over the organisation's homes for every home figure, with the open remedial work as a
        # subquery, in one statement: homes needing a check have a due_key; those before today are overdue,
        # UNCERTIFIED_KEY being the ones with no certificate.
        H = ServicingHome
        if s.get_bind().dialect.name == "sqlite":
            days = func.julianday(now) - func.julianday(H.due_key)
        else:
            days = now - H.due_key

        def count_of(*conditions):
            return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

        dated_overdue_cond = (H.due_key > UNCERTIFIED_KEY, H.due_key < now)
        remedial = (select(func.count()).where(RemedialTask.organisation_id == org_id, RemedialTask.status == "open")
                    .scalar_subquery())
        remedial_late = (select(func.count()).where(RemedialTask.organisation_id == org_id,
                                                    RemedialTask.status == "open", RemedialTask.target_at < utcnow())
                         .scalar_subquery())
        figures = s.exec(select(
            count_of(H.due_key.is_not(None)), count_of(H.due_key < now), count_of(H.due_key == UNCERTIFIED_KEY),
            func.sum(case((and_(*dated_overdue_cond), days), else_=None)),
            func.max(case((and_(*dated_overdue_cond), days), else_=None)), count_of(*dated_overdue_cond),
            count_of(H.no_access_count > 0, H.due_key.is_not(None)),
            count_of(H.no_access_count > 0, H.due_key.is_not(None), H.access_stage == "legal"),
            remedial, remedial_late,
        ).where(H.organisation_id == org_id)).one()
        (homes, not_in_date, uncertified, total_days, max_days, dated_overdue, no_access, legal, open_,
         late_tasks) = (int(x or 0) for x in figures)
        query = (select(InstallationCheck.id, InstallationCheck.checked_on, InstallationCheck.due_on)
                 .where(InstallationCheck.organisation_id == org_id, InstallationCheck.due_on.is_not(None)))
        if regime:
            # The regime's installation types first (a handful), so the newest checks are read from the
            # (organisation, checked_on) index and only their installations looked up.
            type_ids = list(s.exec(select(InstallationType.id).where(InstallationType.organisation_id == org_id,
                                                                     InstallationType.regime == regime)).all())
            query = (query.join(Installation, Installation.id == InstallationCheck.installation_id)
                     .where(Installation.installation_type_id.in_(type_ids or [-1])))
        recent = s.exec(query.order_by(InstallationCheck.checked_on.desc(), InstallationCheck.id.desc())
                        .limit(chart_points)).all()
    points = [ChartPoint(cid, done, due, (done - due).days) for cid, done, due in reversed(recent)]
    in_date = homes - not_in_date
    return Compliance(
        homes=homes, in_date=in_date, overdue=not_in_date, uncertified=uncertified,
        share_in_date=round(100.0 * in_date / homes, 1) if homes else 100.0,
        days_overdue_total=total_days, days_overdue_max=max_days,
        days_overdue_mean=round(total_days / dated_overdue, 1) if dated_overdue else 0.0,
        no_access=no_access, legal_stage=legal, remedial_open=open_, remedial_late=late_tasks,
        points=points, chart=control_chart.xmr([p.days for p in points]) if points else None,
    )
