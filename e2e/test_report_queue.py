"""The Environmental Services Ticketing staff queue in the browser, at phone size: a report made through the report
service appears in the queue; a case worker opens it, claims it, closes it with a resolution code and the category's
template response, and the follower receives that response at the test SMTP server. axe finds nothing serious or
critical on the queue, report and dashboard pages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect
from support import login, scan, wait_hydrated

ROOT = Path(__file__).resolve().parent.parent
PHONE = {"width": 390, "height": 844}

# Written through the services into the server's database by a subprocess: the module turned on for Hartlepool, a
# public category with its own closing response, a few places, and one report with a follower.
SETUP = r"""
import json, secrets
from sqlmodel import select
from atlas_app.db import write_session
from atlas_app.models import Organisation
from atlas_app.models.casework import CaseLookup, CaseModule, Place
from atlas_app.models.environmental import ReportCategory
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import geo
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.permissions import ALL_PERMISSIONS

tag = secrets.token_hex(3)
with write_session() as s:
    org = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
    module = s.exec(select(CaseModule).where(CaseModule.organisation_id == org.id,
                                             CaseModule.module_type == "environmental_ticketing")).first()
    if module is None:
        module = CaseModule(organisation_id=org.id, name="Environmental Services Ticketing",
                            module_type="environmental_ticketing")
        s.add(module)
        s.flush()
    dtype = CaseLookup(organisation_id=org.id, module_id=module.id, kind="demand_type", name=f"Fly-tipping {tag}",
                       demand_class="value")
    s.add(dtype)
    s.flush()
    cat = ReportCategory(organisation_id=org.id, module_id=module.id, demand_type_id=dtype.id, is_public=True,
                         public_description="Rubbish dumped in a public place", promise_days=5)
    s.add(cat)
    s.flush()
    base = 990000000000 + int(tag, 16) * 10
    for i in range(3):
        lat, lng = 54.6862 + 0.0003 * i, -1.2126
        e, n = geo.to_bng(lat, lng)
        s.add(Place(organisation_id=org.id, uprn=base + i, address_line1=f"{i + 1} Queue Street", town="Hartlepool",
                    postcode="TS24 8AY", postcode_key="TS248AY", search_text=f"{i + 1} queue street hartlepool",
                    x_coordinate=e, y_coordinate=n, latitude=lat, longitude=lng))
    org_id, cat_id, uprn = org.id, cat.id, base
admin = Actor(user_id=None, username="e2e-setup", organisation_id=org_id, permissions=frozenset(ALL_PERMISSIONS))
reports.set_response(admin, cat_id, "closed",
                     "Hello {{ name }}, your report {{ report.reference }} is closed: {{ report.reason }}. [" + tag + "]")
email = f"follower.{tag}@example.org"
sub = reports.submit_report(org_id, {"category_id": cat_id, "uprn": str(uprn), "description": "Sofa by the bins",
                                     "name": "Fay Follower", "email": email, "consent": True}, check_limits=False)
print(json.dumps({"ref": sub.reference, "email": email, "tag": tag, "category": f"Fly-tipping {tag}"}))
"""


@pytest.fixture(scope="module")
def made(atlas) -> dict:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "ATLAS_DATA_DIR": str(atlas.data_dir),
           "DATABASE_URL": atlas.database_url, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def goto(page, path: str) -> None:
    page.goto(path)
    wait_hydrated(page)
    expect(page.locator("main h1")).to_be_visible()


def test_a_report_is_assigned_and_closed_from_the_queue(new_context, made, mailbox):
    context = new_context(viewport=PHONE)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    login(page, "hbc.caseworker", "cases123")
    ref = made["ref"]

    goto(page, "/environmental/queue")
    row = page.locator(f"#queue-row-{ref}")
    expect(row).to_be_visible()
    expect(row).to_contain_text(made["category"])
    expect(row).to_contain_text("Received")
    scan(page, "queue", found)

    # The category filter keeps it; the overdue filter does not (it was made just now).
    category = page.locator("#f-category option", has_text=made["category"]).first
    page.select_option("#f-category", category.get_attribute("value"))
    page.click("#queue-apply")
    expect(page.locator("#queue-count")).to_contain_text("1 open report match")
    page.check("#f-overdue")
    page.click("#queue-apply")
    expect(page.locator(f"#queue-row-{ref}")).to_have_count(0)

    goto(page, f"/environmental/report/{ref}")
    expect(page.locator("#report-summary")).to_contain_text("Sofa by the bins")
    page.click("#report-claim")
    expect(page.locator("#report-summary")).to_contain_text("Kate Morris")
    expect(page.locator("#report-summary")).to_contain_text("With the team")

    page.fill("#note-body", "Crew booked for the morning")
    page.click("#note-save")
    expect(page.locator("#report-timeline")).to_contain_text("Crew booked for the morning")

    page.select_option("#status-new", "closed")
    expect(page.locator("#status-template")).to_contain_text(made["tag"])
    page.select_option("#status-reason", "Cleared")
    page.click("#status-save")
    expect(page.locator("#report-summary")).to_contain_text("Closed: Cleared")
    scan(page, "report", found)

    mail = mailbox.wait_for(made["email"], "Closed")
    assert f"Hello Fay Follower, your report {ref} is closed: Cleared. [{made['tag']}]" in mail.body
    assert "Crew booked" not in mail.body  # the internal note stays inside

    goto(page, "/environmental/queue")
    expect(page.locator(f"#queue-row-{ref}")).to_have_count(0)  # closed: out of the queue

    goto(page, "/environmental/dashboard")
    expect(page.locator("#env-repeats")).to_contain_text(made["category"])
    scan(page, "dashboard", found)
    assert found == {"queue": [], "report": [], "dashboard": []}
    context.close()
