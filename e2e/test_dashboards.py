"""The live dashboard in the browser: a manager watches it while, in a second browser, a case worker resolves a
demand and the contact centre makes a booking; the manager's figures and charts follow within 5 seconds without a
reload, and a click on a control-chart point opens that case."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from support import login, wait_hydrated
from test_booking_staff import close_call_dialog, import_offers, open_booking_dialog, open_client

LIVE_SECONDS = 5


def goto(page: Page, path: str) -> None:
    page.goto(path)
    wait_hydrated(page)


def kpi(page: Page, name: str) -> str:
    return page.locator(f"#kpi-{name}").inner_text().strip()


def number(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text) or 0)


def plotted_points(page: Page) -> int:
    """Markers of the control chart's first trace (every demand on it)."""
    return page.locator("#chart-capability .scatterlayer .trace").first.locator("path.point").count()


def changes_within(page: Page, name: str, before: str, seconds: float) -> float:
    """Seconds until KPI ``name`` differs from ``before`` (fails after ``seconds``)."""
    start = time.monotonic()
    expect(page.locator(f"#kpi-{name}")).not_to_have_text(before, timeout=seconds * 1000)
    return time.monotonic() - start


def test_dashboard_follows_changes_live_and_opens_the_case_behind_a_point(page: Page, new_context, atlas, db):
    refs = import_offers(atlas, "NSAC")
    demand = db.one(
        "SELECT d.id, d.case_id FROM case_demand d JOIN organisation o ON o.id = d.organisation_id "
        "WHERE o.slug = 'hartlepool' AND d.need_met_at IS NULL ORDER BY d.id LIMIT 1")
    assert demand is not None, "the demo data has open demands"

    # The manager opens the dashboard.
    login(page, "hbc.manager", "manage123")
    goto(page, "/dashboards")
    expect(page.locator("main h1")).to_have_text("Strategic measures")
    expect(page.locator("#kpi-cap-points")).not_to_have_text("")
    expect(page.locator("#chart-capability .scatterlayer .trace").first).to_be_attached()
    points_before = plotted_points(page)
    cap_before, bookings_before = kpi(page, "cap-points"), kpi(page, "bookings")
    awaiting_before = kpi(page, "awaiting")
    assert points_before == number(cap_before) > 10
    expect(page.locator("#dash-live")).to_contain_text("Live")

    # A case worker, in a second browser, marks the demand's need met.
    other = new_context().new_page()
    login(other, "hbc.caseworker", "cases123")
    goto(other, f"/casework/case/{demand['case_id']}")
    row = other.locator(f"#demand-{demand['id']}")
    row.get_by_role("button", name=re.compile("Mark need met now")).click()
    expect(row).not_to_contain_text("Not yet")
    took = changes_within(page, "cap-points", cap_before, LIVE_SECONDS)
    assert number(kpi(page, "cap-points")) == number(cap_before) + 1
    expect(page.locator("#chart-capability .scatterlayer .trace").first.locator("path.point")).to_have_count(
        points_before + 1, timeout=LIVE_SECONDS * 1000)
    print(f"demand resolved: dashboard changed after {took:.1f} s")

    # The contact centre, in the same second browser, books a client by telephone.
    other.context.clear_cookies()
    login(other, "hbc.contact", "contact123")
    open_client(other, refs[0])
    open_booking_dialog(other, refs[0])
    other.locator('#choice-list input[name="session_id"]').first.check()
    other.click("#confirm-book")
    close_call_dialog(other)
    took = changes_within(page, "bookings", bookings_before, LIVE_SECONDS)
    assert number(kpi(page, "bookings")) == number(bookings_before) + 1
    assert number(kpi(page, "awaiting")) == number(awaiting_before) + 1
    print(f"booking made: dashboard changed after {took:.1f} s")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # never reloaded

    # A click on the newest control-chart point (the demand just resolved) opens its case.
    point = page.locator("#chart-capability .scatterlayer .trace").first.locator("path.point").last
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    expect(page).to_have_url(re.compile(rf"/casework/case/{demand['case_id']}/?$"))
    wait_hydrated(page)
    expect(page.locator(f"#demand-{demand['id']}")).to_be_visible()


def test_bar_click_lists_the_cases_behind_it_and_staff_without_the_permission_are_refused(page: Page, new_context):
    login(page, "hbc.manager", "manage123")
    goto(page, "/dashboards")
    page.locator("#chart-value-failure").scroll_into_view_if_needed()  # drawn when scrolled to
    bar = page.locator("#chart-value-failure .barlayer .trace").nth(1).locator("path").last
    expect(bar).to_be_attached()
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y - 2)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    expect(page.locator("#behind-what")).to_contain_text("Cases with failure demand")
    first = page.locator("#behind tbody tr").first
    expect(first.get_by_role("link")).to_have_attribute("href", re.compile(r"/casework/case/\d+"))

    # The special-cause table names each rule in words, not only by colour.
    expect(page.locator("#capability tr[id^=signal-]").first).to_contain_text(
        re.compile("Outside the process limits|Run of 7|7 rising or falling|2 of 3 near a limit"))

    # A case worker has no dashboard permission: no navigation entry and no figures.
    other = new_context().new_page()
    login(other, "hbc.caseworker", "cases123")
    expect(other.get_by_role("link", name="Strategic measures")).to_have_count(0)
    goto(other, "/dashboards")
    expect(other.locator("#kpi-demands")).to_have_count(0)


def test_the_charts_in_view_are_drawn_first_and_the_others_as_they_are_scrolled_to(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, "hbc.manager", "manage123")
    goto(page, "/dashboards")
    # In view: the control chart, a marker for every demand on it, and its moving ranges, one bar each.
    expect(page.locator("#chart-capability .scatterlayer .trace").first).to_be_attached()
    points = number(kpi(page, "cap-points"))
    assert points > 10
    expect(page.locator("#chart-capability .scatterlayer .trace").first.locator("path.point")).to_have_count(points)
    expect(page.locator("#chart-moving-range .barlayer .trace").first.locator("path")).to_have_count(points)
    # The points, the special causes, the mean and the two limits: no trace more.
    expect(page.locator("#chart-capability .scatterlayer .trace")).to_have_count(5)
    # Far below the fold nothing is drawn yet, but the place is kept.
    income = page.locator("#chart-income")
    expect(income).to_be_attached()
    expect(income.locator(".main-svg")).to_have_count(0)
    assert income.bounding_box()["height"] >= 300
    # Scrolled to, a chart is drawn with the right data: the Pareto's bars are the table's categories, in order.
    page.locator("#chart-conditions-count").scroll_into_view_if_needed()
    ticks = page.locator("#chart-conditions-count .xtick text")
    expect(ticks.first).to_be_attached()
    names = [t.strip() for t in page.locator("#conditions table tbody tr td:first-child").all_inner_texts()]
    assert len(names) >= 2
    expect(ticks).to_have_count(len(names))
    assert [t.strip() for t in ticks.all_text_contents()] == names
    income.scroll_into_view_if_needed()
    expect(income.locator(".barlayer .trace").first).to_be_attached()
