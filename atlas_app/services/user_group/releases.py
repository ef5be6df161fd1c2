"""What's new: the release notes, one Markdown file per release in ``atlas_app/releases/`` (kept in the repository
as data), read once at start.

Each file starts with front matter between ``---`` lines::

    ---
    version: 2026.12
    date: 2026-12-02
    title: The user group
    areas: platform, booking
    change_requests: 12, 15
    ---
    ## Markdown notes ...

The notes are rendered with markdown-it-py (CommonMark, raw HTML off) and the result is sanitised with nh3 (an
allow-list of tags and attributes; links get ``rel="noopener noreferrer"``), so a release file can hold no script.
A release links the change requests it shipped: those named in ``change_requests`` and every request the service
provider shipped with this version as its target release.

A user sees a release when one of its areas is within their permissions ("platform" reaches everyone). On signing
in they are shown the releases that are new since they last looked (stored per user, ``release_seen``): releases
newer than the newest they saw, and releases with a change request shipped since.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import nh3
from markdown_it import MarkdownIt
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import ChangeRequestStatus as St
from atlas_app.models import Organisation
from atlas_app.models.user_group import ChangeRequest, ChangeRequestEvent, ReleaseSeen
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.services.platform.permissions import Perm
from atlas_app.services.user_group import AREAS
from atlas_app.services.user_group import change_requests as crs

RELEASES_DIR = Path(__file__).resolve().parents[2] / "releases"

# Which permissions reach which area's notes (any one of them). "platform" reaches every signed-in user.
AREA_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "booking": (Perm.BOOKINGS_VIEW, Perm.BOOKINGS_MANAGE, Perm.CATALOGUE_MANAGE, Perm.CALLS_LOG),
    "payments": (Perm.PAYMENTS_TAKE, Perm.PAYMENTS_REFUND),
    "instructors": (Perm.INSTRUCTORS_MANAGE, Perm.OWN_SCHEDULE_VIEW),
    "casework": (Perm.CASES_VIEW, Perm.CASES_MANAGE),
    "dashboards": (Perm.DASHBOARDS_VIEW, Perm.REPORTS_VIEW),
    "letters": (Perm.LETTERS_MANAGE,),
    "platform": (),
}

_ALLOWED_TAGS = {"h2", "h3", "h4", "p", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "a", "br",
                 "hr", "table", "thead", "tbody", "tr", "th", "td"}
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


class ReleaseFileError(ValueError):
    """A release file that cannot be read: its name and what is wrong."""


@dataclass(frozen=True)
class Release:
    version: str
    date: date
    title: str
    areas: tuple[str, ...]
    change_request_ids: tuple[int, ...]
    html: str

    @property
    def key(self) -> tuple[date, str]:
        return (self.date, self.version)


def render(markdown_text: str) -> str:
    """Markdown to HTML, sanitised (nothing outside the allow-list survives, whatever the file holds)."""
    html = _markdown.render(markdown_text)
    # Headings in the notes sit under the page's own h1/h2: a '#' in a file is demoted to h2.
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}}, link_rel="noopener noreferrer",
                     url_schemes={"https", "http", "mailto"})


def parse(name: str, text: str) -> Release:
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise ReleaseFileError(f"{name}: a release file starts with front matter between '---' lines")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ReleaseFileError(f"{name}: the front matter has no closing '---'") from None
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if line.strip():
            key, sep, value = line.partition(":")
            if not sep:
                raise ReleaseFileError(f"{name}: '{line}' is not 'key: value'")
            meta[key.strip()] = value.strip()
    for key in ("version", "date", "title"):
        if not meta.get(key):
            raise ReleaseFileError(f"{name}: '{key}' is missing from the front matter")
    try:
        when = date.fromisoformat(meta["date"])
    except ValueError:
        raise ReleaseFileError(f"{name}: date '{meta['date']}' is not YYYY-MM-DD") from None
    areas = tuple(a.strip() for a in meta.get("areas", "").split(",") if a.strip()) or ("platform",)
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        raise ReleaseFileError(f"{name}: unknown area(s) {', '.join(unknown)}; use {', '.join(AREAS)}")
    ids = []
    for part in meta.get("change_requests", "").replace("#", "").split(","):
        if part.strip():
            if not part.strip().isdigit():
                raise ReleaseFileError(f"{name}: change request '{part.strip()}' is not a number")
            ids.append(int(part.strip()))
    return Release(meta["version"][:40], when, meta["title"][:200], areas, tuple(ids),
                   render("\n".join(lines[end + 1:])))


def load(folder: Path = RELEASES_DIR) -> tuple[Release, ...]:
    """Every release file in the folder, newest first. A broken file stops the start with its name and fault."""
    releases = [parse(p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.md"))]
    versions = [r.version for r in releases]
    if len(set(versions)) != len(versions):
        raise ReleaseFileError("two release files have the same version")
    return tuple(sorted(releases, key=lambda r: r.key, reverse=True))


@functools.cache
def all_releases() -> tuple[Release, ...]:
    return load()


def reachable_areas(actor: Actor) -> set[str]:
    return {area for area, perms in AREA_PERMISSIONS.items() if not perms or any(actor.can(p) for p in perms)}


def _visible(actor: Actor, release: Release) -> bool:
    return bool(reachable_areas(actor) & set(release.areas))


@dataclass(frozen=True)
class ShippedRequest:
    id: int
    title: str
    organisation_name: str
    status: str


@dataclass(frozen=True)
class ReleaseView:
    version: str
    date: date
    title: str
    areas: tuple[str, ...]
    html: str
    change_requests: tuple[ShippedRequest, ...]
    is_new: bool


def _shipped(s, releases: tuple[Release, ...], can_read: bool) -> tuple[dict[str, list], dict[str, datetime]]:
    """Per version: its change requests, and when the last of them was shipped."""
    out: dict[str, list] = {r.version: [] for r in releases}
    latest: dict[str, datetime] = {}
    if not can_read or not releases:
        return out, latest
    by_id = {i: r.version for r in releases for i in r.change_request_ids}
    versions = [r.version for r in releases]
    query = (select(ChangeRequest, Organisation.name).join(Organisation,
                                                           Organisation.id == ChangeRequest.organisation_id)
             .where((ChangeRequest.id.in_(list(by_id) or [0]))
                    | ((ChangeRequest.status == St.SHIPPED) & ChangeRequest.target_release.in_(versions)))
             .order_by(ChangeRequest.id))
    rows = s.exec(query).all()
    shipped_at = {e[0]: e[1] for e in s.exec(
        select(ChangeRequestEvent.change_request_id, ChangeRequestEvent.at)
        .where(ChangeRequestEvent.change_request_id.in_([cr.id for cr, _ in rows] or [0]),
               ChangeRequestEvent.to_status == St.SHIPPED)).all()}
    for cr, org_name in rows:
        version = by_id.get(cr.id) or cr.target_release
        if version not in out:
            continue
        out[version].append(ShippedRequest(cr.id, cr.title, org_name, cr.status))
        when = shipped_at.get(cr.id)
        if when is not None and (version not in latest or when > latest[version]):
            latest[version] = when
    return out, latest


def _views(actor: Actor, only_new: bool) -> list[ReleaseView]:
    releases = tuple(r for r in all_releases() if _visible(actor, r))
    with read_session() as s:
        try:
            crs._require_reader(s, actor)
            can_read = True
        except PermissionDenied:  # not a member: the notes without the change requests
            can_read = False
        shipped, latest = _shipped(s, releases, can_read)
        seen = s.get(ReleaseSeen, actor.user_id) if actor.user_id is not None else None
    seen_key = None
    if seen is not None:
        seen_key = next((r.key for r in all_releases() if r.version == seen.version), None)
    views = []
    for r in releases:
        if seen is None:
            new = True
        else:
            newer = seen_key is None or r.key > seen_key
            new = newer or (r.version in latest and latest[r.version] > seen.seen_at)
        if only_new and not new:
            continue
        views.append(ReleaseView(r.version, r.date, r.title, r.areas, r.html, tuple(shipped[r.version]), new))
    return views


def list_releases(actor: Actor) -> list[ReleaseView]:
    """Every release the actor's permissions reach, newest first, each marked new or not."""
    return _views(actor, only_new=False)


def new_since_last_seen(actor: Actor) -> list[ReleaseView]:
    """The releases new to this user since they last looked (none for a user-less actor)."""
    if actor.user_id is None:
        return []
    return _views(actor, only_new=True)


def mark_seen(actor: Actor) -> None:
    """The user has seen the notes up to the newest release (one row per user, upserted)."""
    if actor.user_id is None or not all_releases():
        return
    newest = all_releases()[0].version
    with write_session() as s:
        dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(ReleaseSeen.__table__).values(user_id=actor.user_id, version=newest, seen_at=utcnow())
        s.execute(stmt.on_conflict_do_update(index_elements=["user_id"],
                                             set_={"version": stmt.excluded.version,
                                                   "seen_at": stmt.excluded.seen_at}))
