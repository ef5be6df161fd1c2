"""Casework configuration: departmental modules, their lookup lists and teams.

Administrators (``Perm.SETTINGS_MANAGE``) add, rename, reorder and retire lookup values in the app. Retired values
stay on the records that use them and are no longer offered. Case workers read the active values through
``options``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from atlas_app.db import read_session, write_session
from atlas_app.models import User
from atlas_app.models.casework import (
    LOOKUP_KINDS,
    MODULE_KINDS,
    CaseLookup,
    CaseModule,
    CaseTeam,
    CaseTeamMember,
)
from atlas_app.services import modules
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import Perm

DEMAND_CLASSES = ("value", "failure")


@dataclass(frozen=True)
class ModuleRow:
    id: int
    name: str
    description: str
    is_read_only: bool
    is_active: bool
    module_type: str = modules.GENERIC


@dataclass(frozen=True)
class LookupRow:
    id: int
    kind: str
    name: str
    reverse_name: str
    demand_class: str
    module_id: int | None
    module_name: str
    sort_order: int
    is_active: bool


@dataclass(frozen=True)
class TeamRow:
    id: int
    name: str
    team_type_id: int
    team_type: str
    module_name: str
    is_active: bool
    member_ids: list[int]
    members: list[str]


def _admin(actor: Actor) -> int:
    actor.require(Perm.SETTINGS_MANAGE)
    return actor.require_org()


def _reader(actor: Actor) -> int:
    if not (actor.can(Perm.CASES_VIEW) or actor.can(Perm.SETTINGS_MANAGE)):
        raise PermissionDenied()
    return actor.require_org()


def _name(value: Any, field: str = "name", max_len: int = 120) -> str:
    out = " ".join(str(value or "").split())
    if not out:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is required.", {field: "required"})
    if len(out) > max_len:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is too long ({max_len} characters at most).",
                               {field: "too long"})
    return out


def _id(value: Any, what: str) -> int:
    out = bounds.id_or_none(value)
    if out is None:
        raise NotFound(f"No such {what}.")
    return out


# --- modules ---------------------------------------------------------------------------------------------------


def list_modules(actor: Actor, include_inactive: bool = False) -> list[ModuleRow]:
    org_id = _reader(actor)
    with read_session() as s:
        query = select(CaseModule).where(CaseModule.organisation_id == org_id)
        if not include_inactive:
            query = query.where(CaseModule.is_active == True)  # noqa: E712
        rows = s.exec(query.order_by(CaseModule.sort_order, CaseModule.name)).all()
        return [ModuleRow(m.id, m.name, m.description, m.is_read_only, m.is_active, m.module_type) for m in rows]


def save_module(actor: Actor, module_id: int | None, *, name: str, description: str = "",
                is_read_only: bool = False, is_active: bool = True, module_type: str | None = None) -> int:
    """Add or change a module. ``module_type`` None keeps an existing module's type (a new one is generic); a
    non-generic type turns that type's screens on, and an organisation has at most one module of each."""
    org_id = _admin(actor)
    values = {"name": _name(name, max_len=100), "description": str(description or "").strip()[:500],
              "is_read_only": bool(is_read_only), "is_active": bool(is_active)}
    if module_type is not None or module_id is None:
        values["module_type"] = modules.check_type(module_type)
    with write_session() as s:
        clash = s.exec(select(CaseModule.id).where(CaseModule.organisation_id == org_id,
                                                   func.lower(CaseModule.name) == values["name"].lower())).first()
        kind = values.get("module_type", modules.GENERIC)
        if kind != modules.GENERIC:
            holder = s.exec(select(CaseModule).where(CaseModule.organisation_id == org_id,
                                                     CaseModule.module_type == kind)).first()
            if holder is not None and holder.id != module_id:
                raise Conflict(f"'{holder.name}' is already this organisation's "
                               f"{modules.MODULE_TYPES[kind].name} module.")
        if module_id is None:
            if clash:
                raise Conflict(f"There is already a module called '{values['name']}'.")
            count = s.exec(select(func.count()).select_from(CaseModule)
                           .where(CaseModule.organisation_id == org_id)).one()
            module = CaseModule(organisation_id=org_id, sort_order=count, **values)
            s.add(module)
            s.flush()
            audit.record(s, actor, "case_module", module.id, "created", after=values)
            return module.id
        module = s.exec(select(CaseModule).where(CaseModule.id == _id(module_id, "module"),
                                                 CaseModule.organisation_id == org_id)).first()
        if module is None:
            raise NotFound("No such module.")
        if clash and clash != module.id:
            raise Conflict(f"There is already a module called '{values['name']}'.")
        before = {k: getattr(module, k) for k in values}
        for key, value in values.items():
            setattr(module, key, value)
        s.add(module)
        old, new = audit.changes(before, values)
        if new:
            audit.record(s, actor, "case_module", module.id, "updated", before=old, after=new)
        return module.id


