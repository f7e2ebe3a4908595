"""The analytics page in AppTest: demo cohort, empty database, filters, targets form."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from cupboard.analytics import period_bounds
from cupboard.services import analytics as service
from cupboard.services.context import ServiceContext
from cupboard.services.settings import get_lead_time_targets, set_lead_time_targets
from db.demo_cohort import seed_demo_cohort

PAGE = "pages/analytics.py"
CHARTS = 7  # lead times, within target, workup, decision mix, subtypes, primaries, meetings


def metrics_of(app: Any) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def figure(app: Any, title: str) -> dict[str, Any]:
    """The plotly figure (as sent to the browser) whose title starts with ``title``."""
    for chart in app.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"]["title"]["text"].startswith(title):
            return dict(spec)
    raise AssertionError(f"no chart titled {title!r}")


@pytest.fixture
def demo(database_url: str) -> str:
    seed_demo_cohort(database_url, cases=40)
    return database_url


def test_renders_the_demo_cohort(open_page: Callable[..., Any], demo: str) -> None:
    app = open_page(PAGE, role="viewer")
    assert not app.exception
    assert [t.value for t in app.title] == ["Service analytics"]
    shown = metrics_of(app)
    assert shown["Cases"] == "40"  # all 40 started in the last year
    assert shown["Within target"].endswith("%")
    charts = app.get("plotly_chart")
    assert len(charts) == CHARTS
    for chart in charts:  # PNG from the camera button of each chart's toolbar
        config = json.loads(chart.proto.config)
        assert config["toImageButtonOptions"]["format"] == "png"
    lead = figure(app, "Days from pathway start")
    assert {shape["x0"] for shape in lead["layout"]["shapes"]} >= {28.5, 48.5}
    downloads = app.get("download_button")
    assert len(downloads) == CHARTS - 1  # a viewer gets no per-case CSV
    assert all(d.proto.label == "Download the data (CSV)" for d in downloads)
    assert not app.error
    # Everyone sees the targets in use; only administrators get the form.
    assert app.dataframe[-1].value["Basic workup (days)"].tolist() == [28, 35, 35, 24]
    assert not app.number_input


def test_an_empty_database_explains_itself(open_page: Callable[..., Any]) -> None:
    app = open_page(PAGE, role="chair")
    assert not app.exception and not app.error
    assert "No cases have been registered yet" in app.info[0].value
    assert not app.get("plotly_chart") and not app.metric
    admin = open_page(PAGE, role="admin")
    assert not admin.exception
    assert len(admin.number_input) == 8  # the targets can be set before any case exists


def test_filters_change_the_numbers(
    open_page: Callable[..., Any], demo: str, contexts: dict[str, ServiceContext]
) -> None:
    app = open_page(PAGE, role="viewer")
    everyone = metrics_of(app)
    start, end = period_bounds("last_12_months", dt.date.today())
    quarters = figure(app, "Decision mix")["data"][0]["x"]
    assert quarters[0] == f"{start.year} Q{(start.month - 1) // 3 + 1}"
    app.segmented_control(key="analytics_frequency").set_value("month").run()
    assert not app.exception
    months = figure(app, "Decision mix")["data"][0]["x"]
    assert months[0] == f"{start:%Y-%m}" and len(months) == 12
    choices = service.filter_choices(contexts["viewer"])
    navigator = choices.navigators[0]
    app.selectbox(key="analytics_navigator").select(navigator).run()
    assert not app.exception
    mine = metrics_of(app)
    expected = service.load_analytics(
        contexts["viewer"], service.AnalyticsFilter(start, end, navigator_id=navigator.id)
    )
    assert mine["Cases"] == str(len(expected.cases))
    assert mine["Cases"] != everyone["Cases"]

    app.selectbox(key="analytics_navigator").select(None)
    app.selectbox(key="analytics_period").select("custom").run()
    today = dt.date.today()
    app.date_input(key="analytics_dates").set_value((today - dt.timedelta(days=6), today)).run()
    assert not app.exception
    recent = metrics_of(app)["Cases"]
    assert 0 < int(recent) < 40

    app.radio(key="analytics_endpoint").set_value("treatment").run()
    assert not app.exception
    assert "Treatment, median day" in metrics_of(app)


def test_a_period_without_data_shows_a_hint(open_page: Callable[..., Any], demo: str) -> None:
    app = open_page(PAGE, role="viewer")
    app.selectbox(key="analytics_period").select("custom").run()
    app.date_input(key="analytics_dates").set_value(
        (dt.date(2000, 1, 1), dt.date(2000, 12, 31))
    ).run()
    assert not app.exception
    assert any("No cases started their pathway" in i.value for i in app.info)
    assert not app.get("plotly_chart")


def error_text(app: Any) -> str:
    """The first error as the user reads it (the markdown escapes removed)."""
    return str(app.error[0].value).replace("\\", "")


def set_drug_targets(app: Any, basic: int, extended: int) -> None:
    app.number_input(key="target_drug_therapy_basic").set_value(basic)
    app.number_input(key="target_drug_therapy_extended").set_value(extended)
    app.button(key="FormSubmitter:analytics_targets-Save targets").click().run()


def test_an_administrator_changes_the_targets(open_page: Callable[..., Any], demo: str) -> None:
    app = open_page(PAGE, role="admin")
    before = metrics_of(app)["Within target"]
    set_drug_targets(app, 1, 2)
    assert not app.exception and not app.error
    assert [s.value for s in app.success] == ["Targets saved; the charts use them now."]
    targets = get_lead_time_targets(demo)
    assert (targets.version, targets.lead_times[0].basic_workup_days) == (1, 1)
    assert metrics_of(app)["Within target"] != before
    assert app.dataframe[-1].value["Basic workup (days)"].tolist() == [1, 35, 35, 24]


def test_invalid_targets_are_refused_with_the_reason(
    open_page: Callable[..., Any], demo: str
) -> None:
    app = open_page(PAGE, role="admin")
    set_drug_targets(app, 30, 20)
    assert not app.exception
    assert error_text(app).startswith("drug_therapy.extended: (20 days) must not be shorter")
    assert not get_lead_time_targets(demo).configured


def test_a_stale_targets_form_is_a_conflict(
    open_page: Callable[..., Any], demo: str, contexts: dict[str, ServiceContext]
) -> None:
    app = open_page(PAGE, role="admin")
    theirs = {
        "drug_therapy": {"basic": 30, "extended": 50},
        "radiotherapy": {"basic": 35, "extended": 55},
        "surgery": {"basic": 35, "extended": 55},
        "best_supportive_care": {"basic": 24, "extended": 44},
    }
    set_lead_time_targets(contexts["admin"], theirs, 0)  # someone else saves first
    set_drug_targets(app, 21, 42)
    assert not app.exception
    assert error_text(app).startswith("Conflict: this setting was changed")
    assert get_lead_time_targets(demo).as_dict() == theirs
    app.button(key="reload").click().run()
    assert app.number_input(key="target_drug_therapy_basic").value == 30
    set_drug_targets(app, 21, 42)
    assert not app.error
    assert get_lead_time_targets(demo).lead_times[0].basic_workup_days == 21


def test_reruns_are_cached_until_a_write_in_another_session(
    open_page: Callable[..., Any],
    demo: str,
    make_case: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[service.AnalyticsFilter] = []
    load = service.load_analytics

    def counted(*args: Any, **kwargs: Any) -> service.AnalyticsData:
        loads.append(args[1])
        return load(*args, **kwargs)

    monkeypatch.setattr(service, "load_analytics", counted)
    app = open_page(PAGE, role="viewer")
    assert metrics_of(app)["Cases"] == "40" and len(loads) == 1
    app.run()
    app.segmented_control(key="analytics_frequency").set_value("month").run()
    assert not app.exception
    assert len(loads) == 1  # neither a rerun nor a new view of the data loads it again
    assert len(app.get("plotly_chart")) == CHARTS
    make_case(referral_date=dt.date.today())  # a navigator registers a referral
    app.run()
    assert len(loads) == 2
    assert metrics_of(app)["Cases"] == "41"


def test_the_csv_is_made_when_downloaded(
    open_page: Callable[..., Any], demo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No CSV is made on a rerun: the button gets a function that makes it on a click."""
    import io

    import streamlit as st

    given: dict[str, Any] = {}
    button = st.download_button

    def recording(label: str, data: Any, **kwargs: Any) -> bool:
        given[kwargs["key"]] = data
        return button(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    app = open_page(PAGE, role="navigator")
    assert not app.exception and len(given) == CHARTS
    assert all(callable(data) for data in given.values())
    lead = pd.read_csv(io.BytesIO(given["csv_lead_times"]()))
    assert len(lead) == 40 and {"case_id", "days_to_first_mdt"} <= set(lead.columns)
    assert lead["pathway_start"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()  # dates, no times
    mix = pd.read_csv(io.BytesIO(given["csv_decision_mix"]()))
    assert set(mix["period"]) and mix["decisions"].sum() > 0


@pytest.mark.parametrize(
    ("role", "per_case_csv"),
    [
        ("viewer", False),
        ("admin", False),
        ("navigator", True),
        ("oncologist", True),
        ("chair", True),
        ("pathologist", True),
    ],
)
def test_the_per_case_csv_is_offered_only_to_roles_that_may_export(
    open_page: Callable[..., Any],
    demo: str,
    monkeypatch: pytest.MonkeyPatch,
    role: str,
    per_case_csv: bool,
) -> None:
    import streamlit as st

    given: dict[str, Any] = {}
    button = st.download_button

    def recording(label: str, data: Any, **kwargs: Any) -> bool:
        given[kwargs["key"]] = data
        return button(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    app = open_page(PAGE, role=role)
    assert not app.exception and len(app.get("plotly_chart")) == CHARTS
    assert ("csv_lead_times" in given) is per_case_csv
    assert len(given) == CHARTS - (0 if per_case_csv else 1)  # the summaries stay
    if per_case_csv:
        before = _exports(demo)
        given["csv_lead_times"]()  # the click
        [row] = _exports(demo)[len(before) :]
        assert (row.actor_username, row.entity) == (f"test-{role}", "cohort")
        assert row.reason.startswith("lead times CSV, 40 cases")


def _exports(url: str) -> list[Any]:
    from sqlalchemy import select

    from cupboard.db import unit_of_work
    from cupboard.models import AuditEvent

    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
            )
        )
