"""Residents' reports in Welsh: the language of the page a report was made or followed on is kept on the follower,
and every later email to them (status changes, staff updates, following) goes in it: the category's Welsh template
response (falling back to the organisation's English only where its Welsh is missing), Welsh dates by Babel, the
Welsh tracking link; the missing Welsh is shown on the categories screen and listed while Welsh is on."""

from __future__ import annotations

import re

from conftest import all_rows, welsh_on
from sqlmodel import select
from test_citizen_reports import _submit, setup  # noqa: F401  (fixture)

from atlas_app.db import read_session
from atlas_app.models import EmailMessage
from atlas_app.models.environmental import ReportFollower
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import welsh
from atlas_app.services.platform.i18n import using
from atlas_app.ui.staff.modules.environmental_ticketing import (
    categories as categories_page,
)

WELSH_MONTHS = "Ionawr|Chwefror|Mawrth|Ebrill|Mai|Mehefin|Gorffennaf|Awst|Medi|Hydref|Tachwedd|Rhagfyr"


def followers(report_id: int) -> dict[str, str]:
    with read_session() as s:
        return {f.email: f.language for f in s.exec(select(ReportFollower)
                                                   .where(ReportFollower.report_id == report_id)).all()}


def mails_to(address: str) -> list[EmailMessage]:
    return [m for m in all_rows(EmailMessage, order_by=EmailMessage.id) if m.to_address == address]


def test_the_language_of_the_page_is_kept_on_the_reporter_and_each_follower(setup):  # noqa: F811
    welsh_on(setup["org"].id)
    with using("cy"):
        done = _submit(setup, email="ann@example.org", consent=True)
    assert followers(done.id) == {"ann@example.org": "cy"}
    reports.follow(setup["org"].id, done.reference, "bob@example.org")            # an English page
    with using("cy"):
        reports.follow(setup["org"].id, done.reference, "cai@example.org")        # a Welsh tracking page
    assert followers(done.id) == {"ann@example.org": "cy", "bob@example.org": "en", "cai@example.org": "cy"}
    follow_mail = mails_to("cai@example.org")[0]
    assert follow_mail.subject == f"Rydych yn dilyn adroddiad {done.reference}"
    assert "/cy/track/" in follow_mail.body_text and "You are" not in follow_mail.body_text
    assert mails_to("bob@example.org")[0].subject == f"You are following report {done.reference}"


def test_a_status_change_reaches_each_follower_in_their_language(setup):  # noqa: F811
    welsh_on(setup["org"].id)
    with using("cy"):
        done = _submit(setup, name="Ann", email="ann@example.org", consent=True)
    reports.follow(setup["org"].id, done.reference, "bob@example.org")
    reports.change_status(setup["actor"], done.id, "fixed")       # on the (English) staff screen
    welsh_mail = mails_to("ann@example.org")[-1]
    english_mail = mails_to("bob@example.org")[-1]
    assert welsh_mail.subject == f"Eich adroddiad {done.reference}: Wedi’i drwsio"
    # The shipped Welsh response with its date in Welsh (Babel's cy: "dydd Mercher 2 Rhagfyr 2026").
    assert re.match(rf"Mae eich adroddiad {done.reference} wedi cael sylw \(dydd \w+ \d{{1,2}} ({WELSH_MONTHS}) "
                    r"\d{4}\)\. Diolch am roi gwybod i ni\.", welsh_mail.body_text), welsh_mail.body_text
    assert "/cy/track/" in welsh_mail.body_text and "See your report" not in welsh_mail.body_text
    assert english_mail.subject == f"Your report {done.reference}: Fixed"
    assert english_mail.body_text.startswith(f"Your report {done.reference} was dealt with on ")
    assert "/cy/track/" not in english_mail.body_text
    # A staff update goes in each one's language too.
    reports.public_update(setup["actor"], done.id, "Crew booked for Tuesday")
    assert mails_to("ann@example.org")[-1].subject == f"Diweddariad ar eich adroddiad {done.reference}"
    assert mails_to("bob@example.org")[-1].subject == f"Update on your report {done.reference}"