# --- lookup lists ----------------------------------------------------------------------------------------------


def _check_kind(kind: str) -> str:
    if kind not in LOOKUP_KINDS:
        raise ValidationFailed("Unknown kind of list.", {"kind": "unknown"})
    return kind


def _module_for(s: Session, org_id: int, kind: str, module_id: Any) -> int | None:
    if kind not in MODULE_KINDS:
        return None
    if module_id in (None, "", 0, "0"):
        raise ValidationFailed(f"{LOOKUP_KINDS[kind]} belong to a module: choose one.", {"module_id": "required"})
    module = s.exec(select(CaseModule.id).where(CaseModule.id == _id(module_id, "module"),
                                                CaseModule.organisation_id == org_id)).first()
    if module is None:
        raise ValidationFailed("Choose one of your modules.", {"module_id": "unknown"})
    return module


def _lookup_rows(s: Session, query) -> list[LookupRow]:
    values = s.exec(query.order_by(CaseLookup.kind, CaseLookup.sort_order, CaseLookup.id)).all()
    module_ids = {v.module_id for v in values if v.module_id is not None}
    modules = {m.id: m for m in s.exec(select(CaseModule).where(CaseModule.id.in_(module_ids))).all()} \
        if module_ids else {}
    values = sorted(values, key=lambda v: (v.kind, modules[v.module_id].sort_order if v.module_id in modules
                                           else -1, v.sort_order, v.id))
    return [LookupRow(v.id, v.kind, v.name, v.reverse_name, v.demand_class, v.module_id,
                      modules[v.module_id].name if v.module_id in modules else "", v.sort_order, v.is_active)
            for v in values]


def list_lookups(actor: Actor, kind: str | None = None, module_id: int | None = None) -> list[LookupRow]:
    """Every value (active and retired) of one kind, or of all kinds; for the administrator's screen."""
    org_id = _reader(actor)
    with read_session() as s:
        query = select(CaseLookup).where(CaseLookup.organisation_id == org_id)
        if kind:
            query = query.where(CaseLookup.kind == _check_kind(kind))
        if module_id:
            query = query.where(CaseLookup.module_id == bounds.query_id(module_id))
        return _lookup_rows(s, query)


def options(actor: Actor, kind: str, module_id: int | None = None) -> list[LookupRow]:
    """The active values offered for new records: a module's own values for module kinds."""
    org_id = _reader(actor)
    _check_kind(kind)
    with read_session() as s:
        query = select(CaseLookup).where(CaseLookup.organisation_id == org_id, CaseLookup.kind == kind,
                                         CaseLookup.is_active == True)  # noqa: E712
        if kind in MODULE_KINDS and module_id is not None:
            query = query.where(CaseLookup.module_id == bounds.query_id(module_id))
        return _lookup_rows(s, query)


