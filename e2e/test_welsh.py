"""The public site in Welsh in a real browser: axe-core finds nothing serious or critical on any public page in
either language at phone and desktop sizes, each page links to its counterpart, and a Welsh client books from
offer to confirmation with the keyboard alone and gets the confirmation email in Welsh; a resident who reports a
problem on the Welsh pages gets the later status emails in Welsh too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from support import at, scan, tab_to, tab_to_group, wait_hydrated
from test_booking_wizard import (
    DESKTOP,
    PHONE,
    assert_focus_visible,
    fill_find_form,
    goto,
    new_offer,
    open_page,
)


def expect_language(page, lang: str) -> None:
    """The page's main content is marked as being in ``lang`` (waited for: after a client-side navigation the
    address changes before the next page's frame replaces the last one)."""
    expect(page.locator("main#main").locator("xpath=ancestor::*[@lang][1]")).to_have_attribute("lang", lang)


def on_welsh_step(page, path: str, heading: str) -> None:
    expect(page).to_have_url(re.compile(re.escape(path) + r"/?$"))
    expect(page.locator("#step-heading")).to_have_text(heading)
    expect_language(page, "cy")


def on_welsh_wizard_step(page, path: str, heading: str) -> None:
    """A step of the booking wizard, once it has arrived: each step's load moves focus to its question, so keys
    pressed before that would land on whatever had focus and then lose it."""
    on_welsh_step(page, path, heading)
    expect(page.locator("#step-heading")).to_be_focused()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_nothing_serious_on_the_public_pages_in_both_languages(new_context, new_offer, viewport):
    offer = new_offer()
    page = open_page(new_context, viewport)
    found: dict[str, list[str]] = {}
    for prefix in ("", "/cy"):
        for path in ("/" if not prefix else "", "/book", "/booking/manage", "/accessibility",
                     "/accessibility/hartlepool", "/pay/return", "/pay/demo", "/no-such-page"):
            goto(page, (prefix + path) or "/cy")
            scan(page, prefix + path, found)
    # The Welsh wizard's steps, and an error summary in Welsh.
    goto(page, "/cy/book")
    page.click("#find-offer")
    expect(page.locator("#error-summary")).to_contain_text("Mae problem")
    scan(page, "/cy/book with errors", found)
    fill_find_form(page, offer)
    page.click("#find-offer")
    on_welsh_step(page, "/cy/book/how", "Sut hoffech chi fynychu?")
    scan(page, "/cy/book/how", found)
    page.locator('label[for="mode-classroom"]').click()
    page.click("#continue")
    on_welsh_step(page, "/cy/book/where", "Ble hoffech chi fynd?")
    scan(page, "/cy/book/where", found)
    assert found == {name: [] for name in found}


def test_each_page_links_to_the_same_page_in_the_other_language(new_context):
    page = open_page(new_context, DESKTOP)
    goto(page, "/booking/manage")
    switch = page.locator("#language-switch")
    expect(switch).to_have_text("Cymraeg")
    expect(switch).to_have_attribute("lang", "cy")
    switch.click()
    expect(page).to_have_url(re.compile(r"/cy/booking/manage/?$"))
    expect(page.locator("#step-heading")).to_have_text("Rheoli eich archeb")
    expect(page.locator("#language-switch")).to_have_text("English")
    goto(page, "/cy/accessibility/hartlepool")
    expect(page.locator("#statement-heading")).to_contain_text("Datganiad hygyrchedd")
    page.locator("#language-switch").click()
    expect(page).to_have_url(re.compile(r"/accessibility/hartlepool/?$"))
    expect(page.locator("#statement-heading")).to_contain_text("Accessibility statement for")
    goto(page, "/")
    page.locator("#footer-accessibility").click()
    expect(page).to_have_url(re.compile(r"/accessibility/?$"))


