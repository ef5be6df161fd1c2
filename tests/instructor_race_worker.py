"""The body of one process in the multi-process instructor race (tests/test_instructors.py)."""

from __future__ import annotations

import traceback


def race(worker: int, organisation_id: int, instructor_id: int, session_ids: list[int], barrier, results) -> None:
    from atlas_app.services import instructors
    from atlas_app.services.actor import Actor
    from atlas_app.services.errors import AtlasError

    actor = Actor(user_id=None, username=f"race.worker{worker}", organisation_id=organisation_id,
                  permissions=frozenset({"instructors.manage"}))
    outcomes: list[str] = []
    try:
        barrier.wait(timeout=120)
        for session_id in session_ids:
            try:
                outcomes.append(f"ok:{instructors.assign(actor, session_id, instructor_id, 'classroom')}")
            except instructors.AssignmentClash as exc:
                outcomes.append(f"clash:{exc.clash_id}")
            except AtlasError as exc:
                outcomes.append(f"refused:{type(exc).__name__}:{exc}")
            except Exception:
                outcomes.append("error:" + traceback.format_exc(limit=3))
    except Exception:
        outcomes.append("error:" + traceback.format_exc(limit=3))
    results.put((worker, outcomes))
