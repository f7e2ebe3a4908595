"""Figures for the analytics page, from the frames of :mod:`cupboard.analytics`.

Pure: frames in, plotly figures out (no Streamlit, no database). Plotly reads a little
HTML in every label, so data-derived text goes through :func:`plain` first.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from cupboard.analytics import (
    ALL_CLASSES,
    DECISION_MIX_GROUPS,
    DECISION_MIX_LABELS,
    TREATMENT_CLASS_LABELS,
)
from cupboard.knowledge.pathway import LeadTime

PALETTE: tuple[str, ...] = tuple(qualitative.Safe)  # colour-blind safe
MDT_COLOUR = "#DDAA33"
ENDPOINT_COLOUR = "#332288"
TARGET_COLOUR = "#CC3311"
GOAL_COLOUR = "#CC3311"
NO_TREATMENT = "no_treatment_decision"
NO_TREATMENT_LABEL = "No treatment decision yet"
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 30, "t": 110, "b": 50},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.04, "x": 0},
}
NO_LEGEND: dict[str, Any] = {**LAYOUT, "margin": {**LAYOUT["margin"], "t": 70}}
# Many entries (decision kinds, sites) wrap onto several lines: below the plot.
LEGEND_BELOW: dict[str, Any] = {
    **LAYOUT,
    "margin": {**LAYOUT["margin"], "t": 70, "b": 140},
    "legend": {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
}


def _title(text: str) -> dict[str, Any]:
    return {"text": plain(text), "x": 0.01, "y": 0.99, "yanchor": "top", "yref": "container"}


def plain(value: object) -> str:
    """Text shown literally by plotly (which would otherwise read <b>, <a href>, ...)."""
    return html.escape("" if value is None else str(value), quote=False)


def download_config(filename: str, figure: go.Figure | None = None) -> dict[str, Any]:
    """Plotly's modebar, always shown, whose camera button saves a PNG in the browser
    (no server-side renderer needed), as tall as the figure is drawn."""
    height = figure.layout.height if figure is not None and figure.layout.height else 600
    return {
        "displaylogo": False,
        "displayModeBar": True,
        "toImageButtonOptions": {
            "format": "png",
            "filename": filename,
            "width": 1200,
            "height": height,
            "scale": 2,
        },
    }


def _empty(title: str, message: str = "No data for this period") -> go.Figure:
    figure = go.Figure(layout={**NO_LEGEND, "title": _title(title)})
    figure.add_annotation(
        text=plain(message), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def _percent(values: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else round(100 * float(v), 1) for v in values]


# ---------------------------------------------------------------------------------
# Lead times


def lead_time_distribution(
    lead: pd.DataFrame, targets: Sequence[LeadTime], endpoint_label: str
) -> go.Figure:
    """Days from pathway start to the first MDT and to the endpoint, one panel per
    first-treatment class, with that class's targets (solid: basic workup; dashed:
    extended). One bar per day; a case left of the line is within target."""
    title = f"Days from pathway start to first MDT and to {endpoint_label.lower()}"
    if lead.empty or (lead["days_to_first_mdt"].isna() & lead["days_to_endpoint"].isna()).all():
        return _empty(title)
    panel = lead["treatment_class"].where(lead["treatment_class"].notna(), NO_TREATMENT)
    classes = [t.first_treatment for t in targets if (panel == t.first_treatment).any()]
    if (panel == NO_TREATMENT).any() and lead.loc[
        panel == NO_TREATMENT, "days_to_first_mdt"
    ].notna().any():
        classes.append(NO_TREATMENT)
    if not classes:
        return _empty(title)
    labels = [TREATMENT_CLASS_LABELS.get(c, NO_TREATMENT_LABEL) for c in classes]
    figure = make_subplots(
        rows=len(classes),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08 if len(classes) > 1 else 0.0,
        subplot_titles=[plain(label) for label in labels],
    )
    by_class = {t.first_treatment: t for t in targets}
    target_shapes: list[dict[str, Any]] = []
    target_notes: list[dict[str, Any]] = []
    for row, code in enumerate(classes, start=1):
        rows = lead[panel == code]
        # The endpoint filled, the first MDT as an outline on top: where the board
        # decides at its first meeting the two coincide and both stay visible.
        series = [("First MDT", "days_to_first_mdt", False)]
        if code != NO_TREATMENT:
            series.insert(0, (endpoint_label, "days_to_endpoint", True))
        for name, column, filled in series:
            days = rows[column].dropna().astype(int)
            figure.add_trace(
                go.Histogram(
                    x=days.tolist(),
                    name=plain(name),
                    legendgroup=column,
                    showlegend=row == 1 or (code == NO_TREATMENT and len(classes) == 1),
                    marker={
                        "color": ENDPOINT_COLOUR if filled else "rgba(0,0,0,0)",
                        "line": {"color": MDT_COLOUR, "width": 0 if filled else 2},
                    },
                    opacity=0.8 if filled else 1.0,
                    xbins={"start": -0.5, "size": 1},
                    hovertemplate="day %{x}: %{y} cases<extra>" + plain(name) + "</extra>",
                ),
                row=row,
                col=1,
            )
        lead_time = by_class.get(code)
        if lead_time is not None:
            shapes, notes = _target_lines(lead_time, row)
            target_shapes += shapes
            target_notes += notes
        figure.update_yaxes(title_text="cases", rangemode="tozero", row=row, col=1)
    figure.update_xaxes(title_text="days from pathway start (day 0)", row=len(classes), col=1)
    figure.update_layout(
        **LAYOUT,
        title=_title(title),
        barmode="overlay",
        height=max(360, 230 * len(classes)),
        # One layout update: plotly's add_vline costs ~75 ms a line.
        shapes=target_shapes,
        annotations=[*figure.layout.annotations, *target_notes],
    )
    return figure


def _target_lines(
    lead_time: LeadTime, row: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The basic (solid) and extended (dashed) target of a class, in subplot ``row``,
    half a day to the right of the last day within target."""
    axis = "" if row == 1 else str(row)
    shapes, notes = [], []
    for days, dash, kind, anchor in (
        (lead_time.basic_workup_days, "solid", "basic", "right"),
        (lead_time.extended_workup_days, "dash", "extended", "left"),
    ):
        shapes.append(
            {
                "type": "line",
                "xref": f"x{axis}",
                "yref": f"y{axis} domain",
                "x0": days + 0.5,
                "x1": days + 0.5,
                "y0": 0,
                "y1": 1,
                "line": {"color": TARGET_COLOUR, "dash": dash},
            }
        )
        notes.append(
            {
                "text": f"target {days} d ({kind})",
                "xref": f"x{axis}",
                "yref": f"y{axis} domain",
                "x": days + 0.5,
                "y": 1,
                "xanchor": anchor,
                "yanchor": "top",
                "showarrow": False,
                "font": {"color": TARGET_COLOUR, "size": 11},
                "bgcolor": "rgba(255,255,255,0.8)",
            }
        )
    return shapes, notes


