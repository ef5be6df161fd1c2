"""Guessing protection for the public forms that find an offer or a booking from a reference, a date of birth and a
postcode.

A reference that has had ``PER_REFERENCE`` failed attempts within ``WINDOW`` is refused for the rest of that window,
whoever asks, and so is an address (IP) that has failed ``PER_IP`` times, so nobody can guess a client's date of
birth and postcode by trying. Attempts are counted in the database, so every server worker sees the same counts.
Only a SHA-256 of the reference is stored, and rows older than a day are pruned.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete, func
from sqlmodel import select

from atlas_app.services.platform.i18n import _
from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import PublicLookupAttempt
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.timeutil import LONDON

WINDOW = timedelta(minutes=15)
PER_REFERENCE = 5
PER_IP = 50
KEEP = timedelta(days=1)
KINDS = ("offer", "booking", "report")

T = TypeVar("T")


class TooManyAttempts(ValidationFailed):
    """Refused without looking: too many failed attempts for this reference or from this address."""

    status_code = 429


def _key(reference: str) -> str:
    compact = re.sub(r"\s+", "", reference or "").upper()
    return hashlib.sha256(compact.encode()).hexdigest()


def _refuse(kind: str, oldest: datetime) -> TooManyAttempts:
    until = (oldest + WINDOW).astimezone(LONDON)
    return TooManyAttempts(
        _("Too many attempts with details that did not match. For your security, please try again after {time}, "
          "or telephone us.").format(time=f"{until:%H:%M}"), {kind: "too many attempts"})


def _over_limit(kind: str, reference: str, ip: str, now: datetime) -> TooManyAttempts | None:
    since = now - WINDOW
    with read_session() as s:
        count, oldest = s.exec(
            select(func.count(), func.min(PublicLookupAttempt.at)).where(
                PublicLookupAttempt.kind == kind, PublicLookupAttempt.key_hash == _key(reference),
                PublicLookupAttempt.at > since)
        ).one()
        if count > PER_REFERENCE:
            return _refuse(kind, oldest)
        if ip:
            count, oldest = s.exec(
                select(func.count(), func.min(PublicLookupAttempt.at)).where(
                    PublicLookupAttempt.ip == ip[:64], PublicLookupAttempt.at > since)
            ).one()
            if count > PER_IP:
                return _refuse(kind, oldest)
    return None


def _record(kind: str, reference: str, ip: str, now: datetime) -> int:
    with write_session() as s:
        row = PublicLookupAttempt(kind=kind, key_hash=_key(reference), ip=(ip or "")[:64], at=now)
        s.add(row)
        s.flush()
        s.exec(delete(PublicLookupAttempt).where(PublicLookupAttempt.at < now - KEEP))
        return row.id


def _forget(attempt_id: int) -> None:
    with write_session() as s:
        s.exec(delete(PublicLookupAttempt).where(PublicLookupAttempt.id == attempt_id))


def guarded(kind: str, reference: str, ip: str, lookup: Callable[[], T]) -> T:
    """Run ``lookup`` unless the reference or address is over its limit; keep it counted if it finds nothing.

    The attempt is written down before the count is taken, so of any number of attempts racing in at once no more
    than the limit get as far as the lookup. An attempt that is refused, or that finds its offer or booking, is
    struck off again: only mismatches count."""
    if kind not in KINDS:
        raise ValueError(kind)
    now = utcnow()
    attempt_id = _record(kind, reference, ip, now)
    refusal = _over_limit(kind, reference, ip, now)
    if refusal is not None:
        _forget(attempt_id)
        raise refusal
    try:
        result = lookup()
    except ValidationFailed as exc:
        if exc.errors.get(kind) != "not found":
            _forget(attempt_id)
        raise
    except BaseException:
        _forget(attempt_id)
        raise
    _forget(attempt_id)
    return result


# --- submissions from the public (reports of a problem) -------------------------------------------------------------

SUBMIT_KIND = "submit"
SUBMIT_WINDOW = timedelta(hours=1)


def submit_limits() -> tuple[int, int]:
    """(per IP, per email) submissions in ``SUBMIT_WINDOW``: ``REPORTS_PER_IP_PER_HOUR`` (default 30) and
    ``REPORTS_PER_EMAIL_PER_HOUR`` (default 10)."""
    return (int(os.environ.get("REPORTS_PER_IP_PER_HOUR") or 30),
            int(os.environ.get("REPORTS_PER_EMAIL_PER_HOUR") or 10))


def count_submission(ip: str, email: str = "") -> None:
    """Count one submission from ``ip`` (and ``email`` when given); refuse it when either is over its limit within
    the hour. Every submission counts, accepted or not (a flood is a flood); the attempt is written down before
    the count is taken, so of many racing in at once no more than the limit pass. Refused attempts are struck off
    again so a flood does not keep itself refused for ever."""
    per_ip, per_email = submit_limits()
    now = utcnow()
    since = now - SUBMIT_WINDOW
    email_key = _key(email.lower()) if email else ""
    refusal = None
    with write_session() as s:
        row = PublicLookupAttempt(kind=SUBMIT_KIND, key_hash=email_key, ip=(ip or "")[:64], at=now)
        s.add(row)
        s.flush()
        attempt_id = row.id
        if random.random() < 0.02:
            s.exec(delete(PublicLookupAttempt).where(PublicLookupAttempt.at < now - KEEP))
        # Committed before counting (so racers count each other); the counts read on the same connection.
        s.commit()
        if ip:
            count, oldest = s.exec(select(func.count(), func.min(PublicLookupAttempt.at)).where(
                PublicLookupAttempt.ip == ip[:64], PublicLookupAttempt.kind == SUBMIT_KIND,
                PublicLookupAttempt.at > since)).one()
            if count > per_ip:
                refusal = oldest
        if refusal is None and email_key:
            count, oldest = s.exec(select(func.count(), func.min(PublicLookupAttempt.at)).where(
                PublicLookupAttempt.kind == SUBMIT_KIND, PublicLookupAttempt.key_hash == email_key,
                PublicLookupAttempt.at > since)).one()
            if count > per_email:
                refusal = oldest
    if refusal is not None:
        _forget(attempt_id)
        until = (refusal + SUBMIT_WINDOW).astimezone(LONDON)
        raise TooManyAttempts(f"Too many reports have been sent from here in the last hour. Please try again after "
                              f"{until:%H:%M}, or telephone us.", {"submit": "too many"})
