"""Organisations: finding one by its slug (``hartlepool``), as the command line and the demo data do, and the
platform administrator's view of them: the list, and the settings only the platform administrator may change
(whether an organisation is a demo that takes demo card payments)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from atlas_app.db import read_session, write_session
from atlas_app.models import Organisation
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor, system_actor
from atlas_app.services.platform.errors import NotFound, PermissionDenied


def clean_slug(slug: str | None) -> str:
    """Slugs are stored in lower case; what a person types is matched without case or surrounding spaces."""
    return (slug or "").strip().lower()


def by_slug(s: Session, slug: str | None) -> Organisation | None:
    """The organisation with this slug in session ``s``, or None."""
    clean = clean_slug(slug)
    if not clean:
        return None
    return s.exec(select(Organisation).where(Organisation.slug == clean)).first()


def system_actor_for(slug: str | None, name: str) -> Actor | None:
    """An actor for a named system task (``cli:import-referrals``) acting for the organisation with this slug, or
    None when there is no such organisation."""
    with read_session() as s:
        org = by_slug(s, slug)
        org_id = org.id if org is not None else None
    return system_actor(org_id, name) if org_id is not None else None


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
