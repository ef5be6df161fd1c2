"""Letters and reports in a real browser: an administrator edits a letter template (an unknown merge field is
refused with its name), previews it with a real client's data, saves it, downloads the unpaid-reminder letters for
next week's unpaid bookings as one PDF (read back with pypdf), and downloads the bookings-by-channel report as XLSX
(read back with openpyxl). The exports refuse a browser that is not signed in.

The bookings are made straight in the server's database: two unpaid and one paid, in a session of their own.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlmodel import Session, select

from atlas_app.db import utcnow
from atlas_app.models import Booking, Client, CourseSession, CourseType, Offer, Organisation, Venue
from atlas_app.models.payments import Payment
from atlas_app.timeutil import london_date
from support import login, path_of, wait_hydrated

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE = Axe()
AXE_OPTIONS = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}


@dataclass(frozen=True)
class Bookings:
    unpaid: list[tuple[str, str]]  # (reference, client name)
    paid: tuple[str, str]
    session_day: date
    client_ids: list[int]
    offers: list[str]


@pytest.fixture
def bookings(writer) -> Bookings:
    tag = secrets.token_hex(3).upper()
    now = utcnow().replace(microsecond=0)
    with Session(writer, expire_on_commit=False) as s:
        org = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
        ct = s.exec(select(CourseType).where(CourseType.organisation_id == org.id, CourseType.code == "NSAC")).one()
        venue = s.exec(select(Venue).where(Venue.organisation_id == org.id, Venue.is_online.is_(False))).first()
        start = now + timedelta(days=9)
        session = CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venue.id,
                                delivery_mode="classroom", starts_at=start, ends_at=start + timedelta(minutes=165),
                                capacity=10, seats_taken=3)
        s.add(session)
        s.flush()
        made, client_ids, offers = [], [], []
        for i, channel in enumerate(("online", "telephone", "telephone")):
            client = Client(organisation_id=org.id, first_name="Letty", last_name=f"Letter{tag}{i}",
                            date_of_birth=date(1981, 2, 3), address_line1=f"{i + 1} Letter Lane", town="Hartlepool",
                            postcode="TS24 7QS", email=f"e2e-letter-{tag.lower()}{i}@example.com")
            s.add(client)
            s.flush()
            offer = Offer(organisation_id=org.id, offer_reference=f"HAR-LET-{tag}{i}", client_id=client.id,
                          course_type_id=ct.id, offence_date=london_date(now) - timedelta(days=20),
                          critical_date=london_date(now) + timedelta(days=90), police_force="Cleveland Police",
                          status="booked")
            s.add(offer)
            s.flush()
            booking = Booking(organisation_id=org.id, reference=f"HAR-L{tag}{i}", offer_id=offer.id,
                              session_id=session.id, status="awaiting_payment" if i < 2 else "confirmed",
                              channel=channel, payment_due_at=now + timedelta(days=2), fee_pence=ct.fee_pence)
            s.add(booking)
            s.flush()
            if i == 2:
                s.add(Payment(organisation_id=org.id, booking_id=booking.id, amount_pence=ct.fee_pence,
                              method="cash", provider="offline", status="succeeded"))
            made.append((booking.reference, f"{client.first_name} {client.last_name}"))
            client_ids.append(client.id)
            offers.append(offer.offer_reference)
        s.commit()
        return Bookings(unpaid=made[:2], paid=made[2], session_day=london_date(start), client_ids=client_ids,
                        offers=offers)


def _pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def test_admin_edits_previews_prints_bulk_letters_and_exports_channels(new_context, bookings: Bookings, base_url):
    page: Page = new_context(viewport=DESKTOP, accept_downloads=True).new_page()
    login(page, "hbc.admin", "admin123")
    page.goto("/letters")
    wait_hydrated(page)
    expect(page.locator("main h1")).to_have_text("Letters")
    page.select_option("#template-choice", "unpaid_reminder")
    expect(page.locator("#template-name")).to_have_value("Unpaid reminder")

    # An unknown merge field is refused, with the field named.
    page.fill("#template-body", "Dear {{ client.name }}, {{ client.shoe_size }}")
    page.wait_for_timeout(500)  # the body is sent after a short pause in typing
    page.click("#preview-button")
    expect(page.get_by_role("alert")).to_contain_text("client.shoe_size")

    # A good template, previewed with a real client's data before saving.
    reference, name = bookings.unpaid[0]
    body = ("Dear {{ client.name }},\nE2E CHECK: please pay {{ payment.balance }} for booking "
            "{{ booking.reference }} on {{ booking.date }}.\nYours, {{ organisation.name }}")
    page.fill("#template-body", body)
    page.wait_for_timeout(500)
    page.fill("#preview-reference", reference)
    page.click("#preview-button")
    expect(page.locator("#preview-body")).to_contain_text(f"Dear {name},")
    expect(page.locator("#preview-body")).to_contain_text(f"E2E CHECK: please pay £95.00 for booking {reference}")
    page.click("#save-button")
    expect(page.get_by_role("status").filter(has_text="saved")).to_be_visible()

    # Bulk: next week's... here the bookings' own course day, unpaid only, as one PDF.
    page.select_option("#bulk-template", "unpaid_reminder")
    page.fill("#bulk-from", bookings.session_day.isoformat())
    page.fill("#bulk-to", bookings.session_day.isoformat())
    page.select_option("#bulk-payment", "unpaid")
    page.click("#bulk-count")
    expect(page.locator("#bulk-count-result")).to_contain_text("match")
    with page.expect_download() as info:
        page.click("#bulk-submit")
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    pages, text = _pdf_text(open(download.path(), "rb").read())
    for ref, client in bookings.unpaid:
        assert ref in text and client in text
    assert "E2E CHECK: please pay £95.00" in text
    assert bookings.paid[0] not in text
    assert pages >= 2
    expect(page.get_by_role("status").filter(has_text="letters downloaded")).to_be_visible()

    # The page still answers after a download: the next press works (its answer comes over the page's
    # websocket), and a bad reference is explained on the page.
    page.fill("#one-reference", "NO-SUCH-REF")
    page.click("#one-submit")
    expect(page.get_by_role("alert")).to_be_visible()
    assert path_of(page).rstrip("/") == "/letters"

    # The bookings-by-channel report as XLSX.
    page.goto("/reports")
    wait_hydrated(page)
    page.select_option("#report-choice", "channels")
    expect(page.locator("#report-table th").first).to_have_text("Week beginning")
    expect(page.locator("#chart-title")).to_contain_text("channel")
    href = page.get_attribute("#download-xlsx", "href")
    assert href.startswith("/api/reports/channels.xlsx?")
    probe = page.context.request.get(base_url + href)
    assert probe.status == 200, (href, probe.status, probe.text()[:300])
    with page.expect_download() as info:
        page.click("#download-xlsx")
    download = info.value
    assert download.suggested_filename.startswith("channels-") and download.suggested_filename.endswith(".xlsx")
    wb = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0] == ("Week beginning", "Course code", "Course", "Channel", "Bookings")
    nsac = {r[3]: r[4] for r in rows[1:] if r[1] == "NSAC"}
    assert nsac.get("telephone", 0) >= 2 and nsac.get("online", 0) >= 1

    # Not signed in: no export.
    anonymous = new_context().request
    response = anonymous.get(f"{base_url}/api/reports/channels.xlsx")
    assert response.status == 401


def test_write_a_letter_from_the_client_record(new_context, bookings: Bookings):
    page: Page = new_context(viewport=DESKTOP, accept_downloads=True).new_page()
    login(page, "hbc.admin", "admin123")
    page.goto(f"/bookings/client/{bookings.client_ids[2]}")
    wait_hydrated(page)
    offer = bookings.offers[2]
    page.get_by_role("link", name=f"Write a letter about offer {offer}").click()
    page.wait_for_url("**/letters?reference=*")
    wait_hydrated(page)
    expect(page.locator("#one-reference")).to_have_value(offer)
    page.select_option("#one-template", "payment_receipt")
    with page.expect_download() as info:
        page.click("#one-submit")
    pages, text = _pdf_text(open(info.value.path(), "rb").read())
    assert pages == 1 and bookings.paid[1] in text and bookings.paid[0] in text


def test_the_courses_report_shows_every_column_at_desktop_width(new_context, bookings: Bookings):
    """Long course and venue names wrap; Booked, Paid and Fill rate stay on screen without scrolling sideways."""
    page: Page = new_context(viewport=DESKTOP).new_page()
    login(page, "hbc.booking", "booking123")
    page.goto("/reports")
    wait_hydrated(page)
    page.select_option("#report-choice", "courses")
    page.fill("#report-date_from", bookings.session_day.isoformat())
    page.fill("#report-date_to", bookings.session_day.isoformat())
    page.click("#report-apply")
    table = page.locator("#report-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    for header in ("Booked", "Paid", "Fill rate %"):  # within the window's width, however far down the page
        right = table.locator("th", has_text=header).evaluate("el => el.getBoundingClientRect().right")
        assert right <= DESKTOP["width"], f"{header} starts off screen ({right}px)"
    widths = table.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1], f"the table scrolls sideways at desktop width: {widths}"


def test_letters_and_reports_pages_are_accessible_at_phone_width(new_context):
    page: Page = new_context(viewport=PHONE).new_page()
    login(page, "hbc.booking", "booking123")
    found = {}
    for path, ready in (("/letters", "#template-body"), ("/reports", "#report-table")):
        page.goto(path)
        wait_hydrated(page)
        expect(page.locator(ready)).to_be_visible()
        result = AXE.run(page, options=AXE_OPTIONS)
        found[path] = [f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:3]}"
                       for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways at 390px ({overflow}px)"
    assert found == {"/letters": [], "/reports": []}
