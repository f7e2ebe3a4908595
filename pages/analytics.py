"""Service analytics: the charts a service lead puts in a quarterly report.

Lead times against the SVF targets, workup at the first MDT, decision mix, favourable
subtypes, primaries found and meeting load, for a period, navigator and oncologist.
Every chart saves as PNG (camera in its toolbar) and gives its data as CSV; the lead
times' CSV has a row per case, so only roles that may export get it, audited.
"""

import datetime as dt
import functools
from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cupboard import analytics as metrics
from cupboard.charts import analytics as charts
from cupboard.errors import ConflictError, CupboardError
from cupboard.knowledge.pathway import LEAD_TIME_GOAL_SHARE, LeadTime
from cupboard.permissions import may
from cupboard.services import analytics as service
from cupboard.services.context import ServiceContext
from cupboard.services.settings import (
    MAX_TARGET_DAYS,
    LeadTimeTargets,
    get_lead_time_targets,
    set_lead_time_targets,
)
from cupboard.ui.cache import cached_read
from cupboard.ui.downloads import download_button
from cupboard.ui.guard import page_guard, show_error
from cupboard.validation import EARLIEST_CLINICAL_DATE

ctx = page_guard("view_cases")
today = dt.date.today()
SEEN_VERSION = "analytics_targets_seen_version"
FLASH = "analytics_flash"
GOAL = LEAD_TIME_GOAL_SHARE


# Every read below is cached until the next write to the database (cupboard/ui/cache.py):
# a rerun that changes nothing, or only the view, runs no query and no computation.


@cached_read()
def load_setup(ctx: ServiceContext) -> tuple[service.FilterChoices, LeadTimeTargets]:
    return service.filter_choices(ctx), get_lead_time_targets(ctx.database_url)


@cached_read()
def load_report(
    ctx: ServiceContext,
    filters: service.AnalyticsFilter,
    today: dt.date,
    endpoint: metrics.Endpoint,
    lead_times: tuple[LeadTime, ...],
) -> tuple[pd.DataFrame, metrics.ServiceReport | None]:
    """The period's decisions (for the mix) and the report; None when nothing happened."""
    data = service.load_analytics(ctx, filters, today)
    if data.is_empty:
        return data.period_decisions, None
    profiles = service.load_profiles(ctx, filters)
    report = metrics.service_report(
        data.cases,
        data.decisions,
        data.workup,
        data.agenda,
        profiles,
        lead_times,
        today,
        endpoint,
        data.palliative_referrals,
    )
    return data.period_decisions, report


@cached_read()
def load_figures(
    ctx: ServiceContext,
    filters: service.AnalyticsFilter,
    today: dt.date,
    endpoint: metrics.Endpoint,
    lead_times: tuple[LeadTime, ...],
) -> dict[str, go.Figure]:
    _, report = load_report(ctx, filters, today, endpoint, lead_times)
    if report is None:
        return {}
    endpoint_label = metrics.ENDPOINT_LABELS[endpoint]
    return {
        "lead_times": charts.lead_time_distribution(report.lead, lead_times, endpoint_label),
        "within_target": charts.within_target_bars(report.within_by_class, GOAL),
        "workup_missing": charts.workup_missing_bars(report.missing_workup),
        "favourable_subtypes": charts.favourable_bars(report.subtype_summary),
        "primaries_found": charts.primary_found_bars(report.found_by),
        "meeting_load": charts.meeting_load_figure(report.per_meeting),
    }


@cached_read()
def load_decision_mix(
    ctx: ServiceContext,
    filters: service.AnalyticsFilter,
    today: dt.date,
    endpoint: metrics.Endpoint,
    lead_times: tuple[LeadTime, ...],
    frequency: metrics.Frequency,
) -> tuple[pd.DataFrame, go.Figure]:
    period_decisions, _ = load_report(ctx, filters, today, endpoint, lead_times)
    mix = metrics.decision_mix(period_decisions, frequency, filters.start, filters.end)
    return mix, charts.decision_mix_bars(mix)


def percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * value:.0f} %"


def number(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1f}"


def days(value: float | None) -> str:
    """A median day: whole, or half when the median falls between two cases."""
    return "–" if value is None or pd.isna(value) else f"{value:g}"


def chart(
    slug: str,
    figure: go.Figure,
    data: pd.DataFrame | Callable[[], bytes] | None,
    period: str,
) -> None:
    """A chart with PNG export in its toolbar and its data as a CSV download.

    The CSV is made when the button is clicked, not on every rerun; Streamlit makes it
    in another thread, from this run's frame or through the service (``data`` a
    function). No button when ``data`` is None.
    """
    st.plotly_chart(
        figure,
        config=charts.download_config(f"cupboard_{slug}_{period}", figure),
        theme=None,
        key=f"chart_{slug}",
    )
    if data is None:
        return
    if callable(data):
        # Case data: built by the export service at the click, gone from the server soon
        # after, like the case page's exports.
        download_button(
            "Download the data (CSV)",
            data,
            file_name=f"cupboard_{slug}_{period}.csv",
            mime="text/csv",
            key=f"csv_{slug}",
        )
        return
    st.download_button(
        "Download the data (CSV)",
        data=functools.partial(metrics.to_csv, data),
        file_name=f"cupboard_{slug}_{period}.csv",
        mime="text/csv",
        key=f"csv_{slug}",
        on_click="ignore",
        icon=":material/download:",
    )


