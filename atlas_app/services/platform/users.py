"""User and role maintenance by administrators, and the login report.

Every lookup is scoped to the actor's organisation in the SQL itself: an id from another organisation is simply
not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from atlas_app.db import contains, read_session, utcnow, write_session
from atlas_app.models import AuthSession, LoginAttempt, Organisation, Role, User, UserRole
from atlas_app.services.platform import audit, bounds, two_factor
from atlas_app.services.platform.actor import Actor, system_actor
from atlas_app.services.platform.auth import end_sessions
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.passwords import check_password_rule, hash_password
from atlas_app.services.platform.permissions import ALL_PERMISSIONS, DEFAULT_ROLES, Perm
from atlas_app.settings import get_settings

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    full_name: str
    email: str
    status: str  # active, locked, disabled
    roles: list[str]
    role_ids: list[int]
    failed_attempts: int
    last_login_at: datetime | None
    is_platform_admin: bool
    two_factor: bool = False


@dataclass(frozen=True)
class RoleRow:
    id: int
    name: str
    description: str
    permissions: list[str]
    user_count: int


def user_status(user: User) -> str:
    if not user.is_active:
        return "disabled"
    if user.locked_at is not None:
        return "locked"
    return "active"


def _user_snapshot(user: User, role_ids: list[int]) -> dict:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "is_active": user.is_active,
        "locked": user.locked_at is not None,
        "role_ids": sorted(role_ids),
    }


def _get_user(s: Session, actor: Actor, user_id: int, lock: bool = False) -> User:
    org_id = actor.require_org()
    uid = bounds.id_or_none(user_id)
    if uid is None:
        raise NotFound("No such user.")
    query = select(User).where(User.id == uid, User.organisation_id == org_id)
    if lock:
        query = query.with_for_update()
    user = s.exec(query).first()
    if user is None:
        raise NotFound("No such user in your organisation.")
    return user


def _role_ids(s: Session, user_id: int) -> list[int]:
    return list(s.exec(select(UserRole.role_id).where(UserRole.user_id == user_id)).all())


def _checked_role_ids(s: Session, org_id: int, role_ids) -> list[int]:
    ids = [bounds.id_or_none(r) for r in (role_ids or [])]
    if None in ids:
        raise ValidationFailed("Roles must be chosen from the list.", {"roles": "invalid"})
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = set(s.exec(select(Role.id).where(Role.id.in_(wanted), Role.organisation_id == org_id)).all())
    if found != set(wanted):
        raise ValidationFailed("One of the roles is not a role of this organisation.", {"roles": "unknown role"})
    return wanted


def _validate_profile(username: str | None, full_name: str, email: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if username is not None and not USERNAME_RE.match(username):
        errors["username"] = "2 to 40 characters: lower-case letters, digits, dot, dash or underscore"
    if not full_name.strip():
        errors["full_name"] = "required"
    elif len(full_name) > 200:
        errors["full_name"] = "200 characters at most"
    if email and not EMAIL_RE.match(email):
        errors["email"] = "not an email address"
    return errors


def list_users(actor: Actor, search: str = "") -> list[UserRow]:
    actor.require(Perm.USERS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        query = select(User).where(User.organisation_id == org_id)
        term = (search or "").strip().lower()
        if term:
            query = query.where(
                contains(func.lower(User.username), term) | contains(func.lower(User.full_name), term)
                | contains(func.lower(User.email), term)
            )
        users = s.exec(query.order_by(User.username)).all()
        ids = [u.id for u in users]
        roles_by_user: dict[int, list[tuple[int, str]]] = {}
        last_login: dict[int, datetime] = {}
        if ids:
            for user_id, role_id, name in s.exec(
                select(UserRole.user_id, Role.id, Role.name).join(Role, Role.id == UserRole.role_id)
                .where(UserRole.user_id.in_(ids)).order_by(Role.name)
            ).all():
                roles_by_user.setdefault(user_id, []).append((role_id, name))
            for user_id, at in s.exec(
                select(AuthSession.user_id, func.max(AuthSession.created_at))
                .where(AuthSession.user_id.in_(ids)).group_by(AuthSession.user_id)
            ).all():
                last_login[user_id] = at
    return [
        UserRow(
            id=u.id,
            username=u.username,
            full_name=u.full_name,
            email=u.email,
            status=user_status(u),
            roles=[n for _, n in roles_by_user.get(u.id, [])],
            role_ids=[i for i, _ in roles_by_user.get(u.id, [])],
            failed_attempts=u.failed_attempts,
            last_login_at=last_login.get(u.id),
            is_platform_admin=u.is_platform_admin,
            two_factor=u.totp_confirmed_at is not None,
        )
        for u in users
    ]


def create_user(
    actor: Actor, *, username: str, full_name: str, email: str, password: str, role_ids=(),
    must_change_password: bool = True,
) -> int:
    actor.require(Perm.USERS_MANAGE)
    org_id = actor.require_org()
    username = (username or "").strip().lower()
    full_name = (full_name or "").strip()
    email = (email or "").strip()
    errors = _validate_profile(username, full_name, email)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors)
    with read_session() as s:
        min_length = s.get(Organisation, org_id).password_min_length
    check_password_rule(password or "", min_length)
    password_hash = hash_password(password)
    with write_session() as s:
        if s.exec(select(User.id).where(User.username == username)).first() is not None:
            raise Conflict(f"The username '{username}' is taken.")
        roles = _checked_role_ids(s, org_id, role_ids)
        user = User(
            organisation_id=org_id,
            username=username,
            full_name=full_name,
            email=email,
            password_hash=password_hash,
            password_changed_at=utcnow(),
            must_change_password=must_change_password,
        )
        s.add(user)
        try:
            s.flush()
        except IntegrityError:  # taken by a parallel request since the check above
            raise Conflict(f"The username '{username}' is taken.") from None
        for role_id in roles:
            s.add(UserRole(user_id=user.id, role_id=role_id))
        audit.record(s, actor, "user", user.id, "created", after=_user_snapshot(user, roles))
        return user.id


def update_user(actor: Actor, user_id: int, *, full_name: str, email: str, role_ids=()) -> None:
    actor.require(Perm.USERS_MANAGE)
    full_name = (full_name or "").strip()
    email = (email or "").strip()
    errors = _validate_profile(None, full_name, email)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors)
    with write_session() as s:
        user = _get_user(s, actor, user_id, lock=True)
        old_roles = _role_ids(s, user.id)
        before = _user_snapshot(user, old_roles)
        roles = _checked_role_ids(s, user.organisation_id, role_ids)
        if user.id == actor.user_id and Perm.USERS_MANAGE not in _permissions_of(s, roles) \
                and not actor.is_platform_admin:
            raise ValidationFailed("You cannot remove your own permission to manage users.", {"roles": "self"})
        user.full_name, user.email = full_name, email
        s.add(user)
        s.exec(delete(UserRole).where(UserRole.user_id == user.id))
        for role_id in roles:
            s.add(UserRole(user_id=user.id, role_id=role_id))
        old, new = audit.changes(before, _user_snapshot(user, roles))
        if new:
            audit.record(s, actor, "user", user.id, "updated", before=old, after=new)


def _permissions_of(s: Session, role_ids: list[int]) -> set[str]:
    if not role_ids:
        return set()
    return {p for perms in s.exec(select(Role.permissions).where(Role.id.in_(role_ids))).all() for p in perms or []}


def set_active(actor: Actor, user_id: int, active: bool) -> None:
    """Disable or re-enable a user. Disabling ends their sessions at once."""
    actor.require(Perm.USERS_MANAGE)
    with write_session() as s:
        user = _get_user(s, actor, user_id, lock=True)
        if user.id == actor.user_id and not active:
            raise ValidationFailed("You cannot disable your own account.")
        if user.is_active == bool(active):
            return
        user.is_active = bool(active)
        s.add(user)
        ended = 0 if active else end_sessions(s, user.id, "disabled")
        audit.record(s, actor, "user", user.id, "enabled" if active else "disabled",
                     before={"is_active": not active}, after={"is_active": bool(active), "sessions_ended": ended})


def _unlock_row(s: Session, actor: Actor, user: User) -> bool:
    if user.locked_at is None and user.failed_attempts == 0:
        return False
    before = {"locked": user.locked_at is not None, "failed_attempts": user.failed_attempts}
    user.locked_at = None
    user.failed_attempts = 0
    s.add(user)
    audit.record(s, actor, "user", user.id, "unlocked", before=before,
                 after={"locked": False, "failed_attempts": 0}, organisation_id=user.organisation_id)
    return True


def unlock(actor: Actor, user_id: int) -> None:
    """An administrator unlocks a user of the organisation they act for (a platform administrator acts for any)."""
    actor.require(Perm.USERS_MANAGE)
    with write_session() as s:
        _unlock_row(s, actor, _get_user(s, actor, user_id, lock=True))


def unlock_by_username(username: str, by: str = "unlock-user") -> bool:
    """The platform's own unlock (the command line): any organisation's user. Returns whether it was locked."""
    name = (username or "").strip().lower()
    with write_session() as s:
        user = s.exec(select(User).where(User.username == name).with_for_update()).first()
        if user is None:
            raise NotFound(f"No user '{name}'.")
        was_locked = user.locked_at is not None
        _unlock_row(s, system_actor(user.organisation_id, by), user)
        return was_locked


def reset_two_factor(actor: Actor, user_id: int) -> bool:
    """An administrator clears a user's two-factor sign-in (a lost phone); the user is emailed and sets it up
    again. Returns whether they had it on."""
    actor.require(Perm.USERS_MANAGE)
    with write_session() as s:
        user = _get_user(s, actor, user_id, lock=True)
        return two_factor.reset_by_admin(s, actor, user)


def reset_password(actor: Actor, user_id: int, new_password: str, must_change: bool = True) -> None:
    """An administrator sets another user's password. Their sessions end, and the account is unlocked."""
    actor.require(Perm.USERS_MANAGE)
    with read_session() as s:
        user = _get_user(s, actor, user_id)
        min_length = s.get(Organisation, user.organisation_id).password_min_length
    check_password_rule(new_password or "", min_length)
    password_hash = hash_password(new_password)
    with write_session() as s:
        user = _get_user(s, actor, user_id, lock=True)
        was_locked = user.locked_at is not None
        user.password_hash = password_hash
        user.password_changed_at = utcnow()
        user.must_change_password = bool(must_change)
        user.locked_at = None
        user.failed_attempts = 0
        s.add(user)
        ended = end_sessions(s, user.id, "password reset by administrator")
        audit.record(s, actor, "user", user.id, "password_reset_by_admin",
                     before={"locked": was_locked},
                     after={"locked": False, "must_change_password": bool(must_change), "sessions_ended": ended})


