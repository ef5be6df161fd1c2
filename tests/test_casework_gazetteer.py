"""Gazetteer import: every format, malformed rows with line numbers, change markers, reruns, atomicity, the CLI."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, actor_for, all_rows, run_cli
from sqlmodel import delete, select

from atlas_app.db import read_session, write_session
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


def test_a_file_with_malformed_rows_imports_nothing_and_names_every_bad_line(worker, tmp_path):
    gazetteer.import_gazetteer(worker, SAMPLE["open-uprn"], "open-uprn")
    before = snapshot(worker.organisation_id)

    def edit(lines):
        lines[2] = lines[2].replace("100110001002", "10011000X002", 1)  # bad UPRN on line 3
        lines[4] = lines[4] + ",extra"  # too many fields on line 5
        return lines

    path = rewrite(SAMPLE["abp-plus"], tmp_path / "bad.csv", edit)
    with pytest.raises(gazetteer.ImportRefused) as refused:
        gazetteer.import_gazetteer(worker, path, "abp-plus", batch_size=2)
    report = refused.value.report
    assert report.error_count == 2 and report.refused and report.inserted == 0
    assert report.errors[0].startswith("line 3: UPRN '10011000X002'")
    assert report.errors[1] == "line 5: expected 77 fields, found 78"
    # The good rows of the first batch were not kept: the database is as it was.
    assert snapshot(worker.organisation_id) == before
    job = all_rows(ImportJob, order_by=ImportJob.id)[-1]
    assert job.status == "failed" and job.created == 0 and job.errors[1:] == report.errors


def test_skip_bad_rows_imports_the_rest_and_still_names_the_bad_lines(worker, tmp_path):
    def edit(lines):
        lines[2] = lines[2].replace("100110001002", "10011000X002", 1)
        lines[4] = lines[4] + ",extra"
        return lines

    path = rewrite(SAMPLE["abp-plus"], tmp_path / "bad.csv", edit)
    report = gazetteer.import_gazetteer(worker, path, "abp-plus", skip_bad_rows=True)
    assert report.error_count == 2 and report.inserted == 4 and not report.refused
    assert report.errors[0].startswith("line 3: UPRN '10011000X002'")
    assert "2 malformed rows skipped" in report.summary
    assert set(places(worker.organisation_id)) == {100110001001, 100110001003, 100110001005, 100110001006}
    assert all_rows(ImportJob)[0].errors == report.errors


def _unclosed(lines: list[str], index: int) -> list[str]:
    """Line ``index`` loses its end part-way through a quoted field."""
    fields = lines[index].split(",")
    fields[4] = '"' + fields[4]
    lines[index] = ",".join(fields[:5])
    return lines


@pytest.mark.parametrize("fmt", list(gazetteer.FORMATS))
def test_a_line_ending_inside_a_quote_is_reported_on_its_own_line_and_loses_nothing(worker, tmp_path, fmt):
    lines = SAMPLE[fmt].read_text(encoding="utf-8-sig").splitlines()
    # A data row near the middle: a place's row (Plus, Open UPRN) or a BLPU (Premium, DTF 7.3).
    index = next(i for i, line in enumerate(lines) if line.startswith(("21,", "100110001003")))
    uprn = int(lines[index].split(",")[3 if lines[index].startswith("21,") else 0])
    path = tmp_path / "cut.csv"
    path.write_text("\r\n".join(_unclosed(lines, index)) + "\r\n", encoding="utf-8")
    with pytest.raises(gazetteer.ImportRefused) as refused:
        gazetteer.import_gazetteer(worker, path, fmt)
    assert refused.value.report.errors == [f"line {index + 1}: {gazetteer.UNCLOSED_MESSAGE}"]
    assert places(worker.organisation_id) == {}
    report = gazetteer.import_gazetteer(worker, path, fmt, skip_bad_rows=True)
    assert report.errors == [f"line {index + 1}: {gazetteer.UNCLOSED_MESSAGE}"]
    full = {"open-uprn": 7}.get(fmt, 6)
    got = places(worker.organisation_id)
    # The row after the cut one is imported; only the cut row's own data is missing.
    next_line = next(line for line in lines[index + 1:] if line.startswith(("21,", "100")))
    next_uprn = int(next_line.split(",")[3 if next_line.startswith("21,") else 0])
    assert next_uprn in got and got[next_uprn].x_coordinate is not None
    if fmt in ("abp-plus", "open-uprn"):
        assert len(got) == full - 1 and uprn not in got
    else:
        # The place keeps its address (from its LPI) but has no BLPU: no coordinates.
        assert len(got) == full and got[uprn].x_coordinate is None


def test_premium_record_with_wrong_field_count_is_reported(worker, tmp_path):
    def edit(lines):
        lines[5] = lines[5].rsplit(",", 1)[0]  # a BLPU (type 21) missing its last field
        lines.insert(7, "77,I,1,12345")  # an unknown record type
        return lines

    path = rewrite(SAMPLE["abp-premium"], tmp_path / "bad.csv", edit)
    with pytest.raises(gazetteer.ImportRefused) as refused:
        gazetteer.import_gazetteer(worker, path, "abp-premium")
    assert refused.value.report.errors[0] == "line 6: record type 21 needs 22 fields, found 21"
    assert refused.value.report.errors[1] == "line 8: unknown record type '77'"


# --- per-record-type files, as OS's splitter writes them ------------------------------------------------------

SPLIT_NAMES = {"10": "ID10_Header_Records.csv", "15": "ID15_StreetDesc_Records.csv", "21": "ID21_BLPU_Records.csv",
               "24": "ID24_LPI_Records.csv", "28": "ID28_DPA_Records.csv", "32": "ID32_Class_Records.csv",
               "99": "ID99_Trailer_Records.csv"}
OS_HEADER_NAMES = {"LOCALITY": "LOCALITY_NAME", "ADMINISTRATIVE_AREA": "ADMINSTRATIVE_AREA"}


def split_premium(folder: Path, *, with_dpa: bool = True, reorder: bool = False) -> Path:
    """The Premium sample split into one file per record type, each with OS's header row. ``reorder`` writes the
    BLPU file's columns in reverse order (its header says so). A delivery point file is added for every place."""
    folder.mkdir()
    by_type: dict[str, list[list[str]]] = {}
    for line in SAMPLE["abp-premium"].read_text(encoding="utf-8-sig").splitlines():
        fields = line.split(",")
        by_type.setdefault(fields[0], []).append(fields)
    if with_dpa:
        layout = gazetteer.PREMIUM_RECORDS["28"]
        for blpu in by_type["21"]:
            row = dict.fromkeys(layout, "")
            row.update(RECORD_IDENTIFIER="28", CHANGE_TYPE="I", PRO_ORDER="1", UPRN=blpu[3], UDPRN="1",
                       POSTCODE=blpu[20], POST_TOWN="HARTLEPOOL")
            by_type.setdefault("28", []).append([row[c] for c in layout])
    for rtype, rows in by_type.items():
        header = [OS_HEADER_NAMES.get(c, c) for c in gazetteer.PREMIUM_RECORDS[rtype]]
        order = list(range(len(header)))
        if reorder and rtype == "21":
            order.reverse()
        text = [",".join(header[i] for i in order)] + [",".join(f'"{r[i]}"' if r[i] else "" for i in order)
                                                        for r in rows]
        (folder / SPLIT_NAMES[rtype]).write_text("\n".join(text) + "\n", encoding="utf-8")
    return folder