def active_lookup(s: Session, org_id: int, lookup_id: Any, kind: str, module_id: int | None = None,
                  field: str | None = None, allow_retired_id: int | None = None) -> CaseLookup:
    """A value of ``kind`` that belongs to the organisation (and module) and is active, or ValidationFailed.

    ``allow_retired_id`` lets a record keep the retired value it already has."""
    field = field or kind
    lid = bounds.id_or_none(lookup_id)
    if lid is None:
        raise ValidationFailed(f"Choose a {LOOKUP_KINDS[kind].lower().rstrip('s')}.", {field: "required"})
    value = s.exec(select(CaseLookup).where(CaseLookup.id == lid, CaseLookup.organisation_id == org_id,
                                            CaseLookup.kind == kind)).first()
    if value is None or (kind in MODULE_KINDS and module_id is not None and value.module_id != module_id):
        raise ValidationFailed(f"Choose one of the {LOOKUP_KINDS[kind].lower()} offered.", {field: "unknown"})
    if not value.is_active and value.id != allow_retired_id:
        raise ValidationFailed(f"'{value.name}' has been retired; choose another.", {field: "retired"})
    return value


def add_lookup(actor: Actor, kind: str, name: str, *, module_id: Any = None, reverse_name: str = "",
               demand_class: str = "") -> int:
    org_id = _admin(actor)
    kind = _check_kind(kind)
    name = _name(name)
    with write_session() as s:
        mid = _module_for(s, org_id, kind, module_id)
        values = _lookup_values(kind, name, reverse_name, demand_class)
        _no_clash(s, org_id, kind, mid, name, None)
        last = s.exec(select(func.max(CaseLookup.sort_order)).where(
            CaseLookup.organisation_id == org_id, CaseLookup.kind == kind, CaseLookup.module_id == mid
            if mid is not None else CaseLookup.module_id.is_(None))).one()
        value = CaseLookup(organisation_id=org_id, kind=kind, module_id=mid, sort_order=(last or 0) + 1, **values)
        s.add(value)
        s.flush()
        audit.record(s, actor, "case_lookup", value.id, "created", after={"kind": kind, "module_id": mid, **values})
        return value.id


def _lookup_values(kind: str, name: str, reverse_name: str, demand_class: str) -> dict[str, str]:
    values = {"name": name, "reverse_name": "", "demand_class": ""}
    if kind == "relationship_type":
        values["reverse_name"] = _name(reverse_name, "reverse_name")
    if kind in ("demand_type", "demand_category"):
        demand_class = str(demand_class or "").strip().lower()
        if demand_class not in DEMAND_CLASSES:
            raise ValidationFailed("Say whether it is value or failure demand.", {"demand_class": "required"})
        values["demand_class"] = demand_class
    return values


def _no_clash(s: Session, org_id: int, kind: str, module_id: int | None, name: str, own_id: int | None) -> None:
    query = select(CaseLookup.id).where(CaseLookup.organisation_id == org_id, CaseLookup.kind == kind,
                                        func.lower(CaseLookup.name) == name.lower())
    query = query.where(CaseLookup.module_id == module_id) if module_id is not None else query.where(
        CaseLookup.module_id.is_(None))
    clash = s.exec(query).first()
    if clash and clash != own_id:
        raise Conflict(f"'{name}' is already in that list.")


def _get_lookup(s: Session, org_id: int, lookup_id: Any) -> CaseLookup:
    value = s.exec(select(CaseLookup).where(CaseLookup.id == _id(lookup_id, "value"),
                                            CaseLookup.organisation_id == org_id)).first()
    if value is None:
        raise NotFound("No such value.")
    return value


def rename_lookup(actor: Actor, lookup_id: Any, name: str, *, reverse_name: str | None = None,
                  demand_class: str | None = None) -> None:
    org_id = _admin(actor)
    name = _name(name)
    with write_session() as s:
        value = _get_lookup(s, org_id, lookup_id)
        new = _lookup_values(value.kind, name,
                             value.reverse_name if reverse_name is None else reverse_name,
                             value.demand_class if demand_class is None else demand_class)
        _no_clash(s, org_id, value.kind, value.module_id, name, value.id)
        before = {k: getattr(value, k) for k in new}
        for key, v in new.items():
            setattr(value, key, v)
        s.add(value)
        old, changed = audit.changes(before, new)
        if changed:
            audit.record(s, actor, "case_lookup", value.id, "renamed", before=old, after=changed)


