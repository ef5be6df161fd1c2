"""Reminder and outbox benchmarks (``make bench``).

* A reminder run with ``BENCH_REMINDERS`` (100,000) bookings due queues that many messages in under 60 s, with two
  runs started at once in two processes (as two workers would): together they queue each reminder exactly once.
* Outbox delivery to a local SMTP server (aiosmtpd on loopback) sends at least 50 emails a second
  (``BENCH_EMAILS``, 1,000).

Figures go to ``tests/perf/results/reminders.json`` with the load average; like the other benchmarks, the timings are
reported against their targets, not asserted."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from atlas_app.db import get_engine, read_session, utcnow, write_session
from atlas_app.models import Booking, BookingTerms, Client, CourseSession, CourseType, EmailMessage, Offer, Venue
from atlas_app.services.platform import outbox
from conftest import DIALECT

N = int(os.environ.get("BENCH_REMINDERS", "100000"))
EMAILS = int(os.environ.get("BENCH_EMAILS", "1000"))
TARGET_SECONDS = 60
TARGET_EMAILS_PER_SECOND = 50
RESULTS = Path(__file__).resolve().parent / "results" / "reminders.json"
CHUNK = 5000


def _record(key: str, values: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault(DIALECT, {})[key] = {"measured_at": utcnow().replace(microsecond=0).isoformat(), **values,
                                            "load_average": [round(x, 2) for x in os.getloadavg()]}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def _seed(org_id: int, n: int) -> None:
    """``n`` confirmed bookings, booked a month ago, on sessions 40 hours away (the 2-day email point has come)."""
    now = utcnow().replace(microsecond=0)
    with write_session() as s:
        s.add(BookingTerms(organisation_id=org_id))
        ct = CourseType(organisation_id=org_id, code="NSAC", name="National Speed Awareness Course",
                        fee_pence=9500, delivery_modes=["classroom"], default_capacity=30)
        venue = Venue(organisation_id=org_id, name="Borough Hall", address_line1="Middlegate", town="Hartlepool",
                      postcode="TS24 0JD")
        s.add_all([ct, venue])
        s.flush()
        ct_id, venue_id = ct.id, venue.id
    engine = get_engine()
    per_session = 30
    with engine.begin() as conn:
        start = now + timedelta(hours=40)
        sessions = [{"organisation_id": org_id, "course_type_id": ct_id, "venue_id": venue_id,
                     "delivery_mode": "classroom", "starts_at": start + timedelta(minutes=i % 60),
                     "ends_at": start + timedelta(minutes=165 + i % 60), "capacity": per_session,
                     "seats_taken": min(per_session, n - i * per_session), "online_link": "", "meeting_id": "",
                     "meeting_passcode": "", "status": "scheduled", "notes": "", "created_at": now}
                    for i in range((n + per_session - 1) // per_session)]
        session_ids = list(conn.execute(insert(CourseSession.__table__).returning(CourseSession.__table__.c.id),
                                        sessions).scalars())
    for base in range(0, n, CHUNK):
        count = min(CHUNK, n - base)
        with engine.begin() as conn:
            client_ids = list(conn.execute(insert(Client.__table__).returning(Client.__table__.c.id), [
                {"organisation_id": org_id, "first_name": "Bench", "last_name": f"Client{base + i:06d}",
                 "date_of_birth": date(1980, 1, 1), "licence_number": "", "address_line1": "", "address_line2": "",
                 "town": "Hartlepool", "postcode": "TS24 7QS", "email": f"bench{base + i}@example.com",
                 "phone": "", "email_consent": True, "sms_consent": False, "created_at": now}
                for i in range(count)]).scalars())
            offer_ids = list(conn.execute(insert(Offer.__table__).returning(Offer.__table__.c.id), [
                {"organisation_id": org_id, "offer_reference": f"BEN-{base + i:06d}", "client_id": cid,
                 "course_type_id": ct_id, "offence_date": date.today() - timedelta(days=20),
                 "critical_date": date.today() + timedelta(days=100), "police_force": "Cleveland Police",
                 "status": "booked", "source": "import", "created_at": now}
                for i, cid in enumerate(client_ids)]).scalars())
            conn.execute(insert(Booking.__table__), [
                {"organisation_id": org_id, "reference": f"BEN-{base + i:07d}", "offer_id": oid,
                 "session_id": session_ids[(base + i) // per_session], "status": "confirmed", "channel": "online",
                 "fee_pence": 9500, "needs": {}, "identity_checked": False,
                 "created_at": now - timedelta(days=30), "updated_at": now - timedelta(days=30)}
                for i, oid in enumerate(offer_ids)])


def test_outbox_delivery_to_local_smtp(smtp, org):
    with write_session() as s:
        rows = [outbox.message_row(to=f"driver{i}@example.org", subject=f"Reminder {i}",
                                   body="Your course is on Monday at 09:30.\n" * 10, organisation_id=org.id)
                for i in range(EMAILS)]
        outbox.queue_many(s, rows)
    started = time.perf_counter()
    sent = 0
    while sent < EMAILS:
        report = outbox.deliver_due(limit=500)
        assert report.failed == report.retrying == 0
        if not report.sent:
            break
        sent += report.sent
    seconds = time.perf_counter() - started
    rate = sent / seconds
    print(f"\n{DIALECT}: {sent:,} emails delivered to a local SMTP server in {seconds:.1f} s = {rate:,.0f}/s")
    _record("smtp_delivery", {"emails": sent, "seconds": round(seconds, 2), "per_second": round(rate, 1),
                              "target_per_second": TARGET_EMAILS_PER_SECOND})
    assert sent == EMAILS == len(smtp.messages)


# Last in the file: its 100,000 bookings are dropped with the test database rather than deleted row by row.
def test_reminder_run_for_100000_bookings_two_workers_at_once(org):
    # The workers' body lives outside the test modules, so a spawned process imports only it and Atlas.
    from reminder_race_worker import run_job

    seeded = time.perf_counter()
    _seed(org.id, N)
    seed_seconds = time.perf_counter() - seeded
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=run_job, args=(w, barrier, results)) for w in range(2)]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in procs]
    seconds = time.perf_counter() - started
    for p in procs:
        p.join(timeout=60)
    with read_session() as s:
        queued = s.exec(select(func.count()).select_from(EmailMessage)).one()[0]
        distinct = s.exec(select(func.count(func.distinct(EmailMessage.related_id)))).one()[0]
    assert all(isinstance(q, int) for _, q in outcomes), outcomes
    per_worker = sorted(q for _, q in outcomes)
    print(f"\n{DIALECT}: {N:,} bookings due (seeded in {seed_seconds:.0f} s); two runs at once queued "
          f"{queued:,} reminders ({per_worker}) in {seconds:.1f} s = {queued / seconds:,.0f}/s")
    _record("reminder_run", {"bookings_due": N, "queued": queued, "by_worker": per_worker,
                             "seconds": round(seconds, 2), "target_seconds": TARGET_SECONDS})
    # Timings are reported against their targets, not asserted (they depend on what else the machine is doing).
    assert sum(per_worker) == queued == distinct == N
