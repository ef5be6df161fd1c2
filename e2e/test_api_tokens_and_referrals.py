"""API tokens and referral imports in a real browser: an administrator makes a token that works against the REST
API, sees it once only and revokes it; booking staff upload a referrals CSV, watch it import, and see every bad row
of a bad file with nothing imported."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from atlas_app.db import utcnow
from atlas_app.timeutil import london_date
from support import login, wait_hydrated

HEADER = "Offer reference,Course type,First name,Last name,Date of birth,Postcode,Offence date,Critical date"


def _csv(tmp_path: Path, rows: list[str], name: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def test_an_api_token_is_shown_once_works_and_can_be_revoked(page: Page, atlas):
    login(page, "hbc.admin", "admin123")
    page.goto("/admin/api-tokens")
    wait_hydrated(page)
    expect(page.locator("#new-token-box")).to_be_hidden()
    name = f"E2E partner {secrets.token_hex(2)}"
    page.fill("#api-token-name", name)
    page.click("#create-api-token")

    field = page.locator("#new-api-token")
    expect(field).to_be_visible()
    expect(field).to_have_value(re.compile(r"^atl_[A-Za-z0-9_-]{40,}$"))
    token = field.input_value()
    expect(page.locator("#api-token-name")).to_have_value("")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(token[:12])
    expect(row).to_contain_text("Active")

    api = httpx.Client(base_url=f"http://127.0.0.1:{atlas.port}", headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/sessions").status_code == 200

    page.click("#dismiss-api-token")
    expect(page.locator("#new-token-box")).to_be_hidden()
    expect(field).to_have_value("")
    page.reload()
    wait_hydrated(page)
    expect(page.locator("#new-api-token")).to_have_value("")  # never shown again
    assert token not in page.content()

    page.get_by_role("button", name=f"Revoke {name}").click()
    page.click("#confirm-revoke")
    expect(page.get_by_role("row").filter(has_text=name)).to_contain_text("Revoked")
    assert api.get("/api/v1/sessions").status_code == 401


def test_staff_without_settings_do_not_see_api_tokens(page: Page):
    login(page, "hbc.booking", "booking123")
    expect(page.get_by_role("link", name="Import referrals").first).to_be_attached()
    expect(page.get_by_role("link", name="API tokens")).to_have_count(0)
    page.goto("/admin/api-tokens")
    wait_hydrated(page)
    expect(page.locator("#new-api-token")).to_have_value("")
    expect(page.get_by_role("row").filter(has_text="Active")).to_have_count(0)


def test_a_referrals_file_imports_and_a_bad_one_lists_its_rows(page: Page, db, tmp_path):
    today = london_date(utcnow())
    offence, critical = (today - timedelta(days=10)).isoformat(), (today + timedelta(days=70)).isoformat()
    tag = secrets.token_hex(3).upper()
    good = _csv(tmp_path, [f"CLE-UP-{tag}-{i},NSAC,Upload,Person{i},1990-01-0{i + 1},TS24 7QS,{offence},{critical}"
                           for i in range(3)], "good.csv")
    bad = _csv(tmp_path, [f"CLE-UP-{tag}-9,NSAC,Ok,Row,1990-01-01,TS24 7QS,{offence},{critical}",
                          f"CLE-UP-{tag}-8,NOPE,Bad,Course,1990-01-01,TS24 7QS,{offence},{critical}",
                          f"CLE-UP-{tag}-7,NSAC,Bad,Date,31/02/1990,TS24 7QS,{offence},{critical}"], "bad.csv")

    login(page, "hbc.booking", "booking123")
    page.goto("/bookings/referrals")
    wait_hydrated(page)
    page.locator('input[type="file"]').set_input_files(str(good))
    expect(page.get_by_text("good.csv").first).to_be_visible()
    page.click("#import-referrals")
    expect(page.locator("#import-summary")).to_contain_text("3 new offers", timeout=60_000)
    assert db.one(f"SELECT count(*) AS n FROM offer WHERE offer_reference LIKE 'CLE-UP-{tag}-%'")["n"] == 3

    page.locator('input[type="file"]').set_input_files(str(bad))
    page.click("#import-referrals")
    expect(page.locator("#import-failed")).to_contain_text("Nothing imported: 2 problem(s)", timeout=60_000)
    errors = page.locator("#import-errors li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("Line 3:")
    expect(errors.nth(0)).to_contain_text("NOPE")
    expect(errors.nth(1)).to_contain_text("Line 4:")
    assert db.one(f"SELECT count(*) AS n FROM offer WHERE offer_reference = 'CLE-UP-{tag}-9'")["n"] == 0
    expect(page.get_by_role("row").filter(has_text="bad.csv").first).to_contain_text("Not imported")
