"""The dashboard page's state driven directly, as any browser could: loading, filters, clicks on chart points
(including forged ones) and change points."""

from __future__ import annotations

import pytest
from conftest import actor_for
from state_support import drain, redirect_path, signed_in, substate
from test_dashboards import World, at

from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.staff.insight import dashboards as page
from atlas_app.ui.staff.insight.dashboards import DashboardState


@pytest.fixture
def manager(org, make_user):
    return actor_for(make_user("mark.lowe", roles=("Manager",)))


@pytest.fixture
def loaded(monkeypatch, org, manager):
    page._shared.clear()  # results shared between viewers; ids start again in every test's database
    world = World(org.id)
    a = world.case("Repairs A")
    b = world.case("Repairs B")
    world.demand(a, world.request, "value", at(0), at(3))
    world.demand(b, world.chasing, "failure", at(1), at(6))
    world.demand(a, world.request, "value", at(2), at(8))
    signed_in(monkeypatch, manager, page)
    state = substate(DashboardState)
    state.start, state.end = "2026-01-05", "2026-01-25"
    events = drain(state.load())
    return state, world, (a, b), events


def test_load_fills_the_figures_and_starts_the_live_refresh(loaded):
    state, _world, _cases, events = loaded
    assert state.loaded and state.live and state.error == ""
    assert state.kpis["cap_points"] == "3"
    assert state.kpis["demands"] == "3"
    assert state.kpis["failure"] == "33.3%"
    assert len(state.capability_fig.data[0].y) == 3
    assert events and "poll" in str(events[0])
    assert state._marker != ""


def test_a_click_on_a_control_chart_point_opens_its_case(loaded):
    state, _world, (a, b), _ = loaded
    # points in completion order: a (day 3), b (day 6), a (day 8)
    assert redirect_path(drain(state.open_point("capability", [{"curveNumber": 0, "pointIndex": 1}]))) == \
        f"/casework/case/{b}"
    assert redirect_path(drain(state.open_point("capability", [{"curveNumber": 0, "pointNumber": 2}]))) == \
        f"/casework/case/{a}"


@pytest.mark.parametrize("chart, points", [
    ("capability", [{"curveNumber": 0, "pointIndex": 99}]),
    ("capability", [{"curveNumber": 7, "pointIndex": 0}]),
    ("capability", [{"curveNumber": "x", "pointIndex": 0}]),
    ("capability", [{"curveNumber": 0, "pointIndex": -1}]),
    ("capability", "not a list"),
    ("capability", [["nested"]]),
    ("capability", []),
    ("salaries", [{"curveNumber": 0, "pointIndex": 0}]),
])
def test_forged_clicks_do_nothing(loaded, chart, points):
    state = loaded[0]
    assert drain(state.open_point(chart, points)) == []
    assert state.behind == []


def test_a_click_on_a_bar_lists_the_cases_behind_it(loaded):
    state, _world, (_a, b), _ = loaded
    # value/failure chart: curve 1 is failure demand, one period (the week of 5 January)
    drain(state.open_point("value_failure", [{"curveNumber": 1, "pointIndex": 0, "x": "2026-01-05"}]))
    assert state.behind_title.startswith("Cases with failure demand")
    assert [r["id"] for r in state.behind] == [str(b)]
    # curve 2 is the failure-% line drawn over the bars: its point lists the same cases
    state.behind = []
    drain(state.open_point("value_failure", [{"curveNumber": 2, "pointIndex": 0, "x": "2026-01-05"}]))
    assert state.behind_title.startswith("Cases with failure demand")
    assert [r["id"] for r in state.behind] == [str(b)]


def test_without_the_permission_nothing_loads(monkeypatch, org, make_user):
    World(org.id)
    signed_in(monkeypatch, actor_for(make_user("kate", roles=("Case worker",))), page)
    state = substate(DashboardState)
    with pytest.raises(PermissionDenied):
        drain(state.load())
    assert not state.loaded and state.kpis == {}
    with pytest.raises(PermissionDenied):
        drain(state.open_point("capability", [{"curveNumber": 0, "pointIndex": 0}]))


