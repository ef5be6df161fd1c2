"""Gazetteer import benchmark (``make bench``): 1,000,000 generated AddressBase Plus rows.

The issue's targets are at least 50,000 rows/s on PostgreSQL and 20,000 rows/s on SQLite on a 2-core machine, with
memory bounded (the importer streams in batches, so peak memory must not grow with the file). ``BENCH_ROWS`` changes
the row count. The rate depends on how busy the machine is, so it is printed and written, with the load average, to
``tests/perf/results/gazetteer.json`` (one entry per database) rather than asserted; correctness and bounded memory
are asserted.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import DIALECT, actor_for

from atlas_app.db import read_session
from atlas_app.models.casework import Place
from atlas_app.services.casework import gazetteer
from sqlalchemy import func
from sqlmodel import select

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
TARGET = {"postgresql": 50_000, "sqlite": 20_000}
RESULTS = Path(__file__).parent / "results" / "gazetteer.json"
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
    load_before = os.getloadavg()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = gazetteer.import_gazetteer(worker, path, "abp-plus")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The file is read in a second process: its peak counts too.
    reader_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    load_after = os.getloadavg()
    rate = report.rows_read / report.seconds
    print(f"{DIALECT}: imported {report.rows_read:,} rows in {report.seconds:.1f} s = {rate:,.0f} rows/s "
          f"(target {TARGET[DIALECT]:,}); peak RSS {rss_before:.0f} MB -> {rss_after:.0f} MB "
          f"(+{rss_after - rss_before:.0f} MB), reader process peak {reader_rss:.0f} MB; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after on {os.cpu_count()} CPUs")
    _record(rate, report.seconds, rss_before, rss_after, reader_rss, load_before, load_after)
    assert report.error_count == 0 and report.inserted == ROWS
    with read_session() as s:
        assert s.exec(select(func.count()).select_from(Place)).one() == ROWS
        sample = s.exec(select(Place).where(Place.uprn == 100_000_000_000 + 7)).one()
    assert (sample.address_line1, sample.town, sample.postcode, sample.postcode_key) == (
        "8 York Road", "Hartlepool", "TS27 7HA", "TS277HA")
    assert sample.search_text == "8 york road hartlepool ts27 7ha"
    assert rss_after - rss_before < 300, "memory grew with the file"
    assert reader_rss < 400, "the reader process's memory grew with the file"


def _record(rate, seconds, rss_before, rss_after, reader_rss, load_before, load_after) -> None:
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    results.setdefault("runs", {})[DIALECT] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": ROWS,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rate),
        "target_rows_per_second": TARGET[DIALECT],
        "peak_rss_mb": {"before": round(rss_before), "after": round(rss_after), "reader_process": round(reader_rss)},
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
