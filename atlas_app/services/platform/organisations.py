"""The organisations themselves, as the platform administrator sees them: the list, and the settings only the
platform administrator may change (whether an organisation is a demo that takes demo card payments)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.models import Organisation
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class OrganisationRow:
    id: int
    slug: str
    name: str
    is_active: bool
    payments_demo: bool


def _require_platform_admin(actor: Actor) -> None:
    if not actor.is_platform_admin:
        raise PermissionDenied("Only the platform administrator can change this.")


def list_organisations(actor: Actor) -> list[OrganisationRow]:
    _require_platform_admin(actor)
    with read_session() as s:
        rows = s.exec(select(Organisation).order_by(Organisation.name)).all()
        return [OrganisationRow(o.id, o.slug, o.name, o.is_active, o.payments_demo) for o in rows]


def set_payments_demo(actor: Actor, organisation_id: int, on: bool) -> bool:
    """Let (or stop) the labelled demo card provider take the organisation's payments. Audited; returns whether
    anything changed."""
    _require_platform_admin(actor)
    oid = bounds.id_or_none(organisation_id)
    if oid is None:
        raise NotFound("No such organisation.")
    with write_session() as s:
        org = s.exec(select(Organisation).where(Organisation.id == oid).with_for_update()).first()
        if org is None:
            raise NotFound("No such organisation.")
        if org.payments_demo == bool(on):
            return False
        before = org.payments_demo
        org.payments_demo = bool(on)
        s.add(org)
        audit.record(s, actor, "organisation", org.id, "updated", before={"payments_demo": before},
                     after={"payments_demo": bool(on)}, organisation_id=org.id)
        return True
