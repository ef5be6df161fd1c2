"""Signing in and out, sessions, lockout and unlock, forgotten passwords.

bcrypt runs outside any write transaction so a slow hash never holds a database lock; the outcome is then applied
in a short transaction that re-reads the user under a row lock, so a lockout reached by parallel guesses holds.

Guessing is limited twice: an address (IP) with ``FAILURES_PER_ADDRESS`` failed sign-ins within ``ADDRESS_WINDOW``,
against any accounts, is refused before any account's counter moves; an account locks after
``MAX_FAILED_ATTEMPTS`` consecutive wrong passwords (at sign-in or when changing its password). A lock is audited,
its owner is emailed a single-use unlock link and the organisation's administrators an alert.

A user with two-factor sign-in gives a code after the password: the right password makes only a short-lived,
single-use "pending second factor" token (stored as a SHA-256); the session is made when a valid code (or recovery
code) comes with it. A wrong code counts towards the same lockout as a wrong password, and the counter is cleared
only once both factors were right.

Emailed links (password reset, unlock) are stored only as a SHA-256, expire, work once, and are made when the email
is sent: the stored copy of the message holds a placeholder (see ``outbox.LINK_PLACEHOLDER``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import (
    AccountLinkRequest,
    AuthSession,
    LoginAttempt,
    Organisation,
    PasswordResetToken,
    Role,
    SecondFactorChallenge,
    User,
    UserRole,
)
from atlas_app.services.platform import audit, outbox, totp
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import (
    NotAuthenticated,
    PasswordChangeRequired,
    PermissionDenied,
    TwoFactorEnrolmentRequired,
    ValidationFailed,
)
from atlas_app.services.platform.passwords import check_password_rule, hash_password, new_token, token_digest, verify_password
from atlas_app.services.platform.permissions import Perm
from atlas_app.services.platform.throttles import TooManyAttempts
from atlas_app.settings import get_settings
from atlas_app.timeutil import LONDON

MAX_FAILED_ATTEMPTS = 3
TOUCH_EVERY = timedelta(seconds=15)
# Failed sign-ins (any accounts, known or not) from one address before it is refused for the rest of the window
# (the default of the SIGN_IN_FAILURES_PER_ADDRESS setting).
FAILURES_PER_ADDRESS = 10
ADDRESS_WINDOW = timedelta(minutes=15)
FAILED_OUTCOMES = ("failure", "lockout", "locked", "disabled")
# Forgotten-password requests per account (or per unknown name) and per address within LINK_WINDOW.
LINKS_PER_ACCOUNT = 3
LINKS_PER_ADDRESS = 10
LINK_WINDOW = timedelta(hours=1)
KEEP_REQUESTS = timedelta(days=1)
SECOND_FACTOR_MINUTES = 5
SECOND_FACTOR_FAILED = ("That code is not right, or has been used already. Enter the current 6-digit code from your "
                        "authenticator app, or one of your recovery codes. After 3 failed attempts the account locks.")
SECOND_FACTOR_EXPIRED = "Your sign-in has expired or was already used. Please sign in again."
SIGN_IN_FAILED = (
    "Sign-in failed. Check your username and password. After 3 failed attempts an account is locked: its owner is "
    "emailed a link to unlock it, and an administrator can unlock it."
)


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    message: str
    token: str | None = None
    user_id: int | None = None
    throttled: bool = False
    # The password was right and a second factor is due: the pending token to send back with the code.
    second_factor_token: str | None = None
    # The pending second-factor sign-in is unknown, expired, used, or its account now locked: start again.
    restart: bool = False


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


def _address_refusal(session: Session, ip: str, now) -> str | None:
    """The refusal for an address that has failed too often lately, against any accounts; None when it may try."""
    if not ip:
        return None
    count, oldest = session.exec(
        select(func.count(), func.min(LoginAttempt.at)).where(
            LoginAttempt.ip == ip, LoginAttempt.at > now - ADDRESS_WINDOW, LoginAttempt.outcome.in_(FAILED_OUTCOMES))
    ).one()
    if count < get_settings().sign_in_failures_per_address:
        return None
    until = (oldest + ADDRESS_WINDOW).astimezone(LONDON)
    return (f"Too many failed sign-in attempts have come from your network. For your security, sign-in from it is "
            f"paused until {until:%H:%M}.")


def login(username: str, password: str, ip: str = "", user_agent: str = "") -> LoginOutcome:
    """Check a username and password. Never says whether the username exists."""
    name = (username or "").strip().lower()
    ip = (ip or "")[:64]
    with read_session() as s:
        refusal = _address_refusal(s, ip, utcnow())
        user = s.exec(select(User).where(User.username == name)).first() if name and not refusal else None
        checked_hash = user.password_hash if user else ""
    if refusal:
        with write_session() as s:
            _attempt(s, name or "(blank)", None, "throttled", ip, user_agent)
        return LoginOutcome(False, refusal, throttled=True)
    # bcrypt (about a quarter of a second) runs with no transaction open.
    password_ok = verify_password(password or "", checked_hash)

    settings = get_settings()
    with write_session() as s:
        # Counted again where the account's counter would move: guesses racing in from one address meanwhile.
        refusal = _address_refusal(s, ip, utcnow())
        if refusal:
            _attempt(s, name or "(blank)", None, "throttled", ip, user_agent)
            return LoginOutcome(False, refusal, throttled=True)
        if user is None:
            _attempt(s, name or "(blank)", None, "failure", ip, user_agent)
            return LoginOutcome(False, SIGN_IN_FAILED)
        user = s.exec(select(User).where(User.id == user.id).with_for_update()).one()
        org = s.get(Organisation, user.organisation_id)
        if user.locked_at is not None:
            _attempt(s, name, user, "locked", ip, user_agent)
            return LoginOutcome(False, SIGN_IN_FAILED)
        if not user.is_active or org is None or not org.is_active:
            _attempt(s, name, user, "disabled", ip, user_agent)
            return LoginOutcome(False, SIGN_IN_FAILED)
        if not password_ok or user.password_hash != checked_hash:
            _register_failure(s, user, name, ip, user_agent, "sign-in")
            return LoginOutcome(False, SIGN_IN_FAILED)

        if user.totp_confirmed_at is not None:
            # The failure counter stays as it is until the code is right too.
            pending = new_token()
            now = utcnow()
            s.exec(delete(SecondFactorChallenge).where(SecondFactorChallenge.user_id == user.id,
                                                       SecondFactorChallenge.expires_at < now))
            s.add(SecondFactorChallenge(user_id=user.id, token_hash=token_digest(pending), created_at=now,
                                        expires_at=now + timedelta(minutes=SECOND_FACTOR_MINUTES)))
            return LoginOutcome(False, "Enter your code.", user_id=user.id, second_factor_token=pending)
        return _start_session(s, user, name, ip, user_agent, settings, {"ip": ip})


def _start_session(s: Session, user: User, name: str, ip: str, user_agent: str, settings, audit_after: dict
                   ) -> LoginOutcome:
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
        ip=ip,
        user_agent=user_agent[:400],
    )
    s.add(auth_session)
    s.flush()
    _attempt(s, name, user, "success", ip, user_agent)
    audit.record(s, _user_actor(user, auth_session.id), "session", auth_session.id, "login", after=audit_after)
    return LoginOutcome(True, "Signed in.", token=token, user_id=user.id)


def _challenge(s: Session, pending_token: str, lock: bool = False) -> SecondFactorChallenge | None:
    if not pending_token:
        return None
    query = select(SecondFactorChallenge).where(SecondFactorChallenge.token_hash == token_digest(pending_token),
                                                SecondFactorChallenge.used_at.is_(None))
    row = s.exec(query.with_for_update() if lock else query).first()
    return row if row is not None and row.expires_at > utcnow() else None


def pending_second_factor(pending_token: str | None) -> bool:
    """Whether a pending second-factor sign-in is still waiting for its code."""
    with read_session() as s:
        return _challenge(s, pending_token or "") is not None


def complete_second_factor(pending_token: str, code: str, ip: str = "", user_agent: str = "") -> LoginOutcome:
    """The second step of signing in: a TOTP code (or a recovery code) for a pending sign-in. A wrong code counts
    as a failed sign-in (the third in a row locks the account); the right one makes the session, once."""
    ip = (ip or "")[:64]
    settings = get_settings()
    with write_session() as s:
        refusal = _address_refusal(s, ip, utcnow())
        if refusal:
            _attempt(s, "(second factor)", None, "throttled", ip, user_agent)
            return LoginOutcome(False, refusal, throttled=True)
        challenge = _challenge(s, pending_token or "", lock=True)
        if challenge is None:
            return LoginOutcome(False, SECOND_FACTOR_EXPIRED, restart=True)
        user = s.exec(select(User).where(User.id == challenge.user_id).with_for_update()).one()
        org = s.get(Organisation, user.organisation_id)
        if user.locked_at is not None or not user.is_active or org is None or not org.is_active:
            challenge.used_at = utcnow()
            s.add(challenge)
            _attempt(s, user.username, user, "locked" if user.locked_at is not None else "disabled", ip, user_agent)
            return LoginOutcome(False, SECOND_FACTOR_EXPIRED, restart=True)
        passed = totp.check_code(s, user, code or "")
        if passed is None:
            if _register_failure(s, user, user.username, ip, user_agent, "second factor"):
                challenge.used_at = utcnow()
                s.add(challenge)
                return LoginOutcome(False, ACCOUNT_LOCKED_NOW, restart=True)
            return LoginOutcome(False, SECOND_FACTOR_FAILED)
        challenge.used_at = utcnow()
        s.add(challenge)
        if passed == "recovery code":
            left = totp.recovery_codes_left(s, user.id)
            audit.record(s, _user_actor(user), "user", user.id, "recovery_code_used", after={"codes_left": left},
                         organisation_id=user.organisation_id)
        return _start_session(s, user, user.username, ip, user_agent, settings,
                              {"ip": ip, "second_factor": passed})


def _register_failure(s: Session, user: User, username_tried: str, ip: str, user_agent: str, via: str) -> bool:
    """Count a wrong password against ``user`` (locked for update by the caller); lock the account at the limit.
    Returns whether it locked."""
    user.failed_attempts += 1
    s.add(user)
    if user.failed_attempts < MAX_FAILED_ATTEMPTS:
        _attempt(s, username_tried, user, "failure", ip, user_agent)
        return False
    user.locked_at = utcnow()
    _attempt(s, username_tried, user, "lockout", ip, user_agent)
    audit.record(s, _user_actor(user), "user", user.id, "locked",
                 after={"failed_attempts": user.failed_attempts, "via": via, "ip": ip},
                 organisation_id=user.organisation_id)
    end_sessions(s, user.id, "locked")
    _queue_lock_emails(s, user, ip)
    return True


def _organisation_admin_addresses(s: Session, organisation_id: int, except_user_id: int) -> list[str]:
    rows = s.exec(
        select(User.email, Role.permissions)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(User.organisation_id == organisation_id, Role.organisation_id == organisation_id, User.is_active,
               User.locked_at.is_(None), User.email != "", User.id != except_user_id)
    ).all()
    return sorted({email for email, permissions in rows if Perm.USERS_MANAGE in (permissions or [])})


def _queue_lock_emails(s: Session, user: User, ip: str) -> None:
    """When an account locks: its owner gets an unlock link, the organisation's administrators an alert."""
    if user.email:
        _queue_unlock_link(s, user, "locked after 3 failed attempts")
    when = utcnow().astimezone(LONDON)
    for address in _organisation_admin_addresses(s, user.organisation_id, user.id):
        outbox.queue(
            s,
            to=address,
            subject=f"Atlas: the account {user.username} is locked",
            body=(
                f"The Atlas account {user.username} ({user.full_name}) was locked at {when:%H:%M on %d %b %Y} after "
                f"{MAX_FAILED_ATTEMPTS} failed attempts in a row (wrong passwords or sign-in codes); the last came "
                f"from the address {ip or 'unknown'}."
                "\n\nIts owner has been emailed a link to unlock it. You can also unlock it on the Users page "
                "(Administration, Users). If its owner did not try to sign in, someone else may be guessing.\n"
            ),
            organisation_id=user.organisation_id,
            related=("user", user.id),
        )


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