def within_target_bars(summary: pd.DataFrame, goal: float) -> go.Figure:
    """Share of cases within their lead-time target per first-treatment class, with
    the national goal as a line."""
    title = "Share within the lead-time target"
    if summary.empty or int(summary["cases"].sum()) == 0:
        return _empty(title, "No case has reached the endpoint in this period")
    colours = [
        ENDPOINT_COLOUR if c != ALL_CLASSES else "#117733" for c in summary["treatment_class"]
    ]
    figure = go.Figure(
        go.Bar(
            x=[plain(label) for label in summary["label"]],
            y=_percent(summary["share"]),
            marker_color=colours,
            text=[
                f"{w}/{n}" if n else "no cases"
                for w, n in zip(summary["within"], summary["cases"], strict=True)
            ],
            textposition="outside",
            name="within target",
            hovertemplate="%{x}: %{y:.1f} % (%{text})<extra></extra>",
        )
    )
    figure.add_hline(
        y=100 * goal,
        line_color=GOAL_COLOUR,
        line_dash="dash",
        annotation_text=f"national goal {100 * goal:.0f} %",
        annotation_position="bottom right",
        annotation_font_color=GOAL_COLOUR,
        annotation_bgcolor="rgba(255,255,255,0.85)",
    )
    figure.update_yaxes(title_text="% within target", range=[0, 110])
    figure.update_layout(**NO_LEGEND, title=_title(title), showlegend=False)
    return figure


# ---------------------------------------------------------------------------------
# Workup, decisions, subtypes, primaries, meetings


def workup_missing_bars(missing: pd.DataFrame) -> go.Figure:
    """Investigations most often missing at the first MDT (share of cases expecting
    them), most often missing on top."""
    title = "Investigations missing at the first MDT"
    if missing.empty:
        return _empty(title, "No case in this period has had its first MDT")
    ordered = missing.iloc[::-1]
    figure = go.Figure(
        go.Bar(
            x=_percent(ordered["share_missing"]),
            y=[plain(label) for label in ordered["label"]],
            orientation="h",
            marker_color=ENDPOINT_COLOUR,
            text=[f"{m}/{e}" for m, e in zip(ordered["missing"], ordered["expected"], strict=True)],
            textposition="outside",
            hovertemplate="%{y}: missing in %{x:.1f} % (%{text})<extra></extra>",
        )
    )
    figure.update_xaxes(title_text="% of cases discussed without it", rangemode="tozero")
    figure.update_layout(**NO_LEGEND, title=_title(title), height=max(360, 28 * len(missing) + 140))
    return figure