def test_per_record_files_in_a_folder_or_zip_give_the_same_places_as_the_single_file(worker, tmp_path):
    gazetteer.import_gazetteer(worker, SAMPLE["abp-premium"], "abp-premium")
    single = snapshot(worker.organisation_id)
    folder = split_premium(tmp_path / "split", reorder=True)
    archive = tmp_path / "AddressBasePremium_FULL.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", folder)
    for source in (folder, archive):
        with write_session() as s:
            s.exec(delete(Place).where(Place.organisation_id == worker.organisation_id))
        report = gazetteer.import_gazetteer(worker, source, "abp-premium")
        assert report.error_count == 0 and report.inserted == 6
        assert snapshot(worker.organisation_id) == single
        flat = places(worker.organisation_id)[100110001005]
        assert flat.address_line2 == "21 York Road" and flat.town == "Hartlepool" and flat.postcode == "TS26 9DE"


def test_a_header_row_gives_the_column_order_of_its_record_type(worker, tmp_path):
    folder = split_premium(tmp_path / "split", reorder=True)
    lines = [line for name in ("ID15_StreetDesc_Records.csv", "ID21_BLPU_Records.csv", "ID24_LPI_Records.csv")
             for line in (folder / name).read_text().splitlines()]
    one = tmp_path / "with-headers.csv"
    one.write_text("\n".join(lines) + "\n")
    report = gazetteer.import_gazetteer(worker, one, "abp-premium")
    assert report.error_count == 0 and report.rows_read == 15  # 3 streets, 6 BLPUs, 6 LPIs; headers are not rows
    flat = places(worker.organisation_id)[100110001005]
    assert (flat.x_coordinate, flat.parent_uprn, flat.address_line1) == (450555.0, 100110001004,
                                                                          "Flat 1, Victoria House")


@pytest.mark.parametrize(("files", "reason"), [
    (["ID21_BLPU_Records.csv"], "BLPU records only: the street descriptors (record 15) and addresses (24/28) are in "
                                "other files; import the folder or zip"),
    (["ID24_LPI_Records.csv"], "LPI records only: the street descriptors (record 15) and BLPUs with the coordinates "
                               "(record 21) are in other files"),
    (["ID21_BLPU_Records.csv", "ID24_LPI_Records.csv"], "BLPU and LPI records only: the street descriptors "
                                                        "(record 15) are in other files"),
    (["ID28_DPA_Records.csv"], "delivery point records only"),
    (["ID32_Class_Records.csv"], "classification records only"),
])
def test_a_lone_record_file_is_refused_with_the_reason(worker, tmp_path, files, reason):
    folder = split_premium(tmp_path / "split")
    if len(files) == 1:
        source = folder / files[0]
    else:
        source = tmp_path / "some"
        source.mkdir()
        for name in files:
            shutil.copy(folder / name, source / name)
    with pytest.raises(ValidationFailed, match=re.escape(reason)):
        gazetteer.import_gazetteer(worker, source, "abp-premium")
    assert places(worker.organisation_id) == {}


