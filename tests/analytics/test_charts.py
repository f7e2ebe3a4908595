"""The analytics figures: target lines, goal line, expected traces, literal labels."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cupboard import analytics as a
from cupboard.charts import analytics as charts
from cupboard.knowledge.pathway import DEFAULT_LEAD_TIMES, LeadTime

D = dt.date


def lead() -> pd.DataFrame:
    """Two drug-therapy cases, one best supportive care, one not decided yet."""
    return pd.DataFrame(
        {
            "treatment_class": ["drug_therapy", "drug_therapy", "best_supportive_care", None],
            "days_to_first_mdt": [19, 24, 19, 30],
            "days_to_endpoint": [21, 44, 19, None],
        }
    ).astype({"days_to_endpoint": "Int64"})


def lines(figure: object) -> list[tuple[str, float, str | None]]:
    return [
        (shape.xref, shape.x0, shape.line.dash)
        for shape in figure.layout.shapes  # type: ignore[attr-defined]
        if shape.type == "line"
    ]


def notes(figure: object) -> list[str]:
    return [n.text for n in figure.layout.annotations]  # type: ignore[attr-defined]


def test_lead_time_distribution_draws_each_class_target() -> None:
    figure = charts.lead_time_distribution(lead(), DEFAULT_LEAD_TIMES, "Treatment decision")
    # Panels: drug therapy, best supportive care, and the undecided case.
    assert notes(figure)[:3] == [
        "Drug therapy",
        "Best supportive care",
        "No treatment decision yet",
    ]
    # Basic solid, extended dashed, half a day right of the last day within target.
    assert lines(figure) == [
        ("x", 28.5, "solid"),
        ("x", 48.5, "dash"),
        ("x2", 24.5, "solid"),
        ("x2", 44.5, "dash"),
    ]
    assert "target 28 d (basic)" in notes(figure)
    assert "target 44 d (extended)" in notes(figure)
    names = [(trace.name, list(trace.x)) for trace in figure.data]
    assert names == [
        ("Treatment decision", [21, 44]),
        ("First MDT", [19, 24]),
        ("Treatment decision", [19]),
        ("First MDT", [19]),
        ("First MDT", [30]),  # no endpoint yet: first MDT only
    ]
    assert all(trace.type == "histogram" and trace.xbins.size == 1 for trace in figure.data)


def test_configured_targets_move_the_lines() -> None:
    targets = (LeadTime("drug_therapy", 20, 30), *DEFAULT_LEAD_TIMES[1:])
    figure = charts.lead_time_distribution(lead(), targets, "Start of treatment")
    assert lines(figure)[:2] == [("x", 20.5, "solid"), ("x", 30.5, "dash")]
    assert figure.data[0].name == "Start of treatment"


def test_within_target_bars_show_the_national_goal() -> None:
    summary = pd.DataFrame(
        {
            "treatment_class": ["drug_therapy", "radiotherapy", "all"],
            "label": ["Drug therapy", "Radiotherapy", "All treatments"],
            "cases": [4, 0, 4],
            "within": [3, 0, 3],
            "share": [0.75, float("nan"), 0.75],
        }
    )
    figure = charts.within_target_bars(summary, 0.8)
    (goal,) = figure.layout.shapes
    assert (goal.y0, goal.y1, goal.line.dash) == (80, 80, "dash")
    assert any("national goal 80 %" in text for text in notes(figure))
    (bars,) = figure.data
    assert list(bars.y) == [75.0, None, 75.0]
    assert list(bars.text) == ["3/4", "no cases", "3/4"]


def test_decision_mix_stacks_one_trace_per_group() -> None:
    decisions = pd.DataFrame(
        {
            "decided_on": [D(2025, 1, 5), D(2025, 2, 5), D(2025, 4, 5)],
            "code": ["site_specific", "clinical_trial", "site_specific"],
        }
    )
    figure = charts.decision_mix_bars(a.decision_mix(decisions, "quarter"))
    assert figure.layout.barmode == "stack"
    assert [t.name for t in figure.data] == [
        a.DECISION_MIX_LABELS[g] for g in a.DECISION_MIX_GROUPS
    ]
    site, other = figure.data[0], figure.data[-1]
    assert list(site.x) == ["2025 Q1", "2025 Q2"] and list(site.y) == [1, 1]
    assert list(other.y) == [1, 0]


def test_workup_favourable_primaries_and_meetings() -> None:
    missing = pd.DataFrame(
        {
            "code": ["biopsy", "ct_cap"],
            "label": ["Biopsy", "CT"],
            "expected": [2, 4],
            "missing": [1, 1],
            "share_missing": [0.5, 0.25],
        }
    )
    bars = charts.workup_missing_bars(missing).data[0]
    assert list(bars.y) == ["CT", "Biopsy"] and list(bars.x) == [25.0, 50.0]  # top = most

    subtypes = pd.DataFrame(
        {
            "case_id": [1, 2, 3],
            "classified": [True, True, True],
            "subtype": ["neuroendocrine", "unfavourable", "unfavourable"],
        }
    )
    figure = charts.favourable_bars(a.favourable_summary(subtypes))
    assert "1 of 3 cases with a histology (33.3 %" in figure.layout.title.text
    assert a.FAVOURABLE_LABELS[a.UNFAVOURABLE] not in list(figure.data[0].y)

    found = pd.DataFrame(
        {
            "found_by": ["Colonoscopy", "Colonoscopy"],
            "site": ["colorectal", "breast"],
            "site_label": ["Colorectal", "Breast"],
            "cases": [2, 1],
        }
    )
    figure = charts.primary_found_bars(found)
    assert figure.layout.barmode == "stack"
    assert sorted((t.name, list(t.y)) for t in figure.data) == [
        ("Breast", [1]),
        ("Colorectal", [2]),
    ]

    per_meeting = pd.DataFrame(
        {
            "meeting_id": [1, 2],
            "meeting_date": [D(2025, 4, 1), D(2025, 4, 8)],
            "cases": [3, 1],
            "timed_cases": [2, 0],
            "minutes": [20.0, None],
            "minutes_per_case": [10.0, None],
        }
    )
    figure = charts.meeting_load_figure(per_meeting)
    assert [(t.type, t.name) for t in figure.data] == [
        ("bar", "cases discussed"),
        ("scatter", "minutes per case"),
    ]
    assert list(figure.data[1].y) == [10.0, None] and figure.data[1].yaxis == "y2"


def test_user_text_is_shown_literally() -> None:
    found = pd.DataFrame(
        {
            "found_by": ['<a href="https://evil.example">x</a>'],
            "site": ["lung"],
            "site_label": ["Lung"],
            "cases": [1],
        }
    )
    figure = charts.primary_found_bars(found)
    assert list(figure.data[0].x) == ['&lt;a href="https://evil.example"&gt;x&lt;/a&gt;']
    assert charts.plain("History & exam <br>") == "History &amp; exam &lt;br&gt;"


def test_empty_data_gives_a_message_not_an_error() -> None:
    empty = pd.DataFrame()
    for figure in (
        charts.lead_time_distribution(
            a.lead_times(empty, empty, DEFAULT_LEAD_TIMES, D(2025, 1, 1)), DEFAULT_LEAD_TIMES, "x"
        ),
        charts.within_target_bars(a.within_target_by_class(empty, DEFAULT_LEAD_TIMES), 0.8),
        charts.workup_missing_bars(a.workup_missing_at_first_mdt(empty, empty)),
        charts.decision_mix_bars(a.decision_mix(empty, "month", D(2025, 1, 1), D(2025, 3, 1))),
        charts.favourable_bars(a.favourable_summary(a.favourable_subtypes({}))),
        charts.primary_found_bars(a.primaries_found(empty)),
        charts.meeting_load_figure(a.meeting_load(empty)),
    ):
        assert not figure.data
        assert any(text.startswith("No ") for text in notes(figure))


def test_png_download_config() -> None:
    config = charts.download_config("cupboard_lead_times_20250101-20250331")
    assert config["displayModeBar"] is True
    assert config["toImageButtonOptions"]["format"] == "png"
    assert config["toImageButtonOptions"]["filename"] == "cupboard_lead_times_20250101-20250331"
    assert config["toImageButtonOptions"]["height"] == 600
    tall = charts.lead_time_distribution(lead(), DEFAULT_LEAD_TIMES, "x")
    assert charts.download_config("x", tall)["toImageButtonOptions"]["height"] == tall.layout.height
