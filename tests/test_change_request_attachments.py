"""Attachments on change requests, from the attacker's side: the type is read from the bytes (a wrong name, HTML or
SVG with script, markup in a text file, an oversized file are refused and leave nothing behind), files are
content-addressed in the platform's storage, and they are served only to who may read change requests (not another
organisation that is not a member, not anyone signed out), always as a download that runs nothing."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import reflex as rx
from conftest import actor_for, all_rows, create_org, create_user
from PIL import Image

from atlas_app.models.user_group import ChangeRequest, ChangeRequestAttachment
from atlas_app.services.platform import auth, storage
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.user_group import attachments
from atlas_app.services.user_group import change_requests as cr

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/bookings')</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)">'
       b"<script>alert(1)</script></svg>")


def _png(size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def platform_actor():
    org = create_org("atlas", "Atlas Service Provider")
    return actor_for(create_user(org, "platform.admin", roles=("Administrator",), is_platform_admin=True))


@pytest.fixture
def members(actor, other_actor, platform_actor):
    for a in (actor, other_actor):
        cr.set_member(platform_actor, a.organisation_id, True)
    return actor, other_actor


@pytest.fixture
def outsider():
    org = create_org("durham", "Durham County Council")
    user = create_user(org, "dcc.admin", roles=("Administrator",))
    return user


def _raise(a, files=()) -> int:
    return cr.raise_request(a, title="Show the venue map on the confirmation", problem="Clients get lost.",
                            affects="Clients", frequency="daily", area="booking", files=files)


def _all_stored() -> set[Path]:
    root = storage.root()
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


_BEFORE: set[Path] = set()


@pytest.fixture(autouse=True)
def _storage_before():
    """The storage folder is shared by the whole run: each test looks at what it added."""
    _BEFORE.clear()
    _BEFORE.update(_all_stored())


def _stored_files() -> list[Path]:
    return sorted(_all_stored() - _BEFORE)


def _cookie(username: str, password: str) -> dict[str, str]:
    outcome = auth.login(username, password)
    assert outcome.ok
    return {"cookie": f"atlas_session={outcome.token}"}


@pytest.fixture
def api():
    from starlette.testclient import TestClient

    from atlas_app.api.app import build_api

    return TestClient(build_api(), base_url="http://atlas.test")


def test_files_attached_on_raise_are_listed_stored_by_content_and_downloaded_by_another_member(members, api,
                                                                                              other_admin):
    actor, _ = members
    png = _png() + b"trailing bytes a decoder never reads"
    rid = _raise(actor, [("letter.pdf", PDF), ("C:\\Users\\me\\screen shot.png", png), ("figures.csv", b"a,b\n1,2\n")])
    detail = cr.get_request(actor, rid)
    assert [(a.file_name, a.content_type) for a in detail.attachments] == [
        ("letter.pdf", "application/pdf"), ("screen shot.png", "image/png"),
        ("figures.csv", "text/csv; charset=utf-8")]
    rows = all_rows(ChangeRequestAttachment, order_by=ChangeRequestAttachment.id)
    assert {r.organisation_id for r in rows} == {actor.organisation_id}
    # Content-addressed: the key is the SHA-256 of the stored bytes; the image was re-encoded (the junk is gone).
    for r in rows:
        assert hashlib.sha256(storage.open(r.sha256)).hexdigest() == r.sha256
    assert b"trailing bytes" not in storage.open(rows[1].sha256)
    assert storage.open(rows[0].sha256) == PDF

    got = api.get(f"/api/change-request-attachments/{rows[0].id}", headers=_cookie(other_admin.username,
                                                                                   other_admin.password))
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith('attachment; filename="letter.pdf"')
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert got.headers["cache-control"] == "private, no-store"
    # The same bytes raised again are stored once.
    before = _stored_files()
    _raise(actor, [("again.pdf", PDF)])
    assert _stored_files() == before and len(all_rows(ChangeRequestAttachment)) == 4


@pytest.mark.parametrize("name,data,says", [
    ("report.pdf", HTML, "is not a PDF"),                       # HTML claiming to be a PDF
    ("chart.png", SVG, "is not a PNG image"),                   # SVG with script claiming to be a PNG
    ("page.html", HTML, "attach a PDF"),                        # HTML by name
    ("logo.svg", SVG, "attach a PDF"),                          # SVG by name
    ("notes.txt", b"  \n<script>alert(1)</script>", "is not plain text"),  # markup in a text file
    ("notes.txt", "\ufeff<svg onload=alert(1)>".encode(), "is not plain text"),  # after a byte-order mark
    ("data.csv", b"a,b\x00\x01\n", "is not a CSV file"),       # binary in a CSV
    ("photo.pdf", _png(), "but its contents are a PNG image"),  # the name and the bytes disagree
    ("letter.txt", PDF, "but its contents are a PDF"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "could not be read"),  # a PNG header and nothing else
    ("cut.pdf", b"%PDF-1.7\n" + b"x" * 100, "not a complete PDF"),
    ("empty.pdf", b"", "is empty"),
    ("noextension", PDF, "attach a PDF"),
])
def test_a_file_made_to_hurt_is_refused_and_nothing_is_written(members, name, data, says):
    actor, _ = members
    with pytest.raises(ValidationFailed) as refused:
        _raise(actor, [("fine.pdf", PDF), (name, data)])
    assert says in str(refused.value)
    assert all_rows(ChangeRequest) == [] and all_rows(ChangeRequestAttachment) == [] and _stored_files() == []


def test_an_oversized_file_or_too_many_files_are_refused(members):
    actor, _ = members
    big = b"a,b\n" + b"1,2\n" * (attachments.MAX_BYTES // 4)
    with pytest.raises(ValidationFailed, match="larger than 10 MB"):
        _raise(actor, [("big.csv", big)])
    with pytest.raises(ValidationFailed, match="at most 5 files"):
        _raise(actor, [(f"f{n}.txt", b"x%d" % n) for n in range(attachments.MAX_FILES + 1)])
    assert all_rows(ChangeRequest) == [] and _stored_files() == []


def test_names_lose_folders_and_control_characters():
    assert attachments.clean_name("../../etc/passwd.txt") == "passwd.txt"
    assert attachments.clean_name("a\u202eb\x00c.pdf") == "abc.pdf"
    assert attachments.clean_name("x" * 400 + ".pdf").endswith(".pdf")
    assert len(attachments.clean_name("x" * 400 + ".pdf")) == attachments.NAME_MAX


def test_a_transaction_that_fails_after_writing_leaves_no_file(members, monkeypatch):
    actor, _ = members

    def fail(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(cr.audit, "record", fail)
    with pytest.raises(RuntimeError):
        _raise(actor, [("letter.pdf", PDF)])
    assert all_rows(ChangeRequest) == [] and _stored_files() == []


def test_another_organisation_that_is_not_a_member_and_anyone_signed_out_get_nothing(members, outsider, api,
                                                                                      platform_actor):
    actor, _ = members
    rid = _raise(actor, [("letter.pdf", PDF)])
    (row,) = all_rows(ChangeRequestAttachment)
    url = f"/api/change-request-attachments/{row.id}"
    with pytest.raises(PermissionDenied):
        cr.attachment(actor_for(outsider), row.id)
    with pytest.raises(PermissionDenied):  # nor can it raise one with a file
        cr.raise_request(actor_for(outsider), title="t", problem="p", affects="a", frequency="daily",
                         area="booking", files=[("x.pdf", PDF + b"other")])
    assert not storage.exists(hashlib.sha256(PDF + b"other").hexdigest())
    outsider_cookie = _cookie(outsider.username, outsider.password)
    for headers in ({}, {"cookie": "atlas_session=forged"}, outsider_cookie):
        refused = api.get(url, headers=headers)
        assert refused.status_code == 404 and PDF not in refused.content
    # The same answer as for an attachment that does not exist, so ids cannot be probed.
    assert api.get("/api/change-request-attachments/999999", headers=outsider_cookie).status_code == 404
    # The service provider reads every request, and so every attachment.
    assert cr.attachment(platform_actor, row.id).data == PDF
    with pytest.raises(NotFound):
        cr.attachment(actor, 10**15)
    assert cr.get_request(actor, rid).attachments[0].file_name == "letter.pdf"


def test_the_raise_form_sends_its_files_and_refuses_an_oversized_one_unread(members, monkeypatch):
    from state_support import redirect_path, run, signed_in, substate

    from atlas_app.ui.staff.user_group import requests as page

    actor, _ = members
    signed_in(monkeypatch, actor, page)
    state = substate(page.ChangeRequestsState)
    form = {"title": "Register in venue order", "problem": "We sort it by hand.", "affects": "Staff",
            "frequency": "weekly", "area": "booking"}

    def upload(name: str, data: bytes) -> rx.UploadFile:
        return rx.UploadFile(file=io.BytesIO(data), path=Path(name))

    huge = upload("huge.csv", b"a" * (attachments.MAX_BYTES + 1))
    run(state.raise_request([upload("ok.pdf", PDF), huge], form))
    assert "huge.csv is larger than 10 MB" in state.form_error and all_rows(ChangeRequest) == []
    run(state.raise_request([upload("evil.pdf", HTML)], form))
    assert "evil.pdf is not a PDF" in state.form_error and all_rows(ChangeRequest) == []
    events = run(state.raise_request([upload("ok.pdf", PDF)], form))
    (request,) = all_rows(ChangeRequest)
    assert state.form_error == "" and redirect_path(events) == f"/user-group/requests/{request.id}"
    assert [a.file_name for a in all_rows(ChangeRequestAttachment)] == ["ok.pdf"]
    # No files at all is an ordinary request.
    run(state.raise_request([], {**form, "title": "Another"}))
    assert state.form_error == "" and len(all_rows(ChangeRequest)) == 2

    detail = substate(page.ChangeRequestState)
    detail.rid = str(request.id)
    run(detail._refresh(actor))
    assert [(f["name"], f["kind"]) for f in detail.files] == [("ok.pdf", "application/pdf")]
