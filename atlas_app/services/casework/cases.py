"""Cases: demands (value or failure, with end-to-end time), linked people and places, activities of tasks,
intentions (with "my work"), and system conditions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from atlas_app.db import contains, read_session, utcnow, write_session
from atlas_app.domain.statuses import CaseStatus, DemandClass
from atlas_app.models import User
from atlas_app.models.casework import (
    Activity,
    Case,
    CaseLookup,
    CaseModule,
    CasePerson,
    CasePlace,
    CaseTeam,
    Demand,
    Intention,
    Person,
    Place,
    SystemCondition,
    Task,
)
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.casework.config import active_lookup, team_ids_of
from atlas_app.services.casework.people import (
    full_name,
    get_person_row,
    parse_date,
    person_ref,
    place_by_uprn,
    place_label,
)
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import LONDON, london_date


def case_ref(case_id: int) -> str:
    return f"C{case_id:06d}"


def parse_case_ref(value: Any) -> int:
    match = re.fullmatch(r"C?0*(\d{1,10})", str(value or "").strip().upper())
    case_id = bounds.id_or_none(match.group(1)) if match else None
    if case_id is None:
        raise NotFound("No such case.")
    return case_id


def parse_datetime(value: Any, name: str, required: bool = False) -> datetime | None:
    """An aware datetime; naive values and form text ("2024-05-01T10:30") are London wall-clock time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=LONDON)
    text = str(value or "").strip()
    if not text:
        if required:
            raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} is required.", {name: "required"})
        return None
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=LONDON)
        except ValueError:
            continue
    raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} must be a date and time.", {name: "invalid"})


