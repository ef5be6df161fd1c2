"""Gas and Electric Utilities Servicing in the browser: a case worker adds an engineer and imports a stock list,
finds the home on the servicing programme, books the engineer from it (the appointment letter is produced), records
no access (the first access letter is produced) and then a check with its certificate file; the compliance view
shows the figures. Every new page is scanned with axe."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import text
from support import login, scan, wait_hydrated

UPRN = "900000001"


def goto(page, path: str) -> None:
    page.goto(path)
    wait_hydrated(page)
    expect(page.locator("main h1")).to_be_visible()


def test_engineer_booked_from_the_programme_no_access_letter_and_certificate(page, writer, tmp_path):
    with writer.begin() as conn:
        org_id = conn.execute(text("SELECT id FROM organisation WHERE slug = 'hartlepool'")).scalar_one()
        conn.execute(text("INSERT INTO place (organisation_id, uprn, address_line1, address_line2, address_line3, "
                          "town, postcode, postcode_key, search_text, classification, status, source, updated_at) "
                          "VALUES (:org, :uprn, '7 Servicing Street', '', '', 'Hartlepool', 'TS24 7ZZ', 'TS247ZZ', "
                          "'7 servicing street hartlepool', 'RD04', 'approved', 'e2e', CURRENT_TIMESTAMP)"),
                     {"org": org_id, "uprn": int(UPRN)})
    found: dict[str, list[str]] = {}
    login(page, "hbc.admin", "admin123")  # hbc.caseworker's password is changed by test_sign_in

    # Set-up: an engineer, and the stock list.
    goto(page, "/utilities/setup")
    page.fill("#engineer-name", "Gail Safe")
    page.fill("#engineer-email", "gail.safe@example.com")
    page.fill("#engineer-limit", "4")
    page.click("#engineer-save")
    expect(page.locator("#engineers")).to_contain_text("Gail Safe")
    stock = tmp_path / "stock.csv"
    last = (date.today() - timedelta(days=350)).isoformat()
    stock.write_text(f"uprn,type,location,make,model,ownership,last_certificate\n"
                     f"{UPRN},gas_boiler,Kitchen,Worcester,Greenstar,landlord,{last}\n")
    page.set_input_files("#stock input[type=file]", str(stock))
    page.click("#stock-import")
    expect(page.get_by_role("status").filter(has_text="Imported")).to_contain_text("1 installations added")
    scan(page, "setup", found)

    # The programme: the home is due within 30 days; open it.
    goto(page, "/utilities/programme")
    expect(page.locator(f"#programme-{UPRN}")).to_contain_text("Due in")
    scan(page, "programme", found)
    page.click(f"#home-link-{UPRN}")
    wait_hydrated(page)
    expect(page.locator("#home-address")).to_contain_text("7 Servicing Street")

    # Book the engineer (yesterday morning, so the visit can have an outcome): the appointment letter.
    option = page.locator("#book-engineer option", has_text="Gail Safe").first
    expect(option).to_be_attached()
    page.select_option("#book-engineer", option.get_attribute("value"))
    visit = (datetime.now() - timedelta(days=1)).replace(hour=9, minute=0)
    page.fill("#book-start", visit.strftime("%Y-%m-%dT%H:%M"))
    page.click("#book-submit")
    expect(page.get_by_role("status").filter(has_text="Engineer booked")).to_be_visible()
    expect(page.locator("#letters")).to_contain_text("Your gas and electrical safety check")
    scan(page, "home", found)

    # No access: the first access letter.
    page.locator("[id^=no-access-]").first.click()
    expect(page.get_by_role("status").filter(has_text="No access recorded")).to_contain_text("1st access letter")
    expect(page.locator("#letters")).to_contain_text("We could not get into your home")
    expect(page.locator("#home-summary")).to_contain_text("1 failed access attempt")

    # The check and its certificate.
    certificate = tmp_path / "lgsr.pdf"
    certificate.write_bytes(b"%PDF-1.4\n% landlord gas safety record\n")
    installation = page.locator("#check-installation option", has_text="Gas boiler").first
    expect(installation).to_be_attached()
    page.select_option("#check-installation", installation.get_attribute("value"))
    page.select_option("#check-outcome", "pass")
    page.set_input_files("#certificate input[type=file]", str(certificate))
    page.click("#certificate-attach")
    expect(page.locator("#certificate-attached")).to_contain_text("lgsr.pdf")
    page.click("#check-submit")
    expect(page.get_by_role("status").filter(has_text="Check recorded")).to_be_visible()
    expect(page.locator("#checks")).to_contain_text("Pass")
    expect(page.locator("[id^=certificate-]").filter(has_text="Download").first).to_be_visible()
    expect(page.locator("#home-summary")).to_contain_text("No failed access attempts")
    scan(page, "home after the check", found)

    # Compliance.
    goto(page, "/utilities/compliance")
    expect(page.locator("#figure-share")).to_contain_text("%")
    scan(page, "compliance", found)
    assert found == {name: [] for name in found}