def resolve(token: str | None, touch: bool = True, allow_password_change: bool = False) -> Actor | None:
    """The actor for a session token, or None when it is unknown, ended, idle too long, expired, or its user
    is disabled or locked. Records the user's last action (at most every 15 seconds).

    A user who must change their password gets ``PasswordChangeRequired`` unless the caller is changing it or
    signing out (``allow_password_change``): nothing else works for them until it is changed."""
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
        must_enrol = (not end_reason and user.totp_confirmed_at is None
                      and totp.is_required(s.get(Organisation, user.organisation_id), user, permissions))
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
    if user.must_change_password and not allow_password_change:
        raise PasswordChangeRequired()
    if must_enrol and not allow_password_change:
        raise TwoFactorEnrolmentRequired()
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
        must_enrol_two_factor=must_enrol,
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


ACCOUNT_LOCKED_NOW = ("Your account is now locked after 3 failed attempts. We have emailed you a link to unlock it; "
                      "an administrator can unlock it too.")


def change_own_password(actor: Actor, current_password: str, new_password: str, ip: str = "",
                        user_agent: str = "") -> None:
    """A wrong current password counts as a failed sign-in: the third in a row locks the account and ends its
    sessions (``NotAuthenticated``)."""
    if actor.user_id is None:
        raise NotAuthenticated()
    with read_session() as s:
        user = s.get(User, actor.user_id)
        if user is None:
            raise NotAuthenticated()
        min_length = _org_min_length(s, user.organisation_id)
        old_hash = user.password_hash
    if not verify_password(current_password or "", old_hash):
        with write_session() as s:
            user = s.exec(select(User).where(User.id == actor.user_id).with_for_update()).one()
            if user.locked_at is not None:
                raise NotAuthenticated(ACCOUNT_LOCKED_NOW)
            locked = _register_failure(s, user, user.username, (ip or "")[:64], user_agent, "change password")
        if locked:
            raise NotAuthenticated(ACCOUNT_LOCKED_NOW)
        raise ValidationFailed("Your current password is not correct.", {"current_password": "not correct"})
    if current_password == new_password:
        raise ValidationFailed("Choose a password different from the current one.", {"password": "unchanged"})
    check_password_rule(new_password or "", min_length)
    new_hash = hash_password(new_password)
    with write_session() as s:
        user = s.exec(select(User).where(User.id == actor.user_id).with_for_update()).one()
        if user.locked_at is not None:
            raise NotAuthenticated()
        user.password_hash = new_hash
        user.password_changed_at = utcnow()
        user.must_change_password = False
        user.failed_attempts = 0
        s.add(user)
        ended = end_sessions(s, user.id, "password changed", keep_session_id=actor.session_id)
        audit.record(s, actor, "user", user.id, "password_changed", after={"other_sessions_ended": ended},
                     organisation_id=user.organisation_id)


