"""Staff course booking in a real browser: a contact-centre telephone booking with its call logged, an
administrator's new course type and session bookable at once, a session that fills showing FULL, the register,
another organisation's ids refused, and the pages on a phone and under axe-core.

Data: the demo offer CLE-260005 (booked once, by the telephone test); every other offer is imported by the test
that needs it through the referral import (``python -m atlas_app import-referrals``) into the server's database.
"""

from __future__ import annotations

import csv
import re
import secrets
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from atlas_app.db import utcnow
from atlas_app.timeutil import LONDON, london_date
from support import axe_problems, login, wait_hydrated

ROOT = Path(__file__).resolve().parent.parent
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
REFERRAL_HEADER = ["Offer reference", "Course type", "First name", "Last name", "Date of birth", "Postcode", "Email",
                   "Offence date", "Critical date", "Police force"]


# --- helpers ------------------------------------------------------------------------------------------------------


def import_offers(atlas, course: str, count: int = 1, org: str = "hartlepool") -> list[str]:
    """New offers for ``course`` through the referral import, as the police would send them; their references."""
    today = london_date(utcnow())
    refs, rows = [], []
    for _ in range(count):
        tag = secrets.token_hex(3).upper()
        ref = f"CLE-E2E-{tag}"
        refs.append(ref)
        rows.append([ref, course, "Staff", f"Test {tag}", "1980-04-01", "TS24 7QS", f"staff-{tag.lower()}@example.com",
                     (today - timedelta(days=20)).isoformat(), (today + timedelta(days=60)).isoformat(),
                     "Cleveland Police"])
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(REFERRAL_HEADER)
        writer.writerows(rows)
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "ATLAS_DATA_DIR": str(atlas.data_dir),
           "DATABASE_URL": atlas.database_url, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-m", "atlas_app", "import-referrals", f.name, "--org", org],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    Path(f.name).unlink(missing_ok=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return refs


def goto(page: Page, path: str) -> None:
    page.goto(path)
    wait_hydrated(page)


def open_client(page: Page, reference: str) -> None:
    """Find the client by offer reference and open their record."""
    goto(page, "/bookings/clients")
    page.fill("#client-query", reference)
    page.click("#client-search-submit")
    expect(page.locator("#client-hit-count")).to_have_text("1 offer found")
    page.locator(f'[id="hit-{reference}"] a').click()
    expect(page).to_have_url(re.compile(r"/bookings/client/\d+/?$"))
    expect(page.locator("#client-name")).to_be_visible()


def open_booking_dialog(page: Page, reference: str) -> None:
    page.click(f'[id="book-{reference}"]')
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Book by telephone")).to_be_visible()


def add_session(page: Page, course_label: str, venue: str, days_ahead: int, start: str,
                capacity: int | None = None) -> int:
    """Add one session through the catalogue; returns its id (from the session page it lands on)."""
    goto(page, "/bookings/catalogue?tab=sessions")
    page.select_option("#one-course", label=course_label)
    page.select_option("#one-mode", "classroom")
    page.select_option("#one-venue", label=venue)
    page.fill("#one-day", (london_date(utcnow()) + timedelta(days=days_ahead)).isoformat())
    page.fill("#one-start", start)
    if capacity:
        page.fill("#one-capacity", str(capacity))
    page.click("#add-session")
    expect(page).to_have_url(re.compile(r"/bookings/session/\d+/?\?created=1$"))
    expect(page.get_by_role("status").filter(has_text="Session created")).to_be_visible()
    return int(re.search(r"/bookings/session/(\d+)", page.url).group(1))


def book_session(page: Page, reference: str, session_id: int, needs_access: str = "") -> None:
    """From the client record: book that session for the offer by telephone, then close the call dialog."""
    open_booking_dialog(page, reference)
    choice = page.locator(f'[id="choice-{session_id}"]')
    expect(choice).to_be_attached()
    choice.check()
    if needs_access:
        page.fill("#need-access", needs_access)
    page.click("#confirm-book")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Log a call")).to_be_visible()


def close_call_dialog(page: Page) -> None:
    """Close the call dialog (once it is the one open) without logging the call."""
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Log a call")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog")).to_have_count(0)


