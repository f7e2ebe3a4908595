"""The ECOG figure, built from plain data: points, decision and treatment markers."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

from cupboard.charts.ecog import (
    DECISION_TRACE,
    ECOG_TRACE,
    LDH_TRACE,
    TREATMENT_TRACE,
    WEIGHT_TRACE,
    ecog_figure,
)

D = dt.date(2026, 3, 2)


def _day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def _trace(figure: go.Figure, name: str) -> go.Scatter:
    matches = [t for t in figure.data if t.name == name]
    assert len(matches) == 1, [t.name for t in figure.data]
    return matches[0]


def _as_date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def test_ecog_points_are_plotted_in_date_order_on_a_reversed_axis() -> None:
    figure = ecog_figure([(_day(20), 3), (_day(0), 1), (_day(9), 2)])
    ecog = _trace(figure, ECOG_TRACE)
    assert [_as_date(x) for x in ecog.x] == [_day(0), _day(9), _day(20)]
    assert list(ecog.y) == [1, 2, 3]
    assert list(ecog.text) == ["1", "2", "3"]
    assert ecog.hovertext[0].startswith("ECOG 1: Restricted in strenuous activity")
    assert ecog.hovertext[2].startswith("ECOG 3: Limited self-care")
    low, high = figure.layout.yaxis.range
    assert low > high  # 0 (fully active) at the top: a decline goes down
    assert [t.name for t in figure.data] == [ECOG_TRACE]
    assert not figure.layout.shapes  # no markers without decisions


def test_decisions_and_treatment_starts_are_marked_with_their_labels() -> None:
    figure = ecog_figure(
        [(_day(0), 1), (_day(30), 2)],
        decisions=[(_day(10), "Empiric platinum–taxane"), (_day(40), "Best supportive care")],
        treatment_starts=[(_day(17), "Empiric platinum–taxane")],
    )
    decisions = _trace(figure, DECISION_TRACE)
    assert [_as_date(x) for x in decisions.x] == [_day(10), _day(40)]
    assert list(decisions.text) == ["Empiric platinum–taxane", "Best supportive care"]
    starts = _trace(figure, TREATMENT_TRACE)
    assert [_as_date(x) for x in starts.x] == [_day(17)]
    assert decisions.marker.symbol != starts.marker.symbol
    # One vertical line per marker, at its date.
    lines = sorted(_as_date(s.x0) for s in figure.layout.shapes)
    assert lines == [_day(10), _day(17), _day(40)]
    # The time axis reaches the last decision, after the last ECOG.
    start, end = (_as_date(x) for x in figure.layout.xaxis.range)
    assert start < _day(0) and end > _day(40)


def test_weight_and_ldh_get_their_own_panels_with_the_upper_limit() -> None:
    figure = ecog_figure(
        [(_day(0), 0), (_day(14), 1)],
        weight=[(_day(0), 72.5), (_day(14), 69.0)],
        ldh=[(_day(1), 180.0), (_day(15), 420.0)],
        ldh_upper_limit=250.0,
    )
    weight, ldh, ecog = (_trace(figure, n) for n in (WEIGHT_TRACE, LDH_TRACE, ECOG_TRACE))
    assert list(weight.y) == [72.5, 69.0]
    assert list(ldh.y) == [180.0, 420.0]
    assert len({ecog.yaxis, weight.yaxis, ldh.yaxis}) == 3  # three panels
    uln = [s for s in figure.layout.shapes if s.y0 == 250.0 and s.y1 == 250.0]
    assert len(uln) == 1
    ldh_axis = figure.layout[f"yaxis{ldh.yaxis[1:]}"]
    assert ldh_axis.range[1] > 420.0  # the upper limit and the values are in view


def test_only_ecog_when_nothing_else_was_recorded_and_a_note_when_nothing_at_all() -> None:
    only = ecog_figure([(_day(0), 2)], until=_day(60))
    assert [t.name for t in only.data] == [ECOG_TRACE]
    _, end = (_as_date(x) for x in only.layout.xaxis.range)
    assert end >= _day(60)  # the gap since the last observation shows
    empty = ecog_figure([])
    assert [a.text for a in empty.layout.annotations] == ["No ECOG recorded"]
    assert list(_trace(empty, ECOG_TRACE).x) == []


def test_size_and_font_are_the_callers() -> None:
    figure = ecog_figure([(_day(0), 1)], height=300, font_size=18)
    assert figure.layout.height == 300
    assert figure.layout.font.size == 18


def test_markers_are_drawn_as_lines_over_the_ecog_panel_alone() -> None:
    marks = {"decisions": [(_day(10), "Best supportive care")]}
    figure = ecog_figure([(_day(0), 1)], treatment_starts=[(_day(12), "Chemo")], **marks)
    assert [(s.type, s.yref, s.y0, s.y1) for s in figure.layout.shapes] == [
        ("line", "y domain", 0, 1),
        ("line", "y domain", 0, 1),
    ]
    # With weight and LDH panels underneath, the lines still mark the ECOG panel only,
    # and the LDH panel keeps its upper limit of normal.
    panels = ecog_figure(
        [(_day(0), 1)],
        weight=[(_day(0), 70.0)],
        ldh=[(_day(0), 300.0)],
        ldh_upper_limit=250.0,
        **marks,
    )
    lines = [s for s in panels.layout.shapes if s.x0 == s.x1]
    assert [(_as_date(s.x0), s.xref, s.yref) for s in lines] == [(_day(10), "x", "y domain")]
    assert [(s.xref, s.yref, s.y0) for s in panels.layout.shapes if s.y0 == s.y1] == [
        ("x3 domain", "y3", 250.0)
    ]


def test_a_single_panel_is_a_plain_figure_and_panels_share_the_time_axis() -> None:
    only = ecog_figure([(_day(0), 1), (_day(5), 2)], decisions=[(_day(3), "Trial")])
    layout = only.to_plotly_json()["layout"]
    assert sorted(k for k in layout if "axis" in k) == ["xaxis", "yaxis"]  # no subplot grid
    assert {t.yaxis for t in only.data} <= {None, "y"}
    assert layout["yaxis"]["range"] == [5.8, -0.8]  # still reversed, 0 at the top
    panels = ecog_figure([(_day(0), 1)], weight=[(_day(0), 70.0)])
    assert _trace(panels, WEIGHT_TRACE).yaxis == "y2"
    assert panels.layout.xaxis.matches == "x2"  # one time axis for both panels
