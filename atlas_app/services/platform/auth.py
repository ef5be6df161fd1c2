"""Signing in and out, sessions, lockout and forgotten passwords.

bcrypt runs outside any write transaction so a slow hash never holds a database lock; the outcome is then applied
in a short transaction that re-reads the user under a row lock, so a lockout reached by parallel guesses holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import AuthSession, LoginAttempt, Organisation, PasswordResetToken, Role, User, UserRole
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from atlas_app.services.platform.passwords import check_password_rule, hash_password, new_token, token_digest, verify_password
from atlas_app.settings import get_settings

MAX_FAILED_ATTEMPTS = 3
TOUCH_EVERY = timedelta(seconds=15)
SIGN_IN_FAILED = (
    "Sign-in failed. Check your username and password. After 3 failed attempts an account is locked and only an "
    "administrator can unlock it."
)


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    message: str
    token: str | None = None
    user_id: int | None = None


def _attempt(session: Session, username: str, user: User | None, outcome: str, ip: str, ua: str) -> None:
    session.add(
        LoginAttempt(
            username_tried=username[:200],
            user_id=user.id if user else None,
            organisation_id=user.organisation_id if user else None,
            outcome=outcome,
            ip=ip[:64],
            user_agent=ua[:400],
        )
    )


def _user_actor(user: User, session_id: int | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        organisation_id=user.organisation_id,
        home_organisation_id=user.organisation_id,
        is_platform_admin=user.is_platform_admin,
        session_id=session_id,
        full_name=user.full_name,
    )


def login(username: str, password: str, ip: str = "", user_agent: str = "") -> LoginOutcome:
    """Check a username and password. Never says whether the username exists."""
    name = (username or "").strip().lower()
    with read_session() as s:
        user = s.exec(select(User).where(User.username == name)).first() if name else None
        checked_hash = user.password_hash if user else ""
    # bcrypt (about a quarter of a second) runs with no transaction open.
    password_ok = verify_password(password or "", checked_hash)

    settings = get_settings()
    with write_session() as s:
        if user is None:
            _attempt(s, name or "(blank)", None, "failure", ip, user_agent)
            return LoginOutcome(False, SIGN_IN_FAILED)
        user = s.exec(select(User).where(User.id == user.id).with_for_update()).one()
        org = s.get(Organisation, user.organisation_id)
        actor = _user_actor(user)
        if user.locked_at is not None:
            _attempt(s, name, user, "locked", ip, user_agent)
            return LoginOutcome(False, SIGN_IN_FAILED)
        if not user.is_active or org is None or not org.is_active:
            _attempt(s, name, user, "disabled", ip, user_agent)
            return LoginOutcome(False, SIGN_IN_FAILED)
        if not password_ok or user.password_hash != checked_hash:
            user.failed_attempts += 1
            if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
                user.locked_at = utcnow()
                _attempt(s, name, user, "lockout", ip, user_agent)
                audit.record(s, actor, "user", user.id, "locked", after={"failed_attempts": user.failed_attempts})
                end_sessions(s, user.id, "locked")
            else:
                _attempt(s, name, user, "failure", ip, user_agent)
            s.add(user)
            return LoginOutcome(False, SIGN_IN_FAILED)

        user.failed_attempts = 0
        s.add(user)
        token = new_token()
        now = utcnow()
        auth_session = AuthSession(
            user_id=user.id,
            token_hash=token_digest(token),
            acting_organisation_id=user.organisation_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            ip=ip[:64],
            user_agent=user_agent[:400],
        )
        s.add(auth_session)
        s.flush()
        _attempt(s, name, user, "success", ip, user_agent)
        audit.record(s, _user_actor(user, auth_session.id), "session", auth_session.id, "login", after={"ip": ip})
        return LoginOutcome(True, "Signed in.", token=token, user_id=user.id)


def end_sessions(session: Session, user_id: int, reason: str, keep_session_id: int | None = None) -> int:
    conditions = [AuthSession.user_id == user_id, AuthSession.ended_at.is_(None)]
    if keep_session_id is not None:
        conditions.append(AuthSession.id != keep_session_id)
    result = session.exec(update(AuthSession).where(*conditions).values(ended_at=utcnow(), end_reason=reason))
    return result.rowcount or 0


def permissions_for(session: Session, user: User) -> frozenset[str]:
    rows = session.exec(
        select(Role.permissions)
        .join(UserRole, UserRole.role_id == Role.id)
        .where(UserRole.user_id == user.id, Role.organisation_id == user.organisation_id)
    ).all()
    return frozenset(p for perms in rows for p in (perms or []))


def resolve(token: str | None, touch: bool = True) -> Actor | None:
    """The actor for a session token, or None when it is unknown, ended, idle too long, expired, or its user
    is disabled or locked. Records the user's last action (at most every 15 seconds)."""
    if not token:
        return None
    settings = get_settings()
    now = utcnow()
    digest = token_digest(token)
    with read_session() as s:
        row = s.exec(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.token_hash == digest, AuthSession.ended_at.is_(None))
        ).first()
        if row is None:
            return None
        auth_session, user = row
        end_reason = ""
        if now >= auth_session.expires_at:
            end_reason = "expired"
        elif now - auth_session.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
            end_reason = "idle"
        elif not user.is_active:
            end_reason = "disabled"
        elif user.locked_at is not None:
            end_reason = "locked"
        permissions = frozenset() if end_reason else permissions_for(s, user)
        org_active = s.exec(
            select(Organisation.is_active).where(Organisation.id == auth_session.acting_organisation_id)
        ).first()
    if end_reason:
        with write_session() as s:
            s.exec(
                update(AuthSession)
                .where(AuthSession.id == auth_session.id, AuthSession.ended_at.is_(None))
                .values(ended_at=now, end_reason=end_reason)
            )
        return None
    if not org_active and not user.is_platform_admin:
        return None
    if touch and now - auth_session.last_seen_at >= TOUCH_EVERY:
        with write_session() as s:
            s.exec(update(AuthSession).where(AuthSession.id == auth_session.id).values(last_seen_at=now))
    return Actor(
        user_id=user.id,
        username=user.username,
        organisation_id=auth_session.acting_organisation_id,
        home_organisation_id=user.organisation_id,
        permissions=permissions,
        is_platform_admin=user.is_platform_admin,
        session_id=auth_session.id,
        full_name=user.full_name,
        must_change_password=user.must_change_password,
    )


