"""Plotly figures for the dashboards, built from the services' aggregated results.

Each builder returns the figure and its click map: for each trace (Plotly's ``curveNumber``), the key behind each
point (``pointIndex``), so a click can open the cases behind it. Colour is never the only carrier of meaning:
special-cause points are drawn as a different marker shape and listed in a table with their rule in words.

Every figure travels to the browser as JSON, so each carries only what it draws: no Plotly theme (``figure()``: the
default theme alone is 6.5 KB a chart, the layout here sets every style the charts use) and limit lines as their
steps (``steps``: a point where the limit changes and the last, drawn as a stair) instead of a value per point.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from atlas_app.services.insight import control_chart
from atlas_app.services.casework.cases import case_ref
from atlas_app.services.insight.dashboards import BookingMeasures, Capability, ConditionRow, DemandMeasures, pareto

VALUE = "#2e7d32"
FAILURE = "#c2410c"
SIGNAL = "#b45309"
LINE = "#3949ab"
LIMIT = "#64748b"
HEIGHT, CAPABILITY_HEIGHT, RANGE_HEIGHT = 320, 360, 220  # px
PALETTE = ["#3949ab", "#0f766e", "#a21caf", "#c2410c", "#2e7d32", "#0369a1", "#b45309", "#475569"]


def figure() -> go.Figure:
    """An empty figure without Plotly's default theme."""
    return go.Figure(layout={"template": "none"})


def steps(xs: list[Any], ys: list[Any]) -> tuple[list[Any], list[Any]]:
    """The points of a stair line (``shape: hv``) that draw the same line as one point per x: the first, every
    change, and the last."""
    keep = [i for i in range(len(xs)) if i == 0 or i == len(xs) - 1 or ys[i] != ys[i - 1]]
    return [xs[i] for i in keep], [ys[i] for i in keep]


def _layout(fig: go.Figure, y_title: str, x_title: str = "", height: int = HEIGHT, y2: str = "") -> go.Figure:
    fig.update_layout(
        height=height, margin={"l": 56, "r": 56 if y2 else 16, "t": 16, "b": 48},
        legend={"orientation": "h", "y": -0.25}, hovermode="closest", clickmode="event",
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", font={"size": 13},
        yaxis={"title": {"text": y_title}, "rangemode": "tozero", "gridcolor": "#e2e8f0"},
        xaxis={"title": {"text": x_title}, "gridcolor": "#e2e8f0"},
    )
    if y2:
        fig.update_layout(yaxis2={"title": {"text": y2}, "overlaying": "y", "side": "right", "range": [0, 105],
                                  "showgrid": False})
    return fig


def capability_charts(cap: Capability, target: float | None = None
                      ) -> tuple[go.Figure, go.Figure, list[list[Any]], list[dict[str, str]]]:
    """The XmR chart, its moving-range chart, the click map and the special-cause rows."""
    chart = cap.chart
    n = len(cap.points)
    xs = list(range(1, n + 1))
    refs = [case_ref(p.case_id) for p in cap.points]
    met = [p.need_met_at.strftime("%d %b %Y") for p in cap.points]
    hover = [f"{refs[i]} · {cap.points[i].days:g} days · need met {met[i]}" for i in range(n)]
    fig = figure()
    fig.add_trace(go.Scatter(x=xs, y=chart.values, mode="lines+markers", name="End-to-end days",
                             line={"color": LINE, "width": 1.5}, marker={"size": 7, "color": LINE},
                             hovertext=hover, hoverinfo="text"))
    special = chart.special_points
    fig.add_trace(go.Scatter(
        x=[xs[i] for i in special], y=[chart.values[i] for i in special], mode="markers",
        name="Special cause", marker={"size": 12, "color": SIGNAL, "symbol": "diamond",
                                      "line": {"width": 1, "color": "#000"}},
        hovertext=[hover[i] + " · " + ", ".join(control_chart.RULE_LABELS[r] for r in sorted(chart.signals[i]))
                   for i in special], hoverinfo="text"))
    for name, ys, dash in (("Mean", chart.mean, "solid"), ("Upper process limit", chart.upl, "dash"),
                           ("Lower process limit", chart.lpl, "dash")):
        sx, sy = steps(xs, ys)
        fig.add_trace(go.Scatter(x=sx, y=sy, mode="lines", name=name, line={"color": LIMIT, "dash": dash,
                                                                             "shape": "hv", "width": 1.2},
                                 hoverinfo="skip"))
    if target is not None and n:
        fig.add_trace(go.Scatter(x=[1, n], y=[target, target], mode="lines", name="Target",
                                 line={"color": VALUE, "dash": "dot", "width": 1.5}, hoverinfo="skip"))
    _layout(fig, "Days, received to need met", "Demands in order of completion", height=CAPABILITY_HEIGHT)
    mr = figure()
    mr.add_trace(go.Bar(x=xs, y=[m if m is not None else 0 for m in chart.moving_ranges], name="Moving range",
                        marker={"color": ["#dc2626" if s else "#94a3b8" for s in chart.range_signals]},
                        hovertext=[f"{refs[i]} · moving range {chart.moving_ranges[i] or 0:.2f} days"
                                   + (" · above the upper range limit" if chart.range_signals[i] else "")
                                   for i in range(n)], hoverinfo="text"))
    ux, uy = steps(xs, chart.url)
    mr.add_trace(go.Scatter(x=ux, y=uy, mode="lines", name="Upper range limit",
                            line={"color": LIMIT, "dash": "dash", "shape": "hv"}, hoverinfo="skip"))
    _layout(mr, "Moving range (days)", "Demands in order of completion", height=RANGE_HEIGHT)
    ids = [p.case_id for p in cap.points]
    click = [ids, [ids[i] for i in special], [], [], [], []]
    rows = [{"n": str(i + 1), "case_id": str(cap.points[i].case_id), "ref": refs[i],
             "days": f"{chart.values[i]:g}", "met": met[i],
             "rules": ", ".join(control_chart.RULE_LABELS[r] for r in sorted(chart.signals[i]))} for i in special]
    return fig, mr, click, rows


