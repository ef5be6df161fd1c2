"""Rent arrears benchmark (``make bench``): 100,000 tenancies with 52 weeks of transactions (5.2 million rows: a
fortnightly rent charge and a fortnightly payment each), imported from one CSV; then the first recompute (which puts
every tenancy more than a week behind into the first stage, with its case, letter and intention); then a weekly
file of 100,000 rows and its recompute; then the caseload list.

Targets (PostgreSQL, 2 cores): the 5.2 M-row import under 2 minutes with bounded memory; the weekly file's import
and recompute under 30 s; the caseload p95 under 200 ms. The figures depend on how busy the machine is, so they are
printed and written with the load average to ``tests/perf/results/rent_arrears.json``; correctness and bounded
memory are asserted. ``BENCH_TENANCIES`` changes the number of tenancies.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import DIALECT, actor_for
from rent_support import seed
from sqlalchemy import func
from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.models.casework import Person, Place
from atlas_app.models.rent_arrears import RentTenancy, RentTenant, RentTransaction
from atlas_app.services.modules.rent_arrears import imports, recompute, tenancies

TENANCIES = int(os.environ.get("BENCH_TENANCIES", "100000"))
RESULTS = Path(__file__).parent / "results" / "rent_arrears.json"
START = date(2025, 1, 6)  # a Monday
FORTNIGHTS = 26


def _seed_tenancies(org_id: int) -> None:
    rng = random.Random(14)
    with write_session() as s:
        s.execute(Place.__table__.insert(), [
            {"organisation_id": org_id, "uprn": 200_000_000_000 + n, "address_line1": f"{n % 300 + 1} Bench Street",
             "address_line2": "", "address_line3": "", "town": "Hartlepool", "postcode": "TS24 8AA",
             "postcode_key": "TS248AA", "search_text": "", "classification": "RD04", "status": "approved",
             "source": "bench", "updated_at": datetime.now(UTC)} for n in range(TENANCIES)])
        s.execute(Person.__table__.insert(), [
            {"organisation_id": org_id, "title": "", "given_name": "Tenant", "family_name": f"Number{n}",
             "preferred_language": "en", "notes": "", "name_norm": f"tenant number{n}", "given_key": "T553",
             "family_key": "N516", "created_at": datetime.now(UTC), "updated_at": datetime.now(UTC)}
            for n in range(TENANCIES)])
        places = dict(s.execute(select(Place.uprn, Place.id).where(Place.organisation_id == org_id)).all())
        people = dict(s.execute(select(Person.family_name, Person.id).where(Person.organisation_id == org_id)).all())
        s.execute(RentTenancy.__table__.insert(), [
            {"organisation_id": org_id, "rent_account": f"RA{n:07d}", "place_id": places[200_000_000_000 + n],
             "patch": f"Patch {n % 12 + 1}", "start_date": START - timedelta(days=365),
             "weekly_rent_pence": rng.randrange(8_000, 12_000, 5), "balance_pence": 0, "arrears_weeks_x100": 0,
             "trend_4w_pence": 0, "trend_13w_pence": 0, "arrangement_broken": False,
             "created_at": datetime.now(UTC)} for n in range(TENANCIES)])
        ids = dict(s.execute(select(RentTenancy.rent_account, RentTenancy.id)
                             .where(RentTenancy.organisation_id == org_id)).all())
        s.execute(RentTenant.__table__.insert(), [
            {"organisation_id": org_id, "tenancy_id": ids[f"RA{n:07d}"], "person_id": people[f"Number{n}"]}
            for n in range(TENANCIES)])


def _rents(org_id: int) -> dict[str, int]:
    with read_session() as s:
        return dict(s.exec(select(RentTenancy.rent_account, RentTenancy.weekly_rent_pence)
                           .where(RentTenancy.organisation_id == org_id)).all())


def _year_file(path: Path, rents: dict[str, int]) -> int:
    """Each tenancy: a charge of two weeks' rent every other Monday and a payment each following Thursday; 90% pay
    in full, 7% pay 80% of it, 3% stop paying for the last eight weeks."""
    rows = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("transaction_id,rent_account,date,type,method,amount\n")
        for n, (account, weekly) in enumerate(sorted(rents.items())):
            charge = 2 * weekly
            kind = n % 100
            pay = charge if kind < 90 else charge * 4 // 5
            method, ptype = ("direct_debit", "payment") if n % 3 else ("", "universal_credit")
            lines = []
            for k in range(FORTNIGHTS):
                monday = START + timedelta(days=14 * k)
                lines.append(f"C{account}-{k},{account},{monday.isoformat()},charge,,{charge // 100}.{charge % 100:02d}\n")
                if kind >= 97 and k >= FORTNIGHTS - 4:
                    continue
                lines.append(f"P{account}-{k},{account},{(monday + timedelta(days=3)).isoformat()},{ptype},"
                             f"{method},{pay // 100}.{pay % 100:02d}\n")
            f.writelines(lines)
            rows += len(lines)
    return rows


def _week_file(path: Path, rents: dict[str, int], day: date) -> int:
    with path.open("w", encoding="utf-8") as f:
        f.write("transaction_id,rent_account,date,type,method,amount\n")
        for account, weekly in sorted(rents.items()):
            f.write(f"W{account},{account},{day.isoformat()},charge,,{weekly // 100}.{weekly % 100:02d}\n")
    return len(rents)


@pytest.mark.skipif(TENANCIES < 1, reason="BENCH_TENANCIES=0")
def test_rent_arrears_at_scale(tmp_path, org, make_user):
    seed(org.id)
    worker = actor_for(make_user("bench.income", roles=("Case worker",)))
    started = time.perf_counter()
    _seed_tenancies(org.id)
    rents = _rents(org.id)
    seeded = time.perf_counter() - started
    year = tmp_path / "rent-year.csv"
    rows = _year_file(year, rents)
    print(f"\nseeded {TENANCIES:,} tenancies in {seeded:.1f} s; generated {rows:,} rows "
          f"({year.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started - seeded:.1f} s")
    as_of = START + timedelta(days=14 * FORTNIGHTS - 1)

    load = {"before_import": os.getloadavg()}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = imports.import_transactions(worker, year, recompute_after=False)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load["after_import"] = os.getloadavg()
    print(f"{DIALECT}: imported {report.rows_read:,} rows in {report.seconds:.1f} s "
          f"({report.rows_read / report.seconds:,.0f} rows/s); peak RSS {rss_before:.0f} -> {rss_after:.0f} MB; "
          f"load {load['before_import'][0]:.2f} -> {load['after_import'][0]:.2f}")
    assert report.inserted == rows and report.error_count == 0

    first = recompute.recompute(worker, as_of=as_of)
    print(f"first recompute: {first.seconds:.1f} s; {first.summary}")
    load["after_first_recompute"] = os.getloadavg()

    week = tmp_path / "rent-week.csv"
    _week_file(week, rents, as_of + timedelta(days=1))
    weekly_started = time.perf_counter()
    weekly = imports.import_transactions(worker, week, as_of=as_of + timedelta(days=7))
    weekly_seconds = time.perf_counter() - weekly_started
    load["after_weekly"] = os.getloadavg()
    print(f"weekly file: {weekly.rows_read:,} rows imported and recomputed in {weekly_seconds:.1f} s "
          f"(recompute {weekly.recompute.seconds:.1f} s); {weekly.recompute.summary}")

    timings = []
    for n in range(40):
        t0 = time.perf_counter()
        rows_shown = tenancies.caseload(worker, stage="reminder" if n % 4 == 1 else "",
                                        patch="Patch 3" if n % 4 == 2 else "")
        timings.append((time.perf_counter() - t0) * 1000)
    p95 = statistics.quantiles(timings, n=20)[18]
    load["after_caseload"] = os.getloadavg()
    print(f"caseload: p50 {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms ({len(rows_shown)} rows)")

    with read_session() as s:
        assert s.exec(select(func.count()).select_from(RentTransaction)).one() == rows + TENANCIES
        in_arrears = s.exec(select(func.count()).select_from(RentTenancy)
                            .where(RentTenancy.arrears_weeks_x100 > 100)).one()
    assert in_arrears >= TENANCIES * 9 // 100
    assert rss_after - rss_before < 300, "memory grew with the file"
    _record({"tenancies": TENANCIES, "rows": rows, "import_seconds": round(report.seconds, 1),
             "import_rows_per_second": round(report.rows_read / report.seconds),
             "peak_rss_mb": {"before": round(rss_before), "after": round(rss_after)},
             "first_recompute_seconds": round(first.seconds, 1), "first_recompute": first.summary,
             "weekly_rows": weekly.rows_read, "weekly_import_and_recompute_seconds": round(weekly_seconds, 1),
             "weekly_recompute_seconds": round(weekly.recompute.seconds, 1),
             "caseload_ms": {"p50": round(statistics.median(timings)), "p95": round(p95)},
             "cpus": os.cpu_count(), "load_average": {k: [round(x, 2) for x in v] for k, v in load.items()}})


def _record(run: dict) -> None:
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    results.setdefault("runs", {})[DIALECT] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), **run}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
