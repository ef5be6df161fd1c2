"""The public booking site in a real browser: the booking wizard (find your offer, how, where, when with a seat hold,
needs, check, book) and manage my booking (view, move, cancel), at phone and desktop sizes, with the keyboard alone,
and scanned with axe-core.

Data: the demo offers CLE-DEMO-0001 (booked once, by one test) and CLE-DEMO-0003 (expired, never booked); every
other test makes its own offer straight in the server's database, with its own email address, so no test depends on
another's bookings or emails.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from atlas_app.db import utcnow
from atlas_app.models import BookingTerms, Client, CourseSession, CourseType, Offer, Organisation, Venue
from atlas_app.timeutil import london_date
from support import path_of, scan, tab_to, tab_to_group, wait_hydrated

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


# --- data ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferDetails:
    reference: str
    day: int
    month: int
    year: int
    postcode: str
    email: str


CLE_DEMO_0001 = OfferDetails("CLE-DEMO-0001", 14, 3, 1985, "TS24 7QS", "sam.demo@example.com")
CLE_DEMO_0003 = OfferDetails("CLE-DEMO-0003", 30, 6, 1990, "TS26 9HU", "alex.lapsed@example.com")


def _client_and_offer(s: Session, org_id: int, course_type_id: int, *, prefix: str, postcode: str,
                      days_left: int = 60) -> OfferDetails:
    tag = secrets.token_hex(3).upper()
    dob = date(1960 + secrets.randbelow(40), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28))
    email = f"e2e-{tag.lower()}@example.com"
    client = Client(organisation_id=org_id, first_name="Test", last_name=f"Client {tag}", date_of_birth=dob,
                    postcode=postcode, email=email)
    s.add(client)
    s.flush()
    today = london_date(utcnow())
    offer = Offer(organisation_id=org_id, offer_reference=f"{prefix}-E2E-{tag}", client_id=client.id,
                  course_type_id=course_type_id, offence_date=today - timedelta(days=30),
                  critical_date=today + timedelta(days=days_left), police_force="Test Police")
    s.add(offer)
    s.flush()
    return OfferDetails(offer.offer_reference, dob.day, dob.month, dob.year, postcode, email)


@pytest.fixture
def new_offer(writer):
    """``new_offer()``: a fresh NSAC offer for a new Hartlepool client (demo catalogue, nothing booked)."""

    def make(org_slug: str = "hartlepool", course: str = "NSAC", postcode: str = "TS24 7QS") -> OfferDetails:
        with Session(writer, expire_on_commit=False) as s:
            org = s.exec(select(Organisation).where(Organisation.slug == org_slug)).one()
            ct = s.exec(select(CourseType).where(CourseType.organisation_id == org.id,
                                                 CourseType.code == course)).one()
            details = _client_and_offer(s, org.id, ct.id, prefix=org_slug[:3].upper(), postcode=postcode)
            s.commit()
            return details

    return make


@pytest.fixture
def own_org_offer(writer):
    """``own_org_offer(hold_minutes, session_days)``: an organisation of its own (so its terms can differ from the
    demo organisations') running online courses only, with sessions that many days ahead, and one offer."""

    def make(hold_minutes: int = 15, session_days: tuple[float, ...] = (5, 6)) -> OfferDetails:
        tag = secrets.token_hex(3)
        now = utcnow().replace(microsecond=0)
        with Session(writer, expire_on_commit=False) as s:
            org = Organisation(slug=f"e2e-{tag}", name=f"Test Council {tag}")
            s.add(org)
            s.flush()
            s.add(BookingTerms(organisation_id=org.id, hold_minutes=hold_minutes))
            ct = CourseType(organisation_id=org.id, code="NSAC", name="National Speed Awareness Course",
                            fee_pence=9000, delivery_modes=["online"], default_capacity=8)
            venue = Venue(organisation_id=org.id, name="Online (video call)", is_online=True)
            s.add_all([ct, venue])
            s.flush()
            for days in session_days:
                start = now + timedelta(days=days)
                s.add(CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venue.id,
                                    delivery_mode="online", starts_at=start, ends_at=start + timedelta(hours=3),
                                    capacity=8))
            details = _client_and_offer(s, org.id, ct.id, prefix="TST", postcode="TS24 7QS")
            s.commit()
        return details

    return make