def forget_targets_form(targets: LeadTimeTargets | None = None) -> None:
    st.session_state.pop(SEEN_VERSION, None)
    for lead_time in (targets or get_lead_time_targets(ctx.database_url)).lead_times:
        for kind in ("basic", "extended"):
            st.session_state.pop(f"target_{lead_time.first_treatment}_{kind}", None)


def targets_form(targets: LeadTimeTargets) -> None:
    """Administrators change the targets; the save carries the version they saw."""
    if SEEN_VERSION not in st.session_state:
        st.session_state[SEEN_VERSION] = targets.version
        for t in targets.lead_times:
            st.session_state[f"target_{t.first_treatment}_basic"] = t.basic_workup_days
            st.session_state[f"target_{t.first_treatment}_extended"] = t.extended_workup_days
    with st.form("analytics_targets"):
        for t in targets.lead_times:
            label = metrics.TREATMENT_CLASS_LABELS[t.first_treatment]
            basic, extended = st.columns(2)
            for column, kind in ((basic, "basic"), (extended, "extended")):
                column.number_input(
                    f"{label}: {kind} workup (days)",
                    min_value=1,
                    max_value=MAX_TARGET_DAYS,
                    step=1,
                    key=f"target_{t.first_treatment}_{kind}",
                )
        submitted = st.form_submit_button("Save targets", type="primary")
    if not submitted:
        return
    values = {
        t.first_treatment: {
            kind: st.session_state[f"target_{t.first_treatment}_{kind}"]
            for kind in ("basic", "extended")
        }
        for t in targets.lead_times
    }
    try:
        set_lead_time_targets(ctx, values, st.session_state[SEEN_VERSION])
    except CupboardError as error:
        show_error(error)
        if isinstance(error, ConflictError):
            st.button("Load the latest targets", on_click=forget_targets_form, key="reload")
        return
    forget_targets_form(targets)
    st.session_state[FLASH] = "Targets saved; the charts use them now."
    st.rerun()


st.title("Service analytics")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))
choices, targets = load_setup(ctx)

if choices.cases == 0:
    st.info(
        "No cases have been registered yet, so there is nothing to report. The charts "
        "appear here once referrals are registered (Referrals & import) and the board "
        "starts discussing them."
    )
