"""Certificate files and letters kept on disk, content-addressed: a file's name is the SHA-256 of its bytes, under
``ATLAS_DATA_DIR/files/sha256/ab/cd/<digest>``. The same bytes are stored once; a stored file never changes.

Rows that refer to a file (``installation_check.certificate_sha256``, ``servicing_letter.pdf_sha256``) carry the
organisation, and files are only ever read through such a row, looked up by the caller's organisation, so one
organisation cannot reach another's file by its digest.

This module is the utilities servicing package's own small store; a platform-wide store can replace it with the
same two calls.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from atlas_app.settings import get_settings

MAX_BYTES = 20 * 1024 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _root() -> Path:
    return Path(get_settings().data_dir) / "files" / "sha256"


def path_of(digest: str) -> Path:
    if not _DIGEST.match(digest or ""):
        raise ValueError("not a SHA-256 digest")
    return _root() / digest[:2] / digest[2:4] / digest


def put(data: bytes) -> str:
    """Store ``data``; returns its SHA-256 (hex). Written to a temporary file and renamed, so a reader never sees
    half a file."""
    if len(data) > MAX_BYTES:
        raise ValueError("file too large")
    digest = hashlib.sha256(data).hexdigest()
    target = path_of(digest)
    if target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def get(digest: str) -> bytes:
    data = path_of(digest).read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise OSError("stored file does not match its digest")
    return data
