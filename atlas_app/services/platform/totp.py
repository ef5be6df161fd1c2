"""The second factor itself: time-based one-time codes (TOTP, RFC 6238, 30-second steps, 6 digits, via pyotp)
and single-use recovery codes, and who must have one.

A code is accepted for the current time step or one either side (clock drift), and only for a step later than the
last one accepted for that user, so a code once used (or an older one) never works again. Recovery codes are 60
random bits each, stored only as a SHA-256, and each works once.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime

import pyotp
from sqlmodel import Session, select

from atlas_app.db import utcnow
from atlas_app.models import Organisation, TwoFactorRecoveryCode, User
from atlas_app.services.platform import secret_box
from atlas_app.services.platform.passwords import token_digest
from atlas_app.services.platform.permissions import Perm

log = logging.getLogger("atlas.two_factor")
ISSUER = "Atlas"
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols, none easily confused
REQUIREMENTS = {"none": "Nobody is required to", "admins": "Administrators must", "all": "All staff must"}


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits


def secret_context(user_id: int) -> str:
    return f"totp:{int(user_id)}"


def store_secret(user: User, secret: str | None) -> None:
    """Keep ``secret`` on the user sealed (``secret_box``: AES-GCM under a key from SECRET_KEY), or forget it."""
    user.totp_secret = None if secret is None else secret_box.seal(secret, secret_context(user.id))


def user_secret(user: User) -> str:
    """The user's TOTP secret in the clear, or "" when there is none or it does not open (SECRET_KEY changed)."""
    if not user.totp_secret:
        return ""
    try:
        return secret_box.open_sealed(user.totp_secret, secret_context(user.id))
    except secret_box.SecretUnreadable:
        log.error("the two-factor secret of user %s does not open with this SECRET_KEY", user.id)
        return ""


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:40]


def is_totp_shape(code: str) -> bool:
    digits = _normalise(code)
    return len(digits) == 6 and digits.isdigit()


def accept_totp(user: User, secret: str, code: str, now: datetime | None = None) -> bool:
    """Whether ``code`` is a current code for ``secret`` at a step later than the user's last; if so that step
    becomes their last (``user`` is locked for update by the caller)."""
    if not secret or not is_totp_shape(code):
        return False
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or utcnow())
    given = _normalise(code)
    for step in (current - 1, current, current + 1):
        if step > (user.totp_last_step or 0) and hmac.compare_digest(totp.generate_otp(step), given):
            user.totp_last_step = step
            return True
    return False


def new_recovery_codes(s: Session, user_id: int) -> list[str]:
    """Replace the user's recovery codes with ``RECOVERY_CODE_COUNT`` new ones; returns them (shown once)."""
    for old in s.exec(select(TwoFactorRecoveryCode).where(TwoFactorRecoveryCode.user_id == user_id)).all():
        s.delete(old)
    s.flush()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
        s.add(TwoFactorRecoveryCode(user_id=user_id, code_hash=token_digest(raw)))
    return codes


def use_recovery_code(s: Session, user_id: int, code: str) -> bool:
    """Use up one of the user's unused recovery codes; False when it is not one."""
    raw = _normalise(code)
    if len(raw) != 12:
        return False
    row = s.exec(
        select(TwoFactorRecoveryCode)
        .where(TwoFactorRecoveryCode.user_id == user_id, TwoFactorRecoveryCode.code_hash == token_digest(raw),
               TwoFactorRecoveryCode.used_at.is_(None))
        .with_for_update()
    ).first()
    if row is None:
        return False
    row.used_at = utcnow()
    s.add(row)
    return True


def check_code(s: Session, user: User, code: str) -> str | None:
    """Check a sign-in code (a TOTP code or a recovery code) for an enrolled user locked for update by the caller.
    Returns how it was passed ("code" or "recovery code"), or None when it was wrong."""
    if user.totp_confirmed_at is None:
        return None
    if is_totp_shape(code):
        return "code" if accept_totp(user, user_secret(user), code) else None
    return "recovery code" if use_recovery_code(s, user.id, code) else None


def recovery_codes_left(s: Session, user_id: int) -> int:
    return len(s.exec(select(TwoFactorRecoveryCode.id).where(
        TwoFactorRecoveryCode.user_id == user_id, TwoFactorRecoveryCode.used_at.is_(None))).all())


def is_required(org: Organisation | None, user: User, permissions: frozenset[str]) -> bool:
    """Whether the user's organisation requires them to use two-factor sign-in."""
    rule = org.two_factor_required if org is not None else "none"
    if rule == "all":
        return True
    return rule == "admins" and (user.is_platform_admin or Perm.USERS_MANAGE in permissions)