def decision_mix_bars(mix: pd.DataFrame) -> go.Figure:
    """Decisions per period, stacked by kind (site-specific, empiric, ... other)."""
    title = "Decision mix"
    if mix.empty or int(mix["decisions"].sum()) == 0:
        return _empty(title, "No decisions in this period")
    periods = list(dict.fromkeys(mix["period"]))
    figure = go.Figure()
    for index, group in enumerate(DECISION_MIX_GROUPS):
        rows = mix[mix["group"] == group].set_index("period").reindex(periods)
        figure.add_trace(
            go.Bar(
                x=[plain(p) for p in periods],
                y=rows["decisions"].fillna(0).astype(int).tolist(),
                name=plain(DECISION_MIX_LABELS[group]),
                marker_color=PALETTE[index % len(PALETTE)],
                customdata=_percent(rows["share"]),
                hovertemplate="%{x}: %{y} decisions (%{customdata} %)<extra>%{fullData.name}"
                "</extra>",
            )
        )
    figure.update_yaxes(title_text="decisions")
    figure.update_xaxes(type="category")
    figure.update_layout(
        **LEGEND_BELOW, title=_title(title), barmode="stack", height=520, legend_traceorder="normal"
    )
    return figure


def favourable_bars(summary: pd.DataFrame, expected: str = "15–20 %") -> go.Figure:
    """Cases per favourable subtype; the title gives the favourable share of all
    classified cases (the unfavourable rest is in the data, not drawn)."""
    title = "Favourable subtypes"
    classified = int(summary["cases"].sum()) if not summary.empty else 0
    if classified == 0:
        return _empty(title, "No case in this period has a histology yet")
    favourable = summary[summary["favourable"].astype(bool)]
    count = int(favourable["cases"].sum())
    title = (
        f"Favourable subtypes: {count} of {classified} cases with a histology "
        f"({100 * count / classified:.1f} %; expected about {expected})"
    )
    ordered = favourable.iloc[::-1]
    figure = go.Figure(
        go.Bar(
            x=ordered["cases"].astype(int).tolist(),
            y=[plain(label) for label in ordered["label"]],
            orientation="h",
            marker_color=ENDPOINT_COLOUR,
            text=[f"{p} %" if p is not None else "" for p in _percent(ordered["share"])],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x} cases (%{text} of cases with a histology)<extra></extra>",
        )
    )
    figure.update_xaxes(title_text="cases", rangemode="tozero")
    figure.update_layout(**NO_LEGEND, title=_title(title), height=460)
    return figure


def primary_found_bars(found: pd.DataFrame) -> go.Figure:
    """Primaries found, per investigation that found them, stacked by site."""
    title = "Primaries found, by investigation"
    if found.empty:
        return _empty(title, "No primary was found in this period's cases")
    order = list(dict.fromkeys(found["found_by"]))
    figure = go.Figure()
    for index, (site, rows) in enumerate(found.groupby("site_label", sort=True)):
        rows = rows.set_index("found_by").reindex(order)
        figure.add_trace(
            go.Bar(
                x=[plain(name) for name in order],
                y=rows["cases"].fillna(0).astype(int).tolist(),
                name=plain(site),
                marker_color=PALETTE[index % len(PALETTE)],
                hovertemplate="%{x}: %{y}<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_yaxes(title_text="cases")
    figure.update_xaxes(type="category")
    figure.update_layout(
        **LEGEND_BELOW, title=_title(title), barmode="stack", legend_traceorder="normal"
    )
    return figure


def meeting_load_figure(per_meeting: pd.DataFrame) -> go.Figure:
    """Cases per meeting (bars) and minutes per timed case (line, right axis)."""
    title = "Cases per meeting and minutes per case"
    if per_meeting.empty:
        return _empty(title, "No meeting was held in this period")
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    dates = [d.isoformat() for d in per_meeting["meeting_date"]]
    figure.add_trace(
        go.Bar(
            x=dates,
            y=per_meeting["cases"].astype(int).tolist(),
            name="cases discussed",
            marker_color=MDT_COLOUR,
            hovertemplate="%{x}: %{y} cases<extra></extra>",
        ),
        secondary_y=False,
    )
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=[None if pd.isna(m) else round(float(m), 1) for m in per_meeting["minutes_per_case"]],
            name="minutes per case",
            mode="lines+markers",
            line_color=ENDPOINT_COLOUR,
            connectgaps=False,
            hovertemplate="%{x}: %{y} min per case<extra></extra>",
        ),
        secondary_y=True,
    )
    figure.update_yaxes(title_text="cases", rangemode="tozero", secondary_y=False)
    figure.update_yaxes(
        title_text="minutes per case",
        rangemode="tozero",
        tickmode="auto",
        showgrid=False,
        secondary_y=True,
    )
    figure.update_xaxes(title_text="meeting", type="date")
    figure.update_layout(**LAYOUT, title=_title(title))
    return figure
