"""Jobs run once a London night by one worker: the window follows the clocks, a race of workers claims the night
once (both databases), the retention purge and the optional nightly reset of the demo organisation both go through
it, and the nightly reset is off until the platform administrator switches it on (audited)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest
from conftest import actor_for, all_rows, create_org, create_user, run_threads

from atlas_app.models import AuditEntry
from atlas_app.models.platform import PlatformSetting, ScheduledRun
from atlas_app.services.platform import nightly, retention
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed
from atlas_app.services.user_group import demo_org


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def fresh_worker():
    """Each test starts as a worker that has claimed nothing yet."""
    nightly._known.clear()
    yield
    nightly._known.clear()


@pytest.fixture
def platform_actor():
    org = create_org("atlas", "Atlas Service Provider")
    return actor_for(create_user(org, "platform.admin", roles=("Administrator",), is_platform_admin=True))


def test_the_window_is_the_hour_from_the_set_london_time_in_winter_and_in_summer():
    at = time(3, 0)
    assert nightly.due(at, utc(2026, 1, 15, 2, 59)) is None
    assert nightly.due(at, utc(2026, 1, 15, 3, 0)) == date(2026, 1, 15)      # GMT: 03:00 London is 03:00 UTC
    assert nightly.due(at, utc(2026, 1, 15, 3, 59)) == date(2026, 1, 15)
    assert nightly.due(at, utc(2026, 1, 15, 4, 0)) is None
    assert nightly.due(at, utc(2026, 7, 15, 2, 0)) == date(2026, 7, 15)      # BST: 03:00 London is 02:00 UTC
    assert nightly.due(at, utc(2026, 7, 15, 3, 0)) is None
    # 23:30 London in summer is 22:30 UTC; the London date is the one that counts.
    assert nightly.due(time(23, 30), utc(2026, 7, 15, 22, 45)) == date(2026, 7, 15)


def test_a_race_of_workers_claims_a_night_once():
    results = run_threads(12, lambda _i: nightly.claim("race", date(2026, 3, 1)))
    assert sorted(results) == [False] * 11 + [True]
    assert [(r.job, r.run_date) for r in all_rows(ScheduledRun)] == [("race", date(2026, 3, 1))]
    assert nightly.claim("race", date(2026, 3, 2)) and nightly.claim("other", date(2026, 3, 1))


def test_the_work_runs_in_one_worker_and_its_outcome_is_kept():
    ran = []
    now = utc(2026, 1, 15, 3, 10)
    assert nightly.run_daily("job", time(3, 0), lambda: ran.append(1) or "all done", now=now)
    nightly._known.clear()  # another worker, which has not seen the claim
    assert not nightly.run_daily("job", time(3, 0), lambda: ran.append(2), now=now)
    assert ran == [1]
    (row,) = all_rows(ScheduledRun)
    assert row.outcome == "all done" and row.finished_at is not None
    # The next night it runs again; outside the window it does not.
    assert not nightly.run_daily("job", time(3, 0), lambda: ran.append(3), now=utc(2026, 1, 16, 12, 0))
    assert nightly.run_daily("job", time(3, 0), lambda: ran.append(4), now=utc(2026, 1, 16, 3, 5))
    assert ran == [1, 4]


def test_a_failed_run_keeps_its_claim_and_says_why():
    def broken():
        raise RuntimeError("disk full")

    now = utc(2026, 1, 15, 3, 10)
    with pytest.raises(RuntimeError):
        nightly.run_daily("job", time(3, 0), broken, now=now)
    nightly._known.clear()
    assert not nightly.run_daily("job", time(3, 0), lambda: None, now=now)
    (row,) = all_rows(ScheduledRun)
    assert row.outcome == "failed: RuntimeError: disk full"


def test_the_retention_purge_is_claimed_per_night(monkeypatch):
    calls = []
    monkeypatch.setattr(retention, "purge_all", lambda: calls.append(1) or [])
    monkeypatch.setattr(nightly, "utcnow", lambda: utc(2026, 1, 15, 2, 5))
    results = run_threads(6, lambda _i: (nightly._known.clear(), retention.nightly_purge())[1])
    assert sum(results) == 1 and calls == [1]
    assert [r.job for r in all_rows(ScheduledRun)] == ["retention_purge"]


def test_the_nightly_demo_reset_is_off_by_default_and_only_the_platform_administrator_sets_it(actor,
                                                                                               platform_actor,
                                                                                               monkeypatch):
    resets = []
    monkeypatch.setattr(demo_org, "reset", lambda a: resets.append(a) or demo_org.ResetReport(10, 4, 0.5))
    setting = demo_org.nightly_setting()
    assert (setting.on, setting.at_text) == (False, "03:00")
    assert not demo_org.nightly_reset(now=utc(2026, 1, 15, 3, 5)) and resets == [] and all_rows(ScheduledRun) == []

    with pytest.raises(PermissionDenied):
        demo_org.set_nightly(actor, True, "01:30")  # an organisation's administrator is not the service provider
    with pytest.raises(ValidationFailed):
        demo_org.set_nightly(platform_actor, True, "25:00")
    with pytest.raises(ValidationFailed):
        demo_org.set_nightly(platform_actor, True, "1:3")
    assert all_rows(PlatformSetting) == []

    assert demo_org.set_nightly(platform_actor, True, "01:30").at_text == "01:30"
    assert {r.key: r.value for r in all_rows(PlatformSetting)} == {"demo_reset_nightly": "on",
                                                                   "demo_reset_at": "01:30"}
    (entry,) = all_rows(AuditEntry, AuditEntry.entity == "platform_setting")
    assert entry.after == {"demo_reset_nightly": "on", "demo_reset_at": "01:30"}
    assert entry.before == {"demo_reset_nightly": "off", "demo_reset_at": "03:00"}

    assert not demo_org.nightly_reset(now=utc(2026, 1, 15, 3, 5))   # not its time now
    assert demo_org.nightly_reset(now=utc(2026, 1, 15, 1, 40))
    nightly._known.clear()  # a second worker
    assert not demo_org.nightly_reset(now=utc(2026, 1, 15, 1, 50))
    assert len(resets) == 1 and resets[0].is_platform_admin
    (run,) = all_rows(ScheduledRun)
    assert (run.job, run.run_date, run.outcome) == ("demo_reset", date(2026, 1, 15),
                                                    "10 rows deleted and made afresh in 0.5 s")
    demo_org.set_nightly(platform_actor, False, "01:30")
    assert not demo_org.nightly_reset(now=utc(2026, 1, 16, 1, 40)) and len(resets) == 1


def test_the_nightly_reset_really_resets_the_demo_organisation(platform_actor):
    demo_org.set_nightly(platform_actor, True, "04:00")
    assert demo_org.last_reset_at() is None
    assert demo_org.nightly_reset(now=utc(2026, 2, 1, 4, 1))
    assert demo_org.last_reset_at() is not None and demo_org.organisation_id() is not None


def test_the_admin_page_saves_the_nightly_reset(monkeypatch, platform_actor, actor):
    from state_support import run, signed_in, substate

    from atlas_app.ui.staff.user_group import demo as page

    signed_in(monkeypatch, platform_actor, page)
    state = substate(page.DemoResetState)
    run(state.load())
    assert (state.nightly_on, state.nightly_at) == (False, "03:00")
    run(state.save_nightly({"nightly": "on", "at": "02:45"}))
    assert state.nightly_error == "" and "02:45" in state.nightly_notice and state.nightly_on
    run(state.save_nightly({"at": "02:45"}))  # the box unticked
    assert not demo_org.nightly_setting().on and state.nightly_notice == "The nightly reset is off."
    run(state.save_nightly({"nightly": "on", "at": "soon"}))
    assert "hours and minutes" in state.nightly_error and not demo_org.nightly_setting().on

    signed_in(monkeypatch, actor, page)
    run(state.save_nightly({"nightly": "on", "at": "02:45"}))
    assert "platform administrator" in state.nightly_error and not demo_org.nightly_setting().on