def move_lookup(actor: Actor, lookup_id: Any, direction: int) -> None:
    """Swap a value with its neighbour above (direction -1) or below (+1) in its list."""
    org_id = _admin(actor)
    with write_session() as s:
        value = _get_lookup(s, org_id, lookup_id)
        query = select(CaseLookup).where(CaseLookup.organisation_id == org_id, CaseLookup.kind == value.kind)
        query = query.where(CaseLookup.module_id == value.module_id) if value.module_id is not None else query.where(
            CaseLookup.module_id.is_(None))
        siblings = list(s.exec(query.order_by(CaseLookup.sort_order, CaseLookup.id)).all())
        index = next(i for i, v in enumerate(siblings) if v.id == value.id)
        other = index + (1 if direction > 0 else -1)
        if not 0 <= other < len(siblings):
            return
        siblings[index], siblings[other] = siblings[other], siblings[index]
        for position, sibling in enumerate(siblings, start=1):
            if sibling.sort_order != position:
                sibling.sort_order = position
                s.add(sibling)
        audit.record(s, actor, "case_lookup", value.id, "moved", after={"position": other + 1})


def set_lookup_active(actor: Actor, lookup_id: Any, active: bool) -> None:
    org_id = _admin(actor)
    with write_session() as s:
        value = _get_lookup(s, org_id, lookup_id)
        if value.is_active == bool(active):
            return
        value.is_active = bool(active)
        s.add(value)
        audit.record(s, actor, "case_lookup", value.id, "restored" if active else "retired",
                     after={"name": value.name, "kind": value.kind})


# --- teams -----------------------------------------------------------------------------------------------------


def list_teams(actor: Actor) -> list[TeamRow]:
    org_id = _reader(actor)
    with read_session() as s:
        teams = s.exec(
            select(CaseTeam, CaseLookup.name, CaseModule.name)
            .join(CaseLookup, CaseLookup.id == CaseTeam.team_type_id)
            .outerjoin(CaseModule, CaseModule.id == CaseLookup.module_id)
            .where(CaseTeam.organisation_id == org_id).order_by(CaseTeam.name)
        ).all()
        members = s.exec(
            select(CaseTeamMember.team_id, User.id, User.full_name).join(User, User.id == CaseTeamMember.user_id)
            .where(CaseTeamMember.organisation_id == org_id).order_by(User.full_name)
        ).all()
        out = []
        for team, type_name, module_name in teams:
            mine = [(uid, name) for tid, uid, name in members if tid == team.id]
            out.append(TeamRow(team.id, team.name, team.team_type_id, type_name, module_name or "", team.is_active,
                               [u for u, _ in mine], [n for _, n in mine]))
        return out


def save_team(actor: Actor, team_id: int | None, *, name: str, team_type_id: Any, is_active: bool = True) -> int:
    org_id = _admin(actor)
    name = _name(name)
    with write_session() as s:
        existing = None
        if team_id is not None:
            existing = s.exec(select(CaseTeam).where(CaseTeam.id == _id(team_id, "team"),
                                                     CaseTeam.organisation_id == org_id)).first()
            if existing is None:
                raise NotFound("No such team.")
        team_type = active_lookup(s, org_id, team_type_id, "team_type", field="team_type_id",
                                  allow_retired_id=existing.team_type_id if existing else None)
        clash = s.exec(select(CaseTeam.id).where(CaseTeam.organisation_id == org_id,
                                                 func.lower(CaseTeam.name) == name.lower())).first()
        if clash and (existing is None or clash != existing.id):
            raise Conflict(f"There is already a team called '{name}'.")
        values = {"name": name, "team_type_id": team_type.id, "is_active": bool(is_active)}
        if existing is None:
            team = CaseTeam(organisation_id=org_id, **values)
            s.add(team)
            s.flush()
            audit.record(s, actor, "case_team", team.id, "created", after=values)
            return team.id
        before = {k: getattr(existing, k) for k in values}
        for key, v in values.items():
            setattr(existing, key, v)
        s.add(existing)
        old, new = audit.changes(before, values)
        if new:
            audit.record(s, actor, "case_team", existing.id, "updated", before=old, after=new)
        return existing.id