# --- the telephone booking ------------------------------------------------------------------------------------------


def test_contact_centre_books_by_telephone_and_logs_the_call(page: Page, db):
    login(page, "hbc.contact", "contact123")
    open_client(page, "CLE-260005")
    expect(page.locator('[id="offer-status-CLE-260005"]')).to_have_text("Referred: to book")
    open_booking_dialog(page, "CLE-260005")
    # Sessions offered are before the critical date with free seats; choose the first, with an interpreter.
    first = page.locator('#choice-list input[name="session_id"]').first
    session_id = int(first.get_attribute("value"))
    first.check()
    page.check("#need-interpreter")
    page.fill("#need-interpreter-lang", "Polish")
    page.click("#confirm-book")

    # The call dialog follows at once, filled in for a booking call about this offer.
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Log a call")).to_be_visible()
    expect(page.locator("#call-type")).to_have_value("booking")
    expect(page.locator("#call-outcome")).to_have_value("booked")
    expect(page.locator("#call-offer option:checked")).to_have_text(re.compile(r"^CLE-260005"))
    page.fill("#call-notes", "Booked by phone; Polish interpreter")
    page.click("#confirm-call")
    expect(page.locator("#client-notice")).to_contain_text("Booked by telephone")
    expect(page.locator("#client-notice")).to_contain_text("Call logged.")

    booking = db.one("SELECT b.reference, b.channel, b.made_by_user_id, b.status, b.session_id, b.needs "
                     "FROM booking b JOIN offer o ON o.id = b.offer_id WHERE o.offer_reference = 'CLE-260005'")
    assert booking is not None
    assert booking["channel"] == "telephone" and booking["status"] == "awaiting_payment"
    assert booking["made_by_user_id"] == db.user("hbc.contact")["id"]
    assert booking["session_id"] == session_id
    ref = booking["reference"]
    row = page.locator(f'[id="booking-{ref}"]')
    expect(row.locator(f'[id="channel-{ref}"]')).to_have_text("Telephone")
    # The status says booked; the paid flag (icon and words) says the money.
    expect(row.locator(".rt-Badge").filter(has_text=re.compile(r"^Booked$"))).to_be_visible()
    expect(row.locator(f'[id="paid-{ref}"]')).to_have_text("Awaiting payment")
    expect(row.locator(f'[id="paid-{ref}"] svg')).to_be_attached()
    expect(row).to_contain_text("Still to pay")
    expect(row).to_contain_text("Interpreter (Polish)")
    expect(page.locator('[id="offer-status-CLE-260005"]')).to_have_text("Booked")
    expect(page.locator("#h-call-log").locator("xpath=ancestor::section[1]")).to_contain_text(
        "Booked by phone; Polish interpreter")
    expect(page.locator("#timeline")).to_contain_text("Booked by telephone")
    call = db.one("SELECT c.call_type, c.outcome, c.user_id, o.offer_reference FROM call_log c "
                  "JOIN offer o ON o.id = c.offer_id WHERE o.offer_reference = 'CLE-260005'")
    assert call == {"call_type": "booking", "outcome": "booked", "user_id": db.user("hbc.contact")["id"],
                    "offer_reference": "CLE-260005"}


def test_special_circumstances_call_opens_a_request_that_is_decided(page: Page, atlas, db):
    [ref] = import_offers(atlas, "WDU")
    login(page, "hbc.booking", "booking123")
    open_client(page, ref)
    page.click("#log-call")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("#call-offer option:checked")).to_have_text(re.compile("^" + ref))  # the only offer
    page.select_option("#call-type", "special_circumstances")
    page.select_option("#call-outcome", "referred")
    page.select_option("#call-request-kind", "part_payment")
    page.fill("#call-request", "Asks to pay in two instalments")
    page.click("#confirm-call")
    expect(page.locator("#client-notice")).to_contain_text("special-circumstances request is open")
    request = page.locator('[id^="request-"]')
    expect(request).to_have_count(1)
    expect(request).to_contain_text("Open: to decide")
    request.get_by_role("button", name=re.compile("^Approve")).click()
    page.fill("#decide-note", "Two payments agreed")
    page.click("#confirm-decide")
    expect(request).to_contain_text("Approved")
    row = db.one("SELECT r.status, r.decision_note FROM special_request r JOIN offer o ON o.client_id = r.client_id "
                 "WHERE o.offer_reference = :r", r=ref)
    assert row == {"status": "approved", "decision_note": "Two payments agreed"}


