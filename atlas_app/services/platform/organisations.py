"""Finding an organisation by its slug (``hartlepool``), the name the command line and the demo data use."""

from __future__ import annotations

from sqlmodel import Session, select

from atlas_app.db import read_session
from atlas_app.models import Organisation
from atlas_app.services.platform.actor import Actor, system_actor


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
