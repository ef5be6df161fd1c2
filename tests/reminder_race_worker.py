"""The body of one process in the reminder-job race (tests/test_reminders.py): runs the job once when released."""

from __future__ import annotations

import traceback


def run_job(worker: int, barrier, results) -> None:
    from atlas_app.services.booking import reminders

    try:
        barrier.wait(timeout=120)
        results.put((worker, reminders.queue_due().queued))
    except Exception:  # noqa: BLE001 - reported to the test, which fails on it
        results.put((worker, "error:" + traceback.format_exc(limit=4)))