# --- roles ---------------------------------------------------------------------------------------------------


def list_roles(actor: Actor) -> list[RoleRow]:
    if not (actor.can(Perm.ROLES_MANAGE) or actor.can(Perm.USERS_MANAGE)):
        raise PermissionDenied()
    org_id = actor.require_org()
    with read_session() as s:
        counts = dict(
            s.exec(select(UserRole.role_id, func.count()).join(Role, Role.id == UserRole.role_id)
                   .where(Role.organisation_id == org_id).group_by(UserRole.role_id)).all()
        )
        roles = s.exec(select(Role).where(Role.organisation_id == org_id).order_by(Role.name)).all()
        return [RoleRow(r.id, r.name, r.description, sorted(r.permissions or []), counts.get(r.id, 0)) for r in roles]


def _checked_permissions(permissions) -> list[str]:
    perms = sorted({str(p) for p in (permissions or [])})
    unknown = [p for p in perms if p not in ALL_PERMISSIONS]
    if unknown:
        raise ValidationFailed(f"Unknown permission: {', '.join(unknown)}.", {"permissions": "unknown"})
    return perms


def save_role(actor: Actor, role_id: int | None, *, name: str, description: str, permissions) -> int:
    """Create (role_id None) or change a role."""
    actor.require(Perm.ROLES_MANAGE)
    org_id = actor.require_org()
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationFailed("A role needs a name of up to 80 characters.", {"name": "required"})
    perms = _checked_permissions(permissions)
    with write_session() as s:
        clash = s.exec(select(Role.id).where(Role.organisation_id == org_id, func.lower(Role.name) == name.lower())
                       ).first()
        if role_id is None:
            if clash is not None:
                raise Conflict(f"There is already a role called '{name}'.")
            role = Role(organisation_id=org_id, name=name, description=(description or "").strip()[:400],
                        permissions=perms)
            s.add(role)
            try:
                s.flush()
            except IntegrityError:  # created by a parallel request since the check above
                raise Conflict(f"There is already a role called '{name}'.") from None
            audit.record(s, actor, "role", role.id, "created", after={"name": name, "permissions": perms})
            return role.id
        role = s.exec(select(Role).where(Role.id == bounds.query_id(role_id),
                                         Role.organisation_id == org_id).with_for_update()
                      ).first()
        if role is None:
            raise NotFound("No such role in your organisation.")
        if clash is not None and clash != role.id:
            raise Conflict(f"There is already a role called '{name}'.")
        if actor.user_id is not None and not actor.is_platform_admin and Perm.ROLES_MANAGE not in perms:
            mine = set(_role_ids(s, actor.user_id))
            others = _permissions_of(s, [r for r in mine if r != role.id])
            if role.id in mine and Perm.ROLES_MANAGE not in others:
                raise ValidationFailed("You cannot remove your own permission to manage roles.")
        before = {"name": role.name, "description": role.description, "permissions": sorted(role.permissions or [])}
        role.name, role.description, role.permissions = name, (description or "").strip()[:400], perms
        s.add(role)
        old, new = audit.changes(before, {"name": name, "description": role.description, "permissions": perms})
        if new:
            audit.record(s, actor, "role", role.id, "updated", before=old, after=new)
        return role.id