def set_team_members(actor: Actor, team_id: Any, user_ids) -> None:
    org_id = _admin(actor)
    with write_session() as s:
        team = s.exec(select(CaseTeam).where(CaseTeam.id == _id(team_id, "team"),
                                             CaseTeam.organisation_id == org_id)).first()
        if team is None:
            raise NotFound("No such team.")
        wanted = {bounds.query_id(u) for u in user_ids or []}  # 0 for an id out of range: unknown below
        known = set(s.exec(select(User.id).where(User.organisation_id == org_id, User.id.in_(wanted))).all()) \
            if wanted else set()
        if known != wanted:
            raise ValidationFailed("Choose users of your organisation.", {"user_ids": "unknown"})
        current = {m.user_id: m for m in s.exec(select(CaseTeamMember).where(CaseTeamMember.team_id == team.id))}
        for uid, member in current.items():
            if uid not in wanted:
                s.delete(member)
        for uid in wanted - set(current):
            s.add(CaseTeamMember(team_id=team.id, user_id=uid, organisation_id=org_id))
        audit.record(s, actor, "case_team", team.id, "members_set",
                     before={"user_ids": sorted(current)}, after={"user_ids": sorted(wanted)})


def team_ids_of(s: Session, org_id: int, user_id: int | None) -> list[int]:
    if user_id is None:
        return []
    return list(s.exec(select(CaseTeamMember.team_id).where(CaseTeamMember.organisation_id == org_id,
                                                            CaseTeamMember.user_id == user_id)).all())


# --- seed configuration ----------------------------------------------------------------------------------------

# name, description, read-only, {kind: [values]}; demand values are (name, class).
SEED_MODULES: list[tuple[str, str, bool, dict[str, list]]] = [
    ("Customer Interactions",
     "Every contact captured in the customer's words, classified value or failure demand, one-stop or not.",
     False, {
         "demand_type": [("Request a service", "value"), ("Ask for information", "value"),
                         ("Report a problem", "value"), ("Chasing progress", "failure"),
                         ("Not fixed or not done right", "failure"), ("Didn't understand our letter", "failure")],
         "demand_category": [("Council tax", "value"), ("Benefits", "value"), ("Waste and recycling", "value"),
                             ("Housing", "value"), ("Chasing an earlier request", "failure"),
                             ("Repeat contact: not resolved", "failure")],
         "task_category": ["Listen and capture demand", "Give information", "Resolve at first contact",
                           "Hand off to a service", "Call back"],
         "intention_type": ["Call back", "Send information", "Check resolved with the customer"],
         "team_type": ["Contact centre", "Customer service centre"],
         "system_condition": ["IT system", "Policy", "Process design", "Measures and targets",
                              "Roles and hand-offs", "Regulation or inspection"],
     }),
    ("Strategic Measures Dashboard",
     "Reads the other modules' demands and system conditions for capability charts; opens no cases itself.",
     True, {"team_type": ["Leadership team"]}),
    ("Gas and Electric Utilities Servicing",
     "Annual gas safety checks (within 12 months), 5-yearly electrical inspections, access and no-access follow-up.",
     False, {
         "demand_type": [("Annual gas safety check (LGSR/CP12)", "value"),
                         ("Electrical inspection (EICR, 5-yearly)", "value"), ("Boiler breakdown", "value"),
                         ("Missed appointment: rebook", "failure"), ("No access: repeat visit", "failure")],
         "demand_category": [("Gas servicing", "value"), ("Electrical safety", "value"),
                             ("Repeat visit", "failure")],
         "task_category": ["Appointment letter", "Engineer visit", "No-access card left", "Phone or SMS tenant",
                           "Safety record copied to tenant", "Legal referral"],
         "intention_type": ["First appointment", "Second appointment (7 days later)",
                            "Third appointment (7 days later)", "Warning letter", "Access injunction referral",
                            "Copy safety record to tenant (within 28 days)"],
         "team_type": ["Gas servicing team", "Electrical compliance team"],
         "system_condition": ["Contractor scheduling", "Appointment letters", "Access procedure"],
     }),
    ("Rent Arrears Monitoring",
     "Pre-action protocol: early contact, arrangements, benefits help, NOSP and court only as a last resort.",
     False, {
         "demand_type": [("Arrangement to pay", "value"), ("Universal Credit managed payment", "value"),
                         ("Help with benefits", "value"), ("Query about an arrears letter", "failure"),
                         ("Universal Credit first-payment gap", "failure")],
         "demand_category": [("Arrears recovery", "value"), ("Benefits support", "value"),
                             ("Payment not processed", "failure")],
         "task_category": ["First SMS", "Letter one", "Letter two", "Home visit", "Income and expenditure review",
                           "Benefits referral", "Notice of seeking possession served", "Court warning letter"],
         "intention_type": ["Send letter two (14 days)", "Review arrangement", "NOSP expiry check (28 days)",
                            "Apply for court date"],
         "team_type": ["Income team", "Tenancy sustainment team"],
         "system_condition": ["Benefit payment timing", "Rent account system", "Escalation policy"],
     }),
    ("Environmental Services Ticketing",
     "Fly-tipping (Flycapture fields), missed bins, graffiti and street cleansing against service standards.",
     False, {
         "demand_type": [("Fly-tipping report", "value"), ("Graffiti removal", "value"),
                         ("Offensive graffiti", "value"), ("Dead animal", "value"), ("Overflowing litter bin",
                                                                                    "value"),
                         ("Missed bin collection", "failure"), ("Chasing a report", "failure")],
         "demand_category": [("Street cleansing", "value"), ("Waste collection", "value"),
                             ("Repeat report", "failure")],
         "task_category": ["Inspect site", "Clear fly-tip", "Remove graffiti", "Re-collect bin",
                           "Enforcement warning letter", "Fixed penalty notice"],
         "intention_type": ["Clear within service standard", "Re-collect next working day",
                            "Enforcement follow-up"],
         "team_type": ["Street cleansing crew", "Waste collection crew", "Enforcement officers"],
         "system_condition": ["Round scheduling", "Crew status data", "Re-keying for Flycapture returns"],
     }),
]

