"""Two-factor sign-in for staff: enrolling and turning it off on My account, the organisation's requirement, and
an administrator's reset.

The secret is made here and stays in the database, sealed (AES-GCM under a key from SECRET_KEY, ``secret_box``:
a copy of the database alone does not give anyone's codes); the browser sees it only while enrolling (as a QR code drawn
here as SVG by segno, and as the key to type). Enrolment counts once a first valid code confirms it, which also
gives the user ten recovery codes, shown once and stored only as SHA-256 hashes.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno
from sqlalchemy import delete
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import Organisation, SecondFactorChallenge, TwoFactorRecoveryCode, User
from atlas_app.services.platform import audit, outbox, totp
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.auth import ACCOUNT_LOCKED_NOW, _register_failure, permissions_for
from atlas_app.services.platform.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationFailed
from atlas_app.services.platform.passwords import verify_password
from atlas_app.services.platform.permissions import Perm


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    required: bool
    recovery_codes_left: int
    organisation_rule: str  # none, admins, all


@dataclass(frozen=True)
class Enrolment:
    qr_svg_data_uri: str
    manual_key: str  # the secret in groups of four, to type into an app that cannot scan


def _own_user(s: Session, actor: Actor, lock: bool = False) -> User:
    if actor.user_id is None:
        raise NotAuthenticated()
    query = select(User).where(User.id == actor.user_id)
    user = s.exec(query.with_for_update() if lock else query).first()
    if user is None:
        raise NotAuthenticated()
    return user


def status(actor: Actor) -> TwoFactorStatus:
    with read_session() as s:
        user = _own_user(s, actor)
        org = s.get(Organisation, user.organisation_id)
        return TwoFactorStatus(
            enabled=user.totp_confirmed_at is not None,
            required=totp.is_required(org, user, permissions_for(s, user)),
            recovery_codes_left=totp.recovery_codes_left(s, user.id),
            organisation_rule=org.two_factor_required if org else "none",
        )


def start_enrolment(actor: Actor) -> Enrolment:
    """A new secret for the actor (replacing any unconfirmed one), as a QR code and a key to type."""
    with write_session() as s:
        user = _own_user(s, actor, lock=True)
        if user.totp_confirmed_at is not None:
            raise Conflict("Two-factor sign-in is already on. Turn it off first to set up a new app.")
        secret = totp.new_secret()
        totp.store_secret(user, secret)
        s.add(user)
        username = user.username
    qr = segno.make(totp.provisioning_uri(secret, username), error="m")
    return Enrolment(qr_svg_data_uri=qr.svg_data_uri(scale=5, border=2),
                     manual_key=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)))


def confirm_enrolment(actor: Actor, code: str) -> list[str]:
    """Turn two-factor sign-in on with a first valid code; returns the ten recovery codes (shown once)."""
    with write_session() as s:
        user = _own_user(s, actor, lock=True)
        if user.totp_confirmed_at is not None:
            raise Conflict("Two-factor sign-in is already on.")
        if not user.totp_secret:
            raise ValidationFailed("Start setting up two-factor sign-in first.", {"code": "not started"})
        if not totp.accept_totp(user, totp.user_secret(user), code):
            raise ValidationFailed("That code is not right. Enter the 6-digit code your app shows now.",
                                   {"code": "not correct"})
        user.totp_confirmed_at = utcnow()
        s.add(user)
        codes = totp.new_recovery_codes(s, user.id)
        audit.record(s, actor, "user", user.id, "two_factor_enabled", organisation_id=user.organisation_id)
        return codes


def new_recovery_codes(actor: Actor, code: str) -> list[str]:
    """Replace the actor's recovery codes (the old ones stop working), given a current code."""
    with write_session() as s:
        user = _own_user(s, actor, lock=True)
        if user.totp_confirmed_at is None:
            raise Conflict("Two-factor sign-in is not on.")
        if not totp.accept_totp(user, totp.user_secret(user), code):
            raise ValidationFailed("That code is not right. Enter the 6-digit code your app shows now.",
                                   {"code": "not correct"})
        s.add(user)
        codes = totp.new_recovery_codes(s, user.id)
        audit.record(s, actor, "user", user.id, "recovery_codes_replaced", organisation_id=user.organisation_id)
        return codes