def test_transfer_cancel_and_return_to_police(page: Page, atlas, db):
    [ref] = import_offers(atlas, "NSAC")
    login(page, "hbc.contact", "contact123")
    open_client(page, ref)
    open_booking_dialog(page, ref)
    page.locator('#choice-list input[name="session_id"]').first.check()
    page.click("#confirm-book")
    close_call_dialog(page)
    first = db.one("SELECT b.reference, b.session_id FROM booking b JOIN offer o ON o.id = b.offer_id "
                   "WHERE o.offer_reference = :r", r=ref)

    # Transfer: the first booking is marked transferred, the new one holds a seat on the new session.
    page.get_by_role("button", name=f"Transfer booking {first['reference']}").click()
    move = page.locator('#move-list input[name="session_id"]').first
    new_session = int(move.get_attribute("value"))
    assert new_session != first["session_id"]
    move.check()
    page.click("#confirm-transfer")
    expect(page.locator("#client-notice")).to_contain_text(f"Moved {first['reference']}")
    expect(page.locator(f'[id="booking-{first["reference"]}"]')).to_contain_text("Transferred")
    second = db.one("SELECT reference, session_id, status FROM booking WHERE transferred_from_id = "
                    "(SELECT id FROM booking WHERE reference = :r)", r=first["reference"])
    assert second["session_id"] == new_session and second["status"] == "awaiting_payment"
    # The suggested call is one click away.
    page.click("#log-suggested-call")
    expect(page.locator("#call-type")).to_have_value("transfer")
    close_call_dialog(page)

    # Cancel with a reason: the seat is freed and the offer can be booked again.
    page.get_by_role("button", name=f"Cancel booking {second['reference']}").click()
    page.click("#confirm-cancel")  # no reason yet: the browser asks for one
    expect(page.get_by_role("dialog")).to_be_visible()
    page.fill("#cancel-reason", "Client moving abroad")
    page.click("#confirm-cancel")
    expect(page.locator(f'[id="booking-{second["reference"]}"]')).to_contain_text("Cancelled")
    expect(page.locator(f'[id="offer-status-{ref}"]')).to_have_text("Referred: to book")
    expect(page.locator("#timeline")).to_contain_text("Client moving abroad")
    assert db.one("SELECT status FROM booking WHERE reference = :r", r=second["reference"])["status"] == "cancelled"

    # Return the offer to the police.
    page.get_by_role("button", name=f"Return offer {ref} to the police").click()
    page.fill("#return-reason", "Client cannot attend before the critical date")
    page.click("#confirm-return")
    expect(page.locator(f'[id="offer-status-{ref}"]')).to_have_text("Returned to police")
    expect(page.locator(f'[id="book-{ref}"]')).to_have_count(0)
    assert db.one("SELECT status FROM offer WHERE offer_reference = :r", r=ref)["status"] == "returned"


# --- the catalogue ------------------------------------------------------------------------------------------------