# --- helpers ------------------------------------------------------------------------------------------------------


def open_page(new_context, viewport: dict) -> Page:
    return new_context(viewport=viewport).new_page()


def goto(page: Page, path: str) -> None:
    page.goto(path)
    wait_hydrated(page)


def on_step(page: Page, path: str, heading: str | re.Pattern) -> None:
    expect(page).to_have_url(re.compile(re.escape(path) + r"/?$"))
    wait_hydrated(page)
    expect(page.locator("#step-heading")).to_have_text(heading)


def fill_find_form(page: Page, offer: OfferDetails, reference_field: str = "#f-reference") -> None:
    page.fill(reference_field, offer.reference)
    page.fill("#f-dob-day", str(offer.day))
    page.fill("#f-dob-month", str(offer.month))
    page.fill("#f-dob-year", str(offer.year))
    page.fill("#f-postcode", offer.postcode)


def find_offer(page: Page, offer: OfferDetails) -> None:
    goto(page, "/book")
    fill_find_form(page, offer)
    page.click("#find-offer")
    on_step(page, "/book/how", "How would you like to attend?")


def choose(page: Page, name: str, which: str = "first") -> str:
    """Pick a radio option (by clicking its card) and return its value."""
    options = page.locator(f"input[name={name}]")
    expect(options.first).to_be_attached()
    option = options.first if which == "first" else options.last
    page.locator(f'label[for="{option.get_attribute("id")}"]').click()
    expect(option).to_be_checked()
    return option.get_attribute("value")


def book_through(page: Page, offer: OfferDetails, *, mode: str = "classroom", session: str = "first",
                 late: bool | None = None) -> str:
    """The whole wizard with the mouse; returns the booking reference shown at the end."""
    find_offer(page, offer)
    page.locator(f'label[for="mode-{mode}"]').click()
    page.click("#continue")
    if mode != "online":
        on_step(page, "/book/where", "Where would you like to go?")
        choose(page, "venue")
        page.click("#continue")
    on_step(page, "/book/when", "When would you like to go?")
    choose(page, "session", session)
    page.click("#hold-session")
    on_step(page, "/book/needs", "Do you need any support at the course?")
    page.check("#interpreter-no")
    page.check("#language-English")
    page.click("#continue")
    on_step(page, "/book/check", "Check your answers before booking")
    if late is not None:
        expect(page.locator("#late-warning")).to_have_count(1 if late else 0)
    page.click("#book")
    on_step(page, "/book/done", "Your place is booked")
    reference = page.locator("#booking-reference").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{7}", reference), reference
    return reference


def hold_clock(page: Page) -> str:
    return page.locator("#hold-countdown [role=timer]").inner_text()


# --- the wizard ---------------------------------------------------------------------------------------------------


