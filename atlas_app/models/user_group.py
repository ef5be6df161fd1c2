"""The user group: feature previews switched on per organisation, member organisations, change requests with their
votes, comments, attachments, followers and history, who has read which release notes, and the group's meetings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow
from atlas_app.domain.statuses import ChangeRequestStatus, check_name, check_sql


class PreviewSetting(SQLModel, table=True):
    """An organisation's choice for one feature in preview (no row: the feature's default for that organisation)."""

    __tablename__ = "preview_setting"
    __table_args__ = (UniqueConstraint("organisation_id", "feature_code", name="uq_preview_setting_org_feature"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="CASCADE"),
                                                  nullable=False))
    feature_code: str = Field(max_length=60)
    enabled: bool = Field(default=False)
    changed_by_user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserGroupMember(SQLModel, table=True):
    """An organisation that belongs to the user group: it may raise, vote on and comment on change requests."""

    __tablename__ = "user_group_member"

    organisation_id: int = Field(sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="CASCADE"),
                                                  primary_key=True))
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeRequest(SQLModel, table=True):
    __tablename__ = "change_request"
    __table_args__ = (CheckConstraint(check_sql("status", ChangeRequestStatus),
                                      name=check_name("change_request", "status")),)

    id: int | None = Field(default=None, primary_key=True)
    # The organisation that raised it (every member sees its name with the request).
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    raised_by_user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    title: str = Field(max_length=200)
    problem: str = Field(sa_type=Text)
    affects: str = Field(max_length=500)
    frequency: str = Field(max_length=20)
    area: str = Field(max_length=30, index=True)
    status: str = Field(default=ChangeRequestStatus.SUBMITTED, max_length=20, index=True)
    target_release: str = Field(default="", max_length=40)
    decline_reason: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeRequestVote(SQLModel, table=True):
    """One organisation's vote on one request (the unique constraint keeps it to one under any concurrency):
    +1 for, -1 against; the organisation may change it or take it back."""

    __tablename__ = "change_request_vote"
    __table_args__ = (
        UniqueConstraint("change_request_id", "organisation_id", name="uq_change_request_vote_org"),
        CheckConstraint("value IN (1, -1)", name="ck_change_request_vote_value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    change_request_id: int = Field(sa_column=Column(Integer, ForeignKey("change_request.id", ondelete="CASCADE"),
                                                    nullable=False))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    value: int = Field(default=1)
    voted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeRequestComment(SQLModel, table=True):
    __tablename__ = "change_request_comment"

    id: int | None = Field(default=None, primary_key=True)
    change_request_id: int = Field(sa_column=Column(Integer, ForeignKey("change_request.id", ondelete="CASCADE"),
                                                    nullable=False, index=True))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    author_name: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeRequestFollower(SQLModel, table=True):
    """A user emailed at each change of the request's status."""

    __tablename__ = "change_request_follower"
    __table_args__ = (UniqueConstraint("change_request_id", "user_id", name="uq_change_request_follower"),)

    id: int | None = Field(default=None, primary_key=True)
    change_request_id: int = Field(sa_column=Column(Integer, ForeignKey("change_request.id", ondelete="CASCADE"),
                                                    nullable=False))
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False,
                                          index=True))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)


class ChangeRequestEvent(SQLModel, table=True):
    """A change of a request's status, with the note that went with it (a decline's reason, a target release)."""

    __tablename__ = "change_request_event"

    id: int | None = Field(default=None, primary_key=True)
    change_request_id: int = Field(sa_column=Column(Integer, ForeignKey("change_request.id", ondelete="CASCADE"),
                                                    nullable=False, index=True))
    from_status: str = Field(max_length=20)
    to_status: str = Field(max_length=20)
    note: str = Field(default="", sa_type=Text)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChangeRequestAttachment(SQLModel, table=True):
    """A file attached to a change request by its raising organisation: the bytes live in the platform's storage
    (``sha256`` is their key), the type was read from the bytes, and it is served only to who may read the request."""

    __tablename__ = "change_request_attachment"

    id: int | None = Field(default=None, primary_key=True)
    change_request_id: int = Field(sa_column=Column(Integer, ForeignKey("change_request.id", ondelete="CASCADE"),
                                                    nullable=False, index=True))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    uploaded_by_user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    file_name: str = Field(max_length=150)
    content_type: str = Field(max_length=100)
    size_bytes: int
    sha256: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReleaseSeen(SQLModel, table=True):
    """The newest release a user has seen the notes of (per user, whichever browser they sign in from)."""

    __tablename__ = "release_seen"

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True))
    version: str = Field(max_length=40)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserGroupMeeting(SQLModel, table=True):
    __tablename__ = "user_group_meeting"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    held_on: date
    notes: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserGroupAgendaItem(SQLModel, table=True):
    """A change request on a meeting's agenda, with the page of the demo organisation that shows it, and the
    decision the meeting took."""

    __tablename__ = "user_group_agenda_item"
    __table_args__ = (UniqueConstraint("meeting_id", "change_request_id", name="uq_user_group_agenda_item"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(sa_column=Column(Integer, ForeignKey("user_group_meeting.id", ondelete="CASCADE"),
                                             nullable=False))
    change_request_id: int = Field(sa_column=Column(Integer, ForeignKey("change_request.id", ondelete="CASCADE"),
                                                    nullable=False, index=True))
    position: int = Field(default=0)
    demo_path: str = Field(default="", max_length=200)
    decision: str = Field(default="", sa_type=Text)
