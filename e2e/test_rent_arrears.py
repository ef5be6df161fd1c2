"""Rent arrears in the browser: a tenancy moves to the reminder stage after the week's rent file is imported (with
``python -m atlas_app import-rent-transactions`` against the server's database, and uploaded on the caseload's import
section: a file with a bad row is refused with the row named, then the good file goes in), its letter is on the
tenancy, and the officer logs a contact that lands on the case's timeline; axe on the caseload and tenancy pages."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import date, timedelta

from playwright.sync_api import expect
from sqlmodel import Session, select

from support import login, scan, wait_hydrated

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent

ACCOUNT = "E2E-RA-001"


def _tenancy(writer, account: str = ACCOUNT, uprn: int = 990000000001, family: str = "Rentwell") -> int:
    """A tenancy in Hartlepool (the demo organisation) with a new home and tenant."""
    from atlas_app.models import Organisation
    from atlas_app.models.casework import Person, Place
    from atlas_app.models.rent_arrears import RentTenancy, RentTenant

    with Session(writer) as s:
        org = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
        existing = s.exec(select(RentTenancy).where(RentTenancy.rent_account == account)).first()
        if existing:
            return existing.id
        number = uprn % 100
        place = Place(organisation_id=org.id, uprn=uprn, address_line1=f"{number} Arrears Close", town="Hartlepool",
                      postcode="TS24 9ZZ", postcode_key="TS249ZZ",
                      search_text=f"{number} arrears close hartlepool ts24 9zz")
        person = Person(organisation_id=org.id, given_name="Rhona", family_name=family,
                        name_norm=f"rhona {family.lower()}")
        s.add_all([place, person])
        s.flush()
        tenancy = RentTenancy(organisation_id=org.id, rent_account=account, place_id=place.id, patch="Central",
                              start_date=date.today() - timedelta(days=400), weekly_rent_pence=9_500)
        s.add(tenancy)
        s.flush()
        s.add(RentTenant(organisation_id=org.id, tenancy_id=tenancy.id, person_id=person.id))
        s.commit()
        return tenancy.id


def test_a_tenancy_reaches_a_stage_after_an_import_and_the_officer_logs_a_contact(page, atlas, writer, tmp_path):
    tenancy_id = _tenancy(writer)
    path = tmp_path / "rent-week.csv"
    today = date.today()
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["transaction_id", "rent_account", "date", "type", "method", "amount"])
        for n in range(3):  # three weeks of rent, nothing paid
            out.writerow([f"E2E-C{n}", ACCOUNT, (today - timedelta(days=7 * n + 1)).isoformat(), "charge", "",
                          "95.00"])
    result = subprocess.run([sys.executable, "-m", "atlas_app", "import-rent-transactions", str(path), "--org",
                             "hartlepool", "--quiet"], cwd=ROOT, env=atlas.env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "3 transactions added" in result.stdout and "1 to Reminder letter" in result.stdout
    found: dict[str, list[str]] = {}
    login(page, "hbc.caseworker", "cases123")
    page.goto("/rent-arrears")
    wait_hydrated(page)
    row = page.locator(f"#tenancy-row-{ACCOUNT}")
    expect(row).to_contain_text("Reminder letter")
    expect(row).to_contain_text("£285.00")
    scan(page, "caseload", found)

    page.select_option("#rent-stage", "reminder")
    page.click("#rent-filter")
    expect(row).to_be_visible()
    row.get_by_role("link", name=ACCOUNT).click()
    wait_hydrated(page)
    expect(page.locator("#tenancy-heading")).to_contain_text(ACCOUNT)
    expect(page.locator("#letters")).to_contain_text(f"Your rent account {ACCOUNT}")
    page.select_option("#contact-type", label="Query about an arrears letter (failure)")
    page.fill("#contact-note", "Tenant rang about the reminder; agreed to call back with income details")
    page.click("#contact-save")
    expect(page.get_by_role("status").filter(has_text="Contact logged")).to_be_visible()
    scan(page, "tenancy", found)

    page.click("#tenancy-case-link")
    wait_hydrated(page)
    expect(page.locator("main")).to_contain_text("Contact (Query about an arrears letter)")
    expect(page.locator("main")).to_contain_text("Letter produced: Rent arrears: reminder")
    assert tenancy_id
    assert found == {"caseload": [], "tenancy": []}


UPLOADED = "E2E-RA-002"


def _week_file(path, account: str, bad_row: bool = False):
    today = date.today()
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["transaction_id", "rent_account", "date", "type", "method", "amount"])
        for n in range(3):  # three weeks of rent, nothing paid
            out.writerow([f"E2E-UP-C{n}", account, (today - timedelta(days=7 * n + 1)).isoformat(), "charge", "",
                          "95.00"])
        if bad_row:
            out.writerow(["E2E-UP-X", account, "31/02/2025", "charge", "", "95.00"])
    return path


def test_the_rent_file_uploaded_on_the_caseload_moves_a_tenancy_to_a_stage_and_the_officer_logs_a_contact(
        page, writer, tmp_path):
    _tenancy(writer, UPLOADED, 990000000002, "Uploadson")
    found: dict[str, list[str]] = {}
    login(page, "hbc.caseworker", "cases123")
    page.goto("/rent-arrears")
    wait_hydrated(page)
    section = page.locator("#rent-upload")

    # A file with a malformed row: refused, the row named, nothing imported.
    section.locator("input[type=file]").set_input_files(str(_week_file(tmp_path / "bad.csv", UPLOADED, True)))
    expect(section).to_contain_text("bad.csv")
    page.click("#rent-import")
    expect(page.locator("#rent-import-errors")).to_contain_text("line 5: date '31/02/2025' is not a date",
                                                                 timeout=60_000)
    expect(section).to_contain_text("Nothing imported from bad.csv")
    expect(page.locator(f"#tenancy-row-{UPLOADED}")).to_have_count(0)

    # The good file: imported, recomputed, and the tenancy is at the reminder stage on the caseload.
    section.locator("input[type=file]").set_input_files(str(_week_file(tmp_path / "rent-week.csv", UPLOADED)))
    expect(section).to_contain_text("rent-week.csv")
    page.click("#rent-import")
    notice = page.get_by_role("status").filter(has_text="Imported rent-week.csv")
    expect(notice).to_contain_text("3 transactions added", timeout=60_000)
    expect(notice).to_contain_text("1 to Reminder letter")
    expect(page.locator("#rent-import-errors")).to_have_count(0)
    row = page.locator(f"#tenancy-row-{UPLOADED}")
    expect(row).to_contain_text("Reminder letter")
    expect(row).to_contain_text("£285.00")
    scan(page, "caseload after upload", found)

    # The officer opens the tenancy and logs a contact, which is on the case's timeline.
    row.get_by_role("link", name=UPLOADED).click()
    wait_hydrated(page)
    expect(page.locator("#tenancy-heading")).to_contain_text(UPLOADED)
    expect(page.locator("#letters")).to_contain_text(f"Your rent account {UPLOADED}")
    page.select_option("#contact-type", label="Query about an arrears letter (failure)")
    page.fill("#contact-note", "Tenant called after the upload; asked for a breakdown of the charges")
    page.click("#contact-save")
    expect(page.get_by_role("status").filter(has_text="Contact logged")).to_be_visible()
    page.click("#tenancy-case-link")
    wait_hydrated(page)
    expect(page.locator("main")).to_contain_text("asked for a breakdown of the charges")
    expect(page.locator("main")).to_contain_text("Letter produced: Rent arrears: reminder")
    assert found == {"caseload after upload": []}
