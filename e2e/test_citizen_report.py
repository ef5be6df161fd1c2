"""Residents' reports in Chromium at phone size: report a problem with a photo found by address search, the
confirmation email at the test SMTP server, a staff update (made through the service) on the tracking page, the
duplicate path with the keyboard alone, and axe-core finding no serious or critical problems on any page."""

from __future__ import annotations

import io
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from support import at, axe_problems, tab_to, tab_to_group, wait_hydrated

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def _photo(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "fly-tip.jpg"
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 60)).save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def _on(page: Page, path: str, heading: str) -> None:
    expect(page).to_have_url(at(path))
    wait_hydrated(page)
    expect(page.locator("#step-heading")).to_have_text(heading)


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"


def _scan(page: Page, name: str, found: dict[str, list[str]]) -> None:
    _no_sideways_scroll(page)
    # The settled page: colours still in a CSS transition (a link's, as the page arrives) are not what it shows.
    page.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')")
    found[name] = axe_problems(page)


def test_report_with_a_photo_by_address_search_then_track_a_staff_update(new_context, mailbox, db, report_services,
                                                                           tmp_path):
    found: dict[str, list[str]] = {}
    page = new_context(**PHONE).new_page()
    page.goto("/report?org=hartlepool")
    _on(page, "/report/what", "What is the problem?")
    _scan(page, "what", found)
    page.get_by_text("Fly-tipping report", exact=True).tap()
    page.locator("#continue").tap()

    _on(page, "/report/where", "Where is the problem?")
    expect(page.locator("#map-off")).to_be_visible()
    page.locator("#f-q").fill("TS26 9HU")
    page.locator("#search").tap()
    expect(page.locator("#address-group")).to_contain_text("20 Park Road")
    _scan(page, "where", found)
    page.get_by_text("20 Park Road, Hartlepool, TS26 9HU").tap()
    page.locator("#continue").tap()

    _on(page, "/report/details", "Tell us about the problem")
    page.locator("#report-photos input[type=file]").set_input_files(str(_photo(tmp_path)))
    page.locator("#add-photos").tap()
    expect(page.locator("#photo-list")).to_contain_text("fly-tip.jpg")
    page.locator("#f-description").fill("Three black bags and a mattress by the bus stop")
    page.locator("#f-name").fill("Ann Resident")
    page.locator("#f-email").fill("ann.resident@example.org")
    page.locator("#continue").tap()
    expect(page.locator("#error-summary")).to_contain_text("Tick the box")   # consent is needed
    _scan(page, "details with an error", found)
    page.locator("#f-consent").check()
    page.locator("#continue").tap()

    _on(page, "/report/check", "Check your answers before sending your report")
    expect(page.locator("#answer-photos")).to_contain_text("fly-tip.jpg")
    expect(page.locator("#answer-where")).to_contain_text("20 Park Road")
    _scan(page, "check", found)
    page.locator("#send").tap()

    _on(page, "/report/done", "Report sent")
    reference = page.locator("#report-reference").inner_text().strip()
    assert re.fullmatch(r"ENV-\d{6}", reference)
    link = page.locator("#tracking-link").get_attribute("href")
    assert f"/track/{reference}?token=" in link
    _scan(page, "done", found)

    mail = mailbox.wait_for("ann.resident@example.org", reference)
    assert link in mail.body

    # Staff post an update through the service; the reporter sees it on the tracking page.
    org_id = db.one("SELECT id FROM organisation WHERE slug = 'hartlepool'")["id"]
    from atlas_app.services.platform.actor import system_actor

    report_services.public_update(system_actor(org_id, "e2e staff"), reference, "A crew will clear it on Tuesday.")
    report_services.change_status(system_actor(org_id, "e2e staff"), reference, "in_progress")
    page.goto(link)
    wait_hydrated(page)
    expect(page.locator("#step-heading")).to_have_text(f"Report {reference}")
    expect(page.locator("#report-status")).to_have_text("In progress")
    expect(page.locator("#timeline")).to_contain_text("A crew will clear it on Tuesday.")
    photo = page.get_by_role("img", name="Photo of the problem")
    expect(photo).to_be_visible()
    assert page.evaluate("document.querySelector('img[alt=\"Photo of the problem\"]').naturalWidth") == 320
    _scan(page, "track", found)
    assert mailbox.wait_for("ann.resident@example.org", "In progress")

    page.locator("#f-information").fill("The mattress has been moved onto the road.")
    page.locator("#send-information").tap()
    expect(page.locator("#track-notice")).to_contain_text("Your information has been added")
    expect(page.locator("#timeline")).to_contain_text("moved onto the road")
    page.locator("#stop-updates").tap()
    expect(page.locator("#track-notice")).to_contain_text("You will not get any more email updates")

    # The same page without the token shows nothing of the report.
    other = new_context(**PHONE).new_page()
    other.goto(f"/track/{reference}")
    expect(other).to_have_url(at("/track"))
    wait_hydrated(other)
    expect(other.locator("body")).not_to_contain_text("mattress")
    _scan(other, "find your report", found)
    assert found == {name: [] for name in found}


