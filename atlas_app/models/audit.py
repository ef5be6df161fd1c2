"""The append-only, hash-chained audit trail: one chain per organisation, and one for the system's entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_org_id", "organisation_id", "id"),  # the dashboards' change marker
        Index("ux_audit_entry_chain_seq", "chain", "seq", unique=True),
        Index("ix_audit_entry_subject", "organisation_id", "subject_kind", "subject_id", "id"),  # one subject's trail
    )

    id: int | None = Field(default=None, primary_key=True)
    # The chain the entry is on: its organisation's id, or 0 for entries with no organisation (and for every entry
    # written before the trail had a chain per organisation, migration 0017). ``seq`` is its place in that chain.
    chain: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    seq: int
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    username: str = Field(default="", max_length=80)
    entity: str = Field(max_length=60, index=True)
    entity_id: str = Field(default="", max_length=80, index=True)
    action: str = Field(max_length=60, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Who the entry is about: ("client", client id) or ("person", casework person id); None for entries about
    # neither, and for every entry written before migration 0024. Covered by the hash when set.
    subject_kind: str | None = Field(default=None, max_length=20)
    subject_id: int | None = Field(default=None)
    # An entry about a subject (since migration 0035): the digest of its before/after, which the hash covers instead
    # of the data, so retention can shred the data (``shredded_at``) and the chain still verifies.
    personal_digest: str | None = Field(default=None, max_length=64)
    shredded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The end of one chain; its writers lock it so the chain never forks, and only they do (each organisation's
    writers lock their own organisation's row)."""

    __tablename__ = "audit_chain_head"

    id: int = Field(primary_key=True)  # the chain: an organisation's id, or 0
    last_seq: int = Field(default=0)
    last_hash: str = Field(default="0" * 64, max_length=64)
