"""Importing police referrals from CSV: the whole file is checked first and imported all or nothing, every bad row
is reported with its line number, re-imports never duplicate, clients are matched, and progress is recorded."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import (
    AuditEntry,
    Booking,
    Client,
    ClientEvent,
    CourseSession,
    CourseType,
    ImportJob,
    Offer,
    Venue,
)
from atlas_app.services.platform import audit
from atlas_app.services.booking import bookings as booking, referrals
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.timeutil import london_date
from conftest import DIALECT, actor_for, all_rows, run_cli
from referral_sample import current_sample_path

SAMPLE = current_sample_path()
HEADER = ("Offer reference,Course type,First name,Last name,Date of birth,Driving licence number,Address line 1,"
          "Address line 2,Town,Postcode,Email,Phone,Offence date,Critical date,Police force")


def add_course_types(org_id: int, *codes: str) -> None:
    with write_session() as s:
        for code in codes:
            s.add(CourseType(organisation_id=org_id, code=code, name=f"{code} course", fee_pence=9500,
                             delivery_modes=["classroom"], default_capacity=24))


@pytest.fixture
def types(org):
    add_course_types(org.id, "NSAC", "NMAC", "WDU", "SCD", "RIDE")


def future(days: int) -> str:
    return (london_date(utcnow()) + timedelta(days=days)).isoformat()


def past(days: int) -> str:
    return (london_date(utcnow()) - timedelta(days=days)).isoformat()


def row(ref: str, course: str = "NSAC", first: str = "Sam", last: str = "Smith", dob: str = "1985-03-14",
        licence: str = "", postcode: str = "TS24 7QS", email: str = "", offence: str | None = None,
        critical: str | None = None, force: str = "Cleveland Police") -> str:
    return ",".join([ref, course, first, last, dob, licence, "1 High Street", "", "Hartlepool", postcode, email,
                     "", offence or past(20), critical or future(90), force])


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def counts() -> tuple[int, int, int]:
    return len(all_rows(Offer)), len(all_rows(Client)), len(all_rows(ClientEvent))


# --- the happy path ----------------------------------------------------------------------------------------------


def test_the_sample_file_imports(actor, org, types):
    result = referrals.import_file(actor, str(SAMPLE))

    assert result.ok, [str(e) for e in result.errors]
    assert (result.rows, result.created, result.updated, result.unchanged, result.clients_created) == (8, 8, 0, 0, 8)
    offers = all_rows(Offer, order_by=Offer.offer_reference)
    assert [o.offer_reference for o in offers][:2] == ["CLE-S-1001", "CLE-S-1002"]
    assert all(o.organisation_id == org.id and o.status == "referred" and o.source == "import" for o in offers)
    daniel = all_rows(Client, Client.last_name == "Okafor")[0]
    assert daniel.date_of_birth == date(1991, 9, 22)  # DD/MM/YYYY
    assert daniel.postcode == "TS26 9DE" and daniel.licence_number == "OKAFO909221D99CD"
    referred = all_rows(ClientEvent, ClientEvent.kind == "referred")
    assert sorted(e.offer_id for e in referred) == sorted(o.id for o in offers)
    (entry,) = all_rows(AuditEntry, AuditEntry.action == "referrals_imported")
    assert entry.after["created"] == 8 and entry.after["filename"] == "referrals-sample.csv"
    assert entry.organisation_id == org.id
    job = all_rows(ImportJob)[0]
    assert (job.status, job.rows_total, job.rows_done, job.created, job.updated, job.errors) == \
        ("done", 8, 8, 8, 0, [])
    assert job.finished_at is not None and job.started_by == actor.username


def test_reimporting_the_same_file_creates_nothing_twice(actor, types):
    data = SAMPLE.read_bytes()
    referrals.import_csv(actor, data, "a.csv")
    before = counts()

    again = referrals.import_csv(actor, data, "a.csv")

    assert again.ok
    assert (again.created, again.updated, again.unchanged, again.clients_created) == (0, 0, 8, 0)
    assert counts() == before
    assert len(all_rows(AuditEntry, AuditEntry.action == "referrals_imported")) == 2


def test_a_changed_row_updates_the_offer_and_notes_it_on_the_timeline(actor, types):
    referrals.import_csv(actor, csv_bytes(row("CLE-1", email="old@example.com"), row("CLE-2", first="Jo")))
    new_critical = future(120)

    result = referrals.import_csv(actor, csv_bytes(row("CLE-1", email="new@example.com", critical=new_critical),
                                                   row("CLE-2", first="Jo")))

    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    offer = all_rows(Offer, Offer.offer_reference == "CLE-1")[0]
    assert offer.critical_date.isoformat() == new_critical
    assert all_rows(Client, Client.id == offer.client_id)[0].email == "new@example.com"
    (event,) = all_rows(ClientEvent, ClientEvent.kind == "referral_updated")
    assert "critical date" in event.detail and "email" in event.detail
    assert len(all_rows(Offer)) == 2


def test_headers_match_ignoring_case_spaces_and_punctuation_and_a_single_name_column(actor, types):
    header = " OFFER_REFERENCE , course-type ,Name,DOB, Licence Number ,POSTCODE,offence date,Critical Date"
    data = (header + "\n"
            f"cle-9,nsac,Mary Ann Smith,14/03/1985,smith853145ma9ab,ts247qs,{past(3)},{future(40)}\n"
            "\n"
            f"CLE-10,NSAC,Cher,01/01/1970,,TS24 7QS,{past(3)},{future(40)}\n").encode()

    result = referrals.import_csv(actor, data, "odd.csv")

    assert result.ok, [str(e) for e in result.errors]
    mary = all_rows(Client, Client.last_name == "Smith")[0]
    assert (mary.first_name, mary.licence_number, mary.postcode) == ("Mary Ann", "SMITH853145MA9AB", "TS24 7QS")
    cher = all_rows(Client, Client.last_name == "Cher")[0]
    assert cher.first_name == ""
    assert {o.offer_reference for o in all_rows(Offer)} == {"CLE-9", "CLE-10"}


def test_windows_1252_and_byte_order_marks_are_read(actor, types):
    text = HEADER + "\n" + row("CLE-1", first="Zoë", last="O’Neill") + "\n"
    assert referrals.import_csv(actor, text.encode("cp1252"), "références – semaine 47.csv").ok
    assert all_rows(Client)[0].first_name == "Zoë"
    assert referrals.import_csv(actor, ("\ufeff" + text.replace("CLE-1", "CLE-2")).encode("utf-8")).ok
    assert len(all_rows(Offer)) == 2
    with read_session() as s:  # names with accents and curly quotes are hashed into the audit chain alike
        assert audit.verify_trail(s).ok


def test_an_offer_past_its_critical_date_arrives_expired(actor, types):
    result = referrals.import_csv(actor, csv_bytes(row("CLE-OLD", offence=past(200), critical=past(1))))
    assert result.ok
    offer = all_rows(Offer)[0]
    assert offer.status == "expired"
    assert {e.kind for e in all_rows(ClientEvent)} == {"referred", "offer_expired"}


# --- bad files ---------------------------------------------------------------------------------------------------


def test_any_bad_row_means_nothing_is_imported_and_every_bad_row_is_listed(actor, types):
    data = csv_bytes(
        row("CLE-1"),                                      # line 2: fine
        row("CLE-2", course="XYZ"),                        # line 3
        row("CLE-3", dob="31/02/1990"),                    # line 4
        row("CLE-4", postcode="NOT A POSTCODE"),           # line 5
        row("CLE-1"),                                      # line 6: duplicate of line 2
        row("", last=""),                                  # line 7: two things missing
        row("CLE-7", offence=past(5), critical=past(10)),  # line 8
        row("CLE-8", email="not-an-email", licence="ABC"), # line 9
        row("CLE-9", dob="2099-01-01"),                    # line 10
    )

    result = referrals.import_csv(actor, data, "bad.csv")

    assert not result.ok
    assert counts() == (0, 0, 0)
    by_line = {e.line: e.reason for e in result.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "XYZ" in by_line[3] and "NSAC" in by_line[3]
    assert "date of birth" in by_line[4] and "not a real date" in by_line[4]
    assert "postcode" in by_line[5]
    assert "line 2" in by_line[6]
    assert "offer reference is missing" in by_line[7] and "last name is missing" in by_line[7]
    assert "before the offence date" in by_line[8]
    assert "email" in by_line[9] and "licence" in by_line[9]
    assert "not believable" in by_line[10]
    job = all_rows(ImportJob)[0]
    assert job.status == "failed" and job.created == 0
    assert job.errors[0].startswith("Line 3: ") and len(job.errors) == 8
    assert all_rows(AuditEntry, AuditEntry.action == "referrals_imported") == []


def test_missing_columns_are_reported_against_the_header(actor, types):
    result = referrals.import_csv(actor, b"Offer reference,Surname,Postcode\nCLE-1,Smith,TS24 7QS\n")
    assert not result.ok
    (problem,) = result.errors
    assert problem.line == 1
    for label in ("course type", "first name", "date of birth", "offence date", "critical date"):
        assert label in problem.reason
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (HEADER.encode() + b"\n", "no offers"),
    (b"Offer reference,Reference\n", "same column"),
])
def test_empty_and_malformed_files_are_refused(actor, types, data, words):
    result = referrals.import_csv(actor, data)
    assert not result.ok and words in str(result.errors[0])


def test_a_row_with_too_many_cells_is_reported(actor, types):
    result = referrals.import_csv(actor, csv_bytes(row("CLE-1") + ",extra,cells"))
    assert not result.ok and result.errors[0].line == 2 and "cells" in result.errors[0].reason


def test_a_row_with_a_bad_date_and_an_unknown_course_type_reports_both(actor, types):
    result = referrals.import_csv(actor, csv_bytes(row("CLE-1"), row("CLE-2", course="XYZ", dob="31/02/1990")))
    assert not result.ok
    (problem,) = result.errors
    assert problem.line == 3
    assert "date of birth" in problem.reason and "not a real date" in problem.reason
    assert "course type 'XYZ' is not one of this organisation's" in problem.reason
    assert set(problem.fields) == {"date_of_birth", "course_type"}
    assert counts() == (0, 0, 0)


def test_an_unreadable_row_does_not_hide_the_database_problems_of_the_others(actor, types):
    result = referrals.import_csv(actor, csv_bytes(row("CLE-1") + ",extra", row("CLE-2", course="XYZ")))
    assert [e.line for e in result.errors] == [2, 3]
    assert "cells" in result.errors[0].reason and "XYZ" in result.errors[1].reason


def test_skip_bad_rows_imports_the_good_rows_and_lists_the_bad_ones(actor, types):
    data = csv_bytes(
        row("CLE-1"),                                  # line 2: fine
        row("CLE-2", course="XYZ", dob="31/02/1990"),  # line 3: two problems
        row("CLE-3", first="Jo", last="Bloggs"),       # line 4: fine
        row("CLE-1", first="Al", last="Other"),        # line 5: a duplicate reference
    )
    result = referrals.import_csv(actor, data, "some-bad.csv", skip_bad_rows=True)
    assert result.ok and result.created == 2 and result.skipped == 2
    assert [e.line for e in result.errors] == [3, 5]
    assert "not a real date" in result.errors[0].reason and "XYZ" in result.errors[0].reason
    assert "2 bad row(s) skipped" in result.summary()
    assert sorted(o.offer_reference for o in all_rows(Offer)) == ["CLE-1", "CLE-3"]
    job = all_rows(ImportJob)[0]
    assert job.status == "done" and job.created == 2 and len(job.errors) == 2
    # Problems with the file itself still refuse it.
    refused = referrals.import_csv(actor, b"Offer reference,Surname\nCLE-9,Smith\n", skip_bad_rows=True)
    assert not refused.ok and refused.errors[0].line == 1


def test_a_line_ending_inside_a_quote_is_reported_on_its_line_and_the_next_rows_are_kept(actor, types):
    good = [row(f"CLE-{n}", first=f"Name{n}") for n in range(1, 5)]
    cut = 'CLE-9,NSAC,"Mary'  # line 4: the line stops inside a quoted field
    data = csv_bytes(good[0], good[1], cut, good[2], good[3])
    result = referrals.import_csv(actor, data)
    assert not result.ok
    assert [(e.line, e.reason) for e in result.errors] == [(4, referrals.UNCLOSED)]
    result = referrals.import_csv(actor, data, skip_bad_rows=True)
    assert result.ok and result.created == 4 and [e.line for e in result.errors] == [4]
    assert sorted(o.offer_reference for o in all_rows(Offer)) == ["CLE-1", "CLE-2", "CLE-3", "CLE-4"]


def test_a_quoted_field_may_hold_a_line_break(actor, types):
    two_lines = row("CLE-2", first="Ann").replace("1 High Street", '"Flat 2\n1 High Street"')
    result = referrals.import_csv(actor, csv_bytes(row("CLE-1"), two_lines, row("CLE-3", first="Jo")))
    assert result.ok, result.errors
    assert result.created == 3
    client = all_rows(Client, Client.first_name == "Ann")[0]
    assert client.address_line1 == "Flat 2\n1 High Street"


# --- matching clients --------------------------------------------------------------------------------------------


def test_an_existing_client_is_matched_by_licence_then_by_name_and_birthday(actor, types):
    referrals.import_csv(actor, csv_bytes(row("CLE-1", first="Sam", last="Smith", licence="SMITH853145SA9AB"),
                                          row("CLE-2", first="Jo", last="Bloggs", dob="1990-01-01")))
    assert len(all_rows(Client)) == 2

    result = referrals.import_csv(actor, csv_bytes(
        row("CLE-3", first="Samuel", last="Smith", licence="smith853145sa9ab", email="sam@example.com"),
        row("CLE-4", first="JO", last="bloggs", dob="01/01/1990"),
        row("CLE-5", first="Jo", last="Bloggs", dob="1991-01-01"),  # another birthday: another person
    ))

    assert result.ok and result.clients_created == 1
    sam = all_rows(Offer, Offer.offer_reference == "CLE-3")[0]
    assert sam.client_id == all_rows(Offer, Offer.offer_reference == "CLE-1")[0].client_id
    assert all_rows(Client, Client.id == sam.client_id)[0].email == "sam@example.com"
    jo = all_rows(Offer, Offer.offer_reference == "CLE-4")[0]
    assert jo.client_id == all_rows(Offer, Offer.offer_reference == "CLE-2")[0].client_id
    assert len(all_rows(Client)) == 3


def test_one_new_person_on_several_rows_becomes_one_client(actor, types):
    result = referrals.import_csv(actor, csv_bytes(row("CLE-1", licence="SMITH853145SA9AB"),
                                                   row("CLE-2", course="WDU", licence="SMITH853145SA9AB"),
                                                   row("CLE-3", course="NMAC")))
    assert result.ok and result.clients_created == 1
    assert len({o.client_id for o in all_rows(Offer)}) == 1


def test_a_licence_held_by_someone_born_on_another_day_is_a_bad_row(actor, types):
    referrals.import_csv(actor, csv_bytes(row("CLE-1", licence="SMITH853145SA9AB")))
    result = referrals.import_csv(actor, csv_bytes(row("CLE-2", licence="SMITH853145SA9AB", dob="1986-03-14")))
    assert not result.ok and "licence" in result.errors[0].reason
    assert len(all_rows(Offer)) == 1


def test_an_offer_reference_now_naming_another_person_is_a_bad_row(actor, types):
    referrals.import_csv(actor, csv_bytes(row("CLE-1", first="Sam", last="Smith")))
    result = referrals.import_csv(actor, csv_bytes(row("CLE-1", first="Kim", last="Jones")))
    assert not result.ok and "different person" in result.errors[0].reason


def test_a_booked_offers_course_cannot_change(actor, org, types):
    referrals.import_csv(actor, csv_bytes(row("CLE-1", course="NSAC")))
    offer = all_rows(Offer)[0]
    with write_session() as s:
        venue = Venue(organisation_id=org.id, name="Hall", address_line1="x", town="y", postcode="TS24 8AY")
        s.add(venue)
        s.flush()
        start = utcnow() + timedelta(days=5)
        sess = CourseSession(organisation_id=org.id, course_type_id=offer.course_type_id, venue_id=venue.id,
                             delivery_mode="classroom", starts_at=start, ends_at=start + timedelta(hours=3))
        s.add(sess)
        s.flush()
        session_id = sess.id
    booking.book(actor, offer.id, session_id)

    result = referrals.import_csv(actor, csv_bytes(row("CLE-1", course="WDU")))

    assert not result.ok and "live booking" in result.errors[0].reason
    assert all_rows(Offer)[0].course_type_id == offer.course_type_id
    # Without the booking the police may change the course.
    booking.cancel(org.id, booking_reference(offer.id), actor=actor)
    assert referrals.import_csv(actor, csv_bytes(row("CLE-1", course="WDU"))).updated == 1


def booking_reference(offer_id: int) -> str:
    return all_rows(Booking, Booking.offer_id == offer_id)[0].reference


def test_organisations_keep_their_own_offers(actor, other_actor, org, other_org, types):
    add_course_types(other_org.id, "NSAC")
    assert referrals.import_csv(actor, csv_bytes(row("SHARED-1"))).ok
    result = referrals.import_csv(other_actor, csv_bytes(row("SHARED-1")))
    assert result.ok and result.created == 1 and result.clients_created == 1
    assert sorted(o.organisation_id for o in all_rows(Offer)) == sorted([org.id, other_org.id])
    assert sorted(c.organisation_id for c in all_rows(Client)) == sorted([org.id, other_org.id])


# --- transactions and progress -----------------------------------------------------------------------------------


def test_a_crash_part_way_leaves_the_database_as_it_was(actor, types, monkeypatch):
    referrals.import_csv(actor, csv_bytes(row("CLE-1", email="before@example.com")))
    before = counts()
    audit_before = len(all_rows(AuditEntry))

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(audit, "record", crash)  # the last write of the import, after every row is written
    with pytest.raises(RuntimeError):
        referrals.import_csv(actor, csv_bytes(row("CLE-1", email="after@example.com"), row("CLE-2"), row("CLE-3")))
    monkeypatch.undo()

    assert counts() == before
    assert all_rows(Client)[0].email == "before@example.com"
    assert len(all_rows(AuditEntry)) == audit_before
    job = all_rows(ImportJob, order_by=ImportJob.id)[-1]
    assert job.status == "failed" and "nothing was imported" in job.errors[0]


def test_progress_is_recorded_while_a_large_file_imports(actor, types):
    n = 2500
    rows = [row(f"BIG-{i:05d}", first=f"Person{i}", licence="") for i in range(n)]
    seen: list[tuple[int, int, str, str, int]] = []

    def watch(done: int, total: int, phase: str) -> None:
        # What another connection (the app polling) sees at this moment.
        with read_session() as s:
            job = s.exec(select(ImportJob)).one()
            seen.append((done, total, phase, job.status, job.rows_done))

    result = referrals.import_csv(actor, csv_bytes(*rows), "big.csv", on_progress=watch)

    assert result.ok and result.created == n
    phases = [p for _, _, p, _, _ in seen]
    assert "checking" in phases and "importing" in phases
    assert all(total == n for _, total, _, _, _ in seen)
    importing = [(done, status, visible) for done, _, phase, status, visible in seen if phase == "importing"]
    assert any(status == "importing" for _, status, _ in importing)
    if DIALECT == "postgresql":
        assert any(visible > 0 for _, _, visible in importing), importing  # moves during the write
    job = all_rows(ImportJob)[0]
    assert (job.status, job.rows_done, job.rows_total, job.created) == ("done", n, n, n)
    assert len(all_rows(Offer)) == n and len(all_rows(ClientEvent)) == n


def test_jobs_are_listed_per_organisation_and_claimed_once(actor, other_actor, types, make_user):
    colleague = actor_for(make_user("hbc.booking", roles=("Booking staff",)))
    job_id = referrals.start_job(actor, "upload.csv")
    assert referrals.get_job(actor, job_id).status == "queued"
    assert referrals.claim_job(colleague, job_id) is None  # only whoever uploaded the file runs it
    claimed = referrals.claim_job(actor, job_id)
    assert claimed.filename == "upload.csv" and claimed.status == "checking"
    assert referrals.claim_job(actor, job_id) is None
    assert referrals.claim_job(other_actor, job_id) is None
    assert [j.id for j in referrals.recent_jobs(actor)] == [job_id]
    assert referrals.recent_jobs(other_actor) == []
    from atlas_app.services.platform.errors import NotFound

    with pytest.raises(NotFound):
        referrals.get_job(other_actor, job_id)


def test_only_booking_managers_import(make_user, types):
    reader = actor_for(make_user("hbc.readonly", roles=("Read-only",)))
    with pytest.raises(PermissionDenied):
        referrals.import_csv(reader, csv_bytes(row("CLE-1")))
    assert all_rows(ImportJob) == []


# --- the command line ------------------------------------------------------------------------------------------


def test_the_cli_imports_a_file_and_reports_the_counts(org, types):
    done = run_cli("import-referrals", str(SAMPLE), "--org", org.slug)
    assert done.returncode == 0, done.stderr
    assert "8 new offers" in done.stdout
    again = run_cli("import-referrals", str(SAMPLE), "--org", org.slug)
    assert again.returncode == 0 and "8 unchanged" in again.stdout
    assert len(all_rows(Offer)) == 8


def test_the_cli_lists_every_bad_row_and_fails(org, types, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(row("CLE-1"), row("CLE-2", course="NOPE"), row("CLE-3", postcode="??")))

    done = run_cli("import-referrals", str(bad), "--org", org.slug)

    assert done.returncode == 1
    assert "Line 3:" in done.stderr and "Line 4:" in done.stderr and "NOPE" in done.stderr
    assert all_rows(Offer) == []


def test_the_cli_skips_bad_rows_when_told_and_still_fails(org, types, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(row("CLE-1"), row("CLE-2", course="NOPE", dob="31/02/1990"), row("CLE-3")))

    done = run_cli("import-referrals", str(bad), "--org", org.slug, "--skip-bad-rows")

    assert done.returncode == 1
    assert "2 new offers" in done.stdout and "1 bad row(s) skipped" in done.stdout
    assert "Line 3:" in done.stdout and "NOPE" in done.stdout and "not a real date" in done.stdout
    assert sorted(o.offer_reference for o in all_rows(Offer)) == ["CLE-1", "CLE-3"]


def test_the_cli_refuses_a_missing_file_or_organisation(org, types, tmp_path):
    assert run_cli("import-referrals", str(tmp_path / "none.csv"), "--org", org.slug).returncode == 2
    assert run_cli("import-referrals", str(SAMPLE), "--org", "nowhere").returncode == 2


def test_the_same_checks_serve_one_referral_from_the_api(org, types):
    api = Actor(user_id=None, username="api:test", organisation_id=org.id,
                permissions=frozenset({"bookings.view", "bookings.manage"}))
    values = {"offer_reference": "api-1", "course_type": "nsac", "name": "Pat Lee", "date_of_birth": "1980-02-02",
              "postcode": "ts24 7qs", "offence_date": past(3), "critical_date": future(50)}
    first = referrals.submit_one(api, values)
    assert (first.result, first.offer_reference, first.status) == ("created", "API-1", "referred")
    assert referrals.submit_one(api, values).result == "unchanged"
    changed = referrals.submit_one(api, {**values, "critical_date": future(60)})
    assert changed.result == "updated" and changed.changed == ["critical date"]
    assert all_rows(Offer)[0].source == "api"
    with pytest.raises(referrals.ImportRejected) as bad:
        referrals.submit_one(api, {**values, "offer_reference": "API-2", "course_type": "XX", "postcode": ""})
    assert set(bad.value.errors) == {"postcode"}  # the row's own checks come first
    with pytest.raises(referrals.ImportRejected) as bad:
        referrals.submit_one(api, {**values, "offer_reference": "API-2", "course_type": "XX"})
    assert set(bad.value.errors) == {"course_type"}
    assert len(all_rows(Offer)) == 1
    assert all_rows(Booking) == []
