"""Change requests: a member organisation raises one (title, the problem in its own words, who it affects, how
often, the area, optional attachments checked by attachments.py), every member organisation sees every request
(its text, its attachments and the raising organisation's name, nothing of any organisation's data), comments on it
and votes on it (one vote per organisation per request, kept by a unique constraint and written as one upsert, so a
race of clicks leaves one row), and the service provider (platform administrator) moves it submitted -> under
review -> planned (target release) -> in preview -> shipped, or declines it with a reason. Followers (who raised,
voted or commented, and whoever chose to follow) are emailed through the outbox at each change of status.

The demo organisation is a sandbox anyone can reset: it is never a member, so it cannot raise, vote or comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import CHANGE_REQUEST_LABELS
from atlas_app.domain.statuses import ChangeRequestStatus as St
from atlas_app.models import Organisation, User
from atlas_app.models.user_group import (
    ChangeRequest,
    ChangeRequestAttachment,
    ChangeRequestComment,
    ChangeRequestEvent,
    ChangeRequestFollower,
    ChangeRequestVote,
    UserGroupMember,
)
from atlas_app.services.platform import audit, bounds, outbox, previews, storage
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.services.platform.permissions import Perm
from atlas_app.services.user_group import AREAS, attachments
from atlas_app.settings import get_settings

FREQUENCIES: dict[str, str] = {
    "many_daily": "Several times a day",
    "daily": "Every day",
    "weekly": "Every week",
    "monthly": "Every month",
    "rarely": "A few times a year",
}
SORTS = ("votes", "status", "area", "newest")
STATUS_ORDER = {s: i for i, s in enumerate(St)}

# The service provider's moves: from -> the statuses it may go to next.
MOVES: dict[str, tuple[St, ...]] = {
    St.SUBMITTED: (St.UNDER_REVIEW, St.DECLINED),
    St.UNDER_REVIEW: (St.PLANNED, St.DECLINED),
    St.PLANNED: (St.IN_PREVIEW, St.SHIPPED, St.DECLINED),
    St.IN_PREVIEW: (St.SHIPPED, St.PLANNED, St.DECLINED),
    St.SHIPPED: (),
    St.DECLINED: (St.UNDER_REVIEW,),
}

TITLE_MAX, AFFECTS_MAX, TEXT_MAX, RELEASE_MAX = 200, 500, 5000, 40


# --- membership ----------------------------------------------------------------------------------------------


def is_member(session: Session, organisation_id: int | None) -> bool:
    if organisation_id is None:
        return False
    row = session.exec(
        select(Organisation.slug, Organisation.is_active)
        .join(UserGroupMember, UserGroupMember.organisation_id == Organisation.id)
        .where(Organisation.id == organisation_id)).first()
    return row is not None and row[1] and row[0] != previews.DEMO_ORG_SLUG


def _require_member(session: Session, actor: Actor) -> int:
    org_id = actor.require_org()
    if not is_member(session, org_id):
        raise PermissionDenied("Your organisation is not a member of the user group.")
    return org_id


def _require_reader(session: Session, actor: Actor) -> None:
    """Staff of a member organisation, and the service provider, see every request."""
    if actor.is_platform_admin:
        return
    _require_member(session, actor)


def can_read(actor: Actor) -> bool:
    with read_session() as s:
        try:
            _require_reader(s, actor)
        except PermissionDenied:
            return False
    return True


def set_member(actor: Actor, organisation_id: int, member: bool) -> bool:
    """Add an organisation to the user group or take it out (platform administrator). Audited."""
    if not actor.is_platform_admin:
        raise PermissionDenied("Only the platform administrator can change the user group's members.")
    oid = bounds.id_or_none(organisation_id)
    with write_session() as s:
        org = s.get(Organisation, oid) if oid is not None else None
        if org is None:
            raise NotFound("No such organisation.")
        if member and org.slug == previews.DEMO_ORG_SLUG:
            raise ValidationFailed("The demo organisation is a sandbox and cannot be a member.")
        row = s.get(UserGroupMember, org.id)
        if (row is not None) == bool(member):
            return False
        if member:
            s.add(UserGroupMember(organisation_id=org.id))
        else:
            s.delete(row)
        s.flush()
        audit.record(s, actor, "user_group_member", org.id, "joined" if member else "left", organisation_id=org.id)
        return True


def member_ids() -> set[int]:
    with read_session() as s:
        return set(s.exec(select(UserGroupMember.organisation_id)).all())


# --- raising -------------------------------------------------------------------------------------------------


def _text(value: object, field: str, label: str, max_len: int, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationFailed(f"{label} is required.", {field: "required"})
    if len(text) > max_len:
        raise ValidationFailed(f"{label} is too long (at most {max_len} characters).", {field: "too_long"})
    return text


def _follow(session: Session, request_id: int, actor: Actor) -> None:
    if actor.user_id is None or actor.organisation_id is None:
        return
    exists = session.exec(select(ChangeRequestFollower.id).where(
        ChangeRequestFollower.change_request_id == request_id, ChangeRequestFollower.user_id == actor.user_id)).first()
    if exists is None:
        session.add(ChangeRequestFollower(change_request_id=request_id, user_id=actor.user_id,
                                          organisation_id=actor.organisation_id))
        session.flush()


def raise_request(actor: Actor, *, title: str, problem: str, affects: str, frequency: str, area: str,
                  files: Sequence[tuple[str, bytes]] = ()) -> int:
    """Raise a change request for the actor's organisation, with optional attachments (``(name, bytes)`` pairs,
    checked by services/user_group/attachments.py before anything is written); the raiser follows it. Returns its
    id. A refused file refuses the request too, so nothing half-raised is left."""
    actor.require(Perm.CHANGE_REQUESTS)
    title = _text(title, "title", "The title", TITLE_MAX)
    problem = _text(problem, "problem", "The problem", TEXT_MAX)
    affects = _text(affects, "affects", "Who it affects", AFFECTS_MAX)
    if frequency not in FREQUENCIES:
        raise ValidationFailed("Choose how often it happens.", {"frequency": "invalid"})
    if area not in AREAS:
        raise ValidationFailed("Choose the area of Atlas it is about.", {"area": "invalid"})
    checked = attachments.check_all(files)
    written: list[str] = []
    try:
        return _raise(actor, title, problem, affects, frequency, area, checked, written)
    except BaseException:
        attachments.unwrite(written)
        raise


def _raise(actor: Actor, title: str, problem: str, affects: str, frequency: str, area: str,
           checked: list[attachments.CheckedFile], written: list[str]) -> int:
    with write_session() as s:
        org_id = _require_member(s, actor)
        now = utcnow()
        row = ChangeRequest(organisation_id=org_id, raised_by_user_id=actor.user_id, title=title, problem=problem,
                            affects=affects, frequency=frequency, area=area, status=St.SUBMITTED, created_at=now,
                            updated_at=now)
        s.add(row)
        s.flush()
        _follow(s, row.id, actor)
        attachments.store(s, row.id, org_id, actor.user_id, checked, written)
        audit.record(s, actor, "change_request", row.id, "raised",
                     after={"title": title, "area": area, "frequency": frequency,
                            "attachments": [{"name": f.name, "type": f.content_type, "size": len(f.data)}
                                            for f in checked]}, organisation_id=org_id)
        return row.id


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    id: int
    title: str
    area: str
    area_label: str
    status: str
    status_label: str
    organisation_name: str
    votes_for: int
    votes_against: int
    comments: int
    my_vote: int  # the actor's organisation's vote: 1, -1 or 0 (none)
    target_release: str
    created_at: datetime

    @property
    def score(self) -> int:
        return self.votes_for - self.votes_against


def _tallies(session: Session, ids: list[int], org_id: int | None) -> tuple[dict, dict, dict]:
    if not ids:
        return {}, {}, {}
    votes = {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in session.exec(
        select(ChangeRequestVote.change_request_id,
               func.sum(case((ChangeRequestVote.value == 1, 1), else_=0)),
               func.sum(case((ChangeRequestVote.value == -1, 1), else_=0)))
        .where(ChangeRequestVote.change_request_id.in_(ids))
        .group_by(ChangeRequestVote.change_request_id)).all()}
    comments = {r[0]: int(r[1]) for r in session.exec(
        select(ChangeRequestComment.change_request_id, func.count())
        .where(ChangeRequestComment.change_request_id.in_(ids))
        .group_by(ChangeRequestComment.change_request_id)).all()}
    mine = {}
    if org_id is not None:
        mine = {r[0]: r[1] for r in session.exec(
            select(ChangeRequestVote.change_request_id, ChangeRequestVote.value)
            .where(ChangeRequestVote.change_request_id.in_(ids), ChangeRequestVote.organisation_id == org_id)).all()}
    return votes, comments, mine


def _rows(session: Session, actor: Actor, pairs) -> list[RequestRow]:
    ids = [cr.id for cr, _ in pairs]
    votes, comments, mine = _tallies(session, ids, actor.organisation_id)
    return [RequestRow(cr.id, cr.title, cr.area, AREAS.get(cr.area, cr.area), cr.status,
                       CHANGE_REQUEST_LABELS[St(cr.status)], org_name, *votes.get(cr.id, (0, 0)),
                       comments.get(cr.id, 0), mine.get(cr.id, 0), cr.target_release, cr.created_at)
            for cr, org_name in pairs]


def list_requests(actor: Actor, sort: str = "votes", status: str = "", area: str = "",
                  ids: list[int] | None = None) -> list[RequestRow]:
    """Every change request (of every organisation), sorted by votes (score, then newest), status (in the order
    of the workflow), area, or newest first; optionally only one status or area."""
    if sort not in SORTS:
        sort = "votes"
    with read_session() as s:
        _require_reader(s, actor)
        query = select(ChangeRequest, Organisation.name).join(Organisation,
                                                              Organisation.id == ChangeRequest.organisation_id)
        if status:
            if status not in [str(x) for x in St]:
                raise ValidationFailed("No such status.", {"status": "invalid"})
            query = query.where(ChangeRequest.status == status)
        if area:
            if area not in AREAS:
                raise ValidationFailed("No such area.", {"area": "invalid"})
            query = query.where(ChangeRequest.area == area)
        if ids is not None:
            query = query.where(ChangeRequest.id.in_([i for i in ids if bounds.id_or_none(i)]))
        rows = _rows(s, actor, s.exec(query.order_by(ChangeRequest.id.desc())).all())
    if sort == "votes":
        rows.sort(key=lambda r: (-r.score, -r.votes_for, -r.id))
    elif sort == "status":
        rows.sort(key=lambda r: (STATUS_ORDER[St(r.status)], -r.score, -r.id))
    elif sort == "area":
        rows.sort(key=lambda r: (r.area_label, -r.score, -r.id))
    return rows


@dataclass(frozen=True)
class CommentRow:
    author_name: str
    organisation_name: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class EventRow:
    from_status: str
    to_status: str
    to_label: str
    note: str
    at: datetime


@dataclass(frozen=True)
class RequestDetail:
    row: RequestRow
    problem: str
    affects: str
    frequency_label: str
    decline_reason: str
    comments: list[CommentRow]
    events: list[EventRow]
    attachments: list[attachments.AttachmentRow]
    following: bool
    comments_on: bool  # the comments preview is on for the actor's organisation
    next_statuses: list[str]  # where the platform administrator may move it (empty for everyone else)


def _get(session: Session, request_id: object, lock: bool = False) -> ChangeRequest:
    rid = bounds.id_or_none(request_id)
    query = select(ChangeRequest).where(ChangeRequest.id == rid)
    row = session.exec(query.with_for_update() if lock else query).first() if rid is not None else None
    if row is None:
        raise NotFound("No such change request.")
    return row


def get_request(actor: Actor, request_id: object) -> RequestDetail:
    with read_session() as s:
        _require_reader(s, actor)
        cr = _get(s, request_id)
        org_name = s.get(Organisation, cr.organisation_id).name
        row = _rows(s, actor, [(cr, org_name)])[0]
        comments = [CommentRow(c.author_name, name, c.body, c.created_at) for c, name in s.exec(
            select(ChangeRequestComment, Organisation.name)
            .join(Organisation, Organisation.id == ChangeRequestComment.organisation_id)
            .where(ChangeRequestComment.change_request_id == cr.id).order_by(ChangeRequestComment.id)).all()]
        events = [EventRow(e.from_status, e.to_status, CHANGE_REQUEST_LABELS[St(e.to_status)], e.note, e.at)
                  for e in s.exec(select(ChangeRequestEvent).where(ChangeRequestEvent.change_request_id == cr.id)
                                  .order_by(ChangeRequestEvent.id)).all()]
        following = actor.user_id is not None and s.exec(select(ChangeRequestFollower.id).where(
            ChangeRequestFollower.change_request_id == cr.id,
            ChangeRequestFollower.user_id == actor.user_id)).first() is not None
        comments_on = previews.is_on(s, actor.organisation_id, previews.CHANGE_REQUEST_COMMENTS.code)
        files = attachments.rows_for(s, cr.id)
    return RequestDetail(row, cr.problem, cr.affects, FREQUENCIES.get(cr.frequency, cr.frequency), cr.decline_reason,
                         comments, events, files, following, comments_on,
                         [str(x) for x in MOVES[St(cr.status)]] if actor.is_platform_admin else [])


@dataclass(frozen=True)
class AttachmentFile:
    file_name: str
    content_type: str
    data: bytes


def attachment(actor: Actor, attachment_id: object) -> AttachmentFile:
    """An attachment's bytes for whoever may read change requests (a member organisation's staff, the service
    provider); NotFound for an attachment that does not exist, PermissionDenied for anyone else."""
    aid = bounds.id_or_none(attachment_id)
    with read_session() as s:
        _require_reader(s, actor)
        row = s.exec(select(ChangeRequestAttachment).where(ChangeRequestAttachment.id == aid)).first() \
            if aid is not None else None
        if row is None:
            raise NotFound("No such attachment.")
    return AttachmentFile(row.file_name, row.content_type, storage.open(row.sha256))


# --- taking part ---------------------------------------------------------------------------------------------


def _upsert_vote(session: Session, values: dict) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ChangeRequestVote.__table__).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["change_request_id", "organisation_id"],
        set_={"value": stmt.excluded.value, "user_id": stmt.excluded.user_id, "voted_at": stmt.excluded.voted_at})
    session.execute(stmt)


def vote(actor: Actor, request_id: object, value: int) -> int:
    """The actor's organisation votes for (1) or against (-1) a request, changes its vote, or takes it back (0).
    One row per organisation per request whatever the concurrency (one INSERT ... ON CONFLICT DO UPDATE on the
    unique constraint). Returns the organisation's vote now."""
    actor.require(Perm.CHANGE_REQUESTS)
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = 99
    if value not in (1, -1, 0):
        raise ValidationFailed("A vote is for, against, or taken back.", {"value": "invalid"})
    with write_session() as s:
        org_id = _require_member(s, actor)
        cr = _get(s, request_id)
        if cr.status in St.CLOSED:
            raise Conflict("This change request is closed; votes can no longer change.")
        if value == 0:
            s.execute(delete(ChangeRequestVote).where(ChangeRequestVote.change_request_id == cr.id,
                                                      ChangeRequestVote.organisation_id == org_id))
        else:
            _upsert_vote(s, {"change_request_id": cr.id, "organisation_id": org_id, "user_id": actor.user_id,
                             "value": value, "voted_at": utcnow()})
            _follow(s, cr.id, actor)
        audit.record(s, actor, "change_request", cr.id, "voted", after={"value": value}, organisation_id=org_id)
        return value