def demand_charts(m: DemandMeasures) -> tuple[go.Figure, go.Figure, go.Figure, dict[str, list[list[Any]]]]:
    """Volume by demand type, value against failure, and one-stop percentage, by period."""
    vol = figure()
    vol_click = []
    for i, t in enumerate(m.by_type[:8]):
        label = f"{t['name']} ({t['class']})"
        vol.add_trace(go.Bar(x=m.periods, y=t["counts"], name=label, marker={"color": PALETTE[i % len(PALETTE)]},
                             hovertemplate=f"{label}<br>%{{x}}: %{{y}}<extra></extra>"))
        vol_click.append([f"demand_type|{t['id']}|{p}" for p in m.periods])
    if len(m.by_type) > 8:
        rest = [sum(t["counts"][i] for t in m.by_type[8:]) for i in range(len(m.periods))]
        vol.add_trace(go.Bar(x=m.periods, y=rest, name="Other types", marker={"color": "#cbd5e1"}))
        vol_click.append([None] * len(m.periods))
    vol.update_layout(barmode="stack")
    _layout(vol, "Demands received", "Period starting")
    vf = figure()
    vf.add_trace(go.Bar(x=m.periods, y=m.value, name="Value demand", marker={"color": VALUE},
                        hovertemplate="Value demand<br>%{x}: %{y}<extra></extra>"))
    vf.add_trace(go.Bar(x=m.periods, y=m.failure, name="Failure demand",
                        marker={"color": FAILURE, "pattern": {"shape": "/"}},
                        hovertemplate="Failure demand<br>%{x}: %{y}<extra></extra>"))
    pct = [round(100 * f / t, 1) if t else None for f, t in zip(m.failure, m.total)]
    vf.add_trace(go.Scatter(x=m.periods, y=pct, name="Failure demand %", yaxis="y2", mode="lines+markers",
                            line={"color": "#111827", "dash": "dot"}, hovertemplate="%{y}% failure<extra></extra>"))
    vf.update_layout(barmode="stack")
    _layout(vf, "Demands received", "Period starting", y2="Failure %")
    one = figure()
    one_pct = [round(100 * o / t, 1) if t else None for o, t in zip(m.one_stop, m.total)]
    one.add_trace(go.Scatter(x=m.periods, y=one_pct, name="One-stop %", mode="lines+markers",
                             line={"color": LINE}, customdata=m.one_stop,
                             hovertemplate="%{x}: %{y}% resolved at first contact<extra></extra>"))
    _layout(one, "Resolved at first contact (%)", "Period starting")
    one.update_layout(yaxis={"range": [0, 105]})
    clicks = {
        "volume": vol_click,
        "value_failure": [[f"value||{p}" for p in m.periods], [f"failure||{p}" for p in m.periods],
                          [f"failure||{p}" for p in m.periods]],  # the failure-% point: the same cases
        "one_stop": [[f"not_one_stop||{p}" for p in m.periods]],
    }
    return vol, vf, one, clicks


