"""XmR (individuals and moving range) control charts: process limits and the special-cause signals.

Pure arithmetic over a short list of values already in time order (each demand's end-to-end days in order of
completion); no database, no framework.

For the values x1..xn of one segment:

* mean = sum(x) / n; moving ranges mR_i = |x_i - x_(i-1)| (i = 2..n); mR-bar = their mean;
* upper process limit UPL = mean + 2.66 × mR-bar; lower LPL = mean - 2.66 × mR-bar, not below zero (a time
  cannot be negative);
* moving-range chart: upper range limit URL = 3.267 × mR-bar;
* "near a limit": beyond mean ± (2/3) × 2.66 × mR-bar.

Limits can be recalculated from chosen points (when the system was changed): each segment between two change
points gets its own mean, mR-bar and limits, and its moving ranges start afresh.

Signals (each point gets the names of the rules it takes part in):

* ``outside``: a point above the UPL or below the LPL;
* ``shift``: a run of 7 or more consecutive points on the same side of the mean (a point on the mean breaks it);
* ``trend``: 7 or more consecutive points each higher than the one before, or each lower (ties break it);
* ``two_of_three``: two of three consecutive points beyond the "near a limit" line on the same side (the points
  beyond the line are marked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

LIMIT_FACTOR = 2.66
RANGE_FACTOR = 3.267
CLOSE_FACTOR = LIMIT_FACTOR * 2 / 3
RUN_LENGTH = 7

RULE_LABELS = {
    "outside": "Outside the process limits",
    "shift": "Run of 7 on one side of the mean",
    "trend": "7 rising or falling",
    "two_of_three": "2 of 3 near a limit",
}


@dataclass
class Segment:
    start: int  # index of the first point
    end: int  # index after the last point
    mean: float
    mr_bar: float
    upl: float
    lpl: float
    url: float


@dataclass
class XmR:
    values: list[float]
    segments: list[Segment]
    # Per point: the limits of its segment (for drawing stepped lines) and its moving range (None at the start of
    # a segment).
    mean: list[float] = field(default_factory=list)
    upl: list[float] = field(default_factory=list)
    lpl: list[float] = field(default_factory=list)
    url: list[float] = field(default_factory=list)
    moving_ranges: list[float | None] = field(default_factory=list)
    signals: list[set[str]] = field(default_factory=list)
    range_signals: list[bool] = field(default_factory=list)

    @property
    def special_points(self) -> list[int]:
        return [i for i, s in enumerate(self.signals) if s]


def limits(values: Sequence[float]) -> Segment:
    """Mean, mR-bar and limits of one segment."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = sum(values) / n
    ranges = [abs(values[i] - values[i - 1]) for i in range(1, n)]
    mr_bar = sum(ranges) / len(ranges) if ranges else 0.0
    return Segment(0, n, mean, mr_bar, mean + LIMIT_FACTOR * mr_bar, max(0.0, mean - LIMIT_FACTOR * mr_bar),
                   RANGE_FACTOR * mr_bar)


def _mark_runs(flags: list[set[str]], start: int, end: int, keys: list[int], rule: str) -> None:
    """Mark every point of each run of RUN_LENGTH or more equal non-zero keys in [start, end)."""
    i = start
    while i < end:
        if keys[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < end and keys[j + 1] == keys[i]:
            j += 1
        if j - i + 1 >= RUN_LENGTH:
            for k in range(i, j + 1):
                flags[k].add(rule)
        i = j + 1


def xmr(values: Sequence[float], change_points: Sequence[int] = ()) -> XmR:
    """The XmR chart of ``values``, with limits recalculated from each index in ``change_points``."""
    xs = [float(v) for v in values]
    n = len(xs)
    cuts = sorted({c for c in change_points if 0 < c < n})
    bounds = [0, *cuts, n] if n else [0]
    out = XmR(values=xs, segments=[], signals=[set() for _ in xs], range_signals=[False] * n)
    for a, b in zip(bounds, bounds[1:]):
        seg = limits(xs[a:b])
        seg.start, seg.end = a, b
        out.segments.append(seg)
        out.mean += [seg.mean] * (b - a)
        out.upl += [seg.upl] * (b - a)
        out.lpl += [seg.lpl] * (b - a)
        out.url += [seg.url] * (b - a)
        out.moving_ranges.append(None)
        for i in range(a + 1, b):
            mr = abs(xs[i] - xs[i - 1])
            out.moving_ranges.append(mr)
            out.range_signals[i] = mr > seg.url
        # outside the limits
        for i in range(a, b):
            if xs[i] > seg.upl or xs[i] < seg.lpl:
                out.signals[i].add("outside")
        # shift: side of the mean
        side = [0] * n
        for i in range(a, b):
            side[i] = (xs[i] > seg.mean) - (xs[i] < seg.mean)
        _mark_runs(out.signals, a, b, side, "shift")
        # trend: direction of each step; a run of 6 steps the same way is 7 points
        step = [0] * n
        for i in range(a + 1, b):
            step[i] = (xs[i] > xs[i - 1]) - (xs[i] < xs[i - 1])
        i = a + 1
        while i < b:
            if step[i] == 0:
                i += 1
                continue
            j = i
            while j + 1 < b and step[j + 1] == step[i]:
                j += 1
            if j - i + 1 >= RUN_LENGTH - 1:
                for k in range(i - 1, j + 1):
                    out.signals[k].add("trend")
            i = j + 1
        # two of three beyond the 2/3 line on the same side
        high = seg.mean + CLOSE_FACTOR * seg.mr_bar
        low = seg.mean - CLOSE_FACTOR * seg.mr_bar
        zone = [0] * n
        for i in range(a, b):
            zone[i] = 1 if xs[i] > high else (-1 if xs[i] < low else 0)
        for i in range(a, b - 2):
            for s in (1, -1):
                hits = [k for k in range(i, i + 3) if zone[k] == s]
                if len(hits) >= 2:
                    for k in hits:
                        out.signals[k].add("two_of_three")
    return out


def change_indices(times: Sequence, change_times: Sequence) -> list[int]:
    """The index of the first point completed at or after each change time (points are in time order)."""
    out = []
    for t in change_times:
        idx = next((i for i, x in enumerate(times) if x >= t), None)
        if idx is not None:
            out.append(idx)
    return out
