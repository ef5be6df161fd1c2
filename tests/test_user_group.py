"""The user group: feature previews (off by default, on in the demo organisation, switched by an organisation's
administrator, refused in the service), change requests (every member sees every request and nothing else, one
vote per organisation under a race of threads, the service provider's moves, followers emailed)."""

from __future__ import annotations

import pytest
from conftest import actor_for, all_rows, create_org, create_user, run_threads

from atlas_app.domain.statuses import ChangeRequestStatus as St
from atlas_app.models import AuditEntry, EmailMessage
from atlas_app.models.user_group import ChangeRequestComment, ChangeRequestVote
from atlas_app.services.platform import previews
from atlas_app.services.platform.errors import (
    Conflict,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.services.user_group import change_requests as cr

COMMENTS = previews.CHANGE_REQUEST_COMMENTS.code


@pytest.fixture
def platform_actor():
    org = create_org("atlas", "Atlas Service Provider")
    return actor_for(create_user(org, "platform.admin", roles=("Administrator",), is_platform_admin=True))


@pytest.fixture
def members(actor, other_actor, platform_actor):
    for a in (actor, other_actor):
        cr.set_member(platform_actor, a.organisation_id, True)
    return actor, other_actor


def _raise(a, title="Print the register in venue order") -> int:
    return cr.raise_request(a, title=title, problem="We sort the register by hand.", affects="Booking staff",
                            frequency="weekly", area="booking")


# --- previews ------------------------------------------------------------------------------------------------


def test_a_preview_is_off_by_default_on_in_the_demo_organisation_and_switched_by_an_administrator(actor):
    assert not previews.enabled(actor, COMMENTS)
    with pytest.raises(previews.PreviewOff):
        previews.require(actor, COMMENTS)
    demo = create_org(previews.DEMO_ORG_SLUG, previews.DEMO_ORG_NAME)
    demo_admin = actor_for(create_user(demo, "demo.admin", roles=("Administrator",)))
    assert previews.enabled(demo_admin, COMMENTS)

    assert previews.set_enabled(actor, COMMENTS, True) is True
    assert previews.enabled(actor, COMMENTS)
    previews.require(actor, COMMENTS)
    assert previews.set_enabled(actor, COMMENTS, True) is False
    entries = all_rows(AuditEntry, AuditEntry.entity == "preview")
    assert [(e.entity_id, e.action, e.organisation_id) for e in entries] == [(COMMENTS, "switched_on",
                                                                               actor.organisation_id)]
    # The demo organisation's administrator may switch it off there, for the demo organisation only.
    assert previews.set_enabled(demo_admin, COMMENTS, False) is True
    assert not previews.enabled(demo_admin, COMMENTS) and previews.enabled(actor, COMMENTS)


def test_only_an_administrator_switches_a_preview_and_only_for_their_own_organisation(actor, other_actor, make_user):
    reader = actor_for(make_user("hbc.reader", roles=("Read-only",)))
    with pytest.raises(PermissionDenied):
        previews.set_enabled(reader, COMMENTS, True)
    previews.set_enabled(actor, COMMENTS, True)
    assert not previews.enabled(other_actor, COMMENTS)
    rows = {r.code: r for r in previews.list_for_organisation(other_actor)}
    assert rows[COMMENTS].enabled is False and rows[COMMENTS].chosen is False


def test_an_unknown_preview_code_is_an_error_not_a_feature_switched_on(actor):
    with pytest.raises(ValueError):
        previews.require(actor, "no_such_feature")
    with pytest.raises(ValueError):
        previews.declare(COMMENTS, "again", "platform")


def test_a_comment_is_refused_by_the_service_while_its_preview_is_off(members):
    actor, other = members
    rid = _raise(actor)
    with pytest.raises(previews.PreviewOff):
        cr.comment(other, rid, "We need this too.")
    assert all_rows(ChangeRequestComment) == []
    previews.set_enabled(other, COMMENTS, True)
    cr.comment(other, rid, "We need this too.")
    detail = cr.get_request(actor, rid)
    assert [(c.organisation_name, c.body) for c in detail.comments] == [("Essex County Council", "We need this too.")]
    assert detail.comments_on is False  # Hartlepool has not switched it on


# --- change requests -----------------------------------------------------------------------------------------


def test_every_member_sees_every_request_with_the_raising_organisation_name_only(members, make_user):
    actor, other = members
    rid = _raise(actor)
    rows = cr.list_requests(other)
    assert [(r.id, r.organisation_name, r.title) for r in rows] == [(rid, "Hartlepool Borough Council",
                                                                     "Print the register in venue order")]
    detail = cr.get_request(other, rid)
    assert detail.problem == "We sort the register by hand." and detail.next_statuses == []
    # Nothing of the raising organisation's people: no username, email or user id in what comes back.
    text = repr(detail) + repr(rows)
    assert "hbc.admin" not in text and "@hartlepool" not in text and "raised_by" not in text
    caseworker = actor_for(make_user("hbc.caseworker", roles=("Case worker",)))
    assert len(cr.list_requests(caseworker)) == 1  # any staff of a member may read
    with pytest.raises(PermissionDenied):
        _raise(caseworker)  # raising is the administrators' permission by default


def test_an_organisation_that_is_not_a_member_can_neither_read_raise_vote_nor_comment(members):
    actor, _ = members
    rid = _raise(actor)
    outsider_org = create_org("york", "City of York Council")
    outsider = actor_for(create_user(outsider_org, "york.admin", roles=("Administrator",)))
    previews.set_enabled(outsider, COMMENTS, True)
    for call in (lambda: cr.list_requests(outsider), lambda: cr.get_request(outsider, rid), lambda: _raise(outsider),
                 lambda: cr.vote(outsider, rid, 1), lambda: cr.comment(outsider, rid, "hello")):
        with pytest.raises(PermissionDenied):
            call()
    assert all_rows(ChangeRequestVote) == [] and all_rows(ChangeRequestComment) == []


def test_the_demo_organisation_cannot_become_a_member(platform_actor):
    demo = create_org(previews.DEMO_ORG_SLUG, previews.DEMO_ORG_NAME)
    with pytest.raises(ValidationFailed):
        cr.set_member(platform_actor, demo.id, True)


def test_one_vote_per_organisation_which_it_can_change_or_take_back(members):
    actor, other = members
    rid = _raise(actor)
    cr.vote(actor, rid, 1)
    cr.vote(other, rid, 1)
    cr.vote(other, rid, -1)
    row = cr.list_requests(actor)[0]
    assert (row.votes_for, row.votes_against, row.my_vote) == (1, 1, 1)
    cr.vote(other, rid, 0)
    row = cr.list_requests(other)[0]
    assert (row.votes_for, row.votes_against, row.my_vote) == (1, 0, 0)
    with pytest.raises(ValidationFailed):
        cr.vote(actor, rid, 5)


def test_a_race_of_votes_leaves_one_row_per_organisation(members, make_user, other_org):
    actor, other = members
    rid = _raise(actor)
    hbc = [actor_for(make_user(f"hbc.admin{i}", roles=("Administrator",))) for i in range(4)]
    ecc = [actor_for(make_user(f"ecc.admin{i}", roles=("Administrator",), org_info=other_org)) for i in range(4)]
    voters = hbc + ecc
    results = run_threads(len(voters), lambda i: cr.vote(voters[i], rid, 1 if i % 2 else -1))
    assert not [r for r in results if isinstance(r, BaseException)], results
    rows = all_rows(ChangeRequestVote, ChangeRequestVote.change_request_id == rid)
    assert sorted(r.organisation_id for r in rows) == sorted([actor.organisation_id, other.organisation_id])


def test_the_service_provider_moves_a_request_and_followers_are_emailed(members, platform_actor):
    actor, other = members
    rid = _raise(actor)
    cr.vote(other, rid, 1)  # a voter follows
    with pytest.raises(PermissionDenied):
        cr.move(actor, rid, "under_review")
    cr.move(platform_actor, rid, "under_review")
    with pytest.raises(ValidationFailed):
        cr.move(platform_actor, rid, "planned")  # needs a target release
    cr.move(platform_actor, rid, "planned", target_release="2026.12")
    with pytest.raises(Conflict):
        cr.move(platform_actor, rid, "submitted")
    cr.move(platform_actor, rid, "in_preview")
    cr.move(platform_actor, rid, "shipped")
    detail = cr.get_request(platform_actor, rid)
    assert [e.to_status for e in detail.events] == ["under_review", "planned", "in_preview", "shipped"]
    assert detail.row.target_release == "2026.12" and detail.next_statuses == []
    mails = all_rows(EmailMessage, EmailMessage.related_entity == "change_request", order_by=EmailMessage.id)
    assert len(mails) == 8  # two followers, four moves
    assert {m.to_address for m in mails} == {"hbc.admin@hartlepool.example.gov.uk", "ecc.admin@essex.example.gov.uk"}
    assert any("planned for release 2026.12" in m.body_text for m in mails)
    with pytest.raises(Conflict):
        cr.vote(other, rid, -1)  # shipped: closed


def test_a_decline_needs_a_reason_which_followers_read(members, platform_actor):
    actor, _ = members
    rid = _raise(actor)
    with pytest.raises(ValidationFailed):
        cr.move(platform_actor, rid, "declined")
    cr.move(platform_actor, rid, "declined", reason="Out of scope for Atlas.")
    detail = cr.get_request(actor, rid)
    assert detail.row.status == St.DECLINED and detail.decline_reason == "Out of scope for Atlas."
    mail = all_rows(EmailMessage, EmailMessage.related_entity == "change_request")[0]
    assert "Reason: Out of scope for Atlas." in mail.body_text


def test_lists_sort_by_votes_status_and_area_and_filter(members, platform_actor):
    actor, other = members
    a = _raise(actor, "A")
    b = cr.raise_request(other, title="B", problem="p", affects="x", frequency="daily", area="casework")
    c = _raise(actor, "C")
    cr.vote(actor, b, 1)
    cr.vote(other, b, 1)
    cr.vote(other, c, 1)
    cr.move(platform_actor, a, "under_review")
    assert [r.id for r in cr.list_requests(actor, "votes")] == [b, c, a]
    assert [r.id for r in cr.list_requests(actor, "status")][-1] == a
    assert [r.area for r in cr.list_requests(actor, "area")] == ["casework", "booking", "booking"]  # by label
    assert [r.id for r in cr.list_requests(actor, area="casework")] == [b]
    assert [r.id for r in cr.list_requests(actor, status="under_review")] == [a]


# --- a feature in preview through the REST API and the page's handlers ---------------------------------------


def test_a_comment_through_the_api_is_refused_while_the_preview_is_off(members):
    from starlette.testclient import TestClient

    from atlas_app.api.app import build_api
    from atlas_app.services.platform import api_tokens

    actor, other = members
    rid = _raise(actor)
    auth = {"Authorization": f"Bearer {api_tokens.create(other, 'Essex system').token}"}
    with TestClient(build_api()) as client:
        listed = client.get("/api/v1/change-requests", headers=auth)
        assert listed.status_code == 200
        assert [(r["id"], r["organisation"]) for r in listed.json()["change_requests"]] == [
            (rid, "Hartlepool Borough Council")]
        refused = client.post(f"/api/v1/change-requests/{rid}/comments", headers=auth, json={"body": "Via the API"})
        assert refused.status_code == 403 and "preview" in refused.json()["error"]
        assert all_rows(ChangeRequestComment) == []
        previews.set_enabled(other, COMMENTS, True)
        added = client.post(f"/api/v1/change-requests/{rid}/comments", headers=auth, json={"body": "Via the API"})
        assert added.status_code == 201, added.text
        assert client.post(f"/api/v1/change-requests/{10**12}/comments", headers=auth,
                           json={"body": "x"}).status_code == 422
    assert [c.body for c in all_rows(ChangeRequestComment)] == ["Via the API"]


def test_the_page_handler_for_a_comment_meets_the_same_refusal(members, monkeypatch):
    from state_support import at, run, signed_in, substate

    from atlas_app.ui.staff.user_group import requests as page

    actor, other = members
    rid = _raise(actor)
    signed_in(monkeypatch, other, page)
    state = at(substate(page.ChangeRequestState), f"/user-group/requests/{rid}")
    state.rid = str(rid)
    run(state.add_comment({"body": "From the page"}))
    assert "preview" in state.error and all_rows(ChangeRequestComment) == []
    previews.set_enabled(other, COMMENTS, True)
    run(state.add_comment({"body": "From the page"}))
    assert state.error == "" and [c["body"] for c in state.comments] == ["From the page"]
    # A vote from the page, and a made-up vote value.
    run(state.vote(1))
    assert state.row["mine"] == "For"
    run(state.vote("lots"))
    assert state.error and state.row["mine"] == "For"


# --- what's new ----------------------------------------------------------------------------------------------


def test_release_files_render_sanitised_markdown_and_bad_front_matter_is_named(tmp_path):
    from atlas_app.services.user_group import releases

    assert [r.version for r in releases.load()][:2] == ["2026.12", "2026.11"]  # the shipped files load
    (tmp_path / "a.md").write_text("---\nversion: 9.1\ndate: 2030-01-02\ntitle: T\nareas: casework\n"
                                   "change_requests: 4, #7\n---\n# Big\n\n**bold** <script>alert(1)</script> "
                                   "[x](javascript:alert(1)) [ok](https://example.org)\n")
    (r,) = releases.load(tmp_path)
    assert (r.version, r.areas, r.change_request_ids) == ("9.1", ("casework",), (4, 7))
    assert "<h2>Big</h2>" in r.html and "<strong>bold</strong>" in r.html
    assert "<script" not in r.html and "javascript:" not in r.html.replace("[x](javascript:alert(1))", "")
    assert 'href="https://example.org"' in r.html and "noopener" in r.html
    (tmp_path / "b.md").write_text("---\nversion: 9.2\ndate: soon\ntitle: T\n---\n")
    with pytest.raises(releases.ReleaseFileError, match="b.md"):
        releases.load(tmp_path)


def test_whats_new_is_per_user_filtered_by_area_and_shows_a_release_again_when_a_request_ships(
        members, platform_actor, make_user, monkeypatch):
    from datetime import date

    from atlas_app.services.user_group import releases

    actor, _ = members
    rid = _raise(actor)
    fake = (releases.Release("2027.02", date(2027, 2, 1), "Casework things", ("casework",), (), "<p>c</p>"),
            releases.Release("2027.01", date(2027, 1, 1), "Everyone", ("platform",), (), "<p>p</p>"))
    monkeypatch.setattr(releases, "all_releases", lambda: fake)
    contact = actor_for(make_user("hbc.contact", roles=("Contact centre",)))
    assert [v.version for v in releases.new_since_last_seen(contact)] == ["2027.01"]  # no casework permission
    assert [v.version for v in releases.new_since_last_seen(actor)] == ["2027.02", "2027.01"]
    releases.mark_seen(actor)
    assert releases.new_since_last_seen(actor) == []
    assert [v.version for v in releases.new_since_last_seen(contact)] == ["2027.01"]  # per user
    # The service provider ships the request in 2027.01: it is new again, with the request linked.
    cr.move(platform_actor, rid, "under_review")
    cr.move(platform_actor, rid, "planned", target_release="2027.01")
    cr.move(platform_actor, rid, "shipped")
    (view,) = releases.new_since_last_seen(actor)
    assert view.version == "2027.01" and [c.id for c in view.change_requests] == [rid]
    releases.mark_seen(actor)
    assert releases.new_since_last_seen(actor) == []
    assert all(not v.is_new for v in releases.list_releases(actor))


# --- meetings ------------------------------------------------------------------------------------------------


def test_a_meeting_puts_requests_on_its_agenda_and_its_decisions_move_them(members, platform_actor):
    from atlas_app.services.user_group import meetings

    actor, other = members
    rid = _raise(actor)
    with pytest.raises(PermissionDenied):
        meetings.create_meeting(actor, "Spring meeting", "2027-03-04")
    mid = meetings.create_meeting(platform_actor, "Spring meeting", "2027-03-04")
    with pytest.raises(ValidationFailed):
        meetings.add_item(platform_actor, mid, rid, "https://evil.example/phish")
    item = meetings.add_item(platform_actor, mid, rid, "/bookings/sessions")
    with pytest.raises(Conflict):
        meetings.add_item(platform_actor, mid, rid)
    meetings.save_notes(platform_actor, mid, "Twelve organisations attended.")
    meetings.decide(platform_actor, item, "under_review", "Worth doing; to be costed.")
    m = meetings.get_meeting(other, mid)  # members read the meeting
    assert m.notes == "Twelve organisations attended."
    (agenda,) = m.items
    assert agenda.demo_link == "/demo?next=/bookings/sessions" and agenda.status == "under_review"
    assert agenda.decision == "Worth doing; to be costed." and agenda.next_statuses == []
    events = cr.get_request(actor, rid).events
    assert "Spring meeting" in events[-1].note
    with pytest.raises(PermissionDenied):
        meetings.decide(actor, item, "planned", "no")
    assert [r.items for r in meetings.list_meetings(other)] == [1]
