"""The utilities servicing pages' states, driven as a browser would: the programme lists homes, a home's page books
an engineer (producing the letter), records no access (producing the access letter) and a check with its attached
certificate; another organisation's home is not found; the compliance page shows its figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from conftest import actor_for
from state_support import at, drain, signed_in, substate
from test_utilities_servicing import add_place

from atlas_app.db import write_session
from atlas_app.services.casework import config
from atlas_app.services.modules.utilities_servicing import installations, programme
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.staff.modules.utilities_servicing import compliance as compliance_page
from atlas_app.ui.staff.modules.utilities_servicing import programme as programme_page
from atlas_app.ui.staff.modules.utilities_servicing import setup as setup_page


@pytest.fixture
def us(org, admin):
    with write_session() as s:
        config.seed_configuration(s, org.id)
    return actor_for(admin)


class FakeUpload:
    def __init__(self, name: str, data: bytes, content_type: str = "application/pdf") -> None:
        self.name, self._data, self.content_type = name, data, content_type

    async def read(self, n: int = -1) -> bytes:
        out, self._data = self._data[:n] if n > 0 else self._data, self._data[n:] if n > 0 else b""
        return out


def home_state(monkeypatch, actor, uprn):
    signed_in(monkeypatch, actor, programme_page)
    page = at(substate(programme_page.HomeState), f"http://atlas.test/utilities/home/{uprn}")
    page.router.page.params["id"] = str(uprn)  # what the dynamic route gives
    drain(page.load())
    return page


def test_programme_lists_due_homes(monkeypatch, us, org):
    add_place(org.id, 800001)
    installations.add_installation(us, 800001, "gas_boiler", last_check_on=date.today() - timedelta(days=350))
    signed_in(monkeypatch, us, programme_page)
    page = substate(programme_page.ProgrammeState)
    drain(page.load())
    assert [r["uprn"] for r in page.rows] == ["800001"] and page.range_text == "Homes 1 to 1 of 1"
    drain(page.apply({"view": "overdue", "days": "30"}))
    assert page.rows == [] and page.total == 0
    drain(page.apply({"view": "due", "days": "zero"}))
    assert "whole number" in page.error


def test_home_page_books_records_no_access_and_a_check(monkeypatch, us, org):
    add_place(org.id, 800002)
    inst = installations.add_installation(us, 800002, "gas_boiler", last_check_on=date.today() - timedelta(days=380))
    programme.save_engineer(us, None, full_name="Gail Safe", email="gail@example.com")
    page = home_state(monkeypatch, us, 800002)
    assert page.found and page.engineers[0]["label"] == "Gail Safe"
    yesterday = (datetime.now() - timedelta(days=1)).replace(hour=9, minute=0)
    drain(page.book({"engineer_id": page.engineers[0]["value"], "starts_at": yesterday.strftime("%Y-%m-%dT%H:%M"),
                     "minutes": "60"}))
    assert page.error == "" and "appointment letter" in page.notice
    assert [x["code"] for x in page.letters] == ["utilities_appointment"]
    drain(page.no_access(page.appointments[0]["id"]))
    assert "1st access letter" in page.notice and page.access.startswith("1 failed access attempt")
    assert [x["code"] for x in page.letters] == ["utilities_no_access_1", "utilities_appointment"]
    events = drain(page.download_letter(page.letters[0]["id"]))
    assert events and page.error == ""
    drain(page.attach([FakeUpload("lgsr.pdf", b"%PDF-1.4 certificate")]))
    assert page.attached == "lgsr.pdf"
    drain(page.record_check({"installation_id": str(inst), "checked_on": date.today().isoformat(),
                             "outcome": "at_risk", "defects": "Flue split\nNo CO alarm"}))
    assert page.error == "" and "2 remedial tasks raised" in page.notice
    assert page.checks[0]["has_certificate"] == "True" and len(page.remedial) == 2
    assert page.access == "No failed access attempts"


def test_another_organisations_home_is_not_found(monkeypatch, us, org, other_org, other_admin):
    with write_session() as s:
        config.seed_configuration(s, other_org.id)
    add_place(other_org.id, 800003)
    page = home_state(monkeypatch, us, 800003)
    assert page.found is False and "No such place" in page.error
    drain(page.download_letter("1"))
    assert "No such letter" in page.error


def test_read_only_staff_cannot_book(monkeypatch, us, org, make_user):
    add_place(org.id, 800004)
    reader = actor_for(make_user("reader", roles=("Read-only",)))
    page = home_state(monkeypatch, reader, 800004)
    assert page.can_manage is False
    with pytest.raises(PermissionDenied):
        drain(page.book({"engineer_id": "1", "starts_at": "2030-01-01T09:00"}))


def test_compliance_and_setup_pages(monkeypatch, us, org):
    add_place(org.id, 800005)
    installations.add_installation(us, 800005, "gas_boiler", last_check_on=date.today() - timedelta(days=400))
    signed_in(monkeypatch, us, compliance_page)
    page = substate(compliance_page.ComplianceState)
    drain(page.load())
    figures = {f["id"]: f["value"] for f in page.figures}
    assert figures["share"] == "0%" and figures["overdue"] == "1"
    signed_in(monkeypatch, us, setup_page)
    setup = substate(setup_page.SetupState)
    drain(setup.load())
    drain(setup.add_engineer({"full_name": "Ed Sparks", "email": "ed@example.com", "max_appointments_per_day": "4"}))
    assert [e["name"] for e in setup.engineers] == ["Ed Sparks"]
    drain(setup.upload([FakeUpload("stock.csv", b"uprn,type\n800005,jacuzzi\n", "text/csv")]))
    assert setup.import_errors == ["row 2: type 'jacuzzi' is not an installation type"]
