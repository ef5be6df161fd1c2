"""The front-desk contact screen, a feature in preview: off for Hartlepool until its administrator switches it on,
even for a raw websocket event; then by keyboard alone: a new person's contact recorded in under 30 seconds,
resolved at first contact, the focus back on "who" for the next; axe on the screen."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from support import ROOT_STATE, event, login, raw_socket_in_page, scan, wait_hydrated

CONTACT_STATE = f"{ROOT_STATE}.atlas_app___ui___staff___modules___customer_interactions___contact____contact_state"
CODE = "customer_interactions_screen"


def _switch_on(new_context) -> None:
    """Hartlepool's administrator switches the screen on (Feature previews page), if it is not on yet."""
    admin = new_context().new_page()
    login(admin, "hbc.admin", "admin123")
    admin.goto("/admin/previews")
    wait_hydrated(admin)
    row = admin.locator(f"#preview-{CODE}")
    expect(row).to_be_visible()
    if admin.locator(f"#preview-on-{CODE}").count():
        admin.click(f"#preview-on-{CODE}")
    expect(admin.locator(f"#preview-off-{CODE}")).to_be_visible()
    admin.context.close()


def test_the_screen_is_off_until_switched_on_even_for_a_raw_websocket_event(new_context, atlas, db):
    worker = new_context().new_page()
    login(worker, "hbc.caseworker", "cases123")
    path = "/customer-interactions"
    worker.goto(path)
    wait_hydrated(worker)
    expect(worker.locator("#ci-preview-off")).to_contain_text("feature in preview")
    expect(worker.locator("#ci-record")).to_have_count(0)
    demands = db.one("SELECT COUNT(*) AS n FROM case_demand")["n"]
    frames = raw_socket_in_page(worker, atlas.url, [event(f"{CONTACT_STATE}.record", path, form={
        "given_name": "Smuggled", "family_name": "Contact", "what_matters": "sent by hand"})], expect_replies=1)
    assert any("feature in preview" in f for f in frames), frames
    assert db.one("SELECT COUNT(*) AS n FROM case_demand")["n"] == demands
    assert db.all("SELECT id FROM person WHERE family_name = 'Contact' AND given_name = 'Smuggled'") == []
    _switch_on(new_context)
    worker.goto(path)
    wait_hydrated(worker)
    expect(worker.locator("#ci-record")).to_be_visible()
    expect(worker.locator("#ci-preview-off")).to_have_count(0)


def test_a_front_desk_contact_by_keyboard_only(page, new_context, db):
    found: dict[str, list[str]] = {}
    _switch_on(new_context)
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
