"""The letters and reports pages' states, driven as a browser could: editing, previewing and saving a template
(an unknown field refused with its name), running reports, and handlers refusing a user without the permission."""

from __future__ import annotations

import pytest

from atlas_app.models.letters import LetterTemplate
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.services.insight import letters
from atlas_app.ui.staff.insight import letters as letters_page
from atlas_app.ui.staff.insight import reports as reports_page
from atlas_app.ui.staff.insight.letters import LettersState
from atlas_app.ui.staff.insight.reports import ReportsState
from conftest import actor_for, all_rows, create_user
from payments_support import awaiting_booking, make_world
from state_support import at, run, signed_in, substate


def _module_letters() -> int:
    """The module types' shipped letters (rent arrears stages...), kept beside the booking letters."""
    return sum(len(shipped) for _fields, shipped in letters._families().values())


def test_edit_preview_and_save_a_template(monkeypatch, org, actor):
    world = make_world(org.id)
    booking = awaiting_booking(world)
    signed_in(monkeypatch, actor, letters_page, reports_page)
    st = at(substate(LettersState), "http://atlas.test/")
    run(LettersState.load.fn(st))
    assert len(st.templates) == len(letters.SHIPPED_TEMPLATES) + _module_letters() and st.code
    run(LettersState.choose.fn(st, "unpaid_reminder"))
    assert st.name == "Unpaid reminder"
    run(LettersState.set_body.fn(st, "Dear {{ client.name }}, you owe {{ payment.balance }}. {{ client.pet }}"))
    run(LettersState.preview.fn(st))
    assert "client.pet" in st.error and st.preview_body == ""
    run(LettersState.save.fn(st))
    assert "client.pet" in st.error
    assert "client.pet" not in all_rows(LetterTemplate, LetterTemplate.code == "unpaid_reminder")[0].body
    run(LettersState.set_body.fn(st, "Dear {{ client.name }}, you owe {{ payment.balance }}."))
    run(LettersState.set_preview_reference.fn(st, booking.reference))
    run(LettersState.preview.fn(st))
    assert st.error == ""
    assert st.preview_body == f"Dear {booking.client_name}, you owe £95.00."
    assert booking.reference in st.preview_for
    run(LettersState.save.fn(st))
    assert "saved" in st.notice
    assert all_rows(LetterTemplate, LetterTemplate.code == "unpaid_reminder")[0].body.endswith(
        "{{ payment.balance }}.")
    run(LettersState.count.fn(st, {"payment": "unpaid", "status": "active"}))
    assert st.match_count.startswith("1 booking matches")


def test_write_a_letter_from_a_client_record_fills_in_the_reference(monkeypatch, org, actor):
    signed_in(monkeypatch, actor, letters_page, reports_page)
    st = at(substate(LettersState), "http://atlas.test/letters?reference=%20hbc-off-77%20")
    run(LettersState.load.fn(st))
    assert st.one_reference == "HBC-OFF-77"
    st = at(substate(LettersState), "http://atlas.test/letters")
    run(LettersState.load.fn(st))
    assert st.one_reference == ""


def test_letters_handlers_refuse_without_the_permission(monkeypatch, org):
    contact = actor_for(create_user(org, "hbc.contact", roles=("Contact centre",)))
    signed_in(monkeypatch, contact, letters_page, reports_page)
    st = at(substate(LettersState), "http://atlas.test/")
    for call in (LettersState.load.fn(st), LettersState.save.fn(st), LettersState.preview.fn(st),
                 LettersState.count.fn(st, {})):
        with pytest.raises(PermissionDenied):
            run(call)


def test_reports_page_runs_each_report_with_filters(monkeypatch, org, actor):
    world = make_world(org.id)
    for _ in range(2):
        awaiting_booking(world)
    signed_in(monkeypatch, actor, letters_page, reports_page)
    st = at(substate(ReportsState), "http://atlas.test/")
    run(ReportsState.load.fn(st))
    assert st.report == "courses" and st.columns[0] == "Date"
    assert st.rows[0][7] == "2" and st.has_chart
    assert "date_from=" in st.query
    for key in ("venues", "pre_attendance", "channels", "calls"):
        run(ReportsState.choose.fn(st, key))
        assert st.error == "" and st.columns, key
    run(ReportsState.choose.fn(st, "channels"))
    run(ReportsState.apply.fn(st, {"date_from": st.filters["date_from"], "date_to": st.filters["date_to"],
                                   "period": "month", "channel": "online"}))
    assert st.columns[0] == "Month" and st.rows[0][4] == "2"
    assert "channel=online" in st.query
    run(ReportsState.apply.fn(st, {"date_from": "soon"}))
    assert "date" in st.error and st.rows == []
    run(ReportsState.choose.fn(st, "../../etc/passwd"))
    assert st.report == "courses"
    assert ("Payments: reconciliation, refunds and payments needing attention", "/bookings/payments") in \
        reports_page.other_reports()


def test_reports_handlers_refuse_without_the_permission(monkeypatch, org):
    caseworker = actor_for(create_user(org, "hbc.cases", roles=("Case worker",)))
    signed_in(monkeypatch, caseworker, letters_page, reports_page)
    st = at(substate(ReportsState), "http://atlas.test/")
    for call in (ReportsState.load.fn(st), ReportsState.choose.fn(st, "calls"), ReportsState.apply.fn(st, {})):
        with pytest.raises(PermissionDenied):
            run(call)


def test_demo_data_gives_templates_bookings_and_calls_to_report_on():
    from sqlmodel import select

    from atlas_app.db import read_session
    from atlas_app.models import Booking, CallLog, Organisation, User
    from atlas_app.services.insight import reports
    from atlas_app.services.demo import seed_demo

    def counts():
        with read_session() as s:
            return [len(s.exec(select(m)).all()) for m in (Booking, CallLog, LetterTemplate)]

    seed_demo()
    first = counts()
    seed_demo()  # twice: nothing added twice
    assert counts() == first
    with read_session() as s:
        hbc = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
        admin = s.exec(select(User).where(User.username == "hbc.admin")).one()
        bookings = s.exec(select(Booking).where(Booking.organisation_id == hbc.id)).all()
        calls = s.exec(select(CallLog).where(CallLog.organisation_id == hbc.id)).all()
        templates = s.exec(select(LetterTemplate).where(LetterTemplate.organisation_id == hbc.id)).all()
    from conftest import UserInfo

    actor = actor_for(UserInfo(admin.id, admin.username, "", hbc.id, admin.email))
    assert len(templates) == len(letters.SHIPPED_TEMPLATES) + _module_letters()
    # (the other areas' demo data add bookings of their own)
    assert len(bookings) >= 20 and {"online", "telephone"} <= {b.channel for b in bookings}
    assert len(calls) == 240
    assert list(reports.run(actor, "channels", {}).rows)
    assert list(reports.run(actor, "calls", {}).rows)
    run = letters.produce_bulk(actor, "unpaid_reminder", {"payment": "unpaid"})
    assert run.count >= 1