def test_a_welsh_booking_with_the_keyboard_alone_and_a_welsh_email(new_context, new_offer, mailbox):
    offer = new_offer()
    page = open_page(new_context, DESKTOP)
    goto(page, "/cy/book")
    for element_id, value in (("f-reference", offer.reference), ("f-dob-day", str(offer.day)),
                              ("f-dob-month", str(offer.month)), ("f-dob-year", str(offer.year)),
                              ("f-postcode", offer.postcode)):
        tab_to(page, element_id)
        page.keyboard.type(value)
    expect(page.locator("#correspondence-cy")).to_be_checked()   # the page's language, already chosen
    tab_to(page, "find-offer")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    on_welsh_wizard_step(page, "/cy/book/how", "Sut hoffech chi fynychu?")
    tab_to_group(page, "mode")
    page.keyboard.press("Space")
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    on_welsh_wizard_step(page, "/cy/book/where", "Ble hoffech chi fynd?")
    tab_to_group(page, "venue")
    page.keyboard.press("Space")
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    on_welsh_wizard_step(page, "/cy/book/when", "Pryd hoffech chi fynd?")
    tab_to_group(page, "session")
    page.keyboard.press("Space")
    tab_to(page, "hold-session")
    page.keyboard.press("Enter")

    on_welsh_wizard_step(page, "/cy/book/needs", "Oes angen unrhyw gymorth arnoch chi ar y cwrs?")
    expect(page.locator("#hold-panel")).to_contain_text("Rydym yn cadw lle i chi tan")
    tab_to(page, "interpreter-yes")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#interpreter-no")).to_be_checked()
    tab_to(page, "language-English")                        # Tab enters the group on its first option
    page.keyboard.press("ArrowDown")                         # to "Cymraeg" within the group
    expect(page.locator("#language-Welsh")).to_be_checked()
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    on_welsh_wizard_step(page, "/cy/book/check", "Gwiriwch eich atebion cyn archebu")
    expect(page.locator("#answer-language")).to_contain_text("Cymraeg")
    tab_to(page, "book")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    on_welsh_wizard_step(page, "/cy/book/done", "Mae eich lle wedi’i archebu")
    reference = page.locator("#booking-reference").inner_text().strip()
    mail = mailbox.wait_for(offer.email, f"Archeb eich cwrs {reference}")
    assert mail.body.startswith("Annwyl ")
    assert re.search(r"Pryd: dydd \w+ \d{1,2} \w+ \d{4} am \d\d:\d\d", mail.body), mail.body
    assert "Ffi: £" in mail.body


# The report, tracking and waiting-list pages, in English and in Welsh (Hartlepool offers Welsh).
REPORT_HEADINGS = {"": ("What is the problem?", "Where is the problem?", "Find your report", "This link is not valid",
                        "Join the waiting list"),
                   "/cy": ("Beth yw’r broblem?", "Ble mae’r broblem?", "Dod o hyd i’ch adroddiad",
                           "Nid yw’r ddolen hon yn ddilys", "Ymuno â’r rhestr aros")}


def _settled(page) -> None:
    # Colours still in a CSS transition (a link's, as the page arrives) are not what the page shows.
    page.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_nothing_serious_on_the_report_track_and_waiting_list_pages_in_both_languages(
        new_context, new_offer, viewport):
    page = open_page(new_context, viewport)
    found: dict[str, list[str]] = {}
    for prefix in ("", "/cy"):
        what, where, track, seat, waiting = REPORT_HEADINGS[prefix]
        lang = "cy" if prefix else "en-GB"
        goto(page, f"{prefix}/report?org=hartlepool")
        expect(page).to_have_url(re.compile(re.escape(f"{prefix}/report/what") + r"/?$"))
        expect(page.locator("#step-heading")).to_have_text(what)
        expect_language(page, lang)
        expect(page.locator("#language-switch")).to_have_text("English" if prefix else "Cymraeg")
        if prefix:   # the council's own Welsh wording of its categories and promise
            expect(page.locator("#category-group")).to_contain_text("Tipio anghyfreithlon")
            expect(page.locator("#category-group")).to_contain_text("ein nod yw ymdrin ag adroddiadau o fewn")
        _settled(page)
        scan(page, f"{prefix}/report/what", found)
        if not prefix:   # (the tab keeps its choice, so the Welsh round starts with it made)
            page.click("#continue")
            expect(page.locator("#error-summary")).to_be_visible()
            _settled(page)
            scan(page, f"{prefix}/report/what with an error", found)
        page.locator("#category-group label").first.click()
        page.click("#continue")
        expect(page).to_have_url(re.compile(re.escape(f"{prefix}/report/where") + r"/?$"))
        expect(page.locator("#step-heading")).to_have_text(where)
        page.fill("#f-q", "")          # (the tab keeps the last search in the field)
        page.click("#search")
        expect(page.locator("#error-summary")).to_contain_text(
            "Rhowch god post" if prefix else "Enter a postcode")
        _settled(page)
        scan(page, f"{prefix}/report/where with an error", found)
        page.fill("#f-q", "TS26 9HU")
        page.click("#search")
        expect(page.locator("#address-group")).to_contain_text("20 Park Road")
        _settled(page)
        scan(page, f"{prefix}/report/where with addresses", found)
        goto(page, f"{prefix}/track")
        expect(page.locator("#step-heading")).to_have_text(track)
        page.click("#find-report")
        expect(page.locator("#error-summary")).to_be_visible()
        _settled(page)
        scan(page, f"{prefix}/track with errors", found)
        goto(page, f"{prefix}/waiting-list/seat?token=nothing-here")
        expect(page.locator("#step-heading")).to_have_text(seat)
        _settled(page)
        scan(page, f"{prefix}/waiting-list/seat", found)
        # The waiting list's join page, for an offer the wizard found.
        offer = new_offer()
        goto(page, f"{prefix}/book")
        fill_find_form(page, offer)
        page.click("#find-offer")
        expect(page).to_have_url(re.compile(re.escape(f"{prefix}/book/how") + r"/?$"))
        goto(page, f"{prefix}/book/waiting-list")
        expect(page.locator("#step-heading")).to_have_text(waiting)
        _settled(page)
        scan(page, f"{prefix}/book/waiting-list", found)
    assert found == {name: [] for name in found}


