"""The map tiles of an organisation: the tile URL template its maps draw (the public report pages' pin, the staff
queue's map) and the attribution the tile provider requires.

Each organisation may set its own (``organisation.map_tile_url`` / ``map_attribution``, administrators in the app);
one that has not uses the deployment's ``MAP_TILE_URL`` / ``MAP_ATTRIBUTION``; with neither there is no map and the
pages find places by address search only. A template is ``https://`` (``http://`` only for this machine), or a path
on Atlas itself (``/tiles/{z}/{x}/{y}.png``), and has ``{z}``, ``{x}`` and ``{y}``.

The browser may load images only from the origins named in the Content-Security-Policy, so ``tile_origins`` gives
every origin a configured template uses (cached for a few seconds; the security headers read it).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.models import Organisation
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings

MAX_URL = 500
MAX_ATTRIBUTION = 300
ORIGINS_SECONDS = 10.0
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_SAFE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%{}]+")


@dataclass(frozen=True)
class Tiles:
    url: str
    attribution: str
    # "organisation" (its own) or "deployment" (MAP_TILE_URL)
    source: str


def check_tile_url(value: Any) -> str:
    """A tile URL template fit for the maps, or a clear refusal; empty stays empty (no tiles of its own)."""
    text = str(value or "").strip()
    if not text:
        return ""
    if len(text) > MAX_URL:
        raise ValidationFailed(f"The tile address must be {MAX_URL} characters or fewer.", {"map_tile_url": "too long"})
    if not _SAFE.fullmatch(text) or '"' in text:
        raise ValidationFailed("The tile address has characters a web address cannot have.",
                               {"map_tile_url": "invalid"})
    if not all(part in text for part in ("{z}", "{x}", "{y}")):
        raise ValidationFailed("The tile address must contain {z}, {x} and {y}, like "
                               "https://tiles.example.org/{z}/{x}/{y}.png.", {"map_tile_url": "placeholders"})
    if text.startswith("/") and not text.startswith("//"):
        return text
    parts = urlsplit(text.replace("{s}", "a"))
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        return text
    raise ValidationFailed("The tile address must start with https:// (or be a path on this site).",
                           {"map_tile_url": "scheme"})


def check_attribution(value: Any) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > MAX_ATTRIBUTION:
        raise ValidationFailed(f"The attribution must be {MAX_ATTRIBUTION} characters or fewer.",
                               {"map_attribution": "too long"})
    if "<" in text or ">" in text:
        raise ValidationFailed("Write the attribution as plain text.", {"map_attribution": "invalid"})
    return text


def tiles_for(org_id: int) -> Tiles | None:
    """The tiles the organisation's maps draw, or None when there is no map."""
    with read_session() as s:
        row = s.exec(select(Organisation.map_tile_url, Organisation.map_attribution)
                     .where(Organisation.id == bounds.query_id(org_id))).first()
    if row is not None and row[0]:
        return Tiles(row[0], row[1] or "", "organisation")
    settings = get_settings()
    if settings.map_tile_url:
        return Tiles(settings.map_tile_url, settings.map_attribution or "", "deployment")
    return None


def own_tiles(actor: Actor) -> tuple[str, str]:
    """The organisation's own template and attribution (empty when it uses the deployment's)."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        row = s.exec(select(Organisation.map_tile_url, Organisation.map_attribution)
                     .where(Organisation.id == org_id)).first()
    if row is None:
        raise NotFound("No such organisation.")
    return row[0] or "", row[1] or ""


def set_tiles(actor: Actor, url: Any, attribution: Any = "") -> None:
    """An administrator sets (or, empty, clears) the organisation's own map tiles."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    template = check_tile_url(url)
    credit = check_attribution(attribution)
    if template and not credit and not template.startswith("/"):
        raise ValidationFailed("Give the attribution the tile provider asks for (for example "
                               "\"© OpenStreetMap contributors\").", {"map_attribution": "required"})
    with write_session() as s:
        org = s.exec(select(Organisation).where(Organisation.id == org_id).with_for_update()).first()
        if org is None:
            raise NotFound("No such organisation.")
        before = {"map_tile_url": org.map_tile_url, "map_attribution": org.map_attribution}
        org.map_tile_url, org.map_attribution = template, credit
        s.add(org)
        audit.record(s, actor, "organisation", org.id, "map_tiles_set", before=before,
                     after={"map_tile_url": template, "map_attribution": credit})
    forget_origins()


def origin_of(template: str) -> str | None:
    """The origin a template loads from (None for a path on Atlas itself, which 'self' covers)."""
    if not template or (template.startswith("/") and not template.startswith("//")):
        return None
    parts = urlsplit(template.replace("{s}", "a"))
    if not parts.scheme or not parts.netloc:
        return None
    netloc = parts.netloc
    if "{s}" in template.split("//", 1)[-1].split("/", 1)[0]:
        netloc = "*." + netloc.split(".", 1)[1] if "." in netloc else netloc
    return f"{parts.scheme}://{netloc}"


_origins: tuple[float, tuple[str, ...]] | None = None
_origins_lock = threading.Lock()


def tile_origins() -> tuple[str, ...]:
    """Every origin a configured tile template loads from, for the Content-Security-Policy's img-src."""
    global _origins
    now = time.monotonic()
    hit = _origins
    if hit is not None and now - hit[0] < ORIGINS_SECONDS:
        return hit[1]
    with _origins_lock:
        with read_session() as s:
            templates = set(s.exec(select(Organisation.map_tile_url).where(Organisation.map_tile_url != "",
                                                                           Organisation.is_active == True)  # noqa: E712
                                   ).all())
        if get_settings().map_tile_url:
            templates.add(get_settings().map_tile_url)
        found = tuple(sorted({o for o in (origin_of(t) for t in templates) if o}))
        _origins = (now, found)
        return found


def forget_origins() -> None:
    global _origins
    _origins = None


__all__ = ["Tiles", "check_attribution", "check_tile_url", "forget_origins", "origin_of", "own_tiles", "set_tiles",
           "tile_origins", "tiles_for"]