def test_new_course_type_and_session_are_bookable_at_once(page: Page, atlas, db):
    code = "E2E" + secrets.token_hex(2).upper()
    name = f"Test course {code}"
    login(page, "hbc.admin", "admin123")
    goto(page, "/bookings/catalogue")
    page.click("#new-course-type")
    expect(page.get_by_role("dialog")).to_be_visible()
    # The service's validation message is shown by the form.
    page.fill("#ct-code", "not a code!")
    page.fill("#ct-name", name)
    page.click("#save-course-type")
    expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text("The code may use capital letters")
    page.fill("#ct-code", code)
    page.uncheck("#ct-ndors")
    page.fill("#ct-duration", "120")
    page.fill("#ct-fee", "55.50")
    page.fill("#ct-capacity", "6")
    page.check("#ct-mode-classroom")
    page.click("#save-course-type")
    row = page.locator(f'[id="ct-row-{code}"]')
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("£55.50")
    expect(row).to_contain_text("Not NDORS")

    session_id = add_session(page, f"{code}: {name}", "Hartlepool Civic Centre", days_ahead=5, start="10:00")
    expect(page.locator("#session-title")).to_contain_text(code)
    expect(page.locator("#session-seats")).to_contain_text("0 of 6 seats taken")

    # The police refer an offer of the new type; it can be booked on the new session straight away.
    [ref] = import_offers(atlas, code)
    open_client(page, ref)
    book_session(page, ref, session_id)
    close_call_dialog(page)
    booking = db.one("SELECT b.channel, b.fee_pence, b.session_id FROM booking b JOIN offer o ON o.id = b.offer_id "
                     "WHERE o.offer_reference = :r", r=ref)
    assert booking == {"channel": "telephone", "fee_pence": 5550, "session_id": session_id}


def test_a_session_that_fills_shows_full(page: Page, atlas, db):
    login(page, "hbc.booking", "booking123")
    session_id = add_session(page, "NSAC: National Speed Awareness Course", "Stockton Road Safety Centre",
                             days_ahead=6, start="19:15", capacity=1)
    expect(page.locator("#session-status")).to_have_text("Open")
    first, second = import_offers(atlas, "NSAC", count=2)
    open_client(page, first)
    book_session(page, first, session_id, needs_access="Wheelchair user")
    close_call_dialog(page)

    # The list: FULL in words (and colour), seats taken equal to capacity.
    goto(page, "/bookings/sessions")
    page.select_option("#filter-course", label="NSAC: National Speed Awareness Course")
    page.select_option("#filter-status", "full")
    page.click("#apply-filters")
    expect(page.locator(f'[id="status-{session_id}"]')).to_have_text("FULL")
    expect(page.locator(f'[id="seats-{session_id}"]')).to_have_text("1 of 1")

    # The session page: FULL, and who is booked with their needs.
    page.locator(f'[id="session-row-{session_id}"] a').click()
    expect(page.locator("#session-status")).to_have_text("FULL")
    entry = page.locator(f'[id="entry-{first}"]')
    expect(entry).to_contain_text("Access: Wheelchair user")
    first_ref = db.one("SELECT b.reference FROM booking b JOIN offer o ON o.id = b.offer_id "
                       "WHERE o.offer_reference = :r", r=first)["reference"]
    expect(page.locator(f'[id="entry-status-{first_ref}"]')).to_have_text("Booked")
    expect(page.locator(f'[id="entry-paid-{first_ref}"]')).to_have_text("Awaiting payment")
    expect(page.locator("#register-closed")).to_be_visible()

    # A full session is not offered to the next caller.
    open_client(page, second)
    open_booking_dialog(page, second)
    expect(page.locator('input[name="session_id"]').first).to_be_attached()
    expect(page.locator(f'[id="choice-{session_id}"]')).to_have_count(0)
    seats = db.one("SELECT seats_taken, capacity FROM course_session WHERE id = :i", i=session_id)
    assert seats == {"seats_taken": 1, "capacity": 1}

    # Cancelling it while someone holds a seat needs the confirmation that they will be told; a second seat opens
    # it again.
    goto(page, f"/bookings/session/{session_id}")
    page.click("#edit-session")
    page.select_option("#edit-status", "cancelled")
    page.click("#save-session-edit")
    alert = page.get_by_role("dialog").get_by_role("alert")
    expect(alert).to_contain_text("1 client is booked on this session")
    expect(alert).to_contain_text("Confirm that you want to cancel it")
    expect(page.locator("#edit-confirm-booked")).to_be_visible()
    assert db.one("SELECT status FROM course_session WHERE id = :i", i=session_id)["status"] == "scheduled"
    page.select_option("#edit-status", "scheduled")
    page.fill("#edit-capacity", "2")
    page.click("#save-session-edit")
    expect(page.locator("#session-status")).to_have_text("Open")
    expect(page.locator("#session-seats")).to_contain_text("1 of 2 seats taken")
    open_client(page, second)
    open_booking_dialog(page, second)
    expect(page.locator(f'[id="choice-{session_id}"]')).to_be_attached()