else:
    with st.container(border=True):
        period_col, navigator_col, oncologist_col, endpoint_col = st.columns(4)
        preset = period_col.selectbox(
            "Period",
            list(metrics.PERIOD_PRESETS),
            format_func=metrics.PERIOD_PRESETS.__getitem__,
            key="analytics_period",
        )
        if preset == "custom":
            picked = period_col.date_input(
                "From – to",
                value=metrics.period_bounds("last_12_months", today),
                min_value=EARLIEST_CLINICAL_DATE,
                max_value=today,
                key="analytics_dates",
            )
            start, end = (picked[0], picked[-1]) if picked else (today, today)
        else:
            start, end = metrics.period_bounds(preset, today, choices.first_pathway_start)
        navigator = navigator_col.selectbox(
            "Navigator",
            [None, *choices.navigators],
            format_func=lambda p: "All navigators" if p is None else p.name,
            key="analytics_navigator",
        )
        oncologist = oncologist_col.selectbox(
            "Oncologist",
            [None, *choices.oncologists],
            format_func=lambda p: "All oncologists" if p is None else p.name,
            key="analytics_oncologist",
        )
        endpoint = endpoint_col.radio(
            "Lead time measured to",
            list(metrics.ENDPOINT_LABELS),
            format_func=metrics.ENDPOINT_LABELS.__getitem__,
            key="analytics_endpoint",
        )
    filters = service.AnalyticsFilter(
        start=start,
        end=end,
        navigator_id=navigator.id if navigator else None,
        oncologist_id=oncologist.id if oncologist else None,
    )
    period = f"{start:%Y%m%d}-{end:%Y%m%d}"
    lead_times = targets.lead_times
    try:
        _, report = load_report(ctx, filters, today, endpoint, lead_times)
        figures = load_figures(ctx, filters, today, endpoint, lead_times)
    except CupboardError as error:
        show_error(error)
        st.stop()

    st.caption(
        f"{start:%d %b %Y} – {end:%d %b %Y}. Case measures cover the cases whose pathway "
        "started in the period (day 0 = the decision of well-founded suspicion); the "
        "decision mix counts decisions made in it and meeting load the meetings held in "
        "it. Save a chart as PNG with the camera in its toolbar."
    )
    if report is None:
        st.info(
            "No cases started their pathway, no decisions were made and no meetings were "
            "held in this period for these filters. Choose a longer period or clear the "
            "navigator and oncologist filters."
        )
    else:
        goal = GOAL
        meetings = report.meetings

        row = st.columns(4)
        row[0].metric(
            "Cases", report.cohort, help="Cases whose pathway started in the period.", border=True
        )
        row[1].metric(
            "Within target",
            percent(report.within_share),
            delta=None
            if report.within_share is None
            else f"{100 * (report.within_share - goal):+.0f} points vs goal",
            help=f"{report.within} of {report.judged} cases that reached the endpoint were "
            f"within their lead-time target; the national goal is {goal:.0%} [SVF].",
            border=True,
        )
        row[2].metric(
            "First MDT, median day",
            days(report.median_days_to_first_mdt),
            help="Days from pathway start (day 0) to the first MDT discussion.",
            border=True,
        )
        row[3].metric(
            "Decision, median day" if endpoint == "decision" else "Treatment, median day",
            days(report.median_days_to_endpoint),
            help="Days from pathway start (day 0), cases that reached it.",
            border=True,
        )
        row = st.columns(5)
        row[0].metric(
            "Workup complete",
            percent(metrics.share(report.complete_workup, report.discussed)),
            help=f"{report.complete_workup} of {report.discussed} cases had every expected "
            "investigation at their first MDT.",
            border=True,
        )
        row[1].metric(
            "Favourable subtype",
            percent(report.favourable_share),
            help=f"{report.favourable} of {report.classified} cases with a histology.",
            border=True,
        )
        row[2].metric(
            "Primary found",
            percent(report.primary_found_share),
            help=f"{report.primaries_found} of {report.cohort} cases.",
            border=True,
        )
        row[3].metric(
            "Cases per meeting",
            number(meetings["cases_per_meeting"]),
            help=f"{meetings['cases']} cases discussed at {meetings['meetings']} meetings.",
            border=True,
        )
        row[4].metric(
            "Minutes per case",
            number(meetings["minutes_per_case"]),
            help="Timed discussions only (with a start and an end).",
            border=True,
        )

        st.subheader("Lead times")
        st.caption(
            "Target per first-treatment class of the first decision that starts a "
            "treatment; extended when a block D/E investigation was done by then [SVF]. "
            f"{report.waiting} cases have not reached the endpoint yet "
            f"({report.waiting_past_longest} already past the longest target) and are not "
            "in the share."
        )
        # One row per case: an export of case data, for the roles that may export,
        # made and audited by the service when clicked.
        lead_csv = (
            functools.partial(service.export_lead_times, ctx, filters, lead_times, endpoint, today)
            if may(ctx.actor.role, "export_data")
            else None
        )
        chart("lead_times", figures["lead_times"], lead_csv, period)
        chart("within_target", figures["within_target"], report.within_by_class, period)

        st.subheader("Workup at the first MDT")
        st.caption(
            "Investigations expected for a case (not 'not indicated' or 'declined') whose "
            "report — or, without a report, the investigation itself — was not there by "
            "the day of its first MDT."
        )
        chart("workup_missing", figures["workup_missing"], report.missing_workup, period)

        st.subheader("Decision mix")
        frequency = st.segmented_control(
            "Per",
            ["quarter", "month"],
            default="quarter",
            format_func=str.capitalize,
            required=True,
            key="analytics_frequency",
        )
        mix, mix_figure = load_decision_mix(
            ctx, filters, today, endpoint, lead_times, frequency or "quarter"
        )
        chart("decision_mix", mix_figure, mix, period)

        st.subheader("Palliative care within 30 days")
        st.caption(
            "Patients referred to palliative care within 30 days of day 0, per quarter of "
            "day 0 [FERRELL17], [SVF]; patients still inside their 30 days are not judged yet."
        )
        if report.palliative is not None and not report.palliative.empty:
            st.dataframe(
                report.palliative.drop(columns=["period_start"]),
                hide_index=True,
                column_config={"share": st.column_config.NumberColumn("Share", format="percent")},
                key="analytics_palliative",
            )

        st.subheader("Favourable subtypes")
        st.caption(
            "Classified by the guidance rules (cupboard.guidance.assess_case) from each "
            f"case's latest findings; {report.cohort - report.classified} cases without a "
            "histology yet are not classified."
        )
        chart("favourable_subtypes", figures["favourable_subtypes"], report.subtype_summary, period)

        st.subheader("Primaries found")
        chart("primaries_found", figures["primaries_found"], report.found_by, period)

        st.subheader("Meeting load")
        st.caption("Minutes per case count only discussions with a start and an end.")
        chart("meeting_load", figures["meeting_load"], report.per_meeting, period)

st.subheader("Lead-time targets")
st.caption(
    "Calendar days from pathway start (day 0) to the start of first treatment [SVF]; "
    + (
        "set by this centre."
        if targets.configured
        else "the SVF defaults (2015), until an administrator sets them."
    )
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "First treatment": metrics.TREATMENT_CLASS_LABELS[t.first_treatment],
                "Basic workup (days)": t.basic_workup_days,
                "Extended workup, blocks D/E (days)": t.extended_workup_days,
            }
            for t in targets.lead_times
        ]
    ),
    hide_index=True,
)
if may(ctx.actor.role, "manage_settings"):
    with st.expander("Change the targets (administrators)"):
        targets_form(targets)