def clear(s: Session, user: User) -> None:
    """Forget a user's second factor: secret, recovery codes and pending sign-ins."""
    totp.store_secret(user, None)
    user.totp_confirmed_at = None
    s.add(user)
    s.exec(delete(TwoFactorRecoveryCode).where(TwoFactorRecoveryCode.user_id == user.id))
    s.exec(delete(SecondFactorChallenge).where(SecondFactorChallenge.user_id == user.id))


def disable(actor: Actor, current_password: str, code: str, ip: str = "", user_agent: str = "") -> None:
    """Turn the actor's two-factor sign-in off, with their current password and a code (or a recovery code).
    Either wrong counts as a failed sign-in; the third in a row locks the account (``NotAuthenticated``)."""
    with read_session() as s:
        user = _own_user(s, actor)
        password_hash = user.password_hash
        if user.totp_confirmed_at is None:
            raise Conflict("Two-factor sign-in is not on.")
        if totp.is_required(s.get(Organisation, user.organisation_id), user, permissions_for(s, user)):
            raise PermissionDenied("Your organisation requires two-factor sign-in, so it cannot be turned off. "
                                   "An administrator can reset it if you have lost your app.")
    password_ok = verify_password(current_password or "", password_hash)
    with write_session() as s:
        user = _own_user(s, actor, lock=True)
        if user.locked_at is not None:
            raise NotAuthenticated(ACCOUNT_LOCKED_NOW)
        if not password_ok or user.password_hash != password_hash or totp.check_code(s, user, code or "") is None:
            locked = _register_failure(s, user, user.username, (ip or "")[:64], user_agent, "turn off two-factor")
            if locked:
                failure = NotAuthenticated(ACCOUNT_LOCKED_NOW)
            else:
                failure = ValidationFailed("Your password or the code is not correct.", {"code": "not correct"})
        else:
            failure = None
            clear(s, user)
            audit.record(s, actor, "user", user.id, "two_factor_disabled", organisation_id=user.organisation_id)
    if failure is not None:
        raise failure


def requirement(actor: Actor) -> str:
    """Who in the actor's organisation must use two-factor sign-in."""
    org_id = actor.require_org()
    with read_session() as s:
        return s.exec(select(Organisation.two_factor_required).where(Organisation.id == org_id)).one()


def set_requirement(actor: Actor, rule: str) -> None:
    """Who in the actor's organisation must use two-factor sign-in: "none", "admins" or "all"."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    if rule not in totp.REQUIREMENTS:
        raise ValidationFailed("Choose who must use two-factor sign-in.", {"two_factor_required": "unknown"})
    with write_session() as s:
        org = s.exec(select(Organisation).where(Organisation.id == org_id).with_for_update()).one()
        before = org.two_factor_required
        if before == rule:
            return
        org.two_factor_required = rule
        s.add(org)
        audit.record(s, actor, "organisation", org.id, "two_factor_requirement_changed",
                     before={"two_factor_required": before}, after={"two_factor_required": rule},
                     organisation_id=org.id)


def reset_by_admin(s: Session, actor: Actor, user: User) -> bool:
    """An administrator clears ``user``'s second factor (locked for update by the caller); the user is emailed.
    Returns whether it had one."""
    had = user.totp_confirmed_at is not None
    clear(s, user)
    audit.record(s, actor, "user", user.id, "two_factor_reset_by_admin", before={"enabled": had},
                 after={"enabled": False}, organisation_id=user.organisation_id)
    if user.email:
        outbox.queue(
            s,
            to=user.email,
            subject="Atlas: your two-factor sign-in was reset",
            body=(
                f"Hello {user.full_name},\n\nAn Atlas administrator ({actor.full_name or actor.username}) has reset "
                f"two-factor sign-in for the account {user.username}. Your authenticator app and recovery codes no "
                "longer work for it; you can set it up again on the My account page.\n\nIf you did not ask for "
                "this, tell your Atlas administrator.\n"
            ),
            organisation_id=user.organisation_id,
            related=("user", user.id),
        )
    return had
