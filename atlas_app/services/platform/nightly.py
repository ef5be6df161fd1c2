"""Jobs run once a London day at a set time, by one worker only.

The housekeeping loop of every worker calls ``run_daily(job, at, work)`` every few minutes. The job is due in the
hour from ``at`` (London time, so it follows the clocks through summer time; a worker that was down all that hour
misses the day rather than running at noon). The first worker to find it due claims the day by inserting the
``scheduled_run`` row (job, London date), which a unique constraint allows once: that worker runs the work and
writes its outcome on the row; every other worker, and the same worker ten minutes later, finds the day claimed and
does nothing. A run that fails keeps its claim (with the failure as its outcome), so a broken job is not retried
every few minutes all hour; it runs again the next day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from atlas_app.db import utcnow, write_session
from atlas_app.models.platform import ScheduledRun
from atlas_app.timeutil import LONDON

WINDOW = timedelta(hours=1)
log = logging.getLogger("atlas")

# (job, London date) this process already knows are claimed (by it or by another worker): no insert to try again.
_known: set[tuple[str, date]] = set()


def due(at: time, now: datetime | None = None) -> date | None:
    """The London date on which a job set for ``at`` is due at ``now`` (within ``WINDOW`` after it), or None."""
    local = (now or utcnow()).astimezone(LONDON)
    start = datetime.combine(local.date(), at, tzinfo=LONDON)
    return local.date() if start <= local < start + WINDOW else None


def claim(job: str, day: date) -> bool:
    """Claim ``job`` for ``day``: True for the one caller that inserted the row, False for everyone else."""
    try:
        with write_session() as s:
            s.add(ScheduledRun(job=job, run_date=day))
            s.flush()
    except IntegrityError:
        return False
    return True


def _finish(job: str, day: date, outcome: str) -> None:
    with write_session() as s:
        s.execute(update(ScheduledRun).where(ScheduledRun.job == job, ScheduledRun.run_date == day)
                  .values(finished_at=utcnow(), outcome=outcome[:2000]))


def run_daily(job: str, at: time, work: Callable[[], object], now: datetime | None = None) -> bool:
    """Run ``work`` if ``job`` is due now and this worker claims the day; True when it ran here."""
    day = due(at, now)
    if day is None or (job, day) in _known:
        return False
    _known.add((job, day))
    if not claim(job, day):
        return False
    try:
        result = work()
    except Exception as exc:
        _finish(job, day, f"failed: {type(exc).__name__}: {exc}")
        raise
    _finish(job, day, "done" if result is None else str(result))
    return True
