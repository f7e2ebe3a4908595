"""The analytics service on cases built through the write services (SQLite and
PostgreSQL), and the lead-time target settings."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest
from sqlalchemy import select

from cupboard import analytics as metrics
from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, PermissionDeniedError, ValidationError
from cupboard.knowledge.pathway import DEFAULT_LEAD_TIMES
from cupboard.models import AuditEvent, Setting
from cupboard.services import analytics as service
from cupboard.services import case_record, reading
from cupboard.services.cases import update_case
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, amend_decision, record_decision
from cupboard.services.findings import (
    IhcEntry,
    MolecularFindings,
    add_ihc_results,
    add_molecular_report,
    add_pathology_report,
    add_serum_marker,
)
from cupboard.services.meetings import add_to_agenda, create_meeting, mark_discussion
from cupboard.services.performance import record_ecog
from cupboard.services.settings import (
    DEFAULT_VERSION,
    get_lead_time_targets,
    set_lead_time_targets,
)
from cupboard.services.workup import update_investigation

TODAY = dt.date.today()
BASE = TODAY - dt.timedelta(days=60)


def day(offset: int) -> dt.date:
    return BASE + dt.timedelta(days=offset)


def investigation_id(ctx: ServiceContext, case_id: int, code: str) -> tuple[int, int]:
    row = next(r for r in case_record.workup(ctx, case_id) if r.code == code)
    return row.investigation_id, row.version


def report(ctx: ServiceContext, case_id: int, code: str, done: int, reported: int) -> None:
    row_id, version = investigation_id(ctx, case_id, code)
    update_investigation(
        ctx,
        row_id,
        version,
        {
            "status": "reported",
            "requested_on": day(1),
            "done_on": day(done),
            "reported_on": day(reported),
        },
    )


@dataclass(frozen=True)
class Cohort:
    a: int  # navigator's and oncologist's case, decided at the first MDT
    b: int  # chair's case: best supportive care amended to surgery
    c: int  # on a future agenda only; primary found by bronchoscopy
    d: int  # started long before the period, decided in it
    meeting: int
    filters: service.AnalyticsFilter


@pytest.fixture
def cohort(contexts: dict[str, ServiceContext], make_case: Callable[..., int]) -> Cohort:
    nav, onc, chair = contexts["navigator"], contexts["oncologist"], contexts["chair"]
    navigator_id, oncologist_id = nav.actor.user_id, onc.actor.user_id
    a = make_case(
        sex="female",
        pathway_start=day(0),
        referral_date=day(0),
        navigator_id=navigator_id,
        oncologist_id=oncologist_id,
    )
    b = make_case(
        sex="male", pathway_start=day(5), referral_date=day(5), oncologist_id=chair.actor.user_id
    )
    c = make_case(sex="male", pathway_start=day(10), referral_date=day(10), sites=("lung",))
    d = make_case(
        pathway_start=BASE - dt.timedelta(days=200),
        referral_date=BASE - dt.timedelta(days=200),
        oncologist_id=oncologist_id,
    )

    report(nav, a, "ct_cap", done=8, reported=10)  # there at the MDT on day 20
    report(nav, a, "blood_panel", done=3, reported=25)  # reported after it
    report(nav, a, "mammography", done=15, reported=15)  # block D: extended workup
    meeting = create_meeting(nav, meeting_date=day(20))
    item_a = add_to_agenda(nav, meeting, a)
    add_to_agenda(nav, meeting, b)
    mark_discussion(chair, item_a, started=True)
    mark_discussion(chair, item_a, started=False)
    future = create_meeting(nav, meeting_date=TODAY + dt.timedelta(days=7))
    add_to_agenda(nav, future, c)

    record_decision(
        onc,
        a,
        DecisionDraft(
            "empiric_platinum_taxane", "Unfavourable CUP", day(22), meeting, regimen="carbo-pacli"
        ),
    )
    first = record_decision(
        chair, b, DecisionDraft("best_supportive_care", "ECOG 3", day(20), meeting)
    )
    amend_decision(
        chair,
        first,
        1,
        DecisionDraft(
            "local_therapy",
            "Single adrenal lesion",
            day(24),
            meeting,
            target_site="adrenal",
            local_modality="surgery",
        ),
        reason="ECOG re-assessed",
    )
    header = case_record.case_header(nav, c)
    update_case(
        nav,
        c,
        header.version,
        {"primary_found_site": "lung", "primary_found_by": "bronchoscopy"},
    )
    record_decision(onc, d, DecisionDraft("best_supportive_care", "Frail", day(30)))
    return Cohort(a, b, c, d, meeting, service.AnalyticsFilter(BASE, TODAY))


def test_the_cohort_is_the_cases_started_in_the_period(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    data = service.load_analytics(contexts["viewer"], cohort.filters, TODAY)
    cases = data.cases.set_index("case_id")
    assert sorted(cases.index) == [cohort.a, cohort.b, cohort.c]
    # The first MDT is a meeting held; the future agenda does not count yet.
    assert cases.loc[cohort.a, "first_mdt_on"] == day(20)
    assert cases.loc[cohort.b, "first_mdt_on"] == day(20)
    assert pd.isna(cases.loc[cohort.c, "first_mdt_on"])
    assert cases.loc[cohort.a, "first_extended_workup_on"] == day(15)
    assert pd.isna(cases.loc[cohort.b, "first_extended_workup_on"])
    assert cases.loc[cohort.c, ["primary_found_site", "primary_found_by"]].tolist() == [
        "lung",
        "bronchoscopy",
    ]


def test_superseded_decisions_are_left_out(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    data = service.load_analytics(contexts["viewer"], cohort.filters, TODAY)
    assert data.decisions[["case_id", "code"]].values.tolist() == [
        [cohort.a, "empiric_platinum_taxane"],
        [cohort.b, "local_therapy"],
    ]
    assert data.decisions["local_modality"].fillna("-").tolist() == ["-", "surgery"]
    # Decisions made in the period, including the one of a case that started before it.
    assert sorted(data.period_decisions["code"]) == [
        "best_supportive_care",
        "empiric_platinum_taxane",
        "local_therapy",
    ]


def test_workup_rows_are_expected_investigations_of_discussed_cases(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    data = service.load_analytics(contexts["viewer"], cohort.filters, TODAY)
    assert set(data.workup["case_id"]) == {cohort.a, cohort.b}
    assert not data.workup["status"].isin(["not_indicated", "declined"]).any()
    # A woman's required workup (history, bloods, CT, mammography, biopsy, histology),
    # and the myeloma screen her bone metastases call for [SVF block A].
    assert set(data.workup.loc[data.workup["case_id"] == cohort.a, "code"]) == {
        "history_exam",
        "blood_panel",
        "ct_cap",
        "mammography",
        "biopsy",
        "histopathology_ihc",
        "myeloma_screen",
    }
    missing = metrics.workup_missing_at_first_mdt(data.cases, data.workup).set_index("code")
    assert missing.loc["ct_cap", ["expected", "missing"]].tolist() == [2, 1]  # b had none
    assert missing.loc["blood_panel", ["expected", "missing"]].tolist() == [2, 2]
    assert missing.loc["mammography", ["expected", "missing"]].tolist() == [1, 0]
    assert metrics.workup_completeness(data.cases, data.workup) == (2, 0)


def test_meeting_load_counts_meetings_held(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    data = service.load_analytics(contexts["viewer"], cohort.filters, TODAY)
    assert data.agenda["meeting_id"].unique().tolist() == [cohort.meeting]
    per = metrics.meeting_load(data.agenda)
    assert per[["cases", "timed_cases"]].values.tolist() == [[2, 1]]
    assert 0 <= per.loc[0, "minutes_per_case"] < 5  # stamped a moment apart


def test_lead_times_from_the_service_frames(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    data = service.load_analytics(contexts["viewer"], cohort.filters, TODAY)
    lead = metrics.lead_times(data.cases, data.decisions, DEFAULT_LEAD_TIMES, TODAY)
    rows = lead.set_index("case_id")
    # a: extended workup (mammography on day 15), decided on day 22 <= 48.
    assert rows.loc[cohort.a, ["days_to_endpoint", "target_days"]].tolist() == [22, 48]
    assert rows.loc[cohort.a, "within_target"]
    # b started on day 5; surgery (the amendment) on day 24 is 19 days <= 35.
    assert rows.loc[cohort.b, ["treatment_class", "days_to_endpoint"]].tolist() == ["surgery", 19]
    assert metrics.awaiting_endpoint(lead, DEFAULT_LEAD_TIMES) == (1, 0)


def test_navigator_and_oncologist_filters(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    viewer = contexts["viewer"]
    navigator = service.AnalyticsFilter(
        BASE, TODAY, navigator_id=contexts["navigator"].actor.user_id
    )
    data = service.load_analytics(viewer, navigator, TODAY)
    assert data.cases["case_id"].tolist() == [cohort.a]
    assert data.period_decisions["code"].tolist() == ["empiric_platinum_taxane"]
    assert data.agenda["case_id"].tolist() == [cohort.a]

    oncologist = service.AnalyticsFilter(
        BASE, TODAY, oncologist_id=contexts["oncologist"].actor.user_id
    )
    data = service.load_analytics(viewer, oncologist, TODAY)
    assert data.cases["case_id"].tolist() == [cohort.a]
    # d is the oncologist's too: its decision is in the period, its start is not.
    assert sorted(data.period_decisions["code"]) == [
        "best_supportive_care",
        "empiric_platinum_taxane",
    ]
    nobody = service.AnalyticsFilter(
        BASE,
        TODAY,
        navigator_id=contexts["navigator"].actor.user_id,
        oncologist_id=contexts["chair"].actor.user_id,
    )
    assert service.load_analytics(viewer, nobody, TODAY).is_empty


def test_filter_choices_list_the_people_with_cases(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    choices = service.filter_choices(contexts["viewer"])
    assert choices.cases == 4
    assert [p.name for p in choices.navigators] == ["Test Navigator"]
    assert [p.name for p in choices.oncologists] == ["Test Chair", "Test Oncologist"]
    assert choices.first_pathway_start == BASE - dt.timedelta(days=200)


def test_an_empty_database_and_a_backwards_period(contexts: dict[str, ServiceContext]) -> None:
    viewer = contexts["viewer"]
    choices = service.filter_choices(viewer)
    assert (choices.cases, choices.navigators, choices.first_pathway_start) == (0, [], None)
    data = service.load_analytics(viewer, service.AnalyticsFilter(BASE, TODAY), TODAY)
    assert data.is_empty and data.decisions.empty and data.workup.empty
    assert service.load_profiles(viewer, service.AnalyticsFilter(BASE, TODAY)) == {}
    with pytest.raises(ValidationError, match=r"^period: ends"):
        service.load_analytics(viewer, service.AnalyticsFilter(TODAY, BASE), TODAY)


def test_profiles_carry_the_latest_findings(
    contexts: dict[str, ServiceContext], cohort: Cohort
) -> None:
    pathologist, onc = contexts["pathologist"], contexts["oncologist"]
    add_pathology_report(
        pathologist,
        cohort.a,
        histology="adenocarcinoma",
        reported_on=day(12),
        ihc=[IhcEntry("CK7", "positive"), IhcEntry("ck20", "negative")],
    )
    add_ihc_results(pathologist, cohort.a, [IhcEntry("TTF1", "negative")], reported_on=day(14))
    add_ihc_results(pathologist, cohort.a, [IhcEntry("CK7", "equivocal")], reported_on=day(16))
    add_serum_marker(onc, cohort.a, marker="CA-125", value=80, measured_on=day(3))
    add_serum_marker(onc, cohort.a, marker="CA-125", value=900, measured_on=day(9))
    add_serum_marker(onc, cohort.a, marker="LDH", value=400, measured_on=day(3))
    add_molecular_report(
        pathologist,
        cohort.a,
        MolecularFindings(
            reported_on=day(18), tissue_of_origin_site="breast", tissue_of_origin_confidence=0.9
        ),
    )
    add_molecular_report(pathologist, cohort.a, MolecularFindings(day(17), msi_status="MSI-H"))
    record_ecog(onc, cohort.a, score=1, observed_on=day(5))
    profiles = service.load_profiles(contexts["viewer"], cohort.filters)
    assert sorted(profiles) == [cohort.a, cohort.b, cohort.c]
    profile = profiles[cohort.a]
    assert (profile.sex, profile.histology, profile.sites) == (
        "female",
        "adenocarcinoma",
        ("liver", "bone"),
    )
    # The case page's picture: age today, MSI and the latest ECOG included (issue 15).
    assert profile.age == reading.age_on(dt.date(1960, 5, 17), dt.date.today())
    assert (profile.msi, profile.ecog) == ("MSI-H", 1)
    assert dict(profile.ihc) == {"CK7": "equivocal", "CK20": "negative", "TTF-1": "negative"}
    assert dict(profile.serum) == {"CA-125": 900}
    assert (profile.tissue_of_origin, profile.tissue_of_origin_confidence) == ("breast", 0.9)
    assert profiles[cohort.c].histology is None
    subtypes = metrics.favourable_subtypes(profiles).set_index("case_id")
    assert subtypes.loc[cohort.a, "subtype"] == metrics.UNFAVOURABLE
    assert subtypes["classified"].sum() == 1


# ---------------------------------------------------------------------------------
# Lead-time targets (settings)


NEW_TARGETS = {
    "drug_therapy": {"basic": 21, "extended": 42},
    "radiotherapy": {"basic": 35, "extended": 55},
    "surgery": {"basic": 30, "extended": 50},
    "best_supportive_care": {"basic": 24, "extended": 44},
}


def setting_events(url: str) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.entity == "setting").order_by(AuditEvent.id)
            )
        )


def test_targets_default_to_the_svf_lead_times(database_url: str) -> None:
    targets = get_lead_time_targets(database_url)
    assert targets.lead_times == DEFAULT_LEAD_TIMES
    assert targets.version == DEFAULT_VERSION and not targets.configured


def test_an_administrator_sets_targets_and_it_is_audited(
    contexts: dict[str, ServiceContext],
) -> None:
    admin = contexts["admin"]
    saved = set_lead_time_targets(admin, NEW_TARGETS, DEFAULT_VERSION)
    assert saved.version == 1 and saved.configured
    read = get_lead_time_targets(admin.database_url)
    assert read == saved and read.as_dict() == NEW_TARGETS
    assert [(t.basic_workup_days, t.extended_workup_days) for t in read.lead_times] == [
        (21, 42),
        (35, 55),
        (30, 50),
        (24, 44),
    ]
    changed = {**NEW_TARGETS, "drug_therapy": {"basic": 28, "extended": 48}}
    again = set_lead_time_targets(admin, changed, saved.version)
    assert again.version == 2
    created, updated = setting_events(admin.database_url)
    assert (created.action, created.actor_username, created.entity_version) == (
        "create",
        "test-admin",
        1,
    )
    assert json.loads(created.after or "{}")["value"] == NEW_TARGETS
    assert (updated.action, updated.field, updated.entity_version) == ("update", "value", 2)
    assert json.loads(updated.before or "{}")["drug_therapy"] == {"basic": 21, "extended": 42}
    assert json.loads(updated.after or "{}")["drug_therapy"] == {"basic": 28, "extended": 48}
    assert created.entity_id == updated.entity_id


def test_saving_the_same_targets_changes_nothing(contexts: dict[str, ServiceContext]) -> None:
    admin = contexts["admin"]
    saved = set_lead_time_targets(admin, NEW_TARGETS, DEFAULT_VERSION)
    same = set_lead_time_targets(admin, NEW_TARGETS, saved.version)
    assert same.version == saved.version
    assert len(setting_events(admin.database_url)) == 1


@pytest.mark.parametrize("role", ["navigator", "oncologist", "chair", "pathologist", "viewer"])
def test_only_an_administrator_may_set_targets(
    contexts: dict[str, ServiceContext], role: str
) -> None:
    with pytest.raises(PermissionDeniedError, match="manage settings"):
        set_lead_time_targets(contexts[role], NEW_TARGETS, DEFAULT_VERSION)
    assert not get_lead_time_targets(contexts[role].database_url).configured
    assert setting_events(contexts[role].database_url) == []


def test_a_stale_version_is_a_conflict_naming_the_change(
    contexts: dict[str, ServiceContext],
) -> None:
    admin = contexts["admin"]
    # Both administrators opened the form on the defaults (version 0).
    set_lead_time_targets(admin, NEW_TARGETS, DEFAULT_VERSION)
    other = {**NEW_TARGETS, "surgery": {"basic": 40, "extended": 60}}
    with pytest.raises(ConflictError, match=r"test-admin changed it from \(empty\)") as refused:
        set_lead_time_targets(admin, other, DEFAULT_VERSION)
    assert refused.value.entity == "setting"
    saved = set_lead_time_targets(admin, other, 1)
    with pytest.raises(ConflictError, match="test-admin changed value from") as refused:
        set_lead_time_targets(admin, NEW_TARGETS, 1)
    assert "surgery: basic: 40; extended: 60" in str(refused.value)
    assert get_lead_time_targets(admin.database_url) == saved
    # A version that was never saved (the row does not exist) is refused too.
    with unit_of_work(admin.database_url) as session:
        session.delete(
            session.scalars(select(Setting).where(Setting.key == "lead_time_targets")).one()
        )
    with pytest.raises(ConflictError):
        set_lead_time_targets(admin, NEW_TARGETS, 2)


def bad(**changes: object) -> dict[str, object]:
    targets: dict[str, object] = {k: dict(v) for k, v in NEW_TARGETS.items()}
    for key, value in changes.items():
        name, _, kind = key.partition("__")
        if kind:
            targets[name][kind] = value  # type: ignore[index]
        elif value is None:
            del targets[name]
        else:
            targets[name] = value
    return targets


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (bad(drug_therapy__basic=0), "^drug_therapy.basic: must be between 1 and 365"),
        (bad(drug_therapy__basic=-5), "^drug_therapy.basic: must be between"),
        (bad(surgery__extended=21.5), "^surgery.extended: must be a whole number"),
        (bad(surgery__extended="55"), "^surgery.extended: must be a whole number"),
        (bad(surgery__basic=True), "^surgery.basic: must be a whole number"),
        (bad(radiotherapy__extended=400), "^radiotherapy.extended: must be between"),
        (bad(best_supportive_care__extended=20), "^best_supportive_care.extended: .20 days"),
        (bad(radiotherapy=None), "^radiotherapy: give the basic and the extended"),
        (bad(chemotherapy={"basic": 1, "extended": 2}), "^chemotherapy: is not a first-treat"),
        (bad(surgery__basic=None), "^surgery.basic: must be a whole number"),
    ],
)
def test_targets_are_validated(
    contexts: dict[str, ServiceContext], targets: dict[str, object], message: str
) -> None:
    admin = contexts["admin"]
    with pytest.raises(ValidationError, match=message):
        set_lead_time_targets(admin, targets, DEFAULT_VERSION)  # type: ignore[arg-type]
    assert not get_lead_time_targets(admin.database_url).configured
    assert setting_events(admin.database_url) == []


def test_a_hand_edited_setting_falls_back_per_class(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        session.add(
            Setting(
                key="lead_time_targets",
                value={
                    "drug_therapy": {"basic": 20, "extended": 30},
                    "surgery": {"basic": 50, "extended": 10},  # extended < basic
                    "radiotherapy": "soon",
                },
            )
        )
    targets = get_lead_time_targets(database_url)
    assert targets.configured
    assert targets.as_dict() == {
        "drug_therapy": {"basic": 20, "extended": 30},
        "radiotherapy": {"basic": 35, "extended": 55},
        "surgery": {"basic": 35, "extended": 55},
        "best_supportive_care": {"basic": 24, "extended": 44},
    }


@pytest.mark.parametrize("seen_version", [DEFAULT_VERSION, 1])
def test_two_administrators_saving_at_once_one_wins(
    contexts: dict[str, ServiceContext], seen_version: int
) -> None:
    admin = contexts["admin"]
    if seen_version:
        set_lead_time_targets(admin, NEW_TARGETS, DEFAULT_VERSION)
    proposals = [{**NEW_TARGETS, "surgery": {"basic": basic, "extended": 60}} for basic in (31, 32)]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def save(targets: dict[str, dict[str, int]]) -> None:
        barrier.wait()
        try:
            outcomes.append(set_lead_time_targets(admin, targets, seen_version))
        except ConflictError as conflict:
            outcomes.append(conflict)

    threads = [threading.Thread(target=save, args=(p,)) for p in proposals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "LeadTimeTargets"]
    (winner,) = [o for o in outcomes if not isinstance(o, ConflictError)]
    assert get_lead_time_targets(admin.database_url) == winner
    assert winner.version == seen_version + 1  # type: ignore[attr-defined]
