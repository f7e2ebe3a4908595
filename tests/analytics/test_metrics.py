"""The analytics metrics on a hand-made cohort whose answers were worked out by hand.

Defaults [SVF]: drug therapy 28/48 days, radiotherapy and surgery 35/55, best
supportive care 24/44 (basic / extended workup). Today is 2025-06-30 throughout.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cupboard import analytics as a
from cupboard.guidance import CaseProfile
from cupboard.knowledge.pathway import DEFAULT_LEAD_TIMES, LeadTime

TODAY = dt.date(2025, 6, 30)
D = dt.date


def cases() -> pd.DataFrame:
    """Six cases (pathway start, first MDT, first block D/E investigation, primary)."""
    rows = [
        # 1: decided day 21 (drug), treated day 34; mammography on day 24, after the
        #    decision but before the treatment.
        (1, D(2025, 4, 1), D(2025, 4, 20), D(2025, 4, 25), "breast", "mammography"),
        # 2: extended workup from day 9; decided day 44 (drug), not treated yet.
        (2, D(2025, 4, 1), D(2025, 4, 25), D(2025, 4, 10), "colorectal", "colonoscopy"),
        # 3: further workup on day 21, then surgery decided on day 40.
        (3, D(2025, 4, 10), D(2025, 5, 1), None, "breast", "Clinical examination"),
        # 4: best supportive care decided at the first MDT, day 19.
        (4, D(2025, 5, 1), D(2025, 5, 20), None, None, None),
        # 5: no MDT, no decision, waiting 29 days.
        (5, D(2025, 6, 1), None, None, None, None),
        # 6: discussed, never decided, waiting 179 days.
        (6, D(2025, 1, 2), D(2025, 2, 1), None, None, None),
    ]
    return pd.DataFrame(rows, columns=list(a.CASE_COLUMNS))


def decisions() -> pd.DataFrame:
    rows = [
        (1, 11, "empiric_platinum_taxane", None, D(2025, 4, 22), D(2025, 5, 5)),
        (2, 21, "site_specific", None, D(2025, 5, 15), None),
        (3, 31, "further_workup", None, D(2025, 5, 1), None),
        (3, 32, "local_therapy", "surgery", D(2025, 5, 20), None),
        (4, 41, "best_supportive_care", None, D(2025, 5, 20), None),
    ]
    return pd.DataFrame(rows, columns=list(a.DECISION_COLUMNS))


def by_case(frame: pd.DataFrame) -> dict[int, dict[str, object]]:
    return {int(r["case_id"]): r for r in frame.to_dict("records")}


# ---------------------------------------------------------------------------------
# Helpers


def test_share_is_none_when_dividing_by_zero() -> None:
    assert a.share(1, 4) == 0.25
    assert a.share(0, 0) is None
    assert a.share(3, 0) is None
    assert a.median_or_none(pd.Series([], dtype=float)) is None
    assert a.median_or_none(pd.Series([3, None, 5])) == 4.0


@pytest.mark.parametrize(
    ("preset", "today", "expected"),
    [
        ("last_12_months", D(2025, 5, 15), (D(2024, 6, 1), D(2025, 5, 15))),
        ("last_12_months", D(2025, 12, 31), (D(2025, 1, 1), D(2025, 12, 31))),
        ("this_quarter", D(2025, 5, 15), (D(2025, 4, 1), D(2025, 5, 15))),
        ("last_quarter", D(2025, 5, 15), (D(2025, 1, 1), D(2025, 3, 31))),
        ("last_quarter", D(2025, 2, 10), (D(2024, 10, 1), D(2024, 12, 31))),
        ("this_year", D(2025, 5, 15), (D(2025, 1, 1), D(2025, 5, 15))),
        ("last_year", D(2025, 5, 15), (D(2024, 1, 1), D(2024, 12, 31))),
    ],
)
def test_period_bounds(preset: str, today: dt.date, expected: tuple[dt.date, dt.date]) -> None:
    assert a.period_bounds(preset, today) == expected


def test_all_time_starts_at_the_first_case_and_custom_is_not_a_preset() -> None:
    assert a.period_bounds("all_time", TODAY, D(2019, 3, 4)) == (D(2019, 3, 4), TODAY)
    assert a.period_bounds("all_time", TODAY, None) == (TODAY, TODAY)
    with pytest.raises(ValueError, match="custom"):
        a.period_bounds("custom", TODAY)


def test_treatment_class_follows_the_catalogue_and_the_local_modality() -> None:
    assert a.treatment_class("empiric_platinum_taxane") == "drug_therapy"
    assert a.treatment_class("immunotherapy") == "drug_therapy"
    assert a.treatment_class("local_therapy", "sbrt") == "radiotherapy"
    assert a.treatment_class("local_therapy", "surgery") == "surgery"
    assert a.treatment_class("best_supportive_care") == "best_supportive_care"
    assert a.treatment_class("further_workup") is None
    assert a.treatment_class("clinical_trial") is None
    assert a.treatment_class("no_such_code") is None


# ---------------------------------------------------------------------------------
# Lead times


def test_lead_times_to_the_treatment_decision() -> None:
    lead = by_case(a.lead_times(cases(), decisions(), DEFAULT_LEAD_TIMES, TODAY))
    one, two, three, four, five, six = (lead[i] for i in range(1, 7))
    assert (one["days_to_first_mdt"], one["days_to_endpoint"]) == (19, 21)
    # The mammography came after the decision: basic workup, 21 <= 28.
    assert not one["extended_workup"] and one["target_days"] == 28 and one["within_target"]
    # Extended workup before the decision: 44 <= 48.
    assert two["extended_workup"] and two["target_days"] == 48 and two["within_target"]
    # Further workup first (day 21) does not stop the clock; surgery on day 40 > 35.
    assert three["days_to_first_decision"] == 21 and three["days_to_endpoint"] == 40
    assert three["treatment_class"] == "surgery" and three["target_days"] == 35
    assert bool(three["within_target"]) is False  # bool(<NA>) would raise
    assert four["target_days"] == 24 and four["within_target"]
    for waiting, days in ((five, 29), (six, 179)):
        assert pd.isna(waiting["within_target"]) and pd.isna(waiting["target_days"])
        assert waiting["days_waiting"] == days
    assert pd.isna(five["days_to_first_mdt"]) and six["days_to_first_mdt"] == 30


def test_lead_times_to_the_start_of_treatment() -> None:
    lead = by_case(
        a.lead_times(cases(), decisions(), DEFAULT_LEAD_TIMES, TODAY, endpoint="treatment")
    )
    # Treated on day 34, after the mammography: extended workup, 34 <= 48.
    assert lead[1]["days_to_endpoint"] == 34 and lead[1]["target_days"] == 48
    assert lead[1]["within_target"]
    # Decided but not started: no verdict yet, and waiting since the pathway start.
    for case_id in (2, 3):
        assert pd.isna(lead[case_id]["within_target"])
        assert lead[case_id]["days_waiting"] == (TODAY - cases().iloc[case_id - 1, 1]).days
    # Best supportive care starts with the decision.
    assert lead[4]["days_to_endpoint"] == 19 and lead[4]["within_target"]


def test_within_target_by_class_and_cases_still_waiting() -> None:
    lead = a.lead_times(cases(), decisions(), DEFAULT_LEAD_TIMES, TODAY)
    summary = a.within_target_by_class(lead, DEFAULT_LEAD_TIMES).set_index("treatment_class")
    assert summary.loc["drug_therapy", ["cases", "within"]].tolist() == [2, 2]
    assert summary.loc["drug_therapy", "share"] == 1.0
    assert summary.loc["surgery", ["cases", "within"]].tolist() == [1, 0]
    assert summary.loc["best_supportive_care", "share"] == 1.0
    # No radiotherapy: nothing to divide, NaN rather than an error or a zero.
    assert summary.loc["radiotherapy", "cases"] == 0
    assert math.isnan(summary.loc["radiotherapy", "share"])
    assert summary.loc["all", ["cases", "within"]].tolist() == [4, 3]
    assert summary.loc["all", "share"] == 0.75
    # Cases 5 and 6 have no decision; only case 6 is past the longest target (55 d).
    assert a.awaiting_endpoint(lead, DEFAULT_LEAD_TIMES) == (2, 1)


def test_configured_targets_change_the_verdict() -> None:
    strict = (LeadTime("drug_therapy", 20, 40), *DEFAULT_LEAD_TIMES[1:])
    lead = by_case(a.lead_times(cases(), decisions(), strict, TODAY))
    assert lead[1]["target_days"] == 20 and bool(lead[1]["within_target"]) is False
    assert lead[2]["target_days"] == 40 and bool(lead[2]["within_target"]) is False


def test_lead_times_of_an_empty_period_and_of_cases_without_decisions() -> None:
    empty = a.lead_times(pd.DataFrame(), pd.DataFrame(), DEFAULT_LEAD_TIMES, TODAY)
    assert empty.empty
    summary = a.within_target_by_class(empty, DEFAULT_LEAD_TIMES)
    assert summary["cases"].tolist() == [0, 0, 0, 0, 0]
    assert summary["share"].isna().all()
    assert a.awaiting_endpoint(empty, DEFAULT_LEAD_TIMES) == (0, 0)

    undecided = a.lead_times(cases(), pd.DataFrame(), DEFAULT_LEAD_TIMES, TODAY)
    assert undecided["within_target"].isna().all()
    assert undecided["days_to_first_mdt"].notna().sum() == 5
    assert a.within_target_by_class(undecided, DEFAULT_LEAD_TIMES)["cases"].sum() == 0
    # Waiting 90, 90, 81, 60, 29 and 179 days: all but case 5 are past 55 days.
    assert a.awaiting_endpoint(undecided, DEFAULT_LEAD_TIMES) == (6, 5)


def test_lead_times_refuse_an_unknown_endpoint() -> None:
    with pytest.raises(ValueError, match="endpoint"):
        a.lead_times(cases(), decisions(), DEFAULT_LEAD_TIMES, TODAY, endpoint="death")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------
# Workup at the first MDT


def workup() -> pd.DataFrame:
    rows = [
        # case 1, first MDT 20 April
        (1, "blood_panel", "reported", D(2025, 4, 8), D(2025, 4, 10)),
        (1, "ct_cap", "reported", D(2025, 4, 15), D(2025, 4, 22)),  # reported too late
        (1, "biopsy", "done", D(2025, 4, 18), None),  # done, no report: there
        (1, "mammography", "not_indicated", None, None),
        (1, "ngs", "declined", None, None),
        # case 2, first MDT 25 April
        (2, "blood_panel", "reported", D(2025, 4, 26), D(2025, 4, 26)),  # a day late
        (2, "ct_cap", "reported", D(2025, 4, 18), D(2025, 4, 20)),
        (2, "biopsy", "to_request", None, None),
        # case 4, first MDT 20 May
        (4, "blood_panel", "reported", D(2025, 5, 1), D(2025, 5, 1)),
        # case 5 never went to an MDT
        (5, "blood_panel", "requested", None, None),
    ]
    return pd.DataFrame(rows, columns=list(a.WORKUP_COLUMNS))


def test_investigations_missing_at_the_first_mdt() -> None:
    missing = a.workup_missing_at_first_mdt(cases(), workup())
    assert missing[["code", "expected", "missing"]].values.tolist() == [
        ["biopsy", 2, 1],
        ["ct_cap", 2, 1],
        ["blood_panel", 3, 1],
    ]
    assert missing["share_missing"].tolist() == pytest.approx([0.5, 0.5, 1 / 3])
    assert missing["label"].iloc[0] == "Biopsy of the most accessible lesion"


def test_workup_completeness_counts_cases_discussed() -> None:
    # Discussed: 1, 2, 3, 4, 6; case 1 lacked the CT report, case 2 two items.
    assert a.workup_completeness(cases(), workup()) == (5, 3)
    assert a.workup_completeness(cases(), pd.DataFrame()) == (5, 5)
    assert a.workup_completeness(pd.DataFrame(), workup()) == (0, 0)
    assert a.workup_missing_at_first_mdt(pd.DataFrame(), workup()).empty


# ---------------------------------------------------------------------------------
# Decision mix


def period_decisions() -> pd.DataFrame:
    rows = [
        (D(2025, 1, 15), "site_specific"),
        (D(2025, 2, 10), "empiric_platinum_taxane"),
        (D(2025, 2, 20), "further_workup"),
        (D(2025, 4, 1), "clinical_trial"),
        (D(2025, 5, 5), "best_supportive_care"),
    ]
    return pd.DataFrame(rows, columns=["decided_on", "code"])


def test_decision_mix_by_quarter_groups_the_rest_as_other() -> None:
    mix = a.decision_mix(period_decisions(), "quarter", D(2025, 1, 1), D(2025, 6, 30))
    assert len(mix) == 2 * len(a.DECISION_MIX_GROUPS)
    table = mix.set_index(["period", "group"])
    assert table.loc[("2025 Q1", "site_specific"), "decisions"] == 1
    assert table.loc[("2025 Q1", "other"), "decisions"] == 1
    assert table.loc[("2025 Q1", "immunotherapy"), "decisions"] == 0
    assert table.loc[("2025 Q1", "empiric_platinum_taxane"), "share"] == pytest.approx(1 / 3)
    # Further workup and clinical trial fall into "other".
    assert table.loc[("2025 Q2", "other"), "share"] == 0.5
    assert table.loc[("2025 Q2", "best_supportive_care"), "share"] == 0.5
    assert mix["period_start"].iloc[-1] == D(2025, 4, 1)
    assert "further workup" in a.DECISION_MIX_LABELS["other"]


def test_decision_mix_by_month_keeps_empty_months() -> None:
    mix = a.decision_mix(period_decisions(), "month", D(2025, 1, 1), D(2025, 6, 30))
    per_month = mix.groupby("period")["decisions"].sum()
    assert per_month.to_dict() == {
        "2025-01": 1,
        "2025-02": 2,
        "2025-03": 0,
        "2025-04": 1,
        "2025-05": 1,
        "2025-06": 0,
    }
    # No decisions in March: shares are undefined, not zero and not an error.
    assert mix[mix["period"] == "2025-03"]["share"].isna().all()


def test_decision_mix_of_an_empty_period() -> None:
    assert a.decision_mix(pd.DataFrame(), "quarter").empty
    zeros = a.decision_mix(pd.DataFrame(), "quarter", D(2025, 1, 1), D(2025, 3, 31))
    assert zeros["decisions"].sum() == 0 and zeros["share"].isna().all()


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.dates(min_value=D(2024, 1, 1), max_value=D(2025, 12, 31)),
            st.sampled_from(sorted(a.DECISION_LABELS)),
        ),
        max_size=40,
    )
)
def test_decision_mix_counts_every_decision_once(rows: list[tuple[dt.date, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["decided_on", "code"])
    mix = a.decision_mix(frame, "quarter", D(2024, 1, 1), D(2025, 12, 31))
    assert mix["decisions"].sum() == len(rows)
    shares = mix.dropna(subset=["share"]).groupby("period")["share"].sum()
    assert shares.tolist() == pytest.approx([1.0] * len(shares))


# ---------------------------------------------------------------------------------
# Favourable subtypes


def profiles() -> dict[int, CaseProfile]:
    return {
        1: CaseProfile(
            sex="female",
            age=52,
            histology="adenocarcinoma",
            sites=("axillary_nodes",),
            ihc={"CK7": "positive", "GATA3": "positive", "ER": "positive"},
        ),
        2: CaseProfile(
            sex="male",
            age=70,
            histology="adenocarcinoma",
            sites=("liver", "bone"),
            lesions=6,
            ihc={"CK7": "positive", "CK20": "negative", "TTF-1": "negative"},
        ),
        3: CaseProfile(sex="female", age=64, sites=("liver",)),  # no histology yet
        4: CaseProfile(
            sex="male",
            age=66,
            histology="adenocarcinoma",
            sites=("liver",),
            lesions=4,
            ihc={"CK7": "negative", "CK20": "positive", "CDX2": "positive"},
        ),
    }


def test_favourable_subtypes_use_the_guidance_rules() -> None:
    subtypes = a.favourable_subtypes(profiles()).set_index("case_id")
    assert subtypes.loc[1, "subtype"] == "axillary_nodes_women"
    assert subtypes.loc[2, "subtype"] == a.UNFAVOURABLE
    assert subtypes.loc[4, "subtype"] == "colorectal_profile"
    assert not subtypes.loc[3, "classified"] and pd.isna(subtypes.loc[3, "subtype"])
    # Of three cases with a histology, two are favourable.
    assert a.favourable_share(subtypes.reset_index()) == (3, 2, pytest.approx(2 / 3))


def test_favourable_summary_lists_every_subtype() -> None:
    summary = a.favourable_summary(a.favourable_subtypes(profiles())).set_index("subtype")
    assert len(summary) == len(a.FAVOURABLE_LABELS)
    assert summary.loc["axillary_nodes_women", "cases"] == 1
    assert summary.loc["renal_like", "cases"] == 0
    assert summary.loc[a.UNFAVOURABLE, "share"] == pytest.approx(1 / 3)
    assert summary["cases"].sum() == 3


def test_favourable_share_of_an_empty_period() -> None:
    empty = a.favourable_subtypes({})
    assert a.favourable_share(empty) == (0, 0, None)
    assert a.favourable_summary(empty)["share"].isna().all()
    unclassified = a.favourable_subtypes({3: profiles()[3]})
    assert a.favourable_share(unclassified) == (0, 0, None)


# ---------------------------------------------------------------------------------
# Primaries found


def test_primaries_found_by_investigation() -> None:
    found = a.primaries_found(cases())
    assert found[["found_by", "site", "cases"]].values.tolist() == [
        ["Clinical examination", "breast", 1],
        ["Colonoscopy", "colorectal", 1],
        ["Mammography", "breast", 1],
    ]
    assert a.primary_found_share(cases()) == (6, 3, 0.5)


def test_primary_found_without_the_investigation_recorded() -> None:
    frame = cases()
    frame.loc[0, "primary_found_by"] = None
    frame.loc[1, "primary_found_by"] = "mammography"
    found = a.primaries_found(frame)
    assert found[["found_by", "site", "cases"]].values.tolist() == [
        ["Clinical examination", "breast", 1],
        ["Mammography", "colorectal", 1],
        [a.NOT_RECORDED, "breast", 1],
    ]
    assert a.primaries_found(pd.DataFrame()).empty
    assert a.primary_found_share(pd.DataFrame()) == (0, 0, None)


# ---------------------------------------------------------------------------------
# Meetings


def agenda() -> pd.DataFrame:
    def at(day: dt.date, hour: int, minute: int) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)

    april, may = D(2025, 4, 20), D(2025, 5, 20)
    rows = [
        (1, april, 1, at(april, 10, 0), at(april, 10, 12)),
        (1, april, 2, at(april, 10, 12), at(april, 10, 20)),
        (1, april, 3, at(april, 10, 20), None),  # never ended
        # ended before it started: a clock error, not a negative duration
        (2, may, 4, at(may, 11, 0), at(may, 10, 0)),
    ]
    return pd.DataFrame(rows, columns=list(a.AGENDA_COLUMNS))


def test_cases_per_meeting_and_minutes_per_case() -> None:
    per = a.meeting_load(agenda())
    assert per[["meeting_id", "cases", "timed_cases"]].values.tolist() == [[1, 3, 2], [2, 1, 0]]
    assert per.loc[0, "minutes"] == 20 and per.loc[0, "minutes_per_case"] == 10
    assert pd.isna(per.loc[1, "minutes_per_case"])
    assert a.meeting_summary(per) == {
        "meetings": 2,
        "cases": 4,
        "cases_per_meeting": 2.0,
        "minutes_per_case": 10.0,
    }


def test_meeting_load_without_meetings_or_timings() -> None:
    assert a.meeting_load(pd.DataFrame()).empty
    assert a.meeting_summary(a.meeting_load(pd.DataFrame())) == {
        "meetings": 0,
        "cases": 0,
        "cases_per_meeting": None,
        "minutes_per_case": None,
    }
    untimed = agenda().assign(discussion_started_at=None, discussion_ended_at=None)
    summary = a.meeting_summary(a.meeting_load(untimed))
    assert summary["cases_per_meeting"] == 2.0 and summary["minutes_per_case"] is None


def test_naive_timestamps_from_sqlite_work_too() -> None:
    naive = agenda()
    for column in ("discussion_started_at", "discussion_ended_at"):
        naive[column] = [None if v is None else v.replace(tzinfo=None) for v in naive[column]]
    assert a.meeting_summary(a.meeting_load(naive))["minutes_per_case"] == 10.0


# ---------------------------------------------------------------------------------
# Export


def test_csv_defuses_spreadsheet_formulas_but_not_numbers() -> None:
    frame = pd.DataFrame({"found_by": ["=HYPERLINK(1)", "+1", "CT", None], "days": [-3, 4, 5, 6]})
    text = a.to_csv(frame).decode("utf-8")
    assert text.splitlines() == ["found_by,days", "'=HYPERLINK(1),-3", "'+1,4", "CT,5", ",6"]


def test_the_most_productive_investigation_comes_first() -> None:
    frame = cases()
    frame.loc[3, ["primary_found_site", "primary_found_by"]] = ["colorectal", "colonoscopy"]
    found = a.primaries_found(frame)
    assert found["found_by"].tolist()[0] == "Colonoscopy"
    assert found.groupby("found_by")["cases"].sum()["Colonoscopy"] == 2


def test_the_whole_report_of_the_hand_made_cohort() -> None:
    report = a.service_report(
        cases(), decisions(), workup(), agenda(), profiles(), DEFAULT_LEAD_TIMES, TODAY
    )
    assert (report.within, report.judged, report.within_share) == (3, 4, 0.75)
    assert (report.waiting, report.waiting_past_longest) == (2, 1)
    # First MDT on days 19, 24, 21, 19 and 30; decisions on days 21, 44, 40 and 19.
    assert report.median_days_to_first_mdt == 21
    assert report.median_days_to_endpoint == 30.5
    assert (report.discussed, report.complete_workup) == (5, 3)
    assert (report.classified, report.favourable) == (3, 2)
    assert (report.cohort, report.primaries_found, report.primary_found_share) == (6, 3, 0.5)
    assert report.meetings["minutes_per_case"] == 10.0


def test_the_whole_report_of_an_empty_period() -> None:
    empty = pd.DataFrame()
    report = a.service_report(empty, empty, empty, empty, {}, DEFAULT_LEAD_TIMES, TODAY)
    assert (report.judged, report.within_share, report.cohort) == (0, None, 0)
    assert report.median_days_to_first_mdt is None and report.median_days_to_endpoint is None
    assert report.favourable_share is None and report.primary_found_share is None
    assert report.meetings["cases_per_meeting"] is None
