"""Gas and Electric Utilities Servicing: the due-date rules around month ends, leap years and early checks; the
services for installations, checks, remedial tasks, appointments (never double booked, daily limits), access letters
and tenancy."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from conftest import actor_for

from atlas_app.db import read_session, write_session
from atlas_app.models.casework import Place
from atlas_app.models.utilities import EngineerAppointment, RemedialTask, ServicingHome
from atlas_app.services.casework import config
from atlas_app.services.modules.utilities_servicing import (
    installations,
    programme,
    rules,
    storage,
)
from atlas_app.services.platform.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.timeutil import LONDON

# --- the date rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day, months, expected", [
    (date(2025, 1, 31), 1, date(2025, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2024, 2, 29), 48, date(2028, 2, 29)),
    (date(2025, 3, 31), -1, date(2025, 2, 28)),
    (date(2025, 8, 31), 1, date(2025, 9, 30)),
    (date(2025, 12, 15), 1, date(2026, 1, 15)),
    (date(2025, 1, 10), -2, date(2024, 11, 10)),
    (date(2023, 6, 30), 60, date(2028, 6, 30)),
])
def test_add_months_clamps_to_the_end_of_a_shorter_month(day, months, expected):
    assert rules.add_months(day, months) == expected


def test_a_check_within_the_early_window_keeps_the_old_anniversary():
    due = date(2025, 6, 15)
    early = rules.next_due(date(2025, 4, 15), due, 12, 2)  # exactly two months early: the window's first day
    assert early == rules.NextDue(date(2026, 6, 15), True)
    assert rules.next_due(due, due, 12, 2) == rules.NextDue(date(2026, 6, 15), True)  # on the day


def test_a_check_before_the_window_or_after_the_due_date_starts_a_new_anniversary():
    due = date(2025, 6, 15)
    assert rules.next_due(date(2025, 4, 14), due, 12, 2) == rules.NextDue(date(2026, 4, 14), False)
    assert rules.next_due(date(2025, 6, 16), due, 12, 2) == rules.NextDue(date(2026, 6, 16), False)
    assert rules.next_due(date(2025, 6, 16), None, 12, 2) == rules.NextDue(date(2026, 6, 16), False)


def test_early_window_around_month_ends_and_leap_days():
    # Due 30 April: the window opens 28 February in 2025, 29 February in 2024 (leap year).
    assert rules.window_opens(date(2025, 4, 30), 2) == date(2025, 2, 28)
    assert rules.window_opens(date(2024, 4, 30), 2) == date(2024, 2, 29)
    assert rules.next_due(date(2024, 2, 29), date(2024, 4, 30), 12, 2) == rules.NextDue(date(2025, 4, 30), True)
    assert rules.next_due(date(2024, 2, 28), date(2024, 4, 30), 12, 2).kept_anniversary is False
    # Due on a leap day: the next anniversary is 28 February.
    assert rules.next_due(date(2024, 1, 5), date(2024, 2, 29), 12, 2) == rules.NextDue(date(2025, 2, 28), True)
    # An EICR (60 months) checked a month early keeps its anniversary five years on.
    assert rules.next_due(date(2025, 12, 31), date(2026, 1, 31), 60, 2) == rules.NextDue(date(2031, 1, 31), True)


def test_rule_arguments_are_checked():
    with pytest.raises(ValueError):
        rules.next_due(date(2025, 1, 1), None, 0, 0)
    with pytest.raises(ValueError):
        rules.next_due(date(2025, 1, 1), None, 12, 12)
    assert rules.days_overdue(date(2025, 1, 1), date(2025, 1, 11)) == 10
    assert rules.days_overdue(date(2025, 1, 20), date(2025, 1, 11)) == 0


# --- services ------------------------------------------------------------------------------------------------------


def add_place(org_id: int, uprn: int, line1: str = "") -> int:
    with write_session() as s:
        p = Place(organisation_id=org_id, uprn=uprn, address_line1=line1 or f"{uprn % 1000} High Street",
                  town="Hartlepool", postcode="TS24 7AA")
        s.add(p)
        s.flush()
        return p.id


@pytest.fixture
def us(org, admin):
    with write_session() as s:
        config.seed_configuration(s, org.id)
    return actor_for(admin)


@pytest.fixture
def other_us(other_org, other_admin):
    with write_session() as s:
        config.seed_configuration(s, other_org.id)
    return actor_for(other_admin)


def test_installation_sets_the_homes_due_date_and_tenant_owned_ones_do_not_count(us, org):
    add_place(org.id, 100001)
    installations.add_installation(us, 100001, "gas_boiler", location="Kitchen", make="Worcester", model="Greenstar",
                                   last_check_on=date.today() - timedelta(days=300))
    installations.add_installation(us, 100001, "gas_fire", ownership="tenant")
    detail = installations.home(us, "100001")
    assert [i.type_code for i in detail.installations] == ["gas_boiler", "gas_fire"]
    boiler = detail.installations[0]
    assert boiler.next_due_on == rules.add_months(date.today() - timedelta(days=300), 12)
    assert detail.next_due_on == boiler.next_due_on  # the tenant's fire has no certificate and does not count
    with read_session() as s:
        h = s.exec(ServicingHome.__table__.select()).one()
        assert (h.required_count, h.uncertified_count) == (1, 0)


def test_a_check_records_outcome_certificate_and_remedial_tasks(us, org):
    add_place(org.id, 100002)
    last = date.today() - timedelta(days=330)
    inst = installations.add_installation(us, 100002, "gas_boiler", last_check_on=last)
    old_due = rules.add_months(last, 12)
    result = installations.record_check(us, inst, checked_on=date.today(), outcome="at_risk",
                                        certificate=b"%PDF-1.4 gas safety record", certificate_name="lgsr.pdf",
                                        certificate_type="application/pdf", defects=["Flue terminal too close"])
    assert result.kept_anniversary is (date.today() >= rules.add_months(old_due, -2))
    assert result.next_due_on == rules.add_months(old_due, 12)
    assert len(result.remedial_task_ids) == 1
    with read_session() as s:
        task = s.get(RemedialTask, result.remedial_task_ids[0])
        assert task.severity == "at_risk" and task.status == "open"
        assert timedelta(days=6) < task.target_at - task.created_at <= timedelta(days=7, seconds=5)
    data, name, kind = installations.certificate_file(us, result.check_id)
    assert data == b"%PDF-1.4 gas safety record" and name == "lgsr.pdf" and kind == "application/pdf"
    assert storage.path_of(storage.put(data)).exists()
    dangerous = installations.record_check(us, inst, checked_on=date.today(), outcome="immediately_dangerous")
    with read_session() as s:
        task = s.get(RemedialTask, dangerous.remedial_task_ids[0])
        assert task.description == "Immediately dangerous"
        assert task.target_at - task.created_at <= timedelta(hours=24, seconds=5)


def test_bad_checks_are_refused(us, org):
    add_place(org.id, 100003)
    inst = installations.add_installation(us, 100003, "electrical")
    with pytest.raises(ValidationFailed, match="outcome"):
        installations.record_check(us, inst, checked_on=date.today(), outcome="fine")
    with pytest.raises(ValidationFailed):
        installations.record_check(us, inst, checked_on=date.today() + timedelta(days=3), outcome="pass")
    with pytest.raises(NotFound):
        installations.record_check(us, 999999, checked_on=date.today(), outcome="pass")


def test_types_are_configurable(us, org):
    types = {t.code: t for t in installations.list_types(us)}
    assert (types["gas_boiler"].interval_months, types["electrical"].interval_months) == (12, 60)
    assert types["gas_boiler"].early_window_months == 2
    installations.save_type(us, types["electrical"].id, name="Electrical installation", regime="EICR",
                            interval_months=120, early_window_months=3)
    add_place(org.id, 100004)
    inst = installations.add_installation(us, 100004, "electrical", last_check_on=date(2020, 1, 31))
    assert installations.home(us, 100004).installations[0].next_due_on == date(2030, 1, 31)
    with pytest.raises(ValidationFailed, match="shorter"):
        installations.save_type(us, None, name="Lift", interval_months=6, early_window_months=6)
    assert inst


@pytest.fixture
def engineer(us):
    return programme.save_engineer(us, None, full_name="Gail Safe", email="gail@example.com",
                                   max_appointments_per_day=2)


def at(hour: int, days: int = 1) -> datetime:
    day = date.today() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)


def test_appointment_letter_and_no_double_booking(us, org, engineer):
    add_place(org.id, 200001)
    add_place(org.id, 200002)
    add_place(org.id, 200003)
    booked = programme.book_appointment(us, 200001, engineer, at(9), 60)
    assert booked.letter_id
    pdf, name = programme.letter_file(us, booked.letter_id)
    assert pdf.startswith(b"%PDF") and name.startswith("utilities_appointment")
    with pytest.raises(programme.AppointmentClash) as clash:
        programme.book_appointment(us, 200002, engineer, at(9, 1).replace(minute=30), 60)
    assert clash.value.clash_id == booked.appointment_id
    assert "Gail Safe is already at" in str(clash.value)
    programme.book_appointment(us, 200002, engineer, at(10), 60)  # back to back is fine
    with pytest.raises(Conflict, match="already has 2 appointments that day"):
        programme.book_appointment(us, 200003, engineer, at(14), 60)
    programme.book_appointment(us, 200003, engineer, at(14, 2), 60)  # another day


def test_failed_access_attempts_send_letters_then_reach_the_legal_stage(us, org, engineer):
    add_place(org.id, 200010)
    installations.add_installation(us, 200010, "gas_boiler", last_check_on=date.today() - timedelta(days=400))
    stages = []
    for n in range(4):
        visit = programme.book_appointment(us, 200010, engineer, at(9, -(n * 2 + 1)), 60, letter=False)
        result = programme.record_no_access(us, visit.appointment_id)
        stages.append((result.attempts, result.stage, result.letter_code))
    assert stages == [(1, "letter_1", "utilities_no_access_1"), (2, "letter_2", "utilities_no_access_2"),
                      (3, "letter_3", "utilities_no_access_3"), (4, "legal", "utilities_legal_access")]
    page = programme.programme(us, "no_access")
    assert [r.uprn for r in page.rows] == [200010] and page.rows[0].access_stage == "legal"
    assert [r.uprn for r in programme.programme(us, "overdue").rows] == [200010]
    letters_sent = installations.home(us, 200010).letters
    assert [x["code"] for x in letters_sent] == ["utilities_legal_access", "utilities_no_access_3",
                                                 "utilities_no_access_2", "utilities_no_access_1"]
    assert letters_sent[0]["subject"].startswith("Legal action to gain access to 10 High Street")
    assert programme.letter_file(us, letters_sent[0]["id"])[0].startswith(b"%PDF")
    with pytest.raises(Conflict):
        programme.record_no_access(us, visit.appointment_id)
    # A check at last clears the access attempts.
    inst = installations.home(us, 200010).installations[0].id
    installations.record_check(us, inst, checked_on=date.today(), outcome="pass")
    assert programme.programme(us, "no_access").total == 0


def test_programme_views(us, org):
    now = date.today()
    for uprn, last in ((300001, now - timedelta(days=350)), (300002, now - timedelta(days=400)),
                       (300003, now - timedelta(days=100)), (300004, None)):
        add_place(org.id, uprn)
        installations.add_installation(us, uprn, "gas_boiler", last_check_on=last)
    due = programme.programme(us, "due", days=30)
    assert [r.uprn for r in due.rows] == [300001]
    overdue = programme.programme(us, "overdue")
    assert [r.uprn for r in overdue.rows] == [300004, 300002]
    assert overdue.rows[0].as_dict()["status_text"] == "No certificate on record"
    assert overdue.rows[1].days_to_due < 0
    assert programme.programme(us, "due", days=365).total == 2
    with pytest.raises(ValidationFailed):
        programme.programme(us, "due", days="lots")


def test_module_must_be_on_and_permissions_hold(org, admin, make_user):
    actor = actor_for(admin)
    with pytest.raises(NotFound, match="not turned on"):
        programme.programme(actor)
    with write_session() as s:
        config.seed_configuration(s, org.id)
    reader = actor_for(make_user("reader", roles=("Read-only",)))
    assert programme.programme(reader).total == 0
    with pytest.raises(PermissionDenied):
        programme.save_engineer(reader, None, full_name="X", email="x@example.com")


def test_another_organisations_installations_and_files_are_never_visible(us, other_us, org, other_org):
    add_place(org.id, 400001)
    add_place(other_org.id, 400001)
    inst = installations.add_installation(us, 400001, "gas_boiler")
    check = installations.record_check(us, inst, checked_on=date.today(), outcome="pass", certificate=b"ours",
                                       certificate_name="c.pdf")
    assert installations.home(other_us, 400001).installations == []
    with pytest.raises(NotFound):
        installations.certificate_file(other_us, check.check_id)
    with pytest.raises(NotFound):
        installations.record_check(other_us, inst, checked_on=date.today(), outcome="pass")
    eng = programme.save_engineer(us, None, full_name="Ours", email="o@example.com")
    with pytest.raises(NotFound):
        programme.book_appointment(other_us, 400001, eng, at(9))
    booked = programme.book_appointment(us, 400001, eng, at(9))
    with pytest.raises(NotFound):
        programme.letter_file(other_us, booked.letter_id)
    with pytest.raises(NotFound):
        programme.record_no_access(other_us, booked.appointment_id)
    assert programme.programme(other_us, "overdue").total == 0
    assert programme.programme(us, "due", days=400).total == 1


# --- races: the database decides ---------------------------------------------------------------------------------


def _active(engineer_id: int) -> list[EngineerAppointment]:
    with read_session() as s:
        from sqlmodel import select

        return list(s.exec(select(EngineerAppointment).where(EngineerAppointment.engineer_id == engineer_id,
                                                             EngineerAppointment.status == "active")).all())


def test_threads_racing_for_one_engineer_book_exactly_one(us, org):
    from conftest import run_threads

    eng = programme.save_engineer(us, None, full_name="Race", email="race@example.com", max_appointments_per_day=20)
    for i in range(12):
        add_place(org.id, 500000 + i)
    results = run_threads(12, lambda i: programme.book_appointment(us, 500000 + i, eng, at(9).replace(minute=i),
                                                                   60, letter=False))
    wins = [r for r in results if isinstance(r, programme.Booked)]
    clashes = [r for r in results if isinstance(r, programme.AppointmentClash)]
    assert len(wins) == 1 and len(clashes) == 11, results
    assert {c.clash_id for c in clashes} == {wins[0].appointment_id}
    assert len(_active(eng)) == 1


def test_threads_racing_past_a_daily_limit_book_only_the_limit(us, org):
    from conftest import run_threads

    eng = programme.save_engineer(us, None, full_name="Limit", email="limit@example.com", max_appointments_per_day=3)
    for i in range(10):
        add_place(org.id, 510000 + i)
    results = run_threads(10, lambda i: programme.book_appointment(us, 510000 + i, eng, at(8 + i), 30, letter=False))
    assert sum(isinstance(r, programme.Booked) for r in results) == 3, results
    assert all(isinstance(r, (programme.Booked, Conflict)) for r in results), results
    assert len(_active(eng)) == 3


def test_processes_racing_for_one_engineer_book_exactly_one(us, org):
    from resource_race_worker import run_race

    eng = programme.save_engineer(us, None, full_name="Proc", email="proc@example.com", max_appointments_per_day=20)
    jobs = []
    for i in range(8):
        add_place(org.id, 520000 + i)
        jobs.append({"uprn": 520000 + i, "engineer_id": eng, "starts_at": at(11).replace(minute=i * 5).isoformat(),
                     "minutes": 60, "letter": False})
    kinds, flat = run_race("engineer", org.id, jobs, 4)
    assert kinds == {"ok": 1, "clash": 7}, flat
    assert len(_active(eng)) == 1


# --- compliance --------------------------------------------------------------------------------------------------


def test_compliance_figures_and_capability_chart(us, org, engineer):
    from atlas_app.services.modules.utilities_servicing import compliance

    now = date.today()
    for uprn, last in ((600001, now - timedelta(days=100)), (600002, now - timedelta(days=375)),
                       (600003, now - timedelta(days=395)), (600004, None)):
        add_place(org.id, uprn)
        installations.add_installation(us, uprn, "gas_boiler", last_check_on=last)
    add_place(org.id, 600005)  # a home with a tenant-owned cooker only needs no check
    installations.add_installation(us, 600005, "cooker", ownership="tenant")
    visit = programme.book_appointment(us, 600003, engineer, at(9, -1), letter=False)
    programme.record_no_access(us, visit.appointment_id)
    c = compliance.compliance(us)
    due2 = rules.add_months(now - timedelta(days=375), 12)
    due3 = rules.add_months(now - timedelta(days=395), 12)
    assert (c.homes, c.in_date, c.overdue, c.uncertified) == (4, 1, 3, 1)
    assert c.share_in_date == 25.0
    assert c.days_overdue_total == (now - due2).days + (now - due3).days
    assert c.days_overdue_max == (now - due3).days
    assert (c.no_access, c.legal_stage) == (1, 0)
    assert c.chart is None
    # Checks: one early (keeps the anniversary), two late; days from due date to certificate in check order.
    ids = {h: installations.home(us, h).installations[0].id for h in (600001, 600002, 600003)}
    installations.record_check(us, ids[600002], checked_on=now, outcome="pass")
    installations.record_check(us, ids[600003], checked_on=now, outcome="pass")
    due1 = rules.add_months(now - timedelta(days=100), 12)
    installations.record_check(us, ids[600001], checked_on=now, outcome="not_to_current_standard")
    c = compliance.compliance(us)
    assert [p.days for p in c.points] == [(now - due2).days, (now - due3).days, (now - due1).days]
    assert c.chart is not None and len(c.chart.values) == 3
    assert (c.homes, c.in_date, c.no_access, c.remedial_open) == (4, 3, 0, 1)
    assert compliance.compliance(us, regime="Electrical installation condition report").points == []


# --- the stock-list import ---------------------------------------------------------------------------------------

STOCK = """uprn,type,location,make,model,ownership,last_certificate
700001,gas_boiler,Kitchen,Worcester,Greenstar,landlord,2025-01-31
700001,electrical,Hall,,,landlord,15/06/2021
700002,Gas boiler,Loft,Vaillant,ecoTEC,,2024-02-29
700002,cooker,Kitchen,,,tenant,
"""


def test_import_adds_installations_with_due_dates_and_a_rerun_changes_nothing(us, org):
    from atlas_app.services.modules.utilities_servicing import imports

    add_place(org.id, 700001)
    add_place(org.id, 700002)
    report = imports.import_installations(us, STOCK)
    assert (report.rows, report.added, report.homes) == (4, 4, 2)
    first = {i.type_code: i for i in installations.home(us, 700001).installations}
    assert first["gas_boiler"].next_due_on == date(2026, 1, 31)
    assert first["electrical"].next_due_on == date(2026, 6, 15)
    assert installations.home(us, 700002).installations[0].next_due_on == date(2025, 2, 28)
    again = imports.import_installations(us, STOCK.encode())
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    newer = STOCK.replace("2025-01-31", "2025-11-30")
    assert imports.import_installations(us, newer).updated == 1
    assert installations.home(us, 700001).next_due_on == date(2026, 6, 15)


def test_import_with_bad_rows_imports_nothing_and_names_every_one(us, org):
    from atlas_app.services.modules.utilities_servicing import imports

    add_place(org.id, 700001)
    future = (date.today() + timedelta(days=5)).isoformat()
    bad = ("uprn,type,ownership,last_certificate\n"
           "700001,gas_boiler,landlord,2025-01-31\n"
           "abc,gas_boiler,landlord,\n"
           "700001,jacuzzi,landlord,\n"
           "700001,gas_boiler,council,31/02/2025\n"
           f"700001,electrical,landlord,{future}\n"
           "799999,gas_boiler,landlord,\n")
    with pytest.raises(imports.ImportRefused) as refused:
        imports.import_installations(us, bad)
    errors = refused.value.report.errors
    assert [e.split(":")[0] for e in errors] == ["row 3", "row 4", "row 5", "row 6", "row 7"]
    assert "not a UPRN" in errors[0] and "not an installation type" in errors[1]
    assert "not landlord or tenant" in errors[2] and "not a date" in errors[2]
    assert "in the future" in errors[3] and "not in the organisation's gazetteer" in errors[4]
    assert installations.home(us, 700001).installations == []
    with pytest.raises(ValidationFailed, match="no uprn column"):
        imports.import_installations(us, "type,location\ngas_boiler,Kitchen\n")


def test_import_installations_command(us, org):
    from conftest import run_cli

    add_place(org.id, 700001)
    add_place(org.id, 700002)
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write(STOCK)
    done = run_cli("import-installations", f.name, "--org", org.slug)
    assert done.returncode == 0, done.stderr
    assert "4 installations added" in done.stdout
    with open(f.name, "a") as out:
        out.write("123,gas_boiler,,,,landlord,\n")
    refused = run_cli("import-installations", f.name, "--org", org.slug)
    assert refused.returncode == 1
    assert "row 6: uprn 123 is not in the organisation's gazetteer" in refused.stderr
    assert run_cli("import-installations", f.name, "--org", "nowhere").returncode == 2