def test_a_change_only_file_of_delete_markers_needs_no_other_records(worker, tmp_path):
    gazetteer.import_gazetteer(worker, SAMPLE["abp-premium"], "abp-premium")
    blpus = [line for line in SAMPLE["abp-premium"].read_text().splitlines() if line.startswith("21,")]
    cou = tmp_path / "cou.csv"
    cou.write_text("\r\n".join(line.replace("21,I,", "21,D,", 1) for line in blpus[:2]) + "\r\n")
    report = gazetteer.import_gazetteer(worker, cou, "abp-premium")
    assert report.deleted == 2
    assert places(worker.organisation_id)[100110001001].status == "deleted"


def test_an_lpi_naming_a_street_the_files_lack_is_a_malformed_row(worker, tmp_path):
    def edit(lines):
        lines[11] = lines[11].replace(",27000101,", ",27000999,")  # line 12: the LPI of 100110001002
        return lines

    path = rewrite(SAMPLE["abp-premium"], tmp_path / "street.csv", edit)
    with pytest.raises(gazetteer.ImportRefused) as refused:
        gazetteer.import_gazetteer(worker, path, "abp-premium")
    assert refused.value.report.errors == ["line 12: the LPI of UPRN 100110001002 names street USRN 27000999, which "
                                           "has no street descriptor (record 15)"]
    report = gazetteer.import_gazetteer(worker, path, "abp-premium", skip_bad_rows=True)
    assert report.inserted == 5 and 100110001002 not in places(worker.organisation_id)


def test_errors_in_per_record_files_name_the_file(worker, tmp_path):
    folder = split_premium(tmp_path / "split")
    blpu = folder / "ID21_BLPU_Records.csv"
    lines = blpu.read_text().splitlines()
    lines[2] = lines[2].replace('"100110001002"', '"X"', 1)
    blpu.write_text("\n".join(lines) + "\n")
    with pytest.raises(gazetteer.ImportRefused) as refused:
        gazetteer.import_gazetteer(worker, folder, "abp-premium")
    assert refused.value.report.errors == ["ID21_BLPU_Records.csv line 3: UPRN 'X' is not a number of up to 12 "
                                           "digits"]


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
    result = run_cli("import-gazetteer", str(SAMPLE["dtf73"]), "--format", "nope", "--org", "hartlepool")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_cli_refuses_a_file_with_bad_rows_unless_told_to_skip_them(org, tmp_path):
    bad = tmp_path / "bad.csv"
    shutil.copy(SAMPLE["open-uprn"], bad)
    with bad.open("a") as f:
        f.write("notanumber,1,2,3,4\r\n")
    result = run_cli("import-gazetteer", str(bad), "--format", "open-uprn", "--org", "hartlepool")
    assert result.returncode == 1
    assert "Nothing imported" in result.stderr and "line 9: UPRN 'notanumber'" in result.stderr
    with read_session() as s:
        assert s.exec(select(Place).where(Place.organisation_id == org.id)).all() == []
    result = run_cli("import-gazetteer", str(bad), "--format", "open-uprn", "--org", "hartlepool", "--skip-bad-rows")
    assert result.returncode == 1
    assert "7 places added" in result.stdout and "line 9: UPRN 'notanumber'" in result.stdout
    with read_session() as s:
        assert len(s.exec(select(Place).where(Place.organisation_id == org.id)).all()) == 7


def test_cli_imports_a_zip_of_record_files_and_refuses_a_lone_blpu_file(org, tmp_path):
    folder = split_premium(tmp_path / "split")
    archive = Path(shutil.make_archive(str(tmp_path / "abp"), "zip", folder))
    result = run_cli("import-gazetteer", str(folder / "ID21_BLPU_Records.csv"), "--format", "abp-premium", "--org",
                     "hartlepool")
    assert result.returncode == 2 and "BLPU records only" in result.stderr
    result = run_cli("import-gazetteer", str(archive), "--format", "abp-premium", "--org", "hartlepool")
    assert result.returncode == 0, result.stderr
    assert "6 places added" in result.stdout


def test_open_uprn_is_read_from_the_zip_os_supplies(worker, tmp_path):
    import zipfile

    archive = tmp_path / "osopenuprn_202411_csv.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(SAMPLE["open-uprn"], "osopenuprn_202411.csv")
    report = gazetteer.import_gazetteer(worker, archive, "open-uprn")
    assert (report.inserted, report.error_count) == (7, 0)
    with pytest.raises(ValidationFailed, match="one CSV file at a time"):
        gazetteer.import_gazetteer(worker, archive, "abp-plus")
