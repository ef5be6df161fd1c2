"""The AddressBase Plus fast path gives exactly the places (and search keys) the field-by-field rules give, in both
its forms (row tuples for SQLite, COPY text for PostgreSQL); the second reader process imports the same places,
reports malformed rows with their line numbers, calls progress, and a failure in it undoes the whole import."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime

import pytest
from conftest import PROJECT_ROOT, actor_for, all_rows

from atlas_app.models import ImportJob
from atlas_app.models.casework import Place
from atlas_app.services.casework import gazetteer
from atlas_app.services.casework.places import search_places
from atlas_app.services.casework.gazetteer import RowError, _change, _float, _number, _uprn, address_values

SAMPLE = PROJECT_ROOT / "assets" / "samples" / "gazetteer-abp-plus.csv"
NOW = datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC)
COLS = gazetteer.PLUS_COLUMNS


def reference(row: dict[str, str]) -> tuple[int, dict | None]:
    """One AddressBase Plus row by the field-by-field rules (``address_values``): (UPRN, values or None)."""
    g = lambda name: row.get(name, "")  # noqa: E731
    uprn = _uprn(g("UPRN"))
    if _change(g("CHANGE_TYPE")) == "D":
        return uprn, None
    return uprn, {
        "parent_uprn": _uprn(g("PARENT_UPRN"), "PARENT_UPRN", required=False),
        "x_coordinate": _float(g("X_COORDINATE"), "X_COORDINATE"),
        "y_coordinate": _float(g("Y_COORDINATE"), "Y_COORDINATE"),
        "latitude": _float(g("LATITUDE"), "LATITUDE"),
        "longitude": _float(g("LONGITUDE"), "LONGITUDE"),
        "classification": g("CLASS").strip()[:10],
        "status": "approved",
        **address_values(
            sao_text=g("SAO_TEXT") or g("SUB_BUILDING_NAME"),
            sao_number=_number(g("SAO_START_NUMBER"), g("SAO_START_SUFFIX"), g("SAO_END_NUMBER"),
                               g("SAO_END_SUFFIX")) if g("SAO_START_NUMBER") else "",
            pao_text=g("PAO_TEXT") or g("BUILDING_NAME"),
            pao_number=(_number(g("PAO_START_NUMBER"), g("PAO_START_SUFFIX"), g("PAO_END_NUMBER"),
                                g("PAO_END_SUFFIX")) if g("PAO_START_NUMBER") else "") or g("BUILDING_NUMBER").strip(),
            street=g("STREET_DESCRIPTION") or g("THOROUGHFARE"),
            locality=g("LOCALITY") or g("DEPENDENT_LOCALITY"),
            town=g("TOWN_NAME") or g("POST_TOWN"),
            postcode=g("POSTCODE_LOCATOR") or g("POSTCODE"),
            usrn=_uprn(g("USRN"), "USRN", required=False),
        ),
    }


CHOICES = {
    "CHANGE_TYPE": ["I", "I", "U", "D", "", "i", " u ", "X"],
    "PARENT_UPRN": ["", "", "100110001004", "0", "12.0", "abc"],
    "X_COORDINATE": ["451234.00", "451240.5", " 12 ", "", "1e3", "east"],
    "Y_COORDINATE": ["533210.00", "", "-1.5"],
    "LATITUDE": ["54.6851000", "", "  "],
    "LONGITUDE": ["-1.2101000", "", "x1"],
    "CLASS": ["RD04", " RD06 ", "", "CR0812345678"],
    "SAO_TEXT": ["", "", "FLAT 1", "flat 2", "Flat 3", "  o'brien   suite ", "Café Rouge", "a\tb", "back\\slash"],
    "SUB_BUILDING_NAME": ["", "UNIT 4"],
    "SAO_START_NUMBER": ["", "", "1", "12"],
    "SAO_START_SUFFIX": ["", "A"],
    "SAO_END_NUMBER": ["", "3"],
    "SAO_END_SUFFIX": ["", "B"],
    "PAO_TEXT": ["", "", "VICTORIA HOUSE", "rose cottage", "ÉCOLE SAINT-JEAN", "X" * 250, "St Mary’s Lodge"],
    "BUILDING_NAME": ["", "THE OLD MILL"],
    "PAO_START_NUMBER": ["", "12", "12", "7", "101"],
    "PAO_START_SUFFIX": ["", "A"],
    "PAO_END_NUMBER": ["", "14"],
    "PAO_END_SUFFIX": ["", "B"],
    "BUILDING_NUMBER": ["", " 9 ", "1-3"],
    "STREET_DESCRIPTION": ["CHURCH STREET", "st mary's road", "", "Rue de l’Église", "YORK  ROAD", "A\\B LANE"],
    "THOROUGHFARE": ["", "HIGH STREET"],
    "LOCALITY": ["", "", "SEATON CAREW"],
    "DEPENDENT_LOCALITY": ["", "GREATHAM"],
    "TOWN_NAME": ["HARTLEPOOL", "", "stockton-on-tees", "Y" * 120],
    "POST_TOWN": ["", "HARTLEPOOL"],
    "POSTCODE_LOCATOR": ["TS24 7DJ", "ts24  7dj", "", "SW1A 1AA", "TS26 9DE EXTRA", "ts\\1"],
    "POSTCODE": ["", "TS25 1AB"],
    "USRN": ["", "27000101", "0", "x"],
}


def random_rows(n: int, seed: int = 6) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = {name: rng.choice(options) for name, options in CHOICES.items()}
        row["UPRN"] = rng.choice([str(100_000_000_000 + i % 700)] * 20 + ["", "12X", "0000", "1234567890123"])
        rows.append(row)
    return rows


def write(path, rows, header=True, extra_field_on=()):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        if header:
            writer.writerow(COLS)
        for i, row in enumerate(rows):
            fields = [row.get(c, "") for c in COLS]
            writer.writerow(fields + ["extra"] if i in extra_field_on else fields)


def expected(rows, first_line: int, extra_field_on=()):
    """(UPRN -> final row tuple or None, [(line, message)]) by the reference rules, last change per UPRN winning."""
    places, errors = {}, []
    for i, row in enumerate(rows):
        line = first_line + i
        if i in extra_field_on:
            errors.append((line, f"expected {len(COLS)} fields, found {len(COLS) + 1}"))
            continue
        try:
            uprn, values = reference(row)
        except RowError as exc:
            errors.append((line, str(exc)))
            continue
        if values is None:
            places[uprn] = None
        else:
            full = {**values, "organisation_id": 7, "uprn": uprn, "source": "abp-plus", "updated_at": NOW}
            places[uprn] = tuple(full[c] for c in gazetteer.PLACE_COLUMNS)
    return places, errors


def parse_copy_line(line: str) -> tuple:
    assert line.endswith("\n")
    out = []
    for field in line[:-1].split("\t"):
        if field == "\\N":
            out.append(None)
            continue
        out.append(field.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r").replace("\\\\", "\\"))
    return tuple(out)


def as_copy_text(row: tuple) -> tuple:
    return tuple(None if v is None else v.isoformat() if isinstance(v, datetime) else str(v) for v in row)


@pytest.mark.parametrize("header", [True, False])
def test_fast_path_gives_the_reference_places_search_keys_and_errors(tmp_path, header):
    rows = random_rows(3000)
    path = tmp_path / "plus.csv"
    write(path, rows, header=header, extra_field_on={5, 77})
    want, want_errors = expected(rows, first_line=2 if header else 1, extra_field_on={5, 77})
    assert len(want_errors) > 100 and sum(v is None for v in want.values()) > 10  # the mix really is mixed
    columns, has_header = gazetteer._plus_layout(path)
    assert has_header is header

    for copy_text in (False, True):
        got, errors, read = {}, [], 0
        for batch in gazetteer._plus_batches(path, columns, has_header, 7, "abp-plus", NOW, 10_000, copy_text):
            got.update(batch.rows)
            errors += batch.errors
            read += batch.rows_read
        assert read == len(rows)
        assert errors == want_errors
        assert got.keys() == want.keys()
        for uprn, row in want.items():
            if row is None:
                assert got[uprn] is None
            elif copy_text:
                assert parse_copy_line(got[uprn]) == as_copy_text(row), uprn
            else:
                assert got[uprn] == row, uprn


def test_search_keys_of_tricky_addresses_match_address_values(tmp_path):
    # Apostrophes, accents, punctuation, case and spacing fold the same way in the cached pieces as in one string.
    row = {"UPRN": "1", "CHANGE_TYPE": "I", "X_COORDINATE": "1", "Y_COORDINATE": "2", "SAO_TEXT": "o'neill’s flat",
           "PAO_TEXT": "ÉCOLE-Ste. Marie", "PAO_START_NUMBER": "4", "PAO_START_SUFFIX": "b",
           "STREET_DESCRIPTION": "st. john`s  road", "LOCALITY": "SEATON", "TOWN_NAME": "Hartlepool",
           "POSTCODE_LOCATOR": " ts24   7dj "}
    _uprn_value, values = reference(row)
    assert values["search_text"] == "oneills flat ecole ste marie 4b st johns road seaton hartlepool ts24 7dj"
    path = tmp_path / "one.csv"
    write(path, [row])
    (batch,) = gazetteer._plus_batches(path, list(COLS), True, 7, "abp-plus", NOW, 10, False)
    place = dict(zip(gazetteer.PLACE_COLUMNS, batch.rows[1], strict=True))
    assert {k: place[k] for k in values} == values
    assert place["postcode_key"] == "TS247DJ" and place["address_line1"] == "O'neill’s Flat, ÉCOLE-Ste. Marie"


@pytest.fixture
def worker(make_user):
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


def snapshot(org_id: int) -> dict[int, tuple]:
    cols = [c for c in gazetteer.PLACE_COLUMNS if c != "updated_at"]
    return {p.uprn: tuple(getattr(p, c) for c in cols)
            for p in all_rows(Place, Place.organisation_id == org_id)}


def test_reader_process_imports_the_same_places_with_errors_and_progress(worker, tmp_path):
    rows = random_rows(1500, seed=7)
    path = tmp_path / "plus.csv"
    write(path, rows, extra_field_on={3})
    seen = []
    want, want_errors = expected(rows, first_line=2, extra_field_on={3})
    # By default the malformed rows refuse the file: every one is named and nothing is written.
    with pytest.raises(gazetteer.ImportRefused) as refused:
        gazetteer.import_gazetteer(worker, path, "abp-plus", batch_size=100, parallel=True)
    assert refused.value.report.error_count == len(want_errors)
    assert refused.value.report.errors == [f"line {line}: {message}" for line, message in want_errors][:200]
    assert snapshot(worker.organisation_id) == {}
    report = gazetteer.import_gazetteer(worker, path, "abp-plus", batch_size=100, parallel=True,
                                        progress=lambda done, total: seen.append((done, total)),
                                        skip_bad_rows=True)
    assert report.rows_read == 1500
    assert report.errors == [f"line {line}: {message}" for line, message in want_errors][:200]
    assert report.error_count == len(want_errors)
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1][0] == 1500
    live = {u for u, r in want.items() if r is not None}
    got = snapshot(worker.organisation_id)
    assert {u for u, p in got.items() if p[12] != "deleted"} == live  # p[12] is status
    parallel = got
    # The same file read in this process changes nothing.
    again = gazetteer.import_gazetteer(worker, path, "abp-plus", batch_size=100, parallel=False, skip_bad_rows=True)
    assert again.inserted == 0 and again.error_count == report.error_count
    assert snapshot(worker.organisation_id) == parallel


def test_sample_imported_by_the_reader_process_is_searchable(worker):
    report = gazetteer.import_gazetteer(worker, SAMPLE, "abp-plus", parallel=True)
    assert (report.inserted, report.error_count) == (6, 0)
    assert {p.uprn for p in search_places(worker, "ts26 9de")} == {100110001004, 100110001005, 100110001006}
    assert [p.uprn for p in search_places(worker, "rose stockton")] == [100110001003]


def test_failure_in_the_reader_process_leaves_the_previous_gazetteer(worker, tmp_path, monkeypatch):
    gazetteer.import_gazetteer(worker, SAMPLE, "abp-plus")
    before = snapshot(worker.organisation_id)
    rows = random_rows(600, seed=8)
    path = tmp_path / "plus.csv"
    write(path, rows)
    real = gazetteer._plus_batches

    def breaks_after_one_batch(*args):
        batches = real(*args)
        yield next(batches)
        raise OSError("read error on the upload")

    # The reader process is forked, so it runs the replaced generator.
    monkeypatch.setattr(gazetteer, "_plus_batches", breaks_after_one_batch)
    with pytest.raises(RuntimeError, match="read error on the upload"):
        gazetteer.import_gazetteer(worker, path, "abp-plus", batch_size=50, parallel=True)
    assert snapshot(worker.organisation_id) == before
    job = all_rows(ImportJob, order_by=ImportJob.id)[-1]
    assert job.status == "failed" and "read error on the upload" in job.errors[0]


def test_bad_header_is_refused_with_the_reader_process(worker, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("UPRN,EASTING,NORTHING\r\n1,2,3\r\n")
    with pytest.raises(gazetteer.ValidationFailed, match="X_COORDINATE"):
        gazetteer.import_gazetteer(worker, path, "abp-plus", parallel=True)
    assert snapshot(worker.organisation_id) == {}