def test_phone_client_books_the_demo_offer_and_gets_the_email(new_context, mailbox, db):
    page = open_page(new_context, PHONE)
    goto(page, "/")
    page.click("#book-course")
    on_step(page, "/book", "Find your offer")
    expect(page.locator("#step-indicator")).to_have_text("Step 1 of 6")
    fill_find_form(page, CLE_DEMO_0001)
    page.click("#find-offer")

    on_step(page, "/book/how", "How would you like to attend?")
    expect(page).to_have_title(re.compile("How would you like to attend"))
    expect(page.locator("#step-indicator")).to_have_text("Step 2 of 6")
    expect(page.locator("main")).to_contain_text("National Speed Awareness Course (NSAC)")
    # Only the modes that have bookable sessions are offered, with how many dates each has.
    expect(page.locator("input[name=mode]")).to_have_count(2)
    expect(page.locator('label[for="mode-classroom"]')).to_contain_text(re.compile(r"\d+ dates? available"))
    page.locator('label[for="mode-classroom"]').click()
    page.click("#continue")

    on_step(page, "/book/where", "Where would you like to go?")
    expect(page.locator("#step-indicator")).to_have_text("Step 3 of 6")
    # Nearest first: the client lives in TS24, the Civic Centre is in TS24.
    first_venue = page.locator("input[name=venue]").first
    first_card = page.locator(f'label[for="{first_venue.get_attribute("id")}"]')
    expect(first_card).to_contain_text("Hartlepool Civic Centre")
    expect(first_card).to_contain_text("TS24 8AY")
    expect(first_card).to_contain_text("Step-free access")
    choose(page, "venue")
    page.click("#continue")

    on_step(page, "/book/when", "When would you like to go?")
    expect(page.locator("#step-indicator")).to_have_text("Step 4 of 6")
    expect(page.locator("main")).to_contain_text("Venue: Hartlepool Civic Centre")
    first_session = page.locator('label:has(input[name="session"])').first
    expect(first_session).to_contain_text(re.compile(r"\d{2}:\d{2} to \d{2}:\d{2}"))
    expect(first_session).to_contain_text(re.compile(r"\d+ places? left"))
    session_id = choose(page, "session")
    page.click("#hold-session")

    on_step(page, "/book/needs", "Do you need any support at the course?")
    expect(page.locator("#step-indicator")).to_have_text("Step 5 of 6")
    held = db.one("SELECT b.status, b.hold_expires_at FROM booking b JOIN offer o ON o.id = b.offer_id "
                  "WHERE o.offer_reference = 'CLE-DEMO-0001' AND b.session_id = :s", s=int(session_id))
    assert held and held["status"] == "held"
    # The hold is shown with a ticking countdown and what happens when it runs out.
    expect(page.locator("#hold-panel")).to_contain_text("We are holding a place for you until")
    expect(page.locator("#hold-panel")).to_contain_text("the place is freed for someone else")
    expect(page.locator("#hold-countdown [role=timer]")).to_have_text(re.compile(r"^1[45] min \d\d s$"))
    before = hold_clock(page)
    expect(page.locator("#hold-countdown [role=timer]")).not_to_have_text(before, timeout=5_000)
    # Its live region is polite and says nothing until a threshold is crossed.
    live = page.locator("#hold-countdown [aria-live=polite]")
    expect(live).to_have_text("")

    page.check("#interpreter-yes")
    page.fill("#f-interpreter-language", "Polish")
    page.fill("#f-accessibility", "Hearing loop")
    page.check("#language-English")
    page.click("#continue")

    on_step(page, "/book/check", "Check your answers before booking")
    expect(page.locator("#step-indicator")).to_have_text("Step 6 of 6")
    expect(page.locator("#answer-venue")).to_contain_text("Hartlepool Civic Centre")
    expect(page.locator("#answer-interpreter")).to_contain_text("Yes, Polish")
    expect(page.locator("#answer-accessibility")).to_contain_text("Hearing loop")
    expect(page.locator("main")).to_contain_text("£95.00")
    expect(page.locator("main")).to_contain_text("move the booking to another date online up to 72 hours")
    expect(page.locator("#hold-countdown")).to_be_visible()
    page.click("#book")

    on_step(page, "/book/done", "Your place is booked")
    reference = page.locator("#booking-reference").inner_text().strip()
    assert reference.startswith("HAR-")
    expect(page.locator("main")).to_contain_text("waiting for payment")
    expect(page.locator("main")).to_contain_text("sa*")
    row = db.one("SELECT status, channel, fee_pence, needs FROM booking WHERE reference = :r", r=reference)
    assert row["status"] == "awaiting_payment" and row["channel"] == "online" and row["fee_pence"] == 9500
    assert "Polish" in str(row["needs"])

    mail = mailbox.wait_for(CLE_DEMO_0001.email, reference)
    assert reference in mail.body and "National Speed Awareness Course" in mail.body
    assert "Hartlepool Civic Centre" in mail.body and "£95.00" in mail.body

    # The finished wizard cannot be stepped back into: its pages send the browser to the start.
    goto(page, "/book/check")
    expect(page).to_have_url(re.compile(r"/book/?$"))


