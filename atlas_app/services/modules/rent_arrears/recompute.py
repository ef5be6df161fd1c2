"""Recompute after an import: every tenancy's figures from its transactions in one set-based statement, then the
arrangements (kept or broken) and the stage moves, each with its letter, intention and timeline entry.

The statement computes exactly what ``arrears.figures`` computes for one tenancy (tests hold the two together):
balance at the end of ``as_of``, arrears in hundredths of a week (rounded down), the growth over 4 and 13 weeks and
the day of the last payment. Only the tenancies whose stage changes, or whose arrangement breaks, are then loaded
one by one; the rest of the organisation is touched only by the statement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, text
from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.domain.statuses import ArrangementStatus
from atlas_app.models.casework import Activity, Intention
from atlas_app.models.rent_arrears import RentArrangement, RentTenancy, RentTransaction
from atlas_app.services.modules.rent_arrears import arrears
from atlas_app.services.modules.rent_arrears.tenancies import (
    _module,
    active_stages,
    ensure_case,
    produce_letter,
)
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date

_PAY = "('payment', 'housing_benefit', 'universal_credit')"
# The sums are worked out once, in one pass over the organisation's transactions (MATERIALIZED), then joined to the
# tenancies by primary key.
FIGURES_SQL = f"""
WITH a AS MATERIALIZED (
    SELECT tenancy_id,
           sum(amount_pence) AS bal,
           sum(CASE WHEN posted_on <= :d4 THEN amount_pence ELSE 0 END) AS bal4,
           sum(CASE WHEN posted_on <= :d13 THEN amount_pence ELSE 0 END) AS bal13,
           max(CASE WHEN kind IN {_PAY} AND amount_pence < 0 THEN posted_on END) AS last_paid
    FROM rent_transaction
    WHERE organisation_id = :org AND posted_on <= :as_of
    GROUP BY tenancy_id
)
UPDATE rent_tenancy SET
    balance_pence = a.bal,
    arrears_weeks_x100 = CASE WHEN a.bal > 0 AND rent_tenancy.weekly_rent_pence > 0
                              THEN a.bal * 100 / rent_tenancy.weekly_rent_pence ELSE 0 END,
    trend_4w_pence = a.bal - a.bal4,
    trend_13w_pence = a.bal - a.bal13,
    last_payment_on = a.last_paid,
    computed_on = :as_of
FROM a
WHERE rent_tenancy.id = a.tenancy_id AND rent_tenancy.organisation_id = :org
"""
# Tenancies with no transactions up to ``as_of`` owe nothing.
EMPTY_SQL = """
UPDATE rent_tenancy SET balance_pence = 0, arrears_weeks_x100 = 0, trend_4w_pence = 0, trend_13w_pence = 0,
    last_payment_on = NULL, computed_on = :as_of
