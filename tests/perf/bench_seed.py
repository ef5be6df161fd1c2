"""Seed the benchmark database: one organisation, a course, a 24-seat session for each rush run (``--rush-runs``),
plenty of seats for the steady run, offers for every attempt, and an API token. Run as a script against
DATABASE_URL; prints JSON.

    DATABASE_URL=postgresql://.../atlas_bench python tests/perf/bench_seed.py --rush-offers 300 --flow-offers 1000
"""

from __future__ import annotations

import argparse
import json
from datetime import date, time, timedelta


def seed(rush_offers: int, rush_capacity: int, flow_offers: int, flow_sessions: int, flow_capacity: int,
         rush_runs: int = 1) -> dict:
    from atlas_app.db import utcnow, write_session
    from atlas_app.models import BookingTerms, Client, ClientEvent, CourseSession, CourseType, Offer, Organisation, Venue
    from atlas_app.services.platform import api_tokens
    from atlas_app.timeutil import at_london, london_date

    today = london_date(utcnow())
    with write_session() as s:
        org = Organisation(slug="bench", name="Benchmark Borough Council")
        s.add(org)
        s.flush()
        s.add(BookingTerms(organisation_id=org.id))
        ct = CourseType(organisation_id=org.id, code="NSAC", name="National Speed Awareness Course",
                        duration_minutes=165, fee_pence=9500, delivery_modes=["classroom"], default_capacity=24)
        venue = Venue(organisation_id=org.id, name="Bench Civic Centre", address_line1="Victoria Road",
                      town="Hartlepool", postcode="TS24 8AY")
        s.add_all([ct, venue])
        s.flush()

        def session(day: int, hour: int, capacity: int) -> CourseSession:
            start = at_london(today + timedelta(days=day), time(hour, 0))
            row = CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venue.id,
                                delivery_mode="classroom", starts_at=start, ends_at=start + timedelta(minutes=165),
                                capacity=capacity)
            s.add(row)
            return row

        rushes = [session(10 + i, 9, rush_capacity) for i in range(rush_runs)]
        flow = [session(3 + i // 3, (9, 13, 18)[i % 3], flow_capacity) for i in range(flow_sessions)]
        s.flush()

        def offers(prefix: str, n: int) -> list[str]:
            clients = [Client(organisation_id=org.id, first_name="Bench", last_name=f"{prefix.title()}{i}",
                              date_of_birth=date(1980 + i % 20, 1 + i % 12, 1 + i % 28), postcode="TS24 7QS",
                              email=f"{prefix.lower()}{i}@example.com") for i in range(n)]
            s.add_all(clients)
            s.flush()
            rows = [Offer(organisation_id=org.id, offer_reference=f"{prefix}-{i + 1:05d}", client_id=c.id,
                          course_type_id=ct.id, offence_date=today - timedelta(days=20),
                          critical_date=today + timedelta(days=150), police_force="Cleveland Police")
                    for i, c in enumerate(clients)]
            s.add_all(rows)
            s.flush()
            s.add_all([ClientEvent(organisation_id=org.id, client_id=o.client_id, offer_id=o.id, kind="referred",
                                   detail=o.offer_reference) for o in rows])
            return [o.offer_reference for o in rows]

        rush_refs = [offers(f"RUSH{i + 1}", rush_offers) for i in range(rush_runs)]
        flow_refs = offers("FLOW", flow_offers)
        # Each rush run has its own session and offers, so each starts with every seat free.
        result = {"organisation_id": org.id, "rush_capacity": rush_capacity, "rush_sessions": [r.id for r in rushes],
                  "rush_runs": rush_refs, "flow_sessions": [f.id for f in flow], "flow_offers": flow_refs}
    result["token"] = api_tokens.create_for_organisation("bench", "benchmark", created_by="bench").token
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rush-offers", type=int, default=300)
    parser.add_argument("--rush-capacity", type=int, default=24)
    parser.add_argument("--rush-runs", type=int, default=1)
    parser.add_argument("--flow-offers", type=int, default=1000)
    parser.add_argument("--flow-sessions", type=int, default=50)
    parser.add_argument("--flow-capacity", type=int, default=24)
    a = parser.parse_args()
    print(json.dumps(seed(a.rush_offers, a.rush_capacity, a.flow_offers, a.flow_sessions, a.flow_capacity,
                          a.rush_runs)))