def comment(actor: Actor, request_id: object, body: str) -> None:
    """Comment on a request (a feature in preview: refused unless it is on for the actor's organisation)."""
    previews.require(actor, previews.CHANGE_REQUEST_COMMENTS.code)
    body = _text(body, "body", "The comment", TEXT_MAX)
    with write_session() as s:
        org_id = _require_member(s, actor)
        cr = _get(s, request_id)
        s.add(ChangeRequestComment(change_request_id=cr.id, organisation_id=org_id, user_id=actor.user_id,
                                   author_name=actor.full_name or actor.username, body=body))
        s.flush()
        _follow(s, cr.id, actor)
        audit.record(s, actor, "change_request", cr.id, "commented", after={"length": len(body)},
                     organisation_id=org_id)


def set_following(actor: Actor, request_id: object, follow: bool) -> None:
    with write_session() as s:
        _require_reader(s, actor)
        cr = _get(s, request_id)
        if follow:
            _follow(s, cr.id, actor)
        else:
            s.execute(delete(ChangeRequestFollower).where(ChangeRequestFollower.change_request_id == cr.id,
                                                          ChangeRequestFollower.user_id == actor.user_id))


# --- the service provider's decisions ------------------------------------------------------------------------


def move(actor: Actor, request_id: object, to_status: str, *, target_release: str = "", reason: str = "",
         note: str = "") -> None:
    """Move a request to its next status (platform administrator). Planned needs a target release, declined a
    reason. The change is recorded in the request's history, audited, and every follower is emailed."""
    if not actor.is_platform_admin:
        raise PermissionDenied("Only the service provider moves change requests.")
    if to_status not in [str(x) for x in St]:
        raise ValidationFailed("No such status.", {"status": "invalid"})
    target_release = _text(target_release, "target_release", "The target release", RELEASE_MAX, required=False)
    reason = _text(reason, "reason", "The reason", TEXT_MAX, required=False)
    note = _text(note, "note", "The note", TEXT_MAX, required=False)
    to = St(to_status)
    with write_session() as s:
        cr = _get(s, request_id, lock=True)
        before = St(cr.status)
        if to not in MOVES[before]:
            raise Conflict(f"A request that is {CHANGE_REQUEST_LABELS[before].lower()} cannot become "
                           f"{CHANGE_REQUEST_LABELS[to].lower()}.")
        if to == St.PLANNED and not target_release:
            raise ValidationFailed("Say which release it is planned for.", {"target_release": "required"})
        if to == St.DECLINED and not reason:
            raise ValidationFailed("Give the reason it is declined.", {"reason": "required"})
        cr.status = to
        if to == St.PLANNED:
            cr.target_release = target_release
        if to == St.DECLINED:
            cr.decline_reason = reason
        cr.updated_at = utcnow()
        s.add(cr)
        text = reason if to == St.DECLINED else (target_release if to == St.PLANNED and not note else note)
        s.add(ChangeRequestEvent(change_request_id=cr.id, from_status=before, to_status=to, note=text,
                                 user_id=actor.user_id))
        s.flush()
        _email_followers(s, cr, to, text)
        audit.record(s, actor, "change_request", cr.id, "moved", before={"status": str(before)},
                     after={"status": str(to), "target_release": cr.target_release, "reason": reason},
                     organisation_id=cr.organisation_id)