def test_register_marks_attendance_and_exports_completions(page: Page, atlas, db):
    """A course starting within the hour: the register is open; marking moves the offer; the CSV has the row."""
    login(page, "hbc.booking", "booking123")
    start = (utcnow() + timedelta(minutes=75)).astimezone(LONDON)
    days_ahead = (start.date() - london_date(utcnow())).days   # late in the evening the course is tomorrow
    session_id = add_session(page, "WDU: What's Driving Us?", "Middlesbrough Training Hub", days_ahead=days_ahead,
                             start=start.strftime("%H:%M"), capacity=3)
    [ref] = import_offers(atlas, "WDU")
    open_client(page, ref)
    book_session(page, ref, session_id)
    close_call_dialog(page)
    goto(page, f"/bookings/session/{session_id}")
    entry = page.locator(f'[id="entry-{ref}"]')
    expect(entry).to_be_visible()
    booking_ref = db.one("SELECT b.reference FROM booking b JOIN offer o ON o.id = b.offer_id "
                         "WHERE o.offer_reference = :r", r=ref)["reference"]
    expect(page.locator(f'[id="entry-paid-{booking_ref}"]')).to_have_text("Awaiting payment")
    # Not paid: marking attended warns, and marks only when confirmed (the audit records who let them in).
    entry.get_by_role("button", name=re.compile("^Attended")).click()
    expect(page.locator("#unpaid-warning")).to_contain_text("has not paid")
    assert db.one("SELECT status FROM offer WHERE offer_reference = :r", r=ref)["status"] == "booked"
    page.click("#confirm-unpaid")
    expect(page.get_by_role("status").filter(has_text="marked attended")).to_be_visible()
    audit = db.one("SELECT username, after FROM audit_entry WHERE entity = 'booking' AND entity_id = :r "
                   "AND action = 'attendance' ORDER BY id DESC LIMIT 1", r=booking_ref)
    assert audit["username"] == "hbc.booking" and "unpaid_override" in str(audit["after"])
    expect(entry).to_contain_text("Attended")
    assert db.one("SELECT status FROM offer WHERE offer_reference = :r", r=ref)["status"] == "completed"
    with page.expect_download() as download_info:
        page.click("#export-session")
    text = Path(download_info.value.path()).read_text()
    lines = text.strip().splitlines()
    assert lines[0].startswith("offer_reference,police_force,course_code,course_name,session_date")
    assert any(line.startswith(f"{ref},Cleveland Police,WDU,") and ",attended,yes," in line for line in lines[1:])

    # The same completion in the export for a date range, from the sessions list.
    goto(page, "/bookings/sessions")
    today = start.date().isoformat()
    page.fill("#export-from", today)
    page.fill("#export-to", today)
    with page.expect_download() as download_info:
        page.click("#export-completions")
    assert download_info.value.suggested_filename == f"completions-{start:%Y%m%d}-{start:%Y%m%d}.csv"
    text = Path(download_info.value.path()).read_text()
    assert any(line.startswith(f"{ref},") and ",attended,yes," in line for line in text.splitlines())
    expect(page.get_by_role("status").filter(has_text="completions exported")).to_be_visible()


# --- tenancy ------------------------------------------------------------------------------------------------------


def test_another_organisations_client_and_session_are_not_shown(page: Page, db):
    essex_client = db.one("SELECT c.id, c.last_name FROM client c JOIN organisation o ON o.id = c.organisation_id "
                          "WHERE o.slug = 'essex' ORDER BY c.id LIMIT 1")
    essex_session = db.one("SELECT s.id FROM course_session s JOIN organisation o ON o.id = s.organisation_id "
                           "WHERE o.slug = 'essex' ORDER BY s.id LIMIT 1")
    login(page, "hbc.contact", "contact123")
    goto(page, f"/bookings/client/{essex_client['id']}")
    expect(page.get_by_role("alert")).to_contain_text("No such client in your organisation")
    expect(page.locator("#client-name")).to_have_count(0)
    goto(page, f"/bookings/session/{essex_session['id']}")
    expect(page.get_by_role("alert")).to_contain_text("No such session in your organisation")
    goto(page, "/bookings/clients?q=ESX-DEMO-0001")
    expect(page.locator("#client-hit-count")).to_have_text("0 offers found")


