"""Module types: the code that gives a departmental module screens and rules of its own.

A *module* is configuration (``case_module``: a name, lookup lists, teams, letters) that an administrator creates
and names in the app. A *module type* is code: one package per type under ``services/modules/<code>/`` (its
services) and ``ui/staff/modules/<code>/`` (its pages), reachable from the module's menu. An administrator turns a
type on by giving a module that type; an organisation has at most one module of each non-generic type (a partial
unique index), so a type's services ask ``module_of`` for "the organisation's module" and get one or none.

Generic modules (``GENERIC``) have lookup lists and the generic case pages only.

This file is the one list of module types: the settings screen offers them, the navigation shows a type's pages
only to organisations that turned it on, and ``require_module`` refuses a type's services elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from atlas_app.db import read_session
from atlas_app.models.casework import CaseModule
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed

GENERIC = "generic"


@dataclass(frozen=True)
class ModuleType:
    code: str
    name: str
    description: str


MODULE_TYPES: dict[str, ModuleType] = {
    t.code: t
    for t in (
        ModuleType(GENERIC, "Generic module", "Lookup lists, teams and the generic case pages; no screens of its own."),
        ModuleType("environmental_ticketing", "Environmental Services Ticketing",
                   "Residents report problems at a place and track them; the staff queue of reports; Open311."),
        ModuleType("utilities_servicing", "Gas and Electric Utilities Servicing",
                   "Installations per home, certificate regimes, the servicing programme and compliance."),
        ModuleType("rent_arrears", "Rent Arrears Monitoring",
                   "Tenancies, rent transactions, arrears, recovery stages, arrangements and the caseload."),
        ModuleType("customer_interactions", "Customer Interactions",
                   "The front-desk and telephone contact screen: who, where, what, resolved or handed on."),
    )
}


@dataclass(frozen=True)
class ModuleRef:
    """The organisation's module of one type."""

    id: int
    organisation_id: int
    module_type: str
    name: str


def check_type(code: str | None) -> str:
    """A known module type code, or a clear refusal."""
    out = str(code or GENERIC).strip()
    if out not in MODULE_TYPES:
        raise ValidationFailed("Choose a module type from the list.", {"module_type": "unknown"})
    return out


def module_of(s: Session, organisation_id: int, code: str) -> ModuleRef | None:
    """The organisation's active module of type ``code``, or None when the type is not turned on."""
    row = s.exec(select(CaseModule).where(CaseModule.organisation_id == organisation_id,
                                          CaseModule.module_type == code,
                                          CaseModule.is_active == True)).first()  # noqa: E712
    return None if row is None else ModuleRef(row.id, row.organisation_id, row.module_type, row.name)


def require_module(s: Session, organisation_id: int, code: str) -> ModuleRef:
    """``module_of``, refusing when the organisation has not turned the type on."""
    ref = module_of(s, organisation_id, code)
    if ref is None:
        raise NotFound(f"{MODULE_TYPES[code].name} is not turned on for this organisation.")
    return ref


def enabled_types(actor: Actor) -> list[str]:
    """The non-generic module types the actor's organisation has turned on (for the navigation)."""
    if actor.organisation_id is None:
        return []
    with read_session() as s:
        rows = s.exec(select(CaseModule.module_type).where(CaseModule.organisation_id == actor.organisation_id,
                                                           CaseModule.module_type != GENERIC,
                                                           CaseModule.is_active == True)).all()  # noqa: E712
    return sorted(set(rows))
