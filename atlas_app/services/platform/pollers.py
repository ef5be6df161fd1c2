"""A cap on the background pollers one staff session runs (a live dashboard starts one per open tab), counted in
the database so every worker sees the same count: a script opening 1,000 tabs gets ``MAX_PER_SESSION`` pollers,
not 1,000.

A poller ``claim``s one of the session's numbered slots (the unique (session, slot) pair makes the claim atomic
on both databases without a lock), ``touch``es it at least every ``HEARTBEAT_SECONDS`` while it runs and ``release``s it when it ends. A slot not
touched for ``STALE`` belonged to a poller that died with its worker; the next claim takes it back. Only a SHA-256
of the session token is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import LivePoller

MAX_PER_SESSION = 5
HEARTBEAT_SECONDS = 20
STALE = timedelta(seconds=HEARTBEAT_SECONDS * 3)
TOO_MANY = (f"Live updates are paused in this tab: at most {MAX_PER_SESSION} dashboards update live at once for "
            "one sign-in. Close another dashboard tab, then choose \"Resume live updates\".")


def _session_key(session_token: str) -> str:
    return hashlib.sha256(str(session_token or "").encode()).hexdigest()


def claim(session_token: str, now: datetime | None = None) -> str | None:
    """A slot for one more poller of this staff session: its holder id, or None when all are taken."""
    if not session_token:
        return None
    now = now or utcnow()
    key = _session_key(session_token)
    with write_session() as s:  # pollers that died with their worker, of any session
        s.exec(delete(LivePoller).where(LivePoller.seen_at < now - STALE))
    for slot in range(MAX_PER_SESSION):
        holder = secrets.token_hex(16)
        try:
            with write_session() as s:
                s.add(LivePoller(session_key=key, slot=slot, holder=holder, claimed_at=now, seen_at=now))
        except IntegrityError:  # that slot is taken (perhaps this very moment, by another worker)
            continue
        return holder
    return None


def touch(holder: str, now: datetime | None = None) -> bool:
    """Mark the poller alive; False when its slot is gone (reclaimed after it went unseen too long)."""
    with write_session() as s:
        result = s.exec(update(LivePoller).where(LivePoller.holder == holder).values(seen_at=now or utcnow()))
        return result.rowcount == 1


def release(holder: str | None) -> None:
    if not holder:
        return
    with write_session() as s:
        s.exec(delete(LivePoller).where(LivePoller.holder == holder))


def live_count(session_token: str, now: datetime | None = None) -> int:
    """How many pollers this session runs now (for the page and the tests)."""
    now = now or utcnow()
    with read_session() as s:
        return s.exec(select(func.count()).select_from(LivePoller).where(
            LivePoller.session_key == _session_key(session_token), LivePoller.seen_at >= now - STALE)).one()