def test_a_council_without_welsh_carries_a_welsh_visitor_on_in_english(new_context, new_offer):
    offer = new_offer("essex", postcode="CM1 1QH")        # Essex does not offer Welsh
    page = open_page(new_context, DESKTOP)
    goto(page, "/cy/book")
    expect(page.locator("#language-switch")).to_have_text("English")
    fill_find_form(page, offer)
    page.click("#find-offer")
    expect(page).to_have_url(re.compile(r"/book/how/?$"))
    assert "/cy/" not in page.url
    wait_hydrated(page)
    expect_language(page, "en-GB")
    expect(page.locator("#language-switch")).to_have_count(0)     # no way to Welsh for this council


def test_a_report_made_in_welsh_gets_its_status_emails_in_welsh(new_context, mailbox, db, report_services):
    page = open_page(new_context, PHONE)
    goto(page, "/cy/report?org=hartlepool")
    expect(page).to_have_url(at("/cy/report/what"))
    page.get_by_text("Anifail marw", exact=True).click()
    page.click("#continue")
    expect(page).to_have_url(at("/cy/report/where"))
    page.fill("#f-q", "TS26 9HU")
    page.click("#search")
    expect(page.locator("#address-group")).to_contain_text("20 Park Road")
    page.get_by_text("20 Park Road, Hartlepool, TS26 9HU").click()
    page.click("#continue")
    page.wait_for_url(re.compile(r"/cy/report/(details|duplicates)/?(\?.*)?$"))
    if "/duplicates" in page.url:   # another test reported something there already: this is a new problem
        page.locator("#dupe-new").check()
        page.click("#continue")
    expect(page).to_have_url(at("/cy/report/details"))
    page.fill("#f-description", "Bagiau sbwriel wrth yr arhosfan bysiau")
    page.fill("#f-name", "Nia Preswylydd")
    page.fill("#f-email", "nia.preswylydd@example.org")
    page.check("#f-consent")
    page.click("#continue")
    expect(page).to_have_url(at("/cy/report/check"))
    page.click("#send")
    expect(page).to_have_url(at("/cy/report/done"))
    reference = page.locator("#report-reference").inner_text().strip()
    assert mailbox.wait_for("nia.preswylydd@example.org", f"Eich adroddiad {reference}")

    # Staff move it on from their (English) screens; the follower is written to in Welsh.
    from atlas_app.services.platform.actor import system_actor

    org_id = db.one("SELECT id FROM organisation WHERE slug = 'hartlepool'")["id"]
    report_services.change_status(system_actor(org_id, "e2e staff"), reference, "fixed")
    mail = mailbox.wait_for("nia.preswylydd@example.org", f"Eich adroddiad {reference}: Wedi’i drwsio")
    assert re.search(r"wedi cael sylw \(dydd \w+ \d{1,2} \w+ \d{4}\)", mail.body), mail.body
    assert f"/cy/track/{reference}?token=" in mail.body
    assert "See your report" not in mail.body and "Your report" not in mail.body