def _email_followers(s: Session, cr: ChangeRequest, to: St, note: str) -> int:
    rows = s.exec(select(User.email, User.full_name, ChangeRequestFollower.organisation_id)
                  .join(ChangeRequestFollower, ChangeRequestFollower.user_id == User.id)
                  .where(ChangeRequestFollower.change_request_id == cr.id, User.is_active)).all()
    link = f"{get_settings().base_url.rstrip('/')}/user-group/requests/{cr.id}"
    label = CHANGE_REQUEST_LABELS[to]
    sent = 0
    for email, name, org_id in rows:
        if not email or "@" not in email:
            continue
        lines = [f"Dear {name or 'colleague'},", "",
                 f"The change request \"{cr.title}\" (#{cr.id}) is now: {label}."]
        if to == St.PLANNED:
            lines.append(f"It is planned for release {cr.target_release}.")
        if note and not (to == St.PLANNED and note == cr.target_release):
            lines += ["", ("Reason: " if to == St.DECLINED else "Note: ") + note]
        lines += ["", f"See it in Atlas: {link}", "",
                  "You receive this because you follow this change request; stop following it on its page."]
        outbox.queue(s, to=email, subject=f"Change request #{cr.id} is now {label.lower()}: {cr.title}"[:300],
                     body="\n".join(lines), organisation_id=org_id, related=("change_request", cr.id))
        sent += 1
    return sent