def delete_role(actor: Actor, role_id: int) -> None:
    actor.require(Perm.ROLES_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        role = s.exec(select(Role).where(Role.id == bounds.query_id(role_id), Role.organisation_id == org_id)).first()
        if role is None:
            raise NotFound("No such role in your organisation.")
        in_use = s.exec(select(func.count()).select_from(UserRole).where(UserRole.role_id == role.id)).one()
        if in_use:
            raise Conflict(f"The role '{role.name}' is held by {in_use} user(s); take it from them first.")
        s.delete(role)
        audit.record(s, actor, "role", role_id, "deleted", before={"name": role.name, "permissions": role.permissions})


def ensure_default_roles(s: Session, organisation_id: int) -> dict[str, int]:
    """Create the shipped roles for an organisation where missing; returns name -> id."""
    existing = {r.name: r.id for r in s.exec(select(Role).where(Role.organisation_id == organisation_id)).all()}
    for name, (description, perms) in DEFAULT_ROLES.items():
        if name not in existing:
            role = Role(organisation_id=organisation_id, name=name, description=description,
                        permissions=sorted(str(p) for p in perms))
            s.add(role)
            s.flush()
            existing[name] = role.id
    return existing


# --- the login report ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedInRow:
    session_id: int
    username: str
    full_name: str
    signed_in_at: datetime
    last_action_at: datetime
    ip: str
    user_agent: str


@dataclass(frozen=True)
class LastActionRow:
    username: str
    full_name: str
    status: str
    last_login_at: datetime | None
    last_action_at: datetime | None
    signed_in_now: bool


@dataclass(frozen=True)
class AttemptRow:
    at: datetime
    username: str
    outcome: str
    ip: str
    user_agent: str


@dataclass(frozen=True)
class LoginReport:
    signed_in: list[SignedInRow]
    users: list[LastActionRow]
    history: list[AttemptRow]


def login_report(actor: Actor, history_limit: int = 200, outcome: str | None = None) -> LoginReport:
    """Who is signed in now, each user's last action, and the sign-in history of the organisation."""
    actor.require(Perm.LOGIN_REPORT_VIEW)
    org_id = actor.require_org()
    now = utcnow()
    idle_cutoff = now - timedelta(minutes=get_settings().session_idle_minutes)
    with read_session() as s:
        live = s.exec(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(
                User.organisation_id == org_id,
                AuthSession.ended_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.last_seen_at > idle_cutoff,
                User.is_active,
                User.locked_at.is_(None),
            )
            .order_by(AuthSession.last_seen_at.desc())
        ).all()
        signed_in = [
            SignedInRow(a.id, u.username, u.full_name, a.created_at, a.last_seen_at, a.ip, a.user_agent) for a, u in live
        ]
        live_users = {u.id for _, u in live}
        per_user = dict(
            (uid, (first, last))
            for uid, first, last in s.exec(
                select(AuthSession.user_id, func.max(AuthSession.created_at), func.max(AuthSession.last_seen_at))
                .join(User, User.id == AuthSession.user_id)
                .where(User.organisation_id == org_id)
                .group_by(AuthSession.user_id)
            ).all()
        )
        users = [
            LastActionRow(
                u.username, u.full_name, user_status(u), per_user.get(u.id, (None, None))[0],
                per_user.get(u.id, (None, None))[1], u.id in live_users,
            )
            for u in s.exec(select(User).where(User.organisation_id == org_id).order_by(User.username)).all()
        ]
        query = select(LoginAttempt).where(LoginAttempt.organisation_id == org_id)
        if outcome:
            query = query.where(LoginAttempt.outcome == outcome)
        history = [
            AttemptRow(a.at, a.username_tried, a.outcome, a.ip, a.user_agent)
            for a in s.exec(query.order_by(LoginAttempt.id.desc()).limit(history_limit)).all()
        ]
    users.sort(key=lambda r: (r.last_action_at is None, -(r.last_action_at.timestamp() if r.last_action_at else 0)))
    return LoginReport(signed_in, users, history)


def organisations(actor: Actor) -> list[tuple[int, str]]:
    """Organisations the actor may act for: all of them for platform administrators, else their own."""
    with read_session() as s:
        query = select(Organisation.id, Organisation.name).order_by(Organisation.name)
        if not actor.is_platform_admin:
            query = query.where(Organisation.id == actor.home_organisation_id)
        return [(i, n) for i, n in s.exec(query).all()]
