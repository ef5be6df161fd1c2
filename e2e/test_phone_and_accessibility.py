"""A phone-sized screen can sign in and manage users; axe-core finds no serious or critical problems."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from support import at, axe_problems, lock_by_guessing, login, user_row, wait_hydrated

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"


def test_phone_sign_in_and_users_page(new_context):
    page = new_context(**PHONE).new_page()
    page.goto("/login")
    wait_hydrated(page)
    no_sideways_scroll(page)
    for control in ("#username", "#password", "#sign-in"):
        box = page.locator(control).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{control} does not fit: {box}"
    login(page, "ecc.admin", "admin123")
    no_sideways_scroll(page)

    # The side navigation is folded into a menu on a phone.
    page.get_by_role("button", name="Open menu").tap()
    menu = page.get_by_role("dialog")
    menu.get_by_role("link", name="Users").tap()
    expect(page).to_have_url(at("/admin/users"))
    wait_hydrated(page)
    row = user_row(page, "ecc.booking")
    expect(row).to_be_attached()
    no_sideways_scroll(page)  # the table scrolls inside its own region, not the page

    reset = page.get_by_role("button", name="Reset password of ecc.booking")
    reset.scroll_into_view_if_needed()
    reset.tap()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("ecc.booking")
    box = dialog.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the dialog does not fit: {box}"
    expect(page.locator("#reset-password")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").tap()
    expect(page.get_by_role("dialog")).to_have_count(0)

    search = page.locator("#user-search")
    search.fill("priya")
    page.get_by_role("button", name="Search").tap()
    expect(page.locator('[id^="user-row-"]')).to_have_count(1)
    expect(user_row(page, "ecc.booking")).to_contain_text("Priya Shah")


@pytest.mark.parametrize("route", ["/login", "/forgot-password"])
def test_public_pages_pass_axe(page, route):
    page.goto(route)
    wait_hydrated(page)
    expect(page.locator("main h1")).to_be_visible()
    assert axe_problems(page) == []


def test_staff_pages_pass_axe(page, atlas):
    lock_by_guessing(atlas.url, "hbc.manager")  # so the users page also shows a locked user and its Unlock button
    login(page, "hbc.admin", "admin123")
    assert axe_problems(page) == [], "/staff"
    page.goto("/admin/users")
    wait_hydrated(page)
    expect(user_row(page, "hbc.booking")).to_be_visible()
    expect(page.get_by_role("button", name="Unlock hbc.manager")).to_be_visible()
    assert axe_problems(page) == [], "/admin/users"
    page.get_by_role("button", name="Reset password of hbc.booking").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert axe_problems(page) == [], "/admin/users with the reset dialog open"


@pytest.mark.parametrize("path", ["/reports-of-nothing", "/bookings/no-such-page", "/book/typo"])
def test_unknown_address_shows_a_styled_not_found_page_with_ways_back(page, path):
    response = page.goto(path)
    assert response is not None and response.status == 404
    wait_hydrated(page)
    expect(page.locator("main h1")).to_have_text("Page not found")
    expect(page).to_have_title("Page not found · Atlas")
    assert axe_problems(page) == []
    page.locator("#not-found-home").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("main h1")).to_have_text("Book your driver course")
