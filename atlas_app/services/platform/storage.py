"""Uploaded files: one storage interface (``put``, ``open``, ``delete``) over ``ATLAS_DATA_DIR/uploads/``.

Files are content-addressed (the SHA-256 of their bytes names them, split into two directory levels), kept outside
the web root and never served directly: a route that checks who may see a file reads it through ``open``. A file is
written to a temporary name in the same directory tree and renamed into place, so a reader never sees half a file
and a crash leaves only a temporary file behind. Writing the same bytes twice stores them once.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from atlas_app.services.platform.errors import NotFound
from atlas_app.settings import get_settings

_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    # False when the same bytes were already stored (then a failed transaction must not delete them).
    created: bool


def root() -> Path:
    return get_settings().data_dir / "uploads"


def _path(key: str) -> Path:
    if not _KEY.fullmatch(key or ""):
        raise NotFound("No such file.")
    return root() / key[:2] / key[2:4] / key


def put(data: bytes) -> Stored:
    """Store ``data`` under its SHA-256 and return the key."""
    key = hashlib.sha256(data).hexdigest()
    path = _path(key)
    if path.exists():
        return Stored(key, len(data), False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return Stored(key, len(data), True)


def open(key: str) -> bytes:  # noqa: A001  (the interface's verb)
    """The bytes stored under ``key``, or NotFound."""
    try:
        return _path(key).read_bytes()
    except FileNotFoundError:
        raise NotFound("No such file.") from None


def exists(key: str) -> bool:
    try:
        return _path(key).exists()
    except NotFound:
        return False


def delete(key: str) -> None:
    """Remove the file stored under ``key`` (nothing happens when there is none)."""
    try:
        _path(key).unlink()
    except FileNotFoundError:
        pass
