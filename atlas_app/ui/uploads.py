"""Files a page receives: an import's CSV is written to ATLAS_DATA_DIR/uploads under a random name (``spool``), a
small file (an attachment) is read into memory (``read``); both a chunk at a time, refused past a size limit with
nothing left behind. The service then checks what the file is."""

from __future__ import annotations

import secrets
from pathlib import Path

import reflex as rx

from atlas_app.settings import get_settings


async def spool(upload: rx.UploadFile, kind: str, organisation_id: int | None, max_bytes: int,
                suffix: str = ".csv") -> Path | None:
    """The uploaded file saved as ``uploads/<kind>-<organisation>-<random><suffix>``, or None (and no file) when
    it is larger than ``max_bytes``."""
    folder = get_settings().data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{organisation_id}-{secrets.token_hex(8)}{suffix}"
    size = 0
    with open(path, "wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                break
            out.write(chunk)
    if size > max_bytes:
        path.unlink(missing_ok=True)
        return None
    return path


async def read(upload: rx.UploadFile, max_bytes: int) -> bytes | None:
    """The uploaded file's bytes, or None when it is larger than ``max_bytes`` (reading stops there)."""
    parts, size = [], 0
    while chunk := await upload.read(1 << 20):
        size += len(chunk)
        if size > max_bytes:
            return None
        parts.append(chunk)
    return b"".join(parts)


def file_name(upload: rx.UploadFile, default: str) -> str:
    """The uploaded file's own name, without any folder, for messages."""
    return (upload.name or default).rsplit("/", 1)[-1][:150]