def test_desktop_client_books_online_without_a_venue_step(new_context, new_offer, mailbox, db):
    offer = new_offer()
    page = open_page(new_context, DESKTOP)
    find_offer(page, offer)
    page.locator('label[for="mode-online"]').click()
    page.click("#continue")
    on_step(page, "/book/when", "When would you like to go?")
    expect(page.locator("#step-indicator")).to_have_text("Step 3 of 5")
    choose(page, "session")
    page.click("#hold-session")
    on_step(page, "/book/needs", "Do you need any support at the course?")
    expect(page.locator("#step-indicator")).to_have_text("Step 4 of 5")
    page.check("#interpreter-no")
    page.check("#language-Welsh")
    page.click("#continue")
    on_step(page, "/book/check", "Check your answers before booking")
    expect(page.locator("#answer-venue")).to_have_count(0)
    expect(page.locator("#answer-mode")).to_contain_text("Online")
    expect(page.locator("#answer-language")).to_contain_text("Welsh")
    # A change link goes back to its step, and the answers are kept.
    page.click("#change-language")
    on_step(page, "/book/needs", "Do you need any support at the course?")
    expect(page.locator("#language-Welsh")).to_be_checked()
    page.check("#language-English")
    page.click("#continue")
    on_step(page, "/book/check", "Check your answers before booking")
    expect(page.locator("#answer-language")).to_contain_text("English")
    page.click("#book")
    on_step(page, "/book/done", "Your place is booked")
    reference = page.locator("#booking-reference").inner_text().strip()
    expect(page.locator("main")).to_contain_text("Online, by live video")
    assert db.one("SELECT status FROM booking WHERE reference = :r", r=reference)["status"] == "awaiting_payment"
    mailbox.wait_for(offer.email, reference)

    # "Pay now" opens the card page in this tab, however many times it is pressed.
    page.locator("#pay-now").click(click_count=3)
    expect(page).to_have_url(re.compile(r"/pay/demo"))
    expect(page.locator("#pay-reference")).to_have_text(reference)
    assert len(page.context.pages) == 1


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_expired_offer_is_refused(new_context, db, viewport):
    page = open_page(new_context, viewport)
    goto(page, "/book")
    fill_find_form(page, CLE_DEMO_0003)
    page.click("#find-offer")
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text(re.compile(r"This offer expired on \d{2} \w+ \d{4} and can no longer be booked"))
    expect(summary).to_be_focused()
    assert path_of(page).rstrip("/") == "/book"
    assert db.all("SELECT b.id FROM booking b JOIN offer o ON o.id = b.offer_id "
                  "WHERE o.offer_reference = 'CLE-DEMO-0003'") == []