def test_catalogue_is_refused_without_the_permission(page: Page):
    login(page, "hbc.contact", "contact123")
    expect(page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Course catalogue")
           ).to_have_count(0)
    page.goto("/bookings/catalogue")
    wait_hydrated(page)
    expect(page.locator("[data-sonner-toast]").first).to_contain_text("permission")
    expect(page.locator('[id^="ct-row-"]')).to_have_count(0)


def test_a_role_sees_no_empty_menu_heading_and_no_button_it_cannot_use(page: Page):
    """The contact centre has no administration permission: no "Administration" heading over nothing, and the
    users and roles pages offer no "New user" or "New role"."""
    login(page, "hbc.contact", "contact123")
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_text("Bookings", exact=True)).to_be_visible()
    expect(nav.get_by_text("Administration", exact=True)).to_have_count(0)
    for path, button in (("/admin/users", "#new-user"), ("/admin/roles", "#new-role")):
        goto(page, path)
        expect(page.locator("[data-sonner-toast]").first).to_contain_text("permission")
        expect(page.locator(button)).to_have_count(0)


# --- a phone, and axe-core ----------------------------------------------------------------------------------------


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


def test_telephone_booking_on_a_phone(new_context, atlas):
    [ref] = import_offers(atlas, "NSAC")
    page = new_context(viewport=PHONE).new_page()
    login(page, "hbc.contact", "contact123")
    goto(page, "/bookings/clients")
    page.fill("#client-query", ref)
    page.click("#client-search-submit")
    expect(page.locator("#client-hit-count")).to_have_text("1 offer found")
    no_sideways_scroll(page)
    page.get_by_role("list", name="Clients and offers matching the search").get_by_role("link").click()
    expect(page.locator("#client-name")).to_be_visible()
    no_sideways_scroll(page)
    open_booking_dialog(page, ref)
    page.locator('input[name="session_id"]').first.check()
    page.click("#confirm-book")
    expect(page.get_by_role("dialog").get_by_role("heading", name="Log a call")).to_be_visible()
    page.click("#confirm-call")
    expect(page.locator("#client-notice")).to_contain_text("Call logged.")
    cards = page.get_by_role("list", name="Bookings of this client")
    expect(cards).to_contain_text("Telephone")
    expect(cards.get_by_role("button", name=re.compile("^Transfer booking"))).to_be_visible()
    no_sideways_scroll(page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_staff_booking_pages_pass_axe(new_context, viewport):
    page = new_context(viewport=viewport).new_page()
    found: dict[str, list[str]] = {}
    login(page, "hbc.admin", "admin123")
    goto(page, "/bookings/clients?q=CLE-2600")
    expect(page.locator("#client-hit-count")).to_contain_text("offers found")
    found["search"] = axe_problems(page)
    page.locator("main a[href^='/bookings/client/']:visible").first.click()
    expect(page.locator("#client-name")).to_be_visible()
    found["record"] = axe_problems(page)
    page.click("#log-call")
    expect(page.get_by_role("dialog")).to_be_visible()
    found["call dialog"] = axe_problems(page)
    goto(page, "/bookings/sessions")
    expect(page.locator("#sessions-count")).to_contain_text("sessions")
    found["sessions"] = axe_problems(page)
    page.locator("main a[href^='/bookings/session/']:visible").first.click()
    expect(page.locator("#session-title")).to_be_visible()
    found["session"] = axe_problems(page)
    for tab in ("course-types", "regions", "venues", "sessions", "terms"):
        goto(page, f"/bookings/catalogue?tab={tab}")
        expect(page.locator(f"#tab-{tab}")).to_have_attribute("aria-selected", "true")
        found[f"catalogue {tab}"] = axe_problems(page)
    goto(page, "/bookings/catalogue")
    page.click("#new-course-type")
    expect(page.get_by_role("dialog")).to_be_visible()
    found["course type dialog"] = axe_problems(page)
    assert {k: v for k, v in found.items() if v} == {}
