"""The front-desk contact screen by keyboard alone: a new person's contact recorded in under 30 seconds, resolved at
first contact, the focus back on "who" for the next; axe on the screen."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from support import login, scan, wait_hydrated


def test_a_front_desk_contact_by_keyboard_only(page, db):
    found: dict[str, list[str]] = {}
    login(page, "hbc.caseworker", "cases123")
    page.goto("/customer-interactions")
    wait_hydrated(page)
    expect(page.locator("#ci-type option").nth(1)).to_be_attached()
    scan(page, "contact screen", found)
    started = time.monotonic()
    who = page.locator("#ci-who")
    if not who.evaluate("el => el === document.activeElement"):
        page.keyboard.press("Tab")  # the skip link first, then the page's first field
        while not who.evaluate("el => el === document.activeElement"):
            page.keyboard.press("Tab")
    page.keyboard.type("Quentin Keyboardson")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Nobody found")).to_be_visible()
    page.keyboard.press("Tab")          # Find
    page.keyboard.press("Tab")          # where (skipped: optional)
    expect(page.locator("#ci-where")).to_be_focused()
    page.keyboard.press("Tab")          # Find
    page.keyboard.press("Tab")
    expect(page.locator("#ci-given")).to_be_focused()
    page.keyboard.type("Quentin")
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboardson")
    page.keyboard.press("Tab")          # "New person anyway"
    page.keyboard.press("Tab")
    expect(page.locator("#ci-type")).to_be_focused()
    page.keyboard.press("ArrowDown")    # the first demand type
    page.keyboard.press("ArrowDown")    # the second: "Ask for information" (value)
    expect(page.locator("#ci-class")).to_have_value("value")
    page.keyboard.press("Tab")          # class: left as the type says
    page.keyboard.press("Tab")          # channel
    page.keyboard.press("ArrowDown")    # Telephone
    page.keyboard.press("Tab")
    expect(page.locator("#ci-what")).to_be_focused()
    page.keyboard.type("Wants to know which day the garden waste is collected")
    page.keyboard.press("Tab")          # outcome: resolved at first contact
    page.keyboard.press("Tab")
    expect(page.locator("#ci-record")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Contact recorded for Quentin Keyboardson")).to_be_visible()
    elapsed = time.monotonic() - started
    expect(page.locator("#ci-who")).to_be_focused()
    demand = db.one("SELECT d.demand_class, d.one_stop, d.need_met_at, d.description FROM case_demand d "
                    "JOIN case_person cp ON cp.case_id = d.case_id JOIN person p ON p.id = cp.person_id "
                    "WHERE p.family_name = 'Keyboardson' ORDER BY d.id DESC")
    assert demand["demand_class"] == "value" and demand["one_stop"] and demand["need_met_at"] is not None
    assert demand["description"].startswith("Wants to know which day")
    assert elapsed < 30, elapsed
    scan(page, "after recording", found)
    assert found == {"contact screen": [], "after recording": []}
