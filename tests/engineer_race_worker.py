"""The body of one process in the multi-process engineer booking race (tests/test_utilities_servicing.py): each job
is the arguments of one ``programme.book_appointment`` call, tried once the barrier releases every process."""

from __future__ import annotations

import multiprocessing
import traceback
from collections import Counter


def race(worker: int, organisation_id: int, jobs: list[dict], barrier, results) -> None:
    from atlas_app.services.modules.utilities_servicing import programme
    from atlas_app.services.platform.actor import Actor
    from atlas_app.services.platform.errors import AtlasError

    actor = Actor(user_id=None, username=f"race.worker{worker}", organisation_id=organisation_id,
                  permissions=frozenset({"cases.view", "cases.manage"}))
    outcomes: list[str] = []
    try:
        barrier.wait(timeout=120)
        for job in jobs:
            try:
                outcomes.append(f"ok:{programme.book_appointment(actor, **job).appointment_id}")
            except programme.AppointmentClash as exc:
                outcomes.append(f"clash:{exc.clash_id}")
            except AtlasError as exc:
                outcomes.append(f"refused:{type(exc).__name__}:{exc}")
            except Exception:
                outcomes.append("error:" + traceback.format_exc(limit=3))
    except Exception:
        outcomes.append("error:" + traceback.format_exc(limit=3))
    results.put((worker, outcomes))


def run_race(organisation_id: int, jobs: list[dict], processes: int = 4) -> tuple[Counter, list[str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=race, args=(w, organisation_id, jobs[w::processes], barrier, results))
             for w in range(processes)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    flat = [o for _, out in outcomes for o in out]
    return Counter(o.split(":")[0] for o in flat), flat