# The seeded modules that have screens of their own.
SEED_MODULE_TYPES = {
    "Environmental Services Ticketing": "environmental_ticketing",
    "Gas and Electric Utilities Servicing": "utilities_servicing",
    "Rent Arrears Monitoring": "rent_arrears",
    "Customer Interactions": "customer_interactions",
}

SEED_SHARED: dict[str, list] = {
    "channel": ["Telephone", "Face to face", "Email", "Web form", "Letter", "Social media"],
    "case_role": ["Customer", "Tenant", "Household member", "Representative", "Witness"],
    "contact_type": ["Mobile phone", "Home phone", "Email", "Correspondence address"],
    "reference_type": ["National Insurance number", "Council tax account", "Tenancy reference", "Rent account",
                       "NHS number"],
    "relationship_type": [("Parent of", "Child of"), ("Partner of", "Partner of"), ("Carer of", "Cared for by"),
                          ("Sibling of", "Sibling of"), ("Landlord of", "Tenant of"),
                          ("Representative of", "Represented by")],
}


def seed_configuration(s: Session, org_id: int) -> int:
    """Create the five modules and their lists for an organisation if it has none; returns values created."""
    if s.exec(select(CaseModule.id).where(CaseModule.organisation_id == org_id)).first() is not None:
        return 0
    created = 0

    def add(kind: str, module_id: int | None, entries: list) -> None:
        nonlocal created
        for order, entry in enumerate(entries, start=1):
            row = CaseLookup(organisation_id=org_id, module_id=module_id, kind=kind, sort_order=order)
            if kind == "relationship_type":
                row.name, row.reverse_name = entry
            elif kind in ("demand_type", "demand_category"):
                row.name, row.demand_class = entry
            else:
                row.name = entry
            s.add(row)
            created += 1

    for order, (name, description, read_only, lists) in enumerate(SEED_MODULES):
        module = CaseModule(organisation_id=org_id, name=name, description=description, is_read_only=read_only,
                            sort_order=order, module_type=SEED_MODULE_TYPES.get(name, modules.GENERIC))
        s.add(module)
        s.flush()
        for kind, entries in lists.items():
            add(kind, module.id, entries)
    for kind, entries in SEED_SHARED.items():
        add(kind, None, entries)
    s.flush()
    return created
