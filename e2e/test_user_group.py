"""The user group in the browser: Hartlepool raises a change request with an attachment, Essex downloads it and
votes for it, the service provider ships it in a release and Essex sees it under What's new on its next sign-in;
comments (a feature in preview) are refused to Essex, even as a raw websocket event, until its administrator
switches them on; the platform administrator resets the demo organisation from the app and a demo user working in
it is told."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect
from support import (
    ROOT_STATE,
    at,
    event,
    login,
    path_of,
    raw_socket_in_page,
    wait_hydrated,
)

REQUEST_STATE = f"{ROOT_STATE}.atlas_app___ui___staff___user_group___requests____change_request_state"
RELEASE = "2026.12"  # atlas_app/releases/2026-12.md
CSV = b"venue,calls about parking\nCivic Centre,14\n"


def _page(new_context):
    return new_context().new_page()


def _move(page, status: str, release: str = "") -> None:
    page.select_option("#move-status", status)
    if release:
        page.fill("#move-release", release)
    page.click("#move-submit")
    expect(page.locator("#cr-status-badge")).to_contain_text(
        {"under_review": "Under review", "planned": "Planned", "shipped": "Shipped"}[status])


def test_raise_vote_ship_and_see_it_under_whats_new(new_context, atlas, db):
    title = "Show the venue's parking on the register"
    # Hartlepool raises it.
    hbc = _page(new_context)
    login(hbc, "hbc.admin", "admin123")
    hbc.goto("/user-group")
    wait_hydrated(hbc)
    hbc.fill("#cr-title", title)
    hbc.fill("#cr-problem", "Clients phone us to ask where to park.")
    hbc.fill("#cr-affects", "Contact-centre staff")
    hbc.select_option("#cr-frequency", "daily")
    hbc.select_option("#cr-area-new", "booking")
    hbc.locator("#cr_files input[type=file]").set_input_files(
        [{"name": "parking.csv", "mimeType": "text/csv", "buffer": CSV}])
    expect(hbc.locator("#cr_files")).to_contain_text("parking.csv")
    hbc.click("#cr-raise")
    expect(hbc).to_have_url(re.compile(r"/user-group/requests/\d+/?$"))
    rid = int(re.search(r"/requests/(\d+)", hbc.url).group(1))
    expect(hbc.locator("#cr-heading")).to_contain_text(title)
    expect(hbc.locator("#cr-attachments")).to_contain_text("parking.csv")

    # Essex has looked at What's new already, then votes for Hartlepool's request.
    ecc = _page(new_context)
    login(ecc, "ecc.admin", "admin123")
    ecc.goto("/whats-new")
    wait_hydrated(ecc)
    expect(ecc.locator(f"[id='release-{RELEASE}']")).to_be_visible()
    ecc.goto(f"/user-group/requests/{rid}")
    wait_hydrated(ecc)
    expect(ecc.locator("#cr-heading")).to_contain_text(title)
    expect(ecc.get_by_text("Raised by Hartlepool Borough Council", exact=False)).to_be_visible()
    # Essex downloads Hartlepool's attachment (a download, never a page).
    with ecc.expect_download() as download:
        ecc.get_by_role("link", name="Download parking.csv").click()
    assert download.value.suggested_filename == "parking.csv"
    assert Path(download.value.path()).read_bytes() == CSV
    ecc.click("#vote-for")
    expect(ecc.get_by_role("status").filter(has_text="votes for")).to_be_visible()
    votes = db.all("SELECT organisation_id, value FROM change_request_vote WHERE change_request_id = :r", r=rid)
    assert [v["value"] for v in votes] == [1]
    ecc.goto("/user-group")
    wait_hydrated(ecc)
    expect(ecc.locator(f"#cr-{rid}")).to_contain_text("For")

    # The service provider takes it through review and planning to the release.
    provider = _page(new_context)
    login(provider, "platform.admin", "platform123")
    provider.goto(f"/user-group/requests/{rid}")
    wait_hydrated(provider)
    _move(provider, "under_review")
    _move(provider, "planned", RELEASE)
    _move(provider, "shipped")
    # Followers (who raised it, who voted) were emailed at each step.
    assert atlas.mail.wait_for("ecc.admin@essex.example.gov.uk", f"#{rid} is now shipped")

    # Essex signs in again: What's new shows the release with the shipped request, and links it.
    again = _page(new_context)
    login(again, "ecc.admin", "admin123")
    banner = again.locator("#whats-new-banner")
    expect(banner).to_contain_text(RELEASE)
    expect(banner).to_contain_text(f"#{rid} {title}")
    again.click("#whats-new-link")
    expect(again).to_have_url(at("/whats-new"))
    wait_hydrated(again)
    link = again.get_by_role("link", name=f"#{rid} {title}")
    expect(link).to_be_visible()
    # Seen now: the next visit to the home page has no banner.
    again.goto("/staff")
    wait_hydrated(again)
    expect(again.locator("main h1")).to_be_visible()
    expect(again.locator("#whats-new-banner")).to_have_count(0)


def test_comments_stay_off_until_switched_on_even_for_a_raw_websocket_event(new_context, atlas, db):
    hbc = _page(new_context)
    login(hbc, "hbc.admin", "admin123")
    hbc.goto("/user-group")
    wait_hydrated(hbc)
    hbc.fill("#cr-title", "Comments test request")
    hbc.fill("#cr-problem", "p")
    hbc.fill("#cr-affects", "a")
    hbc.select_option("#cr-frequency", "weekly")
    hbc.select_option("#cr-area-new", "letters")
    hbc.click("#cr-raise")
    expect(hbc).to_have_url(re.compile(r"/user-group/requests/\d+/?$"))
    rid = int(re.search(r"/requests/(\d+)", hbc.url).group(1))

    ecc = _page(new_context)
    login(ecc, "ecc.manager", "manage123")
    path = f"/user-group/requests/{rid}"
    ecc.goto(path)
    wait_hydrated(ecc)
    expect(ecc.locator("#comments-off")).to_be_visible()  # the page offers no comment box
    # The handler sent by hand, signed in as Essex: the service refuses it and nothing is written.
    frames = raw_socket_in_page(ecc, atlas.url, [event(f"{REQUEST_STATE}.add_comment", path,
                                                       form={"body": "smuggled in"})], expect_replies=1)
    assert any("feature in preview" in f for f in frames), frames
    assert db.all("SELECT id FROM change_request_comment WHERE change_request_id = :r", r=rid) == []

    # Essex's administrator switches comments on; then the page offers them and they are kept.
    admin = _page(new_context)
    login(admin, "ecc.admin", "admin123")
    admin.goto("/admin/previews")
    wait_hydrated(admin)
    admin.click("#preview-on-change_request_comments")
    expect(admin.locator("#preview-change_request_comments")).to_contain_text("On")
    admin.goto(path)
    wait_hydrated(admin)
    admin.fill("#comment-body", "We want this too.")
    admin.click("#comment-submit")
    expect(admin.locator("#cr-comments")).to_contain_text("We want this too.")
    assert [r["body"] for r in db.all("SELECT body FROM change_request_comment WHERE change_request_id = :r",
                                      r=rid)] == ["We want this too."]


def test_the_platform_administrator_resets_the_demo_organisation_and_a_demo_user_is_told(new_context, atlas, db):
    demo_id = db.one("SELECT id FROM organisation WHERE slug = 'demo'")["id"]
    others = db.one("SELECT COUNT(*) AS n FROM offer WHERE organisation_id <> :d", d=demo_id)["n"]

    visitor = _page(new_context)
    visitor.goto("/demo")
    wait_hydrated(visitor)
    expect(visitor.locator("#demo-login-demo\\.booking")).to_contain_text("booking123")
    visitor.fill("#username", "demo.booking")
    visitor.fill("#password", "booking123")
    with visitor.expect_navigation():
        visitor.click("#sign-in")
    expect(visitor).to_have_url(at("/staff"))
    wait_hydrated(visitor)

    provider = _page(new_context)
    login(provider, "platform.admin", "platform123")
    provider.goto("/admin/demo")
    wait_hydrated(provider)
    provider.click("#reset-demo")
    expect(provider.get_by_role("status").filter(has_text="Demo Borough Council reset")).to_be_visible(
        timeout=60_000)
    assert db.one("SELECT COUNT(*) AS n FROM offer WHERE organisation_id <> :d", d=demo_id)["n"] == others
    assert db.one("SELECT COUNT(*) AS n FROM offer WHERE organisation_id = :d", d=demo_id)["n"] > 0

    # The demo user carries on in the same tab: their next click lands on the sign-in page, which says what
    # happened (and nothing crashed on the way).
    visitor.get_by_role("link", name="What's new", exact=True).first.click()
    expect(visitor).to_have_url(at("/login", "next="))
    wait_hydrated(visitor)
    expect(visitor.get_by_role("status").filter(has_text="Demo Borough Council was reset")).to_be_visible()
    assert path_of(visitor).startswith("/login")