def duration_text(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 0:
        return ""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def _int(value: Any, name: str, minimum: int = 0, maximum: int = 100_000) -> int:
    return bounds.whole_number(value, name, minimum, maximum, blank=0)


def _get_case(s: Session, org_id: int, case_id: Any, lock: bool = False) -> Case:
    cid = parse_case_ref(case_id)
    query = select(Case).where(Case.id == cid, Case.organisation_id == org_id)
    if lock:
        query = query.with_for_update()
    case = s.exec(query).first()
    if case is None:
        raise NotFound("No such case.")
    return case


def _open_case(s: Session, org_id: int, case_id: Any) -> Case:
    case = _get_case(s, org_id, case_id)
    if case.status != CaseStatus.OPEN:
        raise Conflict("That case is closed; reopen it first.")
    return case


def _staff_user(s: Session, org_id: int, user_id: Any, name: str) -> int | None:
    if user_id in (None, "", 0, "0"):
        return None
    uid = _int(user_id, name, 1, bounds.MAX_ID)
    if s.exec(select(User.id).where(User.id == uid, User.organisation_id == org_id)).first() is None:
        raise ValidationFailed("Choose a member of staff from the list.", {name: "unknown"})
    return uid


# --- DTOs ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    id: int
    ref: str
    title: str
    module: str
    status: str
    opened_at: datetime
    people: str
    demands: int


@dataclass(frozen=True)
class DemandRow:
    id: int
    demand_type: str
    category: str
    demand_class: str
    channel: str
    description: str
    received_at: datetime
    one_stop: bool
    need_met_at: datetime | None
    end_to_end: str


@dataclass(frozen=True)
class TaskRow:
    category: str
    person: str
    staff: str
    minutes: int


@dataclass(frozen=True)
class ActivityRow:
    id: int
    occurred_at: datetime
    staff: str
    note: str
    tasks: list[TaskRow]
    minutes: int


@dataclass(frozen=True)
class IntentionRow:
    id: int
    case_id: int
    case_ref: str
    case_title: str
    intention_type: str
    owner: str
    due_on: date
    note: str
    outcome: str
    completed_at: datetime | None
    overdue: bool
    due_today: bool


@dataclass(frozen=True)
class ConditionRow:
    id: int
    category: str
    demand: str
    note: str
    minutes_lost: int
    recorded_at: datetime


@dataclass(frozen=True)
class PartyRow:
    id: int
    ref: str
    name: str
    role: str


@dataclass(frozen=True)
class CaseDetail:
    id: int
    ref: str
    title: str
    module_id: int
    module: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    people: list[PartyRow] = field(default_factory=list)
    # ref = UPRN, name = address
    places: list[PartyRow] = field(default_factory=list)
    demands: list[DemandRow] = field(default_factory=list)
    activities: list[ActivityRow] = field(default_factory=list)
    intentions: list[IntentionRow] = field(default_factory=list)
    conditions: list[ConditionRow] = field(default_factory=list)


def _names(s: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {v.id: v.name for v in s.exec(select(CaseLookup).where(CaseLookup.id.in_(ids))).all()}


def _user_names(s: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(s.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def _today() -> date:
    return london_date(utcnow())


def _intention_rows(s: Session, rows: list[tuple[Intention, Case]], today: date) -> list[IntentionRow]:
    types = _names(s, {i.intention_type_id for i, _ in rows})
    users = _user_names(s, {i.owner_user_id for i, _ in rows})
    team_ids = {i.team_id for i, _ in rows if i.team_id}
    teams = dict(s.exec(select(CaseTeam.id, CaseTeam.name).where(CaseTeam.id.in_(team_ids))).all()) \
        if team_ids else {}
    out = []
    for i, case in rows:
        owner = users.get(i.owner_user_id, "") if i.owner_user_id else ""
        if i.team_id:
            owner = f"{owner} ({teams.get(i.team_id, '')})" if owner else f"Team: {teams.get(i.team_id, '')}"
        open_ = i.completed_at is None
        out.append(IntentionRow(i.id, case.id, case_ref(case.id), case.title, types.get(i.intention_type_id, ""),
                                owner or "Unassigned", i.due_on, i.note, i.outcome, i.completed_at,
                                open_ and i.due_on < today, open_ and i.due_on == today))
    return out


# --- cases -----------------------------------------------------------------------------------------------------


def create_case(actor: Actor, *, module_id: Any, title: str, person_id: Any = None, role_id: Any = None,
                uprn: Any = None) -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    title = " ".join(str(title or "").split())
    if not title:
        raise ValidationFailed("Give the case a short title.", {"title": "required"})
    if len(title) > 200:
        raise ValidationFailed("The title is too long (200 characters at most).", {"title": "too long"})
    with write_session() as s:
        mid = bounds.id_or_none(module_id)
        if mid is None:
            raise ValidationFailed("Choose a module.", {"module_id": "required"})
        module = s.exec(select(CaseModule).where(CaseModule.id == mid, CaseModule.organisation_id == org_id,
                                                 CaseModule.is_active == True)).first()  # noqa: E712
        if module is None:
            raise ValidationFailed("Choose one of your modules.", {"module_id": "unknown"})
        if module.is_read_only:
            raise ValidationFailed(f"{module.name} reads other modules' cases and opens none itself.",
                                   {"module_id": "read only"})
        case = Case(organisation_id=org_id, module_id=module.id, title=title, opened_by_id=actor.user_id)
        s.add(case)
        s.flush()
        after: dict[str, Any] = {"title": title, "module": module.name}
        if str(person_id or "").strip():
            person = get_person_row(s, org_id, person_id)
            role = active_lookup(s, org_id, role_id, "case_role", field="role_id") if str(role_id or "").strip() \
                else None
            s.add(CasePerson(organisation_id=org_id, case_id=case.id, person_id=person.id,
                             role_id=role.id if role else None))
            after["person"] = person_ref(person.id)
        if str(uprn or "").strip():
            place = place_by_uprn(s, org_id, uprn)
            s.add(CasePlace(organisation_id=org_id, case_id=case.id, place_id=place.id))
            after["uprn"] = place.uprn
        audit.record(s, actor, "case", case.id, "opened", after=after)
        return case.id


def open_case_in(s: Session, actor: Actor, module: CaseModule, title: str, pending: list[audit.Pending],
                 place_id: int | None = None, uprn: int | None = None,
                 audit_after: dict[str, Any] | None = None) -> Case:
    """Open a case inside the caller's transaction (for a service that writes more in the same unit of work, like
    a resident's report with its photos). The caller has checked the module belongs to the actor's organisation,
    and that ``place_id`` (the place the case is at, whose UPRN is ``uprn``) is one of its places.
    The audit entry is appended to ``pending`` for the caller to record last (``audit.record_many``)."""
    title = " ".join(str(title or "").split())[:200] or "Case"
    case = Case(organisation_id=module.organisation_id, module_id=module.id, title=title,
                opened_by_id=actor.user_id)
    s.add(case)
    s.flush()
    after: dict[str, Any] = {"title": title, "module": module.name, **(audit_after or {})}
    if place_id is not None:
        s.add(CasePlace(organisation_id=module.organisation_id, case_id=case.id, place_id=place_id))
        after["uprn"] = uprn
    pending.append(audit.Pending("case", case.id, "opened", after=after))
    return case


def add_demand_in(s: Session, case: Case, demand_type: CaseLookup, pending: list[audit.Pending], *,
                  demand_class: str | None = None, description: str = "", channel: CaseLookup | None = None,
                  received_at: datetime | None = None) -> Demand:
    """Record a demand on a case inside the caller's transaction (the value demand of a new report, or the failure
    demand of a repeat); its audit entry goes to ``pending``."""
    demand_class = demand_class or demand_type.demand_class or DemandClass.VALUE
    if demand_class not in tuple(DemandClass):
        raise ValidationFailed("Say whether it is value or failure demand.", {"demand_class": "required"})
    received = received_at or utcnow()
    demand = Demand(organisation_id=case.organisation_id, case_id=case.id, demand_type_id=demand_type.id,
                    demand_class=demand_class, channel_id=channel.id if channel else None,
                    description=str(description or "").strip()[:2000], received_at=received)
    s.add(demand)
    s.flush()
    pending.append(audit.Pending("case", case.id, "demand_added",
                                 after={"demand_id": demand.id, "type": demand_type.name, "class": demand_class,
                                        "channel": channel.name if channel else "", "received_at": received}))
    return demand


def set_case_status(actor: Actor, case_id: Any, status: str) -> None:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    if status not in tuple(CaseStatus):
        raise ValidationFailed("Unknown case status.", {"status": "invalid"})
    with write_session() as s:
        case = _get_case(s, org_id, case_id, lock=True)
        if case.status == status:
            return
        case.status = status
        case.closed_at = utcnow() if status == CaseStatus.CLOSED else None
        s.add(case)
        audit.record(s, actor, "case", case.id, "closed" if status == CaseStatus.CLOSED else "reopened")


def list_cases(actor: Actor, *, search: str = "", status: str = "", limit: int = 100) -> list[CaseRow]:
    org_id = actor.org_for(Perm.CASES_VIEW)
    with read_session() as s:
        query = select(Case, CaseModule.name).join(CaseModule, CaseModule.id == Case.module_id).where(
            Case.organisation_id == org_id)
        if status in tuple(CaseStatus):
            query = query.where(Case.status == status)
        text = " ".join(str(search or "").split())[:100]
        if text:
            conditions = [contains(func.lower(Case.title), text.lower())]
            case_id = bounds.id_or_none(text.lstrip("Cc")) if re.fullmatch(r"[Cc]?\d{1,10}", text) else None
            if case_id is not None:
                conditions.append(Case.id == case_id)
            query = query.where(or_(*conditions))
        rows = s.exec(query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(min(limit, 500))).all()
        ids = [c.id for c, _ in rows]
        people: dict[int, list[str]] = {}
        demands: dict[int, int] = {}
        if ids:
            for cid, person in s.exec(select(CasePerson.case_id, Person).join(Person, Person.id ==
                                                                              CasePerson.person_id)
                                      .where(CasePerson.case_id.in_(ids))).all():
                people.setdefault(cid, []).append(full_name(person))
            demands = dict(s.exec(select(Demand.case_id, func.count()).where(Demand.case_id.in_(ids))
                                  .group_by(Demand.case_id)).all())
        return [CaseRow(c.id, case_ref(c.id), c.title, m, c.status, c.opened_at, ", ".join(people.get(c.id, [])),
                        demands.get(c.id, 0)) for c, m in rows]


def get_case(actor: Actor, case_id: Any) -> CaseDetail:
    org_id = actor.org_for(Perm.CASES_VIEW)
    with read_session() as s:
        case = _get_case(s, org_id, case_id)
        module = s.get(CaseModule, case.module_id)
        people = s.exec(select(CasePerson, Person).join(Person, Person.id == CasePerson.person_id)
                        .where(CasePerson.case_id == case.id).order_by(CasePerson.id)).all()
        places = s.exec(select(CasePlace, Place).join(Place, Place.id == CasePlace.place_id)
                        .where(CasePlace.case_id == case.id).order_by(CasePlace.id)).all()
        demands = s.exec(select(Demand).where(Demand.case_id == case.id).order_by(Demand.received_at)).all()
        activities = s.exec(select(Activity).where(Activity.case_id == case.id)
                            .order_by(Activity.occurred_at.desc(), Activity.id.desc())).all()
        tasks = s.exec(select(Task).where(Task.activity_id.in_([a.id for a in activities]))
                       .order_by(Task.id)).all() if activities else []
        intentions = s.exec(select(Intention, Case).join(Case, Case.id == Intention.case_id)
                            .where(Intention.case_id == case.id)
                            .order_by(Intention.completed_at.is_(None).desc(), Intention.due_on)).all()
        conditions = s.exec(select(SystemCondition).where(SystemCondition.case_id == case.id)
                            .order_by(SystemCondition.recorded_at.desc())).all()
        lookups = _names(s, {cp.role_id for cp, _ in people}
                         | {d.demand_type_id for d in demands} | {d.category_id for d in demands}
                         | {d.channel_id for d in demands} | {t.task_category_id for t in tasks}
                         | {c.category_id for c in conditions})
        users = _user_names(s, {a.staff_user_id for a in activities} | {t.staff_user_id for t in tasks})
        task_people = {p.id: full_name(p) for p in s.exec(select(Person).where(
            Person.id.in_({t.person_id for t in tasks if t.person_id}))).all()} if tasks else {}
        demand_labels = {d.id: lookups.get(d.demand_type_id, "") for d in demands}
        by_activity: dict[int, list[TaskRow]] = {}
        minutes: dict[int, int] = {}
        for t in tasks:
            by_activity.setdefault(t.activity_id, []).append(
                TaskRow(lookups.get(t.task_category_id, ""), task_people.get(t.person_id, ""),
                        users.get(t.staff_user_id, ""), t.minutes))
            minutes[t.activity_id] = minutes.get(t.activity_id, 0) + t.minutes
        return CaseDetail(
            id=case.id, ref=case_ref(case.id), title=case.title, module_id=case.module_id,
            module=module.name if module else "", status=case.status, opened_at=case.opened_at,
            closed_at=case.closed_at,
            people=[PartyRow(p.id, person_ref(p.id), full_name(p), lookups.get(cp.role_id, "")) for cp, p in people],
            places=[PartyRow(pl.id, str(pl.uprn), place_label(pl), "") for _, pl in places],
            demands=[DemandRow(d.id, lookups.get(d.demand_type_id, ""), lookups.get(d.category_id, ""),
                               d.demand_class, lookups.get(d.channel_id, ""), d.description, d.received_at,
                               d.one_stop, d.need_met_at,
                               duration_text(d.need_met_at - d.received_at) if d.need_met_at else "")
                     for d in demands],
            activities=[ActivityRow(a.id, a.occurred_at, users.get(a.staff_user_id, ""), a.note,
                                    by_activity.get(a.id, []), minutes.get(a.id, 0)) for a in activities],
            intentions=_intention_rows(s, list(intentions), _today()),
            conditions=[ConditionRow(c.id, lookups.get(c.category_id, ""), demand_labels.get(c.demand_id, ""),
                                     c.note, c.minutes_lost, c.recorded_at) for c in conditions],
        )


def link_person(actor: Actor, case_id: Any, person_id: Any, role_id: Any = None) -> None:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    with write_session() as s:
        case = _open_case(s, org_id, case_id)
        person = get_person_row(s, org_id, person_id)
        if person.merged_into_id:
            raise ValidationFailed(f"{person_ref(person.id)} was merged into {person_ref(person.merged_into_id)}.",
                                   {"person_id": "merged"})
        role = active_lookup(s, org_id, role_id, "case_role", field="role_id") if str(role_id or "").strip() \
            else None
        if s.exec(select(CasePerson.id).where(CasePerson.case_id == case.id,
                                              CasePerson.person_id == person.id)).first():
            raise Conflict(f"{full_name(person)} is already on this case.")
        s.add(CasePerson(organisation_id=org_id, case_id=case.id, person_id=person.id,
                         role_id=role.id if role else None))
        audit.record(s, actor, "case", case.id, "person_linked",
                     after={"person": person_ref(person.id), "role": role.name if role else ""},
                     subject=audit.about_person(person.id))


def link_place(actor: Actor, case_id: Any, uprn: Any) -> None:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    with write_session() as s:
        case = _open_case(s, org_id, case_id)
        place = place_by_uprn(s, org_id, uprn)
        if s.exec(select(CasePlace.id).where(CasePlace.case_id == case.id, CasePlace.place_id == place.id)).first():
            raise Conflict(f"UPRN {place.uprn} is already on this case.")
        s.add(CasePlace(organisation_id=org_id, case_id=case.id, place_id=place.id))
        audit.record(s, actor, "case", case.id, "place_linked", after={"uprn": place.uprn})


def add_demand(actor: Actor, case_id: Any, data: dict[str, Any]) -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    received = parse_datetime(data.get("received_at"), "received_at") or utcnow()
    need_met = parse_datetime(data.get("need_met_at"), "need_met_at")
    if received > utcnow() + timedelta(minutes=5):
        raise ValidationFailed("The demand cannot be received in the future.", {"received_at": "future"})
    if need_met is not None and need_met < received:
        raise ValidationFailed("The need cannot be met before the demand was received.", {"need_met_at": "early"})
    description = str(data.get("description") or "").strip()[:2000]
    with write_session() as s:
        case = _open_case(s, org_id, case_id)
        dtype = active_lookup(s, org_id, data.get("demand_type_id"), "demand_type", case.module_id,
                              field="demand_type_id")
        category = active_lookup(s, org_id, data["category_id"], "demand_category", case.module_id,
                                 field="category_id") if str(data.get("category_id") or "").strip() else None
        channel = active_lookup(s, org_id, data["channel_id"], "channel", field="channel_id") \
            if str(data.get("channel_id") or "").strip() else None
        demand_class = str(data.get("demand_class") or "").strip().lower() or (
            category.demand_class if category else dtype.demand_class)
        if demand_class not in tuple(DemandClass):
            raise ValidationFailed("Say whether it is value or failure demand.", {"demand_class": "required"})
        demand = Demand(organisation_id=org_id, case_id=case.id, demand_type_id=dtype.id,
                        category_id=category.id if category else None, demand_class=demand_class,
                        channel_id=channel.id if channel else None, description=description, received_at=received,
                        one_stop=bool(data.get("one_stop")), need_met_at=need_met)
        s.add(demand)
        s.flush()
        audit.record(s, actor, "case", case.id, "demand_added",
                     after={"demand_id": demand.id, "type": dtype.name, "class": demand_class,
                            "category": category.name if category else "", "channel": channel.name if channel else "",
                            "received_at": received, "one_stop": demand.one_stop, "need_met_at": need_met})
        return demand.id


def set_need_met(actor: Actor, demand_id: Any, need_met_at: Any = None) -> None:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    when = parse_datetime(need_met_at, "need_met_at") or utcnow()
    with write_session() as s:
        demand = s.exec(select(Demand).where(Demand.id == _int(demand_id, "demand_id", 1, bounds.MAX_ID),
                                             Demand.organisation_id == org_id)).first()
        if demand is None:
            raise NotFound("No such demand.")
        if when < demand.received_at:
            raise ValidationFailed("The need cannot be met before the demand was received.", {"need_met_at": "early"})
        before = demand.need_met_at
        demand.need_met_at = when
        s.add(demand)
        audit.record(s, actor, "case", demand.case_id, "need_met",
                     before={"demand_id": demand.id, "need_met_at": before},
                     after={"demand_id": demand.id, "need_met_at": when})


def log_activity(actor: Actor, case_id: Any, *, occurred_at: Any = None, note: str = "",
                 tasks: list[dict[str, Any]]) -> int:
    """An activity of one or more tasks, each with a task category, the person involved, the member of staff and
    the minutes it took."""
    org_id = actor.org_for(Perm.CASES_MANAGE)
    when = parse_datetime(occurred_at, "occurred_at") or utcnow()
    tasks = [t for t in (tasks or []) if str(t.get("task_category_id") or "").strip()]
    if not tasks:
        raise ValidationFailed("Add at least one task.", {"tasks": "required"})
    if len(tasks) > 30:
        raise ValidationFailed("At most 30 tasks in one activity.", {"tasks": "too many"})
    with write_session() as s:
        case = _open_case(s, org_id, case_id)
        case_people = set(s.exec(select(CasePerson.person_id).where(CasePerson.case_id == case.id)).all())
        activity = Activity(organisation_id=org_id, case_id=case.id, occurred_at=when,
                            staff_user_id=actor.user_id, note=str(note or "").strip()[:2000])
        s.add(activity)
        s.flush()
        logged = []
        for n, item in enumerate(tasks, start=1):
            category = active_lookup(s, org_id, item.get("task_category_id"), "task_category", case.module_id,
                                     field=f"task_{n}_category")
            person_id = None
            if str(item.get("person_id") or "").strip():
                person = get_person_row(s, org_id, item["person_id"])
                if person.id not in case_people:
                    raise ValidationFailed(f"Task {n}: the person involved must be one of the case's people.",
                                           {f"task_{n}_person": "not on case"})
                person_id = person.id
            staff = _staff_user(s, org_id, item.get("staff_user_id"), f"task_{n}_staff") or actor.user_id
            minutes = _int(item.get("minutes", 0), f"task_{n}_minutes", 0, 24 * 60)
            s.add(Task(organisation_id=org_id, activity_id=activity.id, task_category_id=category.id,
                       person_id=person_id, staff_user_id=staff, minutes=minutes))
            logged.append({"category": category.name, "person_id": person_id, "minutes": minutes})
        audit.record(s, actor, "case", case.id, "activity_logged",
                     after={"activity_id": activity.id, "occurred_at": when, "tasks": logged})
        return activity.id


def add_intention(actor: Actor, case_id: Any, *, intention_type_id: Any, due_on: Any, owner_user_id: Any = None,
                  team_id: Any = None, note: str = "") -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    due = parse_date(due_on, "due_on", required=True)
    with write_session() as s:
        case = _open_case(s, org_id, case_id)
        itype = active_lookup(s, org_id, intention_type_id, "intention_type", case.module_id,
                              field="intention_type_id")
        owner = _staff_user(s, org_id, owner_user_id, "owner_user_id")
        team = None
        if team_id not in (None, "", 0, "0"):
            team = s.exec(select(CaseTeam).where(CaseTeam.id == _int(team_id, "team_id", 1, bounds.MAX_ID),
                                                 CaseTeam.organisation_id == org_id,
                                                 CaseTeam.is_active == True)).first()  # noqa: E712
            if team is None:
                raise ValidationFailed("Choose one of your teams.", {"team_id": "unknown"})
        if owner is None and team is None:
            owner = actor.user_id
        intention = Intention(organisation_id=org_id, case_id=case.id, intention_type_id=itype.id,
                              owner_user_id=owner, team_id=team.id if team else None, due_on=due,
                              note=str(note or "").strip()[:1000])
        s.add(intention)
        s.flush()
        audit.record(s, actor, "case", case.id, "intention_set",
                     after={"intention_id": intention.id, "type": itype.name, "due_on": due,
                            "owner_user_id": owner, "team_id": intention.team_id})
        return intention.id


def complete_intention(actor: Actor, intention_id: Any, outcome: str) -> None:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    outcome = " ".join(str(outcome or "").split())[:1000]
    if not outcome:
        raise ValidationFailed("Record the outcome.", {"outcome": "required"})
    with write_session() as s:
        intention = s.exec(select(Intention).where(Intention.id == _int(intention_id, "intention_id", 1, bounds.MAX_ID),
                                                   Intention.organisation_id == org_id)
                           .with_for_update()).first()
        if intention is None:
            raise NotFound("No such intention.")
        if intention.completed_at is not None:
            raise Conflict("That intention is already complete.")
        intention.completed_at = utcnow()
        intention.outcome = outcome
        s.add(intention)
        audit.record(s, actor, "case", intention.case_id, "intention_completed",
                     after={"intention_id": intention.id, "outcome": outcome})


def add_system_condition(actor: Actor, case_id: Any, *, category_id: Any, note: str = "", minutes_lost: Any = 0,
                         demand_id: Any = None) -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    with write_session() as s:
        case = _get_case(s, org_id, case_id)
        category = active_lookup(s, org_id, category_id, "system_condition", case.module_id, field="category_id")
        demand = None
        if demand_id not in (None, "", 0, "0"):
            demand = s.exec(select(Demand).where(Demand.id == _int(demand_id, "demand_id", 1, bounds.MAX_ID),
                                                 Demand.case_id == case.id,
                                                 Demand.organisation_id == org_id)).first()
            if demand is None:
                raise ValidationFailed("Choose one of this case's demands.", {"demand_id": "unknown"})
        row = SystemCondition(organisation_id=org_id, case_id=case.id, demand_id=demand.id if demand else None,
                              category_id=category.id, note=str(note or "").strip()[:2000],
                              minutes_lost=_int(minutes_lost, "minutes_lost", 0, 100_000),
                              recorded_by_id=actor.user_id)
        s.add(row)
        s.flush()
        audit.record(s, actor, "case", case.id, "system_condition_recorded",
                     after={"id": row.id, "category": category.name, "demand_id": row.demand_id,
                            "minutes_lost": row.minutes_lost})
        return row.id


def my_work(actor: Actor, include_team: bool = True) -> list[IntentionRow]:
    """Open intentions owned by the actor (or one of their teams), soonest due first."""
    org_id = actor.org_for(Perm.CASES_VIEW)
    with read_session() as s:
        owners = [Intention.owner_user_id == actor.user_id]
        teams = team_ids_of(s, org_id, actor.user_id) if include_team else []
        if teams:
            owners.append(Intention.team_id.in_(teams))
        rows = s.exec(select(Intention, Case).join(Case, Case.id == Intention.case_id)
                      .where(Intention.organisation_id == org_id, Intention.completed_at.is_(None), or_(*owners))
                      .order_by(Intention.due_on, Intention.id).limit(500)).all()
        return _intention_rows(s, list(rows), _today())


def staff_options(actor: Actor) -> list[tuple[int, str]]:
    org_id = actor.org_for(Perm.CASES_VIEW)
    with read_session() as s:
        return [(u.id, u.full_name) for u in s.exec(select(User).where(User.organisation_id == org_id,
                                                                       User.is_active == True)  # noqa: E712
                                                    .order_by(User.full_name)).all()]


def cases_at_place(s: Session, org_id: int, place_id: int) -> list[CaseRow]:
    rows = s.exec(select(Case, CaseModule.name).join(CaseModule, CaseModule.id == Case.module_id)
                  .join(CasePlace, CasePlace.case_id == Case.id)
                  .where(CasePlace.place_id == place_id, Case.organisation_id == org_id)
                  .order_by(Case.opened_at.desc())).all()
    return [CaseRow(c.id, case_ref(c.id), c.title, m, c.status, c.opened_at, "", 0) for c, m in rows]

