"""The body of one process in the multi-process races for a scheduled resource (the shared assignment engine):
instructors on course sessions (tests/test_instructors*.py) and engineers on servicing appointments
(tests/test_utilities_servicing.py). Each job is the keyword arguments of one booking call, tried once the barrier
releases every process together."""

from __future__ import annotations

import multiprocessing
import traceback
from collections import Counter


def _booker(kind: str):
    """(call, clash exception, permissions) for the kind of resource raced for."""
    if kind == "instructor":
        from atlas_app.services.instructors import assignments

        return (lambda actor, job: assignments.assign(actor, **job), assignments.AssignmentClash,
                {"instructors.manage"})
    if kind == "engineer":
        from atlas_app.services.modules.utilities_servicing import programme

        return (lambda actor, job: programme.book_appointment(actor, **job).appointment_id,
                programme.AppointmentClash, {"cases.view", "cases.manage"})
    raise ValueError(f"unknown resource kind {kind!r}")


def race(kind: str, worker: int, organisation_id: int, jobs: list[dict], barrier, results) -> None:
    from atlas_app.services.platform.actor import Actor
    from atlas_app.services.platform.errors import AtlasError

    book, clash, permissions = _booker(kind)
    actor = Actor(user_id=None, username=f"race.worker{worker}", organisation_id=organisation_id,
                  permissions=frozenset(permissions))
    outcomes: list[str] = []
    try:
        barrier.wait(timeout=120)
        for job in jobs:
            try:
                outcomes.append(f"ok:{book(actor, job)}")
            except clash as exc:
                outcomes.append(f"clash:{exc.clash_id}")
            except AtlasError as exc:
                outcomes.append(f"refused:{type(exc).__name__}:{exc}")
            except Exception:
                outcomes.append("error:" + traceback.format_exc(limit=3))
    except Exception:
        outcomes.append("error:" + traceback.format_exc(limit=3))
    results.put((worker, outcomes))


def run_race(kind: str, organisation_id: int, jobs: list[dict], processes: int = 5) -> tuple[Counter, list[str]]:
    """Share ``jobs`` out over ``processes`` spawned processes racing together for ``kind`` ("instructor" or
    "engineer"); returns the count of each kind of outcome ("ok", "clash", "refused", "error") and every outcome."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=race, args=(kind, w, organisation_id, jobs[w::processes], barrier, results))
             for w in range(processes)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    flat = [o for _, out in outcomes for o in out]
    return Counter(o.split(":")[0] for o in flat), flat