def test_the_welsh_template_response_and_the_english_one_only_when_welsh_is_missing(setup):  # noqa: F811
    org_id, actor = setup["org"].id, setup["actor"]
    welsh_on(org_id)
    reports.set_response(actor, setup["fly"], "in_progress", "Hello {{ name }}, we are on it.")
    # Welsh on and the organisation's own English without Welsh: marked and listed as missing.
    missing = [m for m in welsh.status(actor).missing if m.field == "template response (in progress)"]
    assert missing and missing[0].href == "/environmental/categories"
    row = next(c for c in reports.list_categories(actor) if c.id == setup["fly"])
    view = categories_page._row(row, welsh_on=True)
    response = next(r for r in view.responses if r.status == "in_progress")
    assert response.welsh_missing and response.body_cy == ""
    assert not next(r for r in view.responses if r.status == "fixed").welsh_missing   # the shipped Welsh
    with using("cy"):
        done = _submit(setup, name="Ann", email="ann@example.org", consent=True)
    reports.change_status(actor, done.id, "in_progress")
    assert mails_to("ann@example.org")[-1].body_text.startswith("Hello Ann, we are on it.")   # the English
    # The Welsh written beside the English: sent to Welsh followers, and nothing is missing any more.
    reports.set_response(actor, setup["fly"], "in_progress", "Hello {{ name }}, we are on it.",
                         "Helo {{ name }}, rydym wrthi.")
    assert not [m for m in welsh.status(actor).missing if m.field == "template response (in progress)"]
    reports.change_status(actor, done.id, "with_team")
    reports.change_status(actor, done.id, "in_progress")
    assert mails_to("ann@example.org")[-1].body_text.startswith("Helo Ann, rydym wrthi.")
    # Saving the English alone keeps the Welsh.
    reports.set_response(actor, setup["fly"], "in_progress", "Hello {{ name }}, we are still on it.")
    row = next(c for c in reports.list_categories(actor) if c.id == setup["fly"])
    assert row.responses_cy["in_progress"] == "Helo {{ name }}, rydym wrthi."


def test_with_welsh_turned_off_the_welsh_follower_is_written_to_in_english(setup):  # noqa: F811
    welsh_on(setup["org"].id)
    with using("cy"):
        done = _submit(setup, email="ann@example.org", consent=True)
    welsh_on(setup["org"].id, False)
    reports.change_status(setup["actor"], done.id, "in_progress")
    mail = mails_to("ann@example.org")[-1]
    assert mail.subject == f"Your report {done.reference}: In progress"
    assert "/cy/track/" not in mail.body_text
    assert followers(done.id) == {"ann@example.org": "cy"}     # the choice is kept for when Welsh is back


def test_the_welsh_tracking_page_shows_the_status_entry_in_welsh(setup):  # noqa: F811
    from state_support import at, drain, substates

    from atlas_app.services.platform import i18n
    from atlas_app.ui.i18n import PublicLanguageState
    from atlas_app.ui.public.track import TrackState

    welsh_on(setup["org"].id)
    done = _submit(setup, description="Sofa")
    reports.change_status(setup["actor"], done.id, "fixed")       # on the (English) staff screen
    reports.change_status(setup["actor"], done.id, "closed", reason="Cleared", message="Cleared by the crew")

    def timeline(path: str, language: str) -> list[str]:
        state, _language = substates(TrackState, PublicLanguageState)
        at(state, path)
        i18n.set_current(language)
        try:
            drain(state.load())
        finally:
            i18n.set_current("en")
        assert state.found
        return [entry["body"] for entry in state.timeline]

    welsh = timeline(f"/cy/track/{done.reference}?token={done.token}", "cy")
    english = timeline(f"/track/{done.reference}?token={done.token}", "en")
    assert any(body.startswith(f"Mae eich adroddiad {done.reference} wedi cael sylw") for body in welsh), welsh
    assert any(body.startswith(f"Your report {done.reference} was dealt with on ") for body in english), english
    assert not any("was dealt with" in body for body in welsh)
    assert "Cleared by the crew" in welsh and "Cleared by the crew" in english  # staff's own words, as written
