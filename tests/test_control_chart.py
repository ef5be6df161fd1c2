"""XmR limits and the special-cause rules against worked examples whose answers are worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atlas_app.services.insight.control_chart import change_indices, limits, xmr


def flagged(chart, rule: str) -> list[int]:
    return [i for i, s in enumerate(chart.signals) if rule in s]


def test_limits_of_a_small_series():
    # x = 5 7 6 8 4: mean = 30 / 5 = 6; moving ranges 2 1 2 4, mR-bar = 9 / 4 = 2.25
    # UPL = 6 + 2.66 × 2.25 = 11.985; LPL = 6 - 5.985 = 0.015; URL = 3.267 × 2.25 = 7.35075
    seg = limits([5, 7, 6, 8, 4])
    assert seg.mean == pytest.approx(6)
    assert seg.mr_bar == pytest.approx(2.25)
    assert seg.upl == pytest.approx(11.985)
    assert seg.lpl == pytest.approx(0.015)
    assert seg.url == pytest.approx(7.35075)
    chart = xmr([5, 7, 6, 8, 4])
    assert chart.moving_ranges == [None, 2, 1, 2, 4]
    assert chart.special_points == []


def test_lower_limit_is_never_below_zero():
    # x = 1 10 1: mean 4, mR-bar (9 + 9) / 2 = 9, 4 - 2.66 × 9 = -19.94 → 0; UPL = 4 + 23.94 = 27.94
    seg = limits([1, 10, 1])
    assert seg.lpl == 0
    assert seg.upl == pytest.approx(27.94)


def test_a_single_value_has_limits_at_its_mean():
    seg = limits([3])
    assert (seg.mean, seg.mr_bar, seg.upl, seg.lpl) == (3, 0, 3, 3)
    with pytest.raises(ValueError):
        limits([])


def test_point_outside_the_limits():
    # x = 5 9 5 9 ... (12 values) then 30: mean = (6×5 + 6×9 + 30) / 13 = 114 / 13 = 8.769
    # moving ranges: eleven of 4 and |30 - 9| = 21 → mR-bar = 65 / 12 = 5.417
    # UPL = 8.769 + 2.66 × 5.417 = 23.18 → 30 is outside; the 2/3 line 8.769 + 1.773 × 5.417 = 18.37 only 30 passes;
    # 5 and 9 alternate about the mean, so no run.
    x = [5, 9] * 6 + [30]
    chart = xmr(x)
    assert chart.segments[0].mean == pytest.approx(114 / 13)
    assert chart.segments[0].mr_bar == pytest.approx(65 / 12)
    assert chart.segments[0].upl == pytest.approx(114 / 13 + 2.66 * 65 / 12)
    assert [(i, sorted(s)) for i, s in enumerate(chart.signals) if s] == [(12, ["outside"])]


def test_run_of_seven_on_one_side_of_the_mean():
    # x = 5 6 5 6 5 6 5 3 2 3 2: mean = 48 / 11 = 4.364; the first seven are above it → shift on 0..6
    chart = xmr([5, 6, 5, 6, 5, 6, 5, 3, 2, 3, 2])
    assert chart.segments[0].mean == pytest.approx(48 / 11)
    assert flagged(chart, "shift") == [0, 1, 2, 3, 4, 5, 6]
    # with the seventh value 4 (below the mean 47 / 11 = 4.27) the run above is only six long: no shift
    assert flagged(xmr([5, 6, 5, 6, 5, 6, 4, 3, 2, 3, 2]), "shift") == []


def test_a_point_on_the_mean_breaks_a_run():
    # x = 2 ×10: every point sits on the mean, on neither side of it
    assert flagged(xmr([2] * 10), "shift") == []


def test_seven_rising_or_falling():
    # 1..7 rise six times: all seven points are a trend
    assert flagged(xmr([1, 2, 3, 4, 5, 6, 7]), "trend") == [0, 1, 2, 3, 4, 5, 6]
    assert flagged(xmr([9, 8, 7, 6, 5, 4, 3, 8]), "trend") == [0, 1, 2, 3, 4, 5, 6]
    # six rising then a fall: no trend
    assert flagged(xmr([1, 2, 3, 4, 5, 6, 3]), "trend") == []
    # a tie breaks the trend: 1 2 3 | 3 4 5 6 7 are runs of 3 and 5 points
    assert flagged(xmr([1, 2, 3, 3, 4, 5, 6, 7]), "trend") == []


def test_two_of_three_near_a_limit():
    # x = 5 ×6 then 9 5 9 5 5 5: mean = 68 / 12 = 5.667; moving ranges 0 ×5, 4 4 4 4, 0 0 → mR-bar 16 / 11 = 1.455
    # 2/3 line = 5.667 + (2/3) × 2.66 × 1.455 = 8.246; UPL = 9.536, so 9 is near but not outside.
    # Points 6 and 8 are two of the three 6, 7, 8 → flagged; the six 5s below the mean are not a run of seven.
    x = [5] * 6 + [9, 5, 9, 5, 5, 5]
    chart = xmr(x)
    assert chart.segments[0].mr_bar == pytest.approx(16 / 11)
    assert chart.segments[0].upl == pytest.approx(68 / 12 + 2.66 * 16 / 11)
    assert [(i, sorted(s)) for i, s in enumerate(chart.signals) if s] == [(6, ["two_of_three"]), (8, ["two_of_three"])]
    # the 9s three apart are never two in one window of three
    assert xmr([5] * 6 + [9, 5, 5, 9, 5, 5]).special_points == []


def test_moving_range_above_its_upper_limit():
    # x = 5 5 5 5 20 20 20 20: moving ranges 0 0 0 15 0 0 0 → mR-bar 15 / 7; URL = 3.267 × 15 / 7 = 7.0; 15 > 7
    chart = xmr([5, 5, 5, 5, 20, 20, 20, 20])
    assert chart.url[0] == pytest.approx(3.267 * 15 / 7)
    assert [i for i, s in enumerate(chart.range_signals) if s] == [4]


def test_limits_recalculated_from_a_change_point():
    # Before: 5 7 6 8 4 (mean 6, mR-bar 2.25); after: 15 17 16 18 14 (mean 16, mR-bar 2.25, UPL 21.985).
    x = [5, 7, 6, 8, 4, 15, 17, 16, 18, 14]
    whole = xmr(x)
    assert len(whole.segments) == 1 and whole.segments[0].mean == pytest.approx(11)
    split = xmr(x, change_points=[5])
    assert [(s.start, s.end) for s in split.segments] == [(0, 5), (5, 10)]
    assert split.segments[1].mean == pytest.approx(16)
    assert split.segments[1].mr_bar == pytest.approx(2.25)
    assert split.upl[5:] == [pytest.approx(21.985)] * 5
    assert split.upl[:5] == [pytest.approx(11.985)] * 5
    # the moving range does not cross the change
    assert split.moving_ranges[5] is None
    assert split.special_points == []
    # ignored change points: out of range or at the start
    assert len(xmr(x, change_points=[0, 10, 99]).segments) == 1


def test_change_indices_find_the_first_point_at_or_after_each_change():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(days=d) for d in (0, 2, 4, 6)]
    assert change_indices(times, [t0 + timedelta(days=3), t0 + timedelta(days=4), t0 + timedelta(days=9)]) == [2, 2]