def test_unknown_offer_and_bad_input_get_clear_messages(new_context):
    page = open_page(new_context, PHONE)
    goto(page, "/book")
    page.click("#find-offer")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Error: Find your offer"))
    for text in ("Enter your offer reference.", "Enter your date of birth", "Enter your postcode."):
        expect(summary).to_contain_text(text)
    expect(page.locator("#f-reference")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-reference")).to_have_attribute("aria-describedby", re.compile("f-reference-error"))
    # The summary links to the field.
    summary.get_by_role("link", name="Enter your offer reference.").click()
    expect(page.locator("#f-reference")).to_be_in_viewport()
    fill_find_form(page, OfferDetails("CLE-NOPE-0000", 1, 1, 1980, "TS24 7QS", ""))
    page.click("#find-offer")
    expect(summary).to_contain_text("We could not find an offer with those details")
    expect(page.locator("#f-reference")).to_have_attribute("aria-invalid", "false")


def test_guessing_the_date_of_birth_is_stopped(new_context, new_offer):
    """Five wrong dates of birth for one offer reference, then even the right details are refused for a while."""
    offer = new_offer()
    page = open_page(new_context, PHONE)
    summary = page.locator("#error-summary")
    for n in range(5):
        # A fresh form each time: the attempts are counted on the server, and the last answer on the page is not
        # mistaken for this one.
        goto(page, "/book")
        fill_find_form(page, OfferDetails(offer.reference, offer.day, offer.month, offer.year - 1 - n,
                                          offer.postcode, ""))
        page.click("#find-offer")
        expect(summary).to_contain_text("We could not find an offer with those details")
    goto(page, "/book")
    fill_find_form(page, offer)
    page.click("#find-offer")
    expect(summary).to_contain_text("Too many attempts with details that did not match")
    expect(page).to_have_url(re.compile(r"/book/?$"))
    # Another client on the same network is not held up.
    other = new_offer()
    find_offer(open_page(new_context, PHONE), other)


def test_later_steps_without_an_offer_go_back_to_the_start(new_context):
    page = open_page(new_context, PHONE)
    for path in ("/book/how", "/book/where", "/book/when", "/book/needs", "/book/check", "/book/done"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/book/?$"))
        wait_hydrated(page)
        expect(page.locator("#step-heading")).to_have_text("Find your offer")


def test_an_already_booked_offer_shows_the_booking_and_links_to_manage(new_context, new_offer):
    offer = new_offer()
    page = open_page(new_context, PHONE)
    reference = book_through(page, offer, mode="online")
    goto(page, "/book")
    fill_find_form(page, offer)
    page.click("#find-offer")
    panel = page.locator("#already-booked")
    expect(panel).to_contain_text("This offer is already booked")
    expect(panel).to_contain_text(reference)
    expect(panel).to_contain_text("waiting for payment")
    panel.get_by_role("link", name="Manage your booking").click()
    expect(page).to_have_url(re.compile(r"/booking/manage/?$"))
    wait_hydrated(page)
    expect(page.locator("#step-heading")).to_have_text("Manage your booking")


def test_an_expired_hold_frees_the_seat_and_lets_the_client_choose_again(new_context, own_org_offer, db):
    short_hold_offer = own_org_offer(hold_minutes=1)
    page = open_page(new_context, PHONE)
    find_offer(page, short_hold_offer)
    expect(page.locator("input[name=mode]")).to_have_count(1)
    page.locator('label[for="mode-online"]').click()
    page.click("#continue")
    on_step(page, "/book/when", "When would you like to go?")
    choose(page, "session")
    page.click("#hold-session")
    on_step(page, "/book/needs", "Do you need any support at the course?")
    expect(page.locator("#hold-countdown [role=timer]")).to_have_text(re.compile(r"^[01] min \d\d s$"))
    live = page.locator("#hold-countdown [aria-live=polite]")
    # Screen readers hear the thresholds, not every second.
    expect(live).to_have_text(re.compile("30 seconds left"), timeout=45_000)
    expired = page.locator("#hold-expired")
    expect(expired).to_contain_text("Your seat hold has ended", timeout=45_000)
    expect(expired).to_have_attribute("role", "alert")
    expect(expired).to_contain_text("the seat was freed")
    page.click("#choose-again")
    on_step(page, "/book/when", "When would you like to go?")
    expect(page.locator("#error-summary")).to_contain_text("Your seat hold ran out")
    choose(page, "session", "last")
    page.click("#hold-session")
    on_step(page, "/book/needs", "Do you need any support at the course?")
    expect(page.locator("#hold-countdown")).to_be_visible()
    statuses = [r["status"] for r in db.all(
        "SELECT b.status FROM booking b JOIN offer o ON o.id = b.offer_id WHERE o.offer_reference = :r "
        "ORDER BY b.id", r=short_hold_offer.reference)]
    assert statuses[-1] == "held" and statuses[0] == "expired"


# --- keyboard only ------------------------------------------------------------------------------------------------


def assert_focus_visible(page: Page) -> None:
    style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement); "
                          "return [s.outlineStyle, s.outlineWidth]; })()")
    assert style[0] != "none" and float(style[1].rstrip("px") or 0) >= 2, style