def test_filters_are_checked_and_applied(loaded):
    state = loaded[0]
    drain(state.apply_filters({"start": "2026-02-01", "end": "2026-01-01"}))
    assert "end date" in state.error
    assert state.start == "2026-01-05"
    drain(state.apply_filters({"start": "2026-01-05", "end": "2026-01-25", "grain": "day", "target": "4"}))
    assert state.error == "" and state.grain == "day"
    assert any(t.name == "Target" for t in state.capability_fig.data)
    drain(state.apply_filters({"start": "2026-01-05", "end": "2026-01-25", "target": "lots"}))
    assert "target" in state.error


def test_a_change_point_recalculates_the_limits(loaded):
    state = loaded[0]
    drain(state.add_change_point({"changed_at": "2026-01-10", "note": "New process"}))
    assert state.notice and [c["note"] for c in state.change_points] == ["New process"]
    drain(state.remove_change_point(state.change_points[0]["id"]))
    assert state.change_points == []
    drain(state.remove_change_point("999999"))
    assert "No such change point" in state.error


def test_only_the_figures_whose_data_changed_are_rebuilt(loaded, manager):
    state, world, (a, _b), _ = loaded
    f = page.dashboards.parse_filters(state._filter_data())
    first = page.compute(manager, f, None)
    assert set(first["figures"]) == {"capability", "mr", "volume", "value_failure", "one_stop", "conditions_count",
                                     "conditions_minutes", "channel", "fill", "income"}
    assert page.compute(manager, f, None, first["sigs"])["figures"] == {}
    # a demand's need met moves the capability chart only
    world.demand(a, world.request, "value", at(3), at(9))
    again = page.compute(manager, f, None, first["sigs"])
    assert set(again["figures"]) == {"capability", "mr", "volume", "value_failure", "one_stop"}
    assert again["kpis"]["cap_points"] == "4"


def test_viewers_of_one_organisation_share_one_computation_per_change(loaded, manager, make_user, monkeypatch,
                                                                     other_org):
    state, world, (a, _b), _ = loaded
    f = page.dashboards.parse_filters(state._filter_data())
    second_viewer = actor_for(make_user("nia.hale", roles=("Manager",)))
    calls = []
    real = page.dashboards.capability
    monkeypatch.setattr(page.dashboards, "capability", lambda *args, **kw: calls.append(args[0]) or real(*args, **kw))
    page._shared.clear()
    marker = page.dashboards.change_marker(manager)
    one = page.compute(manager, f, None, None, marker)
    two = page.compute(second_viewer, f, None, None, marker)
    assert len(calls) == 1 and one["kpis"] == two["kpis"] and set(two["figures"]) == set(one["figures"])
    # A viewer who has seen this result gets no figure again; another filter is computed on its own.
    assert page.compute(second_viewer, f, None, one["sigs"], marker)["figures"] == {}
    page.compute(manager, page.dashboards.parse_filters({**state._filter_data(), "grain": "day"}), None, None, marker)
    assert len(calls) == 2
    # A change moves the marker (the organisation's latest audit entry; this world writes rows directly, so a
    # marker of a later entry stands for it): computed afresh, once.
    world.demand(a, world.request, "value", at(3), at(9))
    moved = marker + "+1"
    again = page.compute(second_viewer, f, None, one["sigs"], moved)
    assert len(calls) == 3 and again["kpis"]["cap_points"] == "4" and "capability" in again["figures"]
    # Another organisation's manager never gets this organisation's figures, whatever the marker.
    outsider = actor_for(make_user("ola.west", roles=("Manager",), org_info=other_org))
    theirs = page.compute(outsider, f, None, None, moved)
    assert len(calls) == 4 and theirs["kpis"]["cap_points"] == "0"
    # Without the dashboard permission nothing is shared either.
    with pytest.raises(PermissionDenied):
        page.compute(actor_for(make_user("cal.worker", roles=("Case worker",))), f, None, None, moved)
