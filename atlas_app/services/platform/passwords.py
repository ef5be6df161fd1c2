"""The password rule and bcrypt hashing.

The rule, as the organisations require it: at least 7 characters, with both letters and digits. An organisation may
raise the minimum length, never lower it.
"""

from __future__ import annotations

import hashlib
import secrets

import bcrypt

from atlas_app.services.platform.errors import ValidationFailed

PLATFORM_MIN_LENGTH = 7
MAX_LENGTH = 128  # bcrypt reads 72 bytes; longer passwords are pre-hashed below, so a cap only limits abuse.
BCRYPT_ROUNDS = 12


def password_problems(password: str, min_length: int = PLATFORM_MIN_LENGTH) -> list[str]:
    min_length = max(PLATFORM_MIN_LENGTH, min_length)
    problems = []
    if len(password) < min_length:
        problems.append(f"at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"no more than {MAX_LENGTH} characters")
    if not any(c.isalpha() for c in password):
        problems.append("at least one letter")
    if not any(c.isdigit() for c in password):
        problems.append("at least one digit")
    return problems


def check_password_rule(password: str, min_length: int = PLATFORM_MIN_LENGTH) -> None:
    problems = password_problems(password, min_length)
    if problems:
        raise ValidationFailed(
            "The password needs " + ", ".join(problems) + ".", {"password": "; ".join(problems)}
        )


def _prepare(password: str) -> bytes:
    # SHA-256 first so every character counts (bcrypt ignores bytes past 72), base64 so no NUL byte reaches bcrypt.
    import base64

    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int | None = None) -> str:
    # BCRYPT_ROUNDS is read at call time so it can be changed after import (tests lower it for speed).
    return bcrypt.hashpw(_prepare(password), bcrypt.gensalt(rounds or BCRYPT_ROUNDS)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check so a missing user cannot be told apart by timing.
        bcrypt.checkpw(_prepare(password), _DUMMY_HASH)
        return False
    try:
        return bcrypt.checkpw(_prepare(password), password_hash.encode("ascii"))
    except ValueError:
        return False


_DUMMY_HASH = bcrypt.hashpw(b"atlas-dummy-password", bcrypt.gensalt(BCRYPT_ROUNDS))


def new_token() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256, so a database leak gives no usable token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
