"""ECOG performance status over time, with the board's decisions and treatment starts.

Pure: plain dates and numbers in, a plotly Figure out (no Streamlit, no database).
The trend matters more than the latest value [docs/clinical-rules.md section 8]: the axis is
drawn with 0 ("fully active") at the top, so a decline reads as a line going down.
Weight and LDH, when recorded, get smaller panels underneath, on the same time axis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cupboard.knowledge.performance import ECOG_GRADES

ECOG_TRACE = "ECOG"
DECISION_TRACE = "MDT decision"
TREATMENT_TRACE = "Treatment start"
WEIGHT_TRACE = "Weight (kg)"
LDH_TRACE = "LDH (U/L)"

_ECOG_COLOUR = "#1f4e79"
_DECISION_COLOUR = "#b03a2e"
_TREATMENT_COLOUR = "#1e8449"
_WEIGHT_COLOUR = "#7d6608"
_LDH_COLOUR = "#6c3483"

Dated = tuple[dt.date, float]
DatedLabel = tuple[dt.date, str]


def _ecog_hover(score: int) -> str:
    return f"ECOG {score}: {ECOG_GRADES.get(score, '')}"


def _marker_lines(marks: Sequence[DatedLabel], colour: str, dash: str) -> list[dict[str, object]]:
    """One vertical line per marker, the height of the ECOG panel (as ``add_vline``)."""
    return [
        {
            "type": "line",
            "xref": "x",
            "yref": "y domain",
            "x0": day,
            "x1": day,
            "y0": 0,
            "y1": 1,
            "line": {"color": colour, "dash": dash, "width": 1.5},
        }
        for day, _ in marks
    ]


def ecog_figure(
    ecog: Sequence[tuple[dt.date, int]],
    *,
    decisions: Sequence[DatedLabel] = (),
    treatment_starts: Sequence[DatedLabel] = (),
    weight: Sequence[Dated] = (),
    ldh: Sequence[Dated] = (),
    ldh_upper_limit: float | None = None,
    until: dt.date | None = None,
    height: int = 360,
    font_size: int = 14,
) -> go.Figure:
    """ECOG scores over time; decisions and treatment starts as labelled vertical
    markers; weight and LDH in smaller panels underneath when recorded. ``until`` (e.g.
    today) extends the time axis, so a long gap since the last observation shows."""
    ecog = sorted(ecog)
    # One panel per measure: ECOG on top, then weight, then LDH, each when recorded.
    panels = [p for p, data in (("weight", weight), ("ldh", ldh)) if data]
    row_of = {name: n for n, name in enumerate(panels, start=2)}
    if panels:
        small = 0.4 / len(panels) if len(panels) > 1 else 0.3
        fig = make_subplots(
            rows=1 + len(panels),
            cols=1,
            shared_xaxes=True,
            row_heights=[1 - small * len(panels), *([small] * len(panels))],
            vertical_spacing=0.05,
        )
        top: dict[str, int] = {"row": 1, "col": 1}
    else:
        # One panel: a plain figure (make_subplots builds a grid it would not need).
        fig = go.Figure()
        top = {}

    fig.add_trace(
        go.Scatter(
            x=[d for d, _ in ecog],
            y=[s for _, s in ecog],
            name=ECOG_TRACE,
            mode="lines+markers+text",
            text=[str(s) for _, s in ecog],
            textposition="top center",
            hovertext=[_ecog_hover(s) for _, s in ecog],
            hoverinfo="x+text",
            line={"color": _ECOG_COLOUR, "width": 3, "shape": "hv"},
            marker={"size": 11, "color": _ECOG_COLOUR},
            cliponaxis=False,
        ),
        **top,
    )
    # Markers sit just above the best score so they never hide a point.
    shapes: list[dict[str, object]] = []
    for marks, name, colour, symbol, dash in (
        (decisions, DECISION_TRACE, _DECISION_COLOUR, "diamond", "dash"),
        (treatment_starts, TREATMENT_TRACE, _TREATMENT_COLOUR, "triangle-up", "dot"),
    ):
        if not marks:
            continue
        shapes += _marker_lines(marks, colour, dash)
        fig.add_trace(
            go.Scatter(
                x=[d for d, _ in marks],
                y=[-0.45 if name == DECISION_TRACE else 5.45] * len(marks),
                name=name,
                mode="markers+text",
                text=[label for _, label in marks],
                textposition="middle right",
                textfont={"color": colour},
                marker={"symbol": symbol, "size": 13, "color": colour},
                hovertext=[f"{name}: {label}" for _, label in marks],
                hoverinfo="x+text",
            ),
            **top,
        )
    fig.update_yaxes(
        title_text="ECOG",
        range=[5.8, -0.8],  # reversed: 0 (fully active) at the top
        tickvals=list(range(6)),
        ticktext=[str(s) for s in range(6)],
        zeroline=False,
        **top,
    )
    if weight:
        weight = sorted(weight)
        fig.add_trace(
            go.Scatter(
                x=[d for d, _ in weight],
                y=[w for _, w in weight],
                name=WEIGHT_TRACE,
                mode="lines+markers",
                line={"color": _WEIGHT_COLOUR},
            ),
            row=row_of["weight"],
            col=1,
        )
        fig.update_yaxes(title_text="kg", nticks=3, row=row_of["weight"], col=1)
    if ldh:
        ldh = sorted(ldh)
        highest = max([v for _, v in ldh] + [ldh_upper_limit or 0]) * 1.2
        fig.add_trace(
            go.Scatter(
                x=[d for d, _ in ldh],
                y=[v for _, v in ldh],
                name=LDH_TRACE,
                mode="lines+markers",
                line={"color": _LDH_COLOUR},
            ),
            row=row_of["ldh"],
            col=1,
        )
        fig.update_yaxes(title_text="LDH", range=[0, highest], nticks=3, row=row_of["ldh"], col=1)
        if ldh_upper_limit is not None:
            axis = fig.layout[f"yaxis{row_of['ldh']}"]
            shapes.append(
                {
                    "type": "line",
                    "xref": f"{axis.anchor} domain",
                    "yref": axis.anchor.replace("x", "y"),
                    "x0": 0,
                    "x1": 1,
                    "y0": ldh_upper_limit,
                    "y1": ldh_upper_limit,
                    "line": {"color": _LDH_COLOUR, "dash": "dash", "width": 1},
                }
            )
    days = [d for series in (ecog, decisions, treatment_starts, weight, ldh) for d, _ in series]
    days += [until] if until else []
    if days:
        first, last = min(days), max(days)
        pad = dt.timedelta(days=max(3, (last - first).days // 20))
        long_span = (last - first).days > 300
        fig.update_xaxes(
            range=[first - pad, last + pad],
            tickformat="%b %Y" if long_span else "%d %b",
            hoverformat="%Y-%m-%d",
        )
    if not ecog:
        fig.add_annotation(
            text="No ECOG recorded",
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.6,
            showarrow=False,
            font={"size": font_size + 4},
        )
    # Every line in one layout update: one add_vline per marker re-validates the
    # whole shapes list each time.
    fig.update_layout(
        shapes=shapes,
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        font={"size": font_size},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        hovermode="closest",
    )
    return fig
