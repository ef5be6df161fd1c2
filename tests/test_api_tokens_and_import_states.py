"""The staff pages' states for API tokens and referral imports, driven directly: permissions are re-checked on the
server, the raw token never enters state, and an uploaded file is imported once, by whoever uploaded it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import reflex as rx

from atlas_app.models import ApiToken, ImportJob, Offer
from atlas_app.services.platform import api_tokens
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.staff.admin import api_tokens as admin_api_tokens
from atlas_app.ui.staff.booking import referrals as bookings_referrals
from atlas_app.ui.staff.admin.api_tokens import ApiTokensState
from atlas_app.ui.staff.booking.referrals import ReferralsImportState
from conftest import actor_for, all_rows
from referral_sample import current_sample_path
from state_support import run, set_values, signed_in, substate
from test_referrals_import import add_course_types

SAMPLE = current_sample_path()


# --- API tokens ---------------------------------------------------------------------------------------------------


def test_creating_a_token_sends_it_to_the_field_but_never_into_state(monkeypatch, actor):
    signed_in(monkeypatch, actor, admin_api_tokens)
    page = substate(ApiTokensState)
    run(page.load())

    events = run(page.create({"name": "Police back office"}))

    (row,) = all_rows(ApiToken)
    sent = set_values(events)
    token = next(v for k, v in sent.items() if "new_api_token" in k.replace("-", "_"))
    assert isinstance(token, str) and api_tokens.authenticate(token) is not None
    assert page.token_shown and page.new_token_name == "Police back office"
    assert [r["name"] for r in page.rows] == ["Police back office"]
    assert token not in repr(page.get_delta()) and token not in repr(page.dict())
    run(page.dismiss_token())
    assert not page.token_shown


def test_token_names_are_checked_and_revoking_asks_first(monkeypatch, actor):
    signed_in(monkeypatch, actor, admin_api_tokens)
    page = substate(ApiTokensState)
    run(page.load())
    run(page.create({"name": "   "}))
    assert page.name_error and all_rows(ApiToken) == []

    run(page.create({"name": "Old system"}))
    token_id = page.rows[0]["id"]
    run(page.ask_revoke("999999"))
    assert page.confirm == {}
    run(page.ask_revoke(token_id))
    assert page.confirm["name"] == "Old system"
    run(page.revoke())
    assert page.confirm == {} and page.rows[0]["status"] == "revoked"
    assert all_rows(ApiToken)[0].revoked_at is not None


def test_the_token_page_needs_settings_permission(monkeypatch, make_user):
    staff = actor_for(make_user("hbc.booking", roles=("Booking staff",)))
    assert not staff.can(Perm.SETTINGS_MANAGE)
    signed_in(monkeypatch, staff, admin_api_tokens)
    page = substate(ApiTokensState)
    for call in (page.load, lambda: page.create({"name": "x"}), lambda: page.ask_revoke("1")):
        with pytest.raises(PermissionDenied):
            run(call())
    assert all_rows(ApiToken) == []


# --- referral imports ----------------------------------------------------------------------------------------------


class Proxy:
    """Enough of Reflex's background-task state proxy to run a background handler on a plain state."""

    def __init__(self, state):
        object.__setattr__(self, "_state", state)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    def __getattr__(self, name):
        return getattr(self._state, name)

    def __setattr__(self, name, value):
        setattr(self._state, name, value)


def upload_file(data: bytes, name: str = "referrals.csv") -> rx.UploadFile:
    return rx.UploadFile(file=io.BytesIO(data), path=Path(name))


def run_background(page, job_id: int) -> None:
    run(ReferralsImportState.run_import.fn(Proxy(page), job_id))


@pytest.fixture
def importer(monkeypatch, actor, org):
    add_course_types(org.id, "NSAC", "NMAC", "WDU", "SCD", "RIDE")
    signed_in(monkeypatch, actor, bookings_referrals)
    page = substate(ReferralsImportState)
    run(page.load())
    return page


def test_an_uploaded_file_is_kept_privately_then_imported_in_the_background(importer, org):
    events = run(importer.upload([upload_file(SAMPLE.read_bytes(), "police-week-47.csv")]))

    (job,) = all_rows(ImportJob)
    assert job.status == "queued" and job.filename == "police-week-47.csv"
    pending = bookings_referrals._pending_path(job.id)
    assert pending.exists() and "_upload" not in str(pending)
    assert importer.running and importer.job_id == job.id
    assert any(getattr(e, "handler", None) and e.handler.fn.__name__ == "run_import" for e in events)

    run_background(importer, job.id)

    assert importer.status == "done" and importer.percent == 100
    assert (importer.created, importer.rows_total, importer.clients_created) == (8, 8, 8)
    assert len(all_rows(Offer)) == 8 and not pending.exists()
    assert importer.recent[0]["status"] == "done"
    run_background(importer, job.id)  # a second run of the same job does nothing
    assert len(all_rows(Offer)) == 8


def test_a_bad_upload_lists_its_rows_and_imports_nothing(importer):
    bad = SAMPLE.read_text().replace("CLE-S-1003,WDU", "CLE-S-1003,NOPE").replace("TS1 2AA", "XX")
    run(importer.upload([upload_file(bad.encode())]))
    run_background(importer, importer.job_id)

    assert importer.status == "failed" and importer.error_count == 2
    assert importer.errors[0].startswith("Line 4:") and "NOPE" in importer.errors[0]
    assert importer.errors[1].startswith("Line 5:") and "postcode" in importer.errors[1]
    assert all_rows(Offer) == []


def test_uploads_are_checked_before_anything_starts(importer):
    run(importer.upload([]))
    assert "Choose a CSV" in importer.message
    run(importer.upload([upload_file(b"x", "referrals.xlsx")]))
    assert "CSV" in importer.message and all_rows(ImportJob) == []


def test_someone_elses_import_cannot_be_started(monkeypatch, importer, make_user):
    run(importer.upload([upload_file(SAMPLE.read_bytes())]))
    job_id = importer.job_id
    colleague = actor_for(make_user("hbc.contact", roles=("Contact centre",)))
    signed_in(monkeypatch, colleague, bookings_referrals)
    other_page = substate(ReferralsImportState)

    run_background(other_page, job_id)

    assert all_rows(Offer) == [] and all_rows(ImportJob)[0].status == "queued"


def test_the_import_page_needs_booking_management(monkeypatch, make_user, org):
    reader = actor_for(make_user("hbc.readonly", roles=("Read-only",)))
    signed_in(monkeypatch, reader, bookings_referrals)
    page = substate(ReferralsImportState)
    with pytest.raises(PermissionDenied):
        run(page.load())
    with pytest.raises(PermissionDenied):
        run(page.upload([upload_file(SAMPLE.read_bytes())]))
    assert all_rows(ImportJob) == []
