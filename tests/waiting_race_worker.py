"""The body of one process in the waiting-list races (tests/test_waiting_list.py): each process cancels its share
of bookings (or only runs the offer of freed seats) and reports what it offered. A separate module so a spawned
process imports only this and Atlas, with the DATABASE_URL it inherits."""

from __future__ import annotations

import traceback


def race(worker: int, organisation_id: int, session_id: int, references: list[str], barrier, results) -> None:
    from atlas_app.services.booking import bookings, waiting_list
    from atlas_app.services.platform.actor import Actor

    actor = Actor(user_id=None, username=f"race.worker{worker}", organisation_id=organisation_id,
                  permissions=frozenset({"bookings.view", "bookings.manage"}))
    outcomes: list[str] = []
    try:
        barrier.wait(timeout=120)
        for reference in references:
            bookings.cancel(organisation_id, reference, actor=actor, reason="race")
            outcomes.append(f"cancelled:{reference}")
        for offered in waiting_list.seats_freed(organisation_id, [session_id]):
            outcomes.append(f"offered:{offered.entry_id}")
    except Exception:  # reported to the test, which fails on it
        outcomes.append("error:" + traceback.format_exc(limit=4))
    results.put((worker, outcomes))
