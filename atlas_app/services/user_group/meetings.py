"""User group meetings: the service provider (platform administrator) sets a meeting, chooses the change requests
on its agenda (each with the page of the demo organisation that shows it), keeps the notes, and records the
meeting's decisions, each of which moves its request (``change_requests.move``: history, audit, followers
emailed). Every member organisation reads the meetings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from sqlalchemy import func
from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.domain.statuses import CHANGE_REQUEST_LABELS
from atlas_app.domain.statuses import ChangeRequestStatus as St
from atlas_app.models.user_group import (
    ChangeRequest,
    UserGroupAgendaItem,
    UserGroupMeeting,
)
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.services.user_group import change_requests as crs


def _require_provider(actor: Actor) -> None:
    if not actor.is_platform_admin:
        raise PermissionDenied("Only the service provider runs the user group's meetings.")


def clean_demo_path(path: str) -> str:
    """A page of Atlas (a path on this site, such as ``/bookings/sessions``), or '' — never another site."""
    path = (path or "").strip()
    if not path:
        return ""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(c.isspace() for c in path) \
            or len(path) > 200:
        raise ValidationFailed("The demo page is a path on this site, such as /bookings/sessions.",
                               {"demo_path": "invalid"})
    return path


def demo_link(path: str) -> str:
    """The demo organisation's sign-in page, going on to ``path`` once signed in."""
    return "/demo?next=" + quote(path, safe="/") if path else "/demo"


@dataclass(frozen=True)
class MeetingRow:
    id: int
    title: str
    held_on: date
    items: int


@dataclass(frozen=True)
class AgendaItem:
    id: int
    change_request_id: int
    title: str
    status: str
    status_label: str
    demo_link: str
    decision: str
    next_statuses: list[str]


@dataclass(frozen=True)
class Meeting:
    id: int
    title: str
    held_on: date
    notes: str
    items: list[AgendaItem]


def create_meeting(actor: Actor, title: str, held_on: object) -> int:
    _require_provider(actor)
    title = crs._text(title, "title", "The title", 200)
    try:
        when = held_on if isinstance(held_on, date) else date.fromisoformat(str(held_on or "").strip())
    except ValueError:
        raise ValidationFailed("Give the meeting's date.", {"held_on": "invalid"}) from None
    with write_session() as s:
        row = UserGroupMeeting(title=title, held_on=when)
        s.add(row)
        s.flush()
        audit.record(s, actor, "user_group_meeting", row.id, "created", after={"title": title, "held_on": when},
                     organisation_id=actor.organisation_id)
        return row.id


def list_meetings(actor: Actor) -> list[MeetingRow]:
    with read_session() as s:
        crs._require_reader(s, actor)
        counts = dict(s.exec(select(UserGroupAgendaItem.meeting_id, func.count())
                             .group_by(UserGroupAgendaItem.meeting_id)).all())
        return [MeetingRow(m.id, m.title, m.held_on, counts.get(m.id, 0)) for m in s.exec(
            select(UserGroupMeeting).order_by(UserGroupMeeting.held_on.desc(), UserGroupMeeting.id.desc())).all()]


def _meeting(s, meeting_id: object) -> UserGroupMeeting:
    mid = bounds.id_or_none(meeting_id)
    row = s.get(UserGroupMeeting, mid) if mid is not None else None
    if row is None:
        raise NotFound("No such meeting.")
    return row


def get_meeting(actor: Actor, meeting_id: object) -> Meeting:
    with read_session() as s:
        crs._require_reader(s, actor)
        m = _meeting(s, meeting_id)
        items = [AgendaItem(i.id, cr.id, cr.title, cr.status, CHANGE_REQUEST_LABELS[St(cr.status)],
                            demo_link(i.demo_path), i.decision,
                            [str(x) for x in crs.MOVES[St(cr.status)]] if actor.is_platform_admin else [])
                 for i, cr in s.exec(select(UserGroupAgendaItem, ChangeRequest)
                                     .join(ChangeRequest, ChangeRequest.id == UserGroupAgendaItem.change_request_id)
                                     .where(UserGroupAgendaItem.meeting_id == m.id)
                                     .order_by(UserGroupAgendaItem.position, UserGroupAgendaItem.id)).all()]
        return Meeting(m.id, m.title, m.held_on, m.notes, items)


def add_item(actor: Actor, meeting_id: object, change_request_id: object, demo_path: str = "") -> int:
    _require_provider(actor)
    path = clean_demo_path(demo_path)
    with write_session() as s:
        m = _meeting(s, meeting_id)
        cr = crs._get(s, change_request_id)
        if s.exec(select(UserGroupAgendaItem.id).where(UserGroupAgendaItem.meeting_id == m.id,
                                                       UserGroupAgendaItem.change_request_id == cr.id)).first():
            raise Conflict("That change request is already on this meeting's agenda.")
        position = s.exec(select(func.count()).select_from(UserGroupAgendaItem)
                          .where(UserGroupAgendaItem.meeting_id == m.id)).one()
        item = UserGroupAgendaItem(meeting_id=m.id, change_request_id=cr.id, position=position, demo_path=path)
        s.add(item)
        s.flush()
        audit.record(s, actor, "user_group_meeting", m.id, "agenda_item_added",
                     after={"change_request_id": cr.id, "demo_path": path}, organisation_id=actor.organisation_id)
        return item.id


def save_notes(actor: Actor, meeting_id: object, notes: str) -> None:
    _require_provider(actor)
    notes = crs._text(notes, "notes", "The notes", 20000, required=False)
    with write_session() as s:
        m = _meeting(s, meeting_id)
        m.notes = notes
        s.add(m)
        audit.record(s, actor, "user_group_meeting", m.id, "notes_saved", after={"length": len(notes)},
                     organisation_id=actor.organisation_id)


def decide(actor: Actor, item_id: object, to_status: str, decision: str, *, target_release: str = "",
           reason: str = "") -> None:
    """Record the meeting's decision on an agenda item and move its change request accordingly."""
    _require_provider(actor)
    decision = crs._text(decision, "decision", "The decision", 5000)
    iid = bounds.id_or_none(item_id)
    with read_session() as s:
        item = s.get(UserGroupAgendaItem, iid) if iid is not None else None
        if item is None:
            raise NotFound("No such agenda item.")
        meeting = s.get(UserGroupMeeting, item.meeting_id)
        request_id = item.change_request_id
    crs.move(actor, request_id, to_status, target_release=target_release,
             reason=reason or (decision if to_status == St.DECLINED else ""),
             note=f"Decided at the user group meeting \"{meeting.title}\": {decision}")
    with write_session() as s:
        row = s.get(UserGroupAgendaItem, item.id)
        row.decision = decision
        s.add(row)