def test_the_duplicate_path_with_the_keyboard_alone(new_context, mailbox, db):
    page = new_context(**PHONE).new_page()
    # Someone has already reported fly-tipping at 1 Victoria Road.
    category = db.one("SELECT c.id FROM env_report_category c JOIN case_lookup l ON l.id = c.demand_type_id "
                      "JOIN organisation o ON o.id = c.organisation_id "
                      "WHERE o.slug = 'hartlepool' AND l.name = 'Fly-tipping report'")["id"]
    first = page.request.post("/api/report/hartlepool", data={"category_id": category, "uprn": 100110000001,
                                                              "description": "Sofa on the pavement"})
    assert first.status == 201, first.text()
    reference = first.json()["reference"]

    page.goto("/report?org=hartlepool")
    _on(page, "/report/what", "What is the problem?")
    tab_to_group(page, "category")
    # Fly-tipping is the first category: Space selects it.
    page.keyboard.press("Space")
    expect(page.locator("input[name=category]").first).to_be_checked()
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    _on(page, "/report/where", "Where is the problem?")
    tab_to(page, "f-q")
    page.keyboard.type("victoria road")
    page.keyboard.press("Enter")
    expect(page.locator("#address-group")).to_contain_text("3 Victoria Road")
    tab_to_group(page, "uprn")
    page.keyboard.press("ArrowDown")   # from 1 to 3 Victoria Road, 20 m from the first report
    expect(page.locator("#address-100110000003")).to_be_checked()
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    _on(page, "/report/duplicates", "Is it one of these?")
    expect(page.locator("#dupe-group")).to_contain_text(reference)
    assert axe_problems(page) == []
    tab_to_group(page, "dupe")
    page.keyboard.press("Space")
    expect(page.locator(f"#dupe-{reference}")).to_be_checked()
    tab_to(page, "continue")
    page.keyboard.press("Enter")

    _on(page, "/report/repeat", "Follow this report")
    tab_to(page, "f-email")
    page.keyboard.type("bob.neighbour@example.org")
    tab_to(page, "send-repeat")
    page.keyboard.press("Enter")
    expect(page).to_have_url(at("/report/added"))
    expect(page.locator("#added-reference")).to_have_text(reference)
    assert axe_problems(page) == []
    mail = mailbox.wait_for("bob.neighbour@example.org", reference)
    assert f"/track/{reference}?token=" in mail.body
    row = db.one("SELECT r.repeat_count, (SELECT count(*) FROM case_demand d WHERE d.case_id = r.case_id "
                 "AND d.demand_class = 'failure') AS failures FROM env_report r WHERE r.reference = :r",
                 r=reference)
    assert row == {"repeat_count": 1, "failures": 1}
