"""Casework in the browser: a case worker imports a gazetteer, records people and a case with all its parts and
finds it again; an administrator adds a task category that is offered at once."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import expect

from support import login, wait_hydrated

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "samples" / "gazetteer-abp-plus.csv"


def goto(page, path: str) -> None:
    page.goto(path)
    wait_hydrated(page)
    expect(page.locator("main h1")).to_be_visible()


def open_panel(page, panel_id: str) -> None:
    """Open a disclosure panel (it stays open after its form is submitted)."""
    if not page.locator(f"#{panel_id}").evaluate("el => el.open"):
        page.click(f"#{panel_id}-toggle")
    expect(page.locator(f"#{panel_id}")).to_have_js_property("open", True)


def option_value(page, select: str, label: str) -> str:
    """The value of the option whose text contains ``label`` (waits until it is offered)."""
    option = page.locator(f"{select} option", has_text=label).first
    expect(option).to_be_attached()
    return option.get_attribute("value")


def create_person(page, given: str, family: str, dob: str, uprn: str = "") -> str:
    goto(page, "/casework/people")
    page.fill("#person-given", given)
    page.fill("#person-family", family)
    page.fill("#person-dob", dob)
    if uprn:
        page.fill("#person-uprn", uprn)
        page.fill("#person-from", "2021-06-01")
    page.click("#add-person")
    expect(page).to_have_url(re.compile(r"/casework/person/\d+/?$"))
    wait_hydrated(page)
    expect(page.locator("#person-heading")).to_contain_text(f"{given} {family}")
    return re.search(r"/casework/person/(\d+)", page.url).group(1)


def test_case_worker_end_to_end(page):
    login(page, "hbc.caseworker", "cases123")

    # Import a small gazetteer file, with progress and a result.
    goto(page, "/casework/places")
    page.select_option("#gazetteer-format", "abp-plus")
    page.set_input_files("#gazetteer input[type=file]", str(SAMPLE))
    expect(page.locator("#gazetteer-file")).to_contain_text("gazetteer-abp-plus.csv")
    page.click("#gazetteer-import")
    expect(page.get_by_role("status").filter(has_text="Imported")).to_contain_text("6 rows read", timeout=30_000)
    expect(page.locator("#imports")).to_contain_text("done")
    page.fill("#place-q", "TS26 9DE")
    page.click("#place-search")
    expect(page.locator("#place-row-100110001005")).to_contain_text("Flat 1, Victoria House")

    # A person at a UPRN with a relationship to another person.
    partner = create_person(page, "Daniel", "Okafor", "1983-11-20")
    create_person(page, "Grace", "Okafor", "1985-04-12", uprn="100110001005")
    expect(page.locator("#person-addresses")).to_contain_text("100110001005")
    open_panel(page, "panel-relationship")
    page.fill("#rel-find", "daniel okafor")
    page.click("#rel-find-go")
    page.select_option("#rel-type", option_value(page, "#rel-type", "Partner of"))
    page.select_option("#rel-person", partner)
    page.click("#add-relationship")
    expect(page.locator("#person-relationships")).to_contain_text("Partner of Daniel Okafor")
    grace_url = page.url

    # Open a case for her at the place.
    goto(page, "/casework")
    page.fill("#case-title", "Missed bins and a chasing call")
    page.select_option("#case-module", option_value(page, "#case-module", "Customer Interactions"))
    page.fill("#case-person", re.search(r"/casework/person/(\d+)", grace_url).group(1))
    page.select_option("#case-role", option_value(page, "#case-role", "Customer"))
    page.fill("#case-uprn", "100110001005")
    page.click("#open-case")
    expect(page).to_have_url(re.compile(r"/casework/case/\d+/?$"))
    wait_hydrated(page)
    expect(page.locator("#case-people")).to_contain_text("Grace Okafor")
    expect(page.locator("#case-places")).to_contain_text("100110001005")

    # Two demands: one value, one failure.
    open_panel(page, "panel-demand")
    page.select_option("#demand-type", option_value(page, "#demand-type", "Request a service"))
    page.select_option("#demand-channel", option_value(page, "#demand-channel", "Telephone"))
    page.fill("#demand-description", "Please collect my garden waste")
    page.check("#demand-one-stop")
    page.click("#add-demand")
    expect(page.locator("#case-demands")).to_contain_text("Request a service")
    open_panel(page, "panel-demand")
    page.select_option("#demand-type", option_value(page, "#demand-type", "Chasing progress"))
    page.fill("#demand-description", "Bin still not emptied")
    page.click("#add-demand")
    demands = page.locator("#case-demands")
    expect(demands).to_contain_text("Chasing progress")
    expect(demands).to_contain_text("value")
    expect(demands).to_contain_text("failure")

    # An activity of two tasks.
    open_panel(page, "panel-activity")
    page.fill("#activity-note", "Called the crew and the customer")
    page.click("#add-task-row")
    expect(page.locator("#task-2-category")).to_be_visible()
    page.select_option("#task-1-category", option_value(page, "#task-1-category", "Hand off to a service"))
    page.fill("#task-1-minutes", "10")
    page.select_option("#task-2-category", option_value(page, "#task-2-category", "Call back"))
    page.select_option("#task-2-person", option_value(page, "#task-2-person", "Grace Okafor"))
    page.fill("#task-2-minutes", "5")
    page.click("#log-activity")
    activity = page.locator("#case-activities")
    expect(activity).to_contain_text("Hand off to a service")
    expect(activity).to_contain_text("Call back with Grace Okafor")
    expect(activity).to_contain_text("15")

    # An intention due tomorrow.
    tomorrow = date.today() + timedelta(days=1)
    open_panel(page, "panel-intention")
    page.select_option("#intention-type", option_value(page, "#intention-type", "Check resolved with the customer"))
    page.fill("#intention-due", tomorrow.isoformat())
    page.click("#add-intention")
    expect(page.locator("#case-intentions")).to_contain_text(tomorrow.strftime("%d %b %Y"))

    # A system condition against the failure demand.
    open_panel(page, "panel-condition")
    page.select_option("#condition-category", option_value(page, "#condition-category", "IT system"))
    page.select_option("#condition-demand", option_value(page, "#condition-demand", "Chasing progress"))
    page.fill("#condition-note", "Crew app did not show the extra bin")
    page.fill("#condition-minutes", "12")
    page.click("#add-condition")
    expect(page.locator("#case-conditions")).to_contain_text("Crew app did not show the extra bin")

    # My work lists the intention.
    goto(page, "/casework")
    expect(page.locator("#my-work")).to_contain_text("Check resolved with the customer")

    # Find it all again by searching for the person (misspelt).
    goto(page, "/casework/people")
    page.fill("#find-name", "grayce okafor")
    page.click("#find-people")
    result = page.locator("#find").get_by_role("link", name=re.compile("Grace Okafor"))
    expect(result).to_be_visible()
    result.click()
    wait_hydrated(page)
    expect(page.locator("#person-cases")).to_contain_text("Missed bins and a chasing call")
    page.locator("#person-cases").get_by_role("link", name="Missed bins and a chasing call").click()
    wait_hydrated(page)
    expect(page.locator("#case-demands")).to_contain_text("Chasing progress")
    expect(page.locator("#case-activities")).to_contain_text("Call back with Grace Okafor")
    expect(page.locator("#case-conditions")).to_contain_text("IT system")


def test_admin_adds_a_task_category_offered_at_once(page, new_context):
    login(page, "hbc.admin", "admin123")
    goto(page, "/casework/settings")
    page.select_option("#settings-kind", "task_category")
    page.select_option("#settings-module", option_value(page, "#settings-module", "Customer Interactions"))
    page.click("#settings-show")
    expect(page.locator("#lookups")).to_contain_text("Listen and capture demand")
    page.fill("#value-name", "Doorstep visit")
    page.click("#add-value")
    expect(page.locator("#lookups")).to_contain_text("Doorstep visit")

    worker = new_context().new_page()
    login(worker, "hbc.caseworker", "cases123")
    goto(worker, "/casework")
    worker.fill("#case-title", "Offered at once")
    worker.select_option("#case-module", option_value(worker, "#case-module", "Customer Interactions"))
    worker.click("#open-case")
    expect(worker).to_have_url(re.compile(r"/casework/case/\d+/?$"))
    wait_hydrated(worker)
    open_panel(worker, "panel-activity")
    expect(worker.locator("#task-1-category option", has_text="Doorstep visit")).to_be_attached()