def test_the_whole_booking_with_the_keyboard_alone(new_context, new_offer, mailbox):
    offer = new_offer()
    page = open_page(new_context, DESKTOP)
    goto(page, "/book")
    for element_id, value in (("f-reference", offer.reference), ("f-dob-day", str(offer.day)),
                              ("f-dob-month", str(offer.month)), ("f-dob-year", str(offer.year)),
                              ("f-postcode", offer.postcode)):
        tab_to(page, element_id)
        page.keyboard.type(value)
    tab_to(page, "find-offer")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    on_step(page, "/book/how", "How would you like to attend?")
    expect(page.locator("#step-heading")).to_be_focused()   # focus moves to the new question
    tab_to_group(page, "mode")
    page.keyboard.press("Space")
    expect(page.locator("input[name=mode]").first).to_be_checked()
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    on_step(page, "/book/where", "Where would you like to go?")
    expect(page.locator("#step-heading")).to_be_focused()   # the dates have loaded
    tab_to_group(page, "venue")
    page.keyboard.press("Space")
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    on_step(page, "/book/when", "When would you like to go?")
    expect(page.locator("#step-heading")).to_be_focused()   # the dates have loaded
    tab_to_group(page, "session")
    page.keyboard.press("Space")
    expect(page.locator("input[name=session]").first).to_be_checked()
    tab_to(page, "hold-session")
    page.keyboard.press("Enter")

    on_step(page, "/book/needs", "Do you need any support at the course?")
    expect(page.locator("#step-heading")).to_be_focused()
    tab_to(page, "interpreter-yes")
    page.keyboard.press("ArrowDown")                         # to "No" within the group
    expect(page.locator("#interpreter-no")).to_be_checked()
    tab_to(page, "f-accessibility")
    page.keyboard.type("Wheelchair user")
    tab_to(page, "language-English")
    page.keyboard.press("Space")
    expect(page.locator("#language-English")).to_be_checked()
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    on_step(page, "/book/check", "Check your answers before booking")
    expect(page.locator("#step-heading")).to_be_focused()   # the page has moved focus to its question
    expect(page.locator("#answer-accessibility")).to_contain_text("Wheelchair user")
    tab_to(page, "book")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    on_step(page, "/book/done", "Your place is booked")
    reference = page.locator("#booking-reference").inner_text().strip()
    mailbox.wait_for(offer.email, reference)


# --- manage my booking --------------------------------------------------------------------------------------------


def find_booking(page: Page, reference: str, offer: OfferDetails) -> None:
    goto(page, "/booking/manage")
    fill_find_form(page, OfferDetails(reference, offer.day, offer.month, offer.year, offer.postcode, ""))
    page.click("#find-booking")
    on_step(page, "/booking/manage/view", "Your booking")


def test_manage_booking_view_move_and_cancel(new_context, new_offer, mailbox, db):
    offer = new_offer()
    page = open_page(new_context, PHONE)
    # The last date offered is weeks away, well outside the 72-hour cut-off.
    reference = book_through(page, offer, mode="classroom", session="last", late=False)

    other = open_page(new_context, PHONE)
    goto(other, "/booking/manage")
    fill_find_form(other, OfferDetails(reference, offer.day, offer.month, offer.year + 1, offer.postcode, ""))
    other.click("#find-booking")
    expect(other.locator("#error-summary")).to_contain_text("We could not find a booking with those details")

    find_booking(page, reference.lower(), offer)
    expect(page.locator("#booking-reference")).to_have_text(reference)
    expect(page.locator("#booking-status")).to_have_text("Booked")
    expect(page.locator("main")).to_contain_text("72 hours before the course")

    page.click("#move-booking")
    on_step(page, "/booking/manage/move", "Move your booking to another date")
    page.select_option("#f-place", "online")
    expect(page.locator("input[name=session]").first).to_be_attached()
    page.click("#confirm-move")
    expect(page.locator("#error-summary")).to_contain_text("Select the new date and time.")
    choose(page, "session", "last")
    page.click("#confirm-move")
    on_step(page, "/booking/manage/view", "Your booking")
    notice = page.locator("#manage-notice")
    expect(notice).to_contain_text("Your booking has moved")
    new_reference = re.search(r"new booking reference is ([A-Z0-9-]+)\.", notice.inner_text()).group(1)
    assert new_reference != reference
    expect(page.locator("#booking-where")).to_have_text("Online, by live video")
    rows = {r["reference"]: r["status"] for r in db.all(
        "SELECT reference, status FROM booking WHERE reference IN (:a, :b)", a=reference, b=new_reference)}
    assert rows == {reference: "transferred", new_reference: "awaiting_payment"}
    mailbox.wait_for(offer.email, f"has moved: {new_reference}")

    page.click("#cancel-booking")
    on_step(page, "/booking/manage/cancel", "Are you sure you want to cancel this booking?")
    page.click("#confirm-cancel")
    on_step(page, "/booking/manage/view", "Your booking")
    expect(page.locator("#manage-notice")).to_contain_text(f"Your booking {new_reference} is cancelled")
    expect(page.locator("#booking-status")).to_have_text("Cancelled")
    expect(page.locator("#move-booking")).to_have_count(0)
    expect(page.locator("#cancel-booking")).to_have_count(0)
    assert db.one("SELECT status FROM booking WHERE reference = :r", r=new_reference)["status"] == "cancelled"
    mailbox.wait_for(offer.email, f"{new_reference} is cancelled")


