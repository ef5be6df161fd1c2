"""Secrets kept at rest encrypted: AES-256-GCM under a key derived from the deployment's ``SECRET_KEY``.

Used for what Atlas must read back in the clear and so cannot hash, such as a user's TOTP secret. A sealed value is
``v1:`` and the URL-safe base64 of a random 96-bit nonce and the ciphertext with its tag. Each value is bound to
what it belongs to (``context``, e.g. ``totp:42`` for user 42), so a sealed secret copied onto another row does not
open. The key is HKDF-SHA256 of ``SECRET_KEY`` with a purpose label; changing ``SECRET_KEY`` makes every sealed
value unreadable (enrolled users then enrol again), so a production deployment must set it and keep it.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from atlas_app.settings import get_settings

PREFIX = "v1:"


class SecretUnreadable(Exception):
    """A sealed value did not open: a different SECRET_KEY, another row's value, or a changed ciphertext."""


@lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"atlas secret box",
                info=b"at-rest secrets v1").derive(secret_key.encode("utf-8"))


def seal(plain: str, context: str, secret_key: str | None = None) -> str:
    key = _key(secret_key or get_settings().secret_key)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plain.encode("utf-8"), context.encode("utf-8"))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)


def open_sealed(value: str, context: str, secret_key: str | None = None) -> str:
    if not is_sealed(value):
        raise SecretUnreadable("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(value[len(PREFIX):].encode("ascii"))
        plain = AESGCM(_key(secret_key or get_settings().secret_key)).decrypt(raw[:12], raw[12:],
                                                                              context.encode("utf-8"))
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable("the sealed value does not open with this deployment's SECRET_KEY") from exc
    return plain.decode("utf-8")


def seal_optional(plain: str, context: str) -> str:
    """``seal`` for a setting that may be empty: "" stays "" (nothing held)."""
    return seal(plain, context) if plain else ""


def open_or_blank(value: str, context: str) -> str:
    """The value held, or "" when none is held or it no longer opens (``SECRET_KEY`` changed, or the value was
    copied from another row): a setting an administrator then enters again."""
    if not value:
        return ""
    try:
        return open_sealed(value, context)
    except SecretUnreadable:
        return ""


def hint(value: str) -> str:
    """What may be shown of a secret: its last four characters (nothing of a short one)."""
    return ("…" + value[-4:]) if len(value) >= 12 else ""
