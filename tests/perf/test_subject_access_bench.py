"""Subject access export benchmark (``make bench``): one person held as a booking client (offers, bookings,
payments, refunds, calls, timeline, emails) and a casework person (cases, demands, activities, tasks, intentions),
1,000 records and more, exported as one ZIP with its PDF summary. Target: under 60 s. Writes
``tests/perf/results/subject_access.json`` with the load average. ``BENCH_SAR_SCALE`` multiplies the record counts."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from pypdf import PdfReader
from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.models import Booking, CallLog, Client, ClientEvent, CourseSession, CourseType, EmailMessage, Offer
from atlas_app.models.casework import (
    Activity,
    Case,
    CaseLookup,
    CaseModule,
    CasePerson,
    Demand,
    Intention,
    Person,
    PersonContact,
    Task,
)
from atlas_app.models.payments import Payment, Refund
from atlas_app.services.casework import config
from atlas_app.services.platform import subject_access
from conftest import DIALECT, actor_for

SCALE = int(os.environ.get("BENCH_SAR_SCALE", "1"))
TARGET_SECONDS = 60
RESULTS = Path(__file__).resolve().parent / "results" / "subject_access.json"
EMAIL = "bench.subject@example.com"


def _lookup(s, org_id: int, kind: str) -> int:
    return s.exec(select(CaseLookup.id).where(CaseLookup.organisation_id == org_id, CaseLookup.kind == kind)).first()


def _seed(org_id: int) -> int:
    """The records; returns the client's id."""
    now = utcnow().replace(microsecond=0)
    today = now.date()
    with write_session() as s:
        config.seed_configuration(s, org_id)
        s.flush()
        ct = CourseType(organisation_id=org_id, code="NSAC", name="National Speed Awareness Course", fee_pence=9500,
                        delivery_modes=["online"], default_capacity=500)
        s.add(ct)
        s.flush()
        cs = CourseSession(organisation_id=org_id, course_type_id=ct.id, delivery_mode="online",
                           starts_at=now - timedelta(days=30), ends_at=now - timedelta(days=30, hours=-3),
                           capacity=1000)
        s.add(cs)
        client = Client(organisation_id=org_id, first_name="Bench", last_name="Subject",
                        date_of_birth=date(1975, 3, 4), email=EMAIL, postcode="TS24 7QS")
        s.add(client)
        s.flush()
        offers = [Offer(organisation_id=org_id, offer_reference=f"SAR-{i:06d}", client_id=client.id,
                        course_type_id=ct.id, offence_date=today - timedelta(days=400 - i),
                        critical_date=today - timedelta(days=250 - i), status="completed")
                  for i in range(120 * SCALE)]
        s.add_all(offers)
        s.flush()
        bookings = [Booking(organisation_id=org_id, reference=f"SAR-{i:07d}", offer_id=o.id, session_id=cs.id,
                            status="attended", channel="telephone", fee_pence=9500) for i, o in enumerate(offers)]
        s.add_all(bookings)
        s.flush()
        payments = [Payment(organisation_id=org_id, booking_id=b.id, amount_pence=9500, method="card_telephone",
                            provider="offline", status="succeeded") for b in bookings]
        s.add_all(payments)
        s.flush()
        s.add_all([Refund(organisation_id=org_id, payment_id=p.id, amount_pence=500, reason="Goodwill",
                          status="succeeded") for p in payments[:20 * SCALE]])
        s.add_all([CallLog(organisation_id=org_id, client_id=client.id, call_type="booking", outcome="booked",
                           notes=f"Call {i}") for i in range(160 * SCALE)])
        s.add_all([ClientEvent(organisation_id=org_id, client_id=client.id, offer_id=o.id, kind="letter",
                               detail=f"Course reminder for {o.offer_reference}") for o in offers])
        s.add_all([EmailMessage(organisation_id=org_id, to_address=EMAIL, subject=f"Your course {i}",
                                body_text="Dear Bench Subject,\n\nYour course is booked.") for i in range(60 * SCALE)])
        person = Person(organisation_id=org_id, given_name="Bench", family_name="Subject",
                        date_of_birth=date(1975, 3, 4))
        s.add(person)
        s.flush()
        email_type = s.exec(select(CaseLookup.id).where(CaseLookup.organisation_id == org_id,
                                                        CaseLookup.kind == "contact_type",
                                                        CaseLookup.name == "Email")).one()
        s.add(PersonContact(organisation_id=org_id, person_id=person.id, contact_type_id=email_type, value=EMAIL))
        module_id = s.exec(select(CaseModule.id).where(CaseModule.organisation_id == org_id)).first()
        demand_type, task_category = _lookup(s, org_id, "demand_type"), _lookup(s, org_id, "task_category")
        intention_type = _lookup(s, org_id, "intention_type")
        cases = [Case(organisation_id=org_id, module_id=module_id, title=f"Enquiry {i}") for i in range(40 * SCALE)]
        s.add_all(cases)
        s.flush()
        received = datetime(2025, 1, 1, 9, tzinfo=timezone.utc)
        s.add_all([CasePerson(organisation_id=org_id, case_id=c.id, person_id=person.id) for c in cases])
        s.add_all([Demand(organisation_id=org_id, case_id=c.id, demand_type_id=demand_type, demand_class="value",
                          description=f"Demand {j}", received_at=received) for c in cases for j in range(2)])
        activities = [Activity(organisation_id=org_id, case_id=c.id, occurred_at=received, note=f"Visit {j}")
                      for c in cases for j in range(2)]
        s.add_all(activities)
        s.flush()
        s.add_all([Task(organisation_id=org_id, activity_id=a.id, task_category_id=task_category,
                        person_id=person.id, minutes=15) for a in activities])
        s.add_all([Intention(organisation_id=org_id, case_id=c.id, intention_type_id=intention_type,
                             due_on=today + timedelta(days=7)) for c in cases])
        return client.id


def test_subject_access_export_of_1000_records(admin, org):
    actor = actor_for(admin)
    client_id = _seed(org.id)
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    run = subject_access.export(actor, "client", client_id)
    seconds = time.perf_counter() - started
    load_after = [round(x, 2) for x in os.getloadavg()]
    with zipfile.ZipFile(io.BytesIO(run.data)) as zf:
        counts = json.loads(zf.read("manifest.json"))["counts"]
        pages = len(PdfReader(io.BytesIO(zf.read("summary.pdf"))).pages)
        assert len(json.loads(zf.read("bookings.json"))) == 120 * SCALE
        assert len(json.loads(zf.read("tasks.json"))) == 80 * SCALE
    print(f"\n{DIALECT}: {run.records} records, ZIP {len(run.data) / 1024:,.0f} KB, PDF {pages} pages, "
          f"in {seconds:.2f} s (load {load_before[0]})")
    assert run.records >= 1000 and len(run.person_ids) == 1
    assert counts["call_logs"] == 160 * SCALE and counts["emails"] == 60 * SCALE
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[DIALECT] = {"measured_at": utcnow().replace(microsecond=0).isoformat(), "records": run.records,
                        "zip_kb": round(len(run.data) / 1024), "pdf_pages": pages, "seconds": round(seconds, 2),
                        "target_seconds": TARGET_SECONDS, "load_average_before": load_before,
                        "load_average_after": load_after}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    assert seconds < TARGET_SECONDS
