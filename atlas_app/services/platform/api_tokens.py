"""API tokens: how another system (a police back office, a partner contact centre) uses the REST API.

A token belongs to one organisation. Its raw value is shown once, when it is made; only its SHA-256 is stored, with
a short prefix so staff can tell tokens apart. A request presents the raw token; Atlas hashes it and looks the hash
up, so there is no comparison of secrets in Python whose timing could leak anything.

An authenticated token acts as an API actor: no user, the username ``api:<token name>``, the token's organisation,
and the booking permissions only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, or_, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import ApiToken, Organisation
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.passwords import token_digest
from atlas_app.services.platform.permissions import Perm

TOKEN_PREFIX = "atl_"
PREFIX_LENGTH = 12  # "atl_" and the first 8 random characters: enough to recognise, useless to an attacker
API_PERMISSIONS = frozenset({Perm.BOOKINGS_VIEW.value, Perm.BOOKINGS_MANAGE.value})
# last_used_at is written at most this often per token, so busy clients do not turn every read into a write.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiTokenView:
    id: int
    name: str
    prefix: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewToken:
    """The one moment the raw token exists outside the caller's hands."""

    token: str
    view: ApiTokenView


def _view(t: ApiToken) -> ApiTokenView:
    return ApiTokenView(t.id, t.name, t.prefix, t.created_by, t.created_at, t.last_used_at, t.revoked_at)


def _clean_name(name: str) -> str:
    out = " ".join(str(name or "").split())
    if not out:
        raise ValidationFailed("Give the token a name, such as the system that will use it.", {"name": "required"})
    if len(out) > 100:
        raise ValidationFailed("The name is too long (100 characters at most).", {"name": "too long"})
    return out


def _insert(s: Session, organisation_id: int, name: str, created_by: str, actor: Actor | None) -> NewToken:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(organisation_id=organisation_id, name=name, token_hash=token_digest(raw),
                   prefix=raw[:PREFIX_LENGTH], created_by=created_by[:80])
    s.add(row)
    s.flush()
    audit.record(s, actor, "api_token", row.id, "created", after={"name": name, "prefix": row.prefix},
                 organisation_id=organisation_id)
    return NewToken(raw, _view(row))


def create(actor: Actor, name: str) -> NewToken:
    """Make a token for the actor's organisation. The raw token is in the result and nowhere else."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    clean = _clean_name(name)
    with write_session() as s:
        return _insert(s, org_id, clean, actor.username, actor)


def create_for_organisation(slug: str, name: str, created_by: str = "cli") -> NewToken:
    """For the command line: make a token for the organisation with this slug."""
    from atlas_app.services.platform.actor import system_actor
    from atlas_app.services.platform.organisations import by_slug

    clean = _clean_name(name)
    with write_session() as s:
        org = by_slug(s, slug)
        if org is None:
            raise NotFound(f"No organisation '{slug}'.")
        return _insert(s, org.id, clean, created_by, system_actor(org.id, created_by))


def list_tokens(actor: Actor) -> list[ApiTokenView]:
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        rows = s.exec(select(ApiToken).where(ApiToken.organisation_id == org_id)
                      .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
                      ).all()
        return [_view(r) for r in rows]


def revoke(actor: Actor, token_id: int) -> ApiTokenView:
    """Stop a token working at once. Revoking a revoked token changes nothing."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    tid = bounds.id_or_none(token_id)
    if tid is None:
        raise NotFound("No such API token.")
    with write_session() as s:
        row = s.exec(select(ApiToken).where(ApiToken.id == tid, ApiToken.organisation_id == org_id)
                     .with_for_update()).first()
        if row is None:
            raise NotFound("No such API token.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            s.add(row)
            audit.record(s, actor, "api_token", row.id, "revoked", before={"revoked": False},
                         after={"revoked": True, "name": row.name, "prefix": row.prefix})
        return _view(row)


def api_actor(organisation_id: int, name: str) -> Actor:
    return Actor(user_id=None, username=f"api:{name}"[:80], organisation_id=organisation_id,
                 home_organisation_id=organisation_id, permissions=API_PERMISSIONS, full_name=name)


# Built once: every API request runs it. ``TOKEN_FACTS`` is the same check as a subquery, for a statement that
# checks the token along with its own first read (the API's booking glance), so the request needs one round trip.
_TOKEN_QUERY = (
    select(ApiToken.id, ApiToken.organisation_id, ApiToken.name, ApiToken.last_used_at)
    .join(Organisation, Organisation.id == ApiToken.organisation_id)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None), Organisation.is_active)
)
TOKEN_FACTS = _TOKEN_QUERY.subquery("api_token_facts")


def digest_of(raw: str | None) -> str | None:
    """The ``digest`` parameter of the token check for a raw token, or None when it cannot be a token at all."""
    raw = (raw or "").strip()
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    return token_digest(raw)


def actor_from_facts(facts, session: Session | None = None) -> Actor | None:
    """The API actor for the token check's row (token id, organisation, name, last used), or None when there was no
    row (the token is unknown, revoked, or its organisation is disabled). Stamps the token's last use at most once a
    minute: in ``session`` (the caller's write transaction) if given, else in a transaction of its own."""
    if facts is None:
        return None
    token_id, org_id, name, last_used = facts
    now = utcnow()
    if last_used is None or now - last_used >= TOUCH_EVERY:
        # Conditional, so a burst of requests records the use once.
        touch = (update(ApiToken)
                 .where(ApiToken.id == token_id,
                        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOUCH_EVERY))
                 .values(last_used_at=now))
        if session is not None:
            session.exec(touch)
        else:
            with write_session() as s:
                s.exec(touch)
    return api_actor(org_id, name)


def authenticate(raw: str | None, session: Session | None = None, connection: Connection | None = None
                 ) -> Actor | None:
    """The API actor for a raw token, or None when the token is unknown, revoked, or its organisation is
    disabled. The token is found by its hash (an index lookup), never by comparing secrets. ``session``: a write
    transaction of the caller's, which the check (and the occasional last-used stamp) then shares, so the request's
    own work needs no second transaction; ``connection``: a connection of the caller's for reads (``db.glance``),
    the stamp then has its own transaction. Nothing is cached: a revoked token is refused on its next request."""
    digest = digest_of(raw)
    if digest is None:
        return None
    if session is not None:
        row = session.connection().execute(_TOKEN_QUERY, {"digest": digest}).first()
    elif connection is not None:
        row = connection.execute(_TOKEN_QUERY, {"digest": digest}).first()
    else:
        with read_session() as s:
            row = s.connection().execute(_TOKEN_QUERY, {"digest": digest}).first()
    return actor_from_facts(row, session=session)


__all__ = ["API_PERMISSIONS", "TOKEN_FACTS", "ApiTokenView", "NewToken", "actor_from_facts", "api_actor",
           "authenticate", "create", "create_for_organisation", "digest_of", "list_tokens", "revoke"]
