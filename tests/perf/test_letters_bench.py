"""Bulk letters benchmark (``make bench``): one PDF of unpaid reminders for 500 bookings, each letter merged with its
client's offer, booking and payment details, put on the client's timeline and in the audit trail. Target: under 60 s.
``BENCH_LETTERS`` changes the number of bookings."""

from __future__ import annotations

import io
import os
import time
from datetime import date, timedelta

from pypdf import PdfReader

from atlas_app.db import utcnow, write_session
from atlas_app.models import Booking, BookingTerms, Client, ClientEvent, CourseSession, CourseType, Offer, Venue
from atlas_app.services.insight import letters
from atlas_app.timeutil import london_date
from conftest import DIALECT, actor_for

N = int(os.environ.get("BENCH_LETTERS", "500"))
TARGET_SECONDS = 60


def _bookings(org_id: int, n: int) -> list[str]:
    now = utcnow().replace(microsecond=0)
    today = london_date(now)
    with write_session() as s:
        s.add(BookingTerms(organisation_id=org_id))
        ct = CourseType(organisation_id=org_id, code="NSAC", name="National Speed Awareness Course",
                        fee_pence=9500, delivery_modes=["classroom"], default_capacity=30)
        venue = Venue(organisation_id=org_id, name="Borough Hall", address_line1="Middlegate", town="Hartlepool",
                      postcode="TS24 0JD")
        s.add_all([ct, venue])
        s.flush()
        sessions = []
        for i in range((n + 29) // 30):
            start = now + timedelta(days=3 + i // 3, hours=(i % 3) * 4)
            sessions.append(CourseSession(organisation_id=org_id, course_type_id=ct.id, venue_id=venue.id,
                                          delivery_mode="classroom", starts_at=start,
                                          ends_at=start + timedelta(minutes=165), capacity=30))
        s.add_all(sessions)
        s.flush()
        clients = [Client(organisation_id=org_id, first_name="Bench", last_name=f"Client{i:04d}",
                          date_of_birth=date(1980, 1, 1), address_line1=f"{i} High Street", town="Hartlepool",
                          postcode="TS24 7QS", email=f"bench{i}@example.com") for i in range(n)]
        s.add_all(clients)
        s.flush()
        offers = [Offer(organisation_id=org_id, offer_reference=f"BEN-{i:06d}", client_id=c.id, course_type_id=ct.id,
                        offence_date=today - timedelta(days=20), critical_date=today + timedelta(days=100),
                        police_force="Cleveland Police", status="booked") for i, c in enumerate(clients)]
        s.add_all(offers)
        s.flush()
        rows = []
        for i, o in enumerate(offers):
            cs = sessions[i // 30]
            cs.seats_taken += 1
            rows.append(Booking(organisation_id=org_id, reference=f"BEN-{i:07d}", offer_id=o.id, session_id=cs.id,
                                status="awaiting_payment", channel="online", fee_pence=9500,
                                payment_due_at=now + timedelta(days=2)))
        s.add_all(rows)
        s.flush()
        return [b.reference for b in rows]


def test_bulk_letters_for_500_bookings(admin, org):
    actor = actor_for(admin)
    letters.list_templates(actor)
    references = _bookings(org.id, N)
    started = time.perf_counter()
    run = letters.produce_bulk(actor, "unpaid_reminder", {"payment": "unpaid", "status": "active"})
    seconds = time.perf_counter() - started
    size_kb = len(run.pdf) / 1024
    print(f"\n{DIALECT}: {run.count} letters in one PDF ({size_kb:,.0f} KB) in {seconds:.1f} s "
          f"= {run.count / seconds:,.0f} letters/s")
    assert run.count == N
    reader = PdfReader(io.BytesIO(run.pdf))
    assert len(reader.pages) == N
    first, last = reader.pages[0].extract_text(), reader.pages[-1].extract_text()
    assert references[0] in first and "Bench Client0000" in first and "£95.00" in first
    assert references[-1] in last
    from conftest import all_rows

    assert len(all_rows(ClientEvent, ClientEvent.kind == "letter")) == N
    assert seconds < TARGET_SECONDS
