import cProfile
import os
import time

from test_reminders_bench import _seed

from atlas_app.services.booking import reminders


def test_profile(org):
    n = int(os.environ.get("PROF_N", "20000"))
    _seed(org.id, n)
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    run = reminders.queue_due()
    prof.disable()
    print(f"\nqueued {run.queued} in {time.perf_counter() - started:.1f}s")
    prof.dump_stats("/tmp/pay17_rem.prof")
