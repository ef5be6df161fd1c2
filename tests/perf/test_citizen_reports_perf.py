"""Residents' reports benchmark (``make bench``): 100,000 open reports over 50 categories in one organisation.

Targets: the duplicate check p95 < 50 ms; the map query for a 2 km box p95 < 200 ms (``queue.map_points``, what the
staff queue's map asks for the visible box; the staff list of the same box, 500 full rows, is reported beside it); the
staff list with any single
filter p95 < 200 ms; submissions without photos through the HTTP route (``POST /api/report/{slug}``, served as in
production by granian with 2 workers, driven over loopback 20 at a time) at least 50 a second with p95 < 300 ms on
PostgreSQL. ``BENCH_REPORTS`` changes
the count. Figures are printed and written to ``tests/perf/results/citizen_reports.json`` (one entry per database), with the
load average; as in the other benchmarks, correctness is asserted and timings are reported against the targets.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from api_server import post_load, serve_api
from conftest import DIALECT, actor_for
from sqlalchemy import insert, select

from atlas_app.db import utcnow, write_session
from atlas_app.domain.statuses import ReportStatus
from atlas_app.models.casework import Case, CaseLookup, CaseModule, Demand
from atlas_app.models.environmental import Report, ReportCategory
from atlas_app.services.casework import config
from atlas_app.services.modules.environmental_ticketing import queue as queue_service
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import geo

REPORTS = int(os.environ.get("BENCH_REPORTS", "100000"))
CATEGORIES = 50
RESULTS = Path(__file__).parent / "results" / "citizen_reports.json"
# A 20 km square around Hartlepool.
E0, N0, SIDE = 440000.0, 522000.0, 20000.0


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def _timed(fn, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _seed(org_id: int) -> tuple[int, list[int]]:
    rng = random.Random(7)
    now = utcnow()
    with write_session() as s:
        config.seed_configuration(s, org_id)
        module = s.exec(select(CaseModule).where(CaseModule.organisation_id == org_id,
                                                 CaseModule.module_type == "environmental_ticketing")).scalar_one()
        types = []
        for n in range(CATEGORIES):
            t = CaseLookup(organisation_id=org_id, module_id=module.id, kind="demand_type",
                           name=f"Bench problem {n:02d}", demand_class="value", sort_order=100 + n)
            s.add(t)
            types.append(t)
        s.flush()
        cats = []
        for n, t in enumerate(types):
            c = ReportCategory(organisation_id=org_id, module_id=module.id, demand_type_id=t.id, is_public=True,
                               promise_days=5, sort_order=n)
            s.add(c)
            cats.append(c)
        s.flush()
        cat_ids = [c.id for c in cats]
        type_of = {c.id: c.demand_type_id for c in cats}
        conn = s.connection()
        batch = 5000
        statuses = list(ReportStatus.OPEN)
        for start in range(0, REPORTS, batch):
            n = min(batch, REPORTS - start)
            made = [now - timedelta(minutes=rng.randint(0, 30 * 24 * 60)) for _ in range(n)]
            case_ids = list(conn.execute(insert(Case.__table__).returning(Case.__table__.c.id), [
                {"organisation_id": org_id, "module_id": module.id, "title": f"Bench {start + i}", "status": "open",
                 "opened_at": made[i], "closed_at": None, "opened_by_id": None} for i in range(n)]).scalars())
            chosen = [cat_ids[rng.randrange(CATEGORIES)] for _ in range(n)]
            demand_ids = list(conn.execute(insert(Demand.__table__).returning(Demand.__table__.c.id), [
                {"organisation_id": org_id, "case_id": case_ids[i], "demand_type_id": type_of[chosen[i]],
                 "category_id": None, "demand_class": "value", "channel_id": None, "description": "bench",
                 "received_at": made[i], "one_stop": False, "need_met_at": None, "created_at": made[i]}
                for i in range(n)]).scalars())
            rows = []
            for i in range(n):
                e, no = E0 + rng.random() * SIDE, N0 + rng.random() * SIDE
                lat, lng = geo.to_wgs84(e, no)
                rows.append({
                    "organisation_id": org_id, "module_id": module.id, "case_id": case_ids[i],
                    "demand_id": demand_ids[i], "category_id": chosen[i],
                    "reference": reports.reference_of(case_ids[i]), "status": statuses[i % 3], "close_reason": "",
                    "team_id": None, "officer_id": None, "place_id": None, "uprn": 100_000_000_000 + start + i,
                    "usrn": 27_000_000 + (start + i) % 2000, "latitude": lat, "longitude": lng, "easting": e,
                    "northing": no, "location_text": f"Bench place {start + i}", "description": "bench",
                    "reporter_name": "", "reporter_email": "", "reporter_phone": "", "token_hash": "0" * 64,
                    "channel": "web", "repeat_count": 0, "due_at": made[i] + timedelta(days=7),
                    "created_at": made[i], "updated_at": made[i], "closed_at": None})
            conn.execute(insert(Report.__table__), rows)
    return module.id, cat_ids


@pytest.mark.skipif(REPORTS < 1, reason="BENCH_REPORTS=0")
def test_citizen_reports_at_100k(org, admin):
    started = time.perf_counter()
    _, cat_ids = _seed(org.id)
    seeded = time.perf_counter() - started
    if DIALECT == "postgresql":
        from atlas_app.db import get_engine
        from sqlalchemy import text

        with get_engine().begin() as conn:
            conn.execute(text("ANALYZE"))
    actor = actor_for(admin)
    rng = random.Random(11)
    reports.forget_extents()

    def point(_):
        e, n = E0 + rng.random() * SIDE, N0 + rng.random() * SIDE
        return geo.to_wgs84(e, n)

    # Half the checks are 10 m from a recent report of the same category (they find it); half anywhere.
    from atlas_app.db import read_session

    with read_session() as s:
        recent = s.execute(select(Report.easting, Report.northing, Report.category_id)
                           .where(Report.organisation_id == org.id,
                                  Report.created_at > utcnow() - timedelta(days=10))
                           .order_by(Report.id).limit(150)).all()
    points = [geo.to_wgs84(e + 10, n) for e, n, _ in recent] + [point(i) for i in range(300 - len(recent))]
    check_cats = [c for _, _, c in recent] + [cat_ids[i % CATEGORIES] for i in range(300 - len(recent))]
    locations = [reports.locate(org.id, latitude=lat, longitude=lng) for lat, lng in points]
    found = []

    def duplicate_check(i):
        found.append(len(reports.find_duplicates(org.id, check_cats[i], location=locations[i])))

    dup = _timed(duplicate_check, 300)

    def with_locate(i):
        lat, lng = points[i]
        reports.find_duplicates(org.id, check_cats[i], latitude=lat, longitude=lng)

    dup_locate = _timed(with_locate, 300)

    dlat, dlng = 1000 / 111_320, 1000 / (111_320 * 0.58)  # 1 km each way at 54.7 N

    def bbox(i):
        lat, lng = points[i]
        page = reports.list_reports(actor, bbox=(lng - dlng, lat - dlat, lng + dlng, lat + dlat), limit=500)
        assert page.rows

    box = _timed(bbox, 100)
    everything = queue_service.QueueFilter()

    def map_box(i):
        lat, lng = points[i]
        found = queue_service.map_points(actor, everything, (lng - dlng, lat - dlat, lng + dlng, lat + dlat))
        assert found.points

    map_query = _timed(map_box, 100)
    filters = {"category": {"category_id": cat_ids[3]}, "status": {"status": "in_progress"},
               "overdue": {"overdue": True}, "due": {"sort": "due"}, "newest": {"sort": "newest"}}
    queue = {}
    for name, kw in filters.items():
        queue[name] = _timed(lambda i, kw=kw: reports.list_reports(actor, limit=50, **kw), 40)

    # Submissions through the HTTP route as production serves it (granian, 2 workers), 20 at a time.
    total = int(os.environ.get("BENCH_SUBMISSIONS", "400"))

    def body(i: int) -> bytes:
        lat, lng = points[i % len(points)]
        return urlencode({"category_id": str(cat_ids[i % CATEGORIES]), "latitude": f"{lat:.6f}",
                          "longitude": f"{lng:.6f}", "description": f"Benchmark report {i}"}).encode()

    path = f"/api/report/{org.slug}"
    with serve_api(os.environ["DATABASE_URL"], REPORTS_PER_IP_PER_HOUR="1000000",
                   REPORTS_PER_EMAIL_PER_HOUR="1000000") as port:
        post_load(port, path, [body(total + i) for i in range(40)], 20)   # warm both workers
        seconds, latencies, statuses, answers = post_load(port, path, [body(i) for i in range(total)], 20)
    assert statuses == {201: total}, (statuses, answers[:3])
    assert len({json.loads(a)["reference"] for a in answers}) == total
    rate = total / seconds
    figures = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "reports": REPORTS, "categories": CATEGORIES,
        "seed_seconds": round(seeded, 1),
        "duplicate_check_ms": {"p50": round(statistics.median(dup), 2), "p95": round(_p95(dup), 2)},
        "duplicate_check_with_locate_ms": {"p50": round(statistics.median(dup_locate), 2),
                                           "p95": round(_p95(dup_locate), 2)},
        "map_2km_box_ms": {"p50": round(statistics.median(map_query), 2), "p95": round(_p95(map_query), 2)},
        "list_2km_box_500_rows_ms": {"p50": round(statistics.median(box), 2), "p95": round(_p95(box), 2)},
        "queue_single_filter_p95_ms": {k: round(_p95(v), 2) for k, v in queue.items()},
        "submissions": {"count": total, "concurrency": 20, "per_second": round(rate, 1),
                        "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(_p95(latencies), 1),
                        "server": "granian, 2 workers, API routes only"},
        "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"\n{DIALECT}: {json.dumps(figures, indent=2)}")
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    results.setdefault("runs", {})[DIALECT] = figures
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    assert sum(1 for f in found[:len(recent)] if f) == len(recent), "a duplicate 10 m away was not found"
    # Timings are reported against their targets, not asserted (they depend on what else the machine is doing);
    # correctness is asserted.
    print(f"targets: duplicate check p95 < 50 ms ({_p95(dup):.1f}), map box p95 < 200 ms ({_p95(map_query):.1f}; "
          f"the staff list of the box, 500 rows: {_p95(box):.1f}), "
          f"queue p95 < 200 ms ({max(_p95(v) for v in queue.values()):.1f}), submissions >= 50/s ({rate:.1f})")
    assert len(latencies) == total
