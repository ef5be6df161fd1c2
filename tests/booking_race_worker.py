"""The body of one process in the multi-process booking race (tests/test_booking_concurrency.py).

A separate module, not the test module, so a spawned process imports only this and Atlas: it reads the same
DATABASE_URL from the environment it inherits and opens its own connections.
"""

from __future__ import annotations

import traceback


def race(worker: int, organisation_id: int, session_id: int, offer_ids: list[int], barrier, results) -> None:
    from atlas_app.services.booking import bookings as booking
    from atlas_app.services.platform.actor import Actor
    from atlas_app.services.platform.errors import AtlasError

    actor = Actor(user_id=None, username=f"race.worker{worker}", organisation_id=organisation_id,
                  permissions=frozenset({"bookings.view", "bookings.manage"}))
    outcomes: list[str] = []
    try:
        barrier.wait(timeout=120)
        for i, offer_id in enumerate(offer_ids):
            try:
                if i % 2:
                    view = booking.hold_seat(organisation_id, offer_id, session_id)
                else:
                    view = booking.book(actor, offer_id, session_id, channel="api")
                outcomes.append(f"ok:{view.reference}")
            except booking.SessionFull:
                outcomes.append("full")
            except AtlasError as exc:
                outcomes.append(f"refused:{type(exc).__name__}:{exc}")
            except Exception:  # reported to the test, which fails on it
                outcomes.append("error:" + traceback.format_exc(limit=3))
    except Exception:
        outcomes.append("error:" + traceback.format_exc(limit=3))
    results.put((worker, outcomes))