def test_manage_refuses_changes_inside_the_cut_off(new_context, own_org_offer):
    offer = own_org_offer(session_days=(1, 10))
    page = open_page(new_context, PHONE)
    # Tomorrow: the check page warns that it cannot be changed online once booked.
    reference = book_through(page, offer, mode="online", session="first", late=True)
    find_booking(page, reference, offer)
    expect(page.locator("#change-note")).to_contain_text("only be changed online up to 72 hours before the course")
    expect(page.locator("#change-note")).to_contain_text("telephone")
    expect(page.locator("#move-booking")).to_have_count(0)
    expect(page.locator("#cancel-booking")).to_have_count(0)
    # A direct visit to the move or cancel page goes back to the booking.
    for path in ("/booking/manage/move", "/booking/manage/cancel"):
        page.goto(path)
        on_step(page, "/booking/manage/view", "Your booking")


# --- accessibility scan -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_problems_on_any_booking_page(new_context, new_offer, viewport):
    offer = new_offer()
    page = open_page(new_context, viewport)
    found: dict[str, list[str]] = {}
    goto(page, "/")
    scan(page, "home", found)
    goto(page, "/book")
    scan(page, "find", found)
    page.click("#find-offer")
    expect(page.locator("#error-summary")).to_be_visible()
    scan(page, "find with errors", found)
    fill_find_form(page, offer)
    page.click("#find-offer")
    on_step(page, "/book/how", "How would you like to attend?")
    scan(page, "how", found)
    page.click("#continue")
    expect(page.locator("#error-summary")).to_be_visible()
    scan(page, "how with errors", found)
    page.locator('label[for="mode-classroom"]').click()
    page.click("#continue")
    on_step(page, "/book/where", "Where would you like to go?")
    scan(page, "where", found)
    choose(page, "venue")
    page.click("#continue")
    on_step(page, "/book/when", "When would you like to go?")
    scan(page, "when", found)
    page.click("#hold-session")
    expect(page.locator("#error-summary")).to_be_visible()
    scan(page, "when with errors", found)
    choose(page, "session", "last")
    page.click("#hold-session")
    on_step(page, "/book/needs", "Do you need any support at the course?")
    scan(page, "needs", found)
    page.check("#interpreter-yes")
    page.click("#continue")
    expect(page.locator("#error-summary")).to_be_visible()
    scan(page, "needs with errors", found)
    page.fill("#f-interpreter-language", "Arabic")
    page.check("#language-English")
    page.click("#continue")
    on_step(page, "/book/check", "Check your answers before booking")
    scan(page, "check", found)
    page.click("#book")
    on_step(page, "/book/done", "Your place is booked")
    scan(page, "done", found)
    reference = page.locator("#booking-reference").inner_text().strip()

    goto(page, "/booking/manage")
    scan(page, "manage find", found)
    page.click("#find-booking")
    expect(page.locator("#error-summary")).to_be_visible()
    scan(page, "manage find with errors", found)
    find_booking(page, reference, offer)
    scan(page, "manage view", found)
    page.click("#move-booking")
    on_step(page, "/booking/manage/move", "Move your booking to another date")
    scan(page, "manage move", found)
    page.click("#confirm-move")
    expect(page.locator("#error-summary")).to_be_visible()
    scan(page, "manage move with errors", found)
    goto(page, "/booking/manage/cancel")
    on_step(page, "/booking/manage/cancel", "Are you sure you want to cancel this booking?")
    scan(page, "manage cancel", found)
    page.click("#confirm-cancel")
    on_step(page, "/booking/manage/view", "Your booking")
    scan(page, "manage after cancelling", found)

    assert len(found) == 19
    problems = {name: bad for name, bad in found.items() if bad}
    assert problems == {}, problems