def logout(token: str | None) -> bool:
    if not token:
        return False
    with write_session() as s:
        auth_session = s.exec(
            select(AuthSession).where(AuthSession.token_hash == token_digest(token), AuthSession.ended_at.is_(None))
        ).first()
        if auth_session is None:
            return False
        auth_session.ended_at = utcnow()
        auth_session.end_reason = "logout"
        s.add(auth_session)
        user = s.get(User, auth_session.user_id)
        if user is not None:
            audit.record(s, _user_actor(user, auth_session.id), "session", auth_session.id, "logout")
        return True


def logout_everywhere(actor: Actor) -> int:
    """End every session of the actor's own user, this one included."""
    if actor.user_id is None:
        raise NotAuthenticated()
    with write_session() as s:
        count = end_sessions(s, actor.user_id, "logout everywhere")
        audit.record(s, actor, "user", actor.user_id, "logout_everywhere", after={"sessions_ended": count},
                     organisation_id=actor.home_organisation_id)
        return count


def switch_organisation(actor: Actor, organisation_id: int) -> Actor:
    """Platform administrators act for any organisation; the choice is kept on their session."""
    if not actor.is_platform_admin or actor.session_id is None:
        raise PermissionDenied("Only platform administrators can switch organisation.")
    with write_session() as s:
        org = s.get(Organisation, int(organisation_id))
        if org is None:
            raise ValidationFailed("That organisation does not exist.")
        s.exec(
            update(AuthSession).where(AuthSession.id == actor.session_id).values(acting_organisation_id=org.id)
        )
        audit.record(s, actor, "session", actor.session_id, "switch_organisation",
                     before={"organisation_id": actor.organisation_id}, after={"organisation_id": org.id},
                     organisation_id=org.id)
    return Actor(
        user_id=actor.user_id,
        username=actor.username,
        organisation_id=org.id,
        home_organisation_id=actor.home_organisation_id,
        permissions=actor.permissions,
        is_platform_admin=True,
        session_id=actor.session_id,
        full_name=actor.full_name,
    )


def _org_min_length(session: Session, organisation_id: int) -> int:
    org = session.get(Organisation, organisation_id)
    return org.password_min_length if org else 7


