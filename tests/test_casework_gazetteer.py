"""Gazetteer import: every format, malformed rows with line numbers, change markers, reruns, atomicity, the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, actor_for, all_rows, run_cli
from sqlmodel import select

from atlas_app.db import read_session
from atlas_app.models import ImportJob
from atlas_app.models.casework import Place
from atlas_app.services.casework import gazetteer
from atlas_app.services.casework.places import get_place, search_places
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed

SAMPLES = PROJECT_ROOT / "assets" / "samples"
SAMPLE = {fmt: SAMPLES / f"gazetteer-{fmt}.csv" for fmt in gazetteer.FORMATS}


@pytest.fixture
def worker(make_user):
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


def places(org_id: int) -> dict[int, Place]:
    return {p.uprn: p for p in all_rows(Place, Place.organisation_id == org_id)}


def snapshot(org_id: int) -> dict[int, tuple]:
    cols = [c for c in gazetteer.PLACE_COLUMNS if c != "updated_at"]
    return {u: tuple(getattr(p, c) for c in cols) for u, p in places(org_id).items()}


def rewrite(src: Path, dst: Path, edit) -> Path:
    lines = src.read_text(encoding="utf-8-sig").splitlines()
    dst.write_text("\r\n".join(edit(lines)) + "\r\n", encoding="utf-8")
    return dst


@pytest.mark.parametrize("fmt", ["abp-plus", "abp-premium", "dtf73"])
def test_each_address_format_imports_the_sample(worker, fmt):
    report = gazetteer.import_gazetteer(worker, SAMPLE[fmt], fmt)
    assert report.error_count == 0, report.errors
    assert (report.inserted, report.updated, report.deleted) == (6, 0, 0)
    got = places(worker.organisation_id)
    flat = got[100110001005]
    assert flat.parent_uprn == 100110001004
    assert flat.address_line1 == "Flat 1, Victoria House"
    assert flat.address_line2 == "21 York Road"
    assert flat.town == "Hartlepool" and flat.postcode == "TS26 9DE" and flat.postcode_key == "TS269DE"
    assert flat.classification == "RD06" and flat.status == "approved"
    assert flat.x_coordinate == 450555.0 and flat.usrn == 27000103
    assert got[100110001003].address_line1 == "Rose Cottage"
    assert got[100110001003].address_line2 == "3 Stockton Road"
    job = all_rows(ImportJob)[0]
    assert job.status == "done" and job.created == 6 and job.kind == "gazetteer"


def test_open_uprn_adds_coordinates_without_blanking_addresses(worker):
    gazetteer.import_gazetteer(worker, SAMPLE["abp-plus"], "abp-plus")
    report = gazetteer.import_gazetteer(worker, SAMPLE["open-uprn"], "open-uprn")
    assert (report.inserted, report.updated) == (1, 6)
    got = places(worker.organisation_id)
    assert got[100110001001].address_line1 == "12 Church Street"
    assert got[100110001099].latitude == pytest.approx(54.6875) and got[100110001099].address_line1 == ""


@pytest.mark.parametrize("fmt", list(gazetteer.FORMATS))
def test_rerun_is_idempotent(worker, fmt):
    gazetteer.import_gazetteer(worker, SAMPLE[fmt], fmt)
    first = snapshot(worker.organisation_id)
    report = gazetteer.import_gazetteer(worker, SAMPLE[fmt], fmt)
    assert report.inserted == 0 and report.error_count == 0
    assert snapshot(worker.organisation_id) == first


def test_malformed_rows_are_reported_with_line_numbers_and_the_rest_imported(worker, tmp_path):
    def edit(lines):
        lines[2] = lines[2].replace("100110001002", "10011000X002", 1)  # bad UPRN on line 3
        lines[4] = lines[4] + ",extra"  # too many fields on line 5
        return lines

    path = rewrite(SAMPLE["abp-plus"], tmp_path / "bad.csv", edit)
    report = gazetteer.import_gazetteer(worker, path, "abp-plus")
    assert report.error_count == 2 and report.inserted == 4
    assert report.errors[0].startswith("line 3: UPRN '10011000X002'")
    assert report.errors[1] == "line 5: expected 77 fields, found 78"
    assert all_rows(ImportJob)[0].errors == report.errors


def test_premium_record_with_wrong_field_count_is_reported(worker, tmp_path):
    def edit(lines):
        lines[5] = lines[5].rsplit(",", 1)[0]  # a BLPU (type 21) missing its last field
        lines.insert(7, "77,I,1,12345")  # an unknown record type
        return lines

    path = rewrite(SAMPLE["abp-premium"], tmp_path / "bad.csv", edit)
    report = gazetteer.import_gazetteer(worker, path, "abp-premium")
    assert report.errors[0] == "line 6: record type 21 needs 22 fields, found 21"
    assert report.errors[1] == "line 8: unknown record type '77'"


def test_change_markers_update_and_delete(worker, tmp_path):
    gazetteer.import_gazetteer(worker, SAMPLE["abp-plus"], "abp-plus")
    header, *rows = SAMPLE["abp-plus"].read_text().splitlines()
    cols = header.split(",")
    change = cols.index("CHANGE_TYPE")

    def marked(row: str, mark: str, **values) -> str:
        fields = row.split(",")
        fields[change] = mark
        for name, value in values.items():
            fields[cols.index(name)] = value
        return ",".join(fields)

    cou = tmp_path / "cou.csv"
    cou.write_text("\r\n".join([header, marked(rows[0], "U", PAO_START_NUMBER="12A"),
                                marked(rows[1], "D")]) + "\r\n")
    report = gazetteer.import_gazetteer(worker, cou, "abp-plus")
    assert (report.inserted, report.updated, report.deleted) == (0, 1, 1)
    got = places(worker.organisation_id)
    assert got[100110001001].address_line1 == "12A Church Street"
    assert got[100110001002].status == "deleted"
    # A delete marker for a place already deleted changes nothing; re-inserting brings it back.
    assert gazetteer.import_gazetteer(worker, cou, "abp-plus").deleted == 0
    gazetteer.import_gazetteer(worker, SAMPLE["abp-plus"], "abp-plus")
    assert places(worker.organisation_id)[100110001002].status == "approved"


def test_failure_part_way_leaves_the_previous_gazetteer(worker, monkeypatch):
    gazetteer.import_gazetteer(worker, SAMPLE["abp-plus"], "abp-plus")
    before = snapshot(worker.organisation_id)
    calls = {"n": 0}
    real = gazetteer._Applier.apply

    def failing(self, batch, report):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(self, batch, report)

    monkeypatch.setattr(gazetteer._Applier, "apply", failing)
    with pytest.raises(RuntimeError):
        gazetteer.import_gazetteer(worker, SAMPLE["open-uprn"], "open-uprn", batch_size=2)
    assert calls["n"] == 2  # the first batch had been written before the failure
    assert snapshot(worker.organisation_id) == before
    job = all_rows(ImportJob, order_by=ImportJob.id)[-1]
    assert job.status == "failed" and "disk full" in job.errors[0]


def test_bad_header_and_unknown_format_are_refused_before_writing(worker, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("UPRN,EASTING,NORTHING\r\n1,2,3\r\n")
    with pytest.raises(ValidationFailed, match="X_COORDINATE"):
        gazetteer.import_gazetteer(worker, path, "abp-plus")
    with pytest.raises(ValidationFailed, match="Unknown format"):
        gazetteer.import_gazetteer(worker, path, "shapefile")
    assert places(worker.organisation_id) == {}


def test_import_needs_casework_permission_and_stays_in_the_organisation(worker, other_actor, make_user):
    clerk = actor_for(make_user("ben.hughes", roles=("Booking staff",)))
    with pytest.raises(PermissionDenied):
        gazetteer.import_gazetteer(clerk, SAMPLE["abp-plus"], "abp-plus")
    gazetteer.import_gazetteer(worker, SAMPLE["abp-plus"], "abp-plus")
    # Essex imports the same UPRNs as its own rows, and cannot see Hartlepool's.
    with pytest.raises(NotFound):
        get_place(other_actor, 100110001001)
    assert search_places(other_actor, "TS24") == []
    assert gazetteer.recent_imports(other_actor) == []
    with pytest.raises(NotFound):
        gazetteer.job_errors(other_actor, gazetteer.recent_imports(worker)[0].id)


def test_place_search_by_postcode_words_and_uprn(worker):
    gazetteer.import_gazetteer(worker, SAMPLE["abp-plus"], "abp-plus")
    assert {p.uprn for p in search_places(worker, "ts26 9de")} == {100110001004, 100110001005, 100110001006}
    assert {p.uprn for p in search_places(worker, "TS24")} == {100110001001, 100110001002}
    assert [p.uprn for p in search_places(worker, "rose stockton")] == [100110001003]
    assert [p.uprn for p in search_places(worker, "100110001003")] == [100110001003]
    detail = get_place(worker, "100110001004")
    assert [c.uprn for c in detail.children] == [100110001005, 100110001006]


def test_cli_imports_a_file(org, tmp_path):
    result = run_cli("import-gazetteer", str(SAMPLE["dtf73"]), "--format", "dtf73", "--org", "hartlepool")
    assert result.returncode == 0, result.stderr
    assert "6 places added" in result.stdout
    with read_session() as s:
        assert len(s.exec(select(Place).where(Place.organisation_id == org.id)).all()) == 6
    bad = tmp_path / "bad.csv"
    shutil.copy(SAMPLE["open-uprn"], bad)
    with bad.open("a") as f:
        f.write("notanumber,1,2,3,4\r\n")
    result = run_cli("import-gazetteer", str(bad), "--format", "open-uprn", "--org", "hartlepool")
    assert result.returncode == 0
    assert "line 9: UPRN 'notanumber'" in result.stdout
    result = run_cli("import-gazetteer", str(bad), "--format", "nope", "--org", "hartlepool")
    assert result.returncode == 2 and "invalid choice" in result.stderr
