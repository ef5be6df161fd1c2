"""The Environmental Services Ticketing staff screens' states, driven directly: the queue and its filters, bulk
assign, the report screen (claim, status with the template response to followers through the outbox, internal
note, close with a resolution code, merge a duplicate), the categories screen, the dashboard; and a staff user of
another organisation getting nowhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import actor_for, all_rows, set_columns
from env_report_data import make_env
from state_support import run, signed_in, substate

from atlas_app.db import utcnow
from atlas_app.domain.statuses import ReportStatus
from atlas_app.models import AuditEntry, EmailMessage
from atlas_app.models.casework import Demand
from atlas_app.models.environmental import (
    Report,
    ReportCategory,
    ReportFollower,
    ReportResponse,
    ReportUpdate,
)
from atlas_app.services.modules.environmental_ticketing import queue as q
from atlas_app.services.modules.environmental_ticketing import staff as staff
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform.errors import AtlasError, PermissionDenied
from atlas_app.ui.staff.modules.environmental_ticketing import (
    categories as categories_page,
)
from atlas_app.ui.staff.modules.environmental_ticketing import (
    dashboard as dashboard_page,
)
from atlas_app.ui.staff.modules.environmental_ticketing import queue as queue_page
from atlas_app.ui.staff.modules.environmental_ticketing import report as report_page


def submit(org_id: int, category_id: int, uprn: int, email: str = "", description: str = "A sofa") -> str:
    data = {"category_id": category_id, "uprn": str(uprn), "description": description}
    if email:
        data.update(email=email, name="Ann Resident", consent=True)
    return reports.submit_report(org_id, data, check_limits=False).reference


@pytest.fixture
def env(org):
    return make_env(org.id)


@pytest.fixture
def worker(make_user):
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


def _queue(monkeypatch, actor):
    signed_in(monkeypatch, actor, queue_page)
    state = substate(queue_page.QueueState)
    run(state.load())
    return state


def _report(monkeypatch, actor, ref: str):
    signed_in(monkeypatch, actor, report_page)
    state = substate(report_page.ReportState)
    state.router.page.params["ref"] = ref
    run(state.load())
    return state


def test_the_queue_shows_open_reports_and_filters_them(monkeypatch, org, env, worker):
    fly = submit(org.id, env.categories["Fly-tipping"], env.uprns[0])
    graffiti = submit(org.id, env.categories["Graffiti"], env.uprns[1])
    done = submit(org.id, env.categories["Graffiti"], env.uprns[2])
    reports.change_status(worker, done, ReportStatus.CLOSED, reason="Cleared")
    state = _queue(monkeypatch, worker)
    assert {r["ref"] for r in state.rows} == {fly, graffiti}  # open reports only
    assert state.total == 2 and {c["label"] for c in state.categories} == {"Fly-tipping", "Graffiti", "Missed bin"}

    run(state.apply({"category_id": str(env.categories["Graffiti"])}))
    assert [r["ref"] for r in state.rows] == [graffiti]

    # Overdue against the promise: one report made long ago.
    set_columns(Report, Report.reference == fly, created_at=utcnow() - timedelta(days=30),
                due_at=utcnow() - timedelta(days=20))
    run(state.apply({"overdue": "1"}))
    assert [r["ref"] for r in state.rows] == [fly]
    assert state.rows[0]["left"].startswith("Overdue by 20 days") and state.rows[0]["overdue"] == "yes"

    run(state.apply({"sort": "age"}))
    assert [r["ref"] for r in state.rows] == [fly, graffiti]  # oldest first
    run(state.apply({"area": "TS24"}))
    assert len(state.rows) == 2
    run(state.apply({"area": "SW1A"}))
    assert state.rows == []
    run(state.apply({"area": "not a postcode!"}))
    assert "postcode district" in state.error


def test_bulk_assign_gives_the_ticked_reports_to_a_team(monkeypatch, org, env, worker):
    refs = [submit(org.id, env.categories["Fly-tipping"], u) for u in env.uprns[:3]]
    state = _queue(monkeypatch, worker)
    by_ref = {r["ref"]: r["id"] for r in state.rows}
    state.toggle(by_ref[refs[0]], True)
    state.toggle(by_ref[refs[2]], True)
    run(state.bulk_assign({"bulk_team_id": str(env.teams["Street Scene"]), "bulk_officer_id": ""}))
    assert state.error == "" and state.notice == "2 reports assigned." and state.selected == []
    rows = {r.reference: r for r in all_rows(Report)}
    assert rows[refs[0]].team_id == rows[refs[2]].team_id == env.teams["Street Scene"]
    assert rows[refs[1]].team_id is None
    assert rows[refs[0]].status == ReportStatus.WITH_TEAM
    run(state.apply({"team_id": str(env.teams["Street Scene"])}))
    assert {r["ref"] for r in state.rows} == {refs[0], refs[2]}
    run(state.apply({"unassigned": "1"}))
    assert [r["ref"] for r in state.rows] == [refs[1]]
    assert len([a for a in all_rows(AuditEntry) if a.action == "assigned"]) == 2


def test_the_report_screen_moves_a_report_on_and_tells_followers(monkeypatch, org, env, worker):
    reports.set_response(actor_for_admin(org), env.categories["Fly-tipping"], ReportStatus.CLOSED,
                         "Dear {{ name }}, {{ report.reference }} is closed: {{ report.reason }}.")
    ref = submit(org.id, env.categories["Fly-tipping"], env.uprns[0], email="ann@example.org")
    state = _report(monkeypatch, worker, ref)
    assert state.found and state.info["ref"] == ref and state.info["email"] == "ann@example.org"

    run(state.claim())
    assert state.error == "" and state.info["officer"] == worker.full_name

    run(state.note({"note": "Crew booked for Tuesday"}))
    run(state.change_status({"status": "in_progress", "message": "", "notify": "1"}))
    assert state.error == "" and state.info["status"] == "in_progress"

    # Closing needs one of the resolution codes.
    run(state.change_status({"status": "closed", "reason": "because", "notify": "1"}))
    assert "resolution" in state.error and state.info["status"] == "in_progress"
    state.choose_status("closed")
    assert "{{ report.reason }}" in state.templates["closed"]
    run(state.change_status({"status": "closed", "reason": "Cleared", "message": "", "notify": "1"}))
    assert state.error == "" and state.info["status"] == "closed" and state.info["close_reason"] == "Cleared"

    (rep,) = all_rows(Report)
    assert rep.status == ReportStatus.CLOSED and rep.close_reason == "Cleared"
    (demand,) = all_rows(Demand)
    assert demand.need_met_at is not None  # end-to-end time for the casework measures
    emails = [m for m in all_rows(EmailMessage) if m.to_address == "ann@example.org"]
    closing = [m for m in emails if "Closed" in m.subject]
    assert closing and f"Dear Ann Resident, {ref} is closed: Cleared." in closing[0].body_text
    kinds = [t["kind"] for t in state.timeline]
    assert "Internal note" in kinds
    note = [t for t in state.timeline if t["kind"] == "Internal note"][0]
    assert note["seen"] == "Staff only"
    # The note never reaches the public side.
    assert "Crew booked" not in " ".join(m.body_text for m in emails)
    actions = {a.action for a in all_rows(AuditEntry) if a.entity == "env_report"}
    assert {"assigned", "internal_note", "status_changed"} <= actions


def actor_for_admin(org):
    from conftest import create_user
    return actor_for(create_user(org, "env.admin", roles=("Administrator",)))


def test_merging_a_duplicate_moves_followers_and_counts_a_repeat(monkeypatch, org, env, worker):
    keep = submit(org.id, env.categories["Fly-tipping"], env.uprns[0], email="ann@example.org")
    dup = submit(org.id, env.categories["Fly-tipping"], env.uprns[0], email="bob@example.org")
    state = _report(monkeypatch, worker, dup)
    run(state.merge({"into": keep.lower()}))
    assert state.error == "" and state.info["status"] == "closed"
    assert state.info["close_reason"] == f"Duplicate of {keep}"
    rows = {r.reference: r for r in all_rows(Report)}
    assert rows[keep].repeat_count == 1 and rows[keep].status != ReportStatus.CLOSED
    followers = {f.email for f in all_rows(ReportFollower) if f.report_id == rows[keep].id}
    assert followers == {"ann@example.org", "bob@example.org"}
    failure = [d for d in all_rows(Demand) if d.case_id == rows[keep].case_id and d.demand_class == "failure"]
    assert len(failure) == 1
    # Merging into itself, a closed one, or an unknown reference is refused.
    state2 = _report(monkeypatch, worker, keep)
    run(state2.merge({"into": keep}))
    assert "itself" in state2.error
    run(state2.merge({"into": dup}))
    assert "no longer open" in state2.error
    run(state2.merge({"into": "ENV-999999"}))
    assert "No report" in state2.error


def test_staff_of_another_organisation_reach_nothing(monkeypatch, org, env, other_org, other_actor):
    ref = submit(org.id, env.categories["Fly-tipping"], env.uprns[0], email="ann@example.org")
    make_env(other_org.id, categories=("Potholes",), uprn_base=200090000000)
    hartlepool_report = all_rows(Report)[0]
    queue_state = _queue(monkeypatch, other_actor)
    assert queue_state.rows == [] and queue_state.total == 0
    assert [c["label"] for c in queue_state.categories] == ["Potholes"]
    # Another organisation's category id in the filter matches nothing.
    run(queue_state.apply({"category_id": str(env.categories["Fly-tipping"])}))
    assert queue_state.rows == []
    # Ticking another organisation's report id by hand and assigning it is refused and changes nothing.
    queue_state.toggle(str(hartlepool_report.id), True)
    run(queue_state.bulk_assign({"bulk_team_id": "", "bulk_officer_id": str(other_actor.user_id)}))
    assert queue_state.error and all_rows(Report)[0].officer_id is None
    state = _report(monkeypatch, other_actor, ref)
    assert not state.found and state.info == {}
    run(state.note({"note": "sneaky"}))
    run(state.change_status({"status": "closed", "reason": "Cleared"}))
    assert all_rows(Report)[0].status == ReportStatus.RECEIVED
    assert [u for u in all_rows(ReportUpdate) if u.body == "sneaky"] == []
    with pytest.raises(AtlasError):
        staff.merge(other_actor, hartlepool_report.id, ref)


def test_a_read_only_user_sees_the_queue_but_changes_nothing(monkeypatch, org, env, make_user):
    reader = actor_for(make_user("reader", roles=("Read-only",)))
    ref = submit(org.id, env.categories["Fly-tipping"], env.uprns[0])
    state = _queue(monkeypatch, reader)
    assert [r["ref"] for r in state.rows] == [ref] and not state.can_manage
    state.toggle(state.rows[0]["id"], True)
    with pytest.raises(PermissionDenied):
        run(state.bulk_assign({"bulk_team_id": str(env.teams["Waste"])}))
    rstate = _report(monkeypatch, reader, ref)
    assert rstate.found and not rstate.can_manage
    with pytest.raises(PermissionDenied):
        run(rstate.claim())


def test_the_categories_screen_saves_the_public_text_promise_and_responses(monkeypatch, org, env):
    admin = actor_for_admin(org)
    signed_in(monkeypatch, admin, categories_page)
    state = substate(categories_page.CategoriesState)
    run(state.load())
    graffiti = next(r for r in state.rows if r.demand_type == "Graffiti")
    run(state.save({"demand_type_id": graffiti.demand_type_id, "is_public": "", "public_name": "Graffiti tags",
                    "public_description": "Paint on walls", "promise_days": "10", "sort_order": "3"}))
    assert state.error == "" and state.notice == "Category saved."
    row = [c for c in all_rows(ReportCategory) if c.id == int(graffiti.id)][0]
    assert (row.is_public, row.public_name, row.promise_days) == (False, "Graffiti tags", 10)
    run(state.save_response({"category_id": graffiti.id, "status": "fixed",
                             "body": "Fixed: {{ report.reference }}"}))
    assert state.error == "" and [r.body for r in all_rows(ReportResponse)] == ["Fixed: {{ report.reference }}"]
    run(state.save_response({"category_id": graffiti.id, "status": "fixed", "body": "{{ secret.__class__ }}"}))
    assert state.error  # only the listed merge fields
    run(state.save({"demand_type_id": graffiti.demand_type_id, "promise_days": "9999"}))
    assert "365" in state.error


def test_the_dashboard_counts_open_reports_by_age_and_repeats(monkeypatch, org, env, worker):
    a = submit(org.id, env.categories["Fly-tipping"], env.uprns[0])
    submit(org.id, env.categories["Fly-tipping"], env.uprns[3])
    set_columns(Report, Report.reference == a, created_at=utcnow() - timedelta(days=10))
    b = submit(org.id, env.categories["Graffiti"], env.uprns[1])
    reports.change_status(worker, b, ReportStatus.FIXED)
    d = q.dashboard(worker)
    fly = [x for x in d.open_by_age if x.category == "Fly-tipping"][0]
    assert fly.total == 2 and fly.bands[0] == 1 and fly.bands[3] == 1
    assert not [x for x in d.open_by_age if x.category == "Graffiti"]
    manager = actor_for_admin(org)
    signed_in(monkeypatch, manager, dashboard_page)
    state = substate(dashboard_page.EnvDashboardState)
    run(state.load())
    run(state.choose(str(env.categories["Graffiti"])))
    assert state.error == "" and state.category_id == str(env.categories["Graffiti"]) and state.points == 1
    assert {r["category"] for r in state.repeats} == {"Fly-tipping", "Graffiti", "Missed bin"}


def test_the_count_stops_at_the_cap(monkeypatch, org, env, worker):
    for u in env.uprns[:3]:
        submit(org.id, env.categories["Fly-tipping"], u)
    monkeypatch.setattr(q, "COUNT_CAP", 2)
    page = q.queue(worker, q.QueueFilter(), page_size=1)
    assert (page.total, page.more, page.pages, len(page.rows)) == (2, True, 2, 1)
    state = _queue(monkeypatch, worker)
    assert state.count_text == "More than 2 open reports match"
    monkeypatch.setattr(q, "COUNT_CAP", 10)
    run(state.apply({}))
    assert state.count_text == "3 open reports match"
