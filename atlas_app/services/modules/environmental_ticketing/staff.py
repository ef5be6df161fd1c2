"""Staff actions of Environmental Services Ticketing that work on more than one report at a time, over the module's
report services (``environmental_ticketing.reports``): bulk assign, claim, and merging a duplicate into the report it
repeats.

Each report is changed through ``reports.assign`` / ``reports.change_status`` (which check permission and tenancy,
lock the row and write the audit entry and the timeline); merging adds what those have no word for, in one
transaction of its own: the duplicate's followers follow the kept report, the kept report counts a repeat and gets a
failure demand on its case, and both timelines say what happened.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.domain.statuses import DemandClass, ReportStatus
from atlas_app.models.casework import Case, CaseLookup
from atlas_app.models.environmental import (
    Report,
    ReportCategory,
    ReportFollower,
    ReportUpdate,
)
from atlas_app.services.casework import cases as casework_cases
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm

MAX_BULK = 200


def bulk_assign(actor: Actor, report_ids: list[Any], *, team_id: Any = None, officer_id: Any = None) -> int:
    """Give each of the reports to the team and/or officer (what is not chosen is kept). Every id is checked
    against the actor's organisation by ``reports.assign``; the first refusal stops the rest and says which.
    Answers how many were assigned."""
    actor.require(Perm.CASES_MANAGE)
    ids = [str(i).strip() for i in (report_ids or []) if str(i).strip()]
    if not ids:
        raise ValidationFailed("Tick the reports to assign first.", {"reports": "required"})
    if len(ids) > MAX_BULK:
        raise ValidationFailed(f"Assign at most {MAX_BULK} reports at a time.", {"reports": "too many"})
    if not str(team_id or "").strip() and not str(officer_id or "").strip():
        raise ValidationFailed("Choose a team or an officer to assign to.", {"team_id": "required"})
    done = 0
    for rid in dict.fromkeys(ids):
        current = reports.get_report(actor, rid).row
        team = team_id if str(team_id or "").strip() else current.team_id
        officer = officer_id if str(officer_id or "").strip() else current.officer_id
        reports.assign(actor, rid, team_id=team, officer_id=officer)
        done += 1
    return done


def claim(actor: Actor, report_id: Any) -> None:
    """The signed-in officer takes the report (its team is kept)."""
    row = reports.get_report(actor, report_id).row
    reports.assign(actor, report_id, team_id=row.team_id, officer_id=actor.user_id)


def merge(actor: Actor, duplicate_id: Any, into: Any) -> str:
    """Merge a duplicate report into the report it repeats (``into``: an id or a reference of the same
    organisation, still open). The duplicate is closed with the reason "Duplicate of ENV-…" (its followers get the
    template response once), its followers then follow the kept report, and the kept report counts the repeat as a
    failure demand on its case. Answers the kept report's reference."""
    actor.require(Perm.CASES_MANAGE)
    org_id = actor.require_org()
    dup = reports.get_report(actor, duplicate_id).row
    target_text = str(into or "").strip()
    if not target_text:
        raise ValidationFailed("Give the reference of the report it repeats.", {"into": "required"})
    try:
        keep = reports.get_report(actor, target_text).row
    except NotFound:
        raise ValidationFailed("No report of yours has that reference.", {"into": "unknown"}) from None
    if keep.id == dup.id:
        raise ValidationFailed("A report cannot be merged into itself.", {"into": "same"})
    if keep.status not in tuple(ReportStatus.OPEN):
        raise Conflict(f"{keep.reference} is no longer open; merge into an open report.")
    if dup.status == ReportStatus.CLOSED:
        raise Conflict(f"{dup.reference} is already closed.")
    reports.change_status(actor, dup.id, ReportStatus.CLOSED, reason=f"Duplicate of {keep.reference}")
    with write_session() as s:
        target = s.exec(select(Report).where(Report.id == keep.id, Report.organisation_id == org_id)
                        .with_for_update()).first()
        source = s.exec(select(Report).where(Report.id == dup.id, Report.organisation_id == org_id)).first()
        if target is None or source is None:
            raise NotFound("No such report.")
        have = {f.email.lower() for f in s.exec(select(ReportFollower).where(ReportFollower.report_id == target.id))}
        moved = 0
        for f in s.exec(select(ReportFollower).where(ReportFollower.report_id == source.id,
                                                     ReportFollower.stopped_at.is_(None))).all():
            if f.email.lower() in have:
                continue
            s.add(ReportFollower(organisation_id=org_id, report_id=target.id, email=f.email, name=f.name,
                                 token_hash=f.token_hash))
            have.add(f.email.lower())
            moved += 1
        now = utcnow()
        target.repeat_count = (target.repeat_count or 0) + 1 + (source.repeat_count or 0)
        target.updated_at = now
        s.add(target)
        pending: list[audit.Pending] = []
        case = s.get(Case, target.case_id)
        category = s.get(ReportCategory, target.category_id)
        dtype = s.get(CaseLookup, category.demand_type_id) if category else None
        if case is not None and dtype is not None:
            casework_cases.add_demand_in(s, case, dtype, pending, demand_class=DemandClass.FAILURE,
                                         description=f"Repeat report {source.reference} merged",
                                         received_at=source.created_at)
        author = actor.full_name or actor.username
        s.add(ReportUpdate(organisation_id=org_id, report_id=target.id, kind="internal", is_public=False,
                           body=f"{source.reference} merged into this report ({moved} follower(s) added).",
                           author_user_id=actor.user_id, author_name=author, created_at=now))
        s.add(ReportUpdate(organisation_id=org_id, report_id=source.id, kind="internal", is_public=False,
                           body=f"Merged into {target.reference}.", author_user_id=actor.user_id,
                           author_name=author, created_at=now))
        pending.append(audit.Pending("env_report", target.id, "merged",
                                     after={"duplicate": source.reference, "followers_added": moved,
                                            "repeat_count": target.repeat_count}))
        audit.record_many(s, actor, pending, organisation_id=org_id)
        return target.reference



__all__ = ["MAX_BULK", "bulk_assign", "claim", "merge"]
