"""Photos from the public: the type read from the bytes, never the name; decoded and re-encoded with Pillow, so
EXIF (location, camera) and every other piece of metadata is dropped and only pixels survive; a pixel limit checked
from the header before anything is decoded, so a decompression bomb is refused without being expanded."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from atlas_app.services.platform.errors import ValidationFailed

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; a phone's is 12 to 50 (larger ones are refused)
MAX_EDGE = 2560  # stored photos are scaled down to fit this

# type -> (Pillow format, content type)
TYPES = {"jpeg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image type the bytes begin with: jpeg, png, webp, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _refuse(message: str, code: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, {field: code})


def clean_image(data: bytes, field: str = "photo") -> CleanImage:
    """Check and re-encode one uploaded photo, or refuse it with a message for the person who sent it."""
    if not data:
        raise _refuse("The photo is empty.", "empty", field)
    if len(data) > MAX_BYTES:
        raise _refuse("The photo must be smaller than 10 MB.", "too large", field)
    kind = sniff(data)
    if kind is None:
        raise _refuse("The photo must be a JPEG, PNG or WebP image.", "not an image", field)
    fmt, content_type = TYPES[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = img.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise _refuse("The photo has too many pixels (40 megapixels at most).", "too many pixels", field)
            img.load()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError):
        raise _refuse("The photo could not be read as a JPEG, PNG or WebP image.", "unreadable", field) from None
    img = ImageOps.exif_transpose(img)
    if max(img.size) > MAX_EDGE:
        img.thumbnail((MAX_EDGE, MAX_EDGE))
    out = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        img = img if img.mode in ("RGB", "RGBA", "L", "LA") else img.convert("RGBA")
        img.save(out, "PNG", optimize=True)
    else:
        img = img if img.mode in ("RGB", "RGBA") else img.convert("RGBA")
        img.save(out, "WEBP", quality=85)
    return CleanImage(out.getvalue(), content_type, img.size[0], img.size[1])
