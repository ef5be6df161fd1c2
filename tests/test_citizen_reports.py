"""Residents' reports (Environmental Services Ticketing): categories, submission as a case with a value demand,
places by UPRN / USRN / pin, the area check, duplicates and repeats (failure demand), followers, updates, status
changes with template responses through the outbox, the tracking timeline, the staff list, photos, limits; and the
attacker's side (other people's tokens, other organisations, fake and oversized images, floods)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from conftest import actor_for, all_rows, create_user, set_columns
from PIL import Image
from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.domain.statuses import ReportStatus
from atlas_app.models import EmailMessage
from atlas_app.models.casework import Case, CaseLookup, CaseTeam, Demand, Place
from atlas_app.models.environmental import Report, ReportCategory, ReportFollower, ReportPhoto
from atlas_app.services.casework import config
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import geo, images, storage
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.throttles import TooManyAttempts

# Hartlepool: a few streets of places on the grid (easting, northing) around the civic centre.
BASE_E, BASE_N = 450500.0, 532500.0


def _place(org_id: int, uprn: int, line1: str, postcode: str, e: float, n: float, usrn: int | None = None):
    lat, lng = geo.to_wgs84(e, n)
    return Place(organisation_id=org_id, uprn=uprn, usrn=usrn, address_line1=line1, town="Hartlepool",
                 postcode=postcode, postcode_key=postcode.replace(" ", ""),
                 search_text=f"{line1} hartlepool {postcode}".lower(), x_coordinate=e, y_coordinate=n,
                 latitude=lat, longitude=lng, status="approved")


@pytest.fixture
def setup(org, admin):
    """Hartlepool with its seeded modules, three places on Victoria Road (USRN 7001) and one on Church Street, and
    every demand type of the module a public category with a promise of 5 working days."""
    with write_session() as s:
        config.seed_configuration(s, org.id)
        s.add_all([_place(org.id, 100001, "1 Victoria Road", "TS24 8AA", BASE_E, BASE_N, 7001),
                   _place(org.id, 100002, "3 Victoria Road", "TS24 8AA", BASE_E + 20, BASE_N, 7001),
                   _place(org.id, 100003, "5 Victoria Road", "TS24 8AB", BASE_E + 40, BASE_N, 7001),
                   _place(org.id, 100010, "2 Church Street", "TS24 7DJ", BASE_E + 900, BASE_N + 900, 7002)])
    reports.forget_extents()
    actor = actor_for(admin)
    reports.ensure_categories(actor)
    cats = reports.list_categories(actor)
    for c in cats:
        reports.save_category(actor, c.demand_type_id, is_public=c.demand_type != "Chasing a report",
                              public_description=f"Tell us about {c.demand_type.lower()}.", promise_days=5)
    cats = {c.demand_type: c for c in reports.list_categories(actor)}
    return {"org": org, "actor": actor, "cats": cats, "fly": cats["Fly-tipping report"].id,
            "graffiti": cats["Graffiti removal"].id}


def _submit(setup, **data):
    values = {"category_id": setup["fly"], "uprn": 100001, "description": "Mattress dumped on the pavement"}
    values.update(data)
    return reports.submit_report(setup["org"].id, values, ip=data.pop("ip", "198.51.100.7"))


def _jpeg(w=64, h=48, exif=True) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", (w, h), (200, 30, 30))
    kwargs = {}
    if exif:
        ex = Image.Exif()
        ex[0x010F] = "SpyCam"  # Make
        ex[0x0131] = "GeoTagger 54.69N 1.21W"  # Software
        kwargs["exif"] = ex.tobytes()
    img.save(out, "JPEG", **kwargs)
    return out.getvalue()


# --- categories ------------------------------------------------------------------------------------------------


def test_public_categories_have_their_description_and_promise(setup):
    public = reports.public_categories(setup["org"].id)
    names = [c.name for c in public]
    assert "Fly-tipping report" in names and "Chasing a report" not in names
    fly = next(c for c in public if c.id == setup["fly"])
    assert fly.public_description == "Tell us about fly-tipping report."
    assert fly.promise == "We aim to deal with fly-tipping report reports within 5 working days."


def test_categories_need_settings_permission_and_a_module(setup, org, make_user, other_org):
    clerk = actor_for(make_user("clerk", roles=("Case worker",)))
    with pytest.raises(PermissionDenied):
        reports.save_category(clerk, setup["cats"]["Graffiti removal"].demand_type_id, is_public=False)
    assert reports.public_categories(other_org.id) == []
    assert reports.organisation_by_slug("essex") is None
    assert reports.organisation_by_slug("hartlepool").name == "Hartlepool Borough Council"
    assert [o.slug for o in reports.organisations_taking_reports()] == ["hartlepool"]


def test_a_template_response_is_checked_in_the_sandbox(setup):
    with pytest.raises(ValidationFailed):
        reports.set_response(setup["actor"], setup["fly"], "fixed", "{{ report.secret }}")
    reports.set_response(setup["actor"], setup["fly"], "fixed", "Cleared: {{ report.reference }} at "
                                                                "{{ report.location }}.")
    fly = next(c for c in reports.list_categories(setup["actor"]) if c.id == setup["fly"])
    assert fly.responses["fixed"].startswith("Cleared:")


# --- submitting ------------------------------------------------------------------------------------------------


def test_a_report_is_a_case_with_a_value_demand_in_the_module(setup, org):
    done = _submit(setup, name="Ann Resident", email="ann@example.org", consent=True)
    assert done.reference == f"ENV-{done.case_id:06d}"
    assert done.tracking_path == f"/track/{done.reference}?token={done.token}"
    with read_session() as s:
        case = s.get(Case, done.case_id)
        demand = s.exec(select(Demand).where(Demand.case_id == case.id)).one()
        rep = s.get(Report, done.id)
        dtype = s.get(CaseLookup, demand.demand_type_id)
    assert case.organisation_id == org.id and case.title.startswith("Fly-tipping report: 1 Victoria Road")
    assert demand.demand_class == "value" and dtype.name == "Fly-tipping report"
    assert rep.uprn == 100001 and rep.usrn == 7001 and rep.status == "received"
    assert rep.token_hash != done.token and done.token not in rep.token_hash
    assert abs(rep.easting - BASE_E) < 0.5 and 54.0 < rep.latitude < 55.0
    assert rep.due_at is not None and rep.due_at > rep.created_at + timedelta(days=4)
    mail = all_rows(EmailMessage)
    assert len(mail) == 1 and mail[0].to_address == "ann@example.org" and done.reference in mail[0].subject
    assert f"/track/{done.reference}?token={done.token}" in mail[0].body_text


def test_contact_details_need_consent_and_the_honeypot_refuses(setup):
    with pytest.raises(ValidationFailed, match="Confirm that we may use"):
        _submit(setup, email="ann@example.org")
    with pytest.raises(ValidationFailed) as caught:
        _submit(setup, website="http://spam.example")
    assert caught.value.errors == {"website": "honeypot"}
    with pytest.raises(ValidationFailed, match="description"):
        _submit(setup, description="  ")
    with pytest.raises(ValidationFailed, match="2000 characters"):
        _submit(setup, description="x" * 2001)
    with pytest.raises(ValidationFailed, match="email address in the correct format"):
        _submit(setup, email="not-an-address", consent=True)
    assert all_rows(Report) == []


def test_a_private_category_is_refused_on_the_web(setup):
    with pytest.raises(ValidationFailed, match="Choose what you are reporting"):
        _submit(setup, category_id=setup["cats"]["Chasing a report"].id)


def test_a_pin_is_matched_to_the_nearest_place_and_a_street_by_usrn(setup):
    lat, lng = geo.to_wgs84(BASE_E + 22, BASE_N + 5)
    loc = reports.locate(setup["org"].id, latitude=lat, longitude=lng)
    assert loc.uprn == 100002 and loc.label.startswith("Near 3 Victoria Road")
    street = reports.locate(setup["org"].id, usrn=7001)
    assert street.uprn is None and street.usrn == 7001 and street.label.startswith("Victoria Road")
    assert abs(street.easting - (BASE_E + 20)) < 1


def test_a_pin_outside_the_area_is_told_who_to_contact(setup, other_org):
    far_lat, far_lng = geo.to_wgs84(BASE_E + 30_000, BASE_N)
    with pytest.raises(reports.OutsideArea, match="outside Hartlepool Borough Council's area.*find-local-council"):
        reports.locate(setup["org"].id, latitude=far_lat, longitude=far_lng)
    with write_session() as s:
        s.add(_place(other_org.id, 900001, "1 High Street", "CM1 1AA", BASE_E + 30_000, BASE_N))
    reports.forget_extents()
    with pytest.raises(reports.OutsideArea, match="Please report it to Essex County Council"):
        _submit(setup, uprn=None, latitude=far_lat, longitude=far_lng)
    with pytest.raises(ValidationFailed, match="not in Great Britain"):
        reports.locate(setup["org"].id, latitude=48.85, longitude=2.35)


def test_search_address_by_postcode_and_words_in_the_org_only(setup, other_org):
    with write_session() as s:
        s.add(_place(other_org.id, 900002, "9 Victoria Road", "CM1 1AB", 570000, 206000))
    assert [r.uprn for r in reports.search_address(setup["org"].id, "ts24 8aa")] == [100001, 100002]
    assert {r.uprn for r in reports.search_address(setup["org"].id, "victoria")} == {100001, 100002, 100003}
    assert reports.search_address(setup["org"].id, "x") == []


# --- duplicates, repeats, followers -------------------------------------------------------------------------------


def test_duplicates_within_50_m_or_the_same_uprn_of_the_same_category_in_14_days(setup):
    first = _submit(setup)
    _submit(setup, uprn=100010)  # 1.3 km away
    _submit(setup, category_id=setup["graffiti"])  # another category
    lat, lng = geo.to_wgs84(BASE_E + 30, BASE_N + 30)  # 42 m away, nearest place 100002/100003
    found = reports.find_duplicates(setup["org"].id, setup["fly"], latitude=lat, longitude=lng)
    assert [d.reference for d in found] == [first.reference]
    assert 40 < found[0].distance_m < 45
    assert [d.reference for d in reports.find_duplicates(setup["org"].id, setup["fly"], uprn=100001)] \
        == [first.reference]
    set_columns(Report, Report.id == first.id, created_at=first_created(first.id) - timedelta(days=15))
    assert reports.find_duplicates(setup["org"].id, setup["fly"], uprn=100001) == []


def first_created(report_id):
    with read_session() as s:
        return s.get(Report, report_id).created_at


def test_a_repeat_is_failure_demand_on_the_same_case_and_adds_a_follower(setup):
    first = _submit(setup)
    followed = reports.add_repeat(setup["org"].id, first.reference,
                                  {"email": "bob@example.org", "name": "Bob", "description": "Still there"})
    with read_session() as s:
        demands = s.exec(select(Demand).where(Demand.case_id == first.case_id).order_by(Demand.id)).all()
        rep = s.get(Report, first.id)
    assert [d.demand_class for d in demands] == ["value", "failure"]
    assert rep.repeat_count == 1
    assert reports.track(first.reference, followed.token).following is True
    assert [m.to_address for m in all_rows(EmailMessage)] == ["bob@example.org"]
    assert len(all_rows(Report)) == 1


def test_following_emails_the_token_and_stop_updates_in_one_click(setup):
    first = _submit(setup)
    f = reports.follow(setup["org"].id, first.reference, "cat@example.org", "Cat")
    mail = all_rows(EmailMessage)[-1]
    assert f.token in mail.body_text and mail.to_address == "cat@example.org"
    assert reports.stop_updates(first.reference, f.token) is True
    assert reports.stop_updates(first.reference, f.token) is False
    reports.public_update(setup["actor"], first.id, "Crew booked for Tuesday")
    assert len(all_rows(EmailMessage)) == 1  # nobody follows any more


# --- staff side -----------------------------------------------------------------------------------------------------


def test_status_changes_send_the_template_response_to_followers_and_meet_the_need(setup):
    reports.set_response(setup["actor"], setup["fly"], "fixed",
                         "Hello {{ name }}, {{ report.reference }} is cleared. {{ organisation.name }}")
    done = _submit(setup, name="Ann", email="ann@example.org", consent=True)
    reports.change_status(setup["actor"], done.id, "in_progress")
    reports.change_status(setup["actor"], done.id, "fixed")
    mails = all_rows(EmailMessage, order_by=EmailMessage.id)
    assert [m.subject for m in mails] == [f"Your report {done.reference}",
                                          f"Your report {done.reference}: In progress",
                                          f"Your report {done.reference}: Fixed"]
    assert mails[2].body_text.startswith(f"Hello Ann, {done.reference} is cleared. Hartlepool Borough Council")
    with read_session() as s:
        demand = s.exec(select(Demand).where(Demand.case_id == done.case_id)).one()
    assert demand.need_met_at is not None
    with pytest.raises(ValidationFailed, match="reason"):
        reports.change_status(setup["actor"], done.id, "closed")
    reports.change_status(setup["actor"], done.id, "closed", reason="Cleared by crew")
    with pytest.raises(Conflict):
        reports.change_status(setup["actor"], done.id, "in_progress")
    with read_session() as s:
        assert s.get(Case, done.case_id).status == "closed"


def test_the_tracking_page_shows_public_updates_not_internal_notes(setup):
    done = _submit(setup)
    reports.internal_note(setup["actor"], done.id, "Known tipper: call enforcement")
    reports.public_update(setup["actor"], done.id, "A crew will visit on Tuesday")
    view = reports.track(done.reference, done.token)
    bodies = [e.body for e in view.timeline]
    assert "A crew will visit on Tuesday" in bodies and not any("enforcement" in b for b in bodies)
    assert [s[0] for s in view.steps] == list(ReportStatus)
    assert view.steps[0][2] is not None and view.steps[3][2] is None
    staff = reports.get_report(setup["actor"], done.reference)
    assert any(e.kind == "internal" for e in staff.timeline)


def test_assigning_to_a_team_moves_it_with_the_team_and_the_list_filters(setup, org):
    a = _submit(setup)
    b = _submit(setup, category_id=setup["graffiti"], uprn=100010)
    with read_session() as s:
        team = s.exec(select(CaseTeam).where(CaseTeam.organisation_id == org.id)).first()
    if team is None:
        tt = next(v for v in config.options(setup["actor"], "team_type") if v)
        team_id = config.save_team(setup["actor"], None, name="Crew A", team_type_id=tt.id)
    else:
        team_id = team.id
    reports.assign(setup["actor"], a.id, team_id=team_id, officer_id=setup["actor"].user_id)
    page = reports.list_reports(setup["actor"], team_id=team_id)
    assert [r.reference for r in page.rows] == [a.reference] and page.rows[0].status == "with_team"
    assert [r.reference for r in reports.list_reports(setup["actor"], officer_id="me").rows] == [a.reference]
    assert [r.reference for r in reports.list_reports(setup["actor"], category_id=setup["graffiti"]).rows] \
        == [b.reference]
    set_columns(Report, Report.id == b.id, due_at=first_created(b.id) - timedelta(days=1))
    assert [r.reference for r in reports.list_reports(setup["actor"], overdue=True).rows] == [b.reference]
    lat, lng = geo.to_wgs84(BASE_E, BASE_N)
    box = (lng - 0.005, lat - 0.005, lng + 0.005, lat + 0.005)
    assert [r.reference for r in reports.list_reports(setup["actor"], bbox=box).rows] == [a.reference]


def test_the_list_pages_by_keyset(setup):
    refs = [_submit(setup, uprn=100001 + (i % 3)).reference for i in range(5)]
    got, after = [], None
    while True:
        page = reports.list_reports(setup["actor"], limit=2, after=after)
        got += [r.reference for r in page.rows]
        after = page.next_after
        if after is None:
            break
    assert got == refs
    newest = reports.list_reports(setup["actor"], sort="newest", limit=3)
    assert [r.reference for r in newest.rows] == refs[::-1][:3]
    with pytest.raises(ValidationFailed):
        reports.list_reports(setup["actor"], after="!!garbage")


# --- photos and storage ---------------------------------------------------------------------------------------------


def test_photos_are_re_encoded_without_metadata_and_served_to_the_token_holder(setup):
    raw = _jpeg()
    assert b"SpyCam" in raw
    done = reports.submit_report(setup["org"].id, {"category_id": setup["fly"], "uprn": 100001,
                                                   "description": "Bags"}, [raw], ip="198.51.100.8")
    (photo,) = all_rows(ReportPhoto)
    data, content_type = reports.photo_for_public(done.reference, done.token, photo.id)
    assert content_type == "image/jpeg" and b"SpyCam" not in data and data != raw
    assert b"GeoTagger" in raw and b"GeoTagger" not in data
    assert dict(Image.open(io.BytesIO(data)).getexif()) == {}
    assert storage.exists(photo.sha256)
    path = storage.root() / photo.sha256[:2] / photo.sha256[2:4] / photo.sha256
    assert path.is_file() and not list(path.parent.glob(".tmp-*"))
    assert reports.photo_for_staff(setup["actor"], photo.id)[0] == data


def test_a_fake_jpeg_an_oversized_image_and_a_bomb_are_refused_and_nothing_is_saved(setup, monkeypatch):
    fake = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 100
    with pytest.raises(ValidationFailed, match="could not be read"):
        _submit_with_photo(setup, fake)
    with pytest.raises(ValidationFailed, match="must be a JPEG, PNG or WebP"):
        _submit_with_photo(setup, b"GIF89a" + b"\0" * 100)
    with pytest.raises(ValidationFailed, match="smaller than 10 MB"):
        _submit_with_photo(setup, b"\xff\xd8\xff" + b"\0" * (images.MAX_BYTES + 1))
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ValidationFailed, match="too many pixels"):
        _submit_with_photo(setup, _jpeg(100, 100, exif=False))
    with pytest.raises(ValidationFailed, match="at most 3"):
        reports.submit_report(setup["org"].id, {"category_id": setup["fly"], "uprn": 100001,
                                                "description": "x"}, [_jpeg(8, 8)] * 4)
    assert all_rows(Report) == [] and all_rows(ReportPhoto) == []


def test_a_failed_transaction_removes_the_photo_it_wrote(setup, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("database went away")

    import hashlib

    photo = _jpeg(11, 7)
    key = hashlib.sha256(images.clean_image(photo).data).hexdigest()
    storage.delete(key)
    monkeypatch.setattr(reports, "_queue_confirmation", boom)
    with pytest.raises(RuntimeError):
        reports.submit_report(setup["org"].id, {"category_id": setup["fly"], "uprn": 100001, "description": "x",
                                                "email": "a@example.org", "consent": True}, [photo])
    assert all_rows(Report) == [] and all_rows(ReportPhoto) == []
    assert not storage.exists(key)


def _submit_with_photo(setup, data: bytes):
    return reports.submit_report(setup["org"].id, {"category_id": setup["fly"], "uprn": 100001,
                                                   "description": "x"}, [data])


# --- the attacker's side --------------------------------------------------------------------------------------------


def test_another_reports_tracking_and_photos_need_its_own_token(setup):
    mine = _submit(setup)
    theirs = reports.submit_report(setup["org"].id, {"category_id": setup["fly"], "uprn": 100010,
                                                     "description": "Sofa"}, [_jpeg(10, 10)])
    (photo,) = all_rows(ReportPhoto)
    for ref, token in ((theirs.reference, mine.token), (theirs.reference, ""), (theirs.reference, "x" * 500),
                       ("ENV-999999", theirs.token)):
        with pytest.raises(NotFound):
            reports.track(ref, token)
    with pytest.raises(NotFound):
        reports.photo_for_public(mine.reference, mine.token, photo.id)
    with pytest.raises(NotFound):
        reports.add_information(theirs.reference, mine.token, "mine now")
    with pytest.raises(NotFound):
        reports.stop_updates(theirs.reference, mine.token)


def test_staff_of_another_organisation_see_nothing(setup, other_org, other_actor):
    done = reports.submit_report(setup["org"].id, {"category_id": setup["fly"], "uprn": 100010,
                                                   "description": "Sofa"}, [_jpeg(10, 10)])
    (photo,) = all_rows(ReportPhoto)
    with pytest.raises(NotFound):
        reports.get_report(other_actor, done.id)
    with pytest.raises(NotFound):
        reports.photo_for_staff(other_actor, photo.id)
    with pytest.raises(NotFound):
        reports.change_status(other_actor, done.reference, "fixed")
    with pytest.raises(NotFound):
        reports.public_update(other_actor, done.id, "hijacked")
    assert reports.list_reports(other_actor).rows == []
    with pytest.raises(NotFound):
        reports.add_repeat(other_org.id, done.reference, {})


def test_a_flood_from_one_ip_and_one_email_is_refused(setup, set_env):
    set_env(REPORTS_PER_IP_PER_HOUR="5", REPORTS_PER_EMAIL_PER_HOUR="3")
    for _ in range(5):
        _submit(setup, ip="203.0.113.9")
    with pytest.raises(TooManyAttempts, match="Too many reports"):
        _submit(setup, ip="203.0.113.9")
    _submit(setup, ip="203.0.113.10")
    for i in range(3):
        _submit(setup, ip=f"192.0.2.{i}", email="spam@example.org", consent=True)
    with pytest.raises(TooManyAttempts):
        _submit(setup, ip="192.0.2.99", email="SPAM@example.org", consent=True)
    assert len(all_rows(Report)) == 9


def test_reference_and_email_lookup_is_limited(setup):
    done = _submit(setup, email="ann@example.org", consent=True)
    view, token = reports.track_by_email(done.reference, "Ann@Example.org")
    assert view.reference == done.reference and reports.track(done.reference, token).id == done.id
    for _ in range(5):
        with pytest.raises(ValidationFailed, match="could not find"):
            reports.track_by_email(done.reference, "guess@example.org", ip="203.0.113.50")
    with pytest.raises(TooManyAttempts):
        reports.track_by_email(done.reference, "ann@example.org", ip="203.0.113.51")


def test_a_follower_token_from_another_report_does_not_stop_mine(setup):
    a = _submit(setup, email="ann@example.org", consent=True)
    b = _submit(setup, uprn=100010, email="bob@example.org", consent=True)
    with pytest.raises(NotFound):
        reports.stop_updates(a.reference, b.token)
    with read_session() as s:
        assert all(f.stopped_at is None for f in s.exec(select(ReportFollower)).all())


def test_an_inactive_or_foreign_user_cannot_be_assigned(setup, org, other_admin):
    from atlas_app.models import User

    done = _submit(setup)
    gone = create_user(org, "gone", "admin1234", ("Case worker",))
    set_columns(User, User.id == gone.id, is_active=False)
    for uid in (gone.id, other_admin.id):
        with pytest.raises(ValidationFailed, match="member of staff"):
            reports.assign(setup["actor"], done.id, officer_id=uid)
    assert all_rows(ReportCategory)


# --- over HTTP ------------------------------------------------------------------------------------------------------


@pytest.fixture
def api():
    from starlette.testclient import TestClient

    from atlas_app.api.app import build_api

    return TestClient(build_api(), base_url="http://atlas.test")


def _cookie(user) -> dict[str, str]:
    from atlas_app.services.platform import auth

    outcome = auth.login(user.username, user.password)
    assert outcome.ok
    return {"cookie": f"atlas_session={outcome.token}"}


def test_the_photo_route_checks_the_token_or_the_staff_organisation(setup, api, admin, other_admin):
    done = reports.submit_report(setup["org"].id, {"category_id": setup["fly"], "uprn": 100001,
                                                   "description": "Bags"}, [_jpeg(20, 20)])
    other = _submit(setup, uprn=100010)
    (photo,) = all_rows(ReportPhoto)
    ok = api.get(f"/api/report-photos/{photo.id}", params={"ref": done.reference, "token": done.token})
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/jpeg"
    assert ok.headers["x-content-type-options"] == "nosniff" and ok.content[:3] == b"\xff\xd8\xff"
    assert api.get(f"/api/report-photos/{photo.id}").status_code == 404
    assert api.get(f"/api/report-photos/{photo.id}",
                   params={"ref": other.reference, "token": other.token}).status_code == 404
    assert api.get(f"/api/report-photos/{photo.id}", params={"ref": done.reference,
                                                             "token": other.token}).status_code == 404
    assert api.get(f"/api/report-photos/{photo.id}", headers=_cookie(admin)).status_code == 200
    assert api.get(f"/api/report-photos/{photo.id}", headers=_cookie(other_admin)).status_code == 404


def test_the_submission_route_takes_a_form_and_json_and_refuses_a_flood(setup, api, set_env):
    set_env(REPORTS_PER_IP_PER_HOUR="3")
    r = api.post("/api/report/hartlepool", data={"category_id": setup["fly"], "uprn": "100001",
                                                 "description": "Fridge on the verge"})
    assert r.status_code == 201 and r.json()["reference"].startswith("ENV-")
    assert r.json()["tracking_path"].startswith(f"/track/{r.json()['reference']}?token=")
    r = api.post("/api/report/hartlepool", json={"category_id": setup["fly"], "uprn": 100002,
                                                 "description": "Tyres", "email": "a@example.org",
                                                 "consent": True})
    assert r.status_code == 201 and r.json()["email_queued"] is True
    bad = api.post("/api/report/hartlepool", json={"category_id": setup["fly"], "uprn": 100002})
    assert bad.status_code == 422 and "description" in bad.json()["fields"]
    assert api.post("/api/report/nowhere", json={}).status_code == 404
    third = {"category_id": setup["fly"], "uprn": 100002, "description": "x"}
    assert api.post("/api/report/hartlepool", json=third).status_code == 201
    refused = api.post("/api/report/hartlepool", json=third)
    assert refused.status_code == 429 and "Too many reports" in refused.json()["error"]
    huge = api.post("/api/report/hartlepool", content=b"description=" + b"x" * 20_000,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413
    assert len(all_rows(Report)) == 3


# --- the page states (any browser may call their handlers with any arguments) ----------------------------------------


def test_the_report_state_accepts_only_what_it_offered(setup, other_org):
    from state_support import at, drain, redirect_path, substate

    from atlas_app.ui.public.report import ReportState

    state = at(substate(ReportState), "/report?org=hartlepool")
    assert redirect_path(drain(state.start())) == "/report/what"
    drain(state.load_what())
    assert {c["name"] for c in state.categories} >= {"Fly-tipping report"}
    # Out of order: the details page before "where" sends the browser back.
    assert redirect_path(drain(state.load_details())) == "/report/what"
    drain(state.choose_category({"category": "999999"}))
    assert state.errors == {"category": "Choose what you are reporting."}
    private = setup["cats"]["Chasing a report"].id
    drain(state.choose_category({"category": str(private)}))
    assert state.errors and state.category_id == ""
    assert redirect_path(drain(state.choose_category({"category": str(setup["fly"])}))) == "/report/where"
    drain(state.search({"q": "victoria"}))
    assert [a["uprn"] for a in state.addresses] == ["100001", "100002", "100003"]
    drain(state.choose_address({"uprn": "100010"}))  # a real place, but not one the search offered
    assert state.errors == {"uprn": "Choose an address from the list."}
    assert redirect_path(drain(state.choose_address({"uprn": "100001"}))) == "/report/details"
    drain(state.save_details({"description": "Bags", "email": "ann@example.org"}))
    assert "consent" in state.errors
    assert redirect_path(drain(state.save_details({"description": "Bags", "email": "ann@example.org",
                                                   "consent": "on"}))) == "/report/check"
    events = drain(state.send())
    assert redirect_path(events) == "/report/done"
    assert state.done_reference.startswith("ENV-") and "token=" in state.done_link
    (rep,) = all_rows(Report)
    assert rep.reporter_email == "ann@example.org" and rep.uprn == 100001


def test_the_track_state_shows_nothing_without_the_token(setup):
    from state_support import at, drain, redirect_path, substate

    from atlas_app.ui.public.track import TrackState

    done = _submit(setup, description="Secret sofa")
    other = _submit(setup, uprn=100010, description="Other")
    state = at(substate(TrackState), f"/track/{done.reference}?token={other.token}")
    drain(state.load())
    assert state.found is False and state.description == "" and "could not find" in state.error
    state = at(substate(TrackState), f"/track/{done.reference}")
    assert redirect_path(drain(state.load())) == "/track"
    drain(state.add_information({"information": "sneaky"}))
    state = at(substate(TrackState), f"/track/{done.reference}?token={done.token}")
    drain(state.load())
    assert state.found and state.description == "Secret sofa" and state.status_label == "Received"
    drain(state.add_information({"information": "It is getting wet"}))
    assert state.notice.startswith("Thank you") and any("getting wet" in e["body"] for e in state.timeline)
    assert not any("sneaky" in e["body"] for e in state.timeline)


def test_every_email_carries_the_same_working_link_and_the_reporter_can_stop_updates(setup):
    done = _submit(setup, email="ann@example.org", consent=True)
    reports.public_update(setup["actor"], done.id, "Booked")
    reports.change_status(setup["actor"], done.id, "in_progress")
    bodies = [m.body_text for m in all_rows(EmailMessage, order_by=EmailMessage.id)]
    assert len(bodies) == 3 and all(done.tracking_path in b for b in bodies)
    assert reports.track(done.reference, done.token).following is True
    assert reports.stop_updates(done.reference, done.token) is True
    assert reports.track(done.reference, done.token).following is False
    bob = reports.follow(setup["org"].id, done.reference, "bob@example.org")
    again = reports.follow(setup["org"].id, done.reference, "BOB@example.org")
    assert bob.token == again.token != done.token
    view, token = reports.track_by_email(done.reference, "bob@example.org")
    assert token == bob.token


def test_the_report_state_takes_a_pin_only_with_a_map_and_matches_it(setup, actor, set_env):
    from state_support import at, drain, redirect_path, substate

    from atlas_app.services.platform import maps
    from atlas_app.ui.public.report import ReportState

    set_env(MAP_TILE_URL=None)
    state = at(substate(ReportState), "/report?org=hartlepool")
    drain(state.start())
    drain(state.load_what())
    drain(state.choose_category({"category": str(setup["fly"])}))
    drain(state.load_where())
    assert state.map_on is False and state.map_tile_url == ""
    lat, lng = geo.to_wgs84(BASE_E + 5, BASE_N)
    drain(state.drop_pin(lat, lng))  # no map: a pin is not taken
    assert state.pin == [] and redirect_path(drain(state.load_details())) == "/report/where"

    maps.set_tiles(actor, "https://tiles.example.org/{z}/{x}/{y}.png", "© Example")
    drain(state.load_where())
    assert state.map_on and state.map_tile_url.startswith("https://tiles.example.org/")
    south, west, north, east = state.map_area
    assert south < lat < north and west < lng < east
    far_lat, far_lng = geo.to_wgs84(BASE_E + 60_000, BASE_N)
    drain(state.drop_pin(far_lat, far_lng))
    assert state.pin == [] and "outside Hartlepool Borough Council's area" in state.errors["map"]
    drain(state.drop_pin("north", "south"))
    assert state.pin == [] and "map" in state.errors
    drain(state.drop_pin(lat, lng))
    assert state.pin == [round(lat, 7), round(lng, 7)] and state.pin_label == "Near 1 Victoria Road, Hartlepool, TS24 8AA"
    assert redirect_path(drain(state.use_pin({}))) == "/report/details"
    drain(state.save_details({"description": "Bags by the wall"}))
    assert redirect_path(drain(state.send())) == "/report/done"
    (rep,) = all_rows(Report)
    assert rep.uprn == 100001 and abs(rep.latitude - lat) < 1e-6 and rep.location_text.startswith("Near ")