WHERE organisation_id = :org AND (computed_on IS NULL OR computed_on <> :as_of)
"""


@dataclass
class RecomputeReport:
    as_of: date
    tenancies: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    cleared: int = 0
    broken: int = 0
    letters: int = 0
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        moves = ", ".join(f"{n:,} to {name}" for name, n in self.moved.items()) or "no stage moves"
        return (f"{self.tenancies:,} tenancies recomputed as of {self.as_of:%d/%m/%Y}: {moves}; {self.cleared:,} "
                f"left the stages; {self.broken:,} arrangements broken; {self.letters:,} letters.")


def _param(dialect: str, day: date):
    return day if dialect == "postgresql" else day.isoformat()


def recompute(actor: Actor, as_of: date | None = None) -> RecomputeReport:
    actor.require(Perm.CASES_MANAGE)
    org_id = actor.require_org()
    as_of = as_of or london_date(utcnow())
    report = RecomputeReport(as_of=as_of)
    started = time.perf_counter()
    with write_session() as s:
        module = _module(s, org_id)
        dialect = s.get_bind().dialect.name
        p = {"org": org_id, "as_of": _param(dialect, as_of), "d4": _param(dialect, as_of - timedelta(days=28)),
             "d13": _param(dialect, as_of - timedelta(days=91))}
        s.execute(text(FIGURES_SQL), p)
        s.execute(text(EMPTY_SQL), {"org": org_id, "as_of": p["as_of"]})
        report.tenancies = s.exec(select(func.count()).select_from(RentTenancy)
                                  .where(RentTenancy.organisation_id == org_id)).one()
        pending: list[audit.Pending] = []
        templates: dict = {}
        kept = _arrangements(s, actor, org_id, module.id, as_of, report, pending, templates)
        _stages(s, actor, org_id, module.id, as_of, kept, report, pending, templates)
        audit.record_many(s, actor, pending, organisation_id=org_id)
        audit.record(s, actor, "rent_recompute", as_of.isoformat(), "recomputed",
                     after={"tenancies": report.tenancies, "moved": report.moved, "cleared": report.cleared,
                            "broken": report.broken, "letters": report.letters})
    report.seconds = time.perf_counter() - started
    return report


def _arrangements(s, actor, org_id: int, module_id: int, as_of: date, report: RecomputeReport, pending: list,
                  templates: dict) -> set[int]:
    """Check every active arrangement; break the broken ones (raising their case). Returns the tenancy ids whose
    arrangement is being kept."""
    active = s.exec(select(RentArrangement).where(RentArrangement.organisation_id == org_id,
                                                  RentArrangement.status == ArrangementStatus.ACTIVE)).all()
    kept: set[int] = set()
    by_tenancy = {a.tenancy_id: a for a in active}
    ids = sorted(by_tenancy)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        txns: dict[int, list[arrears.Txn]] = {}
        earliest = min(by_tenancy[t].start_on for t in chunk)
        for t in s.exec(select(RentTransaction).where(RentTransaction.organisation_id == org_id,
                                                      RentTransaction.tenancy_id.in_(chunk),
                                                      RentTransaction.posted_on >= earliest)).all():
            txns.setdefault(t.tenancy_id, []).append(arrears.Txn(t.posted_on, t.kind, t.amount_pence))
        for tid in chunk:
            arrangement = by_tenancy[tid]
            check = arrears.check_arrangement(arrangement.amount_pence, arrangement.frequency, arrangement.start_on,
                                              txns.get(tid, []), as_of)
            if check.kept:
                kept.add(tid)
                continue
            arrangement.status, arrangement.broken_on = ArrangementStatus.BROKEN, check.broken_on
            s.add(arrangement)
            tenancy = s.get(RentTenancy, tid)
            tenancy.arrangement_broken = True
            case = ensure_case(s, actor, org_id, module_id, tenancy, pending)
            s.add(Activity(organisation_id=org_id, case_id=case.id, occurred_at=utcnow(),
                           note=f"Arrangement broken on {check.broken_on:%d/%m/%Y}: "
                                f"{check.paid_pence / 100:.2f} paid of {check.due_pence / 100:.2f} due"))
            if produce_letter(s, actor, org_id, tenancy, case, "rent_arrangement_broken", arrangement=arrangement,
                              pending=pending, templates=templates):
                report.letters += 1
            review = _intention_type(s, org_id, module_id, "Review arrangement")
            if review is not None:
                s.add(Intention(organisation_id=org_id, case_id=case.id, intention_type_id=review,
                                owner_user_id=tenancy.officer_user_id, due_on=as_of + timedelta(days=2),
                                note="The arrangement to pay was broken: contact the tenant."))
            s.add(tenancy)
            report.broken += 1
    s.flush()
    return kept


def _intention_type(s, org_id: int, module_id: int, name: str) -> int | None:
    from atlas_app.models.casework import CaseLookup

    return s.exec(select(CaseLookup.id).where(CaseLookup.organisation_id == org_id, CaseLookup.module_id == module_id,
                                              CaseLookup.kind == "intention_type", CaseLookup.name == name,
                                              CaseLookup.is_active == True)).first()


def _stages(s, actor, org_id: int, module_id: int, as_of: date, kept: set[int], report: RecomputeReport,
            pending: list, templates: dict) -> None:
    stages = active_stages(s, org_id)
    if not stages:
        return
    rules = [arrears.StageRule(st.id, st.code, st.min_arrears_weeks_x100, st.min_days_in_previous) for st in stages]
    by_id = {st.id: st for st in stages}
    first = stages[0].min_arrears_weeks_x100
    t = RentTenancy
    candidates = s.exec(select(t.id, t.stage_id, t.stage_entered_on, t.arrears_weeks_x100).where(
        t.organisation_id == org_id, (t.arrears_weeks_x100 > first) | t.stage_id.is_not(None))).all()
    moves: list[tuple[int, int | None]] = []
    for tid, stage_id, entered, x100 in candidates:
        days = (as_of - entered).days if entered else 0
        target = arrears.next_stage(rules, stage_id if stage_id in by_id else None, x100, days, tid in kept)
        if target != stage_id:
            moves.append((tid, target))
    for tid, target in moves:
        tenancy = s.get(RentTenancy, tid)
        tenancy.stage_id = target
        tenancy.stage_entered_on = as_of if target else None
        s.add(tenancy)
        if target is None:
            report.cleared += 1
            if tenancy.case_id:
                s.add(Activity(organisation_id=org_id, case_id=tenancy.case_id, occurred_at=utcnow(),
                               note="Arrears below the first stage's threshold: left the recovery stages."))
            continue
        stage = by_id[target]
        report.moved[stage.name] = report.moved.get(stage.name, 0) + 1
        case = ensure_case(s, actor, org_id, module_id, tenancy, pending)
        s.add(Activity(organisation_id=org_id, case_id=case.id, occurred_at=utcnow(),
                       note=f"Entered stage: {stage.name} (arrears {tenancy.arrears_weeks_x100 / 100:.2f} weeks of "
                            f"rent)"))
        if produce_letter(s, actor, org_id, tenancy, case, stage.letter_code, stage=stage, pending=pending,
                          templates=templates):
            report.letters += 1
        if stage.intention_type_id:
            s.add(Intention(organisation_id=org_id, case_id=case.id, intention_type_id=stage.intention_type_id,
                            owner_user_id=tenancy.officer_user_id,
                            due_on=as_of + timedelta(days=stage.intention_due_days),
                            note=f"{stage.name}: {tenancy.rent_account}"))
    s.flush()