def condition_charts(rows: list[ConditionRow]) -> tuple[go.Figure, go.Figure, dict[str, list[list[Any]]]]:
    """Pareto charts of system-condition categories by count and by time lost."""
    by_id = {r.name: r.category_id for r in rows}
    figs, clicks = [], {}
    for key, title, values in (("count", "Times recorded", [(r.name, r.count) for r in rows]),
                               ("minutes", "Minutes lost", [(r.name, r.minutes) for r in rows])):
        ordered = pareto(values)
        fig = figure()
        fig.add_trace(go.Bar(x=[o[0] for o in ordered], y=[o[1] for o in ordered], name=title,
                             marker={"color": FAILURE}, hovertemplate="%{x}: %{y}<extra></extra>"))
        fig.add_trace(go.Scatter(x=[o[0] for o in ordered], y=[o[2] for o in ordered], name="Cumulative %",
                                 yaxis="y2", mode="lines+markers", line={"color": "#111827"},
                                 hovertemplate="%{y}% cumulative<extra></extra>"))
        _layout(fig, title, "", y2="Cumulative %")
        figs.append(fig)
        clicks[f"conditions_{key}"] = [[f"condition|{by_id[o[0]]}|" for o in ordered], []]
    return figs[0], figs[1], clicks


def booking_charts(b: BookingMeasures) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Bookings by channel with the online share, fill rate by course and venue, and income."""
    ch = figure()
    ch.add_trace(go.Bar(x=b.periods, y=b.online, name="Online", marker={"color": LINE}))
    ch.add_trace(go.Bar(x=b.periods, y=b.telephone, name="Telephone",
                        marker={"color": "#0f766e", "pattern": {"shape": "."}}))
    if any(b.other):
        ch.add_trace(go.Bar(x=b.periods, y=b.other, name="API", marker={"color": "#94a3b8"}))
    ch.add_trace(go.Scatter(x=b.periods, y=b.online_share, name="Online share %", yaxis="y2",
                            mode="lines+markers", line={"color": "#111827", "dash": "dot"}))
    ch.update_layout(barmode="stack")
    _layout(ch, "Bookings made", "Period starting", y2="Online %")
    fill = figure()
    labels = [f"{r['course']} · {r['venue']}" for r in b.fill]
    fill.add_trace(go.Bar(y=labels, x=[r["pct"] for r in b.fill], orientation="h", name="Fill rate %",
                          marker={"color": LINE}, text=[f"{r['pct']}%" for r in b.fill], textposition="auto",
                          hovertext=[f"{labels[i]}: {r['taken']} of {r['capacity']} seats, {r['sessions']} sessions"
                                     for i, r in enumerate(b.fill)], hoverinfo="text"))
    _layout(fill, "", height=max(200, 60 + 36 * len(b.fill)))
    fill.update_layout(xaxis={"title": {"text": "Seats taken (%)"}, "range": [0, 100]}, yaxis={"automargin": True})
    income = figure()
    income.add_trace(go.Bar(x=b.income_periods, y=[p / 100 for p in b.income_pence], name="Income £",
                            marker={"color": VALUE}, hovertemplate="%{x}: £%{y:,.2f}<extra></extra>"))
    _layout(income, "Income (£)", "Period starting")
    return ch, fill, income


def xmr_chart(chart: control_chart.XmR, hover: list[str], y_title: str, x_title: str,
              name: str = "Value") -> tuple[go.Figure, list[dict[str, str]]]:
    """An XmR chart of any series (points, special-cause diamonds, mean and process limits) and its special-cause
    rows in words, for module screens (e.g. days from due date to certificate)."""
    n = len(chart.values)
    xs = list(range(1, n + 1))
    fig = figure()
    fig.add_trace(go.Scatter(x=xs, y=chart.values, mode="lines+markers", name=name,
                             line={"color": LINE, "width": 1.5}, marker={"size": 7, "color": LINE},
                             hovertext=hover, hoverinfo="text"))
    special = chart.special_points
    fig.add_trace(go.Scatter(
        x=[xs[i] for i in special], y=[chart.values[i] for i in special], mode="markers", name="Special cause",
        marker={"size": 12, "color": SIGNAL, "symbol": "diamond", "line": {"width": 1, "color": "#000"}},
        hovertext=[hover[i] for i in special], hoverinfo="text"))
    for label, ys, dash in (("Mean", chart.mean, "solid"), ("Upper process limit", chart.upl, "dash"),
                            ("Lower process limit", chart.lpl, "dash")):
        sx, sy = steps(xs, ys)
        fig.add_trace(go.Scatter(x=sx, y=sy, mode="lines", name=label,
                                 line={"color": LIMIT, "dash": dash, "shape": "hv", "width": 1.2}, hoverinfo="skip"))
    _layout(fig, y_title, x_title, height=360)
    fig.update_layout(yaxis={"rangemode": "normal"})
    rows = [{"n": str(i + 1), "value": f"{chart.values[i]:g}", "what": hover[i],
             "rules": ", ".join(control_chart.RULE_LABELS[r] for r in sorted(chart.signals[i]))} for i in special]
    return fig, rows
