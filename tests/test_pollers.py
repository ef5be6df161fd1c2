"""The cap on live pollers per staff session, from an attacker's side: a script opening many dashboard tabs, at once
and from several workers, gets at most ``MAX_PER_SESSION`` pollers; a closed tab gives its slot back; a poller that
died with its worker stops counting once unseen; one session's tabs never take another's slots."""

from __future__ import annotations

from datetime import timedelta

from atlas_app.db import utcnow
from atlas_app.models import LivePoller
from atlas_app.services.platform import pollers
from conftest import all_rows, run_threads


def test_a_session_gets_at_most_the_cap_then_a_released_slot_is_free_again():
    holders = [pollers.claim("tok-a") for _ in range(pollers.MAX_PER_SESSION)]
    assert all(holders) and len(set(holders)) == pollers.MAX_PER_SESSION
    assert pollers.claim("tok-a") is None
    assert pollers.live_count("tok-a") == pollers.MAX_PER_SESSION
    pollers.release(holders[2])
    assert pollers.claim("tok-a") is not None
    assert pollers.claim("tok-a") is None


def test_sessions_do_not_share_slots_and_the_token_is_not_stored():
    for _ in range(pollers.MAX_PER_SESSION):
        assert pollers.claim("tok-a")
    assert pollers.claim("tok-b") is not None
    assert pollers.claim("") is None  # no session, no poller
    assert all("tok-" not in row.session_key for row in all_rows(LivePoller))


def test_many_tabs_opening_at_once_get_only_the_cap():
    results = run_threads(30, lambda i: pollers.claim("tok-script"))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len([r for r in results if r]) == pollers.MAX_PER_SESSION
    assert len(all_rows(LivePoller)) == pollers.MAX_PER_SESSION


def test_a_poller_unseen_too_long_is_reclaimed_and_a_touched_one_is_not():
    now = utcnow()
    old = [pollers.claim("tok-a", now=now - pollers.STALE - timedelta(seconds=5))
           for _ in range(pollers.MAX_PER_SESSION)]
    assert pollers.touch(old[0], now=now)  # this one is still alive
    fresh = [pollers.claim("tok-a", now=now) for _ in range(pollers.MAX_PER_SESSION)]
    assert len([h for h in fresh if h]) == pollers.MAX_PER_SESSION - 1
    assert not pollers.touch(old[1], now=now)  # its slot went to a new poller
    assert pollers.touch(old[0], now=now)


def _dashboard_tab(token: str):
    from reflex.istate.data import HeaderData, ReflexURL, RouterData

    from atlas_app.ui.staff.insight.dashboards import ROUTE, DashboardState
    from state_support import substate

    state = substate(DashboardState)
    state.router = RouterData(headers=HeaderData(cookie=f"atlas_session={token}"),
                              url=ReflexURL("http://atlas.test" + ROUTE))
    state.live = True
    return state


def test_a_dashboard_tab_beyond_the_cap_pauses_and_a_closed_one_gives_its_slot_back(monkeypatch):
    import asyncio

    from atlas_app.ui.staff.insight import dashboards as page
    from atlas_app.ui.staff.insight.dashboards import DashboardState

    monkeypatch.setattr(page, "POLL_SECONDS", 0.01)
    taken = [pollers.claim("tok-tabs") for _ in range(pollers.MAX_PER_SESSION)]
    extra = _dashboard_tab("tok-tabs")
    asyncio.run(DashboardState.poll.fn(extra))
    assert not extra.live and extra.notice == pollers.TOO_MANY
    assert pollers.live_count("tok-tabs") == pollers.MAX_PER_SESSION

    pollers.release(taken[0])
    tab = _dashboard_tab("tok-tabs")
    asyncio.run(DashboardState.poll.fn(tab))  # the tab is not connected here, so its poller ends at the first tick
    assert pollers.live_count("tok-tabs") == pollers.MAX_PER_SESSION - 1  # and gave its slot back
