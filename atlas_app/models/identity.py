"""Users, roles, login sessions, login attempts and password reset tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class Role(SQLModel, table=True):
    """A configurable set of permissions within one organisation."""

    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_role_org_name"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=400)
    permissions: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # Stored lower-case; unique across the platform so a login needs no organisation.
    username: str = Field(max_length=80, unique=True, index=True)
    full_name: str = Field(max_length=200)
    email: str = Field(default="", max_length=254)
    password_hash: str = Field(default="", max_length=100, exclude=True)
    is_active: bool = Field(default=True)
    is_platform_admin: bool = Field(default=False)
    failed_attempts: int = Field(default=0)
    locked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    must_change_password: bool = Field(default=False)
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Two-factor sign-in (TOTP): the secret is set when enrolment starts and counts once confirmed by a first code;
    # the last accepted time step, so no code is accepted twice.
    totp_secret: str | None = Field(default=None, max_length=255, exclude=True)
    totp_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    totp_last_step: int = Field(default=0, exclude=True, sa_column_kwargs={"server_default": "0"})


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    role_id: int = Field(
        sa_column=Column(Integer, ForeignKey("role.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class AuthSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of its random token is stored."""

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True, exclude=True)
    acting_organisation_id: int = Field(foreign_key="organisation.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    end_reason: str = Field(default="", max_length=40)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=400)


class LoginAttempt(SQLModel, table=True):
    """Every sign-in attempt: success, failure, lockout, or refused because locked or disabled."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_ip_at", "ip", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    username_tried: str = Field(max_length=200)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    outcome: str = Field(max_length=20)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=400)


class PasswordResetToken(SQLModel, table=True):
    """A single-use, expiring forgotten-password token; only its SHA-256 is stored."""

    __tablename__ = "password_reset_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, exclude=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # "reset" (set a new password) or "unlock" (unlock a locked account).
    purpose: str = Field(default="reset", max_length=20, sa_column_kwargs={"server_default": "reset"})


class TwoFactorRecoveryCode(SQLModel, table=True):
    """A single-use recovery code for two-factor sign-in; only its SHA-256 is stored."""

    __tablename__ = "two_factor_recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    code_hash: str = Field(max_length=64, unique=True, exclude=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SecondFactorChallenge(SQLModel, table=True):
    """A sign-in whose password was right, waiting for its second factor. Only the SHA-256 of its token is
    stored; it expires within minutes and makes one session at most."""

    __tablename__ = "second_factor_challenge"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    token_hash: str = Field(max_length=64, unique=True, exclude=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AccountLinkRequest(SQLModel, table=True):
    """A forgotten-password request, written the same way whether or not the username exists (``user_id`` is
    then empty). Counted to limit requests per account and per address; a background pass emails the link."""

    __tablename__ = "account_link_request"
    __table_args__ = (
        Index("ix_account_link_request_key_at", "key_hash", "at"),
        Index("ix_account_link_request_ip_at", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    ip: str = Field(default="", max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class LivePoller(SQLModel, table=True):
    """A page's background poller claimed for a staff session: slot ``slot`` of the few the session may run at
    once (the unique pair is the cap, across every worker). ``seen_at`` is refreshed while the poller lives; a row
    not seen for a while belongs to a poller that died with its worker and is reclaimed."""

    __tablename__ = "live_poller"
    __table_args__ = (UniqueConstraint("session_key", "slot", name="uq_live_poller_session_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    session_key: str = Field(max_length=64)  # SHA-256 of the session token, never the token
    slot: int
    holder: str = Field(max_length=64, unique=True)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
