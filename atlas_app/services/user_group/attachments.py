"""Files attached to a change request: a screenshot, a PDF of the letter that goes wrong, a CSV of the figures.

What a file is comes from its bytes, never from the name or the type the browser claimed: a PDF starts with
``%PDF-``, a PNG, JPEG or WebP image is decoded and re-encoded by ``images.clean_image`` (so its metadata and
anything hidden after the pixels is dropped), and plain text or CSV must be UTF-8 without control characters and
must not open with markup. The name's extension must agree with what the bytes are (a PNG called ``report.pdf`` is
refused, not renamed), and HTML, SVG, XML and every other type are refused. Files are at most ``MAX_BYTES`` each,
``MAX_FILES`` a request, and go into the platform's storage (services/platform/storage.py), content-addressed.

They are served only by ``read`` below, after the same check that lets someone read the request (staff of a member
organisation, or the service provider), always as a download (``Content-Disposition: attachment``) with
``nosniff`` and a CSP that runs nothing, so even a file that got past the checks cannot run in Atlas's origin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from atlas_app.db import read_session
from atlas_app.models.user_group import ChangeRequestAttachment
from atlas_app.services.platform import images, storage
from atlas_app.services.platform.errors import ValidationFailed

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
NAME_MAX = 150

# kind -> (content type, the extensions a file of that kind may carry, what to call it in a message)
KINDS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "pdf": ("application/pdf", ("pdf",), "a PDF"),
    "png": ("image/png", ("png",), "a PNG image"),
    "jpeg": ("image/jpeg", ("jpg", "jpeg"), "a JPEG image"),
    "webp": ("image/webp", ("webp",), "a WebP image"),
    "text": ("text/plain; charset=utf-8", ("txt", "log"), "plain text"),
    "csv": ("text/csv; charset=utf-8", ("csv",), "a CSV file"),
}
ACCEPTED = "PDF, PNG, JPEG, WebP, plain text (.txt) or CSV"
_EXTENSION_KIND = {ext: kind for kind, (_, exts, _) in KINDS.items() for ext in exts}
# Markup a browser might render, whatever the file claims to be (checked after any BOM and whitespace).
_MARKUP = re.compile(rb"^\s*<", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CheckedFile:
    name: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    file_name: str
    content_type: str
    size_bytes: int
    created_at: datetime


def clean_name(name: object) -> str:
    """The file's own name without any folder or control character, at most ``NAME_MAX`` characters (keeping the
    extension)."""
    text = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        text = (stem[:NAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else text[:NAME_MAX]
    return text or "attachment"


def _sniff(data: bytes) -> str | None:
    """What the bytes are: pdf, png, jpeg, webp, text (UTF-8 with no control characters and no markup), or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    image = images.sniff(data)
    if image is not None:
        return image
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if _MARKUP.match(body):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else "text"


def check(name: object, data: bytes, field: str = "attachments") -> CheckedFile:
    """One uploaded file, checked, or a ``ValidationFailed`` that names it and says what is wrong."""
    shown = clean_name(name)
    if not data:
        raise ValidationFailed(f"{shown} is empty.", {field: "empty"})
    if len(data) > MAX_BYTES:
        raise ValidationFailed(f"{shown} is larger than {MAX_BYTES // (1024 * 1024)} MB.", {field: "too large"})
    ext = shown.rpartition(".")[2].lower() if "." in shown else ""
    claimed = _EXTENSION_KIND.get(ext)
    if claimed is None:
        raise ValidationFailed(f"{shown}: attach a {ACCEPTED} file.", {field: "type not accepted"})
    kind = _sniff(data)
    if kind == "text" and claimed == "csv":
        kind = "csv"
    if kind is None:
        raise ValidationFailed(f"{shown} is not {KINDS[claimed][2]}: its contents are not a file Atlas accepts "
                               f"({ACCEPTED}; never HTML or SVG).", {field: "contents not accepted"})
    if kind != claimed:
        raise ValidationFailed(f"{shown} is called {KINDS[claimed][2]} but its contents are {KINDS[kind][2]}.",
                               {field: "type does not match"})
    content_type = KINDS[kind][0]
    if kind in ("png", "jpeg", "webp"):
        try:
            clean = images.clean_image(data, field=field)
        except ValidationFailed:
            raise ValidationFailed(f"{shown} could not be read as {KINDS[kind][2]} (at most 40 megapixels).",
                                   {field: "unreadable image"}) from None
        data, content_type = clean.data, clean.content_type
    elif kind == "pdf" and b"%%EOF" not in data[-2048:]:
        raise ValidationFailed(f"{shown} is not a complete PDF.", {field: "incomplete pdf"})
    return CheckedFile(shown, data, content_type)


def check_all(files: Sequence[tuple[object, bytes]] | None) -> list[CheckedFile]:
    """Every file checked before anything is written (one bad file refuses them all, naming it)."""
    files = [(n, d) for n, d in (files or [])]
    if len(files) > MAX_FILES:
        raise ValidationFailed(f"Attach at most {MAX_FILES} files.", {"attachments": "too many"})
    return [check(name, data) for name, data in files]


def store(session: Session, change_request_id: int, organisation_id: int, user_id: int | None,
          files: list[CheckedFile], written: list[str]) -> list[int]:
    """Put the files into storage and their rows into the session; ``written`` collects the keys this call created
    (for ``unwrite`` if the transaction then fails)."""
    ids = []
    for f in files:
        stored = storage.put(f.data)
        if stored.created:
            written.append(stored.key)
        row = ChangeRequestAttachment(change_request_id=change_request_id, organisation_id=organisation_id,
                                      uploaded_by_user_id=user_id, file_name=f.name, content_type=f.content_type,
                                      size_bytes=stored.size, sha256=stored.key)
        session.add(row)
        session.flush()
        ids.append(row.id)
    return ids


def unwrite(keys: list[str]) -> None:
    """Remove files a failed transaction wrote, unless a committed row uses the same bytes."""
    if not keys:
        return
    with read_session() as s:
        used = set(s.exec(select(ChangeRequestAttachment.sha256)
                          .where(ChangeRequestAttachment.sha256.in_(keys))).all())
    for key in keys:
        if key not in used:
            storage.delete(key)


def rows_for(session: Session, change_request_id: int) -> list[AttachmentRow]:
    return [AttachmentRow(a.id, a.file_name, a.content_type, a.size_bytes, a.created_at) for a in session.exec(
        select(ChangeRequestAttachment).where(ChangeRequestAttachment.change_request_id == change_request_id)
        .order_by(ChangeRequestAttachment.id)).all()]
