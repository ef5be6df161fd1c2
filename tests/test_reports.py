"""The reports suite: the figures each report gives, formula neutralisation in CSV and XLSX, streamed exports, and
the export route from an attacker's side (no cookie, no permission, another organisation)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import utcnow, write_session
from atlas_app.models import Booking, CallLog, Client
from atlas_app.models.payments import Payment
from atlas_app.services.platform import auth
from atlas_app.services.insight import reports
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from atlas_app.timeutil import LONDON, london_date
from conftest import actor_for, create_user, set_columns
from payments_support import FEE, awaiting_booking, make_world


def pay(reference: str, pence: int = FEE) -> None:
    with write_session() as s:
        b = s.exec(select(Booking).where(Booking.reference == reference)).one()
        s.add(Payment(organisation_id=b.organisation_id, booking_id=b.id, amount_pence=pence, method="cash",
                      provider="offline", status="succeeded"))


@pytest.fixture
def world(org):
    return make_world(org.id, capacity=10)


def rows_of(report) -> list[list]:
    return [list(r) for r in report.rows]


# --- the figures -------------------------------------------------------------------------------------------------


def test_courses_report_counts_capacity_booked_paid_and_fill_rate(world, actor):
    bookings = [awaiting_booking(world) for _ in range(4)]
    pay(bookings[0].reference)
    report = reports.run(actor, "courses", {})
    rows = rows_of(report)
    assert len(rows) == 1
    row = dict(zip(report.columns, rows[0]))
    assert (row["Capacity"], row["Booked"], row["Paid"], row["Fill rate %"]) == (10, 4, 1, 40.0)
    assert row["Course code"] == "NSAC" and row["Venue"] == "Civic Centre"
    assert report.chart[1]["y"] == [4]


def test_venue_utilisation(world, actor):
    for _ in range(3):
        awaiting_booking(world)
    report = reports.run(actor, "venues", {})
    assert rows_of(report) == [["Civic Centre", "", 1, 10, 3, 30.0]]


def test_pre_attendance_lists_clients_with_payment_needs_and_contact(world, actor):
    b = awaiting_booking(world, email="pat.pre@example.com")
    set_columns(Booking, Booking.reference == b.reference, needs={"interpreter": True, "interpreter_language": "Polish"})
    report = reports.run(actor, "pre_attendance", {"session_id": world.session_id})
    rows = [dict(zip(report.columns, r)) for r in report.rows]
    assert len(rows) == 1
    assert rows[0]["Booking"] == b.reference and rows[0]["Email"] == "pat.pre@example.com"
    assert rows[0]["Payment"] == "Awaiting payment" and rows[0]["Balance £"] == FEE / 100
    assert "interpreter language: Polish" in rows[0]["Needs"]


def test_bookings_by_course_type_and_channel(world, actor):
    for _ in range(2):
        awaiting_booking(world)
    b = awaiting_booking(world)
    set_columns(Booking, Booking.reference == b.reference, channel="telephone")
    report = reports.run(actor, "channels", {"period": "month"})
    rows = rows_of(report)
    month = f"{london_date(utcnow()):%Y-%m}"
    assert sorted(rows) == sorted([[month, "NSAC", "National Speed Awareness Course", "online", 2],
                                   [month, "NSAC", "National Speed Awareness Course", "telephone", 1]])
    assert {t["name"] for t in report.chart} == {"Online", "Telephone"}
    only_phone = rows_of(reports.run(actor, "channels", {"period": "month", "channel": "telephone"}))
    assert [r[3] for r in only_phone] == ["telephone"]


def test_call_analysis_by_type_outcome_hour_and_day(org, actor):
    base = utcnow().astimezone(LONDON).replace(hour=10, minute=5, second=0, microsecond=0) - timedelta(days=1)
    with write_session() as s:
        for call_type, outcome, hour in [("booking", "booked", 10), ("booking", "booked", 10),
                                         ("complaint", "resolved", 14), ("payment", "payment_taken", 14)]:
            s.add(CallLog(organisation_id=org.id, at=base.replace(hour=hour), call_type=call_type, outcome=outcome))
    report = reports.run(actor, "calls", {})
    rows = rows_of(report)
    assert rows[0] == ["booking", "booked", 2, 50.0, "Yes"]
    assert ["complaint", "resolved", 1, 25.0, "No"] in rows
    assert "3 of 4 (75.0%) could have been done online" in report.chart_title
    by_hour = rows_of(reports.run(actor, "calls", {"view": "hour"}))
    assert by_hour == [["10:00", 2, 50.0], ["14:00", 2, 50.0]]
    by_day = rows_of(reports.run(actor, "calls", {"view": "weekday"}))
    assert by_day == [[base.strftime("%A"), 4, 100.0]]


def test_reports_are_scoped_to_the_organisation(world, actor, other_actor):
    awaiting_booking(world)
    with write_session() as s:
        s.add(CallLog(organisation_id=world.org_id, at=utcnow() - timedelta(hours=2), call_type="booking",
                      outcome="booked"))
    for name in reports.REPORTS:
        assert rows_of(reports.run(other_actor, name, {"session_id": world.session_id})) == [], name


def test_reports_need_the_permission_and_valid_filters(world, org, actor):
    caseworker = actor_for(create_user(org, "hbc.cases", roles=("Case worker",)))
    with pytest.raises(PermissionDenied):
        reports.run(caseworker, "courses", {})
    with pytest.raises(NotFound):
        reports.run(actor, "salaries", {})
    with pytest.raises(ValidationFailed, match="date"):
        reports.run(actor, "courses", {"date_from": "yesterday"})
    with pytest.raises(ValidationFailed):
        reports.run(actor, "channels", {"channel": "pigeon"})
    with pytest.raises(ValidationFailed):
        reports.run(actor, "courses", {"date_from": "2026-02-01", "date_to": "2026-01-01"})


# --- exports -----------------------------------------------------------------------------------------------------

DANGEROUS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_dangerous_cells_are_neutralised():
    for value in DANGEROUS:
        assert reports.safe_cell(value) == "'" + value
    assert reports.safe_cell(-5) == -5
    assert reports.safe_cell("Plain") == "Plain"
    assert reports.safe_cell(None) == ""


def _dangerous_report() -> reports.Report:
    return reports.Report("test", "Test", ["Name", "Number"], iter([[v, i] for i, v in enumerate(DANGEROUS)]))


def test_csv_export_neutralises_formulas():
    data = b"".join(reports.csv_chunks(_dangerous_report())).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert rows[0] == ["Name", "Number"]
    assert [r[0] for r in rows[1:]] == ["'" + v for v in DANGEROUS]


def test_xlsx_export_holds_text_never_formulas():
    wb = load_workbook(io.BytesIO(b"".join(reports.xlsx_chunks(_dangerous_report()))))
    ws = wb.active
    values = [row for row in ws.iter_rows(values_only=True)]
    assert values[0] == ("Name", "Number")
    for (text, number), expected in zip(values[1:], DANGEROUS):
        assert text.startswith("'") and text[1:].strip() == expected.strip()
    for row in ws.iter_rows(min_row=2):
        assert row[0].data_type == "s"


def test_csv_export_streams_in_chunks():
    report = reports.Report("big", "Big", ["n"], iter([[i] for i in range(1000)]))
    chunks = list(reports.csv_chunks(report, rows_per_chunk=100))
    assert len(chunks) >= 10


# --- the route, from an attacker's side ---------------------------------------------------------------------------


@pytest.fixture
def api():
    return TestClient(build_api(), base_url="http://atlas.test")


def cookie_for(user) -> dict[str, str]:
    outcome = auth.login(user.username, user.password)
    assert outcome.ok
    return {"cookie": f"atlas_session={outcome.token}"}


def test_export_route_checks_session_permission_and_organisation(world, api, admin, other_admin, org):
    b = awaiting_booking(world)
    set_columns(Client, Client.organisation_id == org.id, first_name="=cmd|' /C calc'!A0")
    url = f"/api/reports/pre_attendance.csv?session_id={world.session_id}"
    assert api.get(url).status_code == 401
    assert api.get(url, headers={"cookie": "atlas_session=not-a-session"}).status_code == 401
    contact = create_user(org, "hbc.contact", roles=("Contact centre",))
    assert api.get(url, headers=cookie_for(contact)).status_code == 403
    # Essex asking for Hartlepool's session gets the header and nothing else.
    essex = api.get(url, headers=cookie_for(other_admin))
    assert essex.status_code == 200
    assert len(list(csv.reader(io.StringIO(essex.content.decode("utf-8-sig"))))) == 1
    mine = api.get(url, headers=cookie_for(admin))
    assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/csv")
    assert "attachment" in mine.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(mine.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][4] == b.reference
    assert rows[1][5].startswith("'=cmd|")
    assert api.get("/api/reports/courses.exe", headers=cookie_for(admin)).status_code == 404
    assert api.get("/api/reports/nope.csv", headers=cookie_for(admin)).status_code == 404
    assert api.get("/api/reports/courses.csv?date_from=bad", headers=cookie_for(admin)).status_code == 422


def test_xlsx_route_gives_a_workbook(world, api, admin):
    awaiting_booking(world)
    response = api.get("/api/reports/channels.xlsx?period=week", headers=cookie_for(admin))
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0] == ("Week beginning", "Course code", "Course", "Channel", "Bookings")
    assert rows[1][3] == "online" and rows[1][4] == 1
