"""Secrets an organisation enters (a payment provider's API key, a webhook signing secret), sealed at rest.

Sealed with Fernet (``cryptography``: AES-128-CBC with HMAC-SHA256, authenticated) under a key derived by HKDF from
the deployment's ``SECRET_KEY``, so a copy of the database alone does not give the secrets away. A sealed value
that no longer opens (the secret key changed) reads as absent, and the administrator enters it again.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from atlas_app.settings import get_settings


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"atlas-sealed-secrets",
                   info=b"organisation secrets v1").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(value: str) -> str:
    """The sealed form of ``value`` ("" for "")."""
    if not value:
        return ""
    return _fernet(get_settings().secret_key).encrypt(value.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    """The value sealed in ``sealed``; "" when empty or when it does not open under this deployment's key."""
    if not sealed:
        return ""
    try:
        return _fernet(get_settings().secret_key).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return ""


def hint(value: str) -> str:
    """What may be shown of a secret: its last four characters."""
    return ("…" + value[-4:]) if len(value) >= 12 else ""