RESET_REQUESTED = (
    "If that matches an active account with an email address, we will email a link to set a new password (or, "
    "for a locked account, to unlock it). The link works once and expires in {minutes} minutes."
)


def _request_key(user_id: int | None, identifier: str) -> str:
    # The account when known, so asking by username and by address counts once; what was typed otherwise.
    raw = f"user:{user_id}" if user_id is not None else f"name:{identifier}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _request_refusal(s: Session, key: str, ip: str, now) -> TooManyAttempts | None:
    since = now - LINK_WINDOW
    checks = [(AccountLinkRequest.key_hash == key, LINKS_PER_ACCOUNT)]
    if ip:
        checks.append((AccountLinkRequest.ip == ip, LINKS_PER_ADDRESS))
    for condition, limit in checks:
        count, oldest = s.exec(
            select(func.count(), func.min(AccountLinkRequest.at)).where(condition, AccountLinkRequest.at > since)
        ).one()
        if count > limit:
            until = (oldest + LINK_WINDOW).astimezone(LONDON)
            return TooManyAttempts(
                f"Too many requests for a new password. For your security, please try again after {until:%H:%M}.",
                {"identifier": "too many requests"})
    return None


def request_password_reset(identifier: str, ip: str = "") -> str:
    """Ask for a link to set a new password (or to unlock a locked account). The answer is the same whether or
    not the account exists, and so is the work done while answering: one lookup, one request row written (with
    the account's id, or none), the same counts. The link itself is made and emailed afterwards by
    ``send_requested_links``, which only acts on rows that found an active account with an address.

    Requests are limited per account (or per unknown name) and per address (``TooManyAttempts``)."""
    settings = get_settings()
    ident = (identifier or "").strip().lower()[:254]
    if not ident:
        raise ValidationFailed("Enter your username or email address.", {"identifier": "required"})
    ip = (ip or "")[:64]
    now = utcnow()
    with read_session() as s:
        user_id = s.exec(
            select(User.id).where(or_(User.username == ident, func.lower(User.email) == ident)).order_by(User.id)
        ).first()
    key = _request_key(user_id, ident)
    with write_session() as s:
        row = AccountLinkRequest(key_hash=key, user_id=user_id, ip=ip, at=now)
        s.add(row)
        s.flush()
        row_id = row.id
        s.exec(delete(AccountLinkRequest).where(AccountLinkRequest.at < now - KEEP_REQUESTS))
    # Written before counting, so of requests racing in at once no more than the limit get through.
    with read_session() as s:
        refusal = _request_refusal(s, key, ip, now)
    if refusal is not None:
        with write_session() as s:
            s.exec(delete(AccountLinkRequest).where(AccountLinkRequest.id == row_id))
        raise refusal
    return RESET_REQUESTED.format(minutes=settings.password_reset_minutes)


