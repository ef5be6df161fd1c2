"""Feature previews: a feature that is not finished for everyone is off for organisations unless one switches it on.

* Every feature in preview is declared once, in ``FEATURES`` below (code, name, area, what it does).
* A feature is off for an organisation by default, on in the demo organisation (slug ``demo``), and an
  organisation's administrator (settings permission) switches it on or off for their own organisation, audited.
* The check is in the services: a service function that belongs to a feature in preview starts with
  ``previews.require(actor, "code")``, so the page, the REST API and a hand-made websocket event all meet the same
  refusal (``PreviewOff``, a ``PermissionDenied``, HTTP 403). Pages may also ask ``previews.enabled`` to hide
  buttons, but hiding is never the guard.

When a feature is finished for everyone, delete its entry and its ``require`` calls; the organisations' settings
rows for a code no longer declared are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import Organisation
from atlas_app.models.user_group import PreviewSetting
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, PermissionDenied
from atlas_app.services.platform.permissions import Perm

# The organisation every feature in preview is on in (the user group's demonstration tenant).
DEMO_ORG_SLUG = "demo"
DEMO_ORG_NAME = "Demo Borough Council"


@dataclass(frozen=True)
class PreviewFeature:
    code: str
    name: str
    area: str
    description: str = ""


# Every feature in preview, in one place. Areas are those of change requests (services/user_group/areas).
FEATURES: dict[str, PreviewFeature] = {}


def declare(code: str, name: str, area: str, description: str = "") -> PreviewFeature:
    """Declare a feature in preview (at import time, in this module, so the list stays in one place)."""
    if code in FEATURES:
        raise ValueError(f"preview feature {code!r} is declared twice")
    FEATURES[code] = feature = PreviewFeature(code, name, area, description)
    return feature


CHANGE_REQUEST_COMMENTS = declare(
    "change_request_comments", "Comments on change requests", "platform",
    "Staff of member organisations discuss a change request in comments under it.")
CUSTOMER_INTERACTIONS = declare(
    "customer_interactions_screen", "Customer Interactions contact screen", "casework",
    "The front-desk and telephone screen that records a contact in one go (who, where, what, what matters, "
    "resolved or handed on) and opens or adds to a case.")
OPEN311_UPDATES = declare(
    "open311_service_request_updates", "Open311 service request updates", "casework",
    "FixMyStreet reads staff's public updates (GET servicerequestupdates) and posts residents' comments "
    "(POST servicerequestupdates) for the Environmental Services Ticketing module.")


class PreviewOff(PermissionDenied):
    """The feature is in preview and not switched on for the actor's organisation."""

    def __init__(self, feature: PreviewFeature) -> None:
        super().__init__(f"{feature.name} is a feature in preview and is not switched on for your organisation. "
                         "An administrator can switch it on on the Feature previews page.")
        self.feature = feature


def feature(code: str) -> PreviewFeature:
    """The declared feature with this code; an unknown code is a programming error, never silently 'on'."""
    try:
        return FEATURES[code]
    except KeyError:
        raise ValueError(f"no preview feature {code!r} is declared in services/platform/previews.py") from None


def _is_demo(session: Session, organisation_id: int) -> bool:
    slug = session.exec(select(Organisation.slug).where(Organisation.id == organisation_id)).first()
    return slug == DEMO_ORG_SLUG


def is_on(session: Session, organisation_id: int | None, code: str) -> bool:
    """Whether the feature is on for the organisation, read in ``session`` (one indexed query)."""
    feature(code)
    if organisation_id is None:
        return False
    row = session.exec(select(PreviewSetting.enabled).where(
        PreviewSetting.organisation_id == organisation_id, PreviewSetting.feature_code == code)).first()
    if row is not None:
        return bool(row)
    return _is_demo(session, organisation_id)


def enabled(actor: Actor, code: str, session: Session | None = None) -> bool:
    """Whether the feature is on for the organisation the actor acts for."""
    if session is not None:
        return is_on(session, actor.organisation_id, code)
    with read_session() as s:
        return is_on(s, actor.organisation_id, code)


def require_for_organisation(session: Session, organisation_id: int, code: str) -> None:
    """``require`` for a caller that is an organisation and no user (Open311's public feed, named by its
    jurisdiction)."""
    if not is_on(session, organisation_id, code):
        raise PreviewOff(feature(code))


def require(actor_or_session: Actor | Session, code: str, actor: Actor | None = None) -> None:
    """Refuse (``PreviewOff``) unless the feature is on for the actor's organisation. Call it first in every
    service function of a feature in preview: ``previews.require(actor, "code")``, or inside an open session
    ``previews.require(session, "code", actor)``."""
    if isinstance(actor_or_session, Actor):
        actor, session = actor_or_session, None
    else:
        session = actor_or_session
        if actor is None:
            raise TypeError("previews.require(session, code, actor): the actor is needed")
    if not enabled(actor, code, session):
        raise PreviewOff(feature(code))


@dataclass(frozen=True)
class PreviewRow:
    code: str
    name: str
    area: str
    description: str
    enabled: bool
    chosen: bool  # the organisation chose (a settings row); otherwise this is the default


def list_for_organisation(actor: Actor) -> list[PreviewRow]:
    """Every feature in preview and whether it is on for the actor's organisation (any signed-in staff may look)."""
    org_id = actor.require_org()
    with read_session() as s:
        chosen = {r.feature_code: r.enabled for r in s.exec(
            select(PreviewSetting).where(PreviewSetting.organisation_id == org_id)).all()}
        demo = _is_demo(s, org_id)
    return [PreviewRow(f.code, f.name, f.area, f.description, chosen.get(f.code, demo), f.code in chosen)
            for f in sorted(FEATURES.values(), key=lambda f: (f.area, f.name))]


def set_enabled(actor: Actor, code: str, on: bool) -> bool:
    """Switch a feature in preview on or off for the actor's own organisation (administrators: settings
    permission). Audited; returns whether anything changed."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    if code not in FEATURES:
        raise NotFound("No such feature in preview.")
    on = bool(on)
    with write_session() as s:
        row = s.exec(select(PreviewSetting).where(PreviewSetting.organisation_id == org_id,
                                                  PreviewSetting.feature_code == code).with_for_update()).first()
        before = row.enabled if row is not None else _is_demo(s, org_id)
        if row is None:
            row = PreviewSetting(organisation_id=org_id, feature_code=code)
        elif row.enabled == on:
            return False
        row.enabled = on
        row.changed_by_user_id = actor.user_id
        row.changed_at = utcnow()
        s.add(row)
        s.flush()
        audit.record(s, actor, "preview", code, "switched_on" if on else "switched_off",
                     before={"enabled": before}, after={"enabled": on}, organisation_id=org_id)
        return before != on