def change_own_password(actor: Actor, current_password: str, new_password: str) -> None:
    if actor.user_id is None:
        raise NotAuthenticated()
    with read_session() as s:
        user = s.get(User, actor.user_id)
        if user is None:
            raise NotAuthenticated()
        min_length = _org_min_length(s, user.organisation_id)
        old_hash = user.password_hash
    if not verify_password(current_password or "", old_hash):
        raise ValidationFailed("Your current password is not correct.", {"current_password": "not correct"})
    if current_password == new_password:
        raise ValidationFailed("Choose a password different from the current one.", {"password": "unchanged"})
    check_password_rule(new_password or "", min_length)
    new_hash = hash_password(new_password)
    with write_session() as s:
        user = s.exec(select(User).where(User.id == actor.user_id).with_for_update()).one()
        user.password_hash = new_hash
        user.password_changed_at = utcnow()
        user.must_change_password = False
        s.add(user)
        ended = end_sessions(s, user.id, "password changed", keep_session_id=actor.session_id)
        audit.record(s, actor, "user", user.id, "password_changed", after={"other_sessions_ended": ended},
                     organisation_id=user.organisation_id)


RESET_REQUESTED = (
    "If that matches an active account with an email address, we have emailed a link to set a new password. "
    "The link works once and expires in {minutes} minutes."
)


def request_password_reset(identifier: str, ip: str = "") -> str:
    """Email a single-use reset link to the account's address. The answer is the same whether or not it exists."""
    from atlas_app.services.platform import outbox

    settings = get_settings()
    message = RESET_REQUESTED.format(minutes=settings.password_reset_minutes)
    ident = (identifier or "").strip().lower()
    if not ident:
        raise ValidationFailed("Enter your username or email address.", {"identifier": "required"})
    with write_session() as s:
        user = s.exec(
            select(User).where(or_(User.username == ident, func.lower(User.email) == ident), User.is_active)
        ).first()
        if user is None or not user.email:
            return message
        actor = _user_actor(user)
        if user.locked_at is not None:
            outbox.queue(
                s,
                to=user.email,
                subject="Atlas: your account is locked",
                body=(
                    f"Hello {user.full_name},\n\nSomeone (perhaps you) asked to reset the password of the Atlas "
                    f"account {user.username}. The account is locked after too many failed sign-in attempts, so "
                    "its password cannot be reset by email. Please ask your Atlas administrator to unlock it.\n"
                ),
                organisation_id=user.organisation_id,
                related=("user", user.id),
            )
            audit.record(s, actor, "user", user.id, "password_reset_refused_locked", after={"ip": ip})
            return message
        # A new link replaces any earlier unused one.
        s.exec(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=utcnow())
        )
        token = new_token()
        s.add(
            PasswordResetToken(
                user_id=user.id,
                token_hash=token_digest(token),
                expires_at=utcnow() + timedelta(minutes=settings.password_reset_minutes),
            )
        )
        link = f"{settings.base_url}/reset-password?token={token}"
        outbox.queue(
            s,
            to=user.email,
            subject="Atlas: set a new password",
            body=(
                f"Hello {user.full_name},\n\nTo set a new password for the Atlas account {user.username}, open this "
                f"link within {settings.password_reset_minutes} minutes. It works once.\n\n{link}\n\n"
                "If you did not ask for this, ignore this email: your password has not changed.\n"
            ),
            organisation_id=user.organisation_id,
            related=("user", user.id),
            sensitive=True,
        )
        audit.record(s, actor, "user", user.id, "password_reset_requested", after={"ip": ip})
    return message


def reset_password_with_token(token: str, new_password: str) -> str:
    """Set a new password from an emailed link; returns the username. The link then stops working."""
    invalid = ValidationFailed("This link is not valid any more. Ask for a new one.", {"token": "invalid"})
    if not token:
        raise invalid
    with write_session() as s:
        row = s.exec(
            select(PasswordResetToken)
            .where(PasswordResetToken.token_hash == token_digest(token), PasswordResetToken.used_at.is_(None))
            .with_for_update()
        ).first()
        if row is None or row.expires_at <= utcnow():
            raise invalid
        user = s.exec(select(User).where(User.id == row.user_id).with_for_update()).one()
        if not user.is_active or user.locked_at is not None:
            raise invalid
        check_password_rule(new_password or "", _org_min_length(s, user.organisation_id))
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        user.failed_attempts = 0
        row.used_at = utcnow()
        s.add(user)
        s.add(row)
        ended = end_sessions(s, user.id, "password reset")
        audit.record(s, _user_actor(user), "user", user.id, "password_reset_by_link",
                     after={"sessions_ended": ended})
        return user.username