def _new_link(s: Session, user_id: int, purpose: str) -> int:
    """A link row for ``user_id``, replacing any earlier unused one of the same purpose. Its token is made when
    the email is sent; until then the row holds the hash of a random value nobody is given."""
    now = utcnow()
    s.exec(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.purpose == purpose,
               PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    row = PasswordResetToken(user_id=user_id, token_hash=token_digest(new_token()), purpose=purpose,
                             expires_at=now + timedelta(minutes=get_settings().password_reset_minutes))
    s.add(row)
    s.flush()
    return row.id


def _queue_unlock_link(s: Session, user: User, reason: str) -> None:
    minutes = get_settings().password_reset_minutes
    link_id = _new_link(s, user.id, "unlock")
    outbox.queue(
        s,
        to=user.email,
        subject="Atlas: unlock your account",
        body=(
            f"Hello {user.full_name},\n\nThe Atlas account {user.username} is locked ({reason}). If it was you, "
            f"open this link within {minutes} minutes to unlock it. It works once.\n\n{outbox.LINK_PLACEHOLDER}\n\n"
            "If it was not you, someone may be guessing your password: unlock the account, then change your "
            "password, or ask your Atlas administrator.\n"
        ),
        organisation_id=user.organisation_id,
        related=("user", user.id),
        sensitive=True,
        link=("unlock", link_id),
    )
    audit.record(s, _user_actor(user), "user", user.id, "unlock_link_sent", organisation_id=user.organisation_id)


def _queue_reset_link(s: Session, user: User, ip: str) -> None:
    minutes = get_settings().password_reset_minutes
    link_id = _new_link(s, user.id, "reset")
    outbox.queue(
        s,
        to=user.email,
        subject="Atlas: set a new password",
        body=(
            f"Hello {user.full_name},\n\nTo set a new password for the Atlas account {user.username}, open this "
            f"link within {minutes} minutes. It works once.\n\n{outbox.LINK_PLACEHOLDER}\n\n"
            "If you did not ask for this, ignore this email: your password has not changed.\n"
        ),
        organisation_id=user.organisation_id,
        related=("user", user.id),
        sensitive=True,
        link=("reset", link_id),
    )
    audit.record(s, _user_actor(user), "user", user.id, "password_reset_requested", after={"ip": ip},
                 organisation_id=user.organisation_id)


def send_requested_links(limit: int = 100) -> int:
    """Email the links asked for by ``request_password_reset`` (a background job; safe in several workers, as each
    request is claimed by a conditional update). A locked account gets an unlock link instead of a reset link.
    Returns how many emails were queued."""
    with read_session() as s:
        ids = s.exec(
            select(AccountLinkRequest.id)
            .where(AccountLinkRequest.user_id.is_not(None), AccountLinkRequest.handled_at.is_(None))
            .order_by(AccountLinkRequest.id)
            .limit(limit)
        ).all()
    queued = 0
    for request_id in ids:
        with write_session() as s:
            claimed = s.exec(
                update(AccountLinkRequest)
                .where(AccountLinkRequest.id == request_id, AccountLinkRequest.handled_at.is_(None))
                .values(handled_at=utcnow())
            ).rowcount
            if not claimed:
                continue
            request = s.get(AccountLinkRequest, request_id)
            user = s.exec(select(User).where(User.id == request.user_id).with_for_update()).first()
            if user is None or not user.is_active or not user.email:
                continue
            if user.locked_at is not None:
                _queue_unlock_link(s, user, "after too many failed sign-in attempts")
            else:
                _queue_reset_link(s, user, request.ip)
            queued += 1
    return queued


def _render_link(purpose: str, path: str):
    def render(s: Session, link_id: int | None) -> str | None:
        row = s.exec(
            select(PasswordResetToken)
            .where(PasswordResetToken.id == link_id, PasswordResetToken.purpose == purpose,
                   PasswordResetToken.used_at.is_(None))
            .with_for_update()
        ).first()
        if row is None or row.expires_at <= utcnow():
            return None
        token = new_token()
        row.token_hash = token_digest(token)
        s.add(row)
        return f"{get_settings().base_url}{path}?token={token}"

    return render


outbox.LINK_RENDERERS["reset"] = _render_link("reset", "/reset-password")
outbox.LINK_RENDERERS["unlock"] = _render_link("unlock", "/unlock-account")


def _link_row(s: Session, token: str, purpose: str) -> PasswordResetToken | None:
    if not token:
        return None
    row = s.exec(
        select(PasswordResetToken)
        .where(PasswordResetToken.token_hash == token_digest(token), PasswordResetToken.purpose == purpose,
               PasswordResetToken.used_at.is_(None))
        .with_for_update()
    ).first()
    return row if row is not None and row.expires_at > utcnow() else None


def unlock_with_token(token: str) -> str:
    """Unlock an account from its emailed link; returns the username. The link then stops working."""
    invalid = ValidationFailed("This link is not valid any more. Ask for a new one from the forgotten password "
                               "page, or ask your administrator.", {"token": "invalid"})
    with write_session() as s:
        row = _link_row(s, token, "unlock")
        if row is None:
            raise invalid
        user = s.exec(select(User).where(User.id == row.user_id).with_for_update()).one()
        if not user.is_active:
            raise invalid
        row.used_at = utcnow()
        s.add(row)
        if user.locked_at is not None or user.failed_attempts:
            before = {"locked": user.locked_at is not None, "failed_attempts": user.failed_attempts}
            user.locked_at = None
            user.failed_attempts = 0
            s.add(user)
            audit.record(s, _user_actor(user), "user", user.id, "unlocked_by_link", before=before,
                         after={"locked": False, "failed_attempts": 0}, organisation_id=user.organisation_id)
        return user.username


def reset_password_with_token(token: str, new_password: str) -> str:
    """Set a new password from an emailed link; returns the username. The link then stops working."""
    invalid = ValidationFailed("This link is not valid any more. Ask for a new one.", {"token": "invalid"})
    with write_session() as s:
        row = _link_row(s, token, "reset")
        if row is None:
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
